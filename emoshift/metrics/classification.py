"""Classification metrics: UAR, weighted accuracy, macro-F1 and the confusion matrix.

Labels may be strings or integers. ``labels`` fixes the class set and order; a label in
``y_true`` or ``y_pred`` outside it raises ``ValueError`` (nothing is dropped silently).

Which classes a score averages over:

* UAR averages the recall of the classes that occur in ``y_true`` (restricted to
  ``labels`` when given): recall is undefined for a class with no reference examples. A
  class that is never predicted has recall 0 and counts. Without ``labels`` this equals
  :func:`sklearn.metrics.balanced_accuracy_score`.
* Macro-F1 averages the F1 of the classes that occur in ``y_true`` or ``y_pred``; a class
  predicted but absent from the reference has F1 0. Classes in neither are skipped
  (their F1 is 0/0).

Example:
    >>> uar(["anger", "anger", "sadness", "sadness"], ["anger", "sadness", "sadness", "sadness"])
    0.75
    >>> weighted_accuracy([0, 0, 1, 1], [0, 1, 1, 1])
    0.75
    >>> confusion_matrix(["a", "b", "b"], ["a", "a", "b"], labels=["b", "a"]).tolist()
    [[1, 1], [0, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn import metrics as skm

from emoshift.metrics._validate import label_arrays


def _encode(
    y_true: object, y_pred: object, labels: Sequence[object] | None
) -> tuple[np.ndarray, np.ndarray, list[object]]:
    """Integer codes for both inputs and the class order (``labels``, else sorted union).

    Codes keep scikit-learn away from object arrays, whose label type it cannot infer.
    """
    true, pred = label_arrays(y_true, y_pred, labels)
    if labels is not None:
        classes = list(labels)
    else:
        classes = sorted({*true.tolist(), *pred.tolist()}, key=lambda v: (str(type(v)), v))
    code = {label: i for i, label in enumerate(classes)}
    return (
        np.array([code[v] for v in true.tolist()], dtype=int),
        np.array([code[v] for v in pred.tolist()], dtype=int),
        classes,
    )


def uar(y_true: object, y_pred: object, labels: Sequence[object] | None = None) -> float:
    """Unweighted average recall: the mean over classes of correct / reference count.

    Also called balanced accuracy. See the module docstring for the class set.

    Example:
        >>> uar([0, 0, 0, 1], [0, 0, 0, 0])
        0.5
    """
    true, pred, _ = _encode(y_true, y_pred, labels)
    present = np.unique(true)
    hits = np.bincount(true[true == pred], minlength=present[-1] + 1)[present]
    return float(np.mean(hits / np.bincount(true)[present]))  # as recall_score(macro) gives


def weighted_accuracy(
    y_true: object, y_pred: object, labels: Sequence[object] | None = None
) -> float:
    """Weighted accuracy (WA): the fraction of utterances classified correctly.

    The name is the SER literature's: accuracy weighted by class frequency, i.e. plain
    accuracy. ``labels`` only checks that every label is known.

    Example:
        >>> weighted_accuracy(["a", "b", "b"], ["a", "b", "a"])
        0.6666666666666666
    """
    true, pred, _ = _encode(y_true, y_pred, labels)
    return float(skm.accuracy_score(true, pred))


def macro_f1(y_true: object, y_pred: object, labels: Sequence[object] | None = None) -> float:
    """Macro-averaged F1: the unweighted mean of per-class F1 = 2PR / (P + R).

    Example:
        >>> round(macro_f1([0, 0, 1, 1], [0, 1, 1, 1]), 4)
        0.7333
    """
    true, pred, _ = _encode(y_true, y_pred, labels)
    present = np.union1d(true, pred)
    return float(skm.f1_score(true, pred, labels=present, average="macro", zero_division=0))


def confusion_matrix(
    y_true: object,
    y_pred: object,
    labels: Sequence[object] | None = None,
    *,
    normalize: bool = False,
) -> np.ndarray:
    """Confusion matrix, rows = reference class, columns = predicted class, in ``labels`` order.

    Without ``labels`` the order is the sorted union of both inputs. ``normalize=True``
    divides each row by its count, so the diagonal holds per-class recall; a row with no
    reference examples stays all zeros.

    Example:
        >>> confusion_matrix([0, 0, 1], [0, 1, 1], normalize=True).tolist()
        [[0.5, 0.5], [0.0, 1.0]]
    """
    true, pred, classes = _encode(y_true, y_pred, labels)
    counts = skm.confusion_matrix(true, pred, labels=np.arange(len(classes)))
    if not normalize:
        return counts
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
