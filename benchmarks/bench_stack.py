"""Stacked training against the same trials fitted one after another (issue 22).

On one real pair (EmoDB -> URDU, eGeMAPS, the four shared classes, as
``benchmarks/accuracy/four_class.yaml`` cuts it; features from the shared feature cache),
five trials of DANN, Deep CORAL and MRD at their defaults (``--epochs`` epochs) are fitted
one after another in this process and then as one stack
(:func:`emoshift.methods.stacked.fit_stacked`), alternating which goes first in each
repeat; then a 3 x 5 DANN grid (``lambda_max`` 0.3, 1, 3 x five trials) the same two
ways. For each it prints the wall times and their ratio, each trial's UAR on the target
test rows both ways, and the largest difference between a stacked member's parameters
and its solo fit's. ``--rss`` measures, each in a fresh subprocess, the peak resident
memory growth of one DANN fit and of a stack of five (Linux ``VmHWM``, reset once the
data are loaded). torch runs one thread, as ``emoshift run`` trials do.

Usage:
    python benchmarks/bench_stack.py --epochs 10 --repeats 2
    python benchmarks/bench_stack.py --rss
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.accuracy_real import load, trial_splits, uar
from benchmarks.bench_training import _reset_peak_rss, _status_mib
from emoshift.experiment.trial import fit_arguments, trial_model
from emoshift.methods.stacked import fit_stacked

CONFIG = Path(__file__).parent / "accuracy" / "four_class.yaml"
PAIR = "emodb->urdu"
TRIALS = 5
GRID = (0.3, 1.0, 3.0)


def _splits() -> list:
    config, data = load(CONFIG)
    return [split for pair, _, split in trial_splits(config, data, TRIALS, [PAIR])]


def _models(method: str, splits: list, epochs: int, grid: tuple = (None,)) -> tuple[list, list]:
    models, givens = [], []
    for value in grid:
        params = {"max_epochs": epochs}
        if method == "dann":  # the default 10 of 100 epochs without adversarial weight
            params["warmup_epochs"] = epochs // 10
        if value is not None:
            params["lambda_max"] = value
        for trial, split in enumerate(splits):
            models.append(trial_model(method, params, seed=trial, task="classification"))
            given = {"X": split.X_source, "y": split.y_source}
            givens.append({**given, **fit_arguments(method, split, params)})
    return models, givens


def _max_difference(a: object, b: object) -> float:
    pairs = zip(a.modules_.state_dict().values(), b.modules_.state_dict().values())
    return max(float((p - q).abs().max()) for p, q in pairs if p.dtype.is_floating_point)


def compare(method: str, splits: list, epochs: int, grid: tuple, solo_first: bool) -> dict:
    """Wall time of the trials one after another and as one stack, with their UARs."""
    tests = [split for _ in grid for split in splits]
    timings = {}
    fitted = {}
    for mode in ("solo", "stacked") if solo_first else ("stacked", "solo"):
        models, givens = _models(method, splits, epochs, grid)
        started = time.perf_counter()
        if mode == "solo":
            for model, given in zip(models, givens):
                model.fit(given.pop("X"), given.pop("y"), **given)
        else:
            fit_stacked(models, givens)
        timings[mode] = time.perf_counter() - started
        fitted[mode] = models
    uars = {
        mode: [round(uar(s.y_test, m.predict(s.X_test)), 4) for m, s in zip(models, tests)]
        for mode, models in fitted.items()
    }
    return {
        "method": method,
        "members": len(tests),
        "solo_s": round(timings["solo"], 2),
        "stacked_s": round(timings["stacked"], 2),
        "ratio": round(timings["stacked"] / timings["solo"], 3),
        "uar_solo": uars["solo"],
        "uar_stacked": uars["stacked"],
        "max_parameter_difference": max(
            _max_difference(a, b) for a, b in zip(fitted["solo"], fitted["stacked"])
        ),
    }


def rss(mode: str, epochs: int) -> dict:
    """Peak resident memory growth of one DANN fit or of a stack of five (this process)."""
    splits = _splits()
    count = 1 if mode == "solo" else TRIALS
    models, givens = _models("dann", splits[:count], epochs)
    before = _reset_peak_rss()
    if mode == "solo":
        given = givens[0]
        models[0].fit(given.pop("X"), given.pop("y"), **given)
    else:
        fit_stacked(models, givens)
    return {"mode": mode, "peak_growth_mib": round(_status_mib("VmHWM") - before, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rss", action="store_true", help="memory of one fit and a stack")
    parser.add_argument("--one-rss", choices=("solo", "stack"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.one_rss:
        print(json.dumps(rss(args.one_rss, args.epochs)))
        return
    print(f"load average {os.getloadavg()}", flush=True)
    if args.rss:
        for mode in ("solo", "stack", "solo", "stack"):
            command = [sys.executable, __file__, "--one-rss", mode, "--epochs", str(args.epochs)]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            print(out.strip().splitlines()[-1], flush=True)
        return
    splits = _splits()
    for repeat in range(args.repeats):
        for method, grid in (
            ("dann", (None,)),
            ("coral", (None,)),
            ("mrd", (None,)),
            ("dann", GRID),
        ):
            result = compare(method, splits, args.epochs, grid, solo_first=repeat % 2 == 0)
            result["load"] = os.getloadavg()[0]
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
