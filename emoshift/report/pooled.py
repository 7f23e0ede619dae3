"""One comparison per method, pooled over every pair, condition and variant.

The per-cell tests of :func:`~emoshift.report.trial_tables.experiment_table` ask whether a
variant beats its baseline in one pair; a paper may instead pool every matched condition
(e.g. Abdelwahab & Busso 2018, Sec. V-B: 3 attributes x 20 trials x 3 sources x 5
structures = 900 matched conditions) and ask whether a method beats its baseline on
average. :func:`pooled_table` does that: each trial of a method's variant is matched with
the trial of its baseline variant (``comparison.match``) in the same pair (a separate
dimension is a pair of its own), condition and trial, all matches of the method are
pooled, and :func:`~emoshift.report.stats.paired_z_test` tests their differences.

Example:
    >>> trials = [{"variant": v, "method": v, "pair": p, "trial": t, "metrics": {"ccc": c}}
    ...           for p, shift in (("a->c", 0.0), ("b->c", 0.1))
    ...           for v, base in (("src", 0.3), ("dann", 0.35))
    ...           for t, c in enumerate([base + shift, base + shift + 0.02, base + shift - 0.01])]
    >>> row = pooled_table(trials, "src", "ccc").iloc[0]
    >>> row["method"], int(row["n_matched"]), round(float(row["relative_change"]), 3)
    ('dann', 6, 0.142)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from emoshift.report.stats import paired_z_test
from emoshift.report.trial_tables import (
    ALPHA,
    CONDITIONS,
    Comparison,
    baseline_variant,
    references,
    replicate,
)


def _cell(trial: Mapping[str, object]) -> tuple:
    """Where a trial sits apart from its variant: pair, condition and replicate."""
    return (trial["pair"], *(trial.get(c) for c in CONDITIONS), str(replicate(trial)))


def pooled_table(
    trials: Sequence[Mapping[str, object]],
    baseline: str | None,
    metric: str,
    comparison: Comparison | None = None,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """One row per method but the baseline: ``n_matched`` matched conditions pooled over
    pairs, conditions, variants and trials; the mean ``metric`` of the method and of its
    baselines over them; ``<metric>_diff`` (method - baseline), ``relative_change``
    (the difference over the baseline's mean), and the z-test (``statistic``,
    ``p_value``, ``significant``; sidedness from ``comparison.alternative``). A method with
    fewer than two matches is left out. Empty when the baseline has no trial."""
    comparison = comparison or Comparison()
    columns = [
        "method", "n_matched", f"{metric}_method", f"{metric}_baseline", f"{metric}_diff",
        "relative_change", "test", "statistic", "p_value", "significant",
    ]  # fmt: skip
    if baseline_variant(trials, baseline) is None:
        return pd.DataFrame(columns=columns)
    reference = references(trials, baseline, comparison)
    scores = {(t["variant"], _cell(t)): float(t["metrics"][metric]) for t in trials}
    matched: dict[str, list[tuple[float, float]]] = {}
    for trial in trials:
        base = reference.get(trial["variant"])
        if trial["method"] == baseline or base is None:
            continue
        base_score = scores.get((base, _cell(trial)))
        if base_score is not None:
            own = float(trial["metrics"][metric])
            matched.setdefault(str(trial["method"]), []).append((own, base_score))
    rows = []
    for method, pairs in matched.items():
        if len(pairs) < 2:
            continue
        own, base = [p[0] for p in pairs], [p[1] for p in pairs]
        test = paired_z_test(own, base, alpha=alpha, alternative=comparison.alternative)
        base_mean = sum(base) / len(base)
        rows.append(
            {
                "method": method,
                "n_matched": test["n"],
                f"{metric}_method": sum(own) / len(own),
                f"{metric}_baseline": base_mean,
                f"{metric}_diff": test["mean_difference"],
                "relative_change": test["mean_difference"] / base_mean if base_mean else None,
                **{k: test[k] for k in ("test", "statistic", "p_value", "significant")},
            }
        )
    return pd.DataFrame(rows, columns=columns)
