"""Metrics for speech emotion recognition, by function and by name.

Classification: UAR (``"uar"``), weighted accuracy (``"wa"``), macro-F1 (``"f1"``) and the
confusion matrix. Regression: CCC (``"ccc"``), Pearson r (``"pcc"``), RMSE (``"rmse"``).
:func:`score` computes several by name; :data:`METRICS` is the registry.

Example:
    >>> score(["anger", "neutral", "neutral"], ["anger", "anger", "neutral"], "classification")
    {'uar': 0.75, 'wa': 0.6666666666666666, 'f1': 0.6666666666666666}
    >>> result = score([[0.1, 0.5], [0.4, 0.2], [0.9, 0.7]], [[0.2, 0.4], [0.3, 0.3], [0.8, 0.6]],
    ...                "regression", ["ccc"], dimensions=["arousal", "valence"])
    >>> sorted(result)
    ['ccc', 'ccc_arousal', 'ccc_valence']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from emoshift.metrics.classification import confusion_matrix, macro_f1, uar, weighted_accuracy
from emoshift.metrics.regression import ccc, pcc, rmse

Task = Literal["classification", "regression"]
TASKS: tuple[str, ...] = ("classification", "regression")


@dataclass(frozen=True)
class Metric:
    """A registered metric: its name, task, function and direction."""

    name: str
    task: Task
    function: Callable[..., float | np.ndarray]
    greater_is_better: bool
    description: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("uar", "classification", uar, True, "unweighted average recall"),
        Metric("wa", "classification", weighted_accuracy, True, "weighted accuracy"),
        Metric("f1", "classification", macro_f1, True, "macro-averaged F1"),
        Metric("ccc", "regression", ccc, True, "concordance correlation coefficient"),
        Metric("pcc", "regression", pcc, True, "Pearson correlation coefficient"),
        Metric("rmse", "regression", rmse, False, "root mean squared error"),
    )
}
"""Registered metrics by name; names contain no underscore (see :func:`score` keys)."""

DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("uar", "wa", "f1"),
    "regression": ("ccc", "pcc", "rmse"),
}


def get_metric(name: str) -> Metric:
    """The registered metric called ``name``; ``KeyError`` lists the known names.

    Example:
        >>> get_metric("uar").greater_is_better
        True
    """
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known metrics are {sorted(METRICS)}") from None


def score(
    y_true: object,
    y_pred: object,
    task: Task,
    metrics: Sequence[str] | None = None,
    *,
    labels: Sequence[object] | None = None,
    dimensions: Sequence[str] | None = None,
) -> dict[str, float]:
    """Compute metrics by name and return ``{name: value}``.

    ``task`` is ``"classification"`` (default metrics uar, wa, f1; ``labels`` fixes the
    class set) or ``"regression"`` (default metrics ccc, pcc, rmse). For regression with
    several dimensions (2-D inputs) ``name`` holds the mean over dimensions and
    ``name_<dimension>`` each dimension's value; ``dimensions`` names them (default
    ``"0"``, ``"1"``, ...). Per-dimension keys also appear for 1-D input when
    ``dimensions`` is given.

    Example:
        >>> score([1.0, 2.0, 3.0], [1.0, 2.0, 2.0], "regression", ["rmse"])
        {'rmse': 0.5773502691896257}
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not supported; use one of {list(TASKS)}")
    names = DEFAULT_METRICS[task] if metrics is None else tuple(metrics)
    for name in names:
        metric = get_metric(name)
        if metric.task != task:
            raise ValueError(
                f"metric {name!r} is a {metric.task} metric and cannot score a {task} task; "
                f"{task} metrics are {[m for m in METRICS if METRICS[m].task == task]}"
            )
    result: dict[str, float] = {}
    if task == "classification":
        if dimensions is not None:
            raise ValueError("dimensions only applies to regression; drop it for classification")
        for name in names:
            result[name] = float(METRICS[name].function(y_true, y_pred, labels))
        return result
    if labels is not None:
        raise ValueError("labels only applies to classification; drop it for regression")
    for name in names:
        values = METRICS[name].function(y_true, y_pred, multioutput="raw_values")
        if dimensions is not None and len(dimensions) != len(values):
            raise ValueError(
                f"dimensions={list(dimensions)} names {len(dimensions)} dimension(s) but the "
                f"values have {len(values)}; name every column once"
            )
        result[name] = float(np.mean(values))
        if dimensions is not None or len(values) > 1:
            keys = dimensions if dimensions is not None else [str(d) for d in range(len(values))]
            result.update({f"{name}_{key}": float(v) for key, v in zip(keys, values)})
    return result


__all__ = [
    "DEFAULT_METRICS",
    "METRICS",
    "TASKS",
    "Metric",
    "Task",
    "ccc",
    "confusion_matrix",
    "get_metric",
    "macro_f1",
    "pcc",
    "rmse",
    "score",
    "uar",
    "weighted_accuracy",
]
