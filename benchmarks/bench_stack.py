"""Stacked training against the same trials fitted one after another (issue 22).

On one real pair (EmoDB -> URDU, eGeMAPS, the four shared classes, as
``benchmarks/accuracy/four_class.yaml`` cuts it; features from the shared feature cache),
five trials of DANN, Deep CORAL and MRD at their defaults (``--epochs`` epochs) are fitted
one after another in this process and as one stack
(:func:`emoshift.methods.stacked.fit_stacked`) with each mode of dropout masks
(``exact``: the solo fits' masks; ``fast``: what ``emoshift run --stack`` uses), the order
of the three rotating between repeats; then a 3 x 5 DANN grid (``lambda_max`` 0.3, 1, 3
x five trials) the same ways. For each it prints the wall times and the ratios
stacked / one after another, each trial's UAR on the target test rows each way, and the
largest difference between a stacked member's parameters and its solo fit's.
``--rss`` measures, each in a fresh subprocess, the peak resident memory growth of one
DANN fit and of a stack of five (Linux ``VmHWM``, reset once the data are loaded).
``--skada`` fits the five trials with SKADA's DANN one after another and as one
emoshift stack (``fast`` masks), both in the setting of ``bench_training.py`` (its
network, constant adversarial weight 1, no validation split, clipping or max-norm, 64
+ 64 rows a step), and prints the wall time per trial and each trial's UAR. torch runs
one thread, as ``emoshift run`` trials do.

Usage:
    python benchmarks/bench_stack.py --epochs 10 --repeats 3
    python benchmarks/bench_stack.py --rss
    python benchmarks/bench_stack.py --skada --epochs 30 --repeats 3
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
import torch

from benchmarks.accuracy_real import load, trial_splits, uar
from benchmarks.bench_training import _reset_peak_rss, _status_mib, emoshift_model, skada_model
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


MODES = ("solo", "exact", "fast")


def compare(method: str, splits: list, epochs: int, grid: tuple, repeat: int) -> dict:
    """Wall time of the trials one after another and as one stack with each mode of
    masks (the order rotating with ``repeat``), with their UARs."""
    tests = [split for _ in grid for split in splits]
    timings = {}
    fitted = {}
    for mode in MODES[repeat % 3 :] + MODES[: repeat % 3]:
        models, givens = _models(method, splits, epochs, grid)
        started = time.perf_counter()
        if mode == "solo":
            for model, given in zip(models, givens):
                model.fit(given.pop("X"), given.pop("y"), **given)
        else:
            fit_stacked(models, givens, masks=mode)
        timings[mode] = time.perf_counter() - started
        fitted[mode] = models
    uars = {
        mode: [round(uar(s.y_test, m.predict(s.X_test)), 4) for m, s in zip(models, tests)]
        for mode, models in fitted.items()
    }
    result = {"method": method, "members": len(tests)}
    for mode in MODES:
        result[f"{mode}_s"] = round(timings[mode], 2)
    for mode in MODES[1:]:
        result[f"ratio_{mode}"] = round(timings[mode] / timings["solo"], 3)
    for mode in MODES:
        result[f"uar_{mode}"] = uars[mode]
    for mode in MODES[1:]:
        result[f"max_parameter_difference_{mode}"] = max(
            _max_difference(a, b) for a, b in zip(fitted["solo"], fitted[mode])
        )
    return result


def skada(splits: list, epochs: int, repeat: int) -> dict:
    """Per trial: SKADA's DANN one after another against one emoshift stack of them."""
    classes = np.unique(splits[0].y_source)
    timings, uars = {}, {}
    for toolkit in ("skada", "stacked") if repeat % 2 == 0 else ("stacked", "skada"):
        started = time.perf_counter()
        if toolkit == "skada":
            predictions = []
            for trial, split in enumerate(splits):
                model = skada_model("dann", epochs, 64, trial)
                x = np.concatenate([split.X_source, split.X_target]).astype(np.float32)
                y = np.concatenate(
                    [np.searchsorted(classes, split.y_source), [-1] * len(split.X_target)]
                )
                domain = np.concatenate(
                    [np.ones(len(split.X_source), int), -np.ones(len(split.X_target), int)]
                )
                model.fit(x, y, sample_domain=domain)
                test = split.X_test.astype(np.float32)
                target = -np.ones(len(test), int)
                predictions.append(classes[model.predict(test, sample_domain=target)])
        else:
            models = [emoshift_model("dann", epochs, 64, trial) for trial in range(len(splits))]
            givens = [{"X": s.X_source, "y": s.y_source, "X_target": s.X_target} for s in splits]
            fit_stacked(models, givens, masks="fast")
            predictions = [m.predict(s.X_test) for m, s in zip(models, splits)]
        timings[toolkit] = (time.perf_counter() - started) / len(splits)
        uars[toolkit] = [round(uar(s.y_test, p), 4) for s, p in zip(splits, predictions)]
    return {
        "skada_per_trial_s": round(timings["skada"], 2),
        "stacked_per_trial_s": round(timings["stacked"], 2),
        "ratio": round(timings["stacked"] / timings["skada"], 3),
        "uar_skada": uars["skada"],
        "uar_stacked": uars["stacked"],
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
        fit_stacked(models, givens, masks="fast")
    return {"mode": mode, "peak_growth_mib": round(_status_mib("VmHWM") - before, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rss", action="store_true", help="memory of one fit and a stack")
    parser.add_argument("--skada", action="store_true", help="stacked DANN against SKADA's")
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
    if args.skada:
        skada(splits, 1, 0)  # untimed: SKADA's and skorch's one-off start
        for repeat in range(args.repeats):
            result = {**skada(splits, args.epochs, repeat), "load": os.getloadavg()[0]}
            print(json.dumps(result), flush=True)
        return
    for repeat in range(args.repeats):
        for method, grid in (
            ("dann", (None,)),
            ("coral", (None,)),
            ("mrd", (None,)),
            ("dann", GRID),
        ):
            result = compare(method, splits, args.epochs, grid, repeat)
            result["load"] = os.getloadavg()[0]
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
