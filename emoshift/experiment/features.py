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
    """Extract (or read from the cache) features and normalise them per domain.

    Rows whose audio gave no features are dropped from the returned table (they are
    named in a :class:`~emoshift.features.SkippedFilesWarning`).

    Returns:
        ``(table_kept, X)``: the table rows that have features and, for functionals, a
        float32 matrix with one row each; for frame-level features (``logmel``) an
        object array of ``(frames, 41)`` arrays. Values are normalised with the
        statistics of the row's ``domain_column``.
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
    domains = kept[domain_column].to_numpy()
    features = result.features
    if isinstance(features, pd.DataFrame):
        values = features.to_numpy(dtype=np.float64)
        if normalisation != "none":
            values = normalise_per_domain(values, domains, normalisation)
        return kept, np.asarray(values, dtype=np.float32)
    return kept, _normalise_frames(features, domains, normalisation)


def _normalise_frames(
    sequences: list[np.ndarray], domains: np.ndarray, normalisation: str
) -> np.ndarray:
    """Frame-level features normalised with the statistics of all frames of each domain.

    Returns a 1-D object array of ``(T_i, F)`` float32 arrays (the sequence input the
    neural methods take with ``encoder="cnn_gru"``).
    """
    lengths = [len(s) for s in sequences]
    frames = np.concatenate(sequences).astype(np.float64)
    if normalisation != "none":
        frame_domains = np.repeat(domains, lengths)
        frames = normalise_per_domain(frames, frame_domains, normalisation)
    out = np.empty(len(sequences), dtype=object)
    bounds = np.cumsum([0, *lengths])
    for i in range(len(sequences)):
        out[i] = np.asarray(frames[bounds[i] : bounds[i + 1]], dtype=np.float32)
    return out
