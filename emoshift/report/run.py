"""The report of a set of trials: summary table, significance, confusion matrices, curves.

Example:
    >>> import tempfile
    >>> import pandas as pd
    >>> trials = pd.DataFrame({"method": ["a", "a", "b", "b"], "trial": [0, 1, 0, 1],
    ...                        "uar": [0.5, 0.52, 0.6, 0.61]})
    >>> paths = write_run_report(tempfile.mkdtemp(), title="t", trials=trials, baseline="a")
    >>> paths.html.name, list(paths.summary["method"])
    ('report.html', ['a', 'b'])
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from emoshift.report.figures import confusion_matrix_figure, loss_curve_figure
from emoshift.report.html import write_report
from emoshift.report.tables import compare_to_baseline, results_table, write_tables

PRIMARY_METRICS = ("uar", "ccc")


@dataclass
class RunReport:
    """Where a run report was written and its summary table."""

    summary: pd.DataFrame
    html: Path
    markdown: Path
    tables: dict[str, Path]


def primary_metric(trials: pd.DataFrame) -> str:
    """The metric comparisons are made on: UAR for categories, CCC for dimensions."""
    for metric in PRIMARY_METRICS:
        if metric in trials:
            return metric
    raise ValueError(f"trials hold none of the primary metrics {PRIMARY_METRICS}")


def summary_table(
    trials: pd.DataFrame, baseline: str | None, by: Sequence[str] = ("method",)
) -> pd.DataFrame:
    """Mean and std per group, with a paired test of each method against ``baseline``.

    Groups other than ``method`` (e.g. ``k``) are tested one condition at a time.
    """
    records = trials.to_dict("records")
    summary = results_table(records, by=list(by))
    if baseline is None or baseline not in set(trials["method"]) or trials["trial"].nunique() < 2:
        return summary
    metric = primary_metric(trials)
    conditions = [c for c in by if c != "method"]
    groups = trials.groupby(conditions) if conditions else [((), trials)]
    tests = []
    for key, group in groups:
        compared = compare_to_baseline(group.to_dict("records"), baseline, metric)
        key = key if isinstance(key, tuple) else (key,)
        for column, value in zip(conditions, key):
            compared[column] = value
        tests.append(compared)
    tested = pd.concat(tests, ignore_index=True).rename(
        columns={"mean_difference": f"{metric}_diff", "p_value": "p"}
    )
    keep = ["method", *conditions, f"{metric}_diff", "p", "significant"]
    return summary.merge(tested[keep], on=["method", *conditions], how="left")


def write_run_report(
    out_dir: str | os.PathLike,
    *,
    title: str,
    trials: pd.DataFrame,
    baseline: str | None = None,
    examples: Mapping[str, object] | None = None,
    notes: Sequence[str] = (),
    by: Sequence[str] = ("method",),
) -> RunReport:
    """Write the summary (Markdown, CSV, JSON), figures and the HTML page of a run.

    Args:
        out_dir: report folder.
        title: page title.
        trials: one row per trial and method, with metric columns.
        baseline: method every other is compared to with a paired test.
        examples: method -> a :class:`~emoshift.experiment.trial.TrialResult` whose
            confusion matrix and training history are drawn.
        notes: paragraphs shown under the figures (protocol, model selection ...).
        by: grouping columns of the summary.
    """
    out_dir = Path(out_dir)
    figures_dir = out_dir / "figures"
    summary = summary_table(trials, baseline, by)
    tables = write_tables(summary, out_dir, stem="results")
    trials.to_csv(out_dir / "trials.csv", index=False)
    figures: dict[str, Path] = {}
    for method, example in (examples or {}).items():
        if getattr(example, "confusion", None) is not None:
            figures[f"Confusion matrix, {method} (first trial, target test)"] = (
                confusion_matrix_figure(
                    example.confusion,
                    example.labels,
                    figures_dir / f"confusion_{method}.png",
                    title=method,
                )
            )
        if getattr(example, "history", None):
            figures[f"Training curves, {method} (first trial)"] = loss_curve_figure(
                example.history, figures_dir / f"history_{method}.png", title=method
            )
    markdown, html = write_report(out_dir, title, summary, figures, notes)
    return RunReport(summary=summary, html=html, markdown=markdown, tables=tables)
