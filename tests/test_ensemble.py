"""Seed ensembles: ``ensemble=n`` is the average of n models trained with seeds
``random_state + i``; ``ensemble=1`` is the single model."""

from __future__ import annotations

import numpy as np
import pytest
from test_method_contract import _fit_arguments, _model

from emoshift.methods import check_method_params, get_method, method_class, method_names
from emoshift.methods.base import NeuralEstimator
from emoshift.methods.baselines import SourceOnly
from emoshift.methods.dann import DANN

SMALL = dict(hidden_sizes=(8,), batch_size=16, max_epochs=3, device="cpu")
NEURAL = [name for name in method_names() if issubclass(method_class(name), NeuralEstimator)]


def _problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(90, 5)).astype(np.float32)
    y = np.array(["anger", "neutral", "sadness"])[np.argmax(X[:, :3], axis=1)]
    X_target = (rng.normal(size=(60, 5)) + 1).astype(np.float32)
    return X, y, X_target


def test_ensemble_of_one_is_the_single_model():
    X, y, X_target = _problem()
    single = SourceOnly(random_state=4, **SMALL).fit(X, y)
    one = SourceOnly(random_state=4, ensemble=1, **SMALL).fit(X, y)
    assert not hasattr(one, "members_")
    np.testing.assert_array_equal(one.predict_proba(X_target), single.predict_proba(X_target))
    untimed = [
        [{k: v for k, v in h.items() if k != "time_s"} for h in m.history_] for m in (one, single)
    ]
    assert untimed[0] == untimed[1]


@pytest.mark.parametrize(
    ("cls", "extra"), [(SourceOnly, {}), (DANN, {"warmup_epochs": 0})], ids=["source_only", "dann"]
)
def test_ensemble_of_three_averages_three_seeds(cls, extra):
    X, y, X_target = _problem()
    ensemble = cls(random_state=7, ensemble=3, **SMALL, **extra).fit(X, y, X_target=X_target)
    separate = [
        cls(random_state=seed, **SMALL, **extra).fit(X, y, X_target=X_target) for seed in (7, 8, 9)
    ]
    probabilities = [model.predict_proba(X_target) for model in separate]
    assert not np.allclose(probabilities[0], probabilities[1])  # the seeds differ
    average = np.mean(probabilities, axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(X_target), average, rtol=1e-6)
    np.testing.assert_array_equal(ensemble.predict(X_target), ensemble.classes_[average.argmax(1)])
    # transform is the first member's representation; history_ is its record
    np.testing.assert_array_equal(ensemble.transform(X_target), separate[0].transform(X_target))
    assert len(ensemble.history_) == len(separate[0].history_)
    assert [m.random_state for m in ensemble.members_] == [7, 8, 9]


def test_regression_ensemble_averages_outputs():
    X, _, X_target = _problem()
    y = X[:, :2] @ np.array([[1.0, 0.5], [-0.5, 1.0]], dtype=np.float32)
    params = dict(task="regression", **SMALL)
    ensemble = SourceOnly(random_state=0, ensemble=2, **params).fit(X, y)
    outputs = [SourceOnly(random_state=s, **params).fit(X, y).predict(X_target) for s in (0, 1)]
    np.testing.assert_allclose(ensemble.predict(X_target), np.mean(outputs, axis=0), rtol=1e-6)
    assert ensemble.predict(X_target).shape == (len(X_target), 2)
    with pytest.raises(AttributeError, match="classification"):
        ensemble.predict_proba(X_target)


def test_refit_without_ensemble_drops_the_members():
    X, y, _ = _problem()
    model = SourceOnly(random_state=0, ensemble=2, **SMALL).fit(X, y)
    assert len(model.members_) == 2
    model.set_params(ensemble=1).fit(X, y)
    assert not hasattr(model, "members_")
    np.testing.assert_array_equal(
        model.predict_proba(X), SourceOnly(random_state=0, **SMALL).fit(X, y).predict_proba(X)
    )


@pytest.mark.parametrize("name", NEURAL)
def test_every_neural_method_takes_an_ensemble(name):
    (X, y), kwargs = _fit_arguments(name)
    model = _model(name, ensemble=2).fit(X, y, **kwargs)
    assert len(model.members_) == 2
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba, np.mean([m.predict_proba(X) for m in model.members_], 0))
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert set(model.predict(X)) <= set(model.classes_)
    np.testing.assert_array_equal(model.transform(X), model.members_[0].transform(X))


@pytest.mark.bad_input
@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_ensemble_must_be_a_positive_count(value):
    with pytest.raises(ValueError, match=r"ensemble=.* is not allowed"):
        check_method_params("source_only", {"ensemble": value})
    with pytest.raises(ValueError, match=r"ensemble="):
        X, y, _ = _problem()
        get_method("source_only", ensemble=value, **SMALL).fit(X, y)
