"""The report of an experiment run folder: tables, significance, figures and one HTML page.

``emoshift run`` writes a run folder: ``results.jsonl`` (one line per finished trial,
append-only; when a trial is re-run the last line for its key counts), ``config.yaml``
and ``artifacts/<key>.npz`` (representations of each shared layer for trial 0 of each
variant, pair and condition). :func:`write_experiment_report` turns it into three
tables, each as ``.md``, ``.csv``, ``.json``, ``.tex`` and ``.html`` in ``report/``:
``results`` (one row per variant x pair x condition: mean and std of every metric over
trials, and a paired test against the config's baseline, Holm-corrected), ``wide``
(variants x pairs, marked for significance), ``per_class`` (recall and F1 of each class)
and, when a method chose hyper-parameters inside its fit, ``fitted`` (the choices
counted over trials), and when methods trained a domain classifier,
``domain_classifier`` (how well the fitted one tells the domains apart); and a
self-contained ``report/report.html`` (plus ``report.md``) with the tables, the metric
against the number of labelled target examples, confusion matrices, domain-classifier
accuracy over epochs, t-SNE (and UMAP when installed) of each shared layer for the
baseline and each adapted model side by side (for the pairs and variants of a
:class:`~emoshift.report.figure_scope.FigureScope`; projections cached in
``projections/``), the failed trials, and how models were selected. The tables are built
in :mod:`emoshift.report.trial_tables` and :mod:`emoshift.report.paper_tables`, the
figures drawn in :mod:`emoshift.report.experiment_figures`; this module reads the run
and assembles.

Example:
    >>> import json, tempfile, pathlib
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> lines = [{"key": f"{m}{t}", "status": "ok", "method": m, "variant": m,
    ...           "pair": "acted->spontaneous", "protocol": "cross_domain", "trial": t,
    ...           "metrics": {"uar": 0.5 + 0.1 * (m == "dann") + 0.01 * t * t}}
    ...          for m in ("source_only", "dann") for t in range(3)]
    >>> _ = (run / "results.jsonl").write_text("".join(json.dumps(x) + "\\n" for x in lines))
    >>> _ = (run / "config.yaml").write_text("name: demo\\nbaseline: source_only\\n")
    >>> report = write_experiment_report(run)
    >>> report.table[["variant", "n_trials", "uar_mean", "uar_diff"]].round(3).values.tolist()
    [['source_only', 3, 0.517, <NA>], ['dann', 3, 0.617, 0.1]]
    >>> report.html.relative_to(run).as_posix()
    'report/report.html'
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from emoshift.protocols import get_protocol
from emoshift.report.domain_tables import DOMAIN_CLASSIFIER_NOTE, domain_classifier_table
from emoshift.report.experiment_figures import FigureSet, draw_figures
from emoshift.report.figure_scope import FigureScope
from emoshift.report.html import write_report
from emoshift.report.paper_tables import legend, per_class_table, wide_table
from emoshift.report.pooled import pooled_table
from emoshift.report.projection_cache import ProjectionCache
from emoshift.report.selection_tables import (
    FITTED_NOTE,
    fitted_table,
    selection_notes,
    selection_table,
)
from emoshift.report.stats import WILCOXON_MIN_N
from emoshift.report.table_files import write_table_files
from emoshift.report.trial_tables import (
    ALPHA,
    CONDITIONS,
    FEW_MATCHED,
    TEST_COLUMNS,
    Comparison,
    baseline_variant,
    condition_columns,
    experiment_table,
    failures_table,
    order_trials,
    primary_metric,
)
from emoshift.runfolder import RunFolder, current, latest, read_lines, repeated, warn

REQUIRED_KEYS = {
    "ok": ("variant", "method", "pair", "trial", "metrics"),
    "error": ("variant", "method", "pair", "trial"),
}


@dataclass
class RunResults:
    """A run folder read back: finished ``trials`` and ``failures`` (the last line per
    trial key; lines that a re-run replaced are dropped), the parsed ``config`` (empty
    when ``config.yaml`` is absent) and the keys that had several lines (``rerun``)."""

    run_dir: Path
    trials: list[dict]
    failures: list[dict]
    config: dict
    rerun: list[str] = field(default_factory=list)


@dataclass
class ExperimentReport:
    """What :func:`write_experiment_report` wrote: the results ``table`` (one row per
    variant x pair x condition), the ``failures`` table, the ``html`` and ``markdown``
    pages, the ``tables`` files (table name -> suffix -> path: ``results``, ``wide``,
    ``per_class``, ``fitted`` when trials chose in fit, ``domain_classifier`` when
    trials recorded one, each ``md``, ``csv``, ``json``,
    ``tex``, ``html``), the ``figures``
    (caption -> PNG path), the ``notes`` shown on the page and the ``projections``
    (``computed`` and ``cached``: how many t-SNE/UMAP projections were computed and how
    many read back from the run folder)."""

    table: pd.DataFrame
    failures: pd.DataFrame
    html: Path
    markdown: Path
    tables: dict[str, dict[str, Path]]
    figures: dict[str, Path]
    notes: list[str]
    projections: dict[str, int] = field(default_factory=dict)


def read_run(run_dir: str | os.PathLike) -> RunResults:
    """Read ``results.jsonl`` (last line per key wins) and ``config.yaml`` of a run.

    Only the trials of ``plan.json`` (the config last run there) are read, so results of
    an earlier config in the same folder do not mix in. A torn line (a killed run) or a
    line that is not a result record is skipped with a warning on stderr naming the file
    and line (:mod:`emoshift.runfolder` holds these rules).

    Raises ``FileNotFoundError`` when the folder or its results file is missing and
    ``ValueError`` when no trial has finished or a record lacks what a result needs.
    """
    folder = RunFolder(run_dir)
    if not folder.results.is_file():
        raise FileNotFoundError(
            f"{folder.results} does not exist; pass the folder that 'emoshift run' wrote "
            "(it holds results.jsonl and config.yaml)"
        )
    lines = read_lines(folder.results)
    for problem in lines.problems:
        warn(problem)
    for record, number in zip(lines.records, lines.numbers, strict=True):
        _check_result(record, f"{folder.results}, line {number}")
    if not lines.records:
        raise ValueError(f"{folder.results} is empty; no trial has finished yet")
    plan = folder.read_plan()
    by_key = current(latest(lines.records), plan)
    if not by_key:
        raise ValueError(f"{folder.results} holds no finished trial of the plan in {folder.plan}")
    records = list(by_key.values())
    return RunResults(
        run_dir=folder.path,
        trials=[r for r in records if r["status"] == "ok"],
        failures=[r for r in records if r["status"] == "error"],
        config=folder.read_config(),
        rerun=[key for key in repeated(lines.records) if key in by_key],
    )


def _check_result(record: dict, where: str) -> None:
    """Raise ``ValueError`` naming ``where`` when ``record`` is not a usable result."""
    if record.get("status") not in ("ok", "error"):
        raise ValueError(f"{where}: status {record.get('status')!r} is neither 'ok' nor 'error'")
    required = REQUIRED_KEYS[record["status"]]
    missing = [k for k in required if k not in record]
    if missing or (record["status"] == "ok" and not record["metrics"]):
        raise ValueError(
            f"{where}: trial {record['key']} lacks {missing or ['metrics']}; a "
            f"{record['status']!r} result needs {list(required)}"
        )


def model_selection_note(protocol: str) -> str:
    """The sentence that states what model selection saw under ``protocol``.

    Example:
        >>> model_selection_note("split_10_40_50")
        'Model selection used only the 40% labelled target development split.'
    """
    return f"Model selection used only {get_protocol(protocol).model_selection}."


def _test_text(comparison: Comparison) -> str:
    """How the comparisons were tested, for the notes."""
    test = {
        "auto": f"Wilcoxon signed-rank test from {WILCOXON_MIN_N} matched trials, paired "
        "t-test below that",
        "wilcoxon": "Wilcoxon signed-rank test",
        "ttest": "paired t-test",
    }[comparison.test]
    side = {
        "two-sided": "two-sided",
        "greater": "one-tailed (variant > baseline)",
        "less": "one-tailed (variant < baseline)",
    }[comparison.alternative]
    matched = (
        f"; each variant against the baseline variant with the same {', '.join(comparison.match)}"
        if comparison.match
        else ""
    )
    return f"{test}, {side}{matched}"


def _baseline_sections(
    table: pd.DataFrame,
    reference: str | None,
    baseline: str | None,
    metric: str,
    comparison: Comparison,
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The baseline-comparison table (a section of the page) and the notes on the tests."""
    if reference is None:
        if baseline:
            return {}, [f"The baseline {baseline} has no finished trial: nothing was tested."]
        return {}, ["The config names no baseline: no significance tests."]
    conditions = [c for c in CONDITIONS if c in table]
    tested = table[table["baseline"].notna()]
    columns = [
        "n_matched",
        "few_matched",
        f"{metric}_diff",
        "test",
        "p_value",
        "p_holm",
        "significant",
    ]
    shown = baseline if comparison.match else reference
    title = f"Against the baseline {shown} ({metric.upper()})"
    notes = [
        f"Each variant is compared with the baseline {shown} on {metric.upper()} "
        "over trials matched by pair, condition and trial (and LOSO fold): "
        f"{_test_text(comparison)}; {metric}_diff = variant - baseline. p_value is "
        "uncorrected; p_holm is Holm-corrected over the variants compared with the "
        f"baseline in the same pair and condition, and significant means p_holm < {ALPHA}. "
        f"few_matched marks a test on fewer than {FEW_MATCHED} matched trials. "
        "results.csv and results.json hold both tables in one."
    ]
    untested = int(tested["p_value"].isna().sum())
    if untested:
        notes.append(
            f"{untested} comparison(s) share fewer than 2 matched trials with the "
            "baseline and are not tested (empty cells)."
        )
    return {title: tested[["pair", *conditions, "variant", *columns]]}, notes


@dataclass
class _Analysis:
    """The tables of the finished trials: ``table`` (long), ``sections`` of the page,
    ``files`` to write (stem -> (table, legend)) and ``notes``."""

    table: pd.DataFrame
    sections: dict[str, pd.DataFrame]
    files: dict[str, tuple[pd.DataFrame, str | None]]
    notes: list[str]
    projections: dict[str, int] = field(default_factory=dict)


def _analyse(
    results: RunResults, baseline: str | None, figures: FigureSet, scope: FigureScope
) -> _Analysis:
    """The tables and notes of the finished trials; draws their figures into ``figures``."""
    trials = results.trials
    comparison = Comparison.from_config(results.config.get("comparison"))
    table = experiment_table(
        trials, baseline, metrics=results.config.get("metrics") or (), comparison=comparison
    )
    reference = baseline_variant(trials, baseline)
    metric = primary_metric(trials)
    tests, notes = _baseline_sections(table, reference, baseline, metric, comparison)
    if comparison.pooled and reference is not None:
        tests[f"Pooled over pairs, conditions and variants ({metric.upper()})"] = pooled_table(
            trials, baseline, metric, comparison
        )
        notes.append(
            "Pooled: every trial of a method matched with its baseline variant's in the same "
            "pair, condition and trial, all pooled; a z-test of the differences, "
            f"{comparison.alternative}; relative_change = {metric}_diff / the baselines' mean."
        )
    notes.insert(0, "Scores on target test data: mean ± sample standard deviation over trials.")
    shown = None if reference is None else (baseline if comparison.match else reference)
    marks = legend(metric, shown, ALPHA)
    wide = wide_table(table, metric)
    sections = {f"Variants x pairs ({metric.upper()})": wide, **tests}
    files = {"results": (table, marks), "wide": (wide, marks)}
    notes.append(f"Variants x pairs: {marks}")
    ordered = order_trials(trials, reference)
    per_class = per_class_table(ordered)
    if per_class is not None:
        sections["Per-class recall and F1 on target test data"] = per_class
        files["per_class"] = (per_class, _PER_CLASS_LEGEND)
        notes.append(f"Per-class table: {_PER_CLASS_LEGEND}")
    selections = selection_table(trials)
    if selections is not None:
        sections["Model selection inside trials"] = selections
        notes += selection_notes(selections)
    fitted = fitted_table(trials)
    if fitted is not None:
        sections["Hyper-parameters chosen in fit"] = fitted
        files["fitted"] = (fitted, FITTED_NOTE)
        notes.append(FITTED_NOTE)
    domains = domain_classifier_table(trials)
    if domains is not None:
        sections["Domain classifier after training"] = domains
        files["domain_classifier"] = (domains, DOMAIN_CLASSIFIER_NOTE)
        notes.append(DOMAIN_CLASSIFIER_NOTE)
    conditions = condition_columns(trials)
    cache = ProjectionCache(RunFolder(results.run_dir).projections)
    draw_figures(
        ordered, results.run_dir, reference, metric, conditions, figures, notes, scope, cache
    )
    projections = {"computed": cache.misses, "cached": cache.hits}
    return _Analysis(table, sections, files, notes, projections)


_PER_CLASS_LEGEND = (
    "recall and F1 of each class from each trial's confusion matrix, mean ± std over "
    "trials (a trial where the class has no test example and is never predicted does not "
    "count)."
)


def _intro(results: RunResults, baseline: str | None) -> list[str]:
    """The opening lines: counts, task, protocol, baseline, model selection and data."""
    config = results.config
    first = (results.trials + results.failures)[0]
    protocol = config.get("protocol")
    protocol = (protocol.get("name") if isinstance(protocol, dict) else protocol) or first.get(
        "protocol", "cross_domain"
    )
    intro = [
        f"{len(results.trials)} finished trial(s), {len(results.failures)} failed; "
        f"task: {first.get('task', config.get('task', 'classification'))}; "
        f"protocol: {protocol}; baseline: {baseline or 'none'}.",
        model_selection_note(protocol),
    ]
    corpora = config.get("corpora") or {}
    if any(isinstance(c, dict) and c.get("loader") == "synthetic" for c in corpora.values()):
        intro.append("Data: the synthetic corpus (emoshift.data.synthetic), not recorded speech.")
    stacking = stacking_note(results.trials + results.failures)
    return intro + ([stacking] if stacking else [])


_MASKS_MEANING = {
    "exact": "exact dropout masks: each trial's numbers are those it gives trained alone",
    "fast": "fast dropout masks: other mask draws, so not the numbers each trial gives "
    "trained alone (BENCHMARKS.md, Stacked training, measures how far)",
}


def stacking_note(records: list[dict]) -> str | None:
    """How the trials trained: in stacks with which dropout masks, or alone and why
    (``None`` when the run asked for no stacks).

    >>> note = stacking_note([{"stacked": {"masks": "exact"}},
    ...     {"stacked": False, "stack_problem": "FADA has no stacked training step"}])
    >>> note.startswith("Stacked training: 1 trial(s) in stacks with exact dropout masks")
    True
    >>> note.endswith("; 1 alone (FADA has no stacked training step).")
    True
    """
    # records written before the masks were recorded say ``"stacked": true`` (fast masks)
    modes = Counter(
        r["stacked"]["masks"] if isinstance(r["stacked"], dict) else "fast"
        for r in records
        if r.get("stacked")
    )
    alone = Counter(r.get("stack_problem", "?") for r in records if r.get("stacked") is False)
    if not modes and not alone:
        return None
    parts = [f"{n} trial(s) in stacks with {_MASKS_MEANING[m]}" for m, n in modes.items()]
    parts += [f"{n} alone ({reason})" for reason, n in alone.items()]
    return "Stacked training: " + "; ".join(parts) + "."


def write_experiment_report(
    run_dir: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    scope: FigureScope | None = None,
) -> ExperimentReport:
    """Write the report of a run folder into ``out_dir`` (default ``RUN_DIR/report``).

    Files: ``results``, ``wide``, ``per_class`` (and ``fitted``) tables as ``.md``, ``.csv``,
    ``.json``, ``.tex`` and ``.html`` (see :func:`~emoshift.report.trial_tables.experiment_table`
    and :mod:`emoshift.report.paper_tables`), ``report.md``, ``report.html``
    (self-contained) and ``figures/*.png`` for the pairs and variants of ``scope``
    (default: :class:`FigureScope`, the first pair). Raises ``FileNotFoundError`` /
    ``ValueError`` when the run folder has no (valid) results, ``ValueError`` when
    ``scope`` names a pair or variant the run does not have.
    """
    results = read_run(run_dir)
    out = Path(out_dir) if out_dir is not None else RunFolder(results.run_dir).report
    baseline = results.config.get("baseline")
    figures = FigureSet(out / "figures")
    if results.trials:
        analysis = _analyse(results, baseline, figures, scope or FigureScope())
    else:
        empty = pd.DataFrame({"variant": [], "pair": [], "n_trials": []})
        notes = ["Every trial failed: there is nothing to score."]
        analysis = _Analysis(empty, {}, {"results": (empty, None)}, notes)
    table, sections, notes = analysis.table, analysis.sections, analysis.notes
    failures = failures_table(results.failures)
    if results.failures:
        sections["Failed trials"] = failures
    else:
        notes.append("No trial failed.")
    if results.rerun:
        notes.append(
            f"{len(results.rerun)} trial(s) appear more than once in results.jsonl "
            "(re-run); only the last line of each counts."
        )
    paths = {
        stem: write_table_files(frame, out, stem, legend=text)
        for stem, (frame, text) in analysis.files.items()
    }
    scores = table.drop(columns=[c for c in table if c in TEST_COLUMNS or c.endswith("_diff")])
    first = (results.trials + results.failures)[0]
    name = results.config.get("name") or first.get("experiment") or results.run_dir.name
    markdown, html = write_report(
        out,
        f"Experiment {name}",
        scores,
        {},
        notes,
        tables=sections,
        intro=_intro(results, baseline),
        figure_groups=figures.groups,
    )
    return ExperimentReport(
        table=table,
        failures=failures,
        html=html,
        markdown=markdown,
        tables=paths,
        figures={c: p for group in figures.groups.values() for c, p in group.items()},
        notes=notes,
        projections=analysis.projections,
    )
