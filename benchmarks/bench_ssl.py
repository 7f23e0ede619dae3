"""Extraction speed (x real time) and peak memory of the ``ssl`` feature set.

Builds a model of each size from its config class with random weights (speed does not
depend on the weights), saves it to a temporary folder, writes ``--files`` synthetic
utterances of ``--seconds`` each (:func:`bench_features.write_corpus`) and times
:func:`emoshift.features.extract_features` with one process and ``--threads`` torch
threads: the model load, a cold run (empty cache) and a warm run (everything cached).
Each size runs in a fresh process, so its peak resident memory (and peak CUDA memory on
a GPU) is its own; buffers over 1 MiB are mmapped (``MALLOC_MMAP_THRESHOLD_``), so
memory freed between windows leaves the resident set and the peak is live memory.

With ``--long SECONDS`` it instead extracts one file of that length with the ``base``
model twice, in ``chunk_seconds=20`` windows and in one pass, to show that windows
bound the memory.

Sizes: ``tiny`` is the test model (2 layers of width 16); ``base`` is the wav2vec 2.0 /
HuBERT / WavLM base architecture (12 layers of width 768, 95 M parameters), the
``--family`` config class's defaults.

Usage:
    python benchmarks/bench_ssl.py --sizes tiny base --files 20 --seconds 3 --threads 2
    python benchmarks/bench_ssl.py --long 120 --long-chunks 20 0 --threads 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

sys.path[:0] = [
    str(Path(__file__).resolve().parent),
    str(Path(__file__).resolve().parents[1] / "tests"),
]
FAMILY_NAMES = ("hubert", "wav2vec2", "wavlm")


def save_model(folder: Path, family: str, size: str) -> int:
    """Save a random ``family`` model of ``size`` with its feature extractor; return params."""
    import torch
    import transformers
    from ssl_models import FAMILIES, TINY

    config_class, model_class = FAMILIES[family]
    torch.manual_seed(0)
    model = model_class(config_class(**(TINY if size == "tiny" else {})))
    model.save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor().save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def prepare(folder: Path, size: str, args: argparse.Namespace) -> tuple[int, list[str]]:
    """Save the model and write the audio (in a process of its own: saving takes memory)."""
    from bench_features import write_corpus

    n_params = save_model(folder / "model", args.family, size)
    (folder / "audio").mkdir()
    return n_params, write_corpus(folder / "audio", args.files, args.seconds)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(folder: Path, files: list[str], args: argparse.Namespace, chunk_seconds) -> dict:
    """In this (fresh) process: load the model, extract cold and warm, peak memory."""
    import torch

    from emoshift.features import extract_features, get_extractor
    from emoshift.features.ssl_model import load_model

    torch.set_num_threads(args.threads)
    options = {"layers": "all", "combine": "concat", "pooling": args.pooling}
    extractor = get_extractor(
        "ssl", model=str(folder / "model"), chunk_seconds=chunk_seconds, **options
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    started = time.perf_counter()
    load_model(extractor.info.folder, device)
    load, loaded_rss = time.perf_counter() - started, _peak_rss_mib()
    times = []
    for _ in range(2):
        started = time.perf_counter()
        result = extract_features(
            files, extractor, cache_dir=folder / f"cache{chunk_seconds}", n_jobs=1, progress=False
        )
        times.append(time.perf_counter() - started)
    assert result.n_cached == len(files)
    return {
        "device": device,
        "load_s": load,
        "cold_s": times[0],
        "x_real_time": len(files) * args.seconds / times[0],
        "warm_s": times[1],
        "loaded_rss_MiB": loaded_rss,
        "peak_rss_MiB": _peak_rss_mib(),
        "peak_cuda_MiB": torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "base"], choices=["tiny", "base"])
    parser.add_argument("--family", default="wav2vec2", choices=FAMILY_NAMES)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pooling", default="mean", choices=["mean", "mean_std", "none"])
    parser.add_argument("--long", type=float, help="one file this long, windows vs one pass")
    parser.add_argument(
        "--long-chunks", nargs="+", type=float, default=[20.0, 0.0], help="0: one pass"
    )
    args = parser.parse_args()
    runs = [(size, 20.0) for size in args.sizes]
    if args.long is not None:
        args.files, args.seconds = 1, args.long
        runs = [("base", chunk or None) for chunk in args.long_chunks]
    print(
        f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs; {args.family}, {args.files} files x {args.seconds:g} s, "
        f"{args.threads} torch threads, layers all, pooling {args.pooling}"
    )
    print(
        "| size | chunk_seconds | params | device | load s | cold s | x real time | warm s "
        "| RSS after load MiB | peak RSS MiB | peak CUDA MiB |"
    )
    print("|" + " --- |" * 11)
    # large buffers in mmap so that freed ones leave the RSS: peaks then measure live memory
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(1 << 20))
    context = multiprocessing.get_context("spawn")
    for size, chunk_seconds in runs:
        with tempfile.TemporaryDirectory() as tmp, context.Pool(1) as pool:
            n_params, files = pool.apply(prepare, (Path(tmp), size, args))
            with context.Pool(1) as fresh:
                r = fresh.apply(measure, (Path(tmp), files, args, chunk_seconds))
        cuda = "-" if r["peak_cuda_MiB"] is None else f"{r['peak_cuda_MiB']:.0f}"
        print(
            f"| {size} | {chunk_seconds} | {n_params / 1e6:.2f} M | {r['device']} | "
            f"{r['load_s']:.2f} | {r['cold_s']:.2f} | {r['x_real_time']:.1f} | "
            f"{r['warm_s']:.3f} | {r['loaded_rss_MiB']:.0f} | {r['peak_rss_MiB']:.0f} | {cuda} |"
        )


if __name__ == "__main__":
    main()
