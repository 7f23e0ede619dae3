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
from dataclasses import dataclass

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


@dataclass(frozen=True)
class MethodNeeds:
    """What a method reads besides labelled source data.

    Attributes:
        unlabelled_target: fit cannot run without unlabelled target rows.
        labelled_target: fit cannot run without a few labelled target examples.
        all_target_labels: reads the labels of every target training row (an upper
            bound, not adaptation).
    """

    unlabelled_target: bool = False
    labelled_target: bool = False
    all_target_labels: bool = False


#: registry names that read every target training label (upper bounds)
ALL_TARGET_LABELS = ("train_on_target",)


#: registry names that cannot train without labelled target examples
NEEDS_TARGET_LABELS = (
    "label_target",
    "source_target",
    "fine_tune",
    "max_entropy",
    "cada",
    "fada",
    "enriched_aae",
)


def method_needs(name: str, params: dict | None = None) -> MethodNeeds:
    """What method ``name`` (with hyper-parameters ``params``) needs from a protocol.

    Example:
        >>> method_needs("cada").labelled_target, method_needs("dann").unlabelled_target
        (True, True)
    """
    cls = method_class(name)
    if name in ALL_TARGET_LABELS:
        return MethodNeeds(all_target_labels=True)
    return MethodNeeds(
        unlabelled_target=getattr(cls, "requires_target", False),
        labelled_target=name in NEEDS_TARGET_LABELS,
    )


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
