"""Feature-extraction throughput against ``opensmile`` and ``audinterface``, and the cache.

Writes ``--files`` synthetic utterances (harmonic tones with a pitch contour and an
amplitude envelope, ``--seconds`` long each, at 16 kHz) to a temporary folder and, for
each feature set, measures audio seconds per wall second of:

* ``opensmile``: ``opensmile.Smile(...).process_file`` called in a loop over the files
  (no cache, one process) -- the single-core reference;
* ``audinterface``: the same ``Smile`` with ``num_workers=--jobs, multiprocessing=True``
  (audinterface's process pool; only where ``audinterface`` imports);
* ``emoshift j=1`` / ``emoshift j=N``: :func:`emoshift.features.extract_features` on an
  empty cache with one process / ``--jobs`` worker processes (pool start-up included;
  the one-off start of the fork server is timed separately beforehand);
* ``cached``: the same call again over the filled cache.

Rounds alternate the contenders and the medians of ``--repeats`` rounds are printed
with the speed-ups. ``logmel`` is emoshift's own extractor: it has no opensmile peer.

Usage:
    python benchmarks/bench_features.py --files 24 --seconds 3 --repeats 3 \\
        --sets egemaps compare logmel
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from emoshift.features import extract_features, get_extractor


def write_corpus(folder: Path, n_files: int, seconds: float, seed: int = 0) -> list[str]:
    """Write ``n_files`` harmonic-tone WAVs with random pitch and envelope; return paths."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    files = []
    for i in range(n_files):
        f0 = rng.uniform(90, 300) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t))
        phase = 2 * np.pi * np.cumsum(f0) / 16000
        voice = sum(0.3 / k * np.sin(k * phase) for k in range(1, 6))
        envelope = np.sin(np.pi * t / seconds) ** 2 * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
        signal = voice * envelope + 0.003 * rng.standard_normal(t.size)
        path = folder / f"utt{i:04d}.wav"
        sf.write(path, signal.astype(np.float32), 16000)
        files.append(str(path))
    return files


def opensmile_contenders(feature_set: str, jobs: int) -> dict[str, Callable[[list[str]], None]]:
    """The peers for an openSMILE feature set: a plain loop and audinterface's pool."""
    import opensmile

    config = get_extractor(feature_set).config()
    smile_set = getattr(opensmile.FeatureSet, config["feature_set"])
    level = opensmile.FeatureLevel.Functionals

    def loop(files: list[str]) -> None:
        smile = opensmile.Smile(smile_set, level)
        for path in files:
            smile.process_file(path)

    contenders = {"opensmile loop": loop}
    try:
        import audinterface  # noqa: F401  (opensmile's Smile processes through it)
    except ImportError:
        print("audinterface is not installed: its row is left out")
        return contenders

    def pool(files: list[str]) -> None:
        opensmile.Smile(smile_set, level, num_workers=jobs, multiprocessing=True).process_files(
            files
        )

    contenders[f"audinterface j={jobs}"] = pool
    return contenders


def emoshift_contenders(
    feature_set: str, jobs: int, folder: Path, files: list[str]
) -> dict[str, Callable[[list[str]], None]]:
    """Cold runs on new, empty caches with 1 and ``jobs`` processes, and a cached run."""
    counter = iter(range(1_000_000))
    warm_cache = folder / f"warm-{feature_set}"

    def cold(n_jobs: int) -> Callable[[list[str]], None]:
        def run(files: list[str]) -> None:
            cache = folder / f"cold-{feature_set}-{next(counter)}"
            result = extract_features(files, feature_set, cache_dir=cache, n_jobs=n_jobs)
            assert result.n_extracted == len(files)

        return run

    def cached(files: list[str]) -> None:
        result = extract_features(files, feature_set, cache_dir=warm_cache, n_jobs=jobs)
        assert result.n_cached == len(files)

    extract_features(files, feature_set, cache_dir=warm_cache, n_jobs=jobs)
    return {"emoshift j=1": cold(1), f"emoshift j={jobs}": cold(jobs), "emoshift cached": cached}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=24, help="number of utterances")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each utterance")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the parallel runs")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; medians are printed")
    parser.add_argument("--sets", nargs="+", default=["egemaps", "compare", "logmel"])
    args = parser.parse_args()
    os.environ.setdefault("EMOSHIFT_PROGRESS", "0")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_corpus(folder, args.files, args.seconds)
        audio = args.files * args.seconds
        print(
            f"{args.files} files x {args.seconds:g} s = {audio:g} s of synthetic audio; "
            f"load {os.getloadavg()[0]:.1f}"
        )
        start = time.perf_counter()
        extract_features(files[: args.jobs], "logmel", cache_dir=folder / "c0", n_jobs=args.jobs)
        print(
            f"first pool of {args.jobs} workers (fork-server start): "
            f"{time.perf_counter() - start:.2f} s"
        )
        print(f"{'set':<9} {'contender':<17} {'median s':>9} {'audio s/s':>10} {'runs s':>22}")
        for feature_set in args.sets:
            contenders = emoshift_contenders(feature_set, args.jobs, folder, files)
            if feature_set != "logmel":
                contenders = {**opensmile_contenders(feature_set, args.jobs), **contenders}
            times: dict[str, list[float]] = {name: [] for name in contenders}
            for _ in range(args.repeats):
                for name, run in contenders.items():
                    start = time.perf_counter()
                    run(files)
                    times[name].append(time.perf_counter() - start)
            medians = {name: statistics.median(runs) for name, runs in times.items()}
            for name, runs in times.items():
                listed = ", ".join(f"{s:.2f}" for s in runs)
                print(
                    f"{feature_set:<9} {name:<17} {medians[name]:>9.3f} "
                    f"{audio / medians[name]:>10.1f} {listed:>22}"
                )
            one, many = medians["emoshift j=1"], medians[f"emoshift j={args.jobs}"]
            line = (
                f"{feature_set:<9} speed-up j={args.jobs}/j=1: {one / many:.2f}; "
                f"cached vs cold j=1: {one / medians['emoshift cached']:.0f}x"
            )
            if "opensmile loop" in medians:
                line += (
                    f"; emoshift j=1 / opensmile loop time: {one / medians['opensmile loop']:.2f}"
                )
            print(line)
        print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
