"""Classical baselines: an SVM on the features, optionally after ANOVA-F selection.

The out-of-context enrichment protocol compares its learned code against these: an SVM
on all features and an SVM on the ``n_selected`` best features by ANOVA F-value, each
fitted on the labelled training rows only (standardised with their own statistics).
They take the shared ``fit`` signature; ``pool`` says which labelled rows they learn from.
The registry names them ``svm`` and ``anova_svm`` (``n_selected=20`` by default).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 6)); y = np.where(X[:, 0] > 0, "anger", "neutral")
    >>> model = SVMClassifier(n_selected=2, pool="source").fit(X, y)
    >>> model.score(X, y) > 0.9
    True
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from emoshift.methods.base import _check_features

POOLS = ("target", "source", "both")


class SVMClassifier(ClassifierMixin, BaseEstimator):
    """Standardise, keep the ``n_selected`` best features by ANOVA F, classify with an SVM.

    Args:
        n_selected: features kept by ANOVA-F selection, or ``"all"``.
        C: SVM regularisation.
        kernel: SVM kernel.
        class_weight: ``"balanced"`` weighs classes inversely to their frequency.
        pool: which labelled rows to learn from: ``"target"`` (the labelled target
            examples, e.g. the in-context training fold), ``"source"`` or ``"both"``.
        task: only ``"classification"``.
        random_state: seed of the SVM.
    """

    def __init__(
        self,
        *,
        n_selected: int | str = "all",
        C: float = 1.0,
        kernel: str = "rbf",
        class_weight: str | None = "balanced",
        pool: str = "target",
        task: str = "classification",
        random_state: int | None = None,
    ) -> None:
        self.n_selected = n_selected
        self.C = C
        self.kernel = kernel
        self.class_weight = class_weight
        self.pool = pool
        self.task = task
        self.random_state = random_state

    def fit(
        self,
        X: object,
        y: object,
        *,
        X_target: object | None = None,
        X_target_labelled: object | None = None,
        y_target_labelled: object | None = None,
        eval_set: tuple[object, object] | None = None,
    ) -> SVMClassifier:
        """Fit on the labelled rows of ``pool`` (``X_target``/``eval_set`` are not used)."""
        if self.task != "classification":
            raise ValueError(f"{type(self).__name__} is a classifier; task must be classification")
        if self.pool not in POOLS:
            raise ValueError(f"pool={self.pool!r}; choose one of {POOLS}")
        parts = []
        if self.pool in ("source", "both"):
            parts.append((_check_features(X, "X"), np.asarray(y)))
        if self.pool in ("target", "both"):
            if X_target_labelled is None or y_target_labelled is None:
                raise ValueError(
                    f"{type(self).__name__}(pool={self.pool!r}) learns from labelled target "
                    "rows: pass X_target_labelled and y_target_labelled"
                )
            parts.append(
                (
                    _check_features(X_target_labelled, "X_target_labelled"),
                    np.asarray(y_target_labelled),
                )
            )
        features = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        k = (
            self.n_selected
            if self.n_selected == "all"
            else min(int(self.n_selected), features.shape[1])
        )
        self.pipeline_: Pipeline = make_pipeline(
            StandardScaler(),
            SelectKBest(f_classif, k=k),
            SVC(
                C=self.C,
                kernel=self.kernel,
                class_weight=self.class_weight,
                random_state=self.random_state,
            ),
        ).fit(features, labels)
        self.classes_ = self.pipeline_.classes_
        self.n_features_in_ = features.shape[1]
        return self

    def predict(self, X: object) -> np.ndarray:
        """Class labels."""
        return self.pipeline_.predict(_check_features(X, "X"))

    def score(self, X: object, y: object) -> float:
        """Unweighted average recall."""
        return float(balanced_accuracy_score(np.asarray(y), self.predict(X)))
