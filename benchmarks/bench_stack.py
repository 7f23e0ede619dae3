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
``--skada`` fits ``--trials`` trials (default five; more cuts more target splits, trial
``i`` seeded ``i``) with SKADA's DANN one after another and as emoshift stacks of five
(``fast`` masks), both in the setting of ``bench_training.py`` (its network, constant
adversarial weight, no validation split, clipping or max-norm, 64 + 64 rows a step, five
steps an epoch in both here), and prints the wall time per trial, each trial's UAR and
the paired difference of the UARs (stacked - SKADA: mean, 95% t interval, paired t
test). SKADA's domain loss is the sum of the source and target halves' mean
cross-entropies, twice emoshift's mean over the batch, so its weight ``reg=1`` is
emoshift's ``lambda_max=2``: ``--lambda-max 1 2`` measures emoshift at both. torch runs
one thread, as ``emoshift run`` trials do.

Usage:
    python benchmarks/bench_stack.py --epochs 10 --repeats 3
    python benchmarks/bench_stack.py --rss
    python benchmarks/bench_stack.py --skada --epochs 30 --repeats 3
    python benchmarks/bench_stack.py --skada --epochs 30 --trials 20 --repeats 1 --lambda-max 1 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from benchmarks.accuracy_real import load, trial_splits, uar
from benchmarks.bench_training import _reset_peak_rss, _status_mib, emoshift_model, skada_model
from emoshift.experiment.trial import fit_arguments, trial_model
from emoshift.methods.stacked import fit_stacked

CONFIG = Path(__file__).parent / "accuracy" / "four_class.yaml"
PAIR = "emodb->urdu"
TRIALS = 5
GRID = (0.3, 1.0, 3.0)


def _splits(trials: int = TRIALS) -> list:
    config, data = load(CONFIG)
    config = dataclasses.replace(config, trials=trials)
    return [split for pair, _, split in trial_splits(config, data, trials, [PAIR])]


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


def _skada_predictions(splits: list, epochs: int, first_seed: int) -> list:
    """SKADA's DANN fitted on each split in turn (seeds from ``first_seed``)."""
    classes = np.unique(splits[0].y_source)
    predictions = []
    for seed, split in enumerate(splits, first_seed):
        model = skada_model("dann", epochs, 64, seed)
        x = np.concatenate([split.X_source, split.X_target]).astype(np.float32)
        y = np.concatenate([np.searchsorted(classes, split.y_source), [-1] * len(split.X_target)])
        domain = np.concatenate(
            [np.ones(len(split.X_source), int), -np.ones(len(split.X_target), int)]
        )
        model.fit(x, y, sample_domain=domain)
        target = -np.ones(len(split.X_test), int)
        predictions.append(
            classes[model.predict(split.X_test.astype(np.float32), sample_domain=target)]
        )
    return predictions


def _stacked_predictions(splits: list, epochs: int, first_seed: int, lambda_max: float) -> list:
    """emoshift's DANN on the splits as one stack (``fast`` masks), seeds from ``first_seed``."""
    models = [
        emoshift_model("dann", epochs, 64, seed).set_params(lambda_max=lambda_max)
        for seed in range(first_seed, first_seed + len(splits))
    ]
    givens = [{"X": s.X_source, "y": s.y_source, "X_target": s.X_target} for s in splits]
    fit_stacked(models, givens, masks="fast")
    return [m.predict(s.X_test) for m, s in zip(models, splits)]


def skada(splits: list, epochs: int, repeat: int, lambda_max: float = 1.0) -> dict:
    """Per trial: SKADA's DANN one after another against emoshift stacks of ``TRIALS``
    (trial ``i`` has seed ``i`` in both), the order of the two alternating with ``repeat``.

    SKADA's domain loss is the sum of the source and the target halves' mean
    cross-entropies, twice emoshift's mean over the whole batch: ``lambda_max=2`` gives
    emoshift SKADA's adversarial weight."""
    timings, uars = {}, {}
    for toolkit in ("skada", "stacked") if repeat % 2 == 0 else ("stacked", "skada"):
        started = time.perf_counter()
        predictions = []
        for first in range(0, len(splits), TRIALS):
            group = splits[first : first + TRIALS]
            if toolkit == "skada":
                predictions += _skada_predictions(group, epochs, first)
            else:
                predictions += _stacked_predictions(group, epochs, first, lambda_max)
        timings[toolkit] = (time.perf_counter() - started) / len(splits)
        uars[toolkit] = [round(uar(s.y_test, p), 4) for s, p in zip(splits, predictions)]
    return {
        "lambda_max": lambda_max,
        "skada_per_trial_s": round(timings["skada"], 2),
        "stacked_per_trial_s": round(timings["stacked"], 2),
        "ratio": round(timings["stacked"] / timings["skada"], 3),
        "uar_skada": uars["skada"],
        "uar_stacked": uars["stacked"],
        **paired_difference(uars["stacked"], uars["skada"]),
    }


def paired_difference(a: list, b: list) -> dict:
    """Mean of ``a - b`` over paired trials, its 95% t interval and the paired t test's
    two-sided p (``None`` below two pairs)."""
    difference = np.asarray(a) - np.asarray(b)
    mean = float(difference.mean())
    if len(difference) < 2:
        return {"uar_difference_mean": round(mean, 4)}
    half = stats.t.ppf(0.975, len(difference) - 1) * stats.sem(difference)
    return {
        "uar_difference_mean": round(mean, 4),
        "uar_difference_ci95": [round(mean - half, 4), round(mean + half, 4)],
        "paired_t_p": round(float(stats.ttest_rel(a, b).pvalue), 4),
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


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rss", action="store_true", help="memory of one fit and a stack")
    parser.add_argument("--skada", action="store_true", help="stacked DANN against SKADA's")
    parser.add_argument(
        "--trials", type=int, default=TRIALS, help="--skada: trials (stacks of 5; default 5)"
    )
    parser.add_argument(
        "--lambda-max",
        type=float,
        nargs="+",
        default=[1.0],
        help="--skada: emoshift's adversarial weight(s); 2 is SKADA's (default 1)",
    )
    parser.add_argument("--one-rss", choices=("solo", "stack"), help=argparse.SUPPRESS)
    return parser.parse_args()


def _print_rss(epochs: int) -> None:
    for mode in ("solo", "stack", "solo", "stack"):
        command = [sys.executable, __file__, "--one-rss", mode, "--epochs", str(epochs)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        print(out.strip().splitlines()[-1], flush=True)


def _print_skada(args: argparse.Namespace) -> None:
    splits = _splits(args.trials)
    skada(splits[:1], 1, 0)  # untimed: SKADA's and skorch's one-off start
    for repeat in range(args.repeats):
        for lambda_max in args.lambda_max:
            result = skada(splits, args.epochs, repeat, lambda_max)
            print(json.dumps({**result, "load": os.getloadavg()[0]}), flush=True)


def _print_comparisons(args: argparse.Namespace) -> None:
    splits = _splits()
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


def main() -> None:
    args = _arguments()
    torch.set_num_threads(1)
    if args.one_rss:
        print(json.dumps(rss(args.one_rss, args.epochs)))
        return
    print(f"load average {os.getloadavg()}", flush=True)
    if args.rss:
        _print_rss(args.epochs)
    elif args.skada:
        _print_skada(args)
    else:
        _print_comparisons(args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
