"""DANN is what it claims: reversed domain gradient, lambda schedules, a representation
that hides the domain from a fresh classifier while source-only's does not."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from problems import TINY_CNN_GRU, frame_sequences
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from emoshift.methods import get_method
from emoshift.methods.alignment import domain_classifier_accuracy
from emoshift.methods.baselines import SourceOnly
from emoshift.methods.dann import DANN, dann_lambda


def _two_domains(n: int, seed: int, shift: float = 5.0):
    """Same classes in both domains; the target is shifted by ``shift`` in dimension 2,
    which carries no class information, so a linear classifier separates the domains."""
    rng = np.random.default_rng(seed)
    X_source = rng.normal(size=(n, 8)).astype(np.float32)
    X_target = rng.normal(size=(n, 8)).astype(np.float32)
    y_source = (X_source[:, 0] + X_source[:, 1] > 0).astype(int)
    y_target = (X_target[:, 0] + X_target[:, 1] > 0).astype(int)
    X_target[:, 2] += shift
    return X_source, y_source, X_target, y_target


# plain small networks: no dropout or max-norm, so that what is measured is the adversary
PLAIN = dict(
    device="cpu",  # the test reads the networks with CPU tensors; test_cuda_path covers CUDA
    hidden_sizes=(16,),
    head_hidden_sizes=(16,),
    input_dropout=0.0,
    dropout=0.0,
    max_norm=None,
    grad_clip=None,
    lr=1e-3,
    batch_size=32,
    random_state=0,
)
TINY = dict(PLAIN, hidden_sizes=(8,), head_hidden_sizes=(8,), domain_hidden_sizes=(8,))


def test_domain_gradient_reaches_the_encoder_reversed_and_scaled():
    Xs, ys, Xt, _ = _two_domains(64, 0)
    model = DANN(**TINY, max_epochs=1, lambda_schedule="constant").fit(Xs, ys, X_target=Xt)
    model.modules_.eval()
    x = torch.as_tensor(np.concatenate([Xs[:16], Xt[:16]]))
    encoder, domain = model.modules_["encoder"], model.domain_head_

    def gradients(loss: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        model.modules_.zero_grad()
        loss.backward()
        return encoder.blocks[0][0].weight.grad.clone(), domain.out.weight.grad.clone()

    plain_logits = domain(encoder(x)).squeeze(1)
    is_target = torch.cat([torch.zeros(16), torch.ones(16)])
    plain = torch.nn.functional.binary_cross_entropy_with_logits(plain_logits, is_target)
    encoder_plain, domain_plain = gradients(plain)
    for scale in (1.0, 0.3):
        loss, _ = model._domain_loss(encoder(x), 16, scale)
        torch.testing.assert_close(loss, plain)  # identity forward
        encoder_reversed, domain_reversed = gradients(loss)
        # the extractor gets the domain loss's gradient negated and scaled by lambda ...
        torch.testing.assert_close(encoder_reversed, -scale * encoder_plain)
        # ... while the domain classifier itself still minimises its loss
        torch.testing.assert_close(domain_reversed, domain_plain)
    assert encoder_plain.abs().sum() > 0


def test_lambda_schedules_have_the_documented_values():
    assert [dann_lambda(e, 4, schedule="constant", lambda_max=0.7) for e in range(4)] == [0.7] * 4
    warm = [dann_lambda(e, 10, warmup_epochs=4, lambda_max=2.0) for e in range(10)]
    assert warm[:4] == [0.0] * 4
    np.testing.assert_allclose(np.diff(warm[3:]), 2.0 / 6)  # linear ramp ...
    assert warm[-1] == pytest.approx(2.0)  # ... reaching lambda_max in the last epoch
    ganin = [dann_lambda(e, 11, schedule="ganin") for e in range(11)]
    expected = [2 / (1 + math.exp(-10 * e / 10)) - 1 for e in range(11)]
    np.testing.assert_allclose(ganin, expected)
    assert ganin[0] == 0.0 and ganin[5] == pytest.approx(0.98661, abs=1e-5)
    with pytest.raises(ValueError, match="lambda_schedule='linear'"):
        dann_lambda(0, 5, schedule="linear")


def test_history_records_lambda_and_measured_domain_accuracy():
    Xs, ys, Xt, _ = _two_domains(128, 0)
    model = DANN(**TINY, max_epochs=8, warmup_epochs=5, domain_lr=1e-2).fit(Xs, ys, X_target=Xt)
    history = model.history_
    lambdas = [h["lambda"] for h in history]
    np.testing.assert_allclose(lambdas, [dann_lambda(e, 8, warmup_epochs=5) for e in range(8)])
    assert {"loss", "task_loss", "domain_loss", "domain_acc_source", "domain_acc_target"} <= set(
        history[0]
    )
    for h in history:
        assert h["loss"] == pytest.approx(h["task_loss"] + h["domain_loss"], rel=1e-5)
    # with lambda 0 the domain classifier learns to tell the (separable) domains apart
    assert history[4]["domain_acc_source"] > 0.9 and history[4]["domain_acc_target"] > 0.9


def test_dann_hides_the_domain_from_a_fresh_classifier_source_only_does_not():
    Xs, ys, Xt, _ = _two_domains(300, 0)
    Hs, hys, Ht, hyt = _two_domains(300, 1)  # held-out examples of both domains
    assert domain_classifier_accuracy(Hs, Ht) > 0.99  # linearly separable inputs
    params = dict(PLAIN, max_epochs=60)
    source_only = SourceOnly(**params, patience=None).fit(Xs, ys)
    dann = DANN(**params, domain_hidden_sizes=(16,), domain_lr=3e-2, lambda_schedule="constant")
    dann.fit(Xs, ys, X_target=Xt)
    leak_source_only = domain_classifier_accuracy(
        source_only.transform(Hs), source_only.transform(Ht)
    )
    leak_dann = domain_classifier_accuracy(dann.transform(Hs), dann.transform(Ht))
    assert leak_source_only > 0.95  # measured 0.997
    assert leak_dann < 0.8  # measured 0.677; chance is 0.5
    assert dann.score(Hs, hys) > 0.85  # still does the task (measured UAR 0.944) ...
    # ... and the shift no longer hurts on the target (measured 0.918 against 0.766)
    assert dann.score(Ht, hyt) > source_only.score(Ht, hyt) + 0.05


def test_classification_and_two_target_regression():
    Xs, ys, Xt, _ = _two_domains(120, 0)
    labels = np.array(["anger", "neutral"])[ys]
    model = DANN(**TINY, max_epochs=3, warmup_epochs=1).fit(Xs, labels, X_target=Xt)
    assert model.predict(Xt[:7]).shape == (7,) and set(model.predict(Xt)) <= set(labels)
    np.testing.assert_allclose(model.predict_proba(Xt[:7]).sum(1), 1, rtol=1e-5)
    assert model.transform(Xt[:7]).shape == (7, 8)
    Y = np.stack([Xs[:, 0] - Xs[:, 1], Xs[:, 3]], axis=1)  # e.g. arousal and valence
    for loss in ("mse", "ccc"):
        regressor = DANN(
            **TINY, task="regression", regression_loss=loss, max_epochs=3, warmup_epochs=1
        )
        regressor.fit(Xs, Y, X_target=Xt)
        assert regressor.predict(Xt[:7]).shape == (7, 2)
        assert np.isfinite(regressor.history_[-1]["task_loss"])


def test_same_seed_same_numbers():
    Xs, ys, Xt, _ = _two_domains(96, 0)

    def fit(seed: int) -> DANN:
        model = DANN(**{**TINY, "random_state": seed}, max_epochs=3, warmup_epochs=1)
        return model.fit(Xs, ys, X_target=Xt)

    a, b, c = fit(0), fit(0), fit(1)
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    assert a.history_[-1]["domain_loss"] == b.history_[-1]["domain_loss"]
    assert not np.allclose(a.predict_proba(Xt), c.predict_proba(Xt))


def test_shallow_structure_and_defaults():
    shallow = DANN(
        hidden_sizes=(8,),
        head_hidden_sizes=(),
        domain_hidden_sizes=(),
        max_epochs=2,
        warmup_epochs=0,
    )
    Xs, ys, Xt, _ = _two_domains(64, 0)
    shallow.fit(Xs, ys, X_target=Xt)
    assert len(shallow.modules_["encoder"].blocks) == 1
    assert len(shallow.modules_["head"].hidden) == 0 and len(shallow.domain_head_.hidden) == 0
    params = get_method("dann").get_params()
    assert params["input_dropout"] == 0.2 and params["dropout"] == 0.5
    assert params["max_norm"] == 4.0 and params["grad_clip"] == 10.0 and params["batch_norm"]
    assert params["patience"] is None and params["lambda_schedule"] == "warmup"
    assert clone(DANN(lambda_max=0.3)).lambda_max == 0.3


def test_clear_errors():
    Xs, ys, Xt, _ = _two_domains(64, 0)
    with pytest.raises(ValueError, match="pass X_target"):
        DANN(**TINY, max_epochs=2, warmup_epochs=1).fit(Xs, ys)
    with pytest.raises(ValueError, match="warmup_epochs=5"):
        DANN(max_epochs=5, warmup_epochs=5).fit(Xs, ys, X_target=Xt)
    with pytest.raises(ValueError, match="lambda_schedule="):
        DANN(lambda_schedule="linear").fit(Xs, ys, X_target=Xt)
    with pytest.raises(NotFittedError, match="not fitted"):
        DANN().domain_head_  # noqa: B018
    assert not hasattr(DANN(), "domain_head_")


def test_frame_sequences_through_the_cnn_gru_encoder():
    X, X_target = frame_sequences(16, 0), frame_sequences(16, 1, shift=1.0)
    y = np.array(["anger", "sadness"] * 8)
    model = DANN(**TINY_CNN_GRU, max_epochs=2, warmup_epochs=1).fit(X, y, X_target=X_target)
    assert model.predict(X_target).shape == (16,) and model.history_[-1]["lambda"] == 1.0
    assert model.transform(X_target).shape == (16, 8)
