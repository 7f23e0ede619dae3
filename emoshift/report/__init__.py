"""Reports: results tables (Markdown, CSV, LaTeX, HTML), significance against a baseline
with Holm's correction, figures and one HTML page.

Example:
    >>> results = [{"method": m, "trial": t, "uar": 0.5 + 0.05 * t + 0.1 * (m == "dann")}
    ...            for m in ("source-only", "dann") for t in range(3)]
    >>> results_table(results)[["method", "n_trials", "uar_mean"]].round(2).values.tolist()
    [['source-only', 3, 0.55], ['dann', 3, 0.65]]
"""

from emoshift.report.figures import confusion_matrix_figure, loss_curve_figure
from emoshift.report.html import html_table, write_report
from emoshift.report.latex import to_latex
from emoshift.report.paper_tables import per_class_table, wide_table
from emoshift.report.stats import holm, paired_test, summarise
from emoshift.report.tables import (
    compare_to_baseline,
    format_table,
    results_table,
    to_markdown,
    write_tables,
)

__all__ = [
    "compare_to_baseline",
    "confusion_matrix_figure",
    "format_table",
    "holm",
    "html_table",
    "loss_curve_figure",
    "paired_test",
    "per_class_table",
    "results_table",
    "summarise",
    "to_latex",
    "to_markdown",
    "write_report",
    "wide_table",
    "write_tables",
]
