"""Input checks every method shares: feature matrices, frame sequences and labels.

Each check returns the checked value or raises ``ValueError`` naming the argument and
what is wrong with it (NaN cells, a wrong shape, missing or mixed labels), so that a
bad input never surfaces as a numpy ``TypeError`` deep inside training.

Example:
    >>> check_features([[1, 2], [3, 4]], "X").dtype
    dtype('float32')
    >>> try:
    ...     check_labels(["anger", None], "y")
    ... except ValueError as error:
    ...     print(error)
    y has 1 missing label(s) (None or NaN) at row(s) [1]; drop those rows or fill them in
"""

from __future__ import annotations

from numbers import Number

import numpy as np
import pandas as pd

from emoshift.methods.sequence import Sequences, as_sequences, float_matrix, is_sequence_input


def check_features(X: object, name: str) -> np.ndarray:
    """A finite 2-D float32 array, or a ValueError naming the argument and the bad cells."""
    columns = list(X.columns) if isinstance(X, pd.DataFrame) else None
    array = float_matrix(X, name, "examples x features")
    if len(array) == 0:
        raise ValueError(f"{name} is empty")
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.flatnonzero(bad.any(1))
        cols = np.flatnonzero(bad.any(0))
        col_names = [columns[c] for c in cols[:5]] if columns else cols[:5].tolist()
        raise ValueError(
            f"{name} has NaN or infinite values in {len(rows)} row(s) (first {rows[:5].tolist()}) "
            f"and {len(cols)} feature column(s) (first {col_names}); impute or drop them "
            "before fitting (emoshift.features reports files whose features failed)"
        )
    return array


def check_inputs(X: object, name: str) -> np.ndarray | Sequences:
    """A checked feature matrix, or checked :class:`Sequences` for sequence input."""
    if is_sequence_input(X):
        return as_sequences(X, name)
    return check_features(X, name)


def width(X: np.ndarray | Sequences) -> int | tuple[int, ...]:
    """Features per example: a matrix's columns, or each sequence stream's frame width."""
    return X.widths if isinstance(X, Sequences) else X.shape[1]


def check_width(X: np.ndarray | Sequences, fitted: object, name: str) -> None:
    """Raise a ValueError when ``X`` is not as wide as the data the model was fitted on."""
    if width(X) != fitted:
        raise ValueError(
            f"{name} has {width(X)} features, the model was fitted on {fitted}: pass the "
            "same feature columns (feature set and order) as in fit"
        )


def check_input_kind(X: np.ndarray | Sequences, encoder: str, name: str) -> None:
    """Feature matrices go with the MLP encoder, frame sequences with the CNN-GRU."""
    if isinstance(X, Sequences) and encoder != "cnn_gru":
        raise ValueError(
            f"{name} holds frame sequences, which encoder={encoder!r} cannot read: "
            "use encoder='cnn_gru' (or pass a 2-D feature matrix)"
        )
    if not isinstance(X, Sequences) and encoder == "cnn_gru":
        raise ValueError(
            f"{name} is a 2-D feature matrix, but encoder='cnn_gru' reads frame "
            "sequences: pass a list of (frames x features) arrays or Sequences, or use "
            "encoder='mlp'"
        )


def concat_inputs(parts: list[np.ndarray | Sequences]) -> np.ndarray | Sequences:
    """Rows of several inputs of one kind, in order."""
    if isinstance(parts[0], Sequences):
        return Sequences.concat(parts)
    return np.concatenate(parts)


def _kind(value: object) -> str:
    return "number" if isinstance(value, Number) else type(value).__name__


def check_labels(y: object, name: str, n_rows: int | None = None) -> np.ndarray:
    """1-D class labels of one type with none missing, as a numpy array.

    ``n_rows``, when given, is the number of feature rows the labels go with.
    """
    if y is None:
        raise ValueError(f"{name} is None: pass one class label per example")
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D class labels, got shape {labels.shape}")
    if n_rows is not None and len(labels) != n_rows:
        raise ValueError(f"{name} has {len(labels)} labels for {n_rows} feature rows")
    # inspect Python objects: np.asarray(["a", 1]) would silently make "1" a string
    values = labels if labels.dtype != object and isinstance(y, np.ndarray) else None
    values = np.asarray(y, dtype=object) if values is None else values
    if values.dtype == object or values.dtype.kind == "f":
        missing = np.flatnonzero(pd.isna(values))
        if len(missing):
            raise ValueError(
                f"{name} has {len(missing)} missing label(s) (None or NaN) at row(s) "
                f"{missing[:5].tolist()}; drop those rows or fill them in"
            )
    if values.dtype == object:
        kinds = sorted({_kind(v) for v in values.tolist()})
        if len(kinds) > 1:
            raise ValueError(
                f"{name} mixes label types {kinds}; use one type for every label (e.g. all strings)"
            )
    return labels
