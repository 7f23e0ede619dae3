"""Results tables: per-trial result dicts -> mean ± std per method, as Markdown, CSV, JSON.

A *result* is one trial of one method: ``{"method": "dann", "trial": 3, "uar": 0.61, ...}``.
:func:`results_table` aggregates them into one row per method with ``<metric>_mean`` and
``<metric>_std`` columns (std with ddof=1, see :func:`emoshift.report.stats.summarise`).

Example:
    >>> results = [
    ...     {"method": "source-only", "trial": 0, "uar": 0.50},
    ...     {"method": "source-only", "trial": 1, "uar": 0.54},
    ...     {"method": "dann", "trial": 0, "uar": 0.58},
    ...     {"method": "dann", "trial": 1, "uar": 0.60},
    ... ]
    >>> print(to_markdown(results_table(results)))
    | method | n_trials | uar |
    | --- | ---: | ---: |
    | source-only | 2 | 0.520 ± 0.028 |
    | dann | 2 | 0.590 ± 0.014 |
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path

import pandas as pd

from emoshift.metrics import METRICS
from emoshift.report.stats import TestName, paired_test, summarise


def _is_metric_key(key: str) -> bool:
    return key.split("_", 1)[0] in METRICS


def results_table(
    results: Sequence[Mapping[str, object]],
    metrics: Sequence[str] | None = None,
    *,
    by: str | Sequence[str] = "method",
    trial_key: str = "trial",
) -> pd.DataFrame:
    """Aggregate per-trial results into mean and standard deviation per group.

    ``by`` names the grouping key(s) (default ``"method"``; e.g. ``["method", "k"]`` for
    a few-shot curve). ``metrics`` defaults to every key named like a registered metric
    (``uar``, ``ccc_arousal``, ...) in order of appearance. Rows keep the order in which
    groups first appear. Columns: the ``by`` keys, ``n_trials``, then ``<metric>_mean``
    and ``<metric>_std`` per metric.

    Raises ``ValueError`` when a result lacks a ``by`` key, the trial key or a metric,
    or when one group has the same trial twice.
    """
    keys = [by] if isinstance(by, str) else list(by)
    if not results:
        raise ValueError("results is empty; run some trials before building a table")
    if metrics is None:
        metrics = list(dict.fromkeys(k for r in results for k in r if _is_metric_key(k)))
        if not metrics:
            raise ValueError(
                f"no metric found in the results' keys {sorted(results[0])}; name them "
                f"like {sorted(METRICS)} or pass metrics=[...]"
            )
    groups: dict[tuple, list[Mapping[str, object]]] = {}
    for position, result in enumerate(results):
        for key in (*keys, trial_key, *metrics):
            if key not in result:
                raise ValueError(
                    f"result {position} ({ {k: result.get(k) for k in keys} }) has no "
                    f"{key!r}; every result needs {[*keys, trial_key, *metrics]}"
                )
        groups.setdefault(tuple(result[k] for k in keys), []).append(result)
    rows = []
    for group, members in groups.items():
        trials = [m[trial_key] for m in members]
        repeated = sorted({str(t) for t in trials if trials.count(t) > 1})
        if repeated:
            raise ValueError(
                f"{dict(zip(keys, group, strict=True))} has trial(s) {repeated} more than once; "
                "drop duplicate results or group by the key that tells them apart"
            )
        row: dict[str, object] = dict(zip(keys, group, strict=True))
        row["n_trials"] = len(members)
        for metric in metrics:
            summary = summarise([float(m[metric]) for m in members])
            row[f"{metric}_mean"] = summary["mean"]
            row[f"{metric}_std"] = summary["std"]
        rows.append(row)
    return pd.DataFrame(rows)


def format_number(value: object, digits: int, scientific: bool = False) -> str:
    """Integers as such, reals with ``digits`` decimals, missing values (None, NA, NaN) as
    empty text, anything else as text. A real that rounds to zero prints unsigned
    (``-1.9e-17`` -> ``0.000``), or in scientific notation when ``scientific`` (a small
    p-value)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool | Integral) or not isinstance(value, Real):
        return str(value)
    number = float(value)
    if scientific and 0 < abs(number) < 0.5 * 10**-digits:
        return f"{number:.1e}"
    text = f"{number:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def format_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Text rendering of a table: each ``<m>_mean``/``<m>_std`` pair becomes ``m`` = "mean ± std".

    A NaN std (single trial) shows the mean alone. Other columns keep their name; numbers
    are rounded to ``digits`` decimals (p-values, columns named ``p_...``, in scientific
    notation when they would round to zero), integers printed as such.

    Example:
        >>> frame = pd.DataFrame({"method": ["a"], "uar_mean": [0.61234], "uar_std": [0.01]})
        >>> format_table(frame).to_dict("records")
        [{'method': 'a', 'uar': '0.612 ± 0.010'}]
        >>> format_table(pd.DataFrame({"uar_diff": [-1.9e-17], "p_value": [2e-5]})).values.tolist()
        [['0.000', '2.0e-05']]
    """
    columns: dict[str, list[str]] = {}
    for column in table.columns:
        name = str(column)
        if name.endswith("_std") and f"{name[:-4]}_mean" in table.columns:
            continue
        if name.endswith("_mean") and f"{name[:-5]}_std" in table.columns:
            means, stds = table[column], table[f"{name[:-5]}_std"]
            columns[name[:-5]] = [
                format_number(m, digits)
                + ("" if pd.isna(s) else f" ± {format_number(float(s), digits)}")
                for m, s in zip(means, stds, strict=True)
            ]
        else:
            scientific = name.startswith("p_")
            columns[name] = [format_number(v, digits, scientific) for v in table[column].tolist()]
    return pd.DataFrame(columns, index=table.index)


SCORE_TEXT = re.compile(r"-?\d+\.\d+( ± \d+\.\d+)?\W*")
"""A cell that is already formatted as a score ("0.587 ± 0.008*"), e.g. in a wide table."""


def numeric_columns(table: pd.DataFrame) -> set[str]:
    """Columns of ``format_table(table)`` that hold numbers (or scores already formatted
    as text, see :data:`SCORE_TEXT`), to right-align them.

    Example:
        >>> sorted(numeric_columns(pd.DataFrame({"m": ["a"], "uar_mean": [0.5], "uar_std": [0.1]})))
        ['uar', 'uar_std']
        >>> numeric_columns(pd.DataFrame({"a->b": ["0.587 ± 0.008*†", ""], "v": ["x", ""]}))
        {'a->b'}
    """
    numeric = {
        str(c)
        for c in table.columns
        if (pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c]))
        or _holds_scores(table[c])
    }
    return {c[:-5] if c.endswith("_mean") else c for c in numeric}


def _holds_scores(column: pd.Series) -> bool:
    """Whether every non-empty cell of a text column is a formatted score."""
    cells = [str(v) for v in column if isinstance(v, str) and v]
    return bool(cells) and all(SCORE_TEXT.fullmatch(cell) for cell in cells)


def to_markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """A pipe table (GitHub Markdown) of :func:`format_table`, numbers right-aligned."""
    text = format_table(table, digits)
    numeric = numeric_columns(table)

    def cell(value: object) -> str:
        return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(cell(c) for c in text.columns) + " |",
        "| " + " | ".join("---:" if c in numeric else "---" for c in text.columns) + " |",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in text.itertuples(False)]
    return "\n".join(lines)


def write_tables(
    table: pd.DataFrame, out_dir: str | os.PathLike, stem: str = "results", digits: int = 3
) -> dict[str, Path]:
    """Write ``<stem>.md`` (formatted), ``<stem>.csv`` and ``<stem>.json`` (full precision).

    JSON is a list of row objects; NaN becomes ``null``. Returns ``{"md", "csv", "json"}``
    paths.
    """
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {suffix: directory / f"{stem}.{suffix}" for suffix in ("md", "csv", "json")}
    paths["md"].write_text(to_markdown(table, digits) + "\n", encoding="utf-8")
    table.to_csv(paths["csv"], index=False)
    table.to_json(paths["json"], orient="records", indent=2, force_ascii=False)
    return paths


def compare_to_baseline(
    results: Sequence[Mapping[str, object]],
    baseline: str,
    metric: str,
    *,
    method_key: str = "method",
    trial_key: str = "trial",
    test: TestName = "auto",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Paired test of every method against ``baseline`` on ``metric`` over shared trials.

    Trials are matched by ``trial_key``; only trials both methods ran count. For results
    with other conditions (e.g. several k), filter to one condition first. One row per
    method: ``method``, ``baseline``, ``metric`` and the fields of
    :func:`emoshift.report.stats.paired_test` (``mean_difference`` = method - baseline).

    Example:
        >>> base, dann = [0.50, 0.52, 0.49], [0.58, 0.63, 0.57]
        >>> results = [{"method": "base", "trial": t, "uar": v} for t, v in enumerate(base)]
        >>> results += [{"method": "dann", "trial": t, "uar": v} for t, v in enumerate(dann)]
        >>> row = compare_to_baseline(results, "base", "uar").to_dict("records")[0]
        >>> row["method"], round(row["mean_difference"], 3), row["test"], row["significant"]
        ('dann', 0.09, 'ttest', True)
    """
    by_method: dict[object, dict[object, float]] = {}
    for position, result in enumerate(results):
        for key in (method_key, trial_key, metric):
            if key not in result:
                raise ValueError(f"result {position} has no {key!r}; every result needs it")
        by_method.setdefault(result[method_key], {})[result[trial_key]] = float(result[metric])
    if baseline not in by_method:
        raise ValueError(f"baseline {baseline!r} has no results; methods are {list(by_method)}")
    reference = by_method[baseline]
    rows = []
    for method, values in by_method.items():
        if method == baseline:
            continue
        shared = [t for t in values if t in reference]
        if len(shared) < 2:
            raise ValueError(
                f"{method!r} shares {len(shared)} trial(s) with baseline {baseline!r}; a "
                "paired test needs at least 2 trials with the same trial key"
            )
        outcome = paired_test(
            [values[t] for t in shared], [reference[t] for t in shared], test=test, alpha=alpha
        )
        rows.append({"method": method, "baseline": baseline, "metric": metric, **outcome})
    return pd.DataFrame(rows)
