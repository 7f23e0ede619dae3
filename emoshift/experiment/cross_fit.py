"""A cross-validated trial's models as one predictor of the rows they were cut from.

Under ``whole_target`` with ``label_folds``, a method that reads every target label (the
within-corpus upper bound) is fitted once per fold, on the other folds' target rows, and
each fold's model predicts that fold's rows. :class:`CrossFitted` holds those models and
the fold of each row, and predicts the rows in their original order, so the trial is
scored on the whole target like every other method of the run.

Example:
    >>> import numpy as np
    >>> class Constant:
    ...     classes_ = np.array(["a", "b"])
    ...     history_ = [{"epoch": 1}]
    ...     def __init__(self, value): self.value = value
    ...     def predict(self, X): return np.full(len(X), self.value)
    >>> model = CrossFitted([Constant("a"), Constant("b")], np.array([0, 1, 1, 0]))
    >>> model.predict(np.zeros((4, 2))).tolist()
    ['a', 'b', 'b', 'a']
    >>> model.history_
    [{'epoch': 1, 'fold': 0}, {'epoch': 1, 'fold': 1}]
"""

from __future__ import annotations

import numpy as np


class CrossFitted:
    """Fold ``f``'s model predicts the rows whose fold is ``f`` (``folds``, one per row).

    It predicts only the rows it was cut from (``len(X) == len(folds)``, in that order):
    each row's prediction comes from the model that did not train on it.
    """

    def __init__(self, models: list[object], folds: np.ndarray) -> None:
        self.models = models
        self.folds = np.asarray(folds, dtype=int)
        self.history_ = [
            {**epoch, "fold": fold}
            for fold, model in enumerate(models)
            for epoch in getattr(model, "history_", [])
        ]
        classes = getattr(models[0], "classes_", None)
        if classes is not None:
            self.classes_ = np.unique(np.concatenate([m.classes_ for m in models]))

    def _check(self, X: object) -> None:
        if len(X) != len(self.folds):
            raise ValueError(
                f"a cross-validated model predicts only the {len(self.folds)} rows it was "
                f"cut from, not {len(X)}"
            )

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Each row predicted by the model of its fold."""
        self._check(X)
        parts = [
            (self.folds == fold, model.predict(X[self.folds == fold]))
            for fold, model in enumerate(self.models)
        ]
        shape = (len(self.folds), *parts[0][1].shape[1:])
        predicted = np.empty(shape, dtype=np.result_type(*(p for _, p in parts)))
        for rows, values in parts:
            predicted[rows] = values
        return predicted

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Each row's class probabilities from its fold's model (columns: ``classes_``;
        a class a fold's model never saw gets 0)."""
        self._check(X)
        proba = np.zeros((len(self.folds), len(self.classes_)))
        for fold, model in enumerate(self.models):
            rows = self.folds == fold
            columns = np.searchsorted(self.classes_, model.classes_)
            proba[np.ix_(rows, columns)] = model.predict_proba(X[rows])
        return proba
