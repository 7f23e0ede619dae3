"""Fitted state as JSON-able values and named numpy arrays, and back, without pickles.

A saved model (:mod:`emoshift.bundle`) keeps an estimator's fitted state in two parts:
JSON (scalars, labels, shapes) and named numeric arrays (network weights, support
vectors), which go to a safetensors file. Each estimator class declares what it keeps
(:class:`SavedState`): the fitted attributes in ``_saved_attributes``; a class with
networks (:class:`NetworkState`) also says how to rebuild them without training data
(``_new_networks``), and their weights are kept.

:func:`encode` splits one value into the two parts; :func:`decode` puts it back. Values
may be numbers, strings, ``None``, lists, tuples, dicts, numpy arrays and scalars, other
:class:`SavedState` estimators (the AAE inside the enriched AAE chain), and the fitted
scikit-learn objects the methods use (:data:`SKLEARN`: the scaler, the ANOVA-F
selector, the SVM, its Platt calibration and pipelines of them). A scikit-learn object
is rebuilt from its attributes as they were after ``fit`` (as ``pickle`` would, but only
for the classes listed and from data only), so the SVM keeps its support vectors, dual
coefficients and intercepts and predicts exactly as before. Anything else raises
``TypeError`` when saved.

Example:
    >>> import numpy as np
    >>> from sklearn.svm import SVC
    >>> X = np.array([[0.0, 1], [1, 0], [0, 2], [2, 0]]); y = np.array(["a", "b", "a", "b"])
    >>> svm = SVC(kernel="linear").fit(X, y)
    >>> arrays = {}
    >>> meta = encode(svm, "svm", arrays)
    >>> sorted(arrays)[:3]
    ['svm._dual_coef_', 'svm._intercept_', 'svm._n_support']
    >>> decode(meta, arrays).predict(X).tolist()
    ['a', 'b', 'a', 'b']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

import numpy as np
import torch
from sklearn.calibration import CalibratedClassifierCV, _CalibratedClassifier, _SigmoidCalibration
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from torch import nn
from torch.overrides import TorchFunctionMode

from emoshift.torch_device import torch_device

#: the scikit-learn classes whose fitted objects a saved model may hold
SKLEARN: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        StandardScaler,
        SelectKBest,
        SVC,
        Pipeline,
        CalibratedClassifierCV,
        _CalibratedClassifier,
        _SigmoidCalibration,
    )
}
#: functions that such objects hold as parameters
FUNCTIONS: dict[str, object] = {"f_classif": f_classif}

_ARRAY, _REF, _TUPLE, _OBJECT, _FUNCTION, _SAVED = (
    "__ndarray__",
    "__array_ref__",
    "__tuple__",
    "__object__",
    "__function__",
    "__estimator__",
)


class SavedState:
    """What a saved model keeps of a fitted estimator, declared on its class.

    ``_saved_attributes`` names the fitted attributes (absent ones are skipped);
    :meth:`_get_state` encodes them, :meth:`_set_state` sets them back. A class with
    networks extends both: it adds their weights and rebuilds them from the restored
    attributes, without training data.
    """

    #: fitted attributes a saved model keeps
    _saved_attributes: ClassVar[tuple[str, ...]] = ()
    #: every class with declared state, by name (what :func:`decode` may create)
    _saved_classes: ClassVar[dict[str, type]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        SavedState._saved_classes[f"{cls.__module__}.{cls.__qualname__}"] = cls

    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(meta, arrays)``: the saved attributes as JSON and numeric arrays by name."""
        arrays: dict[str, np.ndarray] = {}
        meta = {
            name: encode(getattr(self, name), name, arrays)
            for name in self._saved_attributes
            if hasattr(self, name)
        }
        return meta, arrays

    def _set_state(self, meta: dict, arrays: Mapping[str, np.ndarray]) -> None:
        """Set the attributes that :meth:`_get_state` saved."""
        unknown = sorted(set(meta) - set(self._saved_attributes))
        if unknown:
            raise ValueError(f"{type(self).__name__} keeps no attribute(s) {unknown}")
        for name, value in meta.items():
            setattr(self, name, decode(value, arrays))


class NetworkState(SavedState):
    """The saved state of an estimator whose networks are ``modules_``: their weights are
    kept as ``modules.*`` arrays; loading rebuilds the networks from the restored
    attributes (:meth:`_new_networks`, no training data) and loads the weights.

    The networks are first built on torch's ``meta`` device (shapes only, no memory) and
    their shapes compared with the saved arrays, so that sizes in a manifest that the
    arrays do not have are refused before any real network is allocated; a build that
    makes far more tensors than the arrays hold (millions of layers) is stopped early."""

    def _new_networks(self) -> nn.ModuleDict:
        """Freshly initialised networks for the fitted sizes."""
        raise NotImplementedError

    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta, arrays = super()._get_state()
        return meta, {**arrays, **network_arrays(self.modules_)}

    def _set_state(self, meta: dict, arrays: Mapping[str, np.ndarray]) -> None:
        super()._set_state(meta, arrays)
        self.device_ = torch_device(self.device)
        saved = sum(name.startswith("modules.") for name in arrays)
        with torch.device("meta"), _TensorBudget(2 * saved + 64):
            check_network_shapes(self._new_networks(), arrays)
        self.modules_ = self._new_networks()
        load_networks(self.modules_, arrays, self.device_)


def network_arrays(modules: nn.Module, prefix: str = "modules") -> dict[str, np.ndarray]:
    """The weights and buffers of ``modules`` as arrays named ``<prefix>.<parameter>``."""
    return {
        f"{prefix}.{name}": tensor.detach().cpu().numpy()
        for name, tensor in modules.state_dict().items()
    }


class _TensorBudget(TorchFunctionMode):
    """Stops a network build with ``ValueError`` once it has made more than ``limit``
    tensors: settings describing millions of layers cost time and memory even on the meta
    device, and cannot match the few arrays a bundle saved."""

    FACTORIES = frozenset({"empty", "zeros", "ones", "full", "tensor"})

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.made = 0

    def __torch_function__(
        self, func: Callable, types: object, args: tuple = (), kwargs: dict | None = None
    ) -> object:
        if getattr(func, "__name__", "") in self.FACTORIES:
            self.made += 1
            if self.made > self.limit:
                raise ValueError(
                    f"the settings describe networks with more tensors than the bundle saved "
                    f"(over {self.limit}; e.g. hidden_sizes lists more layers than the weights)"
                )
        return func(*args, **(kwargs or {}))


def check_network_shapes(modules: nn.Module, arrays: Mapping[str, np.ndarray]) -> None:
    """Raise ``ValueError`` unless the ``modules.*`` arrays have exactly the weights of
    ``modules`` (built on any device, ``meta`` included), each with its shape."""
    expected = {f"modules.{name}": _shape(t) for name, t in modules.state_dict().items()}
    saved = {name: _shape(a) for name, a in arrays.items() if name.startswith("modules.")}
    if expected == saved:
        return
    missing, extra = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
    if missing or extra:
        raise ValueError(
            f"the saved weights do not fit the networks its settings describe: missing "
            f"{missing[:5]} ({len(missing)}), unexpected {extra[:5]} ({len(extra)})"
        )
    name = next(n for n in expected if expected[n] != saved[n])
    raise ValueError(
        f"the saved weight {name!r} has shape {saved[name]}, the settings describe "
        f"{expected[name]} (e.g. hidden_sizes differ from the weights)"
    )


def _shape(array: np.ndarray | torch.Tensor) -> tuple[int, ...]:
    """An array's shape as torch compares it on loading (a scalar may be saved as (1,))."""
    shape = tuple(array.shape)
    return () if shape == (1,) else shape


def load_networks(
    modules: nn.Module, arrays: Mapping[str, np.ndarray], device: torch.device
) -> None:
    """Load the ``modules.*`` arrays into freshly built ``modules`` (every weight must
    be there with its shape), move them to ``device`` and switch to evaluation mode."""
    weights = {
        name.removeprefix("modules."): torch.as_tensor(np.asarray(value))
        for name, value in arrays.items()
        if name.startswith("modules.")
    }
    modules.load_state_dict(weights, strict=True)
    modules.to(device)
    modules.eval()


def encode(value: object, name: str, arrays: dict[str, np.ndarray]) -> object:
    """``value`` as JSON; numeric arrays go into ``arrays`` under ``name`` (dotted paths)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            arrays[name] = value
            return {_REF: name}
        return {_ARRAY: [encode(v, name, arrays) for v in value.tolist()], "dtype": "object"}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        items = [encode(v, f"{name}.{i}", arrays) for i, v in enumerate(value)]
        return {_TUPLE: items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {str(k): encode(v, f"{name}.{k}", arrays) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, SavedState):
        meta, own = value._get_state()
        arrays.update({f"{name}.{key}": array for key, array in own.items()})
        key = f"{type(value).__module__}.{type(value).__qualname__}"
        params = encode(value.get_params(deep=False), f"{name}.params", arrays)
        return {_SAVED: key, "prefix": name, "params": params, "state": meta}
    if type(value).__name__ in SKLEARN and SKLEARN[type(value).__name__] is type(value):
        attributes = {k: encode(v, f"{name}.{k}", arrays) for k, v in vars(value).items()}
        return {_OBJECT: type(value).__name__, "attributes": attributes}
    for key, function in FUNCTIONS.items():
        if value is function:
            return {_FUNCTION: key}
    raise TypeError(f"cannot save {name} ({type(value).__name__}) in a model bundle")


def decode(value: object, arrays: Mapping[str, np.ndarray]) -> object:
    """The inverse of :func:`encode`; only data and the classes in :data:`SKLEARN`."""
    if isinstance(value, list):
        return [decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if _REF in value:
        if value[_REF] not in arrays:
            raise ValueError(f"array {value[_REF]!r} is missing from the saved arrays")
        return np.asarray(arrays[value[_REF]])
    if _ARRAY in value:
        return np.asarray([decode(v, arrays) for v in value[_ARRAY]], dtype=object)
    if _TUPLE in value:
        return tuple(decode(v, arrays) for v in value[_TUPLE])
    if _FUNCTION in value:
        return FUNCTIONS[value[_FUNCTION]]
    if _SAVED in value:
        cls = SavedState._saved_classes.get(value[_SAVED])
        if cls is None:
            raise ValueError(f"a saved model may not hold a {value[_SAVED]!r}")
        prefix = value["prefix"] + "."
        own = {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}
        estimator = cls(**decode(value["params"], arrays))
        estimator._set_state(value["state"], own)
        return estimator
    if _OBJECT in value:
        cls = SKLEARN.get(value[_OBJECT])
        if cls is None:
            raise ValueError(f"a saved model may not hold a {value[_OBJECT]!r}")
        obj = cls.__new__(cls)
        obj.__dict__.update(decode(value["attributes"], arrays))
        return obj
    return {k: decode(v, arrays) for k, v in value.items()}
