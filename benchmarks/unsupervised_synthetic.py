"""Unsupervised adaptation on the synthetic corpus: source-only, DANN and Deep CORAL.

For each seed, the synthetic corpus (``emoshift.data.synthetic``, preset ``demo``: 8
speakers per domain, 4 emotions, 12 utterances each) is generated from that seed;
eGeMAPSv02 functionals are extracted (cached) and z-normalised per domain on robust
statistics. Source: the ``acted`` domain, every utterance labelled. Target: the
``spontaneous`` domain, split by speaker in halves (:func:`emoshift.protocols.speaker_split`);
the training half is the *unlabelled* ``X_target`` of DANN and CORAL, the other half's
speakers are the test set. Train-on-target (the upper bound) is trained on the labelled
training half.

Every method gets the same network and training settings (:data:`COMMON`: one shared
layer of 128 units, a 128-unit hidden layer in the task head, the SER regularisation of
dropout 0.2 on the input and 0.5 after, batch norm, max-norm 4, gradient clipping at 10;
60 epochs without early stopping, since the unsupervised protocol has no target labels to
select epochs with) and its own parameters at their defaults, except CORAL's
``coral_weight``, set per task by Sun & Saenko's rule (task and CORAL loss about equal at
the end of training, read from ``history_`` on seed 0: 1000 for classification, 100 for
regression; with the default of 1 the CORAL term ends at a quarter (classification) or a
sixth (regression) of the task loss). Each score is the UAR (``--task
classification``, emotion) or the mean CCC over arousal and valence (``--task
regression``) on the target test speakers; ``domain_acc`` is the held-out accuracy of a
fresh logistic regression telling source from target-test examples on the learned
representation (:func:`emoshift.methods.alignment.domain_classifier_accuracy`; 0.5 is
chance). Methods are compared with source-only by a paired test over seeds.

Run ``python benchmarks/unsupervised_synthetic.py`` (about 2 minutes per new corpus seed
for generation and extraction, then seconds per fit); results go to ``--out`` as CSV and
Markdown.

Example:
    python benchmarks/unsupervised_synthetic.py --seeds 0 1 2 3 4 --task regression
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
from emoshift.methods.alignment import domain_classifier_accuracy
from emoshift.protocols import speaker_split
from emoshift.report.stats import paired_test

#: shared network and training settings of every method
COMMON = dict(
    hidden_sizes=(128,),
    head_hidden_sizes=(128,),
    input_dropout=0.2,
    dropout=0.5,
    batch_norm=True,
    max_norm=4.0,
    grad_clip=10.0,
    lr=1e-3,
    batch_size=32,
    max_epochs=60,
    patience=None,
)
#: method name -> its own parameters
METHODS = {
    "source_only": {},
    "train_on_target": {},
    "dann": {},
    "coral": {},
}
#: CORAL's weight per task (see the module doc)
CORAL_WEIGHT = {"classification": 1000.0, "regression": 100.0}
DIMENSIONS = ["arousal", "valence"]


def load(seed: int, preset: str, out: Path, jobs: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Per-domain normalised eGeMAPS features and the corpus table of one corpus seed."""
    table = generate_preset(out / f"{preset}-seed{seed}", preset, seed=seed, progress=False)
    result = extract_features(
        table, "egemaps", cache_dir=out / "cache", n_jobs=jobs, on_error="raise", progress=False
    )
    X = normalise_per_domain(result.features.to_numpy(), table["domain"].to_numpy())
    return np.asarray(X, dtype=np.float32), table


def run_seed(seed: int, args: argparse.Namespace) -> list[dict[str, object]]:
    """Every method's target-test score and domain accuracy on the corpus of ``seed``."""
    X, table = load(seed, args.preset, args.out, args.jobs)
    labels = table["emotion"] if args.task == "classification" else table[DIMENSIONS]
    y = labels.to_numpy()
    source = np.flatnonzero(table["domain"] == args.source)
    target = np.flatnonzero(table["domain"] == args.target)
    split = speaker_split(table.iloc[target], test_fraction=0.5, seed=seed)
    pool, test = target[split.train], target[split.test]
    rows = []
    for method, params in METHODS.items():
        if method == "coral":
            params = {**params, "coral_weight": CORAL_WEIGHT[args.task]}
        model = get_method(method, **COMMON, **params, task=args.task, random_state=seed)
        started = time.process_time()
        if method == "train_on_target":
            model.fit(None, None, X_target_labelled=X[pool], y_target_labelled=y[pool])
        else:
            model.fit(X[source], y[source], X_target=X[pool])
        rows.append(
            {
                "seed": seed,
                "method": method,
                "score": model.score(X[test], y[test]),
                "domain_acc": domain_classifier_accuracy(
                    model.transform(X[source]), model.transform(X[test])
                ),
                "cpu_s": time.process_time() - started,
            }
        )
        print(
            f"seed {seed} {method:>15}: score {rows[-1]['score']:.3f}, "
            f"domain accuracy {rows[-1]['domain_acc']:.3f}",
            file=sys.stderr,
        )
    return rows


def summary_of(results: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std of score and domain accuracy per method, and the paired test against
    source-only over seeds."""
    wide = results.pivot(index="seed", columns="method", values="score")
    rows = {}
    for method in METHODS:
        part = results[results["method"] == method]
        row = {
            "score": f"{part['score'].mean():.3f} ± {part['score'].std(ddof=1):.3f}",
            "domain_acc": f"{part['domain_acc'].mean():.3f} ± {part['domain_acc'].std(ddof=1):.3f}",
            "vs source-only": "",
        }
        if method != "source_only" and len(wide) >= 2:
            test = paired_test(wide[method], wide["source_only"])
            row["vs source-only"] = (
                f"{test['mean_difference']:+.3f} ({test['test']} p={test['p_value']:.3f}"
                f"{', significant' if test['significant'] else ''})"
            )
        rows[method] = row
    return pd.DataFrame(rows).T


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--task", choices=["classification", "regression"], default="classification"
    )
    parser.add_argument("--preset", default="demo", help="synthetic corpus size")
    parser.add_argument("--source", default="acted")
    parser.add_argument("--target", default="spontaneous")
    parser.add_argument("--jobs", type=int, default=2, help="feature extraction processes")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "emoshift-unsupervised",
        help="folder for the corpora, the feature cache and the results",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # small networks: threads only add synchronisation
    results = pd.DataFrame([row for seed in args.seeds for row in run_seed(seed, args)])
    args.out.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.out / f"unsupervised_{args.task}.csv", index=False)
    summary = summary_of(results)
    metric = "UAR (chance 0.25)" if args.task == "classification" else "mean CCC (arousal, valence)"
    title = (
        f"synthetic corpus ({args.preset}), {args.source} -> {args.target}, eGeMAPSv02 "
        f"per-domain z-score; {metric} on held-out target speakers, mean ± std over seeds "
        f"{args.seeds}; domain_acc: held-out linear probe on the representation (chance 0.5)"
    )
    header = ["method", *summary.columns]
    lines = [header, ["---"] * len(header), *([name, *row] for name, row in summary.iterrows())]
    markdown = title + "\n\n" + "\n".join("| " + " | ".join(line) + " |" for line in lines)
    (args.out / f"unsupervised_{args.task}.md").write_text(markdown + "\n")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
