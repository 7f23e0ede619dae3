"""A fitted estimator as JSON-able settings and named arrays, and back.

:func:`estimator_state` asks the estimator for its state (``_get_state``: fitted
attributes as JSON, network weights and other arrays by name); :func:`restore_estimator`
creates the registered method with the saved hyper-parameters and lets it rebuild itself
(``_set_state``) without training data. Nothing here pickles or unpickles.

Example:
    >>> import numpy as np
    >>> from emoshift.methods import get_method
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3)).astype(np.float32); y = np.where(X[:, 0] > 0, "a", "b")
    >>> model = get_method("source_only", hidden_sizes=(4,), max_epochs=2,
    ...                    random_state=0).fit(X, y)
    >>> params, meta, arrays = estimator_state(model)
    >>> back = restore_estimator("source_only", params, meta, arrays)
    >>> bool((back.predict_proba(X) == model.predict_proba(X)).all())
    True
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from emoshift.methods import get_method, method_class
from emoshift.methods.base import NeuralEstimator

#: JSON tags of values that JSON cannot hold as they are
_ARRAY, _TUPLE = "__ndarray__", "__tuple__"


def to_json(value: object) -> object:
    """``value`` with numpy arrays and scalars and tuples turned into tagged JSON values."""
    if isinstance(value, np.ndarray):
        kind = "object" if value.dtype == object else value.dtype.str
        return {_ARRAY: [to_json(v) for v in value.tolist()], "dtype": kind}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {_TUPLE: [to_json(v) for v in value]}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save a {type(value).__name__} as JSON: {value!r}")


def from_json(value: object) -> object:
    """The inverse of :func:`to_json` (only data: arrays, tuples, lists, scalars)."""
    if isinstance(value, dict) and _ARRAY in value:
        dtype = value["dtype"]
        return np.asarray(from_json(value[_ARRAY]), dtype=object if dtype == "object" else dtype)
    if isinstance(value, dict) and _TUPLE in value:
        return tuple(from_json(v) for v in value[_TUPLE])
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def estimator_state(estimator: BaseEstimator) -> tuple[dict, dict, dict[str, np.ndarray]]:
    """``(params, meta, arrays)``: hyper-parameters (plain JSON: tuples become lists) and
    fitted state (tagged JSON and named arrays) of ``estimator``.

    Raises ``TypeError`` for an estimator class that cannot be saved.
    """
    get_state = getattr(estimator, "_get_state", None)
    if get_state is not None:
        meta, arrays = get_state()
    elif isinstance(estimator, NeuralEstimator):  # phase 1: moves into the base (issue 14)
        meta, arrays = _neural_state(estimator)
    else:
        raise TypeError(
            f"{type(estimator).__name__} cannot be saved: it declares no _get_state hook"
        )
    params = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in estimator.get_params(deep=False).items()
    }
    return to_json(params), to_json(meta), arrays


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
    if hasattr(estimator, "_set_state"):
        estimator._set_state(from_json(meta), arrays)
    else:
        _set_neural_state(estimator, from_json(meta), arrays)
    return estimator


_NEURAL = ("classes_", "n_outputs_", "_y_ndim", "sequence_widths_", "n_features_in_")


def _neural_state(estimator: NeuralEstimator) -> tuple[dict, dict[str, np.ndarray]]:
    meta = {name: getattr(estimator, name) for name in _NEURAL if hasattr(estimator, name)}
    arrays = {
        f"modules.{name}": tensor.detach().cpu().numpy()
        for name, tensor in estimator.modules_.state_dict().items()
    }
    return meta, arrays


def _set_neural_state(estimator: NeuralEstimator, meta: dict, arrays: dict) -> None:
    import torch  # noqa: PLC0415

    for name, value in meta.items():
        setattr(estimator, name, value)
    estimator.device_ = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu")
        if estimator.device == "auto"
        else estimator.device
    )
    estimator.modules_ = torch.nn.ModuleDict()
    estimator._build(None)
    weights = {k.removeprefix("modules."): torch.as_tensor(v) for k, v in arrays.items()}
    estimator.modules_.load_state_dict(weights, strict=True)
    estimator.modules_.to(estimator.device_)
    estimator.modules_.eval()
