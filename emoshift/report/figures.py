"""Figures saved as PNG with matplotlib's Agg canvas (no display, no pyplot state).

Each function draws one figure, writes it to ``path`` (parent folders are created) and
returns the path.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> confusion_matrix_figure([[5, 1], [2, 4]], ["anger", "neutral"], out / "cm.png").name
    'cm.png'
    >>> history = [{"epoch": e, "loss": 1 / e, "dev_loss": 1.2 / e} for e in range(1, 6)]
    >>> loss_curve_figure(history, out / "loss.png").read_bytes()[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from numbers import Real
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 120


def _save(figure: Figure, path: str | os.PathLike) -> Path:
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise ValueError(f"figure path {target} must end in .png")
    target.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(target, dpi=DPI, bbox_inches="tight", pad_inches=0.1)
    return target


def confusion_matrix_figure(
    matrix: object,
    labels: Sequence[str],
    path: str | os.PathLike,
    *,
    title: str | None = None,
) -> Path:
    """Two panels: counts and row-normalised proportions (per-class recall on the diagonal).

    ``matrix`` holds counts, rows = reference class, columns = predicted class, in
    ``labels`` order (as :func:`emoshift.metrics.confusion_matrix` returns it).
    """
    counts = np.asarray(matrix)
    n = len(labels)
    if counts.shape != (n, n):
        raise ValueError(
            f"matrix has shape {counts.shape} but {n} labels were given; pass a square "
            "count matrix with one row and column per label"
        )
    if counts.size and (counts.min() < 0 or not np.allclose(counts, np.round(counts))):
        raise ValueError("matrix must hold non-negative counts; pass the unnormalised matrix")
    counts = np.round(counts).astype(int)
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    size = max(4.0, 0.55 * n + 2.5)
    figure = Figure(figsize=(2 * size + 1, size), layout="constrained")
    panels = figure.subplots(1, 2)
    for axes, values, name, text in (
        (panels[0], counts, "counts", [[str(v) for v in row] for row in counts]),
        (panels[1], rates, "row-normalised", [[f"{v:.2f}" for v in row] for row in rates]),
    ):
        image = axes.imshow(values, cmap="Blues", vmin=0, vmax=max(values.max(), 1e-12))
        figure.colorbar(image, ax=axes, shrink=0.8)
        threshold = values.max() / 2
        for i in range(n):
            for j in range(n):
                colour = "white" if values[i, j] > threshold else "black"
                axes.text(j, i, text[i][j], ha="center", va="center", color=colour, fontsize=9)
        axes.set_xticks(range(n), labels, rotation=45, ha="right")
        axes.set_yticks(range(n), labels)
        axes.set_xlabel("predicted")
        axes.set_ylabel("reference")
        axes.set_title(name)
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def loss_curve_figure(
    history: Sequence[Mapping[str, object]],
    path: str | os.PathLike,
    *,
    title: str | None = None,
) -> Path:
    """Per-epoch curves of a training ``history`` (a list of dicts, one per epoch).

    Keys containing ``loss`` go on the left panel, other numeric keys (domain-classifier
    accuracy, lambda ...) on a right panel when there are any. ``dev_``/``val_`` curves
    are dashed in the colour of their training curve. The x axis is ``epoch`` when
    present, else 1, 2, ... Keys missing in some epochs leave gaps; non-numeric values
    (a stage name ...) are not plotted.
    """
    if not history:
        raise ValueError("history is empty; train for at least one epoch first")
    epochs = [entry.get("epoch", i + 1) for i, entry in enumerate(history)]
    keys = [
        key
        for key in dict.fromkeys(k for entry in history for k in entry)
        if key != "epoch"
        and any(isinstance(e.get(key), Real) and not isinstance(e.get(key), bool) for e in history)
    ]
    if not keys:
        raise ValueError(
            f"history has no numeric values to plot (keys: {sorted(history[0])}); "
            "record losses as numbers, e.g. {'epoch': 1, 'loss': 0.7}"
        )
    losses = [k for k in keys if "loss" in k]
    others = [k for k in keys if "loss" not in k]
    groups = [g for g in (losses, others) if g]
    figure = Figure(figsize=(6.0 * len(groups), 4.0), layout="constrained")
    panels = np.atleast_1d(figure.subplots(1, len(groups)))
    prefixes = ("dev_", "val_")
    bases = list(dict.fromkeys(k.removeprefix("dev_").removeprefix("val_") for k in keys))
    for axes, group in zip(panels, groups, strict=True):
        for key in group:
            values = [
                float(v) if isinstance(v := entry.get(key), Real) else np.nan for entry in history
            ]
            base = key.removeprefix("dev_").removeprefix("val_")
            axes.plot(
                epochs,
                values,
                "--" if key.startswith(prefixes) else "-",
                color=f"C{bases.index(base) % 10}",
                marker=".",
                label=key,
            )
        axes.set_xlabel("epoch")
        axes.set_ylabel("loss" if group is losses else "value")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    return _save(figure, path)
