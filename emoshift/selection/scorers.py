"""Unsupervised model-selection scorers: how good is a fitted model on the target domain,
judged without a single target label.

Every scorer is a function ``scorer(estimator, data, **options) -> float`` where
``estimator`` is a fitted emoshift classifier (``predict``, and ``predict_proba`` for the
scorers that read probabilities) and ``data`` a :class:`SelectionData`: labelled source
development rows and unlabelled target rows, which is all the unsupervised protocol
allows. **Every score is higher-is-better**; a scorer whose paper defines a risk or an
entropy to minimise returns its negative (said in each docstring). :data:`SCORERS` names
them, :func:`get_scorer` finds one by name.

Scorers are for classification; a regression estimator raises ``ValueError``.

Example:
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2)); y = np.where(X[:, 0] > 0, "anger", "sadness")
    >>> model = LogisticRegression().fit(X, y)
    >>> data = SelectionData(X_dev=X, y_dev=y, X_target=X + 0.5)
    >>> get_scorer("source_dev")(model, data) > 0.9
    True
    >>> sorted(SCORERS)
    ['circular', 'dev', 'entropy', 'iwv', 'snd', 'source_dev']
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from emoshift.metrics import uar
from emoshift.selection.formulas import (
    cross_entropy,
    density_ratio,
    dev_risk,
    mean_entropy,
    soft_neighbourhood_density,
    weighted_accuracy,
    weighted_uar,
)

#: a scorer: (fitted estimator, selection data, options) -> higher-is-better score
Scorer = Callable[..., float]


@dataclass(frozen=True)
class SelectionData:
    """What an unsupervised scorer may read; there is no field for target labels.

    Attributes:
        X_dev: labelled source development rows, held out from training.
        y_dev: their labels.
        X_target: unlabelled target rows (the adaptation data; never the test labels).
        X_train: the source rows the model was trained on, if known. DEV and IWV train
            their domain classifier on these against ``X_target`` and weigh ``X_dev``
            with it, as You et al. do; without them it is trained on ``X_dev`` itself.
    """

    X_dev: object
    y_dev: object
    X_target: object | None = None
    X_train: object | None = None


def _require(estimator: object, method: str, scorer: str) -> None:
    if getattr(estimator, "task", "classification") != "classification":
        raise ValueError(f"scorer {scorer!r} is for classification; the estimator does regression")
    if not hasattr(estimator, method):
        raise ValueError(
            f"scorer {scorer!r} needs {method}() but {type(estimator).__name__} has none; "
            "use 'source_dev' or 'circular', which read only predict()"
        )


def _target(data: SelectionData, scorer: str) -> object:
    if data.X_target is None:
        raise ValueError(f"scorer {scorer!r} reads unlabelled target rows: pass X_target")
    return data.X_target


def _identity(X: object) -> np.ndarray:
    return np.asarray(X, dtype=float)


def importance_weights(
    source_fit: np.ndarray,
    target: np.ndarray,
    evaluate: np.ndarray,
    domain_classifier: object | None = None,
) -> np.ndarray:
    """``p_T(x) / p_S(x)`` at the rows ``evaluate``, from a domain classifier.

    The classifier (default: scikit-learn's ``LogisticRegression(max_iter=1000)``) learns
    target (1) against source (0) on ``source_fit`` and ``target``; its posterior on
    ``evaluate`` becomes a ratio by :func:`~emoshift.selection.formulas.density_ratio`.
    """
    classifier = clone(domain_classifier or LogisticRegression(max_iter=1000))
    features = np.concatenate([source_fit, target])
    domain = np.r_[np.zeros(len(source_fit)), np.ones(len(target))]
    classifier.fit(features, domain)
    column = list(classifier.classes_).index(1.0)
    p_target = classifier.predict_proba(evaluate)[:, column]
    return density_ratio(p_target, len(source_fit), len(target))


def source_dev(estimator: object, data: SelectionData) -> float:
    """UAR on the labelled source development rows: emoshift's behaviour before scorers.

    ``score = UAR(y_dev, estimator.predict(X_dev))``; higher is better. It ignores the
    target, so it prefers the model that fits the source best, adapted or not.
    """
    _require(estimator, "predict", "source_dev")
    return uar(data.y_dev, estimator.predict(data.X_dev))


def iwv(
    estimator: object,
    data: SelectionData,
    *,
    metric: str = "uar",
    domain_classifier: object | None = None,
) -> float:
    """Importance-weighted validation (Sugiyama, Krauledat & Mueller 2007, JMLR 8).

    Under covariate shift the target risk is the source risk reweighted by ``w(x) =
    p_T(x) / p_S(x)``. The ratio is estimated on the *input* features by a domain
    classifier (:func:`importance_weights`: source training rows, or ``X_dev`` when they
    are unknown, against ``X_target``), then

        score = sum_{i: y_i = c} w_i [pred_i = c] / sum_{i: y_i = c} w_i, averaged over c
                (``metric="uar"``), or sum_i w_i [pred_i = y_i] / sum_i w_i ("accuracy")

    over the source development rows. Higher is better. SKADA's
    ``ImportanceWeightedScorer`` computes the accuracy form with kernel density estimates
    of ``p_S`` and ``p_T`` instead of a classifier.
    """
    functions = {"uar": weighted_uar, "accuracy": weighted_accuracy}
    if metric not in functions:
        raise ValueError(f"metric={metric!r}; choose one of {sorted(functions)}")
    _require(estimator, "predict", "iwv")
    X_dev = _identity(data.X_dev)
    fit_on = X_dev if data.X_train is None else _identity(data.X_train)
    weights = importance_weights(fit_on, _identity(_target(data, "iwv")), X_dev, domain_classifier)
    return functions[metric](data.y_dev, estimator.predict(data.X_dev), weights)


def dev(
    estimator: object,
    data: SelectionData,
    *,
    domain_classifier: object | None = None,
) -> float:
    """Deep embedded validation (You, Wang, Long & Jordan 2019, ICML), negated.

    The importance weights are estimated in the model's *learned* feature space
    (``estimator.transform``; the inputs when it has none): a domain classifier separates
    the features of the source training rows (``X_dev`` when unknown) from those of
    ``X_target`` and weighs each development row (:func:`importance_weights`). With the
    cross-entropy ``l_i = -log p(y_i | x_i)`` of each development row,

        L_i = w_i l_i,  eta = -Cov(L, w) / Var(w)
        score = -(mean(L) + eta * mean(w) - eta)

    (:func:`~emoshift.selection.formulas.dev_risk`). The risk is lower-is-better, so the
    score is its negative: higher is better. SKADA's ``DeepEmbeddedValidation`` returns
    the same number given the same split, features and domain classifier and a loss that
    returns a column; with its default loss (0.6.0) the ``(n, 1)`` weights times the
    ``(n,)`` losses broadcast to an ``(n, n)`` matrix, so its mean becomes ``mean(w) *
    mean(l)`` and its control variate is not You et al.'s.
    """
    _require(estimator, "predict_proba", "dev")
    features = getattr(estimator, "transform", _identity)
    dev_features = features(data.X_dev)
    fit_on = dev_features if data.X_train is None else features(data.X_train)
    weights = importance_weights(
        fit_on, features(_target(data, "dev")), dev_features, domain_classifier
    )
    classes = list(estimator.classes_)
    unknown = sorted({str(v) for v in np.asarray(data.y_dev).tolist() if v not in classes})
    if unknown:
        raise ValueError(f"y_dev holds labels {unknown} the estimator was not fitted on")
    y_index = [classes.index(v) for v in np.asarray(data.y_dev).tolist()]
    losses = cross_entropy(estimator.predict_proba(data.X_dev), y_index)
    return -dev_risk(losses, weights)


def snd(estimator: object, data: SelectionData, *, temperature: float = 0.05) -> float:
    """Soft neighbourhood density of the target predictions (Saito et al. 2021, ICCV).

    ``score = (1/n) sum_i H(softmax_j(f_i . f_j / T))`` over target rows, with ``f_i`` the
    L2-normalised ``predict_proba`` row and the self-similarity set to ``-1/T``
    (:func:`~emoshift.selection.formulas.soft_neighbourhood_density`); ``T = 0.05`` as in
    the paper. Higher is better (denser neighbourhoods). Matches SKADA's
    ``SoftNeighborhoodDensity``. Memory grows with the square of the target rows.
    """
    _require(estimator, "predict_proba", "snd")
    proba = estimator.predict_proba(_target(data, "snd"))
    return soft_neighbourhood_density(proba, temperature)


def entropy(estimator: object, data: SelectionData) -> float:
    """Negative mean prediction entropy on the target (Morerio et al. 2018, ICLR).

    ``score = (1/n) sum_i sum_k p_ik log p_ik`` (``0 log 0 = 0``): minus the mean entropy
    in nats, so confident target predictions score higher; higher is better. SKADA's
    ``PredictionEntropyScorer`` averages ``-p log p`` over rows *and* classes, i.e. gives
    this number divided by the number of classes (same ranking).
    """
    _require(estimator, "predict_proba", "entropy")
    return -mean_entropy(estimator.predict_proba(_target(data, "entropy")))


def circular(estimator: object, data: SelectionData) -> float:
    """Circular (reverse) validation (Bruzzone & Marconcini 2010, TPAMI; Zhong et al.
    2010, ECML PKDD).

    The fitted model labels the target rows; a *reverse* model, a fresh copy of the
    estimator with the same hyper-parameters, trains on the target rows with those
    pseudo-labels and adapts towards the source (the source training rows, or ``X_dev``
    when unknown, as its unlabelled ``X_target``):

        reverse = clone(estimator).fit(X_target, estimator.predict(X_target),
                                       X_target=X_source)
        score = UAR(y_dev, reverse.predict(X_dev))

    Higher is better. When every pseudo-label is the same class no reverse model can be
    trained; it would predict that class everywhere, so the score is the UAR of that
    constant prediction (as in SKADA's ``CircularValidation``, which agrees otherwise
    too, scored with its default balanced accuracy on all source rows passed).
    """
    _require(estimator, "predict", "circular")
    X_target = _target(data, "circular")
    pseudo = np.asarray(estimator.predict(X_target))
    y_dev = np.asarray(data.y_dev)
    if len(np.unique(pseudo)) < 2:
        return uar(y_dev, np.full(len(y_dev), pseudo[0], dtype=pseudo.dtype))
    X_source = data.X_dev if data.X_train is None else data.X_train
    reverse = clone(estimator).fit(X_target, pseudo, X_target=X_source)
    return uar(y_dev, reverse.predict(data.X_dev))


#: scorer name -> function; every score is higher-is-better
SCORERS: dict[str, Scorer] = {
    "source_dev": source_dev,
    "iwv": iwv,
    "dev": dev,
    "snd": snd,
    "circular": circular,
    "entropy": entropy,
}


def get_scorer(name: str) -> Scorer:
    """The scorer registered as ``name``; an unknown name raises ``ValueError`` naming
    the nearest one.

    Example:
        >>> get_scorer("dev").__name__
        'dev'
    """
    if name not in SCORERS:
        close = difflib.get_close_matches(name, SCORERS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown scorer {name!r}{hint} Known: {sorted(SCORERS)}")
    return SCORERS[name]
