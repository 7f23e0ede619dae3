"""Features for a corpus table, normalised per domain (or per speaker), aligned with the
table's rows.

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
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from emoshift.features import extract_features, get_extractor, normalise_per_domain
from emoshift.features.normalise import (
    LEVELS,
    MIN_SPEAKER_ROWS,
    normalise_by_group,
    speaker_groups,
)

NORMALISATIONS = ("robust_z", "z", "minmax", "none")

#: FeaturesConfig fields that configure the ``ssl`` set, by SSLFeatures argument name
SSL_OPTIONS = ("model", "layers", "combine", "pooling", "chunk_seconds", "device", "batch_size")


def extractor_options(features: object, base_dir: str | os.PathLike = ".") -> dict:
    """The extractor options a :class:`~emoshift.experiment.config.FeaturesConfig` sets.

    A relative ``model`` path that exists under ``base_dir`` (the config file's folder)
    is taken from there; other names go to the extractor as they are.

    Example:
        >>> from emoshift.experiment.config import FeaturesConfig
        >>> extractor_options(FeaturesConfig(set="ssl", model="m", chunk_seconds=0))
        {'model': 'm', 'chunk_seconds': None}
        >>> extractor_options(FeaturesConfig(set="egemaps"))
        {}
    """
    given = {k: getattr(features, k) for k in SSL_OPTIONS if getattr(features, k) is not None}
    if str(features.set).lower() != "ssl":
        if given:
            raise ValueError(
                f"features.{next(iter(given))} applies to set: ssl only, not set: "
                f"{features.set}; remove it or set features.set: ssl"
            )
        return {}
    model = given.get("model")
    if model is not None and not os.path.isabs(os.path.expanduser(model)):
        local = Path(base_dir) / model
        given["model"] = str(local) if local.exists() else model
    if given.get("chunk_seconds") == 0:
        given["chunk_seconds"] = None
    return given


class SpeakerFallbackWarning(UserWarning):
    """Under ``features.level: speaker`` some rows use their domain's statistics (unknown
    or small speakers); the message counts them and names some."""


def checked_speaker_groups(speakers: pd.Series, domains: np.ndarray) -> np.ndarray:
    """:func:`~emoshift.features.normalise.speaker_groups` for ``level="speaker"``, which
    refuses when every row would fall back to its domain's statistics (the level would
    change nothing) and warns when some rows do."""
    groups = speaker_groups(speakers.to_numpy(dtype=object), domains)
    fallback = groups == -1
    if not fallback.any():
        return groups
    unknown = int(speakers.isna().sum() + (speakers.astype(str).str.strip() == "").sum())
    named = ", ".join(map(str, speakers[fallback & speakers.notna().to_numpy()].unique()[:5]))
    detail = (
        f"{int(fallback.sum())} of {len(groups)} rows ({unknown} without a speaker; "
        f"speakers with fewer than {MIN_SPEAKER_ROWS} rows in their domain: {named or 'none'})"
    )
    if fallback.all():
        raise ValueError(
            f"features.level: speaker, but no speaker has {MIN_SPEAKER_ROWS} rows or more in "
            f"its domain, so every row would use its domain's statistics: {detail}. Fill the "
            "table's 'speaker' column or set features.level: domain"
        )
    warnings.warn(
        SpeakerFallbackWarning(f"features.level: speaker: {detail} use their domain's statistics"),
        stacklevel=3,
    )
    return groups


def table_features(
    table: pd.DataFrame,
    feature_set: str,
    *,
    domain_column: str = "corpus",
    normalisation: str = "robust_z",
    level: str = "domain",
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    on_error: str = "skip",
    progress: bool | None = None,
    options: dict | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Extract (or read from the cache) features and normalise them per domain, or with
    ``level="speaker"`` per speaker (the table's ``speaker`` column; rows of unknown or
    small speakers use their domain's statistics, see
    :mod:`emoshift.features.normalise`).

    ``options`` go to the extractor (:func:`~emoshift.features.get_extractor`), e.g.
    ``{"model": FOLDER, "layers": -1}`` for ``ssl``.

    Rows whose audio gave no features are dropped from the returned table (they are
    named in a :class:`~emoshift.features.SkippedFilesWarning`).

    Returns:
        ``(table_kept, X)``: the table rows that have features and, for functionals, a
        float32 matrix with one row each; for frame-level features (``logmel``) an
        object array of ``(frames, 41)`` arrays. Values are normalised with the
        statistics of the row's ``domain_column`` (or its speaker's).
    """
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"normalisation={normalisation!r}; choose one of {NORMALISATIONS}")
    if level not in LEVELS:
        raise ValueError(f"features level={level!r}; choose one of {LEVELS}")
    if level == "speaker" and (normalisation == "none" or "speaker" not in table):
        raise ValueError(
            "features level='speaker' needs a normalisation (robust_z, z or minmax) and a "
            f"'speaker' column in the table (columns: {list(table.columns)})"
        )
    if domain_column not in table:
        raise ValueError(
            f"domain column {domain_column!r} is not in the table; columns: {list(table.columns)}"
        )
    result = extract_features(
        table,
        get_extractor(feature_set, **(options or {})),
        cache_dir=cache_dir,
        n_jobs=n_jobs,
        on_error=on_error,
        progress=progress,
    )
    kept = table.loc[result.index]
    domains = kept[domain_column].to_numpy()
    groups = None
    if level == "speaker":
        groups = checked_speaker_groups(kept["speaker"], domains)
    features = result.features
    if isinstance(features, pd.DataFrame):
        values = features.to_numpy(dtype=np.float64)
        if groups is not None:
            values = normalise_by_group(values, domains, groups, normalisation)
        elif normalisation != "none":
            values = normalise_per_domain(values, domains, normalisation)
        return kept, np.asarray(values, dtype=np.float32)
    return kept, _normalise_frames(features, domains, normalisation, groups)


def _normalise_frames(
    sequences: list[np.ndarray],
    domains: np.ndarray,
    normalisation: str,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Frame-level features normalised with the statistics of all frames of each domain
    (or, with ``groups``, of each speaker group; see :func:`table_features`).

    Returns a 1-D object array of ``(T_i, F)`` float32 arrays (the sequence input the
    neural methods take with ``encoder="cnn_gru"``).
    """
    lengths = [len(s) for s in sequences]
    frames = np.concatenate(sequences).astype(np.float64)
    frame_domains = np.repeat(domains, lengths)
    if groups is not None:
        frame_groups = np.repeat(groups, lengths)
        frames = normalise_by_group(frames, frame_domains, frame_groups, normalisation)
    elif normalisation != "none":
        frames = normalise_per_domain(frames, frame_domains, normalisation)
    out = np.empty(len(sequences), dtype=object)
    bounds = np.cumsum([0, *lengths])
    for i in range(len(sequences)):
        out[i] = np.asarray(frames[bounds[i] : bounds[i + 1]], dtype=np.float32)
    return out
