"""What could beat ``label_target`` at k = 10? Candidates measured on the few-shot splits.

Issue 21 asks for a few-shot configuration at least 3 UAR points above ``label_target``
(the network trained on the k labelled target examples per class alone). This fits, on
each trial of a few-shot accuracy config (``benchmarks/accuracy/few_shot_k10_*.yaml``,
cut by emoshift's protocol code as ``emoshift run`` cuts them, see ``accuracy_real.py``),
``label_target`` and the candidates of :data:`CANDIDATES`, every one at emoshift's
defaults with the trial's seed, and writes one line per trial with each candidate's
target test UAR. Three families:

- *the source as well*: source-only, MRD on the source, MRD and source-only on the source
  pooled with the k labelled target examples;
- *the unlabelled target pool instead of the source* (semi-supervised): MRD and DANN
  with the labelled target examples as their labelled domain and the pool as the
  unlabelled one; self-training (``label_target``'s most confident half of the pool per
  predicted class as pseudo-labels, then a fresh network on both);
- *a steadier learner on the k examples*: a seed ensemble of 5 ``label_target``
  networks; an L2 logistic regression (C = 0.1).

Each candidate is also scored as the mean of its class probabilities with
``label_target``'s. No choice is made here and no test label is read but to score.

    python benchmarks/few_shot_candidates.py run benchmarks/accuracy/few_shot_k10_arousal.yaml \\
        --out runs/few-shot-candidates/arousal.jsonl
    python benchmarks/few_shot_candidates.py table runs/few-shot-candidates/*.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from emoshift.experiment.trial import DomainSplit, torch_threads
from emoshift.methods import get_method
from emoshift.metrics import uar

#: seeds of the label_target ensemble: the trial's seed + 1000 * i
ENSEMBLE = 5
#: the share of the target pool self-training pseudo-labels (per predicted class)
PSEUDO_SHARE = 0.5
#: the inverse L2 strength of the logistic regression
LOGREG_C = 0.1

#: a candidate: (the trial's split, its labelled rows, options) -> its classes and its
#: class probabilities on the test rows (columns in that order)
Candidate = Callable[[DomainSplit, np.ndarray, np.ndarray, dict], tuple[np.ndarray, np.ndarray]]


def _fit(method: str, X: np.ndarray, y: np.ndarray, X_target: np.ndarray, options: dict):
    return get_method(method, **options).fit(X, y, X_target=X_target)


def _pooled(method: str) -> Candidate:
    def candidate(split, Xl, yl, options):
        X, y = np.vstack([split.X_source, Xl]), np.concatenate([split.y_source, yl])
        return _scored(_fit(method, X, y, split.X_target, options), split)

    return candidate


def _on_source(method: str) -> Candidate:
    def candidate(split, Xl, yl, options):
        return _scored(_fit(method, split.X_source, split.y_source, split.X_target, options), split)

    return candidate


def _on_target(method: str) -> Candidate:
    def candidate(split, Xl, yl, options):
        return _scored(_fit(method, Xl, yl, split.X_target, options), split)

    return candidate


def _label_target(split, Xl, yl, options) -> object:
    return get_method("label_target", **options).fit(
        split.X_source,
        split.y_source,
        X_target=split.X_target,
        X_target_labelled=Xl,
        y_target_labelled=yl,
    )


def _scored(model, split: DomainSplit) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(model.classes_), model.predict_proba(split.X_test)


def _ensemble(split, Xl, yl, options) -> tuple[np.ndarray, np.ndarray]:
    seed = options["random_state"]
    models = [
        _label_target(split, Xl, yl, {**options, "random_state": seed + 1000 * i})
        for i in range(ENSEMBLE)
    ]
    return models[0].classes_, np.mean([m.predict_proba(split.X_test) for m in models], axis=0)


def _self_training(split, Xl, yl, options) -> tuple[np.ndarray, np.ndarray]:
    teacher = _label_target(split, Xl, yl, options)
    pool = teacher.predict_proba(split.X_target)
    predicted, confidence = teacher.classes_[pool.argmax(1)], pool.max(1)
    chosen = []
    for c in teacher.classes_:
        rows = np.flatnonzero(predicted == c)
        chosen.append(rows[np.argsort(-confidence[rows])][: int(PSEUDO_SHARE * len(rows))])
    rows = np.concatenate(chosen)
    X, y = np.vstack([Xl, split.X_target[rows]]), np.concatenate([yl, predicted[rows]])
    return _scored(_fit("source_only", X, y, split.X_target, options), split)


def _logistic(split, Xl, yl, options) -> tuple[np.ndarray, np.ndarray]:
    return _scored(LogisticRegression(C=LOGREG_C, max_iter=2000).fit(Xl, yl), split)


CANDIDATES: dict[str, Candidate] = {
    "source-only": _on_source("source_only"),
    "MRD on the source": _on_source("mrd"),
    "source-only, source + labelled target": _pooled("source_only"),
    "MRD, source + labelled target": _pooled("mrd"),
    "MRD, labelled target + pool": _on_target("mrd"),
    "DANN, labelled target + pool": _on_target("dann"),
    "self-training on the pool": _self_training,
    f"{ENSEMBLE} label_target seeds": _ensemble,
    f"logistic regression (C = {LOGREG_C:g})": _logistic,
}


def candidate_trial(split: DomainSplit, seed: int, overrides: dict | None = None) -> dict:
    """Test UAR of ``label_target`` and of each candidate, alone and averaged with it;
    ``overrides`` sets parameters of every network (tests train tiny ones with it)."""
    Xl, yl = split.X_target[split.labelled], split.y_target[split.labelled]
    options = {**(overrides or {}), "random_state": seed}
    base = _label_target(split, Xl, yl, options)
    classes, base_proba = base.classes_, base.predict_proba(split.X_test)
    scores = {"label_target": uar(split.y_test, classes[base_proba.argmax(1)])}
    for name, candidate in CANDIDATES.items():
        proba = _in_order(*candidate(split, Xl, yl, options), classes, name)
        scores[name] = uar(split.y_test, classes[proba.argmax(1)])
        mean = (proba + base_proba) / 2
        scores[f"{name}, mean with label_target"] = uar(split.y_test, classes[mean.argmax(1)])
    return scores


def _in_order(classes: np.ndarray, proba: np.ndarray, order: np.ndarray, name: str) -> np.ndarray:
    """``proba``'s columns in the class ``order`` of ``label_target``."""
    if sorted(classes.tolist()) != sorted(order.tolist()):
        raise ValueError(f"{name} predicts classes {classes.tolist()}, not {order.tolist()}")
    return proba[:, [classes.tolist().index(c) for c in order.tolist()]]


def run(config_path: str, out: Path, trials: int | None) -> None:
    """Every (pair, trial) of the config not yet in ``out``, one line each."""
    from accuracy_real import done_pair_trials, load, trial_splits  # noqa: PLC0415

    config, data = load(config_path)
    done = done_pair_trials(out)
    for pair, trial, split in trial_splits(config, data, trials):
        if (pair, trial) in done:
            continue
        with torch_threads(1):
            scores = candidate_trial(split, config.seed + trial)
        line = {"config": config.name, "pair": pair, "trial": trial, "uar": scores}
        with out.open("a") as file:
            file.write(json.dumps(line) + "\n")
        print(f"{config.name} {pair} trial {trial}", flush=True)


def _tasks(paths: list[Path]) -> dict[str, list[dict[str, float]]]:
    """``task -> its trials' test UARs by name``, a task being ``"<config> <pair>"``."""
    tasks: dict[str, list[dict[str, float]]] = defaultdict(list)
    for path in paths:
        for line in map(json.loads, path.read_text().splitlines()):
            config = line["config"].removeprefix("accuracy-few-shot-")
            tasks[f"{config} {line['pair']}"].append(line["uar"])
    return tasks


def _gains(tasks: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """``task -> {name: mean gain over label_target in points}`` (``label_target``: 0)."""
    return {
        task: {n: 100 * np.mean([s[n] - s["label_target"] for s in ts]) for n in ts[0]}
        for task, ts in tasks.items()
    }


def _corpora(task: str) -> tuple[set[str], str]:
    """The corpora a task's pair involves, and its target (``"k10-x a+b->c"``)."""
    sources, target = task.split()[-1].split("->")
    return {*sources.split("+"), target}, target


def chosen_leave_one_out(gains: dict[str, dict[str, float]]) -> dict[str, tuple[str, int]]:
    """For each target corpus: the candidate (``label_target`` among them) with the highest
    mean gain on the tasks that do not involve that corpus (ties: ``label_target``, then
    the first named), and how many tasks it was chosen on."""
    chosen = {}
    for corpus in sorted({_corpora(t)[1] for t in gains}):
        others = [g for t, g in gains.items() if corpus not in _corpora(t)[0]]
        if others:
            names = list(others[0])
            mean = {n: np.mean([g[n] for g in others]) for n in names}
            best = max(names, key=lambda n: (mean[n], n == "label_target"))
            chosen[corpus] = (best, len(others))
    return chosen


def table(paths: list[Path]) -> str:
    """Per target task, each candidate's gain over label_target (mean over trials), then
    the candidate chosen for each target corpus with that corpus left out."""
    tasks = _tasks(paths)
    gains = _gains(tasks)
    names = [n for n in next(iter(gains.values())) if n != "label_target"]
    bases = [100 * np.mean([s["label_target"] for s in ts]) for ts in tasks.values()]
    lines = [
        "| candidate | " + " | ".join(f"{t} ({len(s)})" for t, s in tasks.items()) + " | mean |",
        "| --- |" + " --- |" * (len(tasks) + 1),
        "| label_target UAR | " + " | ".join(f"{b:.1f}" for b in bases) + " | |",
    ]
    for name in names:
        per_task = [g[name] for g in gains.values()]
        cells = " | ".join(f"{g:+.1f}" for g in per_task)
        lines.append(f"| {name} | {cells} | {np.mean(per_task):+.1f} |")
    lines += [
        "",
        "| target corpus | candidate chosen on the tasks without it | chosen on (tasks) | "
        "gain on its tasks |",
        "| --- | --- | --- | --- |",
    ]
    scored: list[float] = []
    for corpus, (name, n_on) in chosen_leave_one_out(gains).items():
        mine = [g[name] for t, g in gains.items() if _corpora(t)[1] == corpus]
        scored += mine
        cells = ", ".join(f"{g:+.1f}" for g in mine)
        lines.append(f"| {corpus} | {name} | {n_on} | {cells} |")
    if scored:
        lines.append(f"| **all** | (per target) | | mean {np.mean(scored):+.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("run", help="fit the candidates on a few-shot config's trials")
    command.add_argument("config")
    command.add_argument("--out", type=Path, required=True)
    command.add_argument("--trials", type=int, default=None, help="default: the config's")
    command = commands.add_parser("table", help="the Markdown table of the lines")
    command.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.config, args.out, args.trials)
    else:
        print(table(args.paths))


if __name__ == "__main__":
    main()
