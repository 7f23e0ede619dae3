"""Out-of-context enrichment under leave-one-speaker-out: UAR tables, full and reduced samples.

The in-context corpus (the one evaluated) is split leave-one-speaker-out: every speaker is
the test fold once. Each method is refitted on every training fold, and on stratified,
nested subsets of it (``--sizes``, fractions of the fold; :func:`reduced_sample`) while the
test fold stays the same. Nothing is fitted outside a training fold: features go in raw
(eGeMAPSv02 functionals) and every scaler, selector, AAE and SVM is part of the fitted
model. UAR is computed over the pooled out-of-fold predictions; the mean and standard
deviation of the per-speaker UARs are printed beside it.

Methods (one table row each):

- ``SVM (all features)``: standardise, SVM;
- ``ANOVA-F + SVM``: standardise, ``SelectKBest(f_classif)`` of ``--k-features``, SVM;
- ``plain AAE-<d> + SVM``: :class:`EnrichedAAEClassifier` with ``enrich=False``;
- ``enriched AAE-<d> + SVM``: the out-of-context enrichment, with the whole
  out-of-context corpus (every speaker of it) as ``X_out``/``y_out``;

for the code sizes ``d`` of ``--code-sizes`` (64 and 10 by default).

Two settings: the embedded **synthetic** corpus (in-context ``spontaneous``, out-of-context
``acted``; see :mod:`emoshift.data.synthetic`) and, where ``../shared/data`` holds them, a
real pair: URDU (Urdu talk shows) in-context and EmoDB (German, acted) out-of-context, on
their four shared classes.

Run ``python benchmarks/enriched_aae_synthetic.py --setting synthetic`` (or ``real``,
``both``). Corpora and features are cached under ``--out``.

Example (the LOSO helper on its own):
    >>> import numpy as np
    >>> from sklearn.svm import SVC
    >>> X = np.arange(24.0).reshape(12, 2); y = np.array(["a", "b"] * 6)
    >>> speakers = np.repeat(["s1", "s2", "s3"], 4)
    >>> predictions = loso_predictions(lambda: SVC(), X, y, speakers, sizes=(1.0, 0.5))
    >>> sorted(predictions), predictions[0.5].shape
    ([0.5, 1.0], (12,))
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from emoshift.data.loaders import load_corpus
from emoshift.data.synthetic import generate_corpus
from emoshift.features import extract_features
from emoshift.methods.enriched_aae import EnrichedAAEClassifier
from emoshift.metrics import uar
from emoshift.protocols import leave_one_speaker_out, reduced_sample

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SHARED_CLASSES = ("anger", "happiness", "neutral", "sadness")


def loso_predictions(
    make_model: Callable[[], BaseEstimator],
    X: np.ndarray,
    y: np.ndarray,
    speakers: np.ndarray,
    *,
    sizes: Sequence[float] = (1.0,),
    fit_params: Mapping[str, object] | None = None,
    seed: int = 0,
) -> dict[float, np.ndarray]:
    """Out-of-fold predictions for every training size, one fresh model per fold and size.

    Each speaker's rows are predicted by a model fitted on a stratified subset (fraction
    ``size``, nested across sizes for one ``seed``) of the other speakers' rows only;
    ``fit_params`` (e.g. the out-of-context corpus) go to every ``fit``.
    """
    predictions = {size: np.empty(len(y), dtype=object) for size in sizes}
    for train, test, _ in leave_one_speaker_out(speakers):
        for size in sizes:
            subset = reduced_sample(train, y, size, seed)
            model = make_model().fit(X[subset], y[subset], **(fit_params or {}))
            predictions[size][test] = model.predict(X[test])
    return predictions


def uar_summary(y: np.ndarray, predicted: np.ndarray, speakers: np.ndarray) -> str:
    """Pooled UAR, then the mean and standard deviation of per-speaker UARs, in percent."""
    per_speaker = [uar(y[speakers == s], predicted[speakers == s]) for s in np.unique(speakers)]
    return (
        f"{100 * uar(y, predicted):.1f} "
        f"({100 * np.mean(per_speaker):.1f}±{100 * np.std(per_speaker):.1f})"
    )


def methods(
    code_sizes: Sequence[int], *, epochs: int, k_features: int, k_code: int, seed: int
) -> dict[str, tuple[Callable[[], BaseEstimator], bool]]:
    """Table rows: name -> (model factory, whether fit takes the out-of-context corpus)."""
    rows: dict[str, tuple[Callable[[], BaseEstimator], bool]] = {
        "SVM (all features)": (
            lambda: make_pipeline(StandardScaler(), SVC(class_weight="balanced")),
            False,
        ),
        f"ANOVA-F ({k_features}) + SVM": (
            lambda: make_pipeline(
                StandardScaler(), SelectKBest(f_classif, k=k_features), SVC(class_weight="balanced")
            ),
            False,
        ),
    }
    for enrich in (False, True):
        for size in code_sizes:

            def factory(size: int = size, enrich: bool = enrich) -> EnrichedAAEClassifier:
                return EnrichedAAEClassifier(
                    enrich=enrich,
                    code_size=size,
                    hidden_sizes=(128, 64),
                    epochs=epochs,
                    n_selected=k_code,
                    device="cpu",
                    random_state=seed,
                )

            name = f"{'enriched' if enrich else 'plain'} AAE-{size} + SVM"
            rows[name] = (factory, enrich)
    return rows


def loso_table(
    X: np.ndarray,
    y: np.ndarray,
    speakers: np.ndarray,
    X_out: np.ndarray,
    y_out: np.ndarray,
    rows: Mapping[str, tuple[Callable[[], BaseEstimator], bool]],
    *,
    sizes: Sequence[float],
    seed: int,
) -> pd.DataFrame:
    """One row per method, one column per training size: pooled UAR (per-speaker mean±sd)."""
    table = {}
    for name, (factory, uses_out) in rows.items():
        started = time.perf_counter()
        fit_params = {"X_out": X_out, "y_out": y_out} if uses_out else None
        predictions = loso_predictions(
            factory, X, y, speakers, sizes=sizes, fit_params=fit_params, seed=seed
        )
        table[name] = {
            f"{size:g} of fold": uar_summary(y, predictions[size], speakers) for size in sizes
        }
        print(f"  {name}: {table[name]} [{time.perf_counter() - started:.0f} s]", flush=True)
    return pd.DataFrame.from_dict(table, orient="index")


def markdown(table: pd.DataFrame) -> str:
    """A Markdown table with the index as first column (no ``tabulate`` needed)."""
    header = ["method", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([str(i), *map(str, row)]) + " |" for i, row in table.iterrows()]
    return "\n".join(lines)


def egemaps(table: pd.DataFrame, cache_dir: Path, jobs: int) -> tuple[np.ndarray, pd.DataFrame]:
    """eGeMAPSv02 functionals (cached) and the table rows that have them, finite."""
    result = extract_features(table, "egemaps", cache_dir=cache_dir, n_jobs=jobs, progress=False)
    features = result.features.to_numpy(dtype=np.float64)
    kept = table.loc[result.index]
    finite = np.isfinite(features).all(1)
    if not finite.all():
        print(f"  dropped {int((~finite).sum())} rows with non-finite features")
    return features[finite], kept[finite]


def synthetic_data(out: Path, seed: int, jobs: int) -> tuple[np.ndarray, ...]:
    """In-context ``spontaneous`` and out-of-context ``acted`` rows of the synthetic corpus."""
    table = generate_corpus(out / f"synthetic-seed{seed}", seed=seed, progress=False)
    features, table = egemaps(table, out / "features", jobs)
    inside = (table["domain"] == "spontaneous").to_numpy()
    emotion, speaker = table["emotion"].to_numpy(), table["speaker"].to_numpy()
    return features[inside], emotion[inside], speaker[inside], features[~inside], emotion[~inside]


def real_data(data: Path, out: Path, jobs: int) -> tuple[np.ndarray, ...]:
    """URDU in-context, EmoDB out-of-context, both cut to their four shared classes."""
    parts = []
    for corpus in ("urdu", "emodb"):
        table = load_corpus(data / corpus, corpus)
        table = table[table["emotion"].isin(SHARED_CLASSES)].reset_index(drop=True)
        features, table = egemaps(table, out / "features", jobs)
        parts.append((features, table["emotion"].to_numpy(), table["speaker"].to_numpy()))
    (X, y, speakers), (X_out, y_out, _) = parts
    return X, y, speakers, X_out, y_out


def run(name: str, data: tuple[np.ndarray, ...], args: argparse.Namespace) -> pd.DataFrame:
    X, y, speakers, X_out, y_out = data
    print(
        f"\n## {name}: in-context {len(X)} rows, {len(np.unique(speakers))} speakers "
        f"(LOSO folds), classes {pd.Series(y).value_counts().sort_index().to_dict()}; "
        f"out-of-context {len(X_out)} rows; {X.shape[1]} features",
        flush=True,
    )
    rows = methods(
        args.code_sizes,
        epochs=args.epochs,
        k_features=args.k_features,
        k_code=args.k_code,
        seed=args.seed,
    )
    table = loso_table(X, y, speakers, X_out, y_out, rows, sizes=args.sizes, seed=args.seed)
    print(f"\nLOSO UAR % (pooled; per-speaker mean±sd), {name}\n")
    print(markdown(table))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", choices=("synthetic", "real", "both"), default="both")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "emoshift-oce")
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--sizes", type=float, nargs="+", default=[1.0, 0.5, 0.25])
    parser.add_argument("--code-sizes", type=int, nargs="+", default=[64, 10])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--k-features", type=int, default=44, help="ANOVA-F k on features")
    parser.add_argument("--k-code", type=int, default=32, help="ANOVA-F k on the code")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="feature extraction workers")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.setting in ("synthetic", "both"):
        run(
            "synthetic (in: spontaneous, out: acted)",
            synthetic_data(args.out, args.seed, args.jobs),
            args,
        )
    if args.setting in ("real", "both"):
        if not (args.data / "urdu").is_dir() or not (args.data / "emodb").is_dir():
            print(f"no URDU/EmoDB under {args.data}: skipping the real setting")
        else:
            run("real (in: URDU, out: EmoDB)", real_data(args.data, args.out, args.jobs), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
