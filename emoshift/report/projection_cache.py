"""2-D projections of a run's stored embeddings, computed once and kept in the run folder.

A projection (t-SNE or UMAP of one layer of one ``artifacts/<key>.npz``, on a sample of
its rows) is what makes a report slow. :class:`ProjectionCache` stores each one as
``RUN_DIR/projections/<hash>.npz`` (arrays ``points`` and ``rows``, read without pickle
and only once their headers fit the sample), named by a hash of everything that decides
it: the artifact file's bytes, the layer, the method, the sample size and the projection
settings. A second report of the same run
reads them back and projects nothing; a changed artifact or sample size misses.

Example:
    >>> import tempfile, pathlib
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> np.savez(run / "a.npz", layer_0=np.zeros((5, 2)))
    >>> cache = ProjectionCache(run / "projections")
    >>> key = cache.key(run / "a.npz", "layer_0", "tsne", 3)
    >>> rows = np.array([0, 2, 4])
    >>> cache.load(key, rows) is None
    True
    >>> cache.save(key, np.ones((3, 2)), rows)
    >>> cache.load(key, rows).shape, cache.load(key, np.array([0, 1, 2])) is None
    ((3, 2), True)
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np

from emoshift.report.embeddings import TSNE_ITERATIONS
from emoshift.runfolder import warn

FORMAT = 1
"""Bumped when what a cached projection holds, or how it is computed, changes."""


def sample_rows(n: int, points: int, seed: int = 0) -> np.ndarray:
    """At most ``points`` of ``n`` row indices, drawn without replacement with ``seed``,
    in ascending order (all of them when ``n <= points``).

    Example:
        >>> sample_rows(10, 4).tolist(), sample_rows(3, 4).tolist()
        ([2, 4, 5, 7], [0, 1, 2])
    """
    rows = np.arange(n)
    if n <= points:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, points, replace=False))


def _unlike_a_sample(path: Path, n_rows: int) -> str | None:
    """What in the array headers of ``path`` does not fit a projection of ``n_rows``
    rows, or ``None``. Only the headers are read, so a crafted one (a huge shape) is
    refused before any memory is allocated for it."""
    expected = {"points": ((n_rows, 2), "f"), "rows": ((n_rows,), "iu")}
    with zipfile.ZipFile(path) as archive:
        for name, (shape, kinds) in expected.items():
            with archive.open(f"{name}.npy") as member:
                version = np.lib.format.read_magic(member)
                reader = np.lib.format.read_array_header_1_0
                if version != (1, 0):
                    reader = np.lib.format.read_array_header_2_0
                stored, _, dtype = reader(member)
            if stored != shape or dtype.kind not in kinds:
                return f"{name} is a {dtype} array of shape {stored}, expected {shape}"
    return None


class ProjectionCache:
    """Projections stored as ``<directory>/<hash>.npz``; counts ``hits`` and ``misses``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.hits = 0
        self.misses = 0
        self.unwritable = False
        self._digests: dict[Path, str] = {}

    def key(self, artifact: Path, layer: str, method: str, points: int) -> str:
        """The hash that names the projection of ``layer`` of ``artifact`` by ``method``
        on a sample of ``points`` rows."""
        if artifact not in self._digests:
            self._digests[artifact] = hashlib.sha256(artifact.read_bytes()).hexdigest()
        settings = f"{self._digests[artifact]}|{layer}|{method}|{points}|{TSNE_ITERATIONS}"
        return hashlib.sha256(f"{settings}|seed 0|format {FORMAT}".encode()).hexdigest()[:32]

    def load(self, key: str, rows: np.ndarray) -> np.ndarray | None:
        """The points stored under ``key`` for the sample ``rows``, or ``None`` (counted
        as a miss) when absent, unreadable or stored for other rows (it is then computed
        and written again). An unreadable file, or one whose array headers do not fit the
        sample, is named in a warning; its arrays are never read."""
        path = self.directory / f"{key}.npz"
        if not path.is_file():
            self.misses += 1
            return None
        try:
            unlike = _unlike_a_sample(path, len(rows))
            if unlike is None:
                with np.load(path, allow_pickle=False) as arrays:
                    points, stored_rows = arrays["points"], arrays["rows"]
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
            unlike = f"unreadable ({error})"
        if unlike is not None:
            warn(f"cached projection {path}: {unlike}; it is computed again and replaced")
            self.misses += 1
            return None
        if not np.array_equal(stored_rows, rows):
            self.misses += 1
            return None
        self.hits += 1
        return points

    def save(self, key: str, points: np.ndarray, rows: np.ndarray) -> None:
        """Store a projection atomically (a killed report leaves no half-written file).
        A run folder that cannot be written (read-only, full) gets one warning and the
        report goes on without the cache."""
        if self.unwritable:
            return
        temporary = self.directory / f".{key}.{os.getpid()}.npz"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            np.savez(temporary, points=np.asarray(points, dtype=np.float32), rows=rows)
            os.replace(temporary, self.directory / f"{key}.npz")
        except OSError as error:
            self.unwritable = True
            warn(
                f"cannot keep projections in {self.directory} ({error}); the next report "
                "computes them again"
            )
