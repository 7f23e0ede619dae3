"""Time ``emoshift report`` on a run folder the size of issue 24's (300 trials).

Writes a fake-but-valid run folder (no training): ``--pairs`` pairs x 5 methods x
``--trials`` trials of a 4-class task, each with metrics, a confusion matrix and a
training history, and for trial 0 of each method and pair an ``artifacts/<key>.npz`` of
400 source and target rows per shared layer (2 to 4 layers, widths 256/128/64/32, as the
default MLP stores them). Then runs ``python -m emoshift report RUN_DIR`` ``--repeats``
times in a subprocess (so the emoshift on ``PYTHONPATH`` is the one timed: point it at an
older checkout to time that) and prints the seconds of each run, the size of
``report.html`` and the number of figures.

Usage:
    python benchmarks/bench_report.py --out /tmp/bench-report --repeats 2
    python benchmarks/bench_report.py --out /tmp/bench-report --repeats 1 -- --embeddings all
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

LABELS = ["anger", "happiness", "neutral", "sadness"]
METHODS = {"source_only": 2, "dann": 3, "coral": 3, "mrd": 4, "max_entropy": 4}
"""Method -> shared layers it stores (20 pairs x (3 + 3 + 4 + 4) = 280 layer panels)."""
WIDTHS = (256, 128, 64, 32)
ROWS = 400


def _record(method: str, pair: str, trial: int, rng: np.random.Generator) -> dict:
    key = f"{method}-{pair}-{trial}".replace("->", "_")
    uar = 0.45 + 0.03 * (method != "source_only") + rng.normal(scale=0.02)
    history = [
        {"epoch": e, "loss": 1 / (e + 1), "domain_acc_source": 0.5 + 0.4 * np.exp(-e / 4)}
        for e in range(20)
    ]
    return {
        "key": key,
        "status": "ok",
        "error": None,
        "experiment": "bench-report",
        "method": method,
        "params": {},
        "variant": method,
        "pair": pair,
        "protocol": "cross_domain",
        "trial": trial,
        "seed": trial,
        "task": "classification",
        "metrics": {"uar": uar, "wa": uar + 0.01, "f1": uar - 0.01},
        "labels": LABELS,
        "confusion": rng.integers(0, 30, size=(4, 4)).tolist(),
        "history": history if method != "source_only" else [],
        "embeddings": f"artifacts/{key}.npz" if trial == 0 else None,
    }


def _artifact(path: Path, layers: int, rng: np.random.Generator) -> None:
    domain = np.repeat([0, 1], ROWS // 2)
    label = np.array(LABELS * (ROWS // len(LABELS)))
    arrays = {
        f"layer_{i}": (rng.normal(size=(ROWS, WIDTHS[i])) + domain[:, None]).astype(np.float32)
        for i in range(layers)
    }
    np.savez(path, **arrays, domain=domain, label=label)


def make_run(folder: Path, pairs: int, trials: int, seed: int = 0) -> int:
    """Write the run folder; return its number of trials."""
    rng = np.random.default_rng(seed)
    (folder / "artifacts").mkdir(parents=True, exist_ok=True)
    records = []
    for p in range(pairs):
        pair = f"corpus{p:02d}->target{p:02d}"
        for method, layers in METHODS.items():
            for trial in range(trials):
                record = _record(method, pair, trial, rng)
                records.append(record)
                if record["embeddings"]:
                    _artifact(folder / record["embeddings"], layers, rng)
    lines = "".join(json.dumps(r) + "\n" for r in records)
    (folder / "results.jsonl").write_text(lines, encoding="utf-8")
    (folder / "plan.json").write_text(json.dumps([r["key"] for r in records]))
    config = {"name": "bench-report", "baseline": "source_only", "task": "classification"}
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return len(records)


def time_report(folder: Path, extra: list[str]) -> float:
    """Seconds of one ``emoshift report`` subprocess on ``folder``."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "emoshift", "report", str(folder), *extra],
        check=True,
        stdout=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="run folder to write")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2, help="report runs (2nd+: cache warm)")
    parser.add_argument("report_args", nargs="*", help="extra 'emoshift report' arguments")
    args = parser.parse_args()
    if not (args.out / "results.jsonl").is_file():
        print(f"{make_run(args.out, args.pairs, args.trials)} trials written to {args.out}")
    for repeat in range(args.repeats):
        seconds = time_report(args.out, args.report_args)
        page = args.out / "report" / "report.html"
        figures = len(list((args.out / "report" / "figures").glob("*.png")))
        print(
            f"run {repeat + 1}: {seconds:.1f} s, report.html {page.stat().st_size / 1e6:.2f} MB, "
            f"{figures} figures, load {os.getloadavg()[0]:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
