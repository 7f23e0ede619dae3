"""Deep CORAL is what it claims: the CORAL loss is the covariance distance, and training
with it brings source and target covariances of the learned representation together."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from problems import TINY_CNN_GRU, frame_sequences

from emoshift.methods.alignment import coral_distance, coral_loss
from emoshift.methods.baselines import SourceOnly
from emoshift.methods.coral import DeepCORAL


def _two_domains(n: int, seed: int):
    """Same classes in both domains; the target stretches two class-free dimensions by 4
    and correlates two others, so the domains differ in covariance."""
    rng = np.random.default_rng(seed)
    X_source = rng.normal(size=(n, 8)).astype(np.float32)
    X_target = rng.normal(size=(n, 8)).astype(np.float32)
    y_source = (X_source[:, 0] + X_source[:, 1] > 0).astype(int)
    y_target = (X_target[:, 0] + X_target[:, 1] > 0).astype(int)
    X_target[:, 2:4] *= 4
    X_target[:, 4] += 2 * X_target[:, 5]
    return X_source, y_source, X_target, y_target


FAST = dict(hidden_sizes=(16,), dropout=0.0, lr=3e-3, batch_size=32, random_state=0)


def test_coral_loss_is_the_scaled_frobenius_distance_of_covariances():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 5)), rng.normal(size=(30, 5)) * [1, 2, 1, 1, 3]
    expected = ((np.cov(a, rowvar=False) - np.cov(b, rowvar=False)) ** 2).sum() / (4 * 5**2)
    assert coral_distance(a, b) == pytest.approx(expected)
    assert coral_distance(a, a + 7.0) == pytest.approx(0.0, abs=1e-12)  # means do not count
    assert coral_distance(a, 2 * b, standardise=True) == pytest.approx(
        coral_distance(3 * a, 6 * b, standardise=True)
    )
    source = torch.tensor(a, requires_grad=True)
    coral_loss(source, torch.tensor(b)).backward()
    assert source.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="at least two examples"):
        coral_loss(torch.zeros(1, 5), torch.zeros(4, 5))


def test_coral_brings_covariances_together_on_held_out_data():
    Xs, ys, Xt, _ = _two_domains(300, 0)
    Hs, _, Ht, hyt = _two_domains(300, 1)  # held-out examples of both domains
    params = dict(FAST, max_epochs=40, patience=None)
    source_only = SourceOnly(**params).fit(Xs, ys)
    coral = DeepCORAL(**params, coral_weight=1.0).fit(Xs, ys, X_target=Xt)

    def distance(model: SourceOnly | DeepCORAL) -> float:
        # standardised, so that shrinking the representation does not count as aligning it
        return coral_distance(model.transform(Hs), model.transform(Ht), standardise=True)

    assert distance(coral) < 0.25 * distance(source_only)  # measured 0.0029 against 0.0446
    assert coral.score(Ht, hyt) > 0.85  # the task survives (measured UAR 0.952)
    history = coral.history_
    assert history[-1]["coral_loss"] < 0.5 * history[0]["coral_loss"]
    for h in history:
        assert h["loss"] == pytest.approx(h["task_loss"] + h["coral_loss"], rel=1e-5)


def test_coral_layer_selects_the_aligned_layer():
    Xs, ys, Xt, _ = _two_domains(200, 0)
    params = dict(FAST, hidden_sizes=(16, 16), max_epochs=15, patience=None, coral_weight=10.0)
    first = DeepCORAL(**params, coral_layer=0).fit(Xs, ys, X_target=Xt)
    last = DeepCORAL(**params).fit(Xs, ys, X_target=Xt)

    def distance(model: DeepCORAL, layer: int) -> float:
        Zs, Zt = model.transform(Xs, layer), model.transform(Xt, layer)
        return coral_distance(Zs, Zt, standardise=True)

    assert distance(first, 0) < 0.8 * distance(last, 0)  # measured 0.068 against 0.115
    with pytest.raises(ValueError, match="coral_layer=2"):
        DeepCORAL(**params, coral_layer=2).fit(Xs, ys, X_target=Xt)


def test_classification_and_two_target_regression():
    Xs, ys, Xt, _ = _two_domains(120, 0)
    labels = np.array(["anger", "neutral"])[ys]
    model = DeepCORAL(**FAST, max_epochs=3).fit(Xs, labels, X_target=Xt)
    assert model.predict(Xt[:7]).shape == (7,) and set(model.predict(Xt)) <= set(labels)
    np.testing.assert_allclose(model.predict_proba(Xt[:7]).sum(1), 1, rtol=1e-5)
    assert {"loss", "task_loss", "coral_loss", "dev_loss"} <= set(model.history_[0])
    Y = np.stack([Xs[:, 0] - Xs[:, 1], Xs[:, 4]], axis=1)  # e.g. arousal and valence
    for loss in ("mse", "ccc"):
        regressor = DeepCORAL(**FAST, task="regression", regression_loss=loss, max_epochs=3)
        regressor.fit(Xs, Y, X_target=Xt)
        assert regressor.predict(Xt[:7]).shape == (7, 2)


def test_same_seed_same_numbers():
    Xs, ys, Xt, _ = _two_domains(96, 0)

    def fit(seed: int) -> DeepCORAL:
        return DeepCORAL(**{**FAST, "random_state": seed}, max_epochs=3).fit(Xs, ys, X_target=Xt)

    a, b, c = fit(0), fit(0), fit(1)
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    assert a.history_[-1]["coral_loss"] == b.history_[-1]["coral_loss"]
    assert not np.allclose(a.predict_proba(Xt), c.predict_proba(Xt))


def test_clear_errors():
    Xs, ys, Xt, _ = _two_domains(64, 0)
    with pytest.raises(ValueError, match="pass X_target"):
        DeepCORAL(**FAST, max_epochs=2).fit(Xs, ys)
    with pytest.raises(ValueError, match="coral_weight=-1"):
        DeepCORAL(coral_weight=-1).fit(Xs, ys, X_target=Xt)


def test_frame_sequences_through_the_cnn_gru_encoder():
    X, X_target = frame_sequences(16, 0), frame_sequences(16, 1, shift=1.0)
    y = np.array(["anger", "sadness"] * 8)
    model = DeepCORAL(**TINY_CNN_GRU, max_epochs=2, coral_layer=0).fit(X, y, X_target=X_target)
    assert model.predict(X_target).shape == (16,) and model.history_[-1]["coral_loss"] >= 0
    assert model.transform(X_target).shape == (16, 8)
