"""Few labelled target examples on the synthetic corpus: UAR against k per class.

The synthetic corpus (``emoshift.data.synthetic``, preset ``demo``: 8 speakers per
domain, 4 emotions, 12 utterances each) is generated from ``--seed``; eGeMAPSv02
functionals are extracted (cached) and z-normalised per domain on robust statistics.
Source: the ``acted`` domain, every utterance labelled. Target: the ``spontaneous``
domain, split by speaker in halves (:func:`emoshift.protocols.speaker_split`): the
training half is the pool for the k labelled examples per class and, unlabelled, the
``X_target`` of the methods that use it (max-entropy); the other half's speakers are the
test set. For each k and each trial (:func:`emoshift.protocols.few_shot_trials`,
independent draws, seed per k), every method is fitted with ``random_state=trial`` and
scored by UAR on the target test speakers. Source-only does not see the k examples; it
is fitted once per trial and repeated in every column. Model selection uses a source
development split only (there is no labelled target dev set in this protocol), so
fine-tuning runs its fixed ``fine_tune_epochs``; every method keeps its own defaults.

Run ``python benchmarks/few_shot_synthetic.py`` (about 30 minutes on two busy cores with
the defaults); results go to ``--out`` as CSV and a Markdown table.

Example:
    python benchmarks/few_shot_synthetic.py --trials 10 --ks 2 4 6 8 10 12
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from emoshift.data.synthetic import generate_preset
from emoshift.features import extract_features, normalise_per_domain
from emoshift.methods import get_method
from emoshift.metrics.classification import uar
from emoshift.protocols import few_shot_trials, speaker_split

#: shared network and training settings of every method
COMMON = dict(hidden_sizes=(128,), dropout=0.2, lr=1e-3, batch_size=32, max_epochs=60)
#: the methods compared, each with its own parameters at their defaults
METHODS = ["source_only", "label_target", "fine_tune", "max_entropy", "cada", "fada"]


def load(seed: int, out: Path, jobs: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Per-domain normalised eGeMAPS features and the corpus table of one corpus seed."""
    table = generate_preset(out / f"demo-seed{seed}", "demo", seed=seed, progress=False)
    result = extract_features(
        table, "egemaps", cache_dir=out / "cache", n_jobs=jobs, on_error="raise", progress=False
    )
    X = normalise_per_domain(result.features.to_numpy(), table["domain"].to_numpy())
    return np.asarray(X, dtype=np.float32), table


def run(args: argparse.Namespace) -> pd.DataFrame:
    X, table = load(args.seed, args.out, args.jobs)
    y = table["emotion"].to_numpy()
    source = np.flatnonzero(table["domain"] == args.source)
    target = np.flatnonzero(table["domain"] == args.target)
    split = speaker_split(table.iloc[target], test_fraction=0.5, seed=args.seed)
    pool, test = target[split.train], target[split.test]
    rows = []

    def record(method: str, k: int, trial: int, model, fit_args: dict) -> None:
        started = time.process_time()
        model.fit(**fit_args)
        score = uar(y[test], model.predict(X[test]))
        rows.append(
            {
                "method": method,
                "k": k,
                "trial": trial,
                "uar": score,
                "cpu_s": time.process_time() - started,
            }
        )
        print(f"{method:>13} k={k:>2} trial={trial}: UAR {score:.3f}", file=sys.stderr)

    for trial in range(args.trials):
        model = get_method("source_only", **COMMON, random_state=trial)
        record("source_only", 0, trial, model, {"X": X[source], "y": y[source]})
    for k in args.ks:
        draws = few_shot_trials(y, k, args.trials, seed=1000 + k, exclusive=False, pool=pool)
        for trial, shots in enumerate(draws):
            for method in args.methods:
                if method == "source_only":
                    continue
                model = get_method(method, **COMMON, random_state=trial)
                fit_args = {
                    "X": None if method == "label_target" else X[source],
                    "y": None if method == "label_target" else y[source],
                    "X_target": X[pool],
                    "X_target_labelled": X[shots],
                    "y_target_labelled": y[shots],
                }
                record(method, k, trial, model, fit_args)
    return pd.DataFrame(rows)


def table_of(results: pd.DataFrame, ks: list[int], methods: list[str]) -> pd.DataFrame:
    """``mean ± std`` UAR per method (rows) and k (columns); source-only in every column."""
    cells = {}
    for method in methods:
        part = results[results["method"] == method]
        row = {}
        for k in ks:
            values = part["uar"] if method == "source_only" else part[part["k"] == k]["uar"]
            row[f"k={k}"] = f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"
        cells[method] = row
    return pd.DataFrame(cells).T


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument("--trials", type=int, default=10, help="trials per k")
    parser.add_argument("--ks", type=int, nargs="+", default=[2, 4, 6, 8, 10, 12])
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--source", default="acted")
    parser.add_argument("--target", default="spontaneous")
    parser.add_argument("--jobs", type=int, default=2, help="feature extraction processes")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "emoshift-few-shot",
        help="folder for the corpus, the feature cache and the results",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # small networks: threads only add synchronisation
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.out / f"few_shot_seed{args.seed}.csv", index=False)
    summary = table_of(results, args.ks, args.methods)
    title = (
        f"synthetic corpus (seed {args.seed}), {args.source} -> {args.target}, eGeMAPSv02 "
        f"per-domain z-score, MLP(128); UAR on held-out target speakers, mean ± std over "
        f"{args.trials} trials (chance 0.25)"
    )
    header = ["method", *summary.columns]
    lines = [header, ["---"] * len(header), *([name, *row] for name, row in summary.iterrows())]
    markdown = title + "\n\n" + "\n".join("| " + " | ".join(line) + " |" for line in lines)
    (args.out / f"few_shot_seed{args.seed}.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
