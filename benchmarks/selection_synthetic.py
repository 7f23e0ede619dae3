"""How close each unsupervised scorer comes to the target-test oracle when it picks DANN's
lambda_max from [0.1, 0.3, 1.0].

Problems (``--problem``):

* ``gaussian``: ``tests/problems.py:class_shifted_domain``, four Gaussian classes in 6-D
  whose target moves each class its own way (source 60 per class; unlabelled target 60
  per class from one seed, target test 100 per class from another).
* ``corpus``: the synthetic corpus (``emoshift.data.synthetic``, preset ``demo``),
  eGeMAPSv02 z-normalised per domain, ``acted`` -> ``spontaneous`` as in
  ``benchmarks/unsupervised_synthetic.py``: the target's speakers split in halves, one
  half unlabelled adaptation data, the other the test set.

For each seed the source is split 80/20 (stratified) into training and development rows;
DANN is fitted once per lambda_max on the training rows and the unlabelled target rows;
every scorer in :data:`emoshift.selection.SCORERS` scores every fit (from the source
development rows and the unlabelled target rows only), and picks the lambda with the
highest score. The ORACLE (not allowed in practice: it reads target test labels) picks
the lambda with the best target-test UAR; "no selection" keeps DANN's default of 1.0, the
bar a scorer must clear to be worth its cost. Reported per scorer: the mean target UAR of its
pick, its mean regret (oracle UAR minus its pick's UAR, in UAR points), how often it
picks the oracle's lambda, how often it avoids the worst lambda, and on how many seeds its
top score is tied (a tie goes to the smaller lambda, as in the selector's grid order).

Run ``python benchmarks/selection_synthetic.py --problem gaussian --seeds 0 1 2 3 4 5 6 7``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from emoshift.methods import get_method
from emoshift.metrics import uar
from emoshift.report.tables import to_markdown
from emoshift.selection import SCORERS, SelectionData

LAMBDAS = (0.1, 0.3, 1.0)
#: the row for no selection: DANN's default lambda_max
DEFAULT = "no selection (default lambda_max=1.0)"
#: DANN settings per problem (patience None: no early stopping, as in the unsupervised
#: protocol's default for DANN)
DANN = {
    "gaussian": dict(hidden_sizes=(32,), head_hidden_sizes=(16,), max_epochs=40),
    "corpus": dict(
        hidden_sizes=(128,),
        head_hidden_sizes=(128,),
        max_epochs=60,
        batch_size=32,
        input_dropout=0.2,
        dropout=0.5,
    ),
}


def gaussian(seed: int, _: argparse.Namespace) -> tuple[np.ndarray, ...]:
    """Source rows, labels, unlabelled target rows, target test rows and labels."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from problems import class_shifted_domain

    X_s, y_s = class_shifted_domain(60, target=False, seed=1000 + seed)
    X_t, _ = class_shifted_domain(60, target=True, seed=2000 + seed)
    X_test, y_test = class_shifted_domain(100, target=True, seed=3000 + seed)
    return X_s, y_s, X_t, X_test, y_test


def corpus(seed: int, args: argparse.Namespace) -> tuple[np.ndarray, ...]:
    """The synthetic corpus of ``seed``: acted source, spontaneous target by speaker."""
    from emoshift.data.synthetic import generate_preset
    from emoshift.features import extract_features, normalise_per_domain
    from emoshift.protocols import speaker_split

    table = generate_preset(args.out / f"demo-seed{seed}", "demo", seed=seed, progress=False)
    features = extract_features(
        table, "egemaps", cache_dir=args.out / "cache", n_jobs=2, progress=False
    ).features.to_numpy()
    X = np.asarray(normalise_per_domain(features, table["domain"].to_numpy()), np.float32)
    y = table["emotion"].to_numpy()
    source = np.flatnonzero(table["domain"] == "acted")
    target = np.flatnonzero(table["domain"] == "spontaneous")
    split = speaker_split(table.iloc[target], test_fraction=0.5, seed=seed)
    pool, test = target[split.train], target[split.test]
    return X[source], y[source], X[pool], X[test], y[test]


def run_seed(seed: int, args: argparse.Namespace) -> list[dict[str, object]]:
    """One row per lambda: every scorer's score and the (oracle) target-test UAR."""
    X_s, y_s, X_t, X_test, y_test = {"gaussian": gaussian, "corpus": corpus}[args.problem](
        seed, args
    )
    train, dev = train_test_split(
        np.arange(len(y_s)), test_size=0.2, random_state=seed, stratify=y_s
    )
    data = SelectionData(X_s[dev], y_s[dev], X_t, X_s[train])
    rows = []
    for lam in LAMBDAS:
        model = get_method(
            "dann",
            lambda_max=lam,
            lambda_schedule=args.schedule,
            patience=None,
            random_state=seed,
            **DANN[args.problem],
        ).fit(X_s[train], y_s[train], X_target=X_t)
        row = {"seed": seed, "lambda_max": lam, "oracle_uar": uar(y_test, model.predict(X_test))}
        row.update({name: scorer(model, data) for name, scorer in SCORERS.items()})
        rows.append(row)
        print(
            f"seed {seed} lambda {lam}: "
            + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if k not in ("seed", "lambda_max")),
            file=sys.stderr,
        )
    return rows


def summary_of(results: pd.DataFrame) -> pd.DataFrame:
    """Per scorer: its pick's target UAR, regret to the oracle, hits and avoided worst."""
    results = results.assign(**{DEFAULT: (results["lambda_max"] == 1.0).astype(float)})
    rows = {}
    for name in [*SCORERS, DEFAULT, "oracle_uar"]:
        picked, oracle, hits, avoided, ties = [], [], 0, 0, 0
        for _, part in results.groupby("seed"):
            part = part.reset_index(drop=True)
            pick = int(part[name].to_numpy().argmax())  # a tie goes to the smaller lambda
            ties += int(np.sum(part[name].to_numpy() == part[name].max()) > 1)
            uars = part["oracle_uar"].to_numpy()
            picked.append(uars[pick])
            oracle.append(uars.max())
            hits += uars[pick] == uars.max()
            avoided += uars[pick] > uars.min() or uars.min() == uars.max()
        regret = 100 * (np.array(oracle) - np.array(picked))
        label = "ORACLE (target test labels, not allowed)" if name == "oracle_uar" else name
        rows[label] = {
            "target UAR of pick": f"{np.mean(picked):.3f} ± {np.std(picked, ddof=1):.3f}",
            "regret (UAR points)": f"{regret.mean():.1f} ± {regret.std(ddof=1):.1f}",
            "pick as good as oracle's": f"{hits}/{len(picked)}",
            "avoids the worst lambda": f"{avoided}/{len(picked)}",
            "seeds with a tied top score": f"{ties}/{len(picked)}",
        }
    return pd.DataFrame(rows).T


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problem", choices=["gaussian", "corpus"], default="gaussian")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5, 6, 7])
    parser.add_argument("--schedule", default="warmup", help="DANN's lambda_schedule")
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "emoshift-selection"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = pd.DataFrame([row for seed in args.seeds for row in run_seed(seed, args)])
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"selection_{args.problem}_{args.schedule}"
    results.to_csv(args.out / f"{stem}.csv", index=False)
    summary = summary_of(results)
    spread = results.groupby("seed")["oracle_uar"].agg(lambda s: s.max() - s.min())
    title = (
        f"DANN lambda_max in {list(LAMBDAS)} ({args.schedule} schedule) on the "
        f"{args.problem} problem, seeds "
        f"{args.seeds}; target-test UAR (chance 0.25), mean ± std over seeds; "
        f"best-minus-worst lambda spread {100 * spread.mean():.1f} UAR points on average"
    )
    markdown = title + "\n\n" + to_markdown(summary.rename_axis("scorer").reset_index())
    (args.out / f"{stem}.md").write_text(markdown + "\n")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
