"""The shared estimator base and the baselines: fit signature, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from emoshift.methods.base import NeuralEstimator, concordance_loss
from emoshift.methods.baselines import SourceOnly, SourceTarget, TargetOnly
from emoshift.methods.networks import GradientReversal, MLPEncoder, apply_max_norm


def _problem(n: int = 200, shift: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = np.array(["anger", "happiness", "neutral", "sadness"])[(X[:, :2] > 0) @ [1, 2]]
    return X + shift, y


FAST = dict(hidden_sizes=(32,), max_epochs=40, lr=5e-3, random_state=0)


def test_source_only_learns_and_records_history():
    X, y = _problem(400)
    model = SourceOnly(**FAST).fit(X, y)
    assert model.score(X, y) > 0.8
    assert set(model.classes_) == {"anger", "happiness", "neutral", "sadness"}
    assert model.n_epochs_ == len(model.history_) >= 1
    assert {"epoch", "loss", "dev_loss", "time_s"} <= set(model.history_[0])
    assert model.history_[-1]["loss"] < model.history_[0]["loss"]
    proba = model.predict_proba(X[:10])
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)


def test_same_seed_same_numbers_other_seed_other_numbers():
    X, y = _problem()
    a = SourceOnly(**FAST).fit(X, y).predict_proba(X)
    b = SourceOnly(**FAST).fit(X, y).predict_proba(X)
    c = SourceOnly(**{**FAST, "random_state": 1}).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_sklearn_clone_and_params():
    model = SourceOnly(hidden_sizes=(8, 4), lr=0.01)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    twin.set_params(lr=0.5)
    assert twin.lr == 0.5 and model.lr == 0.01


def test_subclass_signature_merges_shared_params():
    class WithLambda(NeuralEstimator):
        def __init__(self, *, lambda_: float = 1.0, **shared):
            super().__init__(**shared)
            self.lambda_ = lambda_

    params = WithLambda(lambda_=0.3, lr=0.1).get_params()
    assert params["lambda_"] == 0.3 and params["lr"] == 0.1 and "hidden_sizes" in params
    assert clone(WithLambda(lambda_=0.3)).lambda_ == 0.3


def test_early_stopping_restores_best_epoch():
    X, y = _problem(120)
    model = SourceOnly(hidden_sizes=(64,), max_epochs=200, patience=3, random_state=0)
    model.fit(X, y)
    assert model.n_epochs_ < 200
    dev = [h["dev_loss"] for h in model.history_]
    assert model.best_epoch_ == int(np.argmin(dev))


def test_eval_set_is_used_for_early_stopping():
    X, y = _problem(200)
    Xd, yd = _problem(50, seed=3)
    model = SourceOnly(**FAST).fit(X, y, eval_set=(Xd, yd))
    assert all("dev_loss" in h for h in model.history_)


def test_target_only_and_source_target_use_their_pools():
    Xs, ys = _problem(300, shift=3.0)
    Xt, yt = _problem(300, seed=1)
    target_only = TargetOnly(**FAST).fit(None, None, X_target_labelled=Xt, y_target_labelled=yt)
    assert target_only.score(Xt, yt) > 0.7
    pooled = SourceTarget(**FAST).fit(Xs, ys, X_target_labelled=Xt[:40], y_target_labelled=yt[:40])
    assert pooled.n_features_in_ == 6


def test_regression_several_targets_mse_and_ccc():
    X, _ = _problem(300)
    Y = np.stack([X[:, 0] - X[:, 1], X[:, 2]], axis=1)
    for loss in ("mse", "ccc"):
        model = SourceOnly(task="regression", regression_loss=loss, **FAST).fit(X, Y)
        assert model.predict(X).shape == (300, 2)
        assert model.score(X, Y) > 0.7
    one = SourceOnly(task="regression", **FAST).fit(X, Y[:, 0])
    assert one.predict(X).shape == (300,)


def test_transform_reads_each_shared_layer():
    X, y = _problem()
    model = SourceOnly(hidden_sizes=(12, 5), max_epochs=2, random_state=0).fit(X, y)
    assert model.transform(X, layer=0).shape == (200, 12)
    assert model.transform(X).shape == (200, 5)
    with pytest.raises(ValueError, match="2 shared layers"):
        model.transform(X, layer=2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(X_target_labelled=np.zeros((3, 6))), "both X_target_labelled and y_target"),
        (dict(X_target=np.zeros((3, 5))), "differ in width"),
        (dict(X_target=np.full((3, 6), np.nan)), "X_target has NaN"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    X, y = _problem()
    with pytest.raises(ValueError, match=match):
        SourceOnly(**FAST).fit(X, y, **kwargs)


def test_bad_params_and_unfitted_use():
    X, y = _problem()
    with pytest.raises(ValueError, match="task="):
        SourceOnly(task="ranking").fit(X, y)
    with pytest.raises(ValueError, match="activation"):
        SourceOnly(activation="swishy", max_epochs=1).fit(X, y)
    with pytest.raises(NotFittedError, match="not fitted"):
        SourceOnly().predict(X)
    with pytest.raises(ValueError, match="at least two classes"):
        SourceOnly(**FAST).fit(X, np.array(["anger"] * len(X)))
    model = SourceOnly(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :3])
    with pytest.raises(ValueError, match="not among the classes"):
        model.fit(X, y, eval_set=(X[:5], np.array(["joy"] * 5)))


def test_gradient_reversal_is_identity_forward_and_negates_gradient():
    x = torch.randn(5, 3, requires_grad=True)
    layer = GradientReversal(scale=0.7)
    out = layer(x)
    torch.testing.assert_close(out, x)
    weights = torch.randn(5, 3)
    (out * weights).sum().backward()
    torch.testing.assert_close(x.grad, -0.7 * weights)


def test_max_norm_caps_incoming_weight_norms():
    encoder = MLPEncoder(10, (20,))
    with torch.no_grad():
        encoder.blocks[0][0].weight.mul_(100)
    apply_max_norm(encoder, 4.0)
    norms = encoder.blocks[0][0].weight.norm(dim=1)
    assert norms.max() <= 4.0 + 1e-4


def test_concordance_loss_matches_formula():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50) * 2 + 0.5
    ccc = 2 * np.cov(a, b, bias=True)[0, 1] / (a.var() + b.var() + (a.mean() - b.mean()) ** 2)
    loss = concordance_loss(torch.tensor(a)[:, None], torch.tensor(b)[:, None])
    assert float(loss) == pytest.approx(1 - ccc, abs=1e-6)
