"""How cost grows: training time and memory against rows, extraction time against audio.

Training: emoshift's DANN (the network and settings of ``bench_training.py``) for
``--epochs`` epochs on ``R`` source and ``R`` target rows of the synthetic 88-column
features, for each ``R`` in ``--rows``, each fit in a fresh process (wall time of the
fit, peak resident memory; each process first runs a small untimed fit, so the time is
the fit's own and not the one-off start of the process). Extraction: eGeMAPS with
``--jobs`` workers on an empty cache for corpora of ``--minutes`` minutes of 4-second
synthetic utterances (after an untimed run that starts the workers' fork server). For
both, the exponent ``b`` of ``cost ~ a * size^b`` is fitted by least squares on the
log-log points (for training, on the sizes of 10,000 rows and up, where the fixed
start-up cost no longer dominates; the fit over all sizes is printed too).

Usage:
    python benchmarks/bench_scaling.py --rows 1000 10000 100000 1000000 --epochs 1 \\
        --minutes 2 8 32
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_training import run_one  # noqa: E402


def exponent(sizes: list[float], costs: list[float]) -> float:
    """The slope of log(cost) against log(size)."""
    return float(np.polyfit(np.log(sizes), np.log(costs), 1)[0])


def training(args: argparse.Namespace) -> None:
    print(
        f"training: DANN, {args.epochs} epoch(s), batch 64+64, device {args.device}; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'rows/domain':>12} {'fit s':>9} {'s per 1k rows':>14} {'peak MiB':>9} "
        f"{'fit +MiB':>9} {'GPU MiB':>8}"
    )
    times, peaks = [], []
    for rows in args.rows:
        options = argparse.Namespace(
            epochs=args.epochs,
            batch=64,
            seed=0,
            source=rows,
            target=rows,
            device=args.device,
            warm=True,
        )
        result = run_one("emoshift", "dann", options)
        if result is None:
            raise SystemExit(f"the fit on {rows} rows failed (see above)")
        times.append(result["seconds"])
        peaks.append(result["fit_growth_mib"])
        print(
            f"{rows:>12} {result['seconds']:>9.2f} {1000 * result['seconds'] / rows:>14.3f} "
            f"{result['peak_mib']:>9.0f} {result['fit_growth_mib']:>9.1f} "
            f"{result['cuda_peak_mib'] or 0.0:>8.1f}",
            flush=True,
        )
    large = [i for i, rows in enumerate(args.rows) if rows >= 10_000]
    if len(large) >= 2:
        fitted = exponent([args.rows[i] for i in large], [times[i] for i in large])
        print(f"time exponent (>= 10k rows): {fitted:.2f}", end="; ")
        growth = [max(peaks[i], 1.0) for i in large]
        print(
            f"memory growth exponent (>= 10k rows): "
            f"{exponent([args.rows[i] for i in large], growth):.2f}",
            end="; ",
        )
    if len(args.rows) >= 2:
        print(f"time exponent (all): {exponent(args.rows, times):.2f}", end="; ")
    print(f"load {os.getloadavg()[0]:.1f}")


def extraction(args: argparse.Namespace) -> None:
    from bench_features import write_corpus

    from emoshift.features import extract_features

    print(f"extraction: eGeMAPS, {args.jobs} jobs, 4 s files; load {os.getloadavg()[0]:.1f}")
    print(f"{'audio min':>10} {'files':>6} {'wall s':>8} {'audio s/s':>10}")
    seconds, walls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        warm = write_corpus(Path(tmp), args.jobs, 1.0)  # start the fork server, untimed
        extract_features(warm, "egemaps", cache_dir=Path(tmp) / "warm", n_jobs=args.jobs)
        for minutes in args.minutes:
            folder = Path(tmp) / f"m{minutes:g}"
            folder.mkdir()
            n_files = max(1, round(minutes * 60 / 4))
            files = write_corpus(folder, n_files, 4.0, seed=int(minutes * 10))
            start = time.perf_counter()
            result = extract_features(
                files, "egemaps", cache_dir=folder / "cache", n_jobs=args.jobs
            )
            wall = time.perf_counter() - start
            assert result.n_extracted == n_files
            seconds.append(n_files * 4.0)
            walls.append(wall)
            print(
                f"{minutes:>10g} {n_files:>6} {wall:>8.1f} {n_files * 4.0 / wall:>10.1f}",
                flush=True,
            )
    print(f"time exponent: {exponent(seconds, walls):.2f}; load {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1000, 10_000, 100_000])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--minutes", type=float, nargs="*", default=[2, 8, 32])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()
    if args.rows:
        training(args)
    if args.minutes:
        extraction(args)


if __name__ == "__main__":
    main()
