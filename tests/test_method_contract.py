"""The contract every registered method keeps, checked for each name in the registry.

Each method declares what it reads (``needs``) and what its hyper-parameters may be
(``_parameter_constraints``); it clones, round-trips ``get_params``, fits on a tiny
problem given exactly what it declares it needs, predicts labels it was trained on,
repeats itself for the same seed, and answers bad use with scikit-learn's
``NotFittedError`` or a ``ValueError`` that names the problem.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from emoshift.experiment.config import ConfigError, expand_method_grid
from emoshift.methods import (
    MethodNeeds,
    check_method_params,
    get_method,
    method_class,
    method_names,
    method_needs,
)
from emoshift.methods.needs import NeedsBy

NAMES = method_names()
CLASSES = np.array(["anger", "neutral", "sadness"])

#: small values for whichever of these parameters a method has (a fit takes a second)
SMALL = dict(
    hidden_sizes=(8,),
    head_hidden_sizes=(),
    domain_hidden_sizes=(),
    dcd_hidden_sizes=(8,),
    regressor_width=8,
    batch_size=16,
    max_epochs=2,
    pretrain_epochs=1,
    dcd_epochs=1,
    fine_tune_epochs=1,
    warmup_epochs=0,
    epochs=2,
    code_size=3,
    n_neighbors=3,
    device="cpu",
)


def _domain(n_per_class: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(CLASSES)), n_per_class)
    X = np.eye(len(CLASSES), 6)[y] * 3 + rng.normal(size=(len(y), 6)) + shift
    return X.astype(np.float32), CLASSES[y]


def _model(name: str, **params: object):
    accepted = method_class(name)().get_params()
    return get_method(
        name, **{k: v for k, v in {**SMALL, **params}.items() if k in accepted}, random_state=0
    )


def _fit_arguments(name: str) -> tuple[tuple, dict]:
    """``fit``'s arguments: source data and what ``method_needs`` says the method reads."""
    Xs, ys = _domain(20, 0.0, 0)
    Xt, yt = _domain(12, 1.0, 1)
    needs = method_needs(name)
    kwargs: dict[str, object] = {}
    if needs.unlabelled_target or needs.optional_unlabelled_target:
        kwargs["X_target"] = Xt
    if needs.all_target_labels:
        kwargs["X_target_labelled"], kwargs["y_target_labelled"] = Xt, yt
    elif needs.labelled_target:
        few = np.r_[0:4, 12:16, 24:28]
        kwargs["X_target_labelled"], kwargs["y_target_labelled"] = Xt[few], yt[few]
    if needs.development_set:
        kwargs["eval_set"] = _domain(4, 1.0, 2)
    return (Xs, ys), kwargs


def _label_argument(name: str) -> str:
    """The labels the method reads for sure: the labelled target's, else the source's."""
    needs = method_needs(name)
    return "y_target_labelled" if needs.labelled_target or needs.all_target_labels else "y"


@pytest.mark.parametrize("name", NAMES)
def test_needs_and_constraints_are_declared(name):
    cls = method_class(name)
    assert isinstance(cls.needs, MethodNeeds | NeedsBy)
    assert isinstance(method_needs(name), MethodNeeds)
    params = cls().get_params()
    assert set(params) <= set(cls._parameter_constraints), "every parameter has a constraint"
    check_method_params(name, {})  # the defaults are allowed


@pytest.mark.parametrize("name", NAMES)
def test_clone_and_get_params_round_trip(name):
    model = _model(name)
    twin = clone(model)
    assert twin is not model and twin.get_params() == model.get_params()
    twin.set_params(**model.get_params())
    assert twin.get_params() == model.get_params()


@pytest.mark.parametrize("name", NAMES)
def test_fit_predict_transform_with_what_it_declares(name):
    (X, y), kwargs = _fit_arguments(name)
    Xt, _ = _domain(5, 1.0, 3)
    model = _model(name).fit(X, y, **kwargs)
    predicted = model.predict(Xt)
    assert predicted.shape == (len(Xt),) and set(predicted) <= set(CLASSES)
    assert list(model.classes_) == list(CLASSES)
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(Xt)
        assert proba.shape == (len(Xt), len(CLASSES))
        np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    if hasattr(model, "transform"):
        codes = model.transform(Xt)
        assert codes.ndim == 2 and len(codes) == len(Xt)
    again = _model(name).fit(X, y, **kwargs).predict(Xt)
    np.testing.assert_array_equal(predicted, again)  # same seed, same predictions


@pytest.mark.bad_input
@pytest.mark.parametrize("name", NAMES)
def test_use_before_fit_raises_not_fitted(name):
    model = _model(name)
    X, _ = _domain(2, 0.0, 0)
    for method in ("predict", "predict_proba", "transform"):
        if hasattr(model, method):
            with pytest.raises(NotFittedError):
                getattr(model, method)(X)


@pytest.mark.bad_input
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("bad", "match"),
    [(None, "missing label"), (3, "mixes label types"), (np.nan, "missing label")],
)
def test_missing_or_mixed_labels_are_named(name, bad, match):
    (X, y), kwargs = _fit_arguments(name)
    argument = _label_argument(name)
    labels = list(kwargs[argument] if argument != "y" else y)
    labels[1] = bad
    if argument == "y":
        y = labels
    else:
        kwargs[argument] = labels
    with pytest.raises(ValueError, match=match):
        _model(name).fit(X, y, **kwargs)


@pytest.mark.bad_input
@pytest.mark.parametrize("name", NAMES)
def test_wrong_width_is_named(name):
    (X, y), kwargs = _fit_arguments(name)
    model = _model(name).fit(X, y, **kwargs)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :-1])


@pytest.mark.bad_input
@pytest.mark.parametrize("name", NAMES)
def test_every_bad_parameter_is_named_before_and_at_fit(name):
    params = method_class(name)().get_params()
    for key in params:
        with pytest.raises(ValueError, match=rf"method '{name}'.*{key}=<object"):
            check_method_params(name, {key: object()})
    key = sorted(params)[0]
    model = _model(name).set_params(**{key: object()})
    (X, y), kwargs = _fit_arguments(name)
    with pytest.raises(ValueError, match=f"{key}=<object"):
        model.fit(X, y, **kwargs)


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("source_only", {"lr": "fast"}, r"lr='fast' is not allowed; lr must be a float"),
        ("dann", {"max_epochs": 2}, r"warmup_epochs=10, max_epochs=2 is not allowed"),
        ("svm", {"pool": "nearby"}, r"pool='nearby' is not allowed"),
        ("mrd", {"regressor_depths": [3]}, r"regressor_depths=\(3,\) is not allowed"),
        ("source_only", {"lr": [0.1, -1.0]}, r"lr=-1.0 is not allowed"),
    ],
)
def test_config_grid_rejects_bad_parameters(name, params, match):
    with pytest.raises(ConfigError, match=rf"methods\.{name}: method '{name}'.*{match}"):
        expand_method_grid(name, params, where=f"methods.{name}")


def test_config_grid_accepts_good_parameters():
    assert expand_method_grid("dann", {"max_epochs": 2, "warmup_epochs": [0, 1]}) == [
        {"max_epochs": 2, "warmup_epochs": 0},
        {"max_epochs": 2, "warmup_epochs": 1},
    ]


def test_needs_depend_on_parameters_where_declared():
    assert method_needs("svm", {"pool": "source"}) == MethodNeeds()
    assert method_needs("svm").labelled_target and method_needs("anova_svm").labelled_target
    assert method_needs("train_on_target").all_target_labels
    assert not method_needs("label_target").all_target_labels
    assert method_needs("enriched_aae").labelled_target
    assert method_needs("dann").unlabelled_target and not method_needs("dann").labelled_target
