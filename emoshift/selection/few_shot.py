"""Few-shot selection: choose hyper-parameters by cross-validation on the k labelled target
examples, which a few-shot protocol allows (the target test rows are never read).

:class:`FewShotCVSelector` fits one model per grid point and fold: the fold's training
part of the labelled target examples goes to ``fit`` (with all the labelled source data
and whatever else the caller passes, e.g. unlabelled target rows), and the held-out part
is predicted. The out-of-fold predictions of every labelled example are pooled and scored
by UAR; the best grid point (ties: the first) is refitted on all labelled examples.
With a ``source_weight`` in the grid the selector can decide that the source corpus
hurts: the grid point ``source_weight=0`` is ``label_target`` itself (the same network
and training settings, trained on the target examples alone), whatever the method, so
the selection's fall-back is exactly the baseline it must not lose to.

``rule="one_se"`` keeps that fall-back unless the best point beats it by more than one
standard error of their paired per-fold difference (the one-standard-error rule of
Hastie, Tibshirani & Friedman, *The Elements of Statistical Learning*, 2nd ed., §7.10,
with the fall-back as the simplest model). With folds of 6-7 examples the pooled score
alone often prefers the source where the test does not (BENCHMARKS.md, "Few-shot at
k = 10"); the rule asks the cross-validation for a difference larger than its own noise:

    d_f = UAR_f(best) - UAR_f(fall-back)       for each held-out fold f of every draw
    keep best  <=>  score(best) - score(fall-back) > sd(d) / sqrt(K)

with ``score`` the pooled UAR above and ``K`` the folds of one draw (repeated draws reuse
the same examples, so they do not shrink the error).

Folds (:func:`few_shot_folds`): ``cv="loo"`` leaves one example out (one speaker, when
speakers are known); an integer asks for that many stratified folds, grouped by speaker
when speakers are known (no speaker on both sides), lowered to what the smallest class
(and the number of speakers) allows.

Example:
    >>> import numpy as np
    >>> from emoshift.methods import get_method
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(80, 4)); ys = np.where(Xs[:, 0] > 0, "anger", "sadness")
    >>> Xt = rng.normal(size=(8, 4)) + 1; yt = np.array(["anger", "sadness"] * 4)
    >>> selector = FewShotCVSelector(
    ...     get_method("source_target", hidden_sizes=(8,), max_epochs=3, random_state=0),
    ...     {"source_weight": [1.0, 0.0]}, cv=2)
    >>> selector = selector.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt)
    >>> [s["params"] for s in selector.scores_]
    [{'source_weight': 1.0}, {'source_weight': 0.0}]
    >>> selector.predict(Xt[:2]).shape
    (2,)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import (
    LeaveOneGroupOut,
    LeaveOneOut,
    ParameterGrid,
    StratifiedGroupKFold,
    StratifiedKFold,
)

from emoshift.metrics import uar
from emoshift.selection.grid import GridSelector, ParamGrid, baseline_like

Folds = list[tuple[np.ndarray, np.ndarray]]
#: how :class:`FewShotCVSelector` turns scores into a choice
RULES = ("best", "one_se")


def _covers(y: np.ndarray, folds: Folds) -> bool:
    """Whether every fold's training part holds every class."""
    classes = set(np.unique(y).tolist())
    return all(set(np.unique(y[train]).tolist()) == classes for train, _ in folds)


def few_shot_folds(
    y: object, groups: object | None = None, cv: int | str = 5, random_state: int = 0
) -> tuple[Folds, str]:
    """``(train, held-out)`` positions over the labelled examples, and the scheme in words.

    ``groups`` (speakers) keep each speaker on one side when there are at least two of
    them; when grouping would leave a class out of a training part, the folds fall back
    to ungrouped stratified ones (the description says so).

    Example:
        >>> y = np.array(["a", "b"] * 3)
        >>> folds, how = few_shot_folds(y, ["s1", "s1", "s2", "s2", "s3", "s3"], cv=5)
        >>> how, len(folds)
        ('3-fold stratified, grouped by speaker', 3)
        >>> few_shot_folds(y, cv="loo")[1]
        'leave-one-out'
    """
    y = np.asarray(y)
    groups = None if groups is None else np.asarray(groups).astype(str)
    grouped = groups is not None and len(np.unique(groups)) >= 2
    index = np.zeros((len(y), 1))
    if cv == "loo":
        splitter = LeaveOneGroupOut() if grouped else LeaveOneOut()
        folds = list(splitter.split(index, y, groups if grouped else None))
        return folds, "leave-one-speaker-out" if grouped else "leave-one-out"
    if not isinstance(cv, int) or isinstance(cv, bool) or cv < 2:
        raise ValueError(f"cv={cv!r}; give a number of folds (2 or more) or 'loo'")
    smallest = int(np.unique(y, return_counts=True)[1].min())
    n_splits = min(cv, smallest, len(np.unique(groups)) if grouped else cv)
    if n_splits < 2:
        raise ValueError(
            f"cross-validation on the labelled target examples needs 2 or more of each "
            f"class (the smallest class has {smallest}); raise k"
        )
    if grouped:
        splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state)
        folds = list(splitter.split(index, y, groups))
        if _covers(y, folds):
            return folds, f"{n_splits}-fold stratified, grouped by speaker"
    splitter = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    folds = list(splitter.split(index, y))
    note = " (grouping by speaker left a class out of a training fold)" if grouped else ""
    return folds, f"{n_splits}-fold stratified{note}"


class FewShotCVSelector(GridSelector):
    """Grid search by cross-validation on the few labelled target examples.

    Args:
        estimator: an unfitted emoshift estimator (the shared ``fit`` signature).
        param_grid: ``{parameter: [values]}`` (or a list of such dicts); put the method's
            default first, ties go to the first point.
        cv: number of folds, or ``"loo"`` (see :func:`few_shot_folds`).
        repeats: with a number of folds, repeat the cross-validation with this many fold
            draws (seeds ``random_state``, ``random_state + 1``, ...) and score each grid
            point by the mean of their pooled UARs: on 20-40 examples one draw of 3 folds
            is noisy. ``"loo"`` has one draw only.
        rule: ``"best"`` takes the highest score; ``"one_se"`` keeps the
            ``source_weight=0`` point (which the grid must hold) unless the best beats it
            by more than one standard error (see the module docstring).
        keep_models: fit every grid point on all labelled examples and keep them in
            ``models_`` (for a target-test oracle column; costs one fit per point).
        random_state: seed of the folds (and of estimators whose seed is ``None``).

    Attributes:
        best_params_, best_score_, best_index_: the chosen grid point, its pooled
            out-of-fold UAR and position.
        scores_: ``[{"params": dict, "score": float, "fold_scores": [float, ...]}, ...]``,
            one per grid point (``fold_scores``: each held-out fold's UAR, draw by draw).
        rule_: with ``"one_se"``, ``{"gain": best minus fall-back score, "se": the standard
            error, "kept": whether the best point was kept}``; else ``None``.
        cv_: the fold scheme in words.
        best_estimator_: the chosen point refitted on all labelled examples.
        models_: every point fitted on all labelled examples (``keep_models``).
    """

    def __init__(
        self,
        estimator: BaseEstimator,
        param_grid: ParamGrid,
        *,
        cv: int | str = 5,
        repeats: int = 1,
        rule: str = "best",
        keep_models: bool = False,
        random_state: int = 0,
    ) -> None:
        super().__init__(estimator, param_grid, keep_models=keep_models, random_state=random_state)
        self.cv = cv
        self.repeats = repeats
        self.rule = rule

    def _candidate(self, params: Mapping[str, object]) -> BaseEstimator:
        """The grid point's model; at ``source_weight=0``, ``label_target`` itself."""
        if params.get("source_weight", 1.0) != 0:
            return super()._candidate(params)
        model = baseline_like("label_target", self.estimator)
        if model.get_params()["random_state"] is None:
            model.set_params(random_state=self.random_state)
        return model

    def _cv_score(
        self,
        params: Mapping[str, object],
        folds: Folds,
        X: object,
        y: object,
        X_labelled: np.ndarray,
        y_labelled: np.ndarray,
        fit_params: Mapping[str, object],
    ) -> tuple[float, list[float]]:
        """UAR of the pooled out-of-fold predictions of the labelled examples, and each
        held-out fold's own UAR."""
        predicted = np.empty(len(y_labelled), dtype=y_labelled.dtype)
        for train, held in folds:
            model = self._candidate(params).fit(
                X,
                y,
                X_target_labelled=X_labelled[train],
                y_target_labelled=y_labelled[train],
                **fit_params,
            )
            predicted[held] = model.predict(X_labelled[held])
        per_fold = [uar(y_labelled[held], predicted[held]) for _, held in folds]
        return uar(y_labelled, predicted), per_fold

    def fit(
        self,
        X: object,
        y: object,
        *,
        X_target_labelled: object,
        y_target_labelled: object,
        groups: object | None = None,
        **fit_params: object,
    ) -> FewShotCVSelector:
        """Score every grid point by cross-validation, then refit the best on all examples.

        Args:
            X, y: labelled source data (passed whole to every fit).
            X_target_labelled, y_target_labelled: the k labelled target examples per class.
            groups: their speakers (folds never split a speaker), or ``None``.
            **fit_params: passed to every ``fit`` (``X_target``, ``eval_set``).
        """
        X_labelled, y_labelled = np.asarray(X_target_labelled), np.asarray(y_target_labelled)
        if self.repeats < 1 or (self.repeats > 1 and self.cv == "loo"):
            raise ValueError(f"repeats={self.repeats}: give 1 or more, and 1 with cv='loo'")
        grid = list(ParameterGrid(self._grids()))
        fallbacks = self._fallback_indices(grid)
        draws = [
            few_shot_folds(y_labelled, groups, self.cv, self.random_state + r)
            for r in range(self.repeats)
        ]
        self.cv_ = draws[0][1] + (f", {self.repeats} draws" if self.repeats > 1 else "")
        self.scores_: list[dict[str, object]] = []
        for params in grid:
            pooled, per_fold = zip(
                *(
                    self._cv_score(params, folds, X, y, X_labelled, y_labelled, fit_params)
                    for folds, _ in draws
                ),
                strict=True,
            )
            self.scores_.append(
                {
                    "params": params,
                    "score": float(np.mean(pooled)),
                    "fold_scores": [float(v) for folds in per_fold for v in folds],
                }
            )
        scores = [s["score"] for s in self.scores_]
        self.best_index_ = int(np.argmax(scores))
        self.rule_ = None
        if fallbacks is not None:  # the best-scoring weight-0 point (ties: the first)
            fallback = max(fallbacks, key=lambda i: (scores[i], -i))
            self.rule_ = self._one_se(self.best_index_, fallback, len(draws[0][0]))
            if not self.rule_["kept"]:
                self.best_index_ = fallback
        self.best_score_ = self.scores_[self.best_index_]["score"]
        self.best_params_ = grid[self.best_index_]

        def full(params: Mapping[str, object]) -> BaseEstimator:
            return self._candidate(params).fit(
                X, y, X_target_labelled=X_labelled, y_target_labelled=y_labelled, **fit_params
            )

        self.models_ = [full(p) for p in grid] if self.keep_models else []
        self.best_estimator_ = (
            self.models_[self.best_index_] if self.keep_models else full(self.best_params_)
        )
        self.classes_ = getattr(self.best_estimator_, "classes_", None)
        return self

    def _fallback_indices(self, grid: list[dict[str, object]]) -> list[int] | None:
        """The ``source_weight=0`` points that ``rule="one_se"`` falls back to (``None``
        under ``"best"``); a ``ValueError`` for an unknown rule or a grid without one."""
        if self.rule not in RULES:
            raise ValueError(f"rule={self.rule!r}; choose one of {list(RULES)}")
        if self.rule == "best":
            return None
        zero = [i for i, params in enumerate(grid) if params.get("source_weight") == 0]
        if not zero:
            raise ValueError(
                "rule='one_se' falls back to the grid point source_weight=0 (label_target); "
                "add 0.0 to the grid's source_weight values"
            )
        return zero

    def _one_se(self, best: int, fallback: int, k: int) -> dict[str, object]:
        """Whether ``best`` beats ``fallback`` by more than one standard error of their
        paired per-fold UAR difference (``k`` folds per draw)."""
        differences = np.subtract(
            self.scores_[best]["fold_scores"], self.scores_[fallback]["fold_scores"]
        )
        se = float(np.std(differences, ddof=1) / np.sqrt(k)) if len(differences) > 1 else 0.0
        gain = float(self.scores_[best]["score"] - self.scores_[fallback]["score"])
        return {"gain": gain, "se": se, "kept": best != fallback and gain > se}
