"""Each table of a report as files: Markdown, CSV, LaTeX and HTML (plus JSON).

CSV and JSON keep full precision (numbers, for recomputing); Markdown, LaTeX
(:mod:`emoshift.report.latex`) and the HTML fragment show the formatted cells of
:func:`~emoshift.report.tables.format_table`, followed by the table's legend.

Example:
    >>> import tempfile
    >>> frame = pd.DataFrame({"variant": ["dann"], "uar_mean": [0.61], "uar_std": [0.02]})
    >>> sorted(write_table_files(frame, tempfile.mkdtemp(), "wide", "mean ± std"))
    ['csv', 'html', 'json', 'md', 'tex']
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import pandas as pd

from emoshift.report.html import html_table
from emoshift.report.latex import to_latex
from emoshift.report.tables import write_tables


def write_table_files(
    table: pd.DataFrame,
    out_dir: str | os.PathLike,
    stem: str,
    legend: str | None = None,
    digits: int = 3,
) -> dict[str, Path]:
    """Write ``<stem>.{md,csv,json,tex,html}`` into ``out_dir``; return the paths by suffix.

    ``legend`` (what marks and corrected p-values mean) ends the Markdown, LaTeX and HTML
    versions; the CSV and JSON hold the table alone.
    """
    paths = write_tables(table, out_dir, stem=stem, digits=digits)
    if legend:
        with paths["md"].open("a", encoding="utf-8") as markdown:
            markdown.write(f"\n{legend}\n")
    directory = Path(out_dir)
    paths["tex"] = directory / f"{stem}.tex"
    paths["tex"].write_text(to_latex(table, digits, legend) + "\n", encoding="utf-8")
    paths["html"] = directory / f"{stem}.html"
    fragment = html_table(table, digits)
    if legend:
        fragment += f"\n<p>{html.escape(legend)}</p>"
    paths["html"].write_text(fragment + "\n", encoding="utf-8")
    return paths
