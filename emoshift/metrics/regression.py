"""Regression metrics for dimensional emotion: CCC, Pearson r and RMSE.

Inputs are 1-D (one dimension) or 2-D (samples x dimensions, e.g. arousal, valence,
dominance). ``multioutput="uniform_average"`` (default) returns the mean over dimensions
as a float, ``"raw_values"`` one value per dimension as an array. Values must be finite.

Degenerate inputs (documented behaviour, no warnings):

* CCC uses population moments. When exactly one side is constant the covariance is 0
  and CCC is 0 (a constant predictor earns nothing). When both sides are constant the
  formula is 0/0 and CCC is NaN, also when they agree; a single sample gives NaN.
* Pearson r is NaN when either side is constant or there is a single sample: the
  correlation is undefined. A mean over dimensions that includes a NaN is NaN.

Example:
    >>> ccc([0.0, 1.0, 2.0], [0.0, 1.0, 1.0])
    0.6666666666666665
    >>> ccc([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0]], [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
    ...     multioutput="raw_values").round(3).tolist()
    [0.667, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias

import audmetric
import numpy as np
from sklearn import metrics as skm

from emoshift.metrics._validate import value_arrays

Multioutput = Literal["uniform_average", "raw_values"]
Score: TypeAlias = float | np.ndarray
"""A metric's value: the mean over dimensions, or one value per dimension (``raw_values``)."""


def _per_dimension(
    function: Callable[[np.ndarray, np.ndarray], float],
    y_true: object,
    y_pred: object,
    multioutput: Multioutput,
) -> Score:
    if multioutput not in ("uniform_average", "raw_values"):
        raise ValueError(
            f"multioutput={multioutput!r} is not supported; use 'uniform_average' "
            "(mean over dimensions) or 'raw_values' (one value per dimension)"
        )
    true, pred = value_arrays(y_true, y_pred)
    values = np.array([function(true[:, d], pred[:, d]) for d in range(true.shape[1])])
    return values if multioutput == "raw_values" else float(values.mean())


def _ccc(true: np.ndarray, pred: np.ndarray) -> float:
    if len(true) < 2 or (np.ptp(true) == 0 and np.ptp(pred) == 0):
        return float("nan")
    return float(audmetric.concordance_cc(true, pred))


def _pcc(true: np.ndarray, pred: np.ndarray) -> float:
    if len(true) < 2 or np.ptp(true) == 0 or np.ptp(pred) == 0:
        return float("nan")
    return float(audmetric.pearson_cc(true, pred))


def _rmse(true: np.ndarray, pred: np.ndarray) -> float:
    return float(skm.root_mean_squared_error(true, pred))


def ccc(y_true: object, y_pred: object, multioutput: Multioutput = "uniform_average") -> Score:
    """Concordance correlation coefficient (Lin, 1989).

    ``2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))**2)`` with population
    (ddof=0) moments. 1 is perfect agreement; it penalises bias and scale, unlike r.

    Example:
        >>> ccc([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
        1.0
    """
    return _per_dimension(_ccc, y_true, y_pred, multioutput)


def pcc(y_true: object, y_pred: object, multioutput: Multioutput = "uniform_average") -> Score:
    """Pearson correlation coefficient ``cov(x, y) / (std(x) std(y))``.

    Example:
        >>> round(pcc([1.0, 2.0, 3.0], [2.0, 4.0, 7.0]), 4)
        0.9934
    """
    return _per_dimension(_pcc, y_true, y_pred, multioutput)


def rmse(y_true: object, y_pred: object, multioutput: Multioutput = "uniform_average") -> Score:
    """Root mean squared error ``sqrt(mean((y - x)**2))``; lower is better.

    Example:
        >>> round(rmse([0.0, 0.0], [3.0, 4.0]), 4)
        3.5355
    """
    return _per_dimension(_rmse, y_true, y_pred, multioutput)
