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
    >>> curves = {"dann": {2: [0.50, 0.54], 4: [0.58, 0.60]}, "source_only": {2: [0.5], 4: [0.5]}}
    >>> metric_curve_figure(curves, out / "curve.png").name
    'curve.png'
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

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


def _mean_std(samples: Sequence[float]) -> tuple[float, float]:
    """Mean and sample std (ddof=1) of one point's trials; std 0 (no band) for one trial."""
    values = np.asarray(samples, dtype=float)
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return float(values.mean()), std


def metric_curve_figure(
    curves: Mapping[str, Mapping[float, Sequence[float]]],
    path: str | os.PathLike,
    *,
    xlabel: str = "labelled target examples per class (k)",
    ylabel: str = "UAR",
    title: str | None = None,
) -> Path:
    """A metric against a condition (k, sample size ...): mean line and ± std band per curve.

    ``curves`` maps a curve label (a method variant) to ``{x: per-trial values}``; the
    mean and sample standard deviation (ddof=1; no band for a single trial) are taken
    over the values at each ``x``. Up to 12 distinct x values each get a tick.
    """
    if not any(curves.values()):
        raise ValueError("curves is empty; pass {label: {x: [value per trial, ...]}}")
    figure = Figure(figsize=(7.0, 4.2), layout="constrained")
    axes = figure.subplots()
    for index, (label, points) in enumerate(curves.items()):
        if not points:
            continue
        xs = sorted(points)
        for x in xs:
            if len(points[x]) == 0:
                raise ValueError(f"curve {label!r} has no values at x={x}")
        means, stds = np.array([_mean_std(points[x]) for x in xs]).T
        colour = f"C{index % 10}"
        axes.plot(xs, means, "-o", color=colour, markersize=4, label=label)
        axes.fill_between(xs, means - stds, means + stds, color=colour, alpha=0.18, linewidth=0)
    conditions = sorted({x for points in curves.values() for x in points})
    if len(conditions) <= 12:
        axes.set_xticks(conditions, [f"{x:g}" for x in conditions])
    axes.set_xlabel(xlabel)
    axes.set_ylabel(f"{ylabel} (mean ± std)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    if title:
        axes.set_title(title)
    return _save(figure, path)


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _domain_acc_keys(histories: Mapping[str, Sequence[Sequence[Mapping[str, object]]]]) -> list:
    """The numeric history keys that hold a domain-classifier accuracy, first seen first."""
    keys = list(
        dict.fromkeys(
            key
            for runs in histories.values()
            for run in runs
            for entry in run
            for key, value in entry.items()
            if "domain_acc" in key and _is_number(value)
        )
    )
    if not keys:
        raise ValueError(
            "no history holds a numeric key containing 'domain_acc'; only adversarial "
            "methods record domain-classifier accuracy"
        )
    return keys


def _by_epoch(runs: Sequence[Sequence[Mapping[str, object]]], key: str) -> dict[float, list]:
    """The values of ``key`` in every run, by epoch (the ``epoch`` entry, else position)."""
    by_epoch: dict[float, list[float]] = {}
    for run in runs:
        for step, entry in enumerate(run):
            value = entry.get(key)
            if _is_number(value):
                by_epoch.setdefault(float(entry.get("epoch", step)), []).append(float(value))
    return by_epoch


def domain_accuracy_figure(
    histories: Mapping[str, Sequence[Sequence[Mapping[str, object]]]],
    path: str | os.PathLike,
    *,
    title: str | None = None,
) -> Path:
    """Domain-classifier accuracy over epochs: mean ± std over trials per variant and key.

    ``histories`` maps a variant label to its trials' training histories (one list of
    per-epoch dicts per trial). Every numeric key containing ``domain_acc`` is drawn, one
    colour per variant and one line style per key (e.g. ``domain_acc_source`` solid,
    ``domain_acc_target`` dashed); epochs are aligned by their ``epoch`` value (else
    position), so trials that stopped early count only where they ran. The dotted line
    at 0.5 is chance for a two-domain classifier: an adapted encoder pushes the curves
    towards it.

    Example:
        >>> import tempfile, pathlib
        >>> runs = [[{"epoch": e, "domain_acc_source": 0.9 - 0.05 * e} for e in range(5)]] * 2
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "domain.png"
        >>> domain_accuracy_figure({"dann": runs}, out).name
        'domain.png'
    """
    keys = _domain_acc_keys(histories)
    styles = ("-", "--", ":", "-.")
    figure = Figure(figsize=(7.5, 4.2), layout="constrained")
    axes = figure.subplots()
    for index, (variant, runs) in enumerate(histories.items()):
        for position, key in enumerate(keys):
            by_epoch = _by_epoch(runs, key)
            if not by_epoch:
                continue
            epochs = sorted(by_epoch)
            means, stds = np.array([_mean_std(by_epoch[e]) for e in epochs]).T
            colour = f"C{index % 10}"
            axes.plot(
                epochs,
                means,
                styles[position % len(styles)],
                color=colour,
                label=f"{variant}: {key}",
            )
            axes.fill_between(epochs, means - stds, means + stds, color=colour, alpha=0.12)
    axes.axhline(0.5, color="0.4", linestyle=":", linewidth=1, label="0.5 (chance, two domains)")
    axes.set_ylim(-0.02, 1.02)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("domain-classifier accuracy (mean ± std)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if title:
        axes.set_title(title)
    return _save(figure, path)


def embedding_scatter_figure(
    models: Mapping[str, tuple[object, Sequence[int], Sequence[object]] | None],
    path: str | os.PathLike,
    *,
    projection: str = "t-SNE",
    domain_names: Sequence[str] = ("source", "target"),
    label_name: str = "label",
    title: str | None = None,
) -> Path:
    """2-D embeddings side by side: one column per model, coloured by domain then by label.

    ``models`` maps a model name to ``(points, domain, label)``: ``points`` an ``(n, 2)``
    array (a t-SNE or UMAP projection), ``domain`` integer codes indexing
    ``domain_names``, ``label`` the class of each point (categorical, shared colours
    across columns, classes in sorted order) or a number (regression; one colour scale
    across columns). In the label row, marker shape shows the domain (circle = first
    domain, triangle = second). ``None`` instead of a tuple keeps the model's column,
    empty, with a note that it has no such representation (a shallower model).

    Example:
        >>> import tempfile, pathlib
        >>> rng = np.random.default_rng(0)
        >>> model = (rng.normal(size=(20, 2)), [0, 1] * 10, ["anger", "neutral"] * 10)
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "tsne.png"
        >>> embedding_scatter_figure({"source_only": None, "dann": model}, out).name
        'tsne.png'
    """
    data = _check_embeddings(models, domain_names)
    shown = [model for model in data.values() if model is not None]
    if not shown:
        raise ValueError("models holds no points; pass {name: (points, domain, label)}")
    colours = _LabelColours.of([values for _, _, values in shown])
    columns = len(data)
    figure = Figure(figsize=(4.2 * columns + 1.6, 8.0), layout="constrained")
    panels = np.asarray(figure.subplots(2, columns, squeeze=False))
    scatter = None
    for column, (name, model) in enumerate(data.items()):
        top, bottom = panels[0, column], panels[1, column]
        top.set_title(f"{name}: by domain", fontsize=10)
        bottom.set_title(f"{name}: by {label_name}", fontsize=10)
        for axes in (top, bottom):
            axes.set_xticks([])
            axes.set_yticks([])
            axes.set_xlabel(f"{projection} 1", fontsize=8)
            axes.set_ylabel(f"{projection} 2", fontsize=8)
        if model is None:
            for axes in (top, bottom):
                axes.text(0.5, 0.5, "no such layer", ha="center", va="center", color="0.4")
            continue
        drawn = _scatter_model(top, bottom, model, domain_names, colours)
        scatter = drawn if drawn is not None else scatter
    _embedding_legends(figure, panels, domain_names, colours, scatter, label_name)
    if title:
        figure.suptitle(title)
    return _save(figure, path)


_MARKERS = ("o", "^", "s", "D")
"""Marker shape of each domain code in the embedding figures."""


def _check_embeddings(
    models: Mapping[str, tuple[object, Sequence[int], Sequence[object]] | None],
    domain_names: Sequence[str],
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """``models`` as arrays, each checked: ``(n, 2)`` points with a valid domain code and a
    label per point."""
    data: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray] | None] = {}
    for name, model in models.items():
        if model is None:
            data[name] = None
            continue
        points, domain, label = model
        xy = np.asarray(points, dtype=float)
        codes = np.asarray(domain).astype(int)
        values = np.asarray(label)
        if xy.ndim != 2 or xy.shape[1] != 2 or not len(xy) == len(codes) == len(values):
            raise ValueError(
                f"model {name!r}: points must be (n, 2) with one domain and label per point, "
                f"got points {xy.shape}, {len(codes)} domains, {len(values)} labels"
            )
        if codes.size and (codes.min() < 0 or codes.max() >= len(domain_names)):
            raise ValueError(
                f"model {name!r}: domain codes {sorted(set(codes.tolist()))} do not index "
                f"domain_names {list(domain_names)}"
            )
        data[name] = (xy, codes, values)
    return data


@dataclass
class _LabelColours:
    """How labels are coloured across the columns of an embedding figure: one colour scale
    from ``low`` to ``high`` (numeric labels) or one colour per class in sorted order."""

    numeric: bool
    low: float = 0.0
    high: float = 1.0
    classes: tuple[str, ...] = ()

    @classmethod
    def of(cls, labels: Sequence[np.ndarray]) -> _LabelColours:
        if all(values.dtype.kind in "biuf" for values in labels):
            every = np.concatenate([values.astype(float) for values in labels])
            return cls(True, float(np.nanmin(every)), float(np.nanmax(every)))
        return cls(False, classes=tuple(sorted({str(v) for x in labels for v in x.tolist()})))


def _scatter_model(
    top: object,
    bottom: object,
    model: tuple[np.ndarray, np.ndarray, np.ndarray],
    domain_names: Sequence[str],
    colours: _LabelColours,
) -> object | None:
    """One model's column: points by domain (``top``) and by label (``bottom``, marker =
    domain); returns the numeric labels' scatter (for the colour bar), else ``None``."""
    xy, codes, values = model
    scatter = None
    text = np.array([str(v) for v in values.tolist()])
    for code, domain_name in enumerate(domain_names):
        mask = codes == code
        style = {"s": 14, "marker": _MARKERS[code % len(_MARKERS)], "linewidths": 0}
        top.scatter(*xy[mask].T, alpha=0.7, color=f"C{code % 10}", label=domain_name, **style)
        if colours.numeric:
            scatter = bottom.scatter(
                *xy[mask].T,
                c=values[mask].astype(float),
                cmap="viridis",
                vmin=colours.low,
                vmax=colours.high,
                alpha=0.8,
                **style,
            )
            continue
        for index, cls in enumerate(colours.classes):
            bottom.scatter(*xy[mask & (text == cls)].T, alpha=0.8, color=f"C{index % 10}", **style)
    return scatter


def _embedding_legends(
    figure: Figure,
    panels: np.ndarray,
    domain_names: Sequence[str],
    colours: _LabelColours,
    scatter: object | None,
    label_name: str,
) -> None:
    """The domain legend beside the top row; the class legend or colour bar beside the
    bottom row."""

    def handle(colour: str, marker: str, label: str) -> Line2D:
        return Line2D([], [], color=colour, marker=marker, linestyle="", label=label)

    legend = {"fontsize": 8, "loc": "center left", "bbox_to_anchor": (1.02, 0.5)}
    panels[0, -1].legend(
        handles=[
            handle(f"C{code % 10}", _MARKERS[code % len(_MARKERS)], domain_name)
            for code, domain_name in enumerate(domain_names)
        ],
        title="domain",
        **legend,
    )
    if colours.numeric:
        figure.colorbar(scatter, ax=panels[1, -1], label=label_name, shrink=0.8)
    else:
        panels[1, -1].legend(
            handles=[handle(f"C{i % 10}", "o", cls) for i, cls in enumerate(colours.classes)],
            title=label_name,
            **legend,
        )
