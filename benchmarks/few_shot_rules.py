"""Few-shot selection rules against ``label_target``, read from a run's records.

A few-shot run whose selection blocks record ``oracle: true`` keeps, for every trial,
each grid point's per-fold cross-validation scores and its test UAR. This prints, per
pair, the gain over ``label_target`` (UAR points, mean and per-trial range) of the pick
of the rule the run used (``rule: one_se``, its own result line), of the highest score
(the plain rule, read from the same trial's records, no refit) and of each method at
its own defaults. The oracle numbers are read only to score the picks, never to pick.

    python benchmarks/few_shot_rules.py runs/accuracy-few-shot-k10-arousal/results.jsonl \\
        runs/accuracy-few-shot-k10-four-class/results.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np

from emoshift.experiment.store import read_jsonl

METHODS = ("fine_tune", "max_entropy")
COLUMNS = [
    *(f"{m}, {rule}" for m in METHODS for rule in ("highest score", "one_se")),
    *(f"{m} (its defaults)" for m in METHODS),
]


def _gains(trial: dict[str, dict]) -> dict[str, float]:
    """Each column's test UAR minus label_target's, and whether one_se kept the source."""
    base = trial["label_target"]["metrics"]["uar"]
    row: dict[str, float] = {}
    for method in METHODS:
        selected = trial[f"{method}[select=few_shot_cv]"]
        record = selected["selection"]
        oracle = {json.dumps(o["params"]): o["uar"] for o in record["oracle"]}
        best = int(np.argmax([s["score"] for s in record["scores"]]))  # ties: the first
        row[f"{method}, highest score"] = oracle[json.dumps(record["scores"][best]["params"])]
        row[f"{method}, one_se"] = selected["metrics"]["uar"]
        row[f"{method} (its defaults)"] = trial[method]["metrics"]["uar"]
        row[f"{method} kept"] = float(record["rule"]["kept"])
    return {k: (v if k.endswith("kept") else 100 * (v - base)) for k, v in row.items()}


def table(paths: list[str]) -> str:
    """The markdown table of the records in ``paths``."""
    trials: dict[tuple[str, int], dict[str, dict]] = defaultdict(dict)
    for path in paths:
        for record in read_jsonl(path):
            trials[(record["pair"], record["trial"])][record["variant"]] = record
    pairs: dict[str, list[dict[str, float]]] = defaultdict(list)
    bases: dict[str, list[float]] = defaultdict(list)
    for (pair, _), trial in sorted(trials.items()):
        pairs[pair].append(_gains(trial))
        bases[pair].append(100 * trial["label_target"]["metrics"]["uar"])
    lines = [
        "| pair (trials) | label_target UAR | "
        + " | ".join(COLUMNS)
        + " | one_se kept the source |",
        "|" + " --- |" * (len(COLUMNS) + 3),
    ]
    means: dict[str, list[float]] = defaultdict(list)
    for pair, rows in pairs.items():
        cells = []
        for column in COLUMNS:
            values = np.array([row[column] for row in rows])
            means[column].append(values.mean())
            cells.append(f"{values.mean():+.1f} ({values.min():+.1f}..{values.max():+.1f})")
        kept = ", ".join(
            f"{int(sum(row[f'{m} kept'] for row in rows))}/{len(rows)}" for m in METHODS
        )
        lines.append(
            f"| {pair} ({len(rows)}) | {np.mean(bases[pair]):.1f} | "
            + " | ".join(cells)
            + f" | {kept} |"
        )
    summary = [f"{np.mean(means[c]):+.1f} (worst pair {min(means[c]):+.1f})" for c in COLUMNS]
    lines.append("| mean over pairs | | " + " | ".join(summary) + " | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="results.jsonl files of few-shot runs")
    print(table(parser.parse_args().results))


if __name__ == "__main__":
    main()
