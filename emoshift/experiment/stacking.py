"""Trials that train as one stack (``emoshift run --stack N``, or ``stack: N`` in a config;
by default ``auto``, see :func:`stack_size`).

:func:`plan_units` cuts a run's trials into units of work: a trial alone, or a stack of
up to N trials of one method on one pair and protocol condition that differ only in
their trial (seed and split) and in the hyper-parameters that may differ within a stack
(:data:`~emoshift.methods.stacked_steps.MEMBER_PARAMETERS`, e.g. DANN's ``lambda_max``).
The stacks are cut from the whole plan, not from what is left to run, so a resumed run
puts a trial in the same stack as an uninterrupted one; the trials of a stack that are
already finished are left out of it. :func:`execute_unit` runs a unit:
a stack through :func:`~emoshift.methods.stacked.fit_stacked`, each trial then scored and
recorded on its own, with its own key, result line, history, predictions table and
artifacts. A trial's record says ``"stacked": {"masks": "exact"}`` when it trained in a
stack, with the run's dropout masks (``stack_masks``,
:data:`~emoshift.methods.stacked_networks.MASKS`: ``exact`` by default); when
the trials of a stack could not train together (a method or encoder without a stacked
step, data of different shapes), each runs alone as without ``--stack``, and its record
says ``"stacked": false`` with the reason in ``"stack_problem"``, as does every record
of a run whose ``auto`` stacks nothing because torch sees a GPU (:data:`GPU_ALONE`). A
run that asks for no stacks (``stack: 1``) writes records as before stacking existed.

Every loss, statistic, clipping norm and random draw of a member is its own, and a
member ends with the same bytes in a stack of any size (``tests/test_stacked.py``), so a
run resumed mid-stack, whose stacks leave out the trials already finished, gives the same
results file. With ``exact`` masks (the default) a member is bit for bit its solo fit,
so stacking changes a run's time and not its numbers, which is why runs stack by
default; with ``fast`` masks (opt-in, cheaper) a member is not bit for bit its solo fit
(its dropout masks are other draws of the same distribution; BENCHMARKS.md measures how
far).

Example:
    >>> from emoshift.experiment.config import parse_config
    >>> from emoshift.experiment.plan import plan_trials
    >>> config = parse_config({
    ...     "name": "doc", "corpora": {"s": {"loader": "synthetic", "path": "c"}},
    ...     "pairs": [{"source": "elicitation == 'acted'",
    ...                "target": "elicitation == 'spontaneous'", "name": "a->s"}],
    ...     "methods": {"dann": {"lambda_max": [0.5, 1.0]}, "coral": {"lr": [0.001, 0.01]}},
    ...     "baseline": None, "trials": 3})
    >>> units = plan_units(plan_trials(config), plan_trials(config), 4)
    >>> [len(unit.members) for unit in units]  # DANN's grid point may differ in a stack
    [4, 3, 3, 2]
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
from typing import NamedTuple

import torch

from emoshift.experiment.data import ExperimentData
from emoshift.experiment.execute import (
    Outcome,
    execute_trial,
    record_result,
    trial_record,
    trial_seed,
    trial_split,
)
from emoshift.experiment.plan import TrialSpec
from emoshift.experiment.trial import fit_arguments, score_trial, torch_threads, trial_model
from emoshift.methods import method_class
from emoshift.methods.stacked import fit_stacked, stacking_problem
from emoshift.methods.stacked_networks import MASKS, NotStackable
from emoshift.methods.stacked_steps import MEMBER_PARAMETERS, STACKED_STEPS


class Alone(NamedTuple):
    """A trial that runs alone in a run that asked for stacks, and why it cannot stack."""

    spec: TrialSpec
    reason: str


class TrialStack(NamedTuple):
    """The trials of one stack, and how they draw their dropout masks."""

    members: tuple[TrialSpec, ...]
    masks: str


#: one trial, one that cannot stack, or the trials of one stack
Unit = TrialSpec | Alone | TrialStack
#: ``stack: auto`` on a machine where torch sees no GPU: a stack of 5 took 0.57-0.70 of
#: the time of its trials one after another at 1.93-1.97x one trial's memory
#: (BENCHMARKS.md, "Stacked training"); larger stacks gain less per member
AUTO_CPU_STACK = 5


#: why ``stack: auto`` trains every trial alone where torch sees a GPU (in each record)
GPU_ALONE = (
    "stack: auto trains each trial alone where torch sees a GPU, because stacked members "
    "have not been checked against their solo fits there; --stack N stacks them"
)


def stack_size(stack: int | str | None, config_stack: int | str) -> int:
    """Trials per stack for ``--stack`` (else the config's ``stack``): a number, or
    ``"auto"``: :data:`AUTO_CPU_STACK` where torch sees no GPU, else 1 (stacked
    members on a GPU have not been checked against their solo fits yet). Below 1 is a
    ``ValueError`` (checked before any work).

    >>> stack_size(None, 3), stack_size(2, 3)
    (3, 2)
    """
    stack = config_stack if stack is None else stack
    if stack == "auto":
        return 1 if torch.cuda.is_available() else AUTO_CPU_STACK
    if not isinstance(stack, int) or isinstance(stack, bool) or stack < 1:
        raise ValueError(f"--stack {stack}: give at least 1 (1: every trial trains alone) or auto")
    return stack


class StackSettings(NamedTuple):
    """How a run cuts its trials into stacks (:func:`stack_settings`)."""

    size: int
    masks: str
    workers: int  # the parallel workers every one of which ``auto`` gives a unit
    auto: bool
    alone: str | None  # why ``auto`` trains every trial alone here, else None

    def units(self, planned: list[TrialSpec], todo: list[TrialSpec]) -> list[Unit]:
        """The units that run ``todo``: :func:`plan_units` with these settings."""
        return plan_units(planned, todo, self.size, self.masks, self.workers, self.alone)


def stack_settings(
    config_stack: int | str,
    config_masks: str,
    *,
    stack: int | str | None,
    masks: str | None,
    executor: str,
    jobs: int,
) -> StackSettings:
    """The stack settings of a run: ``stack`` and ``masks`` (else the config's), checked
    before any data is read; under ``auto`` a parallel executor's ``jobs`` workers (under
    Ray with a cluster ``address`` too: ``--jobs`` should then be the cluster's CPUs)."""
    auto = (stack or config_stack) == "auto"
    masks = masks or config_masks
    _check_masks(masks)
    workers = jobs if auto and executor != "serial" else 1
    size = stack_size(stack, config_stack)
    alone = GPU_ALONE if auto and size == 1 else None
    return StackSettings(size, masks, workers, auto, alone)


def _check_masks(masks: str) -> None:
    if masks not in MASKS:
        raise ValueError(f"stack masks {masks!r}; choose one of {list(MASKS)}")


def why_alone(spec: TrialSpec) -> str | None:
    """Why ``spec`` cannot train in a stack whatever its partners, or ``None``: the
    method, a trial's own grid, or its parameters (the CNN-GRU encoder, a weighted
    source + target fit: :func:`~emoshift.methods.stacked.stacking_problem`)."""
    if method_class(spec.method) not in STACKED_STEPS:
        return f"{spec.method} has no stacked training step"
    if spec.selection is not None:
        return "a trial that selects its hyper-parameters fits its own grid"
    try:
        model = trial_model(spec.method, spec.params, seed=trial_seed(spec), task=spec.task)
    except (TypeError, ValueError):  # the trial's own fit records its error, stacked or not
        return None
    return stacking_problem([model])


def stacks(units: list[Unit]) -> list[TrialStack]:
    """The stacks among ``units``."""
    return [unit for unit in units if isinstance(unit, TrialStack)]


def _stack_key(spec: TrialSpec) -> str | None:
    """What the trials of one stack share, or ``None`` for a trial that runs alone."""
    kind = method_class(spec.method)
    if why_alone(spec) is not None:
        return None
    shared = dataclasses.asdict(spec)
    for name in ("key", "trial", "variant"):
        shared.pop(name)
    member_wise = MEMBER_PARAMETERS.get(kind, {})
    shared["params"] = {k: v for k, v in spec.params.items() if k not in member_wise}
    return json.dumps(shared, sort_keys=True, default=str)


def plan_units(
    planned: list[TrialSpec],
    todo: list[TrialSpec],
    size: int,
    masks: str = "exact",
    workers: int = 1,
    alone: str | None = None,
) -> list[Unit]:
    """The units that run ``todo``: stacks of up to ``size`` trials cut from ``planned``
    (in plan order) that draw ``masks`` dropout masks, and trials alone; ``size`` 1 runs
    every trial alone. With ``workers`` > 1 (``stack: auto`` under a parallel executor)
    the stacks shrink below ``size`` only as far as the whole plan needs to give every
    worker a unit (3 trials on 2 workers: 2 + 1, not one stack of 3 and an idle worker;
    20 groups of 5 trials: stacks of 5). The cut reads ``planned`` only, so a resumed run
    stacks its trials as an uninterrupted one. With ``size`` 1 and an ``alone`` reason
    (``auto`` on a GPU) every trial runs alone and its record says why.

    A trial is known by its key, or by all its fields where it has none yet (a dry run
    before extraction): empty keys would otherwise put every trial in one stack."""
    _check_masks(masks)
    if size <= 1:
        return [Alone(spec, alone) for spec in todo] if alone else list(todo)
    groups: dict[str, list[int]] = {}
    for index, spec in enumerate(planned):
        key = _stack_key(spec)
        if key is not None:
            groups.setdefault(key, []).append(index)
    step = _step(size, [len(g) for g in groups.values()], len(planned), workers)
    stack_of: dict[int, int] = {}  # plan position -> its stack's first member's position
    for group in groups.values():
        for start in range(0, len(group), step):
            chunk = group[start : start + step]
            if len(chunk) > 1:
                stack_of.update((index, chunk[0]) for index in chunk)
    position = {_identity(spec): index for index, spec in enumerate(planned)}
    units: dict[int, list[TrialSpec]] = {}
    for spec in todo:
        index = position[_identity(spec)]
        units.setdefault(stack_of.get(index, -1 - index), []).append(spec)
    return [
        TrialStack(tuple(members), masks) if first >= 0 else _alone_unit(members[0])
        for first, members in units.items()
    ]


def _step(size: int, groups: list[int], planned: int, workers: int) -> int:
    """The largest stack size up to ``size`` that cuts ``planned`` trials (``groups``: the
    sizes of those that may stack together) into at least ``workers`` units, if any does."""
    alone = planned - sum(groups)
    for step in range(size, 1, -1):
        if alone + sum(-(-n // step) for n in groups) >= workers:
            return step
    return 1


def _identity(spec: TrialSpec) -> str:
    return spec.key or json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str)


def _alone_unit(spec: TrialSpec) -> TrialSpec | Alone:
    reason = why_alone(spec)
    return spec if reason is None else Alone(spec, reason)


def execute_unit(unit: Unit, data: ExperimentData) -> list[Outcome]:
    """Run one unit: a trial alone (:func:`~emoshift.experiment.execute.execute_trial`)
    or a stack (:func:`execute_stack`); one outcome per trial."""
    if isinstance(unit, Alone):
        return _alone([unit.spec], data, unit.reason)
    if isinstance(unit, TrialSpec):
        return [execute_trial(unit, data)]
    return execute_stack(list(unit.members), data, unit.masks)


def _alone(specs: list[TrialSpec], data: ExperimentData, problem: str) -> list[Outcome]:
    outcomes = [execute_trial(spec, data) for spec in specs]
    for record, *_ in outcomes:
        record.update(stacked=False, stack_problem=problem)
    return outcomes


@torch_threads(1)
def execute_stack(
    specs: list[TrialSpec], data: ExperimentData, masks: str = "exact"
) -> list[Outcome]:
    """Train ``specs`` as one stack with ``masks`` dropout masks, then score and record
    each trial on its own."""
    started = time.perf_counter()
    try:
        splits = [trial_split(spec, data) for spec in specs]
        models = [
            trial_model(spec.method, spec.params, seed=trial_seed(spec), task=spec.task)
            for spec in specs
        ]
        givens = [
            {
                "X": split.X_source,
                "y": split.y_source,
                **fit_arguments(spec.method, split, spec.params),
            }
            for spec, (split, _) in zip(specs, splits)
        ]
        fit_stacked(models, givens, masks=masks)
    except NotStackable as problem:
        return _alone(specs, data, str(problem))
    except Exception as problem:  # noqa: BLE001 (each trial alone records its own error)
        return _alone(specs, data, f"{type(problem).__name__}: {problem}")
    fit_seconds = (time.perf_counter() - started) / len(specs)
    outcomes = []
    for spec, model, (split, dimensions) in zip(specs, models, splits):
        scored = time.perf_counter()
        record = trial_record(spec)
        embeddings = predictions = None
        try:
            result = score_trial(
                spec.method,
                model,
                split,
                task=spec.task,
                metrics=spec.metrics,
                dimensions=dimensions,
                keep_model=spec.trial == 0,
                fit_seconds=fit_seconds,
            )
            embeddings, predictions = record_result(
                record, spec, result, split, dimensions, data.table
            )
        except Exception:  # a failing trial is recorded, the others go on
            record.update(status="error", error=traceback.format_exc())
        # not the stack's size: a resumed run's stacks are smaller, and a member's
        # numbers do not depend on it
        record["stacked"] = {"masks": model.stacked_["masks"]}
        seconds = fit_seconds + time.perf_counter() - scored
        outcomes.append((record, embeddings, predictions, seconds))
    return outcomes
