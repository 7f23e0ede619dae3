"""Issue 13's target checks on the accuracy benchmark's run folders and grid records.

- :func:`recommended_check`: one method at its defaults (the recommended unsupervised
  configuration) against the baseline over every pair: the mean over pairs of the mean
  gain over matched trials, a Wilcoxon signed-rank test over *all* matched trials (pairs
  pooled), the worst pair and how many pairs fall below the baseline; optionally only
  on the trials that had not been seen when the method was chosen (a held-out check).
- :func:`skada_check`: the same method against SKADA's best (method, scorer) row of the
  grid records, on the same pairs and trials (the best row is chosen on target test
  results after the fact, which favours SKADA).
- :func:`multi_source_check`: per target, the pooled source adapted as one domain and
  with the K-way domain head / per-source alignment, against the best single source
  (chosen on target test results, which favours the single source).
- :func:`selection_counts`: how often few-shot selection chose each source weight.

Example:
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"config": "c", "pair": ["a->b"] * 4, "trial": [0, 1, 0, 1],
    ...     "method": ["base", "base", "m", "m"], "uar": [0.5, 0.6, 0.6, 0.6]})
    >>> check = recommended_check(runs, "m", "base")
    >>> round(check["gain"], 3), round(check["worst_pair"], 3), check["below"]
    (0.05, 0.05, 0)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emoshift.report.stats import paired_test

TRIAL = ["config", "pair", "trial"]


def _test(a: np.ndarray, b: np.ndarray, test: str = "auto") -> str:
    if len(a) < 2:
        return "n<2"
    result = paired_test(a, b, test=test)
    star = "*" if result["significant"] else ""
    p = result["p_value"]
    return f"{result['test']} {'p<0.001' if p < 0.001 else f'p={p:.3f}'}{star}"


def matched(runs: pd.DataFrame, method: str, baseline: str) -> pd.DataFrame:
    """``method`` and ``baseline`` UAR side by side over their matched (config, pair, trial)."""
    mine = runs[runs.method == method].set_index(TRIAL)["uar"]
    theirs = runs[runs.method == baseline].set_index(TRIAL)["uar"]
    common = mine.index.intersection(theirs.index)
    return pd.DataFrame({"mine": mine[common], "base": theirs[common]})


def recommended_check(
    runs: pd.DataFrame,
    method: str,
    baseline: str,
    keep: set[tuple[str, str, int]] | None = None,
) -> dict[str, object]:
    """``method`` against ``baseline`` over every pair (or the trials in ``keep``).

    ``gain`` is the mean over pairs of each pair's mean difference over its matched
    trials; ``test`` a Wilcoxon signed-rank test over every matched trial, pairs pooled.
    """
    both = matched(runs, method, baseline)
    if keep is not None:
        both = both[[key in keep for key in both.index]]
    if both.empty:
        return {}
    per_pair = (both.mine - both.base).groupby(level=["config", "pair"]).mean()
    return {
        "gain": float(per_pair.mean()),
        "test": _test(both.mine.to_numpy(), both.base.to_numpy(), "wilcoxon"),
        "worst_pair": float(per_pair.min()),
        "worst": "/".join(per_pair.idxmin()),
        "below": int((per_pair < 0).sum()),
        "pairs": len(per_pair),
        "trials": len(both),
        "per_pair": per_pair,
    }


def skada_check(runs: pd.DataFrame, chosen: pd.DataFrame, method: str) -> dict[str, object]:
    """``method`` (run folders) against SKADA's best non-oracle (method, scorer) row of
    ``chosen`` (:func:`accuracy_tables.picks`), both on the trials the row and the method
    share; the best row is the one with the highest mean UAR on those trials."""
    mine = runs[runs.method == method].set_index(TRIAL)["uar"]
    skada = chosen[(chosen.suite == "skada") & ~chosen.scorer.str.startswith("oracle")]
    best: dict[str, object] = {}
    for (name, scorer), rows in skada.groupby(["method", "scorer"]):
        theirs = rows.set_index(TRIAL)["uar"]
        common = theirs.index.intersection(mine.index)
        if len(common) < 2:
            continue
        row = {
            "row": f"{name} + {scorer}",
            "skada": float(theirs[common].mean()),
            "mine": float(mine[common].mean()),
            "test": _test(mine[common].to_numpy(), theirs[common].to_numpy()),
            "pairs": len({key[:2] for key in common}),
            "trials": len(common),
        }
        if not best or row["skada"] > best["skada"]:
            best = row
    if best:
        best["difference"] = best["mine"] - best["skada"]
    return best


def multi_source_check(runs: pd.DataFrame, k_way: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Per target and method: the best single source, the pooled source adapted as one
    domain (``runs``) and told each row's corpus (``k_way``), over the trials ``k_way``
    has for that pooled pair. The best single source is chosen on target test results."""
    rows = []
    split = runs.pair.str.split("->", expand=True)
    frame = runs.assign(source=split[0], target=split[1])
    for pooled_pair, group in k_way.groupby("pair", sort=False):
        target = pooled_pair.split("->")[1]
        for method in methods:
            multi = group[group.method == method]
            if multi.empty:
                continue
            trials = set(multi.trial)
            same = frame[(frame.target == target) & (frame.method == method)]
            same = same[same.trial.isin(trials)]
            single = same[~same.source.str.contains("+", regex=False)]
            means = single.groupby("source")["uar"].mean()
            one_domain = same[same.pair == pooled_pair]
            rows.append(
                {
                    "target": target,
                    "method": method,
                    "k_way": float(multi.uar.mean()),
                    "one_domain": float(one_domain.uar.mean()) if len(one_domain) else np.nan,
                    "best_single": means.idxmax() if len(means) else None,
                    "single": float(means.max()) if len(means) else np.nan,
                    "trials": len(trials),
                }
            )
    return pd.DataFrame(rows)


def multi_source_markdown(check: pd.DataFrame) -> str:
    """Markdown of :func:`multi_source_check`, with its average row per method."""
    lines = [
        "| target | method | K-way / per-source UAR | pooled as one domain | best single source "
        "| its UAR | K-way - best single | K-way - one domain | trials |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in check.itertuples():
        lines.append(
            f"| {row.target} | {row.method} | {100 * row.k_way:.1f} | {100 * row.one_domain:.1f}"
            f" | {row.best_single} | {100 * row.single:.1f} | "
            f"{100 * (row.k_way - row.single):+.1f} | {100 * (row.k_way - row.one_domain):+.1f}"
            f" | {row.trials} |"
        )
    for method, rows in check.groupby("method", sort=False):
        lines.append(
            f"| mean over targets | {method} | {100 * rows.k_way.mean():.1f} | "
            f"{100 * rows.one_domain.mean():.1f} |  | {100 * rows.single.mean():.1f} | "
            f"{100 * (rows.k_way - rows.single).mean():+.1f} | "
            f"{100 * (rows.k_way - rows.one_domain).mean():+.1f} |  |"
        )
    return "\n".join(lines)


def selection_counts(runs: pd.DataFrame, parameter: str = "source_weight") -> pd.DataFrame:
    """Per pair, k and selected variant: how many trials picked each value of ``parameter``
    (``runs`` needs a ``picked`` column of the selection's picked parameters)."""
    chosen = runs[runs.picked.notna()]
    values = chosen.picked.map(lambda p: p.get(parameter))
    return (
        chosen.assign(value=values)
        .groupby(["pair", "k", "method", "value"])
        .size()
        .unstack("value", fill_value=0)
    )


def _line(name: str, check: dict) -> str:
    if not check:
        return f"- {name}: no matched trials"
    return (
        f"- {name}: {100 * check['gain']:+.1f} UAR points over the baseline on average over "
        f"{check['pairs']} pairs ({check['trials']} matched trials, {check['test']}); worst "
        f"pair {100 * check['worst_pair']:+.1f} ({check['worst']}); "
        f"{check['below']}/{check['pairs']} pairs below the baseline"
    )


def recommended_markdown(
    runs: pd.DataFrame, method: str, baseline: str, seen: set[tuple[str, str, int]]
) -> str:
    """Per pair: ``method`` against ``baseline`` with the trials seen / not seen when the
    method was chosen, then :func:`recommended_check` over all, seen and held-out trials."""
    both = matched(runs, method, baseline)
    lines = [
        f"| config | pair | {method} UAR | {baseline} UAR | gain | paired test | trials "
        "| seen when chosen |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (config, pair), rows in both.groupby(level=["config", "pair"], sort=False):
        n_seen = sum(key in seen for key in rows.index)
        lines.append(
            f"| {config} | {pair} | {100 * rows.mine.mean():.1f} | {100 * rows.base.mean():.1f}"
            f" | {100 * (rows.mine - rows.base).mean():+.1f} | "
            f"{_test(rows.mine.to_numpy(), rows.base.to_numpy())} | {len(rows)} | "
            f"{n_seen} of {len(rows)} |"
        )
    keys = set(both.index)
    lines += [
        "",
        _line("all pairs and trials", recommended_check(runs, method, baseline)),
        _line(
            "the trials seen when it was chosen", recommended_check(runs, method, baseline, seen)
        ),
        _line(
            "held out (trials not seen when it was chosen)",
            recommended_check(runs, method, baseline, keys - seen),
        ),
    ]
    return "\n".join(lines)


def cv_choice(few: pd.DataFrame, candidates: tuple[str, ...], name: str) -> pd.DataFrame:
    """Per pair, k and trial: the candidate variant with the best few-shot cross-validation
    score (``cv_score``: the pooled out-of-fold UAR on the k labelled examples, the same
    folds for every candidate; ties go to the first candidate), as rows of method ``name``
    whose ``chosen`` column names the variant. The target test rows play no part."""
    rows = []
    pool = few[few.method.isin(candidates) & few.cv_score.notna()]
    rank = {method: i for i, method in enumerate(candidates)}
    for _, group in pool.groupby(["pair", "k", "trial"], sort=False):
        group = group.assign(rank=group.method.map(rank))
        best = group.sort_values(["cv_score", "rank"], ascending=[False, True]).iloc[0]
        rows.append({**best.drop("rank").to_dict(), "method": name, "chosen": best.method})
    return pd.DataFrame(rows)
