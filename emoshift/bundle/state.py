"""A fitted estimator as JSON-able settings and named arrays, and back.

:func:`estimator_state` asks the estimator for what its class declares it keeps
(:class:`~emoshift.methods.state.SavedState`: fitted attributes as JSON, network weights
and other arrays by name); :func:`restore_estimator` creates the registered method with
the saved hyper-parameters and lets it rebuild itself without training data. Nothing
here pickles or unpickles.

Example:
    >>> import numpy as np
    >>> from emoshift.methods import get_method
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3)).astype(np.float32); y = np.where(X[:, 0] > 0, "a", "b")
    >>> model = get_method("source_only", hidden_sizes=(4,), max_epochs=2,
    ...                    random_state=0).fit(X, y)
    >>> params, meta, arrays = estimator_state(model)
    >>> params["hidden_sizes"], sorted(arrays)[0]
    ([4], 'modules.encoder.blocks.0.0.bias')
    >>> back = restore_estimator("source_only", params, meta, arrays)
    >>> bool((back.predict_proba(X) == model.predict_proba(X)).all())
    True
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from emoshift.methods import get_method, method_class
from emoshift.methods.state import SavedState


def _plain(value: object, name: str) -> object:
    """A hyper-parameter as plain JSON (tuples become lists)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v, name) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"hyper-parameter {name}={value!r} cannot be saved as JSON")


def _ensemble_message(who: str, ensemble: object) -> str:
    return (
        f"{who}(ensemble={ensemble}) cannot be saved yet: a bundle holds one network, and "
        "saving only the first member would predict differently; train with ensemble: 1 "
        "to ship the model"
    )


def check_savable(method: str, params: dict) -> None:
    """Raise ``ValueError`` before training when ``params`` make an estimator that a
    bundle cannot hold (a seed ensemble, for now)."""
    ensemble = params.get("ensemble", 1)
    if isinstance(ensemble, int) and ensemble > 1:
        raise ValueError(_ensemble_message(method, ensemble))


def estimator_state(estimator: BaseEstimator) -> tuple[dict, dict, dict[str, np.ndarray]]:
    """``(params, meta, arrays)``: hyper-parameters (plain JSON), fitted state (JSON) and
    named arrays of ``estimator``. Raises ``TypeError`` for a class that declares none."""
    if not isinstance(estimator, SavedState):
        raise TypeError(
            f"{type(estimator).__name__} cannot be saved: it declares no saved state "
            "(emoshift.methods.state.SavedState)"
        )
    if getattr(estimator, "ensemble", 1) > 1:
        raise TypeError(_ensemble_message(f"{type(estimator).__name__}", estimator.ensemble))
    meta, arrays = estimator._get_state()
    params = {k: _plain(v, k) for k, v in estimator.get_params(deep=False).items()}
    return params, meta, arrays


def restore_estimator(
    method: str,
    params: dict,
    meta: dict,
    arrays: dict[str, np.ndarray],
    *,
    device: str | None = None,
) -> BaseEstimator:
    """The fitted estimator of registry name ``method`` that :func:`estimator_state` saved.

    ``device`` (``"auto"``, ``"cpu"``, ``"cuda"``) replaces the saved device, so a model
    trained on a GPU predicts on a CPU and the other way round.
    """
    accepted = method_class(method)().get_params(deep=False)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"method {method!r} has no parameter(s) {unknown}")
    values = {  # JSON has lists only; a parameter whose default is a tuple gets a tuple
        key: tuple(value) if isinstance(accepted[key], tuple) and isinstance(value, list) else value
        for key, value in params.items()
    }
    if device is not None and "device" in accepted:
        values["device"] = device
    estimator = get_method(method, **values)
    estimator._set_state(meta, arrays)
    return estimator
