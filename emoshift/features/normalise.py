"""Per-domain (per-corpus) and per-speaker feature normalisation.

``robust_z``: for each domain and feature, the mean and standard deviation (``ddof=0``)
are computed from the domain's values that lie inside that feature's [5 %, 95 %]
quantile range (inclusive, linear interpolation); then ``z = (x - mean) / std``, values
with ``|z| > 10`` are set to 0, and a feature whose std is (numerically) zero maps to 0.

``z``: the plain z-score, ``z = (x - mean) / std`` with the mean and standard deviation
(``ddof=0``) of all the domain's values, nothing trimmed or zeroed (Chao et al. 2019,
Sec. 2.2, z-normalise each corpus).

``minmax``: each feature is scaled per domain so its minimum maps to -1 and its maximum
to +1 (a constant feature maps to 0). New data transformed with fitted statistics may
fall outside [-1, 1]; it is not clipped.

Per speaker (:func:`normalise_per_speaker`): the same statistics computed over each
speaker's rows within its domain (speaker ids are only unique within a domain). Rows whose
speaker is unknown (a missing or empty id), or whose speaker has fewer than
:data:`MIN_SPEAKER_ROWS` rows, are normalised with their domain's statistics (over all of
the domain's rows) instead. Speaker statistics read features only, never labels, so the
target speakers' own rows may be used, like the target domain's for per-domain statistics.

Example:
    >>> import numpy as np
    >>> X = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0], [10.0, 20.0], [20.0, 40.0]])
    >>> normalise_per_domain(X, ["a", "a", "a", "b", "b"], method="minmax")
    array([[-1.,  0.],
           [ 0.,  0.],
           [ 1.,  0.],
           [-1., -1.],
           [ 1.,  1.]])
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

Method = Literal["robust_z", "z", "minmax"]
Matrix: TypeAlias = pd.DataFrame | np.ndarray
"""Features, examples x features: what the normaliser takes and gives back."""
Domains: TypeAlias = Sequence[Hashable] | np.ndarray | pd.Series | None
"""One domain label per example (``None``: all examples form one domain)."""
METHODS: tuple[str, ...] = ("robust_z", "z", "minmax")
#: what the statistics are computed over: each row's domain, or its speaker
LEVELS: tuple[str, ...] = ("domain", "speaker")
#: a speaker with fewer rows is normalised with its domain's statistics (too few rows
#: for a trimmed mean and standard deviation)
MIN_SPEAKER_ROWS = 10
_ZERO_SCALE = 1e-12
_BLOCK = 256


@dataclass(frozen=True)
class DomainStats:
    """A domain's fitted statistics: ``transform(x) = (x - loc) / scale`` per feature.

    For ``robust_z`` ``loc``/``scale`` are the trimmed mean/std, for ``z`` the mean/std,
    for ``minmax`` the mid-range and half-range. ``scale`` is 0 where a feature is constant.
    """

    loc: np.ndarray
    scale: np.ndarray
    n_rows: int


def _check_finite(values: np.ndarray, columns: Sequence, rows: Sequence) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        bad_columns = [columns[j] for j in np.flatnonzero(bad.any(axis=0))]
        bad_rows = [rows[i] for i in np.flatnonzero(bad.any(axis=1))]
        raise ValueError(
            f"features contain NaN or infinite values in {len(bad_columns)} column(s) "
            f"{bad_columns[:10]}{' ...' if len(bad_columns) > 10 else ''} and "
            f"{len(bad_rows)} row(s) {bad_rows[:10]}{' ...' if len(bad_rows) > 10 else ''}; "
            "drop those rows (X.dropna()) or columns, or impute them (e.g. with the "
            "training median) before normalising, and check the extraction of those files"
        )


def _as_matrix(X: Matrix) -> tuple[np.ndarray, list, list]:
    if isinstance(X, pd.DataFrame):
        values = X.to_numpy(dtype=np.float64)
        columns, rows = list(X.columns), list(X.index)
    else:
        values = np.asarray(X, dtype=np.float64)
        if values.ndim != 2:
            raise ValueError(f"X must be a 2-D matrix (rows x features), got shape {values.shape}")
        columns = [f"column {j}" for j in range(values.shape[1])]
        rows = list(range(values.shape[0]))
    _check_finite(values, columns, rows)
    return values, columns, rows


def _as_domains(domains: Domains, n: int) -> np.ndarray:
    if domains is None:
        return np.zeros(n, dtype=np.int64)
    labels = np.asarray(domains, dtype=object)
    if labels.shape != (n,):
        raise ValueError(
            f"domains must hold one label per row of X ({n} rows), got shape {labels.shape}"
        )
    missing = pd.isna(labels)
    if missing.any():
        raise ValueError(
            f"domain labels are missing for rows {np.flatnonzero(missing)[:10].tolist()}; "
            "give every row a domain (e.g. its corpus)"
        )
    return labels


def _trimmed_mean_std(values: np.ndarray, quantiles: tuple[float, float]) -> tuple:
    """Per-column mean and std (ddof=0) of the values inside the column's quantile range."""
    low, high = np.quantile(values, quantiles, axis=0)
    inside = (values >= low) & (values <= high)
    count = inside.sum(axis=0)
    mean = np.where(inside, values, 0.0).sum(axis=0) / count
    return mean, np.sqrt(np.where(inside, (values - mean) ** 2, 0.0).sum(axis=0) / count)


def _fit_stats(values: np.ndarray, method: Method, quantiles: tuple[float, float]) -> DomainStats:
    if method == "robust_z":
        # column blocks bound the temporaries for wide sets (ComParE: 6373 columns)
        blocks = [
            _trimmed_mean_std(values[:, start : start + _BLOCK], quantiles)
            for start in range(0, values.shape[1], _BLOCK)
        ]
        loc = np.concatenate([mean for mean, _ in blocks])
        scale = np.concatenate([std for _, std in blocks])
    elif method == "z":
        loc, scale = values.mean(axis=0), values.std(axis=0)
    else:
        low, high = values.min(axis=0), values.max(axis=0)
        loc, scale = (high + low) / 2, (high - low) / 2
    scale = np.where(scale <= _ZERO_SCALE * (1.0 + np.abs(loc)), 0.0, scale)
    return DomainStats(loc=loc, scale=scale, n_rows=values.shape[0])


def _apply(values: np.ndarray, stats: DomainStats, method: Method, outlier_sd: float) -> np.ndarray:
    constant = stats.scale == 0
    scaled = (values - stats.loc) / np.where(constant, 1.0, stats.scale)
    scaled[:, constant] = 0.0
    if method == "robust_z":
        scaled[np.abs(scaled) > outlier_sd] = 0.0
    return scaled


class DomainNormaliser(TransformerMixin, BaseEstimator):
    """Per-domain normalisation as a scikit-learn style transformer.

    Args:
        method: ``"robust_z"`` (trimmed-statistics z-score with outliers zeroed),
            ``"z"`` (plain z-score) or ``"minmax"`` (to [-1, 1]).
        quantiles: the range of values used for the ``robust_z`` statistics.
        outlier_sd: ``robust_z`` values with larger magnitude are set to 0.

    Attributes (after ``fit``):
        stats_: ``{domain: DomainStats}``.
        feature_names_in_: column names when fitted on a DataFrame.

    Example:
        >>> import numpy as np
        >>> X = np.array([[1.0], [2.0], [3.0], [100.0], [200.0], [300.0]])
        >>> domains = ["a", "a", "a", "b", "b", "b"]
        >>> norm = DomainNormaliser(method="minmax").fit(X, domains)
        >>> norm.transform(X, domains).ravel().tolist()
        [-1.0, 0.0, 1.0, -1.0, 0.0, 1.0]
        >>> norm.transform(X[:1], ["c"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: domain 'c' was not fitted; fitted domains are ['a', 'b']...
    """

    def __init__(
        self,
        method: Method = "robust_z",
        quantiles: tuple[float, float] = (0.05, 0.95),
        outlier_sd: float = 10.0,
    ) -> None:
        self.method = method
        self.quantiles = quantiles
        self.outlier_sd = outlier_sd

    def _check_params(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, not {self.method!r}")
        low, high = self.quantiles
        if not 0 <= low < high <= 1:
            raise ValueError(f"quantiles must satisfy 0 <= low < high <= 1, got {self.quantiles}")

    def fit(self, X: Matrix, domains: Domains = None) -> DomainNormaliser:
        """Compute statistics per domain; ``domains=None`` treats all rows as one domain."""
        self._check_params()
        values, columns, _ = _as_matrix(X)
        labels = _as_domains(domains, values.shape[0])
        self.n_features_in_ = values.shape[1]
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.stats_ = {
            domain: _fit_stats(values[labels == domain], self.method, tuple(self.quantiles))
            for domain in pd.unique(labels)
        }
        return self

    def transform(self, X: Matrix, domains: Domains = None) -> Matrix:
        """Normalise each row with its domain's statistics; returns the type of ``X``."""
        if not hasattr(self, "stats_"):
            raise ValueError("this DomainNormaliser is not fitted yet; call fit(X, domains)")
        values, columns, _ = _as_matrix(X)
        if values.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {values.shape[1]} features, the normaliser was fitted on "
                f"{self.n_features_in_}"
            )
        if hasattr(self, "feature_names_in_") and isinstance(X, pd.DataFrame):
            if list(columns) != list(self.feature_names_in_):
                raise ValueError(
                    "X's columns differ from those seen in fit (names or order); select "
                    "X[normaliser.feature_names_in_]"
                )
        labels = _as_domains(domains, values.shape[0])
        unknown = [d for d in pd.unique(labels) if d not in self.stats_]
        if unknown:
            raise ValueError(
                f"domain {unknown[0]!r} was not fitted; fitted domains are "
                f"{sorted(self.stats_, key=str)}. Fit the normaliser on data that "
                "includes this domain (per-domain statistics need the domain's own rows)"
            )
        out = np.empty_like(values)
        for domain in pd.unique(labels):
            rows = labels == domain
            out[rows] = _apply(values[rows], self.stats_[domain], self.method, self.outlier_sd)
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(out, index=X.index, columns=X.columns)
        return out

    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The fitted normaliser as JSON-able settings and named arrays (for a model bundle).

        Domains are named by ``str(domain)``; their arrays are ``"<i>.loc"`` and
        ``"<i>.scale"`` for the ``i``-th domain of ``settings["domains"]``.

        Example:
            >>> import numpy as np
            >>> norm = DomainNormaliser().fit(np.arange(12.0).reshape(6, 2), list("aaabbb"))
            >>> settings, arrays = norm.to_state()
            >>> back = DomainNormaliser.from_state(settings, arrays)
            >>> bool((back.transform(np.ones((1, 2)), ["b"]) ==
            ...       norm.transform(np.ones((1, 2)), ["b"])).all())
            True
        """
        if not hasattr(self, "stats_"):
            raise ValueError("this DomainNormaliser is not fitted yet; call fit(X, domains)")
        names = [str(domain) for domain in self.stats_]
        if len(set(names)) != len(names):
            raise ValueError(f"domain names must differ as text to be saved: {names}")
        settings = {
            **self.get_params(),
            "quantiles": list(self.quantiles),
            "n_features": int(self.n_features_in_),
            "domains": {name: stats.n_rows for name, stats in zip(names, self.stats_.values())},
        }
        if hasattr(self, "feature_names_in_"):
            settings["feature_names"] = [str(c) for c in self.feature_names_in_]
        arrays = {}
        for i, stats in enumerate(self.stats_.values()):
            arrays[f"{i}.loc"], arrays[f"{i}.scale"] = stats.loc, stats.scale
        return settings, arrays

    @classmethod
    def from_state(cls, settings: dict, arrays: dict[str, np.ndarray]) -> DomainNormaliser:
        """The normaliser :meth:`to_state` described (domains named by text)."""
        normaliser = cls(
            method=settings["method"],
            quantiles=tuple(settings["quantiles"]),
            outlier_sd=float(settings["outlier_sd"]),
        )
        normaliser._check_params()
        n = int(settings["n_features"])
        normaliser.n_features_in_ = n
        if "feature_names" in settings:
            normaliser.feature_names_in_ = np.asarray(settings["feature_names"], dtype=object)
        normaliser.stats_ = {}
        for i, (name, n_rows) in enumerate(settings["domains"].items()):
            loc, scale = (
                np.asarray(arrays[f"{i}.{part}"], np.float64) for part in ("loc", "scale")
            )
            if loc.shape != (n,) or scale.shape != (n,):
                raise ValueError(
                    f"statistics of domain {name!r} have shapes {loc.shape} and {scale.shape}, "
                    f"not ({n},)"
                )
            normaliser.stats_[name] = DomainStats(loc=loc, scale=scale, n_rows=int(n_rows))
        return normaliser

    def fit_transform(self, X: Matrix, domains: Domains = None) -> Matrix:
        """``fit(X, domains)`` then ``transform(X, domains)``."""
        return self.fit(X, domains).transform(X, domains)


def normalise_per_domain(
    X: Matrix,
    domains: Domains,
    method: Method = "robust_z",
    *,
    quantiles: tuple[float, float] = (0.05, 0.95),
    outlier_sd: float = 10.0,
) -> Matrix:
    """Normalise ``X`` with statistics of each row's own domain (see the module doc).

    Example:
        >>> import numpy as np
        >>> z = normalise_per_domain(np.arange(20.0).reshape(10, 2), None)
        >>> bool(abs(z.mean()) < 1e-12)
        True
    """
    normaliser = DomainNormaliser(method=method, quantiles=quantiles, outlier_sd=outlier_sd)
    return normaliser.fit_transform(X, domains)


def speaker_groups(
    speakers: Sequence[Hashable] | np.ndarray | pd.Series,
    domains: Sequence[Hashable] | np.ndarray | pd.Series | None = None,
    *,
    min_rows: int = MIN_SPEAKER_ROWS,
) -> np.ndarray:
    """Each row's speaker group (a code >= 0, one per domain and speaker), or -1 where the
    row falls back to its domain: the speaker is unknown (missing or empty id) or has fewer
    than ``min_rows`` rows in its domain.

    Example:
        >>> speaker_groups(["a", "a", "b", None, "a"], ["x", "x", "x", "x", "y"], min_rows=2)
        array([ 0,  0, -1, -1, -1])
    """
    ids = np.asarray(speakers, dtype=object)
    labels = _as_domains(domains, len(ids))
    if ids.shape != labels.shape:
        raise ValueError(
            f"speakers must hold one id per row ({len(labels)} rows), got shape {ids.shape}"
        )
    if len(ids) == 0:
        return np.empty(0, dtype=np.int64)
    known = ~pd.isna(ids)
    known[known] = np.array([str(v).strip() != "" for v in ids[known]], dtype=bool)
    frame = pd.DataFrame({"domain": labels.astype(str), "speaker": ids.astype(str)})
    codes = frame.groupby(["domain", "speaker"], sort=False).ngroup().to_numpy()
    known &= np.bincount(codes[known], minlength=codes.max() + 1)[codes] >= min_rows
    groups = np.full(len(ids), -1, dtype=np.int64)
    groups[known] = pd.factorize(codes[known])[0]
    return groups


def normalise_by_group(
    X: np.ndarray,
    domains: Sequence[Hashable] | np.ndarray | pd.Series | None,
    groups: np.ndarray,
    method: Method = "robust_z",
    *,
    quantiles: tuple[float, float] = (0.05, 0.95),
    outlier_sd: float = 10.0,
) -> np.ndarray:
    """Rows with a group (``groups >= 0``) normalised with their group's statistics, the
    others (``-1``) with their domain's (computed over all the domain's rows)."""
    options = {"quantiles": quantiles, "outlier_sd": outlier_sd}
    out = normalise_per_domain(np.asarray(X, dtype=np.float64), domains, method, **options)
    grouped = np.asarray(groups) >= 0
    if grouped.any():
        values = np.asarray(X, dtype=np.float64)[grouped]
        out[grouped] = normalise_per_domain(values, groups[grouped], method, **options)
    return out


def normalise_per_speaker(
    X: np.ndarray,
    speakers: Sequence[Hashable] | np.ndarray | pd.Series,
    domains: Sequence[Hashable] | np.ndarray | pd.Series | None = None,
    method: Method = "robust_z",
    *,
    min_rows: int = MIN_SPEAKER_ROWS,
    quantiles: tuple[float, float] = (0.05, 0.95),
    outlier_sd: float = 10.0,
) -> np.ndarray:
    """Normalise each row with its speaker's statistics (see the module doc); rows of
    unknown or small speakers use their domain's.

    Example:
        >>> import numpy as np
        >>> X = np.array([[1.0], [3.0], [10.0], [30.0], [5.0]])
        >>> normalise_per_speaker(X, ["a", "a", "b", "b", None], method="minmax",
        ...                       min_rows=2).ravel().tolist()
        [-1.0, 1.0, -1.0, 1.0, -0.7241379310344828]
    """
    groups = speaker_groups(speakers, domains, min_rows=min_rows)
    return normalise_by_group(
        X, domains, groups, method, quantiles=quantiles, outlier_sd=outlier_sd
    )
