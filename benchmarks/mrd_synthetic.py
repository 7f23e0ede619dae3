"""MRD against source-only for arousal/valence on the synthetic corpus (acted -> spontaneous).

The synthetic corpus (``emoshift.data.synthetic``, preset ``demo``: 8 speakers per
domain, 4 emotions, 12 utterances each; synthetic voices, not recordings) is generated
from ``--corpus-seed``; eGeMAPSv02 functionals are extracted (cached) and z-normalised
per domain on robust statistics. Source: the ``acted`` domain with its arousal and valence
labels. Target: the ``spontaneous`` domain, split by speaker in halves
(:func:`emoshift.protocols.speaker_split`): the training half's features, unlabelled, are
MRD's ``X_target``; the other half's speakers are the test set. For each training seed,
source-only, MRD, train-on-target (trained on the labelled training half: the upper
bound) and an ablation (MRD's networks trained by step 1 alone, no discrepancy steps)
are fitted with ``random_state=seed`` on the same network settings and scored by CCC
per dimension on the target test speakers. Model selection uses a source development
split only. The MRD-minus-source-only difference is tested with a paired t-test over
seeds.

Run ``python benchmarks/mrd_synthetic.py`` (about 7 minutes on two busy cores with the
defaults, plus feature extraction on a first run); results go to ``--out`` as CSV and
a Markdown table.

Example:
    python benchmarks/mrd_synthetic.py --seeds 0 1 2 3 4
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
from scipy import stats
from sklearn.base import BaseEstimator

from emoshift.data.synthetic import generate_preset
from emoshift.features import extract_features, normalise_per_domain
from emoshift.methods import get_method
from emoshift.methods.base import Batch
from emoshift.methods.mrd import MRD
from emoshift.metrics import ccc
from emoshift.protocols import speaker_split

DIMENSIONS = ["arousal", "valence"]
#: shared network and training settings of every method
COMMON = dict(
    task="regression", hidden_sizes=(128,), dropout=0.2, lr=1e-3, batch_size=32, max_epochs=60
)
METHODS = ["source_only", "mrd", "mrd_step1_only", "train_on_target"]


class MRDStep1Only(MRD):
    """Ablation: MRD's networks trained by step 1 alone (no discrepancy steps), to tell
    what adaptation adds from what the two-regressor architecture does by itself."""

    def _train_step(self, batch: Batch) -> dict[str, float]:
        return {"loss": self._step_source(batch)}


def make(method: str, **params: object) -> BaseEstimator:
    """A registered method by name, or the step-1-only ablation."""
    return MRDStep1Only(**params) if method == "mrd_step1_only" else get_method(method, **params)


def load(seed: int, out: Path, jobs: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Per-domain normalised eGeMAPS features and the corpus table of one corpus seed."""
    table = generate_preset(out / f"demo-seed{seed}", "demo", seed=seed, progress=False)
    result = extract_features(
        table, "egemaps", cache_dir=out / "cache", n_jobs=jobs, on_error="raise", progress=False
    )
    X = normalise_per_domain(result.features.to_numpy(), table["domain"].to_numpy())
    return np.asarray(X, dtype=np.float32), table


def run(args: argparse.Namespace) -> pd.DataFrame:
    X, table = load(args.corpus_seed, args.out, args.jobs)
    Y = table[DIMENSIONS].to_numpy(dtype=np.float32)
    source = np.flatnonzero(table["domain"] == args.source)
    target = np.flatnonzero(table["domain"] == args.target)
    split = speaker_split(table.iloc[target], test_fraction=0.5, seed=args.corpus_seed)
    pool, test = target[split.train], target[split.test]
    fit_args = {
        "source_only": {"X": X[source], "y": Y[source]},
        "mrd": {"X": X[source], "y": Y[source], "X_target": X[pool]},
        "mrd_step1_only": {"X": X[source], "y": Y[source], "X_target": X[pool]},
        "train_on_target": {
            "X": None,
            "y": None,
            "X_target_labelled": X[pool],
            "y_target_labelled": Y[pool],
        },
    }
    rows = []
    for seed in args.seeds:
        for method in args.methods:
            started = time.process_time()
            model = make(method, **COMMON, random_state=seed).fit(**fit_args[method])
            scores = ccc(Y[test], model.predict(X[test]), multioutput="raw_values")
            row = {"method": method, "seed": seed, "cpu_s": time.process_time() - started}
            row |= {f"ccc_{d}": float(s) for d, s in zip(DIMENSIONS, scores)}
            rows.append(row)
            print(
                f"{method:>15} seed={seed}: "
                + ", ".join(f"{d} CCC {s:.3f}" for d, s in zip(DIMENSIONS, scores)),
                file=sys.stderr,
            )
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """``mean ± std`` CCC per method and dimension, then MRD against source-only and
    against its step-1-only ablation: mean paired difference, t-test p-value, wins."""
    cells = {}
    for method in methods:
        part = results[results["method"] == method]
        cells[method] = {
            d: f"{part[f'ccc_{d}'].mean():.3f} ± {part[f'ccc_{d}'].std(ddof=1):.3f}"
            for d in DIMENSIONS
        }
    for other in ("source_only", "mrd_step1_only"):
        if not {"mrd", other} <= set(methods):
            continue
        mrd = results[results["method"] == "mrd"].sort_values("seed")
        base = results[results["method"] == other].sort_values("seed")
        row = {}
        for d in DIMENSIONS:
            a, b = mrd[f"ccc_{d}"].to_numpy(), base[f"ccc_{d}"].to_numpy()
            p = stats.ttest_rel(a, b).pvalue if len(a) > 1 else float("nan")
            row[d] = f"{(a - b).mean():+.3f} (p = {p:.3f}, {int((a > b).sum())}/{len(a)} seeds)"
        cells[f"mrd - {other}"] = row
    return pd.DataFrame(cells).T


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus-seed", type=int, default=0, help="synthetic corpus seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--source", default="acted")
    parser.add_argument("--target", default="spontaneous")
    parser.add_argument("--jobs", type=int, default=2, help="feature extraction processes")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "emoshift-mrd",
        help="folder for the corpus, the feature cache and the results",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # small networks: threads only add synchronisation
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"mrd_synthetic_corpus{args.corpus_seed}"
    results.to_csv(args.out / f"{stem}.csv", index=False)
    summary = summarise(results, args.methods)
    title = (
        f"synthetic corpus (seed {args.corpus_seed}), {args.source} -> {args.target}, "
        "eGeMAPSv02 per-domain z-score, MLP(128); CCC on held-out target speakers, "
        f"mean ± std over {len(args.seeds)} training seeds"
    )
    header = ["method", *summary.columns]
    lines = [header, ["---"] * len(header), *([name, *row] for name, row in summary.iterrows())]
    markdown = title + "\n\n" + "\n".join("| " + " | ".join(line) + " |" for line in lines)
    (args.out / f"{stem}.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
