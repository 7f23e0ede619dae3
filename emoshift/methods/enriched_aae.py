"""Out-of-context enrichment: an enriched conditional AAE code, ANOVA-F selection and an SVM.

A small *in-context* corpus (the one the user cares about) borrows emotion knowledge from
a larger *out-of-context* corpus (another language or setting) through a learned
low-dimensional code; a classical classifier then decides. :meth:`EnrichedAAEClassifier.fit`
runs the whole chain on the training data it is given, and only on it:

0. per-domain scaling: a ``StandardScaler`` fitted on the in-context training rows
   (``scaler_``) and one on the out-of-context corpus (``out_scaler_``);
1. a plain adversarial autoencoder (``pretrain_aae_``,
   :class:`~emoshift.methods.aae.AdversarialAutoencoder`) learns codes E_i and E_o on the
   in-context training rows and the out-of-context corpus together;
2. every in-context training example gets the ``n_neighbors`` out-of-context codes nearest
   by cosine similarity (``neighbours_``, indices into the out-of-context rows), and the
   average of their labels (one-hot categories, or the columns of a numeric label matrix
   such as binarised arousal/valence) is its auxiliary label (``aux_labels_``);
3. the enriched conditional AAE (``aae_``), trained on the in-context training rows: its
   decoder sees the one-hot in-context label, ``F(G(x), y)``, and a linear auxiliary head
   ``M(G(x))`` regresses the auxiliary label; loss = reconstruction MSE + adversarial loss
   on the code + ``aux_weight`` * auxiliary squared error;
4. ``classifier_``: ANOVA-F selection (``SelectKBest(f_classif)``) of ``n_selected`` code
   dimensions, a ``StandardScaler`` and an ``SVC``, fitted on the training codes.

With ``enrich=False`` steps 1-3 collapse into one plain, unconditional AAE without an
auxiliary head trained on the in-context training rows (the "plain AAE code + SVM"
baseline); no out-of-context data is needed (any passed is not used).

How the data maps onto the shared ``fit`` signature
---------------------------------------------------

The native call names the roles: ``fit(X, y, X_out=..., y_out=...)`` where ``X, y`` are
the in-context training rows, the ones ``predict`` is for. Because ``X, y`` are what a
cross-validation splits, the chain drops into scikit-learn's cross-validation with the
out-of-context corpus as fit parameters::

    cross_val_score(model, X_in, y_in, groups=speakers, cv=LeaveOneGroupOut(),
                    params={"X_out": X_out, "y_out": y_out})

(scikit-learn slices any fit parameter *whose length equals the number of rows of X*
along with X; when the out-of-context corpus happens to be exactly as long as the
in-context data, drop or add a row, or run the folds yourself.)

Methods that share :class:`~emoshift.methods.base.NeuralEstimator`'s signature are
called with source data as ``X, y`` and the few labelled target examples as
``X_target_labelled, y_target_labelled``, predicting on the target. The same call works
here and means the same thing: the source is the out-of-context corpus and the labelled
target examples are the in-context data, so
``fit(X_src, y_src, X_target_labelled=X_tgt, y_target_labelled=y_tgt)`` equals
``fit(X_tgt, y_tgt, X_out=X_src, y_out=y_src)``. Unlabelled ``X_target`` rows (either
form) join the plain AAE of step 1 (or the plain AAE with ``enrich=False``), never the
kNN labels, the conditional AAE, the selection or the SVM; they are scaled with the
in-context statistics. ``eval_set`` is accepted and not used (no early stopping).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X_out = rng.normal(size=(120, 8)); y_out = np.where(X_out[:, 0] > 0, "hi", "lo")
    >>> X = rng.normal(size=(60, 8)); y = np.where(X[:, 0] > 0, "high", "low")
    >>> model = EnrichedAAEClassifier(code_size=4, hidden_sizes=(16, 16), epochs=5,
    ...                               n_neighbors=5, random_state=0)
    >>> model = model.fit(X, y, X_out=X_out, y_out=y_out)
    >>> model.predict(X[:4]).shape, model.transform(X).shape
    ((4,), (60, 4))
    >>> model.neighbours_.shape, model.aux_classes_.tolist()
    ((60, 5), ['hi', 'lo'])
    >>> bool(np.allclose(model.aux_labels_.sum(1), 1.0))
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.metaestimators import available_if

from emoshift.methods.aae import AdversarialAutoencoder
from emoshift.methods.anova_count import INNER_CV, fitted_count, inner_cv_count, kept_count
from emoshift.methods.estimator import DomainEstimator, hyper_parameters
from emoshift.methods.inputs import check_features, check_labels
from emoshift.methods.needs import MethodNeeds
from emoshift.methods.params import AT_LEAST_ONE, POSITIVE, StrOptions
from emoshift.methods.svm import KERNELS
from emoshift.metrics import uar


def neighbour_labels(
    codes: np.ndarray, codes_out: np.ndarray, labels_out: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` out-of-context codes nearest to each code by cosine similarity.

    Returns ``(indices, labels)``: ``indices[i]`` are positions in ``codes_out`` (most
    similar first) and ``labels[i]`` is the mean of ``labels_out`` over them. Only the
    out-of-context rows are candidates, so the labels are averages of out-of-context
    labels only.

    Example:
        >>> codes = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> codes_out = np.array([[2.0, 0.1], [0.1, 3.0], [1.0, 0.0]])
        >>> labels_out = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
        >>> indices, labels = neighbour_labels(codes, codes_out, labels_out, k=2)
        >>> indices.tolist(), labels.tolist()
        ([[2, 0], [1, 0]], [[0.5, 0.5], [0.5, 0.5]])
    """
    if not 1 <= k <= len(codes_out):
        raise ValueError(
            f"n_neighbors={k} must be between 1 and the {len(codes_out)} out-of-context rows"
        )

    def unit(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)

    similarity = unit(codes) @ unit(codes_out).T
    # stable sort on -similarity: ties go to the lower out-of-context index
    indices = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return indices, np.asarray(labels_out, dtype=np.float64)[indices].mean(axis=1)


def _native_form(
    X: object,
    y: object,
    X_out: object | None,
    y_out: object | None,
    X_target_labelled: object | None,
    y_target_labelled: object | None,
) -> tuple[object, object, object | None, object | None]:
    """``(X, y, X_out, y_out)`` with the in-context data first, from either call form."""
    if X_target_labelled is None and y_target_labelled is None:
        return X, y, X_out, y_out
    if X_out is not None or y_out is not None:
        raise ValueError(
            "pass the out-of-context corpus either as X_out/y_out (with the "
            "in-context data as X, y) or as X, y (with the in-context data as "
            "X_target_labelled/y_target_labelled), not both"
        )
    if X_target_labelled is None or y_target_labelled is None:
        raise ValueError("pass both X_target_labelled and y_target_labelled, or neither")
    return X_target_labelled, y_target_labelled, X, y


@hyper_parameters
class EnrichedAAEClassifier(ClassifierMixin, DomainEstimator):
    """Enriched conditional AAE code -> ANOVA-F selection -> SVM, fitted as one estimator.

    Args:
        enrich: ``True`` for the out-of-context enrichment (needs ``X_out``/``y_out``);
            ``False`` for the plain AAE code + SVM baseline.
        code_size: width of the AAE code (e.g. 64 or 10).
        hidden_sizes: the encoder's hidden widths (the networks have three layers each).
        n_neighbors: K, the out-of-context neighbours averaged into each auxiliary label.
        epochs: epochs of each AAE (the plain one and the enriched one).
        lr: Adam learning rate of the AAEs.
        batch_size: examples per AAE step.
        adversarial_weight: weight of the adversarial loss on the code.
        aux_weight: weight of the auxiliary head's squared error.
        n_selected: code dimensions kept by ANOVA-F selection, or ``"all"``; a number
            above ``code_size`` keeps them all (so one value serves several code sizes);
            ``"inner_cv"`` chooses the count by cross-validation on the training codes
            (:mod:`emoshift.methods.anova_count`), never on test data, and records it
            in ``fitted_params_``.
        svm_C: the SVM's regularisation ``C``.
        svm_kernel: the SVM's kernel (``"rbf"``, ``"linear"``, ...).
        svm_class_weight: ``"balanced"`` (weights against class imbalance, for UAR) or
            ``None``.
        probability: calibrate the SVM (Platt scaling, ``CalibratedClassifierCV`` with
            ``ensemble=False``, cross-validated inside the training data) so that
            ``predict_proba`` works; slower.
        device: torch device of the AAEs (``"auto"``, ``"cpu"``, ``"cuda"``).
        random_state: seed of the whole chain; the same seed gives the same predictions.
        verbose: show progress bars while the AAEs train.

    Fitted attributes: ``classes_``, ``n_features_in_``, ``scaler_``, ``out_scaler_``,
    ``pretrain_aae_``, ``neighbours_``, ``aux_classes_``, ``aux_labels_`` (``None`` for
    the steps ``enrich=False`` skips), ``aae_``, ``classifier_``, ``selected_dims_`` and
    ``history_`` (``aae_.history_``: per-epoch losses, discriminator accuracy and the
    code's distance from N(0, I)).
    """

    #: the shared form reads the labelled target rows (the in-context data); unlabelled
    #: target rows join the plain AAE when given
    needs = MethodNeeds(labelled_target=True, optional_unlabelled_target=True)
    _parameter_constraints = {
        **{
            name: AdversarialAutoencoder._parameter_constraints[name]
            for name in (
                *("code_size", "hidden_sizes", "epochs", "lr", "batch_size"),
                *("adversarial_weight", "aux_weight", "device", "random_state", "verbose"),
            )
        },
        "enrich": ["boolean"],
        "n_neighbors": [AT_LEAST_ONE],
        "n_selected": [AT_LEAST_ONE, StrOptions({"all", INNER_CV})],
        "svm_C": [POSITIVE],
        "svm_kernel": [StrOptions(set(KERNELS))],
        "svm_class_weight": [StrOptions({"balanced"}), dict, None],
        "probability": ["boolean"],
    }
    _fitted_attribute = "classifier_"
    #: what a saved model keeps: what ``transform``, ``predict`` and ``predict_proba``
    #: read (the pretraining AAE, the out-of-context scaler and the neighbour labels only
    #: serve training)
    _saved_attributes = (
        *("classes_", "n_features_in_", "scaler_", "aae_", "classifier_"),
        *("selected_dims_", "history_"),
    )

    enrich: bool = True
    code_size: int = 10
    hidden_sizes: Sequence[int] = (256, 128)
    n_neighbors: int = 10
    epochs: int = 100
    lr: float = 5e-4
    batch_size: int = 64
    adversarial_weight: float = 1.0
    aux_weight: float = 1.0
    n_selected: int | str = "all"
    svm_C: float = 1.0
    svm_kernel: str = "rbf"
    svm_class_weight: str | None = "balanced"
    probability: bool = False
    device: str = "auto"
    random_state: int | None = None
    verbose: bool = False

    # ------------------------------------------------------------------ fitting

    def _aae(self, seed_offset: int) -> AdversarialAutoencoder:
        return AdversarialAutoencoder(
            code_size=self.code_size,
            hidden_sizes=self.hidden_sizes,
            lr=self.lr,
            epochs=self.epochs,
            batch_size=self.batch_size,
            adversarial_weight=self.adversarial_weight,
            aux_weight=self.aux_weight,
            device=self.device,
            random_state=None if self.random_state is None else self.random_state + seed_offset,
            verbose=self.verbose,
        )

    def fit(
        self,
        X: object,
        y: object,
        *,
        X_out: object | None = None,
        y_out: object | None = None,
        X_target: object | None = None,
        X_target_labelled: object | None = None,
        y_target_labelled: object | None = None,
        eval_set: tuple[object, object] | None = None,
    ) -> EnrichedAAEClassifier:
        """Fit every step of the chain on the given training data only.

        Args:
            X: in-context training features (or, in the shared form, the out-of-context
                source features).
            y: their emotion labels.
            X_out: out-of-context features (same feature columns as ``X``).
            y_out: out-of-context labels: 1-D categories (one-hot encoded and averaged)
                or a numeric matrix (e.g. binarised arousal/valence columns, averaged).
            X_target: unlabelled in-context features, used by the plain AAE only.
            X_target_labelled: shared form: the in-context training features ...
            y_target_labelled: ... and their labels (then ``X, y`` are out-of-context).
            eval_set: accepted so that callers of the shared signature (e.g. the
                experiment runner) can pass their development split; not used, since
                every step trains for a fixed budget (``epochs``) without early stopping.
        """
        self._check_params()
        X, y, X_out, y_out = _native_form(X, y, X_out, y_out, X_target_labelled, y_target_labelled)
        X_in = check_features(X, "X (in-context features)")
        labels = check_labels(y, "y", len(X_in))
        self.classes_, y_codes = np.unique(labels, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y needs at least two classes, got {self.classes_.tolist()}")
        self.n_features_in_ = X_in.shape[1]
        X_unlabelled = self._width(X_target, "X_target")

        self.scaler_ = StandardScaler().fit(X_in)
        scaled = self.scaler_.transform(X_in)
        unlabelled = None if X_unlabelled is None else self.scaler_.transform(X_unlabelled)
        if self.enrich:
            self._fit_enriched(scaled, y_codes, unlabelled, X_out, y_out)
        else:
            self.out_scaler_ = self.pretrain_aae_ = None
            self.neighbours_ = self.aux_classes_ = self.aux_labels_ = None
            pool = scaled if unlabelled is None else np.concatenate([scaled, unlabelled])
            self.aae_ = self._aae(0).fit(pool)
        self.history_ = self.aae_.history_
        self._fit_classifier(self.aae_.transform(scaled), self.classes_[y_codes])
        return self

    def _fit_classifier(self, codes: np.ndarray, labels: np.ndarray) -> None:
        """Step 4: ANOVA-F selection, scaling and the (optionally calibrated) SVM."""
        n_selected = self.n_selected
        if n_selected == INNER_CV:
            n_selected = inner_cv_count(
                codes,
                labels,
                lambda k: self._classifier(k, calibrated=False),
                seed=self.random_state,
            )
        self.classifier_ = self._classifier(
            kept_count(n_selected, codes.shape[1]), self.probability
        )
        self.classifier_.fit(codes, labels)
        self.selected_dims_ = self.classifier_["select"].get_support(indices=True)
        self.fitted_params_ = fitted_count(self.n_selected, n_selected)

    def _classifier(self, k: int | str, calibrated: bool) -> Pipeline:
        """ANOVA-F selection of ``k`` code dimensions, scaling and the SVM, unfitted."""
        svm = SVC(
            C=self.svm_C,
            kernel=self.svm_kernel,
            class_weight=self.svm_class_weight,
            random_state=self.random_state,
        )
        return Pipeline(
            [
                ("select", SelectKBest(f_classif, k=k)),
                ("scale", StandardScaler()),
                ("svm", CalibratedClassifierCV(svm, ensemble=False) if calibrated else svm),
            ]
        )

    def _width(self, X: object | None, name: str) -> np.ndarray | None:
        if X is None:
            return None
        array = check_features(X, name)
        if array.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{name} has {array.shape[1]} feature columns but the in-context X has "
                f"{self.n_features_in_}; both corpora need the same features"
            )
        return array

    def _fit_enriched(
        self,
        scaled: np.ndarray,
        y_codes: np.ndarray,
        unlabelled: np.ndarray | None,
        X_out: object | None,
        y_out: object | None,
    ) -> None:
        if X_out is None or y_out is None:
            raise ValueError(
                "enrich=True borrows labels from an out-of-context corpus: pass the "
                "in-context data as X, y and the out-of-context corpus as X_out, y_out "
                "(or, in the shared form, the out-of-context corpus as X, y and labelled "
                "in-context examples as X_target_labelled, y_target_labelled); "
                "enrich=False gives the plain AAE code + SVM"
            )
        out = self._width(X_out, "X_out")
        out_labels = self._out_label_matrix(y_out, len(out))
        if not 1 <= self.n_neighbors <= len(out):
            raise ValueError(
                f"n_neighbors={self.n_neighbors} must be between 1 and the {len(out)} "
                "out-of-context rows"
            )
        self.out_scaler_ = StandardScaler().fit(out)
        out_scaled = self.out_scaler_.transform(out)

        pool = [scaled, out_scaled] + ([] if unlabelled is None else [unlabelled])
        self.pretrain_aae_ = self._aae(0).fit(np.concatenate(pool))
        self.neighbours_, self.aux_labels_ = neighbour_labels(
            self.pretrain_aae_.transform(scaled),
            self.pretrain_aae_.transform(out_scaled),
            out_labels,
            self.n_neighbors,
        )
        one_hot = np.eye(len(self.classes_), dtype=np.float32)[y_codes]
        self.aae_ = self._aae(1).fit(scaled, condition=one_hot, auxiliary=self.aux_labels_)

    def _out_label_matrix(self, y_out: object, n: int) -> np.ndarray:
        """One row per out-of-context example: one-hot categories or the numeric columns."""
        labels = np.asarray(y_out)
        if len(labels) != n:
            raise ValueError(f"X_out has {n} rows but y_out has {len(labels)}")
        if labels.ndim == 2:
            if not np.issubdtype(labels.dtype, np.number):
                raise ValueError("a 2-D y_out must be numeric (e.g. binarised arousal/valence)")
            self.aux_classes_ = None
            return check_features(labels, "y_out")
        if labels.ndim != 1:
            raise ValueError(f"y_out must be 1-D labels or a 2-D matrix, got {labels.shape}")
        self.aux_classes_, codes = np.unique(check_labels(y_out, "y_out"), return_inverse=True)
        return np.eye(len(self.aux_classes_))[codes]

    # -------------------------------------------------------------- prediction

    def transform(self, X: object) -> np.ndarray:
        """The (enriched) code of ``X``: all ``code_size`` dimensions, before selection."""
        self._check_fitted()
        return self.aae_.transform(self.scaler_.transform(self._width(X, "X")))

    def predict(self, X: object) -> np.ndarray:
        """Emotion labels of in-context examples."""
        codes = self.transform(X)
        return self.classifier_.predict(codes)

    def decision_function(self, X: object) -> np.ndarray:
        """The SVM's decision values."""
        codes = self.transform(X)
        return self.classifier_.decision_function(codes)

    @available_if(lambda self: self.probability)
    def predict_proba(self, X: object) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order.

        Only with ``probability=True`` (a calibrated SVM); otherwise the estimator has
        no ``predict_proba``, as scikit-learn's ``SVC(probability=False)``.
        """
        codes = self.transform(X)
        return self.classifier_.predict_proba(codes)

    def score(self, X: object, y: object) -> float:
        """Unweighted average recall (:func:`emoshift.metrics.uar`)."""
        return uar(y, self.predict(X))
