"""One report per experiment: ``report.md`` plus a self-contained ``report.html``.

The HTML page needs nothing but itself: CSS is inline, figures are embedded as base64
PNG data URIs, and no external resource (font, script, stylesheet) is referenced, so it
can be mailed or archived as one file. All text is HTML-escaped.

Example:
    >>> import tempfile
    >>> import pandas as pd
    >>> out = tempfile.mkdtemp()
    >>> table = pd.DataFrame({"method": ["dann"], "uar_mean": [0.61], "uar_std": [0.02]})
    >>> md, page = write_report(out, "Synthetic demo", table, {}, ["Synthetic data."])
    >>> md.name, page.name
    ('report.md', 'report.html')
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from emoshift import __version__
from emoshift.report.tables import format_table, numeric_columns, to_markdown

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #fafafa; color: #1f2328;
  font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 2rem 1.5rem 4rem; background: #fff; }
h1 { font-size: 1.9rem; line-height: 1.25; margin: 0 0 1.5rem; }
h2 { font-size: 1.3rem; margin: 2.5rem 0 0.75rem; padding-bottom: 0.25rem;
  border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.05rem; margin: 1.5rem 0 0.5rem; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.92rem; font-variant-numeric: tabular-nums; }
th, td { padding: 0.35rem 0.8rem; border-bottom: 1px solid #e5e7eb; text-align: left;
  white-space: nowrap; }
th { background: #f3f4f6; font-weight: 600; }
td.num, th.num { text-align: right; }
tbody tr:hover { background: #f9fafb; }
figure { margin: 1.5rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e5e7eb; }
figcaption { color: #57606a; font-size: 0.9rem; margin-top: 0.4rem; }
ul.notes { padding-left: 1.2rem; }
p.intro { margin: 0 0 0.75rem; }
ul.contents { padding-left: 1.2rem; margin: 0 0 1rem; }
footer { color: #6e7781; font-size: 0.8rem; margin-top: 3rem; }
"""


def _check_png(caption: str, path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"figure {caption!r}: {path} does not exist")
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError(f"figure {caption!r}: {path} is not a PNG file; save figures as PNG")
    return data


def html_table(table: pd.DataFrame, digits: int = 3) -> str:
    """An escaped HTML ``<table>`` of :func:`format_table`, numeric columns right-aligned.

    Example:
        >>> print(html_table(pd.DataFrame({"method": ["a<b"], "n_trials": [3]})))
        <table>
        <thead><tr><th>method</th><th class="num">n_trials</th></tr></thead>
        <tbody>
        <tr><td>a&lt;b</td><td class="num">3</td></tr>
        </tbody>
        </table>
    """
    text = format_table(table, digits)
    numeric = numeric_columns(table)

    def cell(tag: str, column: str, value: object) -> str:
        attribute = ' class="num"' if column in numeric else ""
        return f"<{tag}{attribute}>{html.escape(str(value))}</{tag}>"

    head = "".join(cell("th", c, c) for c in text.columns)
    body = [
        "<tr>" + "".join(cell("td", c, v) for c, v in zip(text.columns, row, strict=True)) + "</tr>"
        for row in text.itertuples(index=False)
    ]
    return "\n".join(
        ["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>", *body, "</tbody>", "</table>"]
    )


def write_report(
    out_dir: str | os.PathLike,
    title: str,
    results_table: pd.DataFrame,
    figures: Mapping[str, str | os.PathLike],
    notes: Sequence[str] = (),
    *,
    tables: Mapping[str, pd.DataFrame] | None = None,
    digits: int = 3,
    intro: Sequence[str] = (),
    figure_groups: Mapping[str, Mapping[str, str | os.PathLike]] | None = None,
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir``; return both paths.

    ``results_table`` is shown first (``<m>_mean``/``<m>_std`` columns as "mean ± std",
    see :func:`emoshift.report.tables.format_table`), then any further ``tables`` (title ->
    DataFrame, e.g. significance against the baseline), then ``figures`` (caption -> PNG
    path, in order) and ``notes`` (one paragraph each). The Markdown links the PNG files
    by relative path; the HTML embeds them.

    ``intro`` paragraphs go under the title (what was run, how models were selected).
    ``figure_groups`` (heading -> {caption -> PNG path}) adds sub-sections to "Figures"
    after the ungrouped ``figures``, and a contents list of them when there are several.
    Captions must be unique across all figures.
    """
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    content = _Content(
        title=title,
        intro=intro,
        sections={"Results": results_table, **(tables or {})},
        images=_load_images({"": figures, **(figure_groups or {})}),
        notes=notes,
        digits=digits,
    )
    markdown_path = directory / "report.md"
    markdown_path.write_text(_markdown(directory, content), encoding="utf-8")
    html_path = directory / "report.html"
    html_path.write_text(_page(content), encoding="utf-8")
    return markdown_path, html_path


Images = dict[str, dict[str, tuple[Path, bytes]]]
"""Figure heading ("" for ungrouped) -> caption -> (PNG path, its bytes)."""


def _load_images(groups: Mapping[str, Mapping[str, str | os.PathLike]]) -> Images:
    """Every figure's PNG, read and checked; captions must be unique across groups."""
    captions = [caption for group in groups.values() for caption in group]
    repeated = sorted({c for c in captions if captions.count(c) > 1})
    if repeated:
        raise ValueError(f"figure captions {repeated} are used more than once; make them unique")
    return {
        heading: {c: (Path(p), _check_png(c, Path(p))) for c, p in group.items()}
        for heading, group in groups.items()
        if group
    }


@dataclass
class _Content:
    """What both pages show, in order: title, intro, tables, figures and notes."""

    title: str
    intro: Sequence[str]
    sections: Mapping[str, pd.DataFrame]
    images: Images
    notes: Sequence[str]
    digits: int


def _markdown(directory: Path, content: _Content) -> str:
    """``report.md``: figures linked by their path relative to ``directory``."""
    title, intro, sections, images = content.title, content.intro, content.sections, content.images
    notes, digits = content.notes, content.digits
    markdown = [f"# {title}", ""]
    markdown += [line for paragraph in intro for line in (paragraph, "")]
    for name, table in sections.items():
        markdown += [f"## {name}", "", to_markdown(table, digits), ""]
    if images:
        markdown += ["## Figures", ""]
        for heading, group in images.items():
            markdown += [f"### {heading}", ""] if heading else []
            for caption, (path, _) in group.items():
                link = Path(os.path.relpath(path.resolve(), directory.resolve())).as_posix()
                alt = caption.replace("[", "\\[").replace("]", "\\]")
                markdown += [f"![{alt}](<{link}>)", "", f"*{caption}*", ""]
    if notes:
        markdown += ["## Notes", "", *(f"- {note}".replace("\n", "\n  ") for note in notes), ""]
    markdown += [f"Generated by emoshift {__version__}.", ""]
    return "\n".join(markdown)


def _html_figures(images: Images) -> list[str]:
    """The "Figures" section: a contents list when there are several headings, then each
    figure embedded as a data URI with its caption."""
    escape = html.escape
    body = ['<h2 id="figures">Figures</h2>']
    headings = [heading for heading in images if heading]
    if len(headings) > 1:
        body.append('<ul class="contents">')
        body += [
            f'<li><a href="#figures-{i}">{escape(h)}</a> ({len(images[h])})</li>'
            for i, h in enumerate(headings, 1)
        ]
        body.append("</ul>")
    for heading, group in images.items():
        if heading:
            body.append(f'<h3 id="figures-{headings.index(heading) + 1}">{escape(heading)}</h3>')
        for caption, (_, data) in group.items():
            uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
            body += [
                "<figure>",
                f'<img src="{uri}" alt="{escape(caption)}">',
                f"<figcaption>{escape(caption)}</figcaption>",
                "</figure>",
            ]
    return body


def _page(content: _Content) -> str:
    """``report.html``: one self-contained page, every text escaped."""
    title, intro, sections, images = content.title, content.intro, content.sections, content.images
    notes, digits = content.notes, content.digits
    escape = html.escape
    body = [f"<h1>{escape(title)}</h1>"]
    body += [f'<p class="intro">{escape(paragraph)}</p>' for paragraph in intro]
    for name, table in sections.items():
        body += [f"<h2>{escape(name)}</h2>", '<div class="table-wrap">', html_table(table, digits)]
        body.append("</div>")
    if images:
        body += _html_figures(images)
    if notes:
        body += ["<h2>Notes</h2>", '<ul class="notes">']
        body += [f"<li>{escape(note)}</li>" for note in notes]
        body.append("</ul>")
    body.append(f"<footer>Generated by emoshift {escape(__version__)}.</footer>")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            *body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )
