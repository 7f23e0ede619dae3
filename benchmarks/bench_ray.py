"""A grid of trials on Ray with 1 and 2 local workers (and the process pool, for scale).

Writes an experiment config over the embedded synthetic corpus (``--preset``, generated
once into the work folder), fills the feature cache with one untimed run, then times
``emoshift run CONFIG --executor ray --jobs N`` for N = 1 and 2 and, as a reference,
``--executor processes --jobs 2``, each into a fresh run folder, ``--repeats`` times in
alternating order; it prints the medians and the 1-to-2 worker ratio. Ray's own start
(``ray.init`` of a local instance) is part of every timed run, as it is for a user.

Usage:
    python benchmarks/bench_ray.py --trials 4 --epochs 30 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

CONTENDERS = {
    "ray j=1": ["--executor", "ray", "--jobs", "1"],
    "ray j=2": ["--executor", "ray", "--jobs", "2"],
    "processes j=2": ["--executor", "processes", "--jobs", "2"],
}


def write_config(folder: Path, preset: str, trials: int, epochs: int) -> Path:
    """An unsupervised acted -> spontaneous grid: three methods x ``trials`` trials."""
    config = {
        "name": "bench-ray",
        "output": str(folder / "runs" / "unused"),
        "corpora": {
            "synthetic": {
                "loader": "synthetic",
                "path": str(folder / "corpus"),
                "options": {"preset": preset, "seed": 0},
            }
        },
        "features": {
            "set": "egemaps",
            "normalisation": "robust_z",
            "domain": "elicitation",
            "cache_dir": str(folder / "cache"),
        },
        "labels": {"space": "four_class"},
        "pairs": [
            {
                "name": "acted->spontaneous",
                "source": "elicitation == 'acted'",
                "target": "elicitation == 'spontaneous'",
            }
        ],
        "protocol": {"name": "cross_domain"},
        "methods": {
            "source_only": {"max_epochs": epochs},
            "dann": {"max_epochs": epochs, "warmup_epochs": epochs // 3},
            "coral": {"max_epochs": epochs},
        },
        "trials": trials,
        "seed": 0,
    }
    path = folder / "bench-ray.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run(config: Path, output: Path, options: list[str]) -> float:
    """Seconds for one ``emoshift run`` (a fresh run folder, no report)."""
    command = [sys.executable, "-m", "emoshift", "run", str(config), "--output", str(output)]
    start = time.perf_counter()
    subprocess.run([*command, "--no-report", *options], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", help="synthetic corpus size")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", help="work folder (corpus and cache are reused)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        config = write_config(folder, args.preset, args.trials, args.epochs)
        fill = run(config, folder / "runs" / "fill", ["--executor", "serial"])
        print(
            f"untimed first run (corpus, features, {3 * args.trials} trials serial): {fill:.1f} s"
        )
        print(f"load {os.getloadavg()[0]:.1f}")
        times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        for round_ in range(args.repeats):
            for name, options in CONTENDERS.items():
                output = folder / "runs" / f"{name.replace(' ', '-')}-{round_}"
                times[name].append(run(config, output, options))
        medians = {name: statistics.median(runs) for name, runs in times.items()}
        for name, runs in times.items():
            listed = ", ".join(f"{s:.1f}" for s in runs)
            print(f"{name:<14} median {medians[name]:6.1f} s   runs: {listed}")
        ratio = medians["ray j=1"] / medians["ray j=2"]
        print(f"ray: 1 worker / 2 workers wall time = {ratio:.2f}; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
