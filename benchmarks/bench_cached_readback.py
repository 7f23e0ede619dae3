"""Reading cached eGeMAPS features back for a large corpus table.

Writes ``--files`` distinct short synthetic utterances, extracts eGeMAPS for them once
(the cold run, ``--jobs`` workers), then times :func:`emoshift.experiment.features.table_features`
over the filled cache: once with no file-digest memo (every audio file is hashed, as
every cached run did before the memo) and ``--repeats`` times with it (median reported).
Each cached run also checks that it extracted nothing and started no worker pool.

Usage:
    python benchmarks/bench_cached_readback.py --files 5000 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from emoshift.data.table import make_table
from emoshift.experiment.features import table_features
from emoshift.features import extract as extract_module
from emoshift.features import extract_features
from emoshift.features.hash_memo import MEMO_FILE, SETTLE_SECONDS


def write_short_corpus(folder: Path, n_files: int, seconds: float, seed: int = 0) -> list[str]:
    """``n_files`` distinct tone-plus-noise WAVs of ``seconds`` each; return their paths."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    envelope = np.hanning(t.size)
    files = []
    for i in range(n_files):
        tone = np.sin(2 * np.pi * rng.uniform(90, 300) * t) + 0.05 * rng.standard_normal(t.size)
        path = folder / f"u{i:05d}.wav"
        sf.write(path, (0.3 * tone * envelope).astype(np.float32), 16000)
        files.append(str(path))
    return files


class _NoPool:
    def __init__(self, *args, **kwargs) -> None:
        raise RuntimeError("a cached run started a worker pool")


def cached_read(table: pd.DataFrame, cache: Path) -> float:
    """Seconds for one ``table_features`` call that must find every row in the cache."""
    start = time.perf_counter()
    kept, features = table_features(
        table, "egemaps", domain_column="corpus", cache_dir=cache, n_jobs=2, progress=False
    )
    seconds = time.perf_counter() - start
    assert features.shape == (len(table), 88), features.shape
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=0.25, help="length of each file")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folder", help="keep corpus and cache here (reused when present)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        cache = folder / "cache"
        files = sorted(str(p) for p in folder.glob("u*.wav"))[: args.files]
        if len(files) < args.files:
            files = write_short_corpus(folder, args.files, args.seconds)
        table = make_table([{"file": f, "corpus": f"c{i % 2}"} for i, f in enumerate(files)])
        start = time.perf_counter()
        cold = extract_features(files, "egemaps", cache_dir=cache, n_jobs=args.jobs)
        cold_s = time.perf_counter() - start
        time.sleep(SETTLE_SECONDS)  # let the newest file settle so its digest is remembered
        extract_module.ProcessPoolExecutor = _NoPool  # a cached run must not start one
        (cache / MEMO_FILE).unlink(missing_ok=True)
        no_memo = cached_read(table, cache)
        with_memo = [cached_read(table, cache) for _ in range(args.repeats)]
        print(f"{len(files)} files x {args.seconds:g} s; load {os.getloadavg()[0]:.1f}")
        print(f"cold extraction, {args.jobs} jobs: {cold_s:.1f} s ({cold.n_extracted} extracted)")
        print(f"cached read-back, hashing every file: {no_memo:.2f} s")
        print(
            f"cached read-back with the digest memo: median {statistics.median(with_memo):.2f} s "
            f"(runs: {', '.join(f'{s:.2f}' for s in with_memo)})"
        )


if __name__ == "__main__":
    main()
