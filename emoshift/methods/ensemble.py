"""Seed ensembles of a neural method: ``n`` models trained alike but for their seeds.

With ``ensemble=n`` (n > 1) a :class:`~emoshift.methods.base.NeuralEstimator` fits ``n``
clones of itself with seeds ``random_state + i`` (``i = 0 .. n-1``; unseeded when
``random_state`` is ``None``) on the same data, keeps them in ``members_``, and
predicts with their average: the mean of the members' class probabilities
(``predict_proba``; ``predict`` is its arg-max) or of their regression outputs. Every
other fitted attribute (``modules_``, ``history_``, ``classes_`` ...) is the first
member's, so ``transform`` returns the first member's representation and ``history_``
its training record (each member's is in ``members_[i].history_``).

Example:
    >>> import numpy as np
    >>> from emoshift.methods.baselines import SourceOnly
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 5)); y = np.where(X[:, 0] > 0, "anger", "neutral")
    >>> model = SourceOnly(hidden_sizes=(8,), max_epochs=3, ensemble=3, random_state=0)
    >>> model = model.fit(X, y)
    >>> [member.random_state for member in model.members_]
    [0, 1, 2]
    >>> average = np.mean([m.predict_proba(X) for m in model.members_], axis=0)
    >>> bool(np.allclose(model.predict_proba(X), average))
    True
"""

from __future__ import annotations

from typing import Protocol, TypeVar

import numpy as np
from sklearn.base import clone

from emoshift.methods.estimator import FitArguments


class SeedEnsembled(Protocol):
    """What this module reads of a :class:`~emoshift.methods.base.NeuralEstimator`
    (named by its shape, so that this module does not import the one that imports it)."""

    ensemble: int
    random_state: int | None
    task: str
    classes_: np.ndarray
    members_: list[SeedEnsembled]

    def _fit_given(self, given: FitArguments) -> SeedEnsembled: ...

    def get_params(self, deep: bool = True) -> dict: ...

    def predict(self, X: object) -> np.ndarray: ...

    def predict_proba(self, X: object) -> np.ndarray: ...


Ensembled = TypeVar("Ensembled", bound=SeedEnsembled)


def fit_seed_ensemble(estimator: Ensembled, given: FitArguments) -> Ensembled:
    """Fit ``estimator.ensemble`` members on ``given`` and make ``estimator`` their
    ensemble (the first member's fitted attributes, plus ``members_``)."""
    seed = estimator.random_state
    members = [
        clone(estimator)
        .set_params(ensemble=1, random_state=None if seed is None else seed + i)
        ._fit_given(given)
        for i in range(estimator.ensemble)
    ]
    params = estimator.get_params(deep=False)
    for key, value in vars(members[0]).items():
        if key not in params:
            setattr(estimator, key, value)
    estimator.members_ = members
    return estimator


def ensemble_proba(estimator: SeedEnsembled, X: object) -> np.ndarray:
    """The mean of the members' class probabilities."""
    return np.mean([member.predict_proba(X) for member in estimator.members_], axis=0)


def ensemble_predict(estimator: SeedEnsembled, X: object) -> np.ndarray:
    """The class of highest mean probability, or the mean regression output."""
    if estimator.task == "classification":
        return estimator.classes_[ensemble_proba(estimator, X).argmax(1)]
    return np.mean([member.predict(X) for member in estimator.members_], axis=0)
