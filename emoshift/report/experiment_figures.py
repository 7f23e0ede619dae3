"""The figures of an experiment report, drawn from its finished trials.

Per pair: the primary metric against the protocol's condition (k or size), confusion
matrices summed over trials, domain-classifier accuracy over epochs, and t-SNE (and UMAP
when installed) of each shared layer of the baseline beside each adapted model, for the
pairs and variants of a :class:`~emoshift.report.figure_scope.FigureScope`. Projections
come from a :class:`~emoshift.report.projection_cache.ProjectionCache` when an earlier
report computed them. Each figure is a PNG in the report's ``figures`` folder, collected
by section in a :class:`FigureSet`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import product
from pathlib import Path

import numpy as np

from emoshift.report.embeddings import (
    PROJECTION_NAMES,
    Embeddings,
    load_embeddings,
    project,
    projection_methods,
)
from emoshift.report.figure_scope import FigureScope
from emoshift.report.figures import (
    confusion_matrix_figure,
    domain_accuracy_figure,
    embedding_scatter_figure,
    metric_curve_figure,
)
from emoshift.report.projection_cache import ProjectionCache, sample_rows
from emoshift.report.trial_tables import condition_text, first_condition

CONDITION_AXES = {
    "k": "labelled target examples per class (k)",
    "size": "fraction of the training sample (size)",
}


class FigureSet:
    """Collects figures by section; file names are numbered so they never collide, and
    the numbered figures of an earlier report in the same folder are removed first."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.groups: dict[str, dict[str, Path]] = {}
        for stale in directory.glob("[0-9][0-9][0-9]_*.png"):  # from an earlier report
            stale.unlink()

    def path(self, stem: str) -> Path:
        count = sum(len(group) for group in self.groups.values())
        slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:60]
        return self.directory / f"{count + 1:03d}_{slug}.png"

    def add(self, section: str, caption: str, path: Path) -> None:
        self.groups.setdefault(section, {})[caption] = path


def _curve_figures(
    trials: Sequence[dict], metric: str, axis: str, figures: FigureSet, section: str
) -> None:
    for pair in dict.fromkeys(t["pair"] for t in trials):
        curves: dict[str, dict[float, list[float]]] = {}
        for t in trials:
            if t["pair"] == pair and t.get(axis) is not None:
                points = curves.setdefault(t["variant"], {})
                points.setdefault(t[axis], []).append(float(t["metrics"][metric]))
        caption = (
            f"{metric.upper()} on target test data against the {CONDITION_AXES[axis]}, "
            f"{pair}: mean ± std over trials"
        )
        path = metric_curve_figure(
            curves,
            figures.path(f"curve {pair}"),
            xlabel=CONDITION_AXES[axis],
            ylabel=metric.upper(),
            title=pair,
        )
        figures.add(section, caption, path)


def _confusion_figures(
    trials: Sequence[dict], conditions: Sequence[str], figures: FigureSet, section: str
) -> None:
    for pair in dict.fromkeys(t["pair"] for t in trials):
        chosen = [t for t in first_condition(trials, pair) if t.get("confusion") is not None]
        for variant in dict.fromkeys(t["variant"] for t in chosen):
            members = [t for t in chosen if t["variant"] == variant]
            labels = members[0].get("labels")
            if any(t.get("labels") != labels for t in members) or not labels:
                raise ValueError(
                    f"{variant}, {pair}: trials disagree on the confusion matrix labels "
                    f"({sorted({str(t.get('labels')) for t in members})}); every trial of a "
                    "cell must use the same label list"
                )
            total = np.sum([np.asarray(t["confusion"]) for t in members], axis=0)
            where = ", ".join(filter(None, [pair, condition_text(members[0], conditions)]))
            caption = (
                f"Confusion matrix of {variant}, {where}: target test counts summed over "
                f"{len(members)} trial(s)"
            )
            path = confusion_matrix_figure(
                total, labels, figures.path(f"confusion {variant} {pair}"), title=variant
            )
            figures.add(section, caption, path)


def _domain_figures(
    trials: Sequence[dict], conditions: Sequence[str], figures: FigureSet, section: str
) -> None:
    for pair in dict.fromkeys(t["pair"] for t in trials):
        chosen = first_condition(trials, pair)
        histories: dict[str, list] = {}
        for t in chosen:
            if any("domain_acc" in key for entry in t.get("history") or [] for key in entry):
                histories.setdefault(t["variant"], []).append(t["history"])
        if not histories:
            continue
        where = ", ".join(filter(None, [pair, condition_text(chosen[0], conditions)]))
        caption = (
            f"Domain-classifier accuracy over epochs, {where}: mean ± std over trials "
            "(0.5 = chance for two domains)"
        )
        path = domain_accuracy_figure(histories, figures.path(f"domain {pair}"), title=pair)
        figures.add(section, caption, path)


class _StoredEmbeddings:
    """The embedding files of a run, each read once, and their 2-D projections on a sample
    of ``points`` rows (drawn with seed 0), each computed once and kept in ``cache``."""

    def __init__(self, run_dir: Path, cache: ProjectionCache, points: int) -> None:
        self.run_dir = run_dir
        self.cache = cache
        self.sample_size = points
        self.loaded: dict[str, Embeddings] = {}
        self.missing: list[str] = []
        self._projected: dict[tuple[str, str, str], tuple] = {}

    def load(self, trial: Mapping[str, object]) -> Embeddings | None:
        """The embeddings of ``trial``, or ``None`` (noted as missing) when the file is gone."""
        relative = str(trial["embeddings"])
        if relative not in self.loaded:
            try:
                self.loaded[relative] = load_embeddings(self.run_dir / relative)
            except FileNotFoundError:
                self.missing.append(relative)
                return None
        return self.loaded[relative]

    def coloured(self, relative: str, layer: str, method: str, column: str) -> tuple | None:
        """:meth:`points` with each row's ``column`` value (corpus-table metadata the run
        stored) in place of its label; ``ValueError`` naming the stored columns when the
        file has no such column."""
        drawn = self.points(relative, layer, method)
        if drawn is None:
            return None
        stored = self.loaded[relative]
        if column not in stored.metadata:
            raise ValueError(
                f"--colour-by {column}: {relative} stores no such column (it has "
                f"{sorted(stored.metadata) or 'none: a run made before metadata was stored'}); "
                "choose one of those or re-run the trials"
            )
        rows = sample_rows(len(stored.domain), self.sample_size)
        return drawn[0], drawn[1], stored.metadata[column][rows]

    def points(self, relative: str, layer: str, method: str) -> tuple | None:
        """``(2-D points, domain, label)`` of ``layer``, or ``None`` when the file lacks it."""
        stored = self.loaded[relative]
        if layer not in stored.layers:
            return None
        if (relative, layer, method) not in self._projected:
            key = self.cache.key(self.run_dir / relative, layer, method, self.sample_size)
            rows = sample_rows(len(stored.domain), self.sample_size)
            points = self.cache.load(key, rows)
            if points is None:
                points = np.float32(project(stored.layers[layer][rows], method))
                self.cache.save(key, points, rows)
            self._projected[relative, layer, method] = (
                points,
                stored.domain[rows],
                stored.label[rows],
            )
        return self._projected[relative, layer, method]


def _panels(
    chosen: Sequence[dict], reference: str | None, stored: _StoredEmbeddings
) -> tuple[dict[str, dict], list[list[str]]]:
    """The first trial with embeddings of each variant, and the figures to draw: each
    adapted variant of ``chosen`` beside the baseline (or alone without one; the baseline
    alone when it is the only variant)."""
    first_trial: dict[str, dict] = {}
    for t in sorted(chosen, key=lambda t: t["trial"]):
        if t["variant"] not in first_trial and stored.load(t) is not None:
            first_trial[t["variant"]] = t
    base = reference is not None and reference in first_trial
    others = [v for v in first_trial if v != reference]
    panels = [[reference, v] if base else [v] for v in others] or ([[reference]] if base else [])
    return first_trial, panels


def _embedding_figures(
    trials: Sequence[dict],
    stored: _StoredEmbeddings,
    reference: str | None,
    conditions: Sequence[str],
    figures: FigureSet,
    colour_by: Sequence[str] = (),
) -> None:
    """Per pair (first condition with artifacts): each adapted variant beside the baseline,
    one figure per shared layer and projection, and one more per ``colour_by`` column."""
    classification = trials[0].get("task", "classification") == "classification"
    label_name = "emotion" if classification else "label (first dimension)"
    colourings = [(label_name, None), *((column, column) for column in colour_by)]
    with_artifacts = [t for t in trials if t.get("embeddings")]
    for pair in dict.fromkeys(t["pair"] for t in with_artifacts):
        chosen = first_condition(with_artifacts, pair)
        first_trial, panels = _panels(chosen, reference, stored)
        where = ", ".join(filter(None, [pair, condition_text(chosen[0], conditions)]))
        for models in panels:
            artifacts = {v: str(first_trial[v]["embeddings"]) for v in models}
            layers = dict.fromkeys(n for a in artifacts.values() for n in stored.loaded[a].layers)
            for method in projection_methods():
                name = PROJECTION_NAMES[method]
                for layer, (colour_name, column) in product(layers, colourings):
                    caption = (
                        f"{name} of {layer} ({' vs '.join(artifacts)}), {where}: source and "
                        f"target test examples of trial {first_trial[models[-1]]['trial']}, "
                        f"coloured by domain (top) and {colour_name} (bottom)"
                    )
                    drawn = {
                        v: stored.points(a, layer, method)
                        if column is None
                        else stored.coloured(a, layer, method, column)
                        for v, a in artifacts.items()
                    }
                    path = embedding_scatter_figure(
                        drawn,
                        figures.path(f"{method} {models[-1]} {pair} {layer} {column or ''}"),
                        projection=name,
                        label_name=colour_name,
                        title=f"{layer}, {pair}",
                    )
                    figures.add(f"Representations ({name})", caption, path)


def draw_figures(
    ordered: Sequence[dict],
    run_dir: Path,
    reference: str | None,
    metric: str,
    conditions: Sequence[str],
    figures: FigureSet,
    notes: list[str],
    scope: FigureScope,
    cache: ProjectionCache,
) -> None:
    """The figures of ``ordered`` trials (see
    :func:`~emoshift.report.trial_tables.order_trials`) that ``scope`` asks for into
    ``figures``; notes on what was drawn go to ``notes``."""
    pairs = list(dict.fromkeys(t["pair"] for t in ordered))
    chosen_pairs = scope.chosen_pairs(pairs)
    chosen_variants = set(scope.chosen_variants(list(dict.fromkeys(t["variant"] for t in ordered))))
    in_scope = [t for t in ordered if t["pair"] in chosen_pairs]
    axis = next((c for c in conditions if len({t.get(c) for t in ordered}) > 1), None)
    if axis is not None:
        _curve_figures(in_scope, metric, axis, figures, f"{metric.upper()} against {axis}")
    drawn = chosen_variants | ({reference} if chosen_variants else set())
    panels = [t for t in in_scope if t["variant"] in drawn]
    _confusion_figures(
        [t for t in panels if t["variant"] in chosen_variants],
        conditions,
        figures,
        "Confusion matrices",
    )
    _domain_figures(in_scope, conditions, figures, "Domain-classifier accuracy")
    notes.append(_scope_note(chosen_pairs, pairs, scope))
    if not scope.embeddings or not any(t.get("embeddings") for t in panels):
        return
    stored = _StoredEmbeddings(run_dir, cache, scope.points)
    _embedding_figures(panels, stored, reference, conditions, figures, scope.colour_by)
    _embedding_notes(stored, notes)


def _scope_note(chosen: Sequence[str], pairs: Sequence[str], scope: FigureScope) -> str:
    """Which pairs have figures, and how to ask for others."""
    drawn = f"{len(chosen)} of {len(pairs)} pair(s) ({', '.join(chosen) or 'none'})"
    variants = "all" if scope.variants == ("all",) else ", ".join(scope.variants) or "none"
    return (
        f"Per-pair figures are drawn for {drawn}; confusion matrices and embeddings for "
        f"variants: {variants}. The tables cover every pair. 'emoshift report RUN_DIR "
        "--figure-pairs all' (or pair names, and --figure-variants) draws others."
    )


def _embedding_notes(stored: _StoredEmbeddings, notes: list[str]) -> None:
    """What the projections show and where they came from."""
    if stored.missing:
        notes.append(
            f"Embedding files listed in results.jsonl but missing: {', '.join(stored.missing)}."
        )
    notes.append(
        f"t-SNE: each model's layer projected on its own, on at most {stored.sample_size} of "
        "its stored source and target rows (drawn with seed 0; PCA initialisation, "
        "perplexity min(30, (n - 1) / 3), random_state 0), so axes are not comparable "
        "between panels; only the grouping of points is. Projections are kept in the run "
        "folder's projections/ and read back by the next report."
    )
    if "umap" not in projection_methods():
        notes.append("UMAP skipped: umap-learn is not installed (pip install 'emoshift[umap]').")
