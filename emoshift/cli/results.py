"""The results table that ``emoshift run`` and ``emoshift demo`` print when they end.

Example:
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> table = pd.DataFrame({"variant": ["dann"], "pair": ["a->b"], "uar_mean": [0.5]})
    >>> report = SimpleNamespace(table=table, html="r.html", markdown="r.md")
    >>> print_results(report, "scores")
    scores
    <BLANKLINE>
    | variant | pair | uar_mean |
    | --- | --- | --- |
    | dann | a->b | 0.500 |
    <BLANKLINE>
    report: r.html
            r.md
"""

from __future__ import annotations

from emoshift.report.experiment import ExperimentReport
from emoshift.report.tables import to_markdown


def print_results(report: ExperimentReport, heading: str) -> None:
    """``heading``, the report's results table as Markdown, and where the report is."""
    print(f"{heading}\n")
    print(to_markdown(report.table))
    print(f"\nreport: {report.html}\n        {report.markdown}")
