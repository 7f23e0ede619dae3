"""Domain-adaptation methods and baselines, one module each, found by name.

Every method is a scikit-learn compatible estimator with the same ``fit`` signature
(:class:`~emoshift.methods.estimator.DomainEstimator`): the neural ones build on
:class:`~emoshift.methods.base.NeuralEstimator`; the enriched AAE chain and the SVM
baselines are estimators of their own. Each class declares what it reads (``needs``,
see :func:`method_needs`) and what its hyper-parameters may be
(``_parameter_constraints``, see :func:`check_method_params`).

Example:
    >>> from emoshift.methods import get_method, method_names
    >>> "source_only" in method_names()
    True
    >>> get_method("source_only", hidden_sizes=(8,)).hidden_sizes
    (8,)
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib

from sklearn.base import BaseEstimator

from emoshift.methods.needs import MethodNeeds
from emoshift.methods.params import validate_params

__all__ = [
    "REGISTRY",
    "MethodNeeds",
    "check_method_params",
    "get_method",
    "method_class",
    "method_names",
    "method_needs",
]

#: method name -> "module:Class" (imported on first use, so one broken method cannot
#: stop the others from loading)
REGISTRY: dict[str, str] = {
    "source_only": "emoshift.methods.baselines:SourceOnly",
    "train_on_target": "emoshift.methods.baselines:TargetOnly",
    "label_target": "emoshift.methods.baselines:TargetOnly",
    "source_target": "emoshift.methods.baselines:SourceTarget",
    "dann": "emoshift.methods.dann:DANN",
    "coral": "emoshift.methods.coral:DeepCORAL",
    "mrd": "emoshift.methods.mrd:MRD",
    "max_entropy": "emoshift.methods.max_entropy:MaxEntropySoftLabel",
    "cada": "emoshift.methods.cada:CADA",
    "fada": "emoshift.methods.fada:FADA",
    "fine_tune": "emoshift.methods.fine_tune:FineTune",
    "enriched_aae": "emoshift.methods.enriched_aae:EnrichedAAEClassifier",
    "svm": "emoshift.methods.svm:SVMClassifier",
    "anova_svm": "emoshift.methods.svm:SVMClassifier",
}

#: default hyper-parameters of registry names that share a class with another name
NAME_DEFAULTS: dict[str, dict[str, object]] = {"anova_svm": {"n_selected": 20}}


#: what a registry name reads beyond its class's ``needs`` (names that share a class)
NAME_NEEDS: dict[str, dict[str, bool]] = {
    "train_on_target": {"labelled_target": False, "all_target_labels": True},
}


def _params_with_defaults(name: str, params: dict | None) -> dict[str, object]:
    """The hyper-parameters a method ``name`` gets: class defaults, name defaults, params."""
    defaults = method_class(name)().get_params(deep=False)
    return {**defaults, **NAME_DEFAULTS.get(name, {}), **(params or {})}


def method_needs(name: str, params: dict | None = None) -> MethodNeeds:
    """What method ``name`` (with hyper-parameters ``params``) needs from a protocol.

    Read from the class's ``needs`` declaration (resolved against ``params`` when it
    depends on one, e.g. the SVM's ``pool``) and the registry entry's :data:`NAME_NEEDS`.

    Example:
        >>> method_needs("cada").labelled_target, method_needs("dann").unlabelled_target
        (True, True)
        >>> method_needs("svm", {"pool": "source"}).labelled_target
        False
    """
    cls = method_class(name)
    needs = cls.needs.resolve(_params_with_defaults(name, params))
    return dataclasses.replace(needs, **NAME_NEEDS.get(name, {}))


def check_method_params(name: str, params: dict) -> None:
    """Raise ``ValueError`` when ``params`` are not allowed for method ``name``.

    The message names the method, the parameter, the bad value and what is allowed;
    checked are the class's ``_parameter_constraints`` and ``_parameter_rules``, with
    the defaults filling in what ``params`` leaves out (so ``dann: {max_epochs: 2}``
    fails on the default ``warmup_epochs``).

    Example:
        >>> try:
        ...     check_method_params("source_only", {"lr": "fast"})
        ... except ValueError as error:
        ...     print(str(error).replace("; ", ";\\n"))
        method 'source_only' (SourceOnly): lr='fast' is not allowed;
        lr must be a float in the range (0.0, inf)
    """
    cls = method_class(name)
    try:
        validate_params(
            f"method {name!r} ({cls.__name__})",
            cls._parameter_constraints,
            cls._parameter_rules,
            _params_with_defaults(name, params),
        )
    except ValueError as error:
        raise ValueError(str(error)) from None


def method_names() -> list[str]:
    """Names of the methods whose modules are installed."""
    return [
        name
        for name, target in REGISTRY.items()
        if importlib.util.find_spec(target.split(":")[0]) is not None
    ]


def method_class(name: str) -> type[BaseEstimator]:
    """The estimator class registered under ``name``."""
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown method {name!r}{hint} Known: {sorted(REGISTRY)}")
    module, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def get_method(name: str, **params: object) -> BaseEstimator:
    """A new estimator for method ``name`` with hyper-parameters ``params``.

    Unknown hyper-parameters raise ``ValueError`` naming the nearest valid one.
    """
    cls = method_class(name)
    valid = cls().get_params()
    params = {**NAME_DEFAULTS.get(name, {}), **params}
    for key in params:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"method {name!r} has no parameter {key!r}{hint}")
    return cls(**params)
