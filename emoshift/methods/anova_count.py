"""How many features ANOVA-F selection keeps, as a number, ``"all"`` or chosen by an inner
cross-validation on the training rows (``"inner_cv"``).

The enriched-AAE paper tunes the number of kept code dimensions per cell (its Table 1
reports the count, ``Ds``, next to each accuracy) without saying on what. ``"inner_cv"``
is emoshift's way to tune it without the test fold: every count from 1 to the width is
scored by the mean UAR of the same pipeline over stratified folds of the training rows,
and the best count (the smallest on ties) is kept. The estimators record the count
they chose in ``fitted_params_`` (:func:`fitted_count`), which each trial's result keeps.

Example:
    >>> import numpy as np
    >>> from sklearn.feature_selection import SelectKBest, f_classif
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import SVC
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 5)); y = np.where(X[:, 0] + X[:, 1] > 0, "a", "b")
    >>> make = lambda k: make_pipeline(SelectKBest(f_classif, k=k), SVC(kernel="linear"))
    >>> inner_cv_count(X, y, make, seed=0)
    2
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn import config_context
from sklearn.feature_selection import SelectKBest
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_class_weight

from emoshift.metrics import uar

#: the ``n_selected`` value that picks the count by inner cross-validation
INNER_CV = "inner_cv"
#: folds of the inner cross-validation (fewer when a class has fewer training rows)
INNER_FOLDS = 5


def fitted_count(n_selected: int | str, chosen: int | str) -> dict[str, int]:
    """What ``fitted_params_`` records of the count: ``{"n_selected": chosen}`` when
    ``n_selected`` was ``"inner_cv"`` (a choice made inside ``fit``), else nothing."""
    return {"n_selected": int(chosen)} if n_selected == INNER_CV else {}


def kept_count(n_selected: int | str, width: int) -> int | str:
    """``n_selected`` as ``SelectKBest`` reads it: ``"all"``, or a count capped at ``width``."""
    if n_selected == "all" or int(n_selected) >= width:
        return "all"
    return int(n_selected)


def inner_cv_count(
    X: np.ndarray, y: np.ndarray, make: Callable[[int], Pipeline], *, seed: int | None
) -> int:
    """The count ``1 .. X.shape[1]`` whose pipeline ``make(count)`` has the best mean UAR
    over stratified folds of ``(X, y)`` (the training rows only); the smallest on ties.
    ``make(count)`` must hold a ``SelectKBest`` step; the steps up to it are fitted once
    per fold (:func:`_uar_per_count`).

    ``ValueError`` when a class has fewer than 2 rows (no fold could hold it out).
    """
    _, per_class = np.unique(y, return_counts=True)
    n_splits = min(INNER_FOLDS, int(per_class.min()))
    if n_splits < 2:
        raise ValueError(
            f"n_selected='{INNER_CV}' needs 2 training rows of every class to cross-validate "
            f"the count; the smallest class has {per_class.min()}. Set a number instead"
        )
    folds = list(StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(X, y))
    # no input checks in the width x folds fits: the final fit after this checks the rows
    with config_context(assume_finite=True, skip_parameter_validation=True):
        scores = np.mean([_uar_per_count(X, y, make, train, test) for train, test in folds], 0)
    return int(np.argmax(scores)) + 1


def _uar_per_count(
    X: np.ndarray,
    y: np.ndarray,
    make: Callable[[int], Pipeline],
    train: np.ndarray,
    test: np.ndarray,
) -> np.ndarray:
    """UAR on the ``test`` rows of ``make(count)`` fitted on the ``train`` rows, for every
    count ``1 .. X.shape[1]``.

    The steps up to and including the ``SelectKBest`` do not depend on the count, so they
    are fitted once, and so are a balanced SVM's class weights, which depend on the labels
    alone; each count only refits the steps after the selection, on the columns the fitted
    selection keeps: the same numbers as fitting ``make(count)`` whole, without refitting
    the same scaling, F-scores and weights ``X.shape[1]`` times. (A scaler after the
    selection is refitted per count: fitted once on every column and sliced, it differs in
    the last bit where numpy sums one kept column pairwise and several row by row.)
    """
    pipeline = make(X.shape[1])
    at = next(i for i, (_, step) in enumerate(pipeline.steps) if isinstance(step, SelectKBest))
    pipeline[: at + 1].fit(X[train], y[train])
    train_x, test_x = X[train], X[test]
    if at:
        train_x, test_x = pipeline[:at].transform(train_x), pipeline[:at].transform(test_x)
    select = pipeline[at]
    *transforms, last = (step for _, step in pipeline.steps[at + 1 :])  # fit() starts afresh
    last = _with_fixed_class_weight(last, y[train])
    scores = []
    for count in range(1, X.shape[1] + 1):
        select.k = count
        kept = select.get_support()
        fit_x, score_x = train_x[:, kept], test_x[:, kept]
        for step in transforms:
            fit_x, score_x = step.fit_transform(fit_x, y[train]), step.transform(score_x)
        scores.append(uar(y[test], last.fit(fit_x, y[train]).predict(score_x)))
    return np.array(scores)


def _with_fixed_class_weight(estimator: object, y: np.ndarray) -> object:
    """``estimator`` with ``class_weight="balanced"`` replaced by the weights it would
    compute from ``y`` (the same numbers, computed once instead of at every fit)."""
    if not isinstance(estimator, SVC) or estimator.class_weight != "balanced":
        return estimator
    classes = np.unique(y)
    weights = compute_class_weight("balanced", classes=classes, y=y)
    return estimator.set_params(class_weight=dict(zip(classes, weights, strict=True)))
