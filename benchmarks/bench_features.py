"""Feature-extraction throughput: n_jobs=1 versus n_jobs=2, cold versus warm cache.

Writes ``--files`` synthetic utterances (harmonic tones with an amplitude envelope,
``--seconds`` long each, at 16 kHz) to a temporary folder and times
:func:`emoshift.features.extract_features` for each feature set: a cold run with one
process, a cold run with ``--jobs`` processes (both on empty caches; the one-off start of
the worker fork server is timed separately beforehand, each pool's own start-up is
included), and a warm run over the filled cache.

Usage:
    python benchmarks/bench_features.py --files 60 --seconds 3 --sets egemaps logmel
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from emoshift.features import extract_features


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


def timed(files: list[str], feature_set: str, cache: Path, n_jobs: int) -> tuple[float, int]:
    """Seconds for one ``extract_features`` run and how many files it extracted."""
    start = time.perf_counter()
    result = extract_features(files, feature_set, cache_dir=cache, n_jobs=n_jobs, progress=False)
    return time.perf_counter() - start, result.n_extracted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=60, help="number of utterances")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each utterance")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the parallel run")
    parser.add_argument("--sets", nargs="+", default=["egemaps", "logmel"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_corpus(folder, args.files, args.seconds)
        print(f"{args.files} files x {args.seconds:g} s synthetic audio")
        startup, _ = timed(files[: args.jobs], "logmel", folder / "cache-startup", args.jobs)
        print(
            f"first pool of {args.jobs} workers (fork-server start, 1 file each): {startup:.2f} s"
        )
        header = (
            f"{'set':<10} {'cold j=1 s/file':>16} {f'cold j={args.jobs} s/file':>16} "
            f"{'warm s/file':>12} {f'speedup j={args.jobs}/j=1':>17} {'warm/cold':>10}"
        )
        print(header)
        for feature_set in args.sets:
            serial, n1 = timed(files, feature_set, folder / f"cache-{feature_set}-1", 1)
            parallel, n2 = timed(files, feature_set, folder / f"cache-{feature_set}-2", args.jobs)
            warm, n3 = timed(files, feature_set, folder / f"cache-{feature_set}-1", 1)
            assert (n1, n2, n3) == (len(files), len(files), 0), (n1, n2, n3)
            n = len(files)
            print(
                f"{feature_set:<10} {serial / n:>16.4f} {parallel / n:>16.4f} {warm / n:>12.5f} "
                f"{serial / parallel:>17.2f} {warm / serial:>10.3f}"
            )


if __name__ == "__main__":
    main()
