"""LaTeX tables to paste into a paper: booktabs rules, every cell escaped.

The output needs ``\\usepackage{booktabs}`` in the preamble (the first line says so); it
is a bare ``tabular`` (and its legend) so that the paper chooses its own ``table`` float
and caption.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame(
    ...     {"variant": ["dann[lambda_max=0.5]"], "uar_mean": [0.6], "uar_std": [0.01]}
    ... )
    >>> print(to_latex(frame, legend="* p < 0.05"))
    % needs \\usepackage{booktabs}
    \\begin{tabular}{lr}
    \\toprule
    variant & uar \\\\
    \\midrule
    dann[lambda\\_max=0.5] & 0.600 $\\pm$ 0.010 \\\\
    \\bottomrule
    \\end{tabular}
    \\par{\\footnotesize * p \\textless{} 0.05\\par}
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from emoshift.report.tables import format_table, numeric_columns

LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "±": r"$\pm$",
    "†": r"\textsuperscript{\dag}",
    "\n": " ",
}
"""Characters with a meaning in LaTeX (or outside plain ASCII text) and what stands for them."""


def latex_escape(text: object) -> str:
    """``text`` with every LaTeX special character replaced, so it prints as written.

    Example:
        >>> print(latex_escape("50% of a_b & {c} ± 1 †"))
        50\\% of a\\_b \\& \\{c\\} $\\pm$ 1 \\textsuperscript{\\dag}
    """
    return "".join(LATEX_ESCAPES.get(character, character) for character in str(text))


def to_latex(table: pd.DataFrame, digits: int = 3, legend: str | None = None) -> str:
    """A booktabs ``tabular`` of :func:`~emoshift.report.tables.format_table`: numeric
    columns right-aligned, the others left; ``legend`` (what marks and columns mean) as a
    footnote-size paragraph right under it, which wraps to the width of the float."""
    text = format_table(table, digits)
    numeric = numeric_columns(table)
    spec = "".join("r" if column in numeric else "l" for column in text.columns)
    lines = [
        "% needs \\usepackage{booktabs}",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        _row(text.columns),
        "\\midrule",
    ]
    lines += [_row(row) for row in text.itertuples(index=False)]
    lines += ["\\bottomrule", "\\end{tabular}"]
    if legend:  # a note under the table, wrapped to the width of the float
        lines.append(f"\\par{{\\footnotesize {latex_escape(legend)}\\par}}")
    return "\n".join(lines)


def _row(cells: Iterable[object]) -> str:
    """One line of the tabular, escaped. A line starting with ``[`` gets ``{}`` first:
    ``\\\\``, ``\\toprule`` and ``\\midrule`` would read it as their optional argument."""
    line = " & ".join(latex_escape(cell) for cell in cells) + " \\\\"
    return "{}" + line if line.startswith("[") else line
