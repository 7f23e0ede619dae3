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
from sklearn.base import ClassifierMixin
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from emoshift.methods.anova_count import INNER_CV, fitted_count, inner_cv_count, kept_count
from emoshift.methods.estimator import DomainEstimator, FitArguments, hyper_parameters
from emoshift.methods.inputs import check_features, check_labels, check_width
from emoshift.methods.needs import MethodNeeds, NeedsBy
from emoshift.methods.params import AT_LEAST_ONE, POSITIVE, StrOptions
from emoshift.metrics import uar

POOLS = ("target", "source", "both")
#: the SVC kernels that work on a feature matrix
KERNELS = ("linear", "poly", "rbf", "sigmoid")


@hyper_parameters
class SVMClassifier(ClassifierMixin, DomainEstimator):
    """Standardise, keep the ``n_selected`` best features by ANOVA F, classify with an SVM.

    Args:
        n_selected: features kept by ANOVA-F selection, ``"all"``, or ``"inner_cv"``
            (the count chosen by cross-validation on the training rows, kept as
            ``n_selected_`` and, as chosen, in ``fitted_params_``;
            :mod:`emoshift.methods.anova_count`).
        C: SVM regularisation.
        kernel: SVM kernel.
        class_weight: ``"balanced"`` weighs classes inversely to their frequency.
        pool: which labelled rows to learn from: ``"target"`` (the labelled target
            examples, e.g. the in-context training fold), ``"source"`` or ``"both"``.
        task: only ``"classification"``.
        random_state: seed of the SVM.
    """

    needs = NeedsBy(
        "pool",
        {
            "target": MethodNeeds(labelled_target=True),
            "source": MethodNeeds(),
            "both": MethodNeeds(labelled_target=True),
        },
    )
    _parameter_constraints = {
        "n_selected": [AT_LEAST_ONE, StrOptions({"all", INNER_CV})],
        "C": [POSITIVE],
        "kernel": [StrOptions(set(KERNELS))],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "pool": [StrOptions(set(POOLS))],
        "task": [StrOptions({"classification"})],
        "random_state": ["random_state"],
    }
    _fitted_attribute = "pipeline_"
    #: a saved model keeps the fitted pipeline (scaler, selector and SVM as arrays)
    _saved_attributes = ("pipeline_", "classes_", "n_features_in_", "n_selected_")

    n_selected: int | str = "all"
    C: float = 1.0
    kernel: str = "rbf"
    class_weight: str | None = "balanced"
    pool: str = "target"
    task: str = "classification"
    random_state: int | None = None

    def _fit_given(self, given: FitArguments) -> SVMClassifier:
        """Fit on the labelled rows of ``pool`` (``X_target``/``eval_set`` are not used)."""
        parts = []
        X, y = given.X, given.y
        X_target_labelled, y_target_labelled = given.X_target_labelled, given.y_target_labelled
        if self.pool in ("source", "both"):
            features = check_features(X, "X")
            parts.append((features, check_labels(y, "y", len(features))))
        if self.pool in ("target", "both"):
            if X_target_labelled is None or y_target_labelled is None:
                raise ValueError(
                    f"{type(self).__name__}(pool={self.pool!r}) learns from labelled target "
                    "rows: pass X_target_labelled and y_target_labelled"
                )
            features = check_features(X_target_labelled, "X_target_labelled")
            labels = check_labels(y_target_labelled, "y_target_labelled", len(features))
            parts.append((features, labels))
        if len({p[0].shape[1] for p in parts}) > 1:
            raise ValueError("X and X_target_labelled differ in width: pass the same features")
        features = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        if len(np.unique(labels)) < 2:
            raise ValueError("classification needs at least two classes in the labels")
        n_selected = self.n_selected
        if n_selected == INNER_CV:
            n_selected = inner_cv_count(features, labels, self._pipeline, seed=self.random_state)
        self.pipeline_: Pipeline = self._pipeline(kept_count(n_selected, features.shape[1]))
        self.pipeline_.fit(features, labels)
        self.n_selected_ = self.pipeline_[1].get_support().sum().item()
        self.fitted_params_ = fitted_count(self.n_selected, n_selected)
        self.classes_ = self.pipeline_.classes_
        self.n_features_in_ = features.shape[1]
        return self

    def _pipeline(self, k: int | str) -> Pipeline:
        """Scaling, ANOVA-F selection of ``k`` features and the SVM, unfitted."""
        return make_pipeline(
            StandardScaler(),
            SelectKBest(f_classif, k=k),
            SVC(
                C=self.C,
                kernel=self.kernel,
                class_weight=self.class_weight,
                random_state=self.random_state,
            ),
        )

    def predict(self, X: object) -> np.ndarray:
        """Class labels."""
        self._check_fitted()
        features = check_features(X, "X")
        check_width(features, self.n_features_in_, "X")
        return self.pipeline_.predict(features)

    def score(self, X: object, y: object) -> float:
        """Unweighted average recall (:func:`emoshift.metrics.uar`)."""
        return uar(y, self.predict(X))
