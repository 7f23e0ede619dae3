"""What the grid-search selectors share: their common parameters, the candidate models
they fit, and delegating to the chosen one.

Example:
    >>> from emoshift.methods import get_method
    >>> selector = GridSelector(get_method("source_only"), {"dropout": [0.0, 0.3]})
    >>> selector._grids(), selector._candidate({"dropout": 0.3}).get_params()["random_state"]
    ([{'dropout': [0.0, 0.3]}], 0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import train_test_split

from emoshift.methods import get_method

ParamGrid = Mapping[str, Sequence[object]] | Sequence[Mapping[str, Sequence[object]]]


def baseline_like(name: str, estimator: BaseEstimator) -> BaseEstimator:
    """An unfitted baseline ``name`` (e.g. ``source_only``, ``label_target``) with the
    network and training settings it shares with ``estimator`` (widths, epochs, rate,
    seed, ...), so that the two differ only in what they train on.

    Example:
        >>> dann = get_method("dann", hidden_sizes=(8,), lr=0.01, random_state=3)
        >>> params = baseline_like("label_target", dann).get_params()
        >>> params["hidden_sizes"], params["lr"], params["random_state"]
        ((8,), 0.01, 3)
    """
    own = estimator.get_params()
    shared = [k for k in get_method(name).get_params() if k in own]
    return get_method(name, **{k: own[k] for k in shared})


def dev_split(
    X: np.ndarray,
    y: np.ndarray,
    eval_set: tuple[object, object] | None,
    dev_fraction: float,
    random_state: int | None,
) -> tuple[np.ndarray, np.ndarray, object, object]:
    """Training rows and development rows: ``eval_set`` when given, else a stratified
    ``dev_fraction`` of the labelled source held out (``ValueError`` that says what to
    change when it cannot be held out)."""
    if eval_set is not None:
        X_dev, y_dev = eval_set
        return X, y, X_dev, y_dev
    if not 0 < dev_fraction < 1:
        raise ValueError(f"dev_fraction={dev_fraction} must be in (0, 1)")
    try:
        train, held = train_test_split(
            np.arange(len(y)), test_size=dev_fraction, random_state=random_state, stratify=y
        )
    except ValueError as error:
        raise ValueError(
            f"cannot hold out a stratified source development split of {dev_fraction}"
            f" ({error}); pass eval_set=(X_dev, y_dev) or change dev_fraction"
        ) from None
    return X[train], y[train], X[held], y[held]


class GridSelector(BaseEstimator):
    """A grid search over an estimator's parameters; subclasses score the points in ``fit``
    and set ``best_estimator_``.

    Args:
        estimator: an unfitted emoshift estimator (the shared ``fit`` signature).
        param_grid: ``{parameter: [values]}`` or a list of such dicts.
        keep_models: keep every grid point's fitted model in ``models_``.
        random_state: the selector's seed, also given to estimators whose seed is ``None``.
    """

    def __init__(
        self,
        estimator: BaseEstimator,
        param_grid: ParamGrid,
        *,
        keep_models: bool = False,
        random_state: int = 0,
    ) -> None:
        self.estimator = estimator
        self.param_grid = param_grid
        self.keep_models = keep_models
        self.random_state = random_state

    def _grids(self) -> list[dict[str, Sequence[object]]]:
        """``param_grid`` as a list of dicts (``[{}]`` for an empty one)."""
        grids = [self.param_grid] if isinstance(self.param_grid, Mapping) else self.param_grid
        return [dict(g) for g in grids] or [{}]

    def _candidate(self, params: Mapping[str, object]) -> BaseEstimator:
        """An unfitted copy of ``estimator`` with ``params``, seeded when it has no seed."""
        model = clone(self.estimator).set_params(**params)
        if model.get_params().get("random_state", 0) is None:
            model.set_params(random_state=self.random_state)
        return model

    def _fitted(self) -> BaseEstimator:
        if not hasattr(self, "best_estimator_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit first")
        return self.best_estimator_

    def predict(self, X: object) -> np.ndarray:
        """The chosen model's predictions."""
        return self._fitted().predict(X)

    def predict_proba(self, X: object) -> np.ndarray:
        """The chosen model's class probabilities."""
        return self._fitted().predict_proba(X)

    def transform(self, X: object, **options: object) -> np.ndarray:
        """The chosen model's learned representation (``options`` such as ``layer``)."""
        return self._fitted().transform(X, **options)

    def score(self, X: object, y: object) -> float:
        """The chosen model's own score (UAR for emoshift classifiers)."""
        return self._fitted().score(X, y)
