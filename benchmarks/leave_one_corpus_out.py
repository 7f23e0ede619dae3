"""Leave-one-corpus-out choice and the negative-transfer guard on the real corpora (issue 21).

``run`` fits, on the splits of an accuracy config (``benchmarks/accuracy/*.yaml``, cut by
emoshift's protocol code as ``emoshift run`` cuts them, see ``accuracy_real.py``), a
source-only model and every unsupervised method at its defaults on the same 80% of the
source (a stratified 20% held out as the labelled source development split), and writes
one line per fitted model: its target test UAR, the test UAR of its mean with
source-only, the guard's signals against source-only
(:func:`emoshift.selection.guard.measure`), and the score of every unsupervised scorer of
:data:`emoshift.selection.SCORERS`. Nothing but the test UARs reads a target label, and
those are written, not used, by ``run``.

``table`` turns the lines into the Markdown of BENCHMARKS.md. Each *configuration* is a
rule that gives one model per trial without target labels: source-only ("never adapt"),
a method always ("always adapt"), a method behind one of the guard rules of
:data:`GUARD_RULES` (replayed on the recorded signals by
:func:`emoshift.selection.guard.decide`), or a scorer choosing between source-only and a
method (or among all of them). For each corpus as target, the configuration (and, in a
table of its own, the guard rule) ranked first on the pairs that do *not* involve that
corpus is chosen, then scored on the pairs whose target it is: no number in the "chosen
leave-one-corpus-out" rows comes from a choice that saw its target. Two rankings
(:data:`CRITERIA`) are reported: the highest mean gain over source-only, and issue 21's
targets in their order (fewest pairs below -2, then the highest mean gain); the second
also among the configurations with the guard on alone, which the issue asks of the
recommended configuration. The same choice made on every pair is the default for a
corpus outside the records; the leave-one-corpus-out rows say how that choice does on a
corpus it did not see.

    python benchmarks/leave_one_corpus_out.py run benchmarks/accuracy/four_class.yaml \
        --out runs/loco/four_class.jsonl --trials 10
    python benchmarks/leave_one_corpus_out.py table runs/loco/*.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from emoshift.experiment.trial import DomainSplit, torch_threads
from emoshift.methods import get_method
from emoshift.metrics import uar
from emoshift.selection import SCORERS, SelectionData
from emoshift.selection.guard import DEFAULT_MARGINS, GuardSignals, decide, measure

#: the unsupervised methods compared, each at its defaults
METHODS = ("dann", "coral", "mrd")
#: the scorers that decide between models; circular validation refits a reverse model
#: per fitted model, so it runs only when asked (``--circular``)
CHEAP_SCORERS = ("source_dev", "iwv", "dev", "snd", "entropy")
#: what a pair's corpora are called in its name, e.g. ``emodb+baved->urdu``
ARROW = "->"
#: gains within this many UAR points of zero count as neither win nor loss (issue 21)
NOISE = 2.0
#: the guard rules compared (margins by signal, None = off; collapse and source damage
#: stay at 0.1 in each): the first guard's two signals alone, then with reverse
#: validation or the domain gap added
GUARD_RULES: dict[str, dict[str, float | None]] = {
    "collapse+damage": {"reverse_margin": None, "domain_margin": None},
    "+reverse 0.03": {"reverse_margin": 0.03, "domain_margin": None},
    "+reverse 0.05": {"reverse_margin": 0.05, "domain_margin": None},
    "+reverse 0.10": {"reverse_margin": 0.1, "domain_margin": None},
    "+gap 0.05": {"reverse_margin": None, "domain_margin": 0.05},
    "+gap 0.10": {"reverse_margin": None, "domain_margin": 0.1},
    "+reverse 0.05 +gap 0.10": {"reverse_margin": 0.05, "domain_margin": 0.1},
}
#: what names a configuration with the guard on (issue 21 asks for it on in the
#: recommended configuration)
GUARDED = ": guard "
#: the rule whose margins are emoshift's defaults (:data:`DEFAULT_MARGINS`)
DEFAULT_RULE = next(
    name
    for name, margins in GUARD_RULES.items()
    if all(DEFAULT_MARGINS[k] == v for k, v in margins.items())
)


def _sources_and_target(pair: str) -> tuple[set[str], str]:
    source, target = pair.split(ARROW)
    return set(source.split("+")), target


def model_record(
    model: object,
    reference: object,
    split: DomainSplit,
    data: SelectionData,
    scorers: Iterable[str],
) -> dict:
    """Test UAR, test UAR averaged with ``reference``, the guard's signals (against
    ``reference``) and scorer scores."""
    classes = np.asarray(model.classes_)
    mean = (model.predict_proba(split.X_test) + reference.predict_proba(split.X_test)) / 2
    return {
        "uar": uar(split.y_test, model.predict(split.X_test)),
        "combined_uar": uar(split.y_test, classes[np.argmax(mean, axis=1)]),
        "signals": asdict(measure(model, reference, data)),
        "scores": {name: float(SCORERS[name](model, data)) for name in scorers},
    }


def loco_trial(
    split: DomainSplit,
    seed: int,
    methods: Iterable[str] = METHODS,
    scorers: Iterable[str] = CHEAP_SCORERS,
    overrides: dict | None = None,
) -> list[dict]:
    """One record per model (source-only first) of one trial; ``overrides`` sets
    parameters of every model (tests train tiny networks with it)."""
    from accuracy_real import dev_split  # noqa: PLC0415 (beside this script)

    train, held = dev_split(split.y_source, seed)
    X_train, y_train = split.X_source[train], split.y_source[train]
    X_dev, y_dev = split.X_source[held], split.y_source[held]
    data = SelectionData(X_dev=X_dev, y_dev=y_dev, X_target=split.X_target, X_train=X_train)
    scorers = list(scorers)
    options = {**(overrides or {}), "random_state": seed}
    reference = get_method("source_only", **options).fit(
        X_train, y_train, X_target=split.X_target, eval_set=(X_dev, y_dev)
    )
    records = [
        {"method": "source_only", **model_record(reference, reference, split, data, scorers)}
    ]
    for method in methods:
        model = get_method(method, **options).fit(
            X_train, y_train, X_target=split.X_target, eval_set=(X_dev, y_dev)
        )
        records.append({"method": method, **model_record(model, reference, split, data, scorers)})
    return records


def run(
    config_path: str,
    out: Path,
    *,
    trials: int,
    pairs: list[str] | None,
    methods: list[str],
    circular: bool,
) -> None:
    """Every missing (pair, trial) of the config, one line per model appended to ``out``.

    Trial-major (trial 0 of every pair, then trial 1, ...), so that a run cut short
    leaves every pair with the same number of trials.
    """
    from accuracy_real import done_pair_trials, load, trial_splits  # noqa: PLC0415

    config, data = load(config_path)
    done = done_pair_trials(out)
    scorers = (*CHEAP_SCORERS, "circular") if circular else CHEAP_SCORERS
    names = pairs or [pair.label() for pair in config.pairs]
    for trial in range(trials):
        for name in names:
            if (name, trial) in done:
                continue
            ((pair, _, split),) = [s for s in trial_splits(config, data, trial + 1, [name])][-1:]
            with torch_threads(1):
                records = loco_trial(split, config.seed + trial, methods, scorers)
            with out.open("a") as file:
                for record in records:
                    line = {"config": config.name, "pair": pair, "trial": trial, **record}
                    file.write(json.dumps(line) + "\n")
            print(f"{config.name} {pair} trial {trial}: {len(records)} models", flush=True)


# ---------------------------------------------------------------- tables


#: a configuration: (trial's records by method) -> the test UAR of the model it picks
Rule = Callable[[dict[str, dict]], float]


def _by_scorer(methods: tuple[str, ...], scorer: str) -> Rule:
    def rule(models: dict[str, dict]) -> float:
        best = max(methods, key=lambda m: models[m]["scores"].get(scorer, -np.inf))
        return models[best]["uar"]

    return rule


def guard_action(record: dict, guard_rule: str) -> str:
    """What the guard with the margins of ``GUARD_RULES[guard_rule]`` decides on a model's
    recorded signals (``keep`` or ``fallback``)."""
    return decide(GuardSignals(**record["signals"]), **GUARD_RULES[guard_rule]).action


def _guarded(method: str, guard_rule: str = DEFAULT_RULE, combine: bool = False) -> Rule:
    def rule(models: dict[str, dict]) -> float:
        if guard_action(models[method], guard_rule) == "keep":
            return models[method]["uar"]
        return models[method]["combined_uar"] if combine else models["source_only"]["uar"]

    return rule


def _combined(method: str) -> Rule:
    def rule(models: dict[str, dict]) -> float:
        return models[method]["combined_uar"]

    return rule


def configurations(methods: Iterable[str], scorers: Iterable[str]) -> dict[str, Rule]:
    """Every configuration the tables compare, by name."""
    methods, scorers = tuple(methods), tuple(scorers)
    rules: dict[str, Rule] = {"never adapt (source-only)": lambda m: m["source_only"]["uar"]}
    for method in methods:
        rules[f"{method}: always adapt"] = lambda m, method=method: m[method]["uar"]
        for guard_rule in GUARD_RULES:
            rules[f"{method}{GUARDED}{guard_rule}"] = _guarded(method, guard_rule)
            rules[f"{method}{GUARDED}{guard_rule}, combine"] = _guarded(method, guard_rule, True)
        rules[f"{method}: mean with source-only"] = _combined(method)
        for scorer in scorers:
            rules[f"{method}: {scorer} picks adapt or not"] = _by_scorer(
                ("source_only", method), scorer
            )
    for scorer in scorers if len(methods) > 1 else ():
        rules[f"any: {scorer} picks among all"] = _by_scorer(("source_only", *methods), scorer)
    return rules


def load_trials(paths: Iterable[Path]) -> dict[tuple[str, str], list[dict[str, dict]]]:
    """``(config, pair) -> [trial's {method: record}]``, trials in order, merged over
    the files (a method run into a file of its own joins its trials); trials without
    source-only are left out."""
    grouped: dict[tuple[str, str], dict[int, dict[str, dict]]] = defaultdict(dict)
    for path in paths:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            unit = (record["config"], record["pair"])
            grouped[unit].setdefault(record["trial"], {})[record["method"]] = record
    return {
        unit: [trials[t] for t in sorted(trials) if "source_only" in trials[t]]
        for unit, trials in grouped.items()
    }


def with_method(units: dict, method: str) -> dict:
    """The units and trials that hold ``method``."""
    kept = {u: [t for t in trials if method in t] for u, trials in units.items()}
    return {u: trials for u, trials in kept.items() if trials}


def gains(trials: list[dict[str, dict]], rule: Rule) -> list[float]:
    """Per trial, the configuration's test UAR minus source-only's, in points."""
    return [100 * (rule(models) - models["source_only"]["uar"]) for models in trials]


def _mean_gain(per_pair: list[float]) -> tuple[float, ...]:
    return (float(np.mean(per_pair)),)


def _fewest_losses(per_pair: list[float]) -> tuple[float, ...]:
    return (-sum(g < -NOISE for g in per_pair), float(np.mean(per_pair)))


#: how a choice ranks configurations by their per-pair mean gains (higher key is better):
#: the highest mean gain, or issue 21's two targets in order (fewest pairs below -2,
#: then the highest mean gain)
CRITERIA: dict[str, Callable[[list[float]], tuple[float, ...]]] = {
    "mean gain": _mean_gain,
    "fewest losses, then mean gain": _fewest_losses,
}


def choose(
    units: dict[tuple[str, str], list[dict[str, dict]]],
    rules: dict[str, Rule],
    criterion: str = "mean gain",
) -> str:
    """The configuration ranked first by ``CRITERIA[criterion]`` over ``units`` (the
    per-pair mean gains); ties go to never adapting, then to the first named."""
    rank = CRITERIA[criterion]
    keys = {
        name: rank([float(np.mean(gains(trials, rule))) for trials in units.values()])
        for name, rule in rules.items()
    }
    return max(keys, key=lambda n: (keys[n], n.startswith("never")))


def choose_leave_one_out(
    units: dict[tuple[str, str], list[dict[str, dict]]],
    rules: dict[str, Rule],
    criterion: str = "mean gain",
) -> dict[str, tuple[str, int]]:
    """For each target corpus: the configuration :func:`choose` picks on the pairs that
    do not involve it, and how many pairs it was chosen on."""
    corpora = {c for _, pair in units for c in _corpus_set(pair)}
    chosen = {}
    for corpus in sorted(corpora):
        others = {u: ts for u, ts in units.items() if corpus not in _corpus_set(u[1])}
        if others:
            chosen[corpus] = (choose(others, rules, criterion), len(others))
    return chosen


def _corpus_set(pair: str) -> set[str]:
    sources, target = _sources_and_target(pair)
    return sources | {target}


def _summary(per_pair: list[float]) -> str:
    wins = sum(g > NOISE for g in per_pair)
    losses = sum(g < -NOISE for g in per_pair)
    spread = f"{min(per_pair):+.1f} / {max(per_pair):+.1f}"
    return f"{np.mean(per_pair):+.1f} | {wins} / {losses} | {spread}"


def _guard_check(units: dict, methods: Iterable[str], guard_rule: str) -> str:
    """Issue 21's guard targets for the methods behind one guard rule, over the pairs:
    the share of the losses (always-adapt below -2) recovered, of the gains kept."""
    recovered, lost, kept, won = 0.0, 0.0, 0.0, 0.0
    for method in methods:
        for trials in with_method(units, method).values():
            adapt = np.mean(gains(trials, lambda m, method=method: m[method]["uar"]))
            guard = np.mean(gains(trials, _guarded(method, guard_rule)))
            if adapt < -NOISE:
                lost += -adapt
                recovered += guard - adapt
            elif adapt > 0:
                won += adapt
                kept += guard
    recovery = f"{recovered / lost:.0%} of {lost:.1f}" if lost else "no pair lost > 2"
    keeping = f"{kept / won:.0%} of {won:.1f}" if won else "no pair won"
    return f"{recovery} | {keeping}"


def _fallbacks(units: dict, method: str, guard_rule: str) -> str:
    actions = [guard_action(t[method], guard_rule) for ts in units.values() for t in ts]
    return f"{sum(a != 'keep' for a in actions)} of {len(actions)}"


def choose_guard_rule(units: dict, methods: tuple[str, ...]) -> dict[str, tuple[str, int]]:
    """For each target corpus: the guard rule (fall back) with the highest mean gain of
    the guarded methods over the pairs that do not involve it."""
    rules = {
        name: (lambda m, name=name: np.mean([_guarded(x, name)(m) for x in methods]))
        for name in GUARD_RULES
    }
    return choose_leave_one_out(units, rules)


def _guard_lines(every: dict, units: dict, present: list[str], methods: list[str]) -> list[str]:
    lines = [
        "#### The guard's targets (pairs where always-adapt loses > 2: share of the loss "
        "recovered; pairs where it wins: share of the gain kept)",
        "",
        "| method | guard rule | loss recovered | gain kept | fallbacks (trials) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for method in present:
        held = with_method(every, method)
        for rule in GUARD_RULES:
            check = _guard_check(held, [method], rule)
            lines.append(
                f"| {method} ({len(held)} pairs) | {rule} | {check} | "
                f"{_fallbacks(held, method, rule)} |"
            )
    if not methods:
        return lines
    lines += [
        "",
        "#### Guard rule chosen leave-one-corpus-out (for the methods together, and for "
        "each method alone)",
        "",
        "| methods | target corpus | rule chosen | chosen on (pairs) | pairs scored | "
        "loss recovered | gain kept |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for group in (tuple(methods), *((m,) for m in methods if len(methods) > 1)):
        for corpus, (rule, n_on) in choose_guard_rule(units, group).items():
            scored = {u: ts for u, ts in units.items() if _sources_and_target(u[1])[1] == corpus}
            check = _guard_check(scored, group, rule)
            lines.append(
                f"| {', '.join(group)} | {corpus} | {rule} | {n_on} | {len(scored)} | {check} |"
            )
    return lines


def _chosen_lines(
    units: dict, rules: dict[str, Rule], criterion: str, among: str = ""
) -> list[str]:
    """The table of the configurations (``among`` says which, when not all) chosen
    leave-one-corpus-out by ``criterion``, and the one the same choice makes on every
    pair (the default for a corpus not in the records)."""
    lines = [
        f"#### Chosen leave-one-corpus-out by {criterion}{among}",
        "",
        "| target corpus | configuration chosen | chosen on (pairs) | pairs scored | "
        "mean gain | pairs above +2 / below -2 | worst / best pair |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    loco_gains = []
    for corpus, (name, n_chosen_on) in choose_leave_one_out(units, rules, criterion).items():
        scored = [u for u in units if _sources_and_target(u[1])[1] == corpus]
        per_pair = [float(np.mean(gains(units[u], rules[name]))) for u in scored]
        loco_gains += per_pair
        lines.append(
            f"| {corpus} | {name} | {n_chosen_on} | {len(scored)} | {_summary(per_pair)} |"
        )
    if loco_gains:
        lines.append(f"| **all** | (per target) | | {len(loco_gains)} | {_summary(loco_gains)} |")
    name = choose(units, rules, criterion)
    per_pair = [float(np.mean(gains(trials, rules[name]))) for trials in units.values()]
    lines.append(
        f"| a new corpus (in-sample: scored on the pairs it was chosen on) | {name} | "
        f"{len(units)} | {len(units)} | {_summary(per_pair)} |"
    )
    return lines


def markdown(paths: Iterable[Path]) -> str:
    """The leave-one-corpus-out tables of BENCHMARKS.md."""
    every = load_trials(paths)
    present = [m for m in METHODS if with_method(every, m)]
    methods = [m for m in present if all(m in t for ts in every.values() for t in ts)]
    units = {u: ts for u, ts in every.items() if ts}
    scorers = sorted(next(iter(units.values()))[0]["source_only"]["scores"])
    rules = configurations(methods, scorers)
    lines = []
    for criterion in CRITERIA:
        lines += [*_chosen_lines(units, rules, criterion), ""]
    guarded = {name: rule for name, rule in rules.items() if GUARDED in name}
    among = ", among the configurations with the guard on"
    lines += [*_chosen_lines(units, guarded, "fewest losses, then mean gain", among), ""]
    lines += [
        "#### Every configuration on every pair (gain over source-only, UAR points)",
        "",
        "| configuration | mean gain | pairs above +2 / below -2 | worst / best pair |",
        "| --- | --- | --- | --- |",
    ]
    for name, rule in rules.items():
        per_pair = [float(np.mean(gains(units[u], rule))) for u in units]
        lines.append(f"| {name} | {_summary(per_pair)} |")
    lines += ["", *_guard_lines(every, units, present, methods)]
    lines += ["", f"#### Per pair (mean test UAR %, trials; guard: {DEFAULT_RULE})", ""]
    header = ["pair", "trials", "source-only"]
    for method in present:
        header += [method, f"{method} + guard (fallbacks)"]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for (config, pair), trials in sorted(units.items()):
        row = [f"{config} {pair}", str(len(trials))]
        row.append(f"{100 * np.mean([t['source_only']['uar'] for t in trials]):.1f}")
        for method in present:
            row += _method_cells([t for t in trials if method in t], method)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _method_cells(trials: list[dict[str, dict]], method: str) -> list[str]:
    """A method's mean test UAR, and behind the guard (its fallbacks): the trials that
    ran it (their count when not all did), or dashes."""
    if not trials:
        return ["-", "-"]
    guarded = _guarded(method)
    falls = sum(guard_action(t[method], DEFAULT_RULE) != "keep" for t in trials)
    return [
        f"{100 * np.mean([t[method]['uar'] for t in trials]):.1f}",
        f"{100 * np.mean([guarded(t) for t in trials]):.1f} ({falls} of {len(trials)})",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("run", help="fit every model of every trial of a config")
    command.add_argument("config")
    command.add_argument("--out", type=Path, required=True)
    command.add_argument("--trials", type=int, default=5)
    command.add_argument("--pairs", nargs="*")
    command.add_argument("--methods", nargs="*", default=list(METHODS), help="methods to fit")
    command.add_argument("--circular", action="store_true", help="also circular validation")
    table = commands.add_parser("table", help="Markdown tables of the records")
    table.add_argument("records", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        run(
            args.config,
            args.out,
            trials=args.trials,
            pairs=args.pairs,
            methods=args.methods,
            circular=args.circular,
        )
    else:
        print(markdown(args.records))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
