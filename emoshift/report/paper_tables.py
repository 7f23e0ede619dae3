"""The tables a researcher pastes into a paper: methods x pairs, and per-class scores.

:func:`wide_table` turns the long results table of
:func:`~emoshift.report.trial_tables.experiment_table` into one row per variant and one
column per pair (and condition), each cell "mean ± std" of the primary metric with marks
for the test against the baseline (:func:`marks`). :func:`per_class_table` computes each
class's recall and F1 from every trial's confusion matrix.

Example:
    >>> table = pd.DataFrame({"pair": ["a->b", "a->b"], "variant": ["base", "dann"],
    ...     "uar_mean": [0.5, 0.6], "uar_std": [0.01, 0.02], "few_matched": [pd.NA, True],
    ...     "significant": [pd.NA, True]})
    >>> wide_table(table, "uar").to_dict("records")
    [{'variant': 'base', 'a->b': '0.500 ± 0.010'}, {'variant': 'dann', 'a->b': '0.600 ± 0.020*†'}]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from emoshift.report.tables import format_number
from emoshift.report.trial_tables import CONDITIONS, FEW_MATCHED, replicate

SIGNIFICANT_MARK = "*"
FEW_MATCHED_MARK = "†"


def marks(significant: object, few_matched: object) -> str:
    """The marks of one comparison: :data:`SIGNIFICANT_MARK` when significant after Holm's
    correction, :data:`FEW_MATCHED_MARK` when tested on fewer than :data:`FEW_MATCHED`
    matched trials; empty for an untested cell.

    Example:
        >>> marks(True, True), marks(False, True), marks(pd.NA, pd.NA)
        ('*†', '†', '')
    """
    return (SIGNIFICANT_MARK if _flag(significant) else "") + (
        FEW_MATCHED_MARK if _flag(few_matched) else ""
    )


def _flag(value: object) -> bool:
    """A table's boolean cell as a bool; a missing value (an untested cell) is False."""
    return not pd.isna(value) and bool(value)


def legend(metric: str, baseline: str | None, alpha: float) -> str:
    """What the cells and marks of the tables mean."""
    text = f"{metric.upper()}: mean ± std over trials."
    if baseline is None:
        return text
    return (
        f"{text} {SIGNIFICANT_MARK} significant against {baseline}: p_holm < {alpha}, the "
        "p-value Holm-corrected over the variants tested against the baseline in the same "
        f"pair and condition (p_value is uncorrected). {FEW_MATCHED_MARK} (few_matched) "
        f"tested on fewer than {FEW_MATCHED} matched trials."
    )


def _column(row: Mapping[str, object], conditions: Sequence[str]) -> str:
    """The wide table's column of a row: its pair, and its condition when there is one."""
    shown = [f"{c} = {format_number(row[c], 3)}" for c in conditions if not pd.isna(row[c])]
    return f"{row['pair']} ({', '.join(shown)})" if shown else str(row["pair"])


def wide_table(table: pd.DataFrame, metric: str, digits: int = 3) -> pd.DataFrame:
    """One row per variant, one column per pair (x condition): "mean ± std" of ``metric``
    followed by :func:`marks`; empty where a variant has no result."""
    conditions = [c for c in CONDITIONS if c in table]
    cells: dict[str, dict[str, str]] = {}
    for row in table.to_dict("records"):
        text = format_number(row[f"{metric}_mean"], digits)
        std = row.get(f"{metric}_std")
        if std is not None and not pd.isna(std):
            text += f" ± {format_number(std, digits)}"
        text += marks(row.get("significant"), row.get("few_matched"))
        cells.setdefault(str(row["variant"]), {})[_column(row, conditions)] = text
    columns = list(dict.fromkeys(c for by_column in cells.values() for c in by_column))
    rows = [
        {"variant": variant, **{c: by_column.get(c, "") for c in columns}}
        for variant, by_column in cells.items()
    ]
    return pd.DataFrame(rows, columns=["variant", *columns])


def class_scores(confusion: object) -> tuple[np.ndarray, np.ndarray]:
    """Per-class recall and F1 of a confusion matrix (rows: true class, columns:
    predicted), NaN where undefined (a class absent from the test data and never
    predicted).

    Example:
        >>> recall, f1 = class_scores([[3, 1], [0, 4]])
        >>> recall.tolist(), f1.round(3).tolist()
        ([0.75, 1.0], [0.857, 0.889])
    """
    matrix = np.asarray(confusion, dtype=float)
    hits, support, predicted = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    recall = np.divide(hits, support, out=np.full(len(hits), np.nan), where=support > 0)
    both = support + predicted
    f1 = np.divide(2 * hits, both, out=np.full(len(hits), np.nan), where=both > 0)
    return recall, f1


def per_class_table(trials: Sequence[Mapping[str, object]]) -> pd.DataFrame | None:
    """One row per pair x condition x variant x class: ``n_trials``, and mean and std over
    trials of the class's recall and F1 (:func:`class_scores` of each trial's confusion
    matrix; a trial where a score is undefined does not count in its mean). ``None`` when
    no trial recorded a confusion matrix (regression).

    ``trials`` come in the order of :func:`~emoshift.report.trial_tables.order_trials`.
    """
    scored = [t for t in trials if t.get("confusion") is not None and t.get("labels")]
    if not scored:
        return None
    conditions = [c for c in CONDITIONS if any(t.get(c) is not None for t in scored)]
    keys = ["pair", *conditions, "variant", "class"]
    rows = []
    for trial in scored:
        recall, f1 = class_scores(trial["confusion"])
        for index, label in enumerate(trial["labels"]):
            rows.append(
                {
                    **{key: trial.get(key) for key in keys[:-1]},
                    "class": str(label),
                    "replicate": str(replicate(trial)),
                    "recall": recall[index],
                    "f1": f1[index],
                }
            )
    grouped = pd.DataFrame(rows).groupby(keys, sort=False, dropna=False)
    table = grouped["replicate"].nunique().rename("n_trials").reset_index()
    for score in ("recall", "f1"):
        table[f"{score}_mean"] = grouped[score].mean().to_numpy()
        table[f"{score}_std"] = grouped[score].std(ddof=1).to_numpy()
    if "k" in table:
        table["k"] = table["k"].astype("Int64")
    return table
