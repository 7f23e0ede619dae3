"""The Markdown tables of the accuracy benchmark (issue 13) from run folders and grid records.

``emoshift run`` folders give each method's UAR at its defaults per pair and trial; the
grid records of ``accuracy_real.py`` give every grid point's target-test UAR and its
unsupervised scores. A scorer *picks* the grid point with its highest score (a NaN
score never wins; every score is higher-is-better: emoshift's scorers are, and SKADA's
scorer objects return their value sign-flipped where lower is better);
the ``oracle`` pick is the grid point with the best target-test UAR and uses target test
labels: it is shown only to measure each scorer's distance to it.

Example:
    >>> import pandas as pd
    >>> grid = pd.DataFrame({"suite": "emoshift", "config": "c", "pair": "a->b", "trial": 0,
    ...     "method": "dann", "value": [0.1, 1.0], "uar": [0.6, 0.5],
    ...     "score.dev": [0.2, 0.9]})
    >>> picks(grid)[["scorer", "uar"]].values.tolist()
    [['dev', 0.5], ['oracle (target test labels)', 0.6]]
"""

from __future__ import annotations

import json
from pathlib import Path

import accuracy_checks as checks  # beside this module (benchmarks/)
import numpy as np
import pandas as pd

from emoshift.report.experiment import read_run
from emoshift.report.stats import paired_test

ORACLE = "oracle (target test labels)"
KEYS = ["suite", "config", "pair", "trial"]


def _best_score(selection: dict | None) -> float:
    """The score of the grid point a selection picked (NaN without a selection)."""
    scores = [s["score"] for s in (selection or {}).get("scores", []) if s["score"] is not None]
    return max(scores) if scores else float("nan")


def run_frame(run_dir: Path) -> pd.DataFrame:
    """One row per finished trial of an ``emoshift run`` folder: config, pair, k, method,
    uar, what an in-trial selection picked (``None`` without one) and its score."""
    results = read_run(run_dir)
    rows = [
        {
            "config": r["experiment"],
            "pair": r["pair"],
            "k": r.get("k"),
            "method": r["variant"],
            "trial": r["trial"],
            "uar": r["metrics"]["uar"],
            "picked": (r.get("selection") or {}).get("picked"),
            "cv_score": _best_score(r.get("selection")),
        }
        for r in results.trials
    ]
    return pd.DataFrame(rows)


def grid_frame(paths: list[Path]) -> pd.DataFrame:
    """One row per grid fit, its scores flattened to ``score.<name>`` columns."""
    rows = []
    for path in paths:
        for line in Path(path).read_text().splitlines():
            record = json.loads(line)
            scores = {f"score.{k}": v for k, v in record.pop("scores").items()}
            record.pop("errors", None)
            rows.append({**record, **scores})
    return pd.DataFrame(rows)


def picks(grid: pd.DataFrame) -> pd.DataFrame:
    """Each scorer's pick (and the oracle's) per suite, pair, trial and method.

    ``method == "any"`` rows pick across every method of the suite as well.
    """
    scorers = [c for c in grid.columns if c.startswith("score.")]
    rows = []
    pooled = grid.assign(method="any")
    for (suite, config, pair, trial, method), group in pd.concat([grid, pooled]).groupby(
        [*KEYS, "method"], sort=False
    ):
        base = {"suite": suite, "config": config, "pair": pair, "trial": trial, "method": method}
        for column in scorers:
            values = group[column].to_numpy(dtype=float)
            if np.isnan(values).all():
                continue
            best = group.iloc[int(np.nanargmax(values))]
            rows.append({**base, "scorer": column[6:], "uar": best["uar"], "value": best["value"]})
        best = group.iloc[int(np.argmax(group["uar"].to_numpy()))]
        rows.append({**base, "scorer": ORACLE, "uar": best["uar"], "value": best["value"]})
    return pd.DataFrame(rows)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _test(a: np.ndarray, b: np.ndarray) -> str:
    if len(a) < 2:
        return "n<2"
    result = paired_test(a, b)
    star = "*" if result["significant"] else ""
    p = result["p_value"]
    return f"{result['test']} {'p<0.001' if p < 0.001 else f'p={p:.3f}'}{star}"


def _cell(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def comparison_table(runs: pd.DataFrame, keys: list[str], baseline: str) -> str:
    """Per group of ``keys``: each method's mean and std UAR, its difference to
    ``baseline`` over matched trials, the paired test and the number of trials."""
    lines = [
        f"| {' | '.join(keys)} | method | UAR mean | std | vs {baseline} | paired test | n |",
        "| --- " * (len(keys) + 6) + "|",
    ]
    for group_keys, group in runs.groupby(keys, sort=False):
        base = group[group.method == baseline].set_index("trial")["uar"]
        cells = " | ".join(_cell(v) for v in group_keys)
        for method, rows in group.groupby("method", sort=False):
            values = rows.set_index("trial")["uar"]
            common = values.index.intersection(base.index)
            delta = values[common].mean() - base[common].mean()
            test = "" if method == baseline else _test(values[common].values, base[common].values)
            lines.append(
                f"| {cells} | {method} | {_pct(values.mean())} | "
                f"{_pct(values.std(ddof=1) if len(values) > 1 else 0.0)} | "
                f"{'' if method == baseline else f'{100 * delta:+.1f}'} | {test} | {len(values)} |"
            )
    return "\n".join(lines)


def defaults_table(runs: pd.DataFrame, baseline: str) -> str:
    """Per config and pair: each method against ``baseline`` (:func:`comparison_table`)."""
    return comparison_table(runs, ["config", "pair"], baseline)


def selection_summary(chosen: pd.DataFrame, runs: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per suite, method and scorer, over every pair: mean UAR, gain over the baseline,
    paired test over matched (pair, trial), worst pair, collapses, distance to the oracle."""
    base = runs[runs.method == baseline].set_index(["config", "pair", "trial"])["uar"]
    oracle = chosen[chosen.scorer == ORACLE].set_index([*KEYS, "method"])["uar"]
    rows = []
    for (suite, method, scorer), group in chosen.groupby(["suite", "method", "scorer"]):
        indexed = group.set_index(["config", "pair", "trial"])["uar"]
        common = indexed.index.intersection(base.index)
        if len(common) == 0:
            continue
        mine, theirs = indexed[common], base[common]
        per_pair = (mine - theirs).groupby(level=["config", "pair"]).mean()
        to_oracle = oracle.loc[[(suite, *key, method) for key in common]].to_numpy() - mine
        rows.append(
            {
                "suite": suite,
                "method": method,
                "scorer": scorer,
                "pairs": len(per_pair),
                "trials": len(common),
                "uar": mine.mean(),
                "gain": per_pair.mean(),
                "test": _test(mine.to_numpy(), theirs.to_numpy()),
                "worst_pair": per_pair.min(),
                "collapses": int((per_pair < 0).sum()),
                "to_oracle": float(np.mean(to_oracle)),
            }
        )
    return pd.DataFrame(rows)


def summary_table(summary: pd.DataFrame, baseline: str) -> str:
    """Markdown of :func:`selection_summary`, best mean gain first."""
    lines = [
        f"| suite | method | scorer | pairs | trials | UAR | gain over {baseline} | "
        "paired test | worst pair | pairs below baseline | below oracle |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in summary.sort_values("gain", ascending=False).itertuples():
        lines.append(
            f"| {row.suite} | {row.method} | {row.scorer} | {row.pairs} | {row.trials} | "
            f"{_pct(row.uar)} | {100 * row.gain:+.1f} | {row.test} | {100 * row.worst_pair:+.1f}"
            f" | {row.collapses}/{row.pairs} | {100 * row.to_oracle:.1f} |"
        )
    return "\n".join(lines)


def per_pair_table(
    chosen: pd.DataFrame, runs: pd.DataFrame, suite: str, method: str, scorer: str, baseline: str
) -> str:
    """One selection (suite, method, scorer) per pair against the baseline."""
    rows = chosen[(chosen.suite == suite) & (chosen.method == method) & (chosen.scorer == scorer)]
    frame = rows.assign(method=f"{suite} {method} + {scorer}")[
        ["config", "pair", "method", "trial", "uar"]
    ]
    base = runs[runs.method == baseline]
    keys = set(zip(frame.config, frame.pair, frame.trial, strict=True))
    base = base[[key in keys for key in zip(base.config, base.pair, base.trial, strict=True)]]
    return defaults_table(pd.concat([base, frame]), baseline)


def multi_source_table(runs: pd.DataFrame, methods: list[str]) -> str:
    """Per target: the pooled source against the best single source (best by mean UAR,
    chosen on target test results, so the single-source column is an upper bound), over
    the trials the pooled source has finished."""
    lines = [
        "| target | method | multi-source UAR | best single source | its UAR | difference |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    pairs = runs.pair.str.split("->", expand=True)
    frame = runs.assign(source=pairs[0], target=pairs[1])
    for (target, method), group in frame[frame.method.isin(methods)].groupby(["target", "method"]):
        pooled = group[group.source.str.contains("+", regex=False)]
        group = group[group.trial.isin(set(pooled.trial))]  # the trials the pooled source has
        means = group.groupby("source")["uar"].mean()
        multi = [s for s in means.index if "+" in s]
        single = means.drop(multi)
        if not multi or single.empty:
            continue
        best = single.idxmax()
        difference = means[multi[0]] - single[best]
        lines.append(
            f"| {target} | {method} | {_pct(means[multi[0]])} | {best} | "
            f"{_pct(single[best])} | {100 * difference:+.1f} |"
        )
    return "\n".join(lines)


def few_shot_table(runs: pd.DataFrame, baseline: str) -> str:
    """Per pair and k: each method against ``baseline`` (:func:`comparison_table`)."""
    return comparison_table(runs.sort_values(["pair", "k"], kind="stable"), ["pair", "k"], baseline)


def target_check(summary: pd.DataFrame, recommended: tuple[str, str, str]) -> dict[str, object]:
    """The unsupervised targets of issue 13 for the ``(suite, method, scorer)`` fixed in
    advance: its gain over the baseline, paired test and worst pair, and its margin over
    SKADA's best (method, scorer) row on the same trials (chosen on test results, so the
    most favourable row for SKADA)."""
    rows = summary.set_index(["suite", "method", "scorer"])
    if recommended not in rows.index:
        return {}
    mine = rows.loc[recommended]
    skada = summary[(summary.suite == "skada") & (summary.scorer != ORACLE)]
    best = skada.loc[skada["uar"].idxmax()] if len(skada) else None
    return {
        "gain": mine["gain"],
        "test": mine["test"],
        "worst_pair": mine["worst_pair"],
        "skada_best": None if best is None else f"{best['method']} + {best['scorer']}",
        "over_skada": None if best is None else mine["uar"] - best["uar"],
        "pairs": mine["pairs"],
        "trials": mine["trials"],
    }


def few_shot_check(runs: pd.DataFrame, method: str, k: int = 10) -> dict[str, object]:
    """The few-shot target of issue 13: ``method`` against label_target at ``k``, per pair."""
    at_k = runs[runs.k == k]
    if at_k.empty or method not in set(at_k.method):
        return {}
    means = at_k.groupby(["pair", "method"])["uar"].mean().unstack()
    differences = means[method] - means["label_target"]
    mine = at_k[at_k.method == method].set_index(["pair", "trial"])["uar"]
    theirs = at_k[at_k.method == "label_target"].set_index(["pair", "trial"])["uar"]
    common = mine.index.intersection(theirs.index)
    return {
        "gain": differences.mean(),
        "worst_pair": differences.min(),
        "pairs": len(differences),
        "test": _test(mine[common].to_numpy(), theirs[common].to_numpy()),
    }


def _pct_line(name: str, value: float, rest: str = "", indent: str = "") -> str:
    return f"{indent}- {name}: {100 * value:+.1f} UAR points{rest}"


def _in_advance_lines(check: dict) -> list[str]:
    """The configuration fixed in advance (a grid selection) against its targets."""
    if not check:
        return []
    lines = [
        _pct_line(
            "configuration fixed in advance",
            check["gain"],
            f" over source-only on average over {check['pairs']} pairs ({check['trials']} "
            f"matched trials, {check['test']}); worst pair {100 * check['worst_pair']:+.1f}",
        )
    ]
    if check["skada_best"] is not None:
        lines.append(
            _pct_line(
                f"against SKADA's best row ({check['skada_best']})",
                check["over_skada"],
                indent="  ",
            )
        )
    return lines


def _few_lines(few_checks: dict[str, dict]) -> list[str]:
    return [
        _pct_line(
            f"few-shot k=10, {method}",
            few["gain"],
            f" over label-target on average over {few['pairs']} pairs ({few['test']}); "
            f"worst pair {100 * few['worst_pair']:+.1f}",
        )
        for method, few in few_checks.items()
        if few
    ]


def _recommended_parts(
    single: pd.DataFrame, chosen: pd.DataFrame | None, method: str, seen: set, baseline: str
) -> tuple[list[str], list[str]]:
    """Tables and target lines of the recommended method at its defaults."""
    parts = [
        f"### The recommended configuration ({method} at its defaults) per pair",
        checks.recommended_markdown(single, method, baseline, seen),
    ]
    lines = []
    check = checks.recommended_check(single, method, baseline)
    if check:
        lines.append(
            _pct_line(
                f"recommended configuration ({method} at its defaults)",
                check["gain"],
                f" over {baseline} on average over {check['pairs']} pairs ({check['trials']} "
                f"matched trials, {check['test']}); worst pair {100 * check['worst_pair']:+.1f}",
            )
        )
    skada = checks.skada_check(single, chosen, method) if chosen is not None else {}
    if skada:
        lines.append(
            _pct_line(
                f"against SKADA's best row ({skada['row']}, {100 * skada['skada']:.1f} UAR)",
                skada["difference"],
                f" ({method} {100 * skada['mine']:.1f}; same {skada['pairs']} pairs and "
                f"{skada['trials']} trials, {skada['test']})",
                indent="  ",
            )
        )
    return parts, lines


#: the few-shot rows that choose the method by cross-validation on the k labelled examples
CV_CHOSEN = "method chosen by few_shot_cv"


def _few_shot_parts(
    few: pd.DataFrame, few_shot: str, selected: tuple[str, ...], candidates: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """Few-shot tables (with the method chosen by cross-validation) and target lines."""
    chosen = checks.cv_choice(few, candidates, CV_CHOSEN) if candidates else pd.DataFrame()
    rows = pd.concat([few, chosen], ignore_index=True) if len(chosen) else few
    parts = ["### Few-shot", few_shot_table(rows, "label_target")]
    if few.picked.notna().any():
        counts = checks.selection_counts(few)
        parts += ["### Source weights picked by few-shot selection", counts.to_markdown()]
    if len(chosen):
        counts = chosen.groupby(["pair", "k", "chosen"]).size().unstack("chosen", fill_value=0)
        parts += [f"### Methods picked by the '{CV_CHOSEN}' rows", counts.to_markdown()]
    methods = (few_shot, *selected, *([CV_CHOSEN] if len(chosen) else []))
    return parts, _few_lines({m: few_shot_check(rows, m) for m in methods})


def _unsupervised_parts(unsupervised: pd.DataFrame, baseline: str) -> list[str]:
    """The defaults table and the multi-source tables."""
    k_way_rows = unsupervised.config.str.endswith("multi-source").to_numpy()
    single, k_way = unsupervised[~k_way_rows], unsupervised[k_way_rows]
    methods = ["source_only", "dann", "coral", "mrd"]
    parts = ["### Every method at its defaults", defaults_table(unsupervised, baseline)]
    parts += [
        "### Multi-source (pooled as one domain) against the best single source",
        multi_source_table(single, methods),
    ]
    if len(k_way):
        parts += [
            "### Multi-source with the K-way domain head / per-source CORAL",
            checks.multi_source_markdown(checks.multi_source_check(single, k_way, methods)),
        ]
    return parts


def markdown(
    run_dirs: list[Path],
    grid_paths: list[Path],
    *,
    recommended: tuple[str, str, str],
    few_shot: str,
    baseline: str = "source_only",
    default_method: str | None = None,
    seen: frozenset | set = frozenset(),
    selected: tuple[str, ...] = (),
    cv_candidates: tuple[str, ...] = (),
) -> str:
    """Every table the runs and grid records allow, as one Markdown text.

    ``recommended`` is the grid selection fixed in advance (suite, method, scorer);
    ``default_method`` the recommended method at its defaults, checked over every pair
    and separately on the trials not in ``seen`` (those not seen when it was chosen);
    ``few_shot`` and ``selected`` the few-shot variants checked against label-target;
    ``cv_candidates`` the selected variants among which :data:`CV_CHOSEN` takes the one
    with the best cross-validation score on the k labelled examples.
    Run folders whose config name ends in ``multi-source`` hold the K-way multi-source runs.
    """
    frames = [run_frame(d) for d in run_dirs]
    runs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["k"])
    unsupervised, few = runs[runs.k.isna()], runs[runs.k.notna()]
    single = unsupervised[~unsupervised.config.str.endswith("multi-source").to_numpy()]
    parts: list[str] = []
    lines: list[str] = []
    if len(unsupervised):
        parts += _unsupervised_parts(unsupervised, baseline)
    chosen = picks(grid_frame(grid_paths)) if grid_paths else None
    if default_method and default_method in set(single.method):
        more, lines = _recommended_parts(single, chosen, default_method, set(seen), baseline)
        parts += more
    if chosen is not None and len(single):
        summary = selection_summary(chosen, single, baseline)
        lines += _in_advance_lines(target_check(summary, recommended))
        parts += ["### Grids chosen by unsupervised scorers", summary_table(summary, baseline)]
        parts += [
            f"### The configuration fixed in advance per pair ({' '.join(recommended)})",
            per_pair_table(chosen, single, *recommended, baseline),
        ]
    if len(few):
        more, few_lines = _few_shot_parts(few, few_shot, selected, cv_candidates)
        parts += more
        lines += few_lines
    parts += ["### Targets", "\n".join(lines)]
    return "\n\n".join(parts)
