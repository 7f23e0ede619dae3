"""2-D projections of learned representations: t-SNE, and UMAP when it is installed.

A run stores, for trial 0 of each variant, pair and condition, the representation of each
shared layer on up to 400 source and target test examples (``artifacts/<key>.npz`` with
arrays ``layer_0``, ``layer_1``, ..., ``domain`` and ``label``). :func:`load_embeddings`
reads one such file and :func:`project` maps a layer to two dimensions for
:func:`emoshift.report.figures.embedding_scatter_figure`.

t-SNE runs single-threaded: on a busy two-core laptop, OpenMP threads that spin while
waiting for a core made it ten times slower than one thread, which takes a few seconds
for 400 points.

Example:
    >>> rng = np.random.default_rng(0)
    >>> points = project(rng.normal(size=(50, 8)), "tsne")
    >>> points.shape
    (50, 2)
    >>> "tsne" in projection_methods()
    True
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emoshift.runfolder import METADATA_PREFIX

MAX_POINTS = 400
"""At most this many points are projected (the run stores no more)."""

TSNE_ITERATIONS = 500
"""Optimisation steps of t-SNE: enough for a stable picture of 400 points, half the
default time."""

PROJECTION_NAMES = {"tsne": "t-SNE", "umap": "UMAP"}
"""Display name of each projection method."""

_LAYER = re.compile(r"layer_(\d+)")


@dataclass(frozen=True)
class Embeddings:
    """The stored representations of one trial: ``layers`` maps ``layer_<i>`` (in order)
    to an ``(n, d)`` array; ``domain`` holds n codes (0 = source, 1 = target); ``label``
    n class names, or numbers for regression; ``metadata`` maps a corpus-table column to
    the n rows' values as text (empty for files written before runs stored them)."""

    layers: dict[str, np.ndarray]
    domain: np.ndarray
    label: np.ndarray
    metadata: dict[str, np.ndarray] = field(default_factory=dict)


def load_embeddings(path: str | os.PathLike) -> Embeddings:
    """Read an ``artifacts/<key>.npz`` file of a run, checking its arrays agree.

    Example:
        >>> import tempfile, pathlib
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "trial.npz"
        >>> np.savez(file, layer_1=np.ones((3, 2)), layer_0=np.zeros((3, 4)),
        ...          domain=np.array([0, 1, 1]), label=np.array(["anger", "sad", "sad"]))
        >>> list(load_embeddings(file).layers)
        ['layer_0', 'layer_1']
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"embeddings file {file} does not exist")
    try:
        with np.load(file, allow_pickle=False) as arrays:
            stored = {name: arrays[name] for name in arrays.files}
    except ValueError as error:
        raise ValueError(
            f"{file}: cannot read its arrays without pickle ({error}); save labels as a "
            "string or float array, not objects"
        ) from error
    missing = [name for name in ("domain", "label") if name not in stored]
    layer_names = sorted(
        (name for name in stored if _LAYER.fullmatch(name)), key=lambda n: int(n[6:])
    )
    if missing or not layer_names:
        raise ValueError(
            f"{file} holds {sorted(stored)}; it needs 'domain', 'label' and at least one "
            "'layer_<i>' array"
        )
    domain, label = stored["domain"].astype(int), stored["label"]
    n = len(domain)
    metadata = [name for name in stored if name.startswith(METADATA_PREFIX)]
    for name in ("label", *metadata, *layer_names):
        array = stored[name]
        if len(array) != n or (name in layer_names and array.ndim != 2):
            raise ValueError(
                f"{file}: {name} has shape {array.shape} but 'domain' has {n} rows; each "
                "layer must be (n, features) and 'label' and 'meta_<column>' hold n values"
            )
    return Embeddings(
        {name: stored[name] for name in layer_names},
        domain,
        label,
        {name[len(METADATA_PREFIX) :]: stored[name].astype(str) for name in metadata},
    )


def umap_available() -> bool:
    """Whether ``umap-learn`` is installed (``pip install 'emoshift[umap]'``)."""
    return importlib.util.find_spec("umap") is not None


def projection_methods() -> tuple[str, ...]:
    """The projections available here: ``("tsne",)`` plus ``"umap"`` when installed."""
    return ("tsne", "umap") if umap_available() else ("tsne",)


def project(features: object, method: str = "tsne", *, random_state: int = 0) -> np.ndarray:
    """Project ``(n, d)`` features (3 <= n <= :data:`MAX_POINTS`) to ``(n, 2)``.

    ``"tsne"``: :class:`sklearn.manifold.TSNE` with ``init="pca"``, perplexity
    ``min(30, (n - 1) / 3)`` so that small samples work, fixed ``random_state``.
    ``"umap"``: ``umap.UMAP`` with ``n_neighbors=min(15, n - 1)``.
    """
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-D (n, d) array, got shape {x.shape}")
    n = len(x)
    if not 3 <= n <= MAX_POINTS:
        raise ValueError(f"project needs between 3 and {MAX_POINTS} points, got {n}")
    if not np.isfinite(x).all():
        raise ValueError("features hold NaN or infinite values; the model diverged")
    if method == "tsne":
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        tsne = TSNE(
            perplexity=min(30.0, (n - 1) / 3),
            init="pca" if x.shape[1] >= 2 else "random",
            random_state=random_state,
            max_iter=TSNE_ITERATIONS,
            n_jobs=1,
        )
        with threadpool_limits(1):
            return tsne.fit_transform(x)
    if method == "umap":
        if not umap_available():
            raise ValueError("UMAP needs umap-learn: pip install 'emoshift[umap]'")
        import umap

        reducer = umap.UMAP(n_neighbors=min(15, n - 1), random_state=random_state)
        return np.asarray(reducer.fit_transform(x))
    raise ValueError(f"unknown projection {method!r}; use one of {list(PROJECTION_NAMES)}")
