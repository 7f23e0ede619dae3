"""Statistics over trials: mean and standard deviation, paired significance tests.

Example:
    >>> summarise([0.5, 0.6, 0.7])
    {'mean': 0.6, 'std': 0.09999999999999998, 'n': 3}
    >>> dann = [0.61, 0.64, 0.58, 0.66, 0.63, 0.60]
    >>> baseline = [0.55, 0.57, 0.56, 0.60, 0.58, 0.59]
    >>> result = paired_test(dann, baseline)
    >>> result["test"], result["p_value"], result["significant"]
    ('wilcoxon', 0.03125, True)
    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy import stats

TestName = Literal["auto", "wilcoxon", "ttest"]
Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES: tuple[str, ...] = ("two-sided", "greater", "less")
"""Two-sided, or one-tailed: ``greater`` tests whether ``a`` exceeds ``b`` (e.g. a
method's CCC over its baseline's), ``less`` whether it falls below (e.g. RMSE)."""

WILCOXON_MIN_N = 6
"""From this many pairs on, ``test="auto"`` uses Wilcoxon; below it the smallest exact
two-sided Wilcoxon p-value (2 / 2**n) cannot reach 0.05, so the paired t-test is used."""


def _finite(values: object, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must hold numbers, one per trial: {error}") from error
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per trial), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(
            f"{name} has NaN or infinite values at trial position(s) "
            f"{np.flatnonzero(~np.isfinite(array)).tolist()}; fix or drop those trials"
        )
    return array


def summarise(values: object) -> dict[str, float]:
    """Mean, sample standard deviation (ddof=1) and count of per-trial values.

    The standard deviation of a single value is NaN (undefined with ddof=1). NaN values
    propagate to the mean and std, so a degenerate trial stays visible.

    Example:
        >>> summarise([0.7])
        {'mean': 0.7, 'std': nan, 'n': 1}
    """
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"summarise needs a non-empty 1-D list of values, got shape {array.shape}")
    std = float(np.std(array, ddof=1)) if array.size > 1 else float("nan")
    return {"mean": float(np.mean(array)), "std": std, "n": int(array.size)}


def paired_test(
    a: object,
    b: object,
    *,
    test: TestName = "auto",
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> dict[str, object]:
    """Paired test of ``a`` against ``b`` over matched trials (same seeds/splits),
    two-sided or one-tailed (``alternative``, see :data:`ALTERNATIVES`).

    ``test="auto"`` uses the Wilcoxon signed-rank test (:func:`scipy.stats.wilcoxon`,
    zero differences dropped) for ``n >= 6`` pairs and the paired t-test
    (:func:`scipy.stats.ttest_rel`) below that; ``"wilcoxon"`` or ``"ttest"`` forces one.
    If every difference is zero the p-value is 1. If every difference is the same
    non-zero value the t statistic is infinite and its p-value 0.

    Returns ``{"test", "n", "mean_difference" (mean of a - b), "statistic", "p_value",
    "significant" (p < alpha), "alpha", "alternative"}``.

    Example:
        >>> paired_test([0.5, 0.6], [0.5, 0.6])["p_value"]
        1.0
        >>> a, b = [0.61, 0.64, 0.58, 0.66], [0.55, 0.57, 0.60, 0.58]
        >>> one = paired_test(a, b, test="ttest", alternative="greater")["p_value"]
        >>> round(one * 2, 6) == round(paired_test(a, b, test="ttest")["p_value"], 6)
        True
    """
    first, second = _finite(a, "a"), _finite(b, "b")
    if len(first) != len(second):
        raise ValueError(
            f"a has {len(first)} trials but b has {len(second)}; a paired test needs the "
            "same trials for both methods"
        )
    if len(first) < 2:
        raise ValueError(f"a paired test needs at least 2 matched trials, got {len(first)}")
    if test not in ("auto", "wilcoxon", "ttest"):
        raise ValueError(f"test={test!r} is not supported; use 'auto', 'wilcoxon' or 'ttest'")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative={alternative!r} is not supported; use one of {ALTERNATIVES}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    name = test if test != "auto" else ("wilcoxon" if len(first) >= WILCOXON_MIN_N else "ttest")
    differences = first - second
    if np.all(differences == 0):
        statistic, p_value = 0.0, 1.0
    elif name == "ttest" and np.all(differences == differences[0]):
        statistic = float(np.sign(differences[0]) * np.inf)
        wrong_side = {"greater": statistic < 0, "less": statistic > 0}.get(alternative, False)
        p_value = 1.0 if wrong_side else 0.0
    elif name == "ttest":
        result = stats.ttest_rel(first, second, alternative=alternative)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    else:
        result = stats.wilcoxon(first, second, alternative=alternative)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return {
        "test": name,
        "n": len(first),
        "mean_difference": float(np.mean(differences)),
        "statistic": statistic,
        "p_value": p_value,
        "significant": bool(p_value < alpha),
        "alpha": alpha,
        "alternative": alternative,
    }


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values, in the order given.

    The i-th smallest of m p-values becomes ``max over j <= i of min(1, (m - j + 1) p_(j))``
    (Holm 1979), which keeps the family-wise error rate at alpha. NaN entries (comparisons
    that were not tested) stay NaN and do not count in m.

    Example:
        >>> holm([0.02, float("nan")])
        [0.02, nan]
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * float(p[index])))
        adjusted[index] = running
    return adjusted.tolist()


def paired_z_test(
    a: object, b: object, *, alpha: float = 0.05, alternative: Alternative = "two-sided"
) -> dict[str, object]:
    """Large-sample z-test of the mean of the paired differences ``a - b``:
    ``z = mean(d) / (std(d, ddof=1) / sqrt(n))``, p from the standard normal, two-sided
    or one-tailed. Meant for many matched conditions pooled together (Abdelwahab & Busso
    2018, Sec. V-B, test hundreds of matched conditions this way), where the normal
    approximation holds.

    Returns the keys of :func:`paired_test` (``test`` is ``"ztest"``).

    Example:
        >>> a, b = [0.5, 0.7, 0.6, 0.8], [0.4, 0.5, 0.5, 0.6]
        >>> result = paired_z_test(a, b, alternative="greater")
        >>> round(result["statistic"], 3), round(result["p_value"], 4)
        (5.196, 0.0)
    """
    first, second = _finite(a, "a"), _finite(b, "b")
    if len(first) != len(second) or len(first) < 2:
        raise ValueError(
            f"a z-test of paired differences needs the same 2 or more matched conditions "
            f"in a and b, got {len(first)} and {len(second)}"
        )
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative={alternative!r} is not supported; use one of {ALTERNATIVES}")
    differences = first - second
    spread = float(np.std(differences, ddof=1))
    mean = float(np.mean(differences))
    if spread == 0:
        statistic = 0.0 if mean == 0 else float(np.sign(mean) * np.inf)
    else:
        statistic = mean / (spread / np.sqrt(len(differences)))
    p_value = {
        "greater": stats.norm.sf(statistic),
        "less": stats.norm.cdf(statistic),
        "two-sided": 2 * stats.norm.sf(abs(statistic)),
    }[alternative]
    return {
        "test": "ztest",
        "n": len(first),
        "mean_difference": mean,
        "statistic": float(statistic),
        "p_value": float(min(p_value, 1.0)),
        "significant": bool(p_value < alpha),
        "alpha": alpha,
        "alternative": alternative,
    }
