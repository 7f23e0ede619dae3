"""MRD (maximum regression discrepancy): the three steps do what they claim, measured.

Steps are called one by one on a fixed batch and the target discrepancy is measured
between them; parameters and batch-norm statistics are compared before and after each
step; the prediction is checked against the two regressors' outputs.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn

from emoshift.methods import get_method
from emoshift.methods.base import Batch
from emoshift.methods.baselines import SourceOnly
from emoshift.methods.mrd import MRD
from emoshift.methods.sequence import Sequences
from emoshift.metrics import ccc

SMALL = dict(
    device="cpu",  # the test reads the networks with CPU tensors; test_cuda_path covers CUDA
    hidden_sizes=(16,),
    regressor_width=16,
    batch_size=64,
    max_epochs=4,
    lr=5e-3,
    patience=None,
    random_state=0,
)


def _shifted_regression(n: int = 192, seed: int = 0):
    """A linear two-target problem with a channel-like shift.

    Both domains draw clean features from the same distribution and labels are the same
    linear function of them; the target domain observes 4 of the 10 features rescaled
    (x 2) and shifted (+ 1). Returns source features and targets, unlabelled target
    features, and a labelled target test set from the shifted domain.
    """
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(10, 2)) / np.sqrt(10)
    X_source = rng.normal(size=(n, 10)).astype(np.float32)
    clean_target = rng.normal(size=(2 * n, 10)).astype(np.float32)
    y_target = (clean_target @ weights).astype(np.float32)
    X_target = clean_target.copy()
    X_target[:, :4] = X_target[:, :4] * 2.0 + 1.0
    y_source = (X_source @ weights).astype(np.float32)
    return X_source, y_source, X_target[:n], X_target[n:], y_target[n:]


def _labels(y: np.ndarray) -> np.ndarray:
    return np.where(y[:, 0] > 0, "high", "low")


def _fixed_batch(X, y, X_target, model: MRD) -> Batch:
    """The first 64 source and target examples as the model's training tensors."""
    dtype = torch.long if model.task == "classification" else torch.float32
    y_encoded = np.searchsorted(model.classes_, y) if model.task == "classification" else y
    return Batch(
        x=torch.as_tensor(X[:64]),
        y=torch.as_tensor(y_encoded[:64], dtype=dtype),
        x_target=torch.as_tensor(X_target[:64]),
    )


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return copy.deepcopy(module.state_dict())


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_step2_raises_and_step3_lowers_the_target_discrepancy(task):
    # Without dropout the measurement is exactly the quantity the steps optimise.
    X, y, X_target, _, _ = _shifted_regression()
    labels = y if task == "regression" else _labels(y)
    model = MRD(task=task, dropout=0.0, regressor_dropout=0.0, **SMALL)
    model.fit(X, labels, X_target=X_target)
    model.modules_.train()
    batch = _fixed_batch(X, labels, X_target, model)
    for _ in range(3):
        model._step_source(batch)
        after_source = model._measure_discrepancy(batch.x_target)
        model._step_maximise_discrepancy(batch)
        after_maximise = model._measure_discrepancy(batch.x_target)
        model._step_minimise_discrepancy(batch)
        after_minimise = model._measure_discrepancy(batch.x_target)
        assert after_maximise > after_source * 1.01
        assert after_minimise < after_maximise * 0.99
    epochs = model.history_
    assert all(h["discrepancy_after_step2"] > h["discrepancy_after_step1"] for h in epochs)
    assert all(h["discrepancy_after_step3"] < h["discrepancy_after_step2"] for h in epochs)


def test_step2_trains_only_the_regressors_step3_only_the_encoder():
    X, y, X_target, _, _ = _shifted_regression()
    model = MRD(task="regression", grad_clip=1.0, max_norm=1.0, **SMALL)
    model.fit(X, y, X_target=X_target)
    model.modules_.train()
    batch = _fixed_batch(X, y, X_target, model)
    encoder, regressors = model.modules_["encoder"], model.modules_["regressors"]

    before_encoder, before_regressors = _state(encoder), _state(regressors)
    model._step_maximise_discrepancy(batch)
    assert _same(before_encoder, _state(encoder))  # parameters and batch-norm statistics
    assert not _same(before_regressors, _state(regressors))

    before_encoder, before_regressors = _state(encoder), _state(regressors)
    model._step_minimise_discrepancy(batch)
    assert _same(before_regressors, _state(regressors))
    assert not _same(before_encoder, _state(encoder))
    assert all(p.requires_grad for p in model.modules_.parameters())


def test_two_regressors_of_different_depths_and_prediction_is_their_mean():
    X, y, X_target, _, _ = _shifted_regression(n=96)
    model = MRD(task="regression", **{**SMALL, "max_epochs": 1}).fit(X, y, X_target=X_target)
    depths = [
        sum(isinstance(m, nn.Linear) for m in r.modules()) for r in model.modules_["regressors"]
    ]
    assert depths == [4, 5]
    with torch.no_grad():
        first, second = model._both(torch.as_tensor(X_target))
    np.testing.assert_allclose(model.predict(X_target), ((first + second) / 2).numpy(), rtol=1e-6)

    labels = _labels(y)
    classifier = MRD(regressor_depths=(2, 3), **{**SMALL, "max_epochs": 1})
    classifier.fit(X, labels, X_target=X_target)
    with torch.no_grad():
        first, second = classifier._both(torch.as_tensor(X_target))
    mean_proba = ((first.softmax(1) + second.softmax(1)) / 2).numpy()
    np.testing.assert_allclose(classifier.predict_proba(X_target), mean_proba, rtol=1e-5)
    assert (classifier.predict(X_target) == classifier.classes_[mean_proba.argmax(1)]).all()


def test_shapes_for_one_and_two_targets_and_for_classes():
    X, y, X_target, _, _ = _shifted_regression(n=96)
    fast = {**SMALL, "max_epochs": 2}
    one = MRD(task="regression", **fast).fit(X, y[:, 0], X_target=X_target)
    two = MRD(task="regression", **fast).fit(X, y, X_target=X_target)
    classes = MRD(**fast).fit(X, _labels(y), X_target=X_target)
    assert one.predict(X_target).shape == (96,)
    assert two.predict(X_target).shape == (96, 2)
    assert set(classes.predict(X_target)) <= {"high", "low"}
    np.testing.assert_allclose(classes.predict_proba(X_target).sum(1), 1, rtol=1e-5)
    assert two.transform(X_target, layer=0).shape == (96, 16)
    assert set(two.history_[0]) >= {
        "loss",
        "discrepancy_after_step1",
        "discrepancy_after_step2",
        "discrepancy_after_step3",
    }


def test_same_seed_same_numbers_and_sklearn_params():
    X, y, X_target, _, _ = _shifted_regression(n=96)
    fast = {**SMALL, "max_epochs": 2}
    a = MRD(task="regression", **fast).fit(X, y, X_target=X_target).predict(X_target)
    b = MRD(task="regression", **fast).fit(X, y, X_target=X_target).predict(X_target)
    c = MRD(task="regression", **{**fast, "random_state": 1}).fit(X, y, X_target=X_target)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c.predict(X_target))
    model = get_method("mrd", n_encoder_steps=5, lr=0.01)
    assert isinstance(model, MRD)
    assert clone(model).get_params() == model.get_params()
    assert model.get_params()["regressor_depths"] == (4, 5)


def test_clear_errors():
    X, y, X_target, _, _ = _shifted_regression(n=32)
    with pytest.raises(ValueError, match="MRD adapts to unlabelled target data: pass X_target"):
        MRD(task="regression", **SMALL).fit(X, y)
    for bad, match in [
        (dict(regressor_depths=(4,)), "regressor_depths"),
        (dict(regressor_depths=(4, 0)), "regressor_depths"),
        (dict(n_encoder_steps=0), "n_encoder_steps"),
        (dict(regressor_dropout=1.0), "regressor_dropout"),
        (dict(regressor_width=0), "regressor_width"),
    ]:
        with pytest.raises(ValueError, match=match):
            MRD(task="regression", **{**SMALL, **bad}).fit(X, y, X_target=X_target)


def test_mrd_beats_source_only_on_a_shifted_linear_problem():
    # Default MRD architecture (dropout 0.5 in SELU regressors of depths 4 and 5).
    train = dict(task="regression", hidden_sizes=(32,), max_epochs=15, batch_size=64, lr=5e-3)
    gains = []
    for seed in range(3):
        X, y, X_target, X_test, y_test = _shifted_regression(n=256, seed=seed)
        source_only = SourceOnly(**train, patience=None, random_state=seed).fit(X, y)
        mrd = MRD(regressor_width=32, **train, patience=None, random_state=seed)
        mrd.fit(X, y, X_target=X_target)
        scores = [ccc(y_test, m.predict(X_test)) for m in (source_only, mrd)]
        assert np.isfinite(scores).all()
        gains.append(scores[1] - scores[0])
    assert np.mean(gains) > 0.03, gains


def test_frame_sequences_through_the_cnn_gru_encoder():
    rng = np.random.default_rng(0)
    source = [
        rng.normal(size=(int(rng.integers(12, 40)), 41)).astype(np.float32) for _ in range(24)
    ]
    target = [
        rng.normal(size=(int(rng.integers(12, 40)), 41)).astype(np.float32) + 0.5 for _ in range(24)
    ]
    arousal = np.array([s.mean() for s in source], dtype=np.float32)
    model = MRD(
        task="regression",
        encoder="cnn_gru",
        conv_channels=(8, 8),
        gru_size=8,
        fusion_sizes=(8,),
        regressor_width=8,
        batch_size=8,
        max_epochs=1,
        random_state=0,
    )
    model.fit(Sequences(source), arousal, X_target=Sequences(target))
    assert model.predict(Sequences(target)).shape == (24,)
