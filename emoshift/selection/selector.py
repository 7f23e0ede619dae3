"""Choose a method's hyper-parameters inside one trial without target labels.

:class:`UnsupervisedGridSelector` fits one model per grid point on labelled source
training rows and unlabelled target rows, scores each with a named unsupervised scorer
(:data:`~emoshift.selection.scorers.SCORERS`) on a held-out source development split and
the unlabelled target rows, and keeps the best. Nothing it does reads a target label.

Example:
    >>> import numpy as np
    >>> from emoshift.methods import get_method
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 4)); y = np.where(X[:, 0] > 0, "anger", "neutral")
    >>> X_target = rng.normal(size=(80, 4)) + [0.5, 0, 0, 0]
    >>> selector = UnsupervisedGridSelector(
    ...     get_method("dann", hidden_sizes=(8,), head_hidden_sizes=(), max_epochs=4,
    ...                warmup_epochs=1),
    ...     {"lambda_max": [0.1, 1.0]}, scorer="entropy", random_state=0)
    >>> selector = selector.fit(X, y, X_target=X_target)
    >>> [s["params"] for s in selector.scores_]
    [{'lambda_max': 0.1}, {'lambda_max': 1.0}]
    >>> selector.best_params_ in [s["params"] for s in selector.scores_]
    True
    >>> selector.predict(X_target[:3]).shape
    (3,)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import ParameterGrid

from emoshift.selection.grid import GridSelector, ParamGrid, dev_split
from emoshift.selection.scorers import Scorer, SelectionData, get_scorer


class UnsupervisedGridSelector(GridSelector):
    """Grid search scored by an unsupervised scorer, for one trial.

    ``fit`` holds out ``dev_fraction`` of the labelled source rows as the development
    split (stratified by class, seeded by ``random_state``) unless ``eval_set`` gives
    one, then for every point of ``param_grid`` (in :class:`~sklearn.model_selection.ParameterGrid`
    order) fits ``clone(estimator)`` with those parameters on the remaining source rows,
    ``X_target`` and ``eval_set=(X_dev, y_dev)``, and scores it with ``scorer`` on
    :class:`~emoshift.selection.scorers.SelectionData` (the development rows, the
    unlabelled target rows, the training rows). The highest score wins; ties go to the
    earlier grid point, and a NaN score never wins.

    Epochs: ``epochs=(20, 40, 60)`` adds ``max_epochs`` to the grid. Each value is a
    separate training run with its own schedule (e.g. DANN's lambda ramps over
    ``max_epochs``), not a checkpoint of one longer run, so it costs one fit per value.

    The estimator's ``random_state``, when ``None``, is set to the selector's, so one
    seed decides the split, the weights and every fit.

    Args:
        estimator: an unfitted emoshift estimator (any with the emoshift ``fit``
            signature and ``get_params``/``set_params``).
        param_grid: ``{parameter: [values]}`` or a list of such dicts; ``{}`` scores the
            estimator as it is.
        scorer: a name in :data:`~emoshift.selection.scorers.SCORERS` or a function
            ``scorer(estimator, data) -> float`` (higher is better).
        epochs: ``max_epochs`` values to choose among, or ``None``.
        dev_fraction: share of the source rows held out when no ``eval_set`` is given.
        refit: after choosing, refit the best parameters on all source rows (training and
            development) instead of keeping the model that was scored.
        keep_models: keep every grid point's fitted model in ``models_`` (e.g. to report
            what the target-test oracle would have picked; memory grows with the grid).
        scorer_params: keyword options of the scorer (e.g. ``{"temperature": 0.1}``).
        random_state: seed of the development split (and of estimators without one).

    Attributes:
        best_params_: the chosen grid point.
        best_score_: its score.
        best_index_: its position in ``scores_``.
        scores_: ``[{"params": dict, "score": float}, ...]``, one per grid point.
        scorer_: the scorer's name.
        best_estimator_: the fitted model that ``predict`` and friends delegate to.
        models_: every grid point's fitted model, in ``scores_`` order (``keep_models``).
        classes_: the class labels of ``best_estimator_``.
    """

    def __init__(
        self,
        estimator: BaseEstimator,
        param_grid: ParamGrid,
        scorer: str | Scorer = "dev",
        *,
        epochs: Sequence[int] | None = None,
        dev_fraction: float = 0.2,
        refit: bool = False,
        keep_models: bool = False,
        scorer_params: Mapping[str, object] | None = None,
        random_state: int = 0,
    ) -> None:
        super().__init__(estimator, param_grid, keep_models=keep_models, random_state=random_state)
        self.scorer = scorer
        self.epochs = epochs
        self.dev_fraction = dev_fraction
        self.refit = refit
        self.scorer_params = scorer_params

    def _grid(self) -> list[dict[str, object]]:
        grids = self._grids()
        valid = self.estimator.get_params()
        if self.epochs is not None:
            if "max_epochs" not in valid:
                raise ValueError(
                    f"epochs sets max_epochs, which {type(self.estimator).__name__} lacks"
                )
            if any("max_epochs" in g for g in grids):
                raise ValueError("give max_epochs either in param_grid or as epochs, not both")
            grids = [{**g, "max_epochs": list(self.epochs)} for g in grids]
        for key in {k for g in grids for k in g}:
            if key not in valid:
                raise ValueError(
                    f"param_grid names {key!r}, which {type(self.estimator).__name__} has "
                    f"no parameter called; its parameters are {sorted(valid)}"
                )
        return list(ParameterGrid(grids))

    def _scorer(self) -> tuple[str, Scorer]:
        if callable(self.scorer):
            return getattr(self.scorer, "__name__", "custom"), self.scorer
        return self.scorer, get_scorer(self.scorer)

    def fit(
        self,
        X: object,
        y: object,
        *,
        X_target: object | None = None,
        eval_set: tuple[object, object] | None = None,
    ) -> UnsupervisedGridSelector:
        """Fit every grid point, score each, keep the best.

        Args:
            X: labelled source features.
            y: source labels.
            X_target: unlabelled target features (every scorer but ``source_dev`` reads
                them, and adaptation methods train on them).
            eval_set: ``(X_dev, y_dev)``, labelled *source* development rows; ``None``
                holds out ``dev_fraction`` of ``X``.
        """
        name, scorer = self._scorer()
        grid = self._grid()
        X, y = np.asarray(X), np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        X_train, y_train, X_dev, y_dev = dev_split(
            X, y, eval_set, self.dev_fraction, self.random_state
        )
        data = SelectionData(X_dev=X_dev, y_dev=y_dev, X_target=X_target, X_train=X_train)
        options = dict(self.scorer_params or {})
        self.scores_: list[dict[str, object]] = []
        self.models_: list[BaseEstimator] = []
        best, best_model = -math.inf, None
        for params in grid:
            model = self._candidate(params).fit(
                X_train, y_train, X_target=X_target, eval_set=(X_dev, y_dev)
            )
            value = float(scorer(model, data, **options))
            self.scores_.append({"params": params, "score": value})
            if self.keep_models:
                self.models_.append(model)
            if value > best:
                best, best_model, self.best_index_ = value, model, len(self.scores_) - 1
        if best_model is None:
            raise ValueError(f"scorer {name!r} gave no finite score on any grid point")
        self.scorer_ = name
        self.best_score_ = best
        self.best_params_ = grid[self.best_index_]
        if self.refit:
            X_all = np.concatenate([X_train, np.asarray(X_dev)])
            y_all = np.concatenate([y_train, np.asarray(y_dev)])
            best_model = self._candidate(self.best_params_).fit(X_all, y_all, X_target=X_target)
        self.best_estimator_ = best_model
        self.classes_ = getattr(best_model, "classes_", None)
        return self
