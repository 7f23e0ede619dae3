"""Domain-adaptation methods and baselines, one module each, found by name.

Every method is a scikit-learn compatible estimator with the same ``fit`` signature:
the neural ones build on :class:`~emoshift.methods.base.NeuralEstimator`; the enriched
AAE chain and the SVM baselines are estimators of their own that accept it too.

Example:
    >>> from emoshift.methods import get_method, method_names
    >>> "source_only" in method_names()
    True
    >>> get_method("source_only", hidden_sizes=(8,)).hidden_sizes
    (8,)
"""

from __future__ import annotations

import difflib
import importlib

from sklearn.base import BaseEstimator

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
