"""Features for a corpus table, normalised per domain, aligned with the table's rows.

Example:
    >>> import tempfile
    >>> from emoshift.data.synthetic import generate_preset
    >>> folder = tempfile.mkdtemp()
    >>> table = generate_preset(folder, "tiny", progress=False)
    >>> kept, X = table_features(table, "egemaps", domain_column="elicitation",
    ...                          cache_dir=folder + "/cache", n_jobs=1, progress=False)
    >>> X.shape == (len(kept), 88)
    True
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from emoshift.features import extract_features, normalise_per_domain

NORMALISATIONS = ("robust_z", "minmax", "none")


def table_features(
    table: pd.DataFrame,
    feature_set: str,
    *,
    domain_column: str = "corpus",
    normalisation: str = "robust_z",
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    on_error: str = "skip",
    progress: bool | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Extract (or read from the cache) functionals and normalise them per domain.

    Rows whose audio gave no features are dropped from the returned table (they are
    named in a :class:`~emoshift.features.SkippedFilesWarning`).

    Returns:
        ``(table_kept, X)``: the table rows that have features and a float32 matrix,
        one row each, normalised with the statistics of the row's ``domain_column``.
    """
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"normalisation={normalisation!r}; choose one of {NORMALISATIONS}")
    if domain_column not in table:
        raise ValueError(
            f"domain column {domain_column!r} is not in the table; columns: {list(table.columns)}"
        )
    result = extract_features(
        table,
        feature_set,
        cache_dir=cache_dir,
        n_jobs=n_jobs,
        on_error=on_error,
        progress=progress,
    )
    kept = table.loc[result.index]
    features = result.features
    if not isinstance(features, pd.DataFrame):
        raise ValueError(
            f"feature set {feature_set!r} gives frame-level features; table_features "
            "needs functionals (one vector per file)"
        )
    values = features.to_numpy(dtype=np.float64)
    if normalisation != "none":
        values = normalise_per_domain(values, kept[domain_column].to_numpy(), normalisation)
    return kept, np.asarray(values, dtype=np.float32)
