"""The tables of an experiment's trials: one row per pair x condition x variant with the
mean and std of every metric and a paired test against the baseline, and the failed trials.

A trial here is one ``results.jsonl`` record (see :mod:`emoshift.report.experiment`): a
mapping with ``variant``, ``method``, ``pair``, ``trial``, ``metrics`` and, under some
protocols, a condition (``k``, ``size``) and a LOSO ``fold``.

Example:
    >>> runs = {"base": [0.5, 0.6], "dann": [0.6, 0.7]}
    >>> trials = [{"variant": v, "method": v, "pair": "a->b", "trial": t, "metrics": {"uar": u}}
    ...           for v, us in runs.items() for t, u in enumerate(us)]
    >>> table = experiment_table(trials, "base")
    >>> table[["variant", "uar_mean", "uar_diff"]].round(2).values.tolist()
    [['base', 0.55, <NA>], ['dann', 0.65, 0.1]]
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from emoshift.metrics import METRICS
from emoshift.report.stats import ALTERNATIVES, Alternative, TestName, holm, paired_test
from emoshift.report.tables import results_table

CONDITIONS = ("k", "size")
"""Keys of a result that make a condition of the protocol (a cell of the table)."""

PRIMARY_METRICS = ("uar", "ccc")
"""The metric that curves and tests use: the first of these present, else the first."""

ALPHA = 0.05

FEW_MATCHED = 5
"""A test on fewer matched trials than this is flagged (``few_matched``) in every table."""

TEST_COLUMNS = (
    "baseline",
    "n_matched",
    "few_matched",
    "test",
    "p_value",
    "p_holm",
    "significant",
)
"""Columns of the paired test in :func:`experiment_table`, besides ``<metric>_diff``."""


def condition_columns(trials: Sequence[Mapping[str, object]]) -> list[str]:
    """The condition keys (``k``, ``size``) that some trial sets, in :data:`CONDITIONS` order."""
    return [c for c in CONDITIONS if any(t.get(c) is not None for t in trials)]


def metric_names(
    trials: Sequence[Mapping[str, object]], preferred: Sequence[str] = ()
) -> list[str]:
    """The metrics the trials recorded: those in ``preferred`` (the config's ``metrics``)
    first in that order, then the registered ones in registry order, each followed by
    its per-dimension scores (``ccc``, ``ccc_arousal``, ...), then any others by name.

    Example:
        >>> metric_names([{"metrics": {"f1": 0.5, "uar": 0.6, "wa": 0.6}}])
        ['uar', 'wa', 'f1']
        >>> metric_names([{"metrics": {"ccc_valence": 0.2, "rmse": 0.3, "ccc": 0.4}}], ["rmse"])
        ['rmse', 'ccc', 'ccc_valence']
    """
    order = list(dict.fromkeys([*preferred, *METRICS]))
    names = {name for t in trials for name in t["metrics"]}

    def rank(name: str) -> tuple:
        base = name.split("_", 1)[0]
        return (order.index(base) if base in order else len(order), name != base, name)

    return sorted(names, key=rank)


def primary_metric(trials: Sequence[Mapping[str, object]]) -> str:
    """UAR for classification, CCC for regression, else the first metric recorded."""
    names = metric_names(trials)
    return next((m for m in PRIMARY_METRICS if m in names), names[0])


def baseline_variant(trials: Sequence[Mapping[str, object]], baseline: str | None) -> str | None:
    """The variant that stands for the ``baseline`` method: the one named like the method
    (its default parameters) when there is one, else its first variant; ``None`` when the
    baseline is unset or has no finished trial."""
    variants = list(dict.fromkeys(t["variant"] for t in trials if t["method"] == baseline))
    if not variants:
        return None
    return baseline if baseline in variants else variants[0]


def replicate(trial: Mapping[str, object]) -> object:
    """What pairs a trial with the baseline's inside a cell: the trial, and the LOSO fold."""
    return trial["trial"] if trial.get("fold") is None else f"{trial['fold']}/{trial['trial']}"


def _condition_key(trial: Mapping[str, object]) -> tuple:
    """Sorts conditions ascending (k, then size), an unset one first."""
    return tuple((trial.get(c) is not None, trial.get(c) or 0) for c in CONDITIONS)


def cells_recording(
    trials: Sequence[Mapping[str, object]], field: str
) -> list[tuple[dict[str, object], list[Mapping[str, object]]]]:
    """The trials that recorded ``field``, grouped by pair x condition x variant (in
    :func:`order_trials` order): per group, its ``pair``/condition/``variant`` columns and
    its trials; empty when no trial recorded ``field``."""
    recorded = [t for t in order_trials(trials, None) if t.get(field)]
    columns = ["pair", *condition_columns(recorded), "variant"]
    groups: dict[tuple, list[Mapping[str, object]]] = {}
    for trial in recorded:
        groups.setdefault(tuple(trial.get(c) for c in columns), []).append(trial)
    return [(dict(zip(columns, key)), group) for key, group in groups.items()]


def order_trials(trials: Sequence[Mapping[str, object]], first: str | None) -> list[dict]:
    """Trials sorted by pair (first appearance), condition (ascending) and variant (the
    baseline first, then first appearance), then trial."""
    pairs = list(dict.fromkeys(t["pair"] for t in trials))
    variants = list(dict.fromkeys(t["variant"] for t in trials))
    if first in variants:
        variants.remove(first)
        variants.insert(0, first)

    def key(trial: Mapping[str, object]) -> tuple:
        pair, variant = pairs.index(trial["pair"]), variants.index(trial["variant"])
        return (pair, _condition_key(trial), variant, str(replicate(trial)))

    return sorted(trials, key=key)


@dataclass(frozen=True)
class Comparison:
    """How variants are tested against the baseline (the config's ``comparison``).

    Attributes:
        test: ``auto`` (Wilcoxon from 6 matched trials, paired t-test below), ``wilcoxon``
            or ``ttest``.
        alternative: ``two-sided``, or one-tailed ``greater`` (the variant scores higher
            than the baseline) or ``less``.
        match: hyper-parameters a variant and its baseline variant must share (e.g.
            ``hidden_sizes``: each network against the baseline network of its
            structure); empty: every variant against the one baseline variant.
        pooled: the report adds one z-test per method over every matched condition
            pooled (:func:`~emoshift.report.pooled.pooled_table`).
    """

    test: TestName = "auto"
    alternative: Alternative = "two-sided"
    match: tuple[str, ...] = ()
    pooled: bool = False

    @classmethod
    def from_config(cls, raw: object) -> Comparison:
        """From the ``comparison`` mapping of a run's config (absent: the defaults);
        ``ValueError`` names an unknown key or value."""
        raw = dict(raw or {})
        unknown = sorted(set(raw) - {"test", "alternative", "match", "pooled"})
        if unknown:
            raise ValueError(f"unknown key(s) {unknown}; it takes test, alternative, match, pooled")
        if not isinstance(raw.get("pooled", False), bool):
            raise ValueError(f"pooled: {raw['pooled']!r} is not true or false")
        comparison = cls(
            test=raw.get("test", "auto"),
            alternative=raw.get("alternative", "two-sided"),
            match=tuple(raw.get("match") or ()),
            pooled=raw.get("pooled", False),
        )
        for name, value, allowed in (
            ("test", comparison.test, typing.get_args(TestName)),
            ("alternative", comparison.alternative, ALTERNATIVES),
        ):
            if value not in allowed:
                raise ValueError(f"{name}: {value!r} is not one of {list(allowed)}")
        return comparison


def references(
    trials: Sequence[Mapping[str, object]], baseline: str | None, comparison: Comparison
) -> dict[str, str]:
    """Each variant's baseline variant: the one sharing ``comparison.match`` parameters
    (a variant without one is left out), or the :func:`baseline_variant` for all."""
    reference = baseline_variant(trials, baseline)
    variants = {t["variant"]: t.get("params") or {} for t in trials}
    if reference is None or not comparison.match:
        return {v: reference for v in variants} if reference else {}
    bases = {t["variant"]: t.get("params") or {} for t in trials if t["method"] == baseline}

    def shared(params: Mapping[str, object]) -> list[str]:
        return [str(params.get(name)) for name in comparison.match]

    by_shared = {}
    for base, params in bases.items():
        by_shared.setdefault(str(shared(params)), base)
    return {
        variant: by_shared[str(shared(params))]
        for variant, params in variants.items()
        if str(shared(params)) in by_shared
    }


def experiment_table(
    trials: Sequence[Mapping[str, object]],
    baseline: str | None = None,
    *,
    metrics: Sequence[str] = (),
    alpha: float = ALPHA,
    comparison: Comparison | None = None,
) -> pd.DataFrame:
    """One row per pair x condition x variant: ``n_trials``, ``<metric>_mean`` and
    ``<metric>_std`` of every metric, and, when ``baseline`` (a method name) has results,
    a paired test of the primary metric against its variant in the same pair and
    condition over matched trials: ``baseline``, ``<metric>_diff`` (mean of variant -
    baseline), ``n_matched``, ``few_matched`` (fewer than :data:`FEW_MATCHED`), ``test``,
    ``p_value``, ``p_holm`` (Holm-corrected over the variants tested against the baseline
    in the same pair and condition, see :func:`~emoshift.report.stats.holm`) and
    ``significant`` (``p_holm`` < alpha). Cells with fewer than two matched trials are
    left untested (empty). Metric columns
    follow ``metrics`` (the config's list), see :func:`metric_names`. ``comparison``
    chooses the test, its sidedness and the baseline variant of each variant.

    Example:
        >>> trials = [{"variant": v, "method": v, "pair": "a->b", "trial": t,
        ...            "metrics": {"uar": u}} for v, us in (("base", [0.5, 0.6, 0.55]),
        ...            ("dann", [0.6, 0.7, 0.6])) for t, u in enumerate(us)]
        >>> row = experiment_table(trials, "base").iloc[1]
        >>> row["variant"], round(float(row["uar_diff"]), 3), row["test"], bool(row["significant"])
        ('dann', 0.083, 'ttest', True)
    """
    if not trials:
        raise ValueError("no finished trial to tabulate")
    reference = baseline_variant(trials, baseline)
    ordered = order_trials(trials, reference)
    by = ["pair", *condition_columns(ordered), "variant"]
    rows = [
        {
            **{key: t.get(key) for key in by},
            "replicate": replicate(t),
            **{name: float(value) for name, value in t["metrics"].items()},
        }
        for t in ordered
    ]
    table = results_table(rows, metric_names(ordered, metrics), by=by, trial_key="replicate")
    if "k" in table:
        table["k"] = table["k"].astype("Int64")
    if "size" in table:
        table["size"] = table["size"].astype("Float64")
    if reference is None:
        return table
    comparison = comparison or Comparison()
    tests = _baseline_tests(
        table,
        rows,
        by,
        references(trials, baseline, comparison),
        primary_metric(ordered),
        alpha,
        comparison,
    )
    return pd.concat([table, tests], axis=1)


def _test_dtypes(metric: str) -> dict[str, str]:
    """The columns of the paired test (see :data:`TEST_COLUMNS`) and their dtypes."""
    return {
        "baseline": "string",
        f"{metric}_diff": "Float64",
        "n_matched": "Int64",
        "few_matched": "boolean",
        "test": "string",
        "p_value": "Float64",
        "p_holm": "Float64",
        "significant": "boolean",
    }


def _baseline_tests(
    table: pd.DataFrame,
    rows: Sequence[Mapping[str, object]],
    by: Sequence[str],
    reference: Mapping[str, str],
    metric: str,
    alpha: float,
    comparison: Comparison,
) -> pd.DataFrame:
    """The paired test of each cell of ``table`` against its variant's ``reference``
    variant in the same pair and condition, over the replicates both have, Holm-corrected
    within each pair and condition; aligned with ``table``'s rows."""
    values: dict[tuple, dict[object, float]] = {}
    for row in rows:
        cell = tuple(row[key] for key in by)
        values.setdefault(cell, {})[row["replicate"]] = row[metric]
    dtypes = _test_dtypes(metric)
    tests = []
    for cell in table[list(by)].itertuples(index=False, name=None):
        cell = tuple(None if pd.isna(v) else v for v in cell)
        test = dict.fromkeys(dtypes)
        tests.append(test)
        base = reference.get(cell[-1])
        if base is None or cell[-1] == base:
            continue
        test["baseline"] = base
        variant_values = values[cell]
        base_values = values.get((*cell[:-1], base), {})
        shared = [r for r in variant_values if r in base_values]
        if len(shared) >= 2:
            outcome = paired_test(
                [variant_values[r] for r in shared],
                [base_values[r] for r in shared],
                alpha=alpha,
                test=comparison.test,
                alternative=comparison.alternative,
            )
            test[f"{metric}_diff"] = outcome["mean_difference"]
            test.update({k: outcome[k] for k in ("test", "p_value")})
            test["n_matched"] = outcome["n"]
            test["few_matched"] = outcome["n"] < FEW_MATCHED
    frame = pd.DataFrame(tests, columns=list(dtypes), index=table.index).astype(dtypes)
    return _holm_by_family(frame, table[list(by[:-1])], alpha)


def _holm_by_family(tests: pd.DataFrame, families: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """``tests`` with ``p_holm`` and ``significant`` filled: Holm over the rows that share
    a family (pair and condition)."""
    keys = [tuple(row) for row in families.astype(str).itertuples(index=False, name=None)]
    p_values = tests["p_value"].astype(float).to_numpy()
    for family in dict.fromkeys(keys):
        rows = [i for i, key in enumerate(keys) if key == family]
        adjusted = holm(p_values[rows])
        tests.iloc[rows, tests.columns.get_loc("p_holm")] = adjusted
    tests["p_holm"] = tests["p_holm"].astype("Float64")
    tested = tests["p_holm"].notna()
    tests.loc[tested, "significant"] = tests.loc[tested, "p_holm"] < alpha
    return tests


def failures_table(failures: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """One row per failed trial: where it ran, its key prefix and the error's last line.

    Example:
        >>> failure = {"key": "ab12cd34ef56aa", "variant": "dann", "pair": "a->b", "trial": 3,
        ...            "seed": 7, "error": "Traceback ...\\nValueError: NaN loss"}
        >>> failures_table([failure]).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
        [{'variant': 'dann', 'pair': 'a->b', 'trial': 3, 'seed': 7, 'key': 'ab12cd34ef56',
          'error': 'ValueError: NaN loss'}]
    """
    conditions = condition_columns(failures)
    rows = []
    for failure in failures:
        lines = [line for line in str(failure.get("error") or "").splitlines() if line.strip()]
        rows.append(
            {
                "variant": failure["variant"],
                "pair": failure["pair"],
                **{c: failure.get(c) for c in conditions},
                "trial": failure["trial"],
                "seed": failure.get("seed"),
                "key": str(failure["key"])[:12],
                "error": lines[-1].strip() if lines else "(no error text recorded)",
            }
        )
    columns = ["variant", "pair", *conditions, "trial", "seed", "key", "error"]
    table = pd.DataFrame(rows, columns=columns)
    if "k" in table:
        table["k"] = table["k"].astype("Int64")
    return table


def condition_text(trial: Mapping[str, object], conditions: Sequence[str]) -> str:
    return ", ".join(f"{c} = {trial.get(c)}" for c in conditions if trial.get(c) is not None)


def first_condition(trials: Sequence[Mapping[str, object]], pair: str) -> list[dict]:
    """The trials of ``pair`` in its first condition (smallest k or size)."""
    in_pair = [t for t in trials if t["pair"] == pair]
    first = min(_condition_key(t) for t in in_pair)
    return [t for t in in_pair if _condition_key(t) == first]
