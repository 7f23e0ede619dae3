"""Input checks shared by the metrics: equal lengths, no missing values, finite floats."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def _array(values: object, name: str) -> np.ndarray:
    if isinstance(values, pd.Series | pd.Index):
        values = values.to_numpy()
    array = np.asarray(values)
    if array.ndim == 0:
        raise ValueError(f"{name} must be a sequence of values, got a scalar {values!r}")
    return array


def paired_arrays(y_true: object, y_pred: object) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as arrays of the same, non-zero length (``ValueError`` otherwise)."""
    true, pred = _array(y_true, "y_true"), _array(y_pred, "y_pred")
    if len(true) != len(pred):
        raise ValueError(
            f"y_true has {len(true)} values but y_pred has {len(pred)}; "
            "pass one prediction per reference value"
        )
    if len(true) == 0:
        raise ValueError("y_true and y_pred are empty; a metric needs at least one value")
    return true, pred


def label_arrays(
    y_true: object, y_pred: object, labels: Sequence[object] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Class labels as 1-D object arrays; missing labels or labels outside ``labels`` raise."""
    true, pred = paired_arrays(y_true, y_pred)
    if true.ndim != 1 or pred.ndim != 1:
        raise ValueError(
            f"class labels must be 1-D, got y_true of shape {true.shape} and y_pred of "
            f"shape {pred.shape}; pass one label per utterance"
        )
    true, pred = true.astype(object), pred.astype(object)
    for name, array in (("y_true", true), ("y_pred", pred)):
        missing = pd.isna(array)
        if missing.any():
            raise ValueError(
                f"{name} has {int(missing.sum())} missing label(s) (first at position "
                f"{int(np.flatnonzero(missing)[0])}); drop unlabelled utterances first"
            )
    if labels is not None:
        known = set(labels)
        if len(known) != len(list(labels)):
            raise ValueError(f"labels {list(labels)} contain duplicates; list each class once")
        for name, array in (("y_true", true), ("y_pred", pred)):
            unknown = sorted({str(v) for v in array if v not in known})
            if unknown:
                raise ValueError(
                    f"{name} holds label(s) {unknown} that are not in labels={list(labels)}; "
                    "add them to labels or map them to the shared label set"
                )
    return true, pred


def value_arrays(y_true: object, y_pred: object) -> tuple[np.ndarray, np.ndarray]:
    """Continuous values as 2-D float arrays (samples x dimensions) with finite entries."""
    true, pred = paired_arrays(y_true, y_pred)
    try:
        true, pred = true.astype(float), pred.astype(float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"regression metrics need numeric values: {error}") from error
    if true.shape != pred.shape:
        raise ValueError(
            f"y_true has shape {true.shape} but y_pred has shape {pred.shape}; "
            "pass one prediction per reference value and dimension"
        )
    if true.ndim > 2:
        raise ValueError(f"values must be 1-D or 2-D (samples x dimensions), got {true.shape}")
    for name, array in (("y_true", true), ("y_pred", pred)):
        bad = ~np.isfinite(array)
        if bad.any():
            raise ValueError(
                f"{name} has {int(bad.sum())} NaN or infinite value(s); drop or impute them "
                "before scoring"
            )
    return true.reshape(len(true), -1), pred.reshape(len(pred), -1)
