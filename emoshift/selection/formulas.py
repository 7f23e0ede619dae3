"""The arithmetic of the unsupervised model-selection scorers, on plain arrays.

Each function here is one formula of :mod:`emoshift.selection.scorers`, separated from
the model fitting and feature extraction around it so that it can be checked by hand.
Values follow each paper's own sign (a risk is lower-is-better, a density higher); the
scorers turn them into higher-is-better scores.

Example:
    >>> weighted_uar(["a", "a", "b", "b"], ["a", "b", "b", "b"], [1, 3, 2, 2])
    0.625
    >>> dev_risk([1.0, 2.0, 3.0], [1.0, 1.0, 4.0])
    1.5
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

#: smallest probability inside a logarithm (as in SKADA's DEV cross-entropy)
EPSILON = 1e-15


def density_ratio(p_target: object, n_source: int, n_target: int) -> np.ndarray:
    """Importance weights ``p_T(x) / p_S(x)`` from a domain classifier's posteriors.

    A classifier trained to tell ``n_source`` source rows (label 0) from ``n_target``
    target rows (label 1) estimates ``P(target | x)``; by Bayes' rule

        w(x) = p_T(x) / p_S(x) = (n_source / n_target) * P(target | x) / P(source | x)

    (Bickel et al. 2007; the estimator of You et al. 2019, section 4, and of SKADA's
    ``DeepEmbeddedValidation``).

    Example:
        >>> density_ratio([0.5, 0.8], n_source=20, n_target=10).round(6).tolist()
        [2.0, 8.0]
    """
    p = np.clip(np.asarray(p_target, dtype=float), EPSILON, 1 - EPSILON)
    return (n_source / n_target) * p / (1 - p)


def weighted_uar(y_true: object, y_pred: object, weights: object) -> float:
    """Importance-weighted unweighted average recall.

    The recall of class ``c`` under the target distribution is estimated from source
    rows by importance weighting, ``sum_{i: y_i = c} w_i [pred_i = c] / sum_{i: y_i = c}
    w_i``, and UAR is their mean over the classes present in ``y_true``. It equals
    :func:`sklearn.metrics.balanced_accuracy_score` with ``sample_weight=weights``.

    Example:
        >>> weighted_uar([0, 0, 1], [0, 1, 1], [1.0, 1.0, 5.0])
        0.75
    """
    true, pred, w = np.asarray(y_true), np.asarray(y_pred), np.asarray(weights, dtype=float)
    recalls = []
    for label in np.unique(true):
        mask = true == label
        total = w[mask].sum()
        recalls.append(w[mask & (pred == label)].sum() / total if total > 0 else 0.0)
    return float(np.mean(recalls))


def weighted_accuracy(y_true: object, y_pred: object, weights: object) -> float:
    """Importance-weighted accuracy ``sum_i w_i [pred_i = y_i] / sum_i w_i``.

    The 0-1 loss version of Sugiyama et al.'s (2007) importance-weighted validation, and
    what SKADA's ``ImportanceWeightedScorer`` computes with its default scoring.

    Example:
        >>> weighted_accuracy([0, 0, 1], [0, 1, 1], [1.0, 1.0, 2.0])
        0.75
    """
    correct = np.asarray(y_true) == np.asarray(y_pred)
    w = np.asarray(weights, dtype=float)
    return float(np.sum(w * correct) / np.sum(w))


def cross_entropy(proba: object, y_index: object) -> np.ndarray:
    """Per-row cross-entropy ``-log p_i[y_i]`` (probabilities clipped at :data:`EPSILON`).

    Example:
        >>> cross_entropy([[0.5, 0.5], [1.0, 0.0]], [0, 0]).round(4).tolist()
        [0.6931, 0.0]
    """
    p = np.clip(np.asarray(proba, dtype=float), EPSILON, 1 - EPSILON)
    return -np.log(p[np.arange(len(p)), np.asarray(y_index)])


def dev_risk(losses: object, weights: object) -> float:
    """Deep embedded validation risk with its control variate (You et al. 2019, eq. 5-7).

    With per-row source-validation losses ``l_i`` and importance weights ``w_i``:

        L_i = w_i l_i,  eta = -Cov(L, w) / Var(w)
        risk = mean(L) + eta * mean(w) - eta

    ``Cov`` and ``Var`` are sample estimates (``n - 1`` denominators); ``eta`` is 0 when
    all weights are equal. Since ``E[w] = 1`` under the source distribution, the control
    variate ``eta * (mean(w) - 1)`` keeps the estimate unbiased and lowers its variance.
    Lower is better.

    Example:
        >>> dev_risk([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
        4.0
    """
    loss = np.asarray(losses, dtype=float)
    w = np.asarray(weights, dtype=float)
    weighted = w * loss
    var_w = np.var(w, ddof=1)
    eta = 0.0 if var_w == 0 else -np.cov(weighted, w)[0, 1] / var_w
    return float(np.mean(weighted) + eta * np.mean(w) - eta)


def mean_entropy(proba: object) -> float:
    """Mean Shannon entropy (nats) of the rows of ``proba``, with ``0 log 0 = 0``.

    Example:
        >>> round(mean_entropy([[1.0, 0.0], [0.5, 0.5]]), 6)
        0.346574
    """
    p = np.asarray(proba, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return float(terms.sum(1).mean())


def soft_neighbourhood_density(proba: object, temperature: float = 0.05) -> float:
    """Soft neighbourhood density (Saito et al. 2021, eq. 1-3). Higher is better.

    The rows of ``proba`` (target softmax outputs) are L2-normalised to ``f_i``; the
    similarity of row ``i`` to ``j`` is ``s_ij = f_i . f_j / T``, with the self-similarity
    replaced by ``-1 / T`` (the value the authors' code and SKADA give it, which keeps a
    row's own point out of its neighbourhood); ``P_i = softmax_j(s_ij)`` and

        SND = (1 / n) sum_i H(P_i) = -(1 / n) sum_i sum_j P_ij log P_ij

    A high entropy means each prediction has many soft neighbours: dense, well separated
    clusters of target predictions.

    Example:
        >>> round(soft_neighbourhood_density([[1.0, 0.0], [0.0, 1.0]], temperature=1.0), 6)
        0.582203
    """
    if temperature <= 0:
        raise ValueError(f"temperature={temperature} must be positive (Saito et al. use 0.05)")
    p = np.asarray(proba, dtype=float)
    f = p / np.linalg.norm(p, axis=1, keepdims=True)
    similarity = f @ f.T / temperature
    np.fill_diagonal(similarity, -1.0 / temperature)
    return mean_entropy(softmax(similarity, axis=1))
