"""Train several estimators of one method together: one stacked network, one step each.

:func:`fit_stacked` fits M estimators of the same method whose networks have the same
shapes (they may differ in seed, in their data, and in the hyper-parameters of
:data:`~emoshift.methods.stacked_steps.MEMBER_PARAMETERS`) as one network with a member
dimension (:mod:`emoshift.methods.stacked_networks`), so every optimisation step of the
group costs one pass of batched matrix products instead of M passes of small ones. Each
member keeps what its solo fit has: the initial weights of its seed, its own batch order
(its own NumPy generator over its own data), its own dropout masks (its own torch
generator, continued from where its initialisation left the seeded default one), its own
early-stopping state and best-epoch weights, and its own ``history_``. A member that
stops early leaves the stack (its parameters, optimizer moments, statistics and
generator are cut out), so it stops updating; the group ends when the last member stops.
At the end each estimator holds its own networks, as after a solo ``fit``, and
``stacked_`` says how many members it trained with and how its masks were drawn.

With ``masks="exact"`` a member computes what its solo fit computes, operation for
operation: ``tests/test_stacked.py`` checks that its parameters after two epochs are its
solo fit's bit for bit (batch-norm widths a multiple of 16, as the defaults are; at other
widths they round differently) and, in both modes, that they do not depend on the
other members of its stack. ``masks="fast"`` draws other, cheaper dropout masks.

Example:
    >>> import numpy as np
    >>> from emoshift.methods.baselines import SourceOnly
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 5)); y = np.where(X[:, 0] > 0, "anger", "neutral")
    >>> models = [SourceOnly(hidden_sizes=(8,), max_epochs=3, random_state=s) for s in (0, 1)]
    >>> fitted = fit_stacked(models, [{"X": X, "y": y}, {"X": X, "y": y}])
    >>> fitted[0].stacked_, [len(m.history_) for m in fitted]
    ({'size': 2, 'masks': 'exact'}, [3, 3])
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch

from emoshift.methods.base import Batch, FitData, NeuralEstimator, dev_loss_improves
from emoshift.methods.estimator import FitArguments
from emoshift.methods.networks import frozen
from emoshift.methods.optim import Adam
from emoshift.methods.stacked_networks import (
    NotStackable,
    keep_members,
    member_state,
    stack_networks,
)
from emoshift.methods.stacked_steps import (
    MEMBER_PARAMETERS,
    MEMBER_TENSORS,
    STACKED_STEPS,
    Stack,
    StackedMethod,
    StackedPhase,
)

#: shared parameters that a stacked fit does not change the meaning of
_FREE_PARAMETERS = ("random_state", "verbose", "device")


def stacking_problem(estimators: Sequence[object]) -> str | None:
    """Why ``estimators`` cannot train as one stack, or ``None`` when they can (from their
    parameters; :func:`fit_stacked` also checks their data's shapes)."""
    first = estimators[0]
    method = STACKED_STEPS.get(type(first))
    if method is None:
        return f"{type(first).__name__} has no stacked training step"
    if any(type(e) is not type(first) for e in estimators):
        return "the members are estimators of different methods"
    params = first.get_params(deep=False)
    if params.get("encoder", "mlp") != "mlp" or params.get("stacked_layers", 1) != 1:
        return (
            "only the MLP encoder stacks (layer sums do not, nor the CNN-GRU encoder: its "
            "GRU is arithmetic, and written as batched products for a stack it measured "
            "slower than one nn.GRU call per member; BENCHMARKS.md, Stacked training)"
        )
    if params.get("ensemble", 1) != 1:
        return "seed ensembles do not stack"
    if params.get("multi_source"):
        return "multi-source training does not stack"
    problem = method.problem(first)
    if problem is not None:
        return problem
    free = {*_FREE_PARAMETERS, *MEMBER_PARAMETERS.get(type(first), {})}
    for other in estimators[1:]:
        differ = sorted(
            name
            for name, value in other.get_params(deep=False).items()
            if name not in free and value != params[name]
        )
        if differ:
            return f"the members differ in {differ}, which must be equal within a stack"
    return None


def _shapes(data: FitData) -> tuple:
    def shape(value: object) -> tuple | None:
        return None if value is None else tuple(value.shape)

    shapes = tuple(shape(getattr(data, name)) for name in vars(data) if name != "eval_set")
    evaluation = tuple(shape(value) for value in data.eval_set or ())
    return (*shapes, evaluation)


def _check_data(datas: Sequence[FitData], method: StackedMethod) -> None:
    if any(data.source_domains is not None for data in datas):
        raise NotStackable("multi-source training does not stack")
    labelled = any(data.X_target_labelled is not None for data in datas)
    if labelled and not method.labelled_target:
        raise NotStackable("fits with labelled target examples do not stack")
    if len({_shapes(data) for data in datas}) != 1:
        raise NotStackable("the members' data differ in shape")


def _stack_batches(batches: Sequence[Batch]) -> Batch:
    def stacked(name: str) -> torch.Tensor | None:
        values = [getattr(batch, name) for batch in batches]
        return None if values[0] is None else torch.stack(values)

    return Batch(
        x=stacked("x"),
        y=stacked("y"),
        x_target=stacked("x_target"),
        x_target_labelled=stacked("x_target_labelled"),
        y_target_labelled=stacked("y_target_labelled"),
    )


class _Member:
    """One estimator's part of the stack: its data, generators and stopping state."""

    def __init__(self, estimator: NeuralEstimator, given: FitArguments) -> None:
        self.estimator = estimator
        estimator._check_params()
        #: the fit's data, as a solo fit starts (seeded, built, its own target subset),
        #: and the current phase's (:meth:`start_phase`)
        self.fit_data = self.data = estimator._begin_fit(given)
        #: continues the seeded default generator, as the solo fit's dropout would
        self.generator = torch.Generator()
        self.generator.set_state(torch.get_rng_state())

    def start_phase(self, phase: StackedPhase) -> None:
        """Take the phase's data and start its early stopping afresh (as a solo fit's
        ``_train_loop`` call does); its epochs count on from the history's length."""
        self.data = phase.data(self.estimator, self.fit_data)
        phase.start(self.estimator, self.data)
        # the member's own optimizers take the phase's layout, as in its solo fit: the
        # stack's follow their learning rates (:func:`_member_values`)
        self.estimator._optimizers = phase.optimizers(self.estimator)
        self.first_epoch = len(self.estimator.history_)
        self.best_loss, self.best_state, self.stale = math.inf, None, 0
        self.final_state: dict[str, torch.Tensor] | None = None

    def phase_ended(self) -> None:
        """Load the phase's best epoch (else its last) into the member's own networks."""
        self.estimator.modules_.load_state_dict(self.best_state or self.final_state)

    def epoch_ended(self, record: dict[str, float], epoch: int, stacked: object, at: int) -> bool:
        """Record the epoch and update early stopping; ``True`` when this member stops."""
        estimator = self.estimator
        estimator.history_.append(record)
        patience = estimator.patience
        if self.data.X_dev is None or patience is None:
            return False
        if dev_loss_improves(record["dev_loss"], self.best_loss):
            self.best_loss, self.stale, estimator.best_epoch_ = record["dev_loss"], 0, epoch
            self.best_state = member_state(stacked, at)
            return False
        self.stale += 1
        return self.stale >= patience


def fit_stacked(
    estimators: Sequence[NeuralEstimator],
    givens: Sequence[FitArguments],
    masks: str = "exact",
) -> list[NeuralEstimator]:
    """Fit ``estimators`` (``fit`` keyword arguments ``givens``, one dict each, with
    ``X`` and ``y``) as one stack, dropout masks drawn as ``masks`` says
    (:data:`~emoshift.methods.stacked_networks.MASKS`); raises :class:`NotStackable`
    when they cannot."""
    problem = stacking_problem(estimators)
    if problem is not None:
        raise NotStackable(problem)
    members = [_Member(e, FitArguments(**given)) for e, given in zip(estimators, givens)]
    method = STACKED_STEPS[type(estimators[0])]
    _check_data([member.data for member in members], method)
    for phase in method.phases_of(estimators[0]):
        for member in members:
            member.start_phase(phase)
        generators = [m.generator for m in members]  # one list: the stack shrinks it once
        stack = new_stack(estimators, generators, masks, phase.optimizers)
        with frozen(*(stack.modules[name] for name in phase.frozen)):
            _train(stack, members, phase)
        for member in members:
            member.phase_ended()
    for member in members:
        member.estimator._end_fit()
        member.estimator.stacked_ = {"size": len(members), "masks": masks}
    return list(estimators)


def new_stack(
    estimators: Sequence[NeuralEstimator],
    generators: list[torch.Generator],
    masks: str,
    optimizers: Callable[[NeuralEstimator], dict[str, Adam]] | None = None,
) -> Stack:
    """The stack of ``estimators`` (built, as by their ``_start_fit``): their networks as
    one (:func:`~emoshift.methods.stacked_networks.stack_networks`, dropout masks from
    ``generators``) and the first estimator's optimizer layout (``optimizers``, its
    ``_make_optimizers`` unless a phase gives another) over it, on Adam's foreach path
    (the same bits as the solo fits' loop, one call per operation)."""
    template = estimators[0]
    stacked = torch.nn.ModuleDict(
        {
            name: stack_networks([e.modules_[name] for e in estimators], generators, masks)
            for name in template.modules_
        }
    )
    stacked.to(template.device_)
    saved = template.modules_
    template.modules_ = stacked  # the template's own optimizer layout, over the stack
    made = template._make_optimizers() if optimizers is None else optimizers(template)
    template.modules_ = saved
    for optimizer in made.values():
        optimizer.foreach = True
    return Stack(template, stacked, made, {})


def _member_values(stack: Stack, active: Sequence[_Member], epoch: int) -> None:
    """Run each member's epoch hook (``epoch`` of the phase) and gather the per-member
    values the step reads; optimizer settings a hook changes (learning-rate decay) follow
    the first member's."""
    for member in active:
        member.estimator._epoch_started(member.first_epoch + epoch, member.data)
    attributes = MEMBER_PARAMETERS.get(type(stack.template), {}).values()
    stack.member_values = {  # float64: a history records the values as given
        name: torch.tensor(
            [getattr(m.estimator, name) for m in active],
            dtype=torch.float64,
            device=stack.template.device_,
        )
        for name in attributes
    }
    for name in MEMBER_TENSORS.get(type(stack.template), ()):
        if hasattr(active[0].estimator, name):  # set by a phase's start (absent before it)
            stack.member_values[name] = torch.stack([getattr(m.estimator, name) for m in active])
    first = active[0].estimator._optimizers
    for key, optimizer in stack.optimizers.items():
        for group, solo in zip(optimizer.param_groups, first[key].param_groups):
            group["lr"] = solo["lr"]


@torch.no_grad()
def _dev_losses(stack: Stack, active: Sequence[_Member]) -> list[float]:
    method = STACKED_STEPS[type(stack.template)]
    stack.modules.eval()
    x = torch.stack([m.data.X_dev for m in active])
    y = torch.stack([m.data.y_dev for m in active])
    return stack.task_loss(method.forward(stack, x), y).tolist()


def _train(stack: Stack, members: list[_Member], phase: StackedPhase) -> None:
    """The epochs of one :meth:`NeuralEstimator._train_loop` call, for every member at once;
    a member that stops leaves the stack, which ends when the last one does."""
    active = list(members)
    for epoch in range(phase.epochs):
        started = time.perf_counter()
        means = _run_epoch(stack, active, phase, epoch)
        dev = _dev_losses(stack, active) if active[0].data.X_dev is not None else None
        seconds = (time.perf_counter() - started) / len(active)  # each member's share
        stopped = []
        for at, member in enumerate(active):
            member_epoch = member.first_epoch + epoch
            record = {"epoch": member_epoch, **{k: values[at] for k, values in means.items()}}
            if phase.label is not None:
                record["phase"] = phase.label
            if dev is not None:
                record["dev_loss"] = dev[at]
            record["time_s"] = seconds
            if member.epoch_ended(record, member_epoch, stack.modules, at):
                stopped.append(at)
        active = _leave(stack, active, stopped)
        if not active:
            return
    for at, member in enumerate(active):
        member.final_state = member_state(stack.modules, at)


def _run_epoch(
    stack: Stack, active: Sequence[_Member], phase: StackedPhase, epoch: int
) -> dict[str, list[float]]:
    """One pass of the phase's step over the members' batches; per history key, each
    member's mean over the epoch's steps."""
    stack.modules.train()
    for name in phase.frozen:
        stack.modules[name].eval()
    _member_values(stack, active, epoch)
    sums: dict[str, torch.Tensor] = {}
    n_steps = 0
    for batches in zip(*(phase.batches(m.estimator, m.data) for m in active)):
        for key, value in phase.step(stack, _stack_batches(batches)).items():
            value = torch.as_tensor(value, dtype=torch.float64).expand(len(active))
            sums[key] = sums.get(key, 0) + value.double()
        n_steps += 1
    return {key: (value / max(n_steps, 1)).tolist() for key, value in sums.items()}


def _leave(stack: Stack, active: list[_Member], stopped: list[int]) -> list[_Member]:
    """Keep the final weights of the members at positions ``stopped`` and take them out of
    the stack; the members that go on."""
    for at in stopped:
        active[at].final_state = member_state(stack.modules, at)
    if not stopped:
        return active
    kept = [at for at in range(len(active)) if at not in stopped]
    if kept:
        keep_members(stack.modules, stack.optimizers.values(), kept)
    return [active[at] for at in kept]
