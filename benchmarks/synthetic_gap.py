"""Measure the domain gap of the synthetic corpus (acted -> spontaneous).

For each seed: generate the synthetic corpus (a preset, ``demo`` by default), extract
eGeMAPSv02 functionals with openSMILE, z-normalise each domain on its own statistics and
split the target domain's speakers in two halves (balanced by gender). Then

* source-only: an MLP trained on every source utterance, tested on the target test half;
* train-on-target: the same MLP trained on the target train half, tested on the same
  target test half.

The synthetic corpus must show a real gap: source-only UAR at least 10 points below
train-on-target, both above chance. Run ``python benchmarks/synthetic_gap.py``; corpora and
features are kept under ``--out`` so a second run only trains.

Example:
    python benchmarks/synthetic_gap.py --seeds 0 1 2 --jobs 2
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from emoshift.data.synthetic import MANIFEST_NAME, PRESETS, generate_preset

_SMILE = None


def _init_worker() -> None:
    global _SMILE
    import opensmile

    _SMILE = opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def _extract(path: str) -> np.ndarray:
    return _SMILE.process_file(path).to_numpy()[0]


def egemaps(table: pd.DataFrame, corpus_dir: Path, jobs: int) -> np.ndarray:
    """eGeMAPSv02 functionals of every file, cached next to the corpus by its manifest."""
    key = hashlib.sha1((corpus_dir / MANIFEST_NAME).read_bytes()).hexdigest()[:16]
    cache = corpus_dir / f"egemaps-{key}.npy"
    if cache.is_file():
        return np.load(cache)
    files = table["file"].tolist()
    with multiprocessing.Pool(jobs, initializer=_init_worker) as pool:
        features = np.stack(pool.map(_extract, files, chunksize=16))
    np.save(cache, features)
    return features


def split_speakers(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Halve a domain's speakers, each half with the same number of each gender."""
    train, test = [], []
    for _, group in table.groupby("gender"):
        speakers = sorted(group["speaker"].unique())
        half = len(speakers) // 2
        train += speakers[:half]
        test += speakers[half:]
    return train, test


def mlp_uar(x_train, y_train, x_test, y_test, seed: int) -> float:
    """UAR of an MLP(128) trained on (x_train, y_train) and tested on (x_test, y_test)."""
    model = MLPClassifier(hidden_layer_sizes=(128,), max_iter=500, random_state=seed)
    model.fit(x_train, y_train)
    return float(balanced_accuracy_score(y_test, model.predict(x_test)))


def measure(
    seed: int, out: Path, preset: str, source: str, target: str, jobs: int
) -> dict[str, float]:
    """Source-only and train-on-target UAR on the target test half, for one seed."""
    corpus_dir = out / f"{preset}-seed{seed}"
    started = time.perf_counter()
    table = generate_preset(corpus_dir, preset, seed=seed)
    generated = time.perf_counter() - started
    features = egemaps(table, corpus_dir, jobs)
    features = np.nan_to_num(features)
    domain = table["domain"].to_numpy()
    for name in (source, target):
        rows = domain == name
        features[rows] = StandardScaler().fit_transform(features[rows])
    labels = table["emotion"].to_numpy()
    target_rows = table["domain"] == target
    train_speakers, test_speakers = split_speakers(table[target_rows])
    src = (domain == source).nonzero()[0]
    tgt_train = (target_rows & table["speaker"].isin(train_speakers)).to_numpy().nonzero()[0]
    tgt_test = (target_rows & table["speaker"].isin(test_speakers)).to_numpy().nonzero()[0]
    source_only = mlp_uar(features[src], labels[src], features[tgt_test], labels[tgt_test], seed)
    on_target = mlp_uar(
        features[tgt_train], labels[tgt_train], features[tgt_test], labels[tgt_test], seed
    )
    return {
        "seed": seed,
        "files": len(table),
        "generate_s": round(generated, 1),
        "source_only_uar": source_only,
        "train_on_target_uar": on_target,
        "gap": on_target - source_only,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="corpus seeds")
    parser.add_argument(
        "--preset", default="demo", choices=sorted(PRESETS), help="synthetic corpus size"
    )
    parser.add_argument("--source", default="acted", help="source domain")
    parser.add_argument("--target", default="spontaneous", help="target domain")
    parser.add_argument("--jobs", type=int, default=2, help="feature extraction processes")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "emoshift-synthetic-gap",
        help="folder for the generated corpora and cached features",
    )
    args = parser.parse_args(argv)
    rows = []
    for seed in args.seeds:
        rows.append(measure(seed, args.out, args.preset, args.source, args.target, args.jobs))
        print(rows[-1], file=sys.stderr)
    results = pd.DataFrame(rows)
    summary = results[["source_only_uar", "train_on_target_uar", "gap"]].agg(["mean", "std"])
    print(f"synthetic corpus, {args.source} -> {args.target}, eGeMAPSv02 + MLP(128), UAR")
    print(results.to_string(index=False, float_format="%.3f"))
    print(summary.to_string(float_format="%.3f"))
    holds = bool((results["gap"] >= 0.10).all())
    print(f"gap >= 10 points on every seed: {holds}")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
