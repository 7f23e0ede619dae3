"""The training steps of the methods that train stacked (:mod:`emoshift.methods.stacked`).

Each step is its method's ``_train_step`` written for a stacked network: every tensor
has the member dimension first, every loss is reduced per member (one value each), and
the optimiser minimises their sum, whose gradient with respect to member ``m``'s
parameters is member ``m``'s own loss gradient, since no member reads another's
parameters. A step returns, per history key, a float (the same for every member) or a
tensor of one value per member.

Methods: the neural baselines (source-only, train-on-target and label-target, and
source + target pooled), fine-tuning and max-entropy with soft labels (two phases each:
:class:`StackedPhase`), CADA, DANN, Deep CORAL and MRD. :data:`STACKED_STEPS` maps each method
class to its step and forward; :data:`MEMBER_PARAMETERS` names the hyper-parameters that
may differ between the members of one stack (a grid over them stacks).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from emoshift.methods.base import Batch, FitData, NeuralEstimator
from emoshift.methods.baselines import SourceOnly, SourceTarget, TargetOnly
from emoshift.methods.cada import CADA
from emoshift.methods.coral import DeepCORAL
from emoshift.methods.dann import DANN
from emoshift.methods.fine_tune import FineTune
from emoshift.methods.max_entropy import MaxEntropySoftLabel, _entropy
from emoshift.methods.mrd import MRD, _frozen_statistics
from emoshift.methods.networks import frozen
from emoshift.methods.optim import Adam
from emoshift.methods.stacked_networks import apply_member_max_norm, clip_member_gradients

Values = dict[str, float | torch.Tensor]


@dataclass
class Stack:
    """What a stacked step works with: the template estimator (hyper-parameters shared by
    all members), the stacked networks and optimizers, and per-member values of the
    hyper-parameters in :data:`MEMBER_PARAMETERS` (shape ``(members,)``, float64: a step
    casts them to its tensors' type, as a Python float is cast)."""

    template: NeuralEstimator
    modules: nn.ModuleDict
    optimizers: dict[str, Adam]
    member_values: dict[str, torch.Tensor]

    def step(self, optimizer: Adam, losses: torch.Tensor) -> None:
        """Zero, backpropagate the members' summed losses, clip each member's gradient,
        update, and cap each member's unit norms (the template's ``_step``, per member)."""
        optimizer.zero_grad()
        losses.sum().backward()
        if self.template.grad_clip is not None:
            params = [p for group in optimizer.param_groups for p in group["params"]]
            clip_member_gradients(params, self.template.grad_clip)
        optimizer.step()
        if self.template.max_norm is not None:
            apply_member_max_norm(self.modules, self.template.max_norm)

    def task_loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The template's task loss of each member: ``(members,)``."""
        members, rows = outputs.shape[:2]
        if self.template.task == "classification":
            losses = nn.functional.cross_entropy(
                outputs.reshape(members * rows, -1), target.reshape(-1), reduction="none"
            )
            return losses.view(members, rows).mean(1)
        if self.template.regression_loss == "mse":
            return ((outputs - target) ** 2).mean(dim=(1, 2))
        return torch.stack([self.template._task_loss(o, t) for o, t in zip(outputs, target)])


class _MemberReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        ctx.save_for_backward(scale)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN001
        (scale,) = ctx.saved_tensors
        return -scale.to(grad.dtype).view(-1, *[1] * (grad.ndim - 1)) * grad, None


def _encoder_head(stack: Stack, x: torch.Tensor) -> torch.Tensor:
    return stack.modules["head"](stack.modules["encoder"](x))


def source_only_step(stack: Stack, batch: Batch) -> Values:
    loss = stack.task_loss(_encoder_head(stack, batch.x), batch.y)
    stack.step(stack.optimizers["all"], loss)
    return {"loss": loss.detach()}


def dann_step(stack: Stack, batch: Batch) -> Values:
    n = batch.x.shape[1]
    features = stack.modules["encoder"](torch.cat([batch.x, batch.x_target], dim=1))
    task_loss = stack.task_loss(stack.modules["head"](features[:, :n]), batch.y)
    scale = stack.member_values["lambda_"]
    logits = stack.modules["domain"](_MemberReversal.apply(features, scale)).squeeze(2)
    is_target = torch.zeros_like(logits)
    is_target[:, n:] = 1.0
    domain_loss = nn.functional.binary_cross_entropy_with_logits(
        logits, is_target, reduction="none"
    ).mean(1)
    loss = task_loss + domain_loss
    stack.step(stack.optimizers["all"], loss)
    correct = ((logits > 0) == is_target.bool()).float()
    return {
        "loss": loss.detach(),
        "task_loss": task_loss.detach(),
        "domain_loss": domain_loss.detach(),
        "lambda": scale,
        "domain_acc_source": correct[:, :n].mean(1),
        "domain_acc_target": correct[:, n:].mean(1),
    }


def _member_coral(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """:func:`~emoshift.methods.alignment.coral_loss` of each member: ``(members,)``."""

    def covariance(features: torch.Tensor) -> torch.Tensor:
        centred = features - features.mean(1, keepdim=True)
        return centred.transpose(1, 2) @ centred / (features.shape[1] - 1)

    d = source.shape[2]
    return ((covariance(source) - covariance(target)) ** 2).sum(dim=(1, 2)) / (4 * d * d)


def coral_step(stack: Stack, batch: Batch) -> Values:
    n = batch.x.shape[1]
    layers = stack.modules["encoder"].layers_output(torch.cat([batch.x, batch.x_target], dim=1))
    task_loss = stack.task_loss(stack.modules["head"](layers[-1][:, :n]), batch.y)
    layer = stack.template.coral_layer
    if not -len(layers) <= layer < len(layers):
        raise ValueError(f"coral_layer={layer}; the encoder has {len(layers)} shared layers")
    alignment = _member_coral(layers[layer][:, :n], layers[layer][:, n:])
    loss = task_loss + stack.member_values["coral_weight"].to(alignment.dtype) * alignment
    stack.step(stack.optimizers["all"], loss)
    return {
        "loss": loss.detach(),
        "task_loss": task_loss.detach(),
        "coral_loss": alignment.detach(),
    }


def _mrd_both(stack: Stack, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    features = stack.modules["encoder"](x)
    first, second = (regressor(features) for regressor in stack.modules["regressors"])
    return first, second


def _mrd_discrepancy(stack: Stack, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    if stack.template.task == "classification":
        first, second = first.softmax(2), second.softmax(2)
    return (first - second).abs().mean(dim=(1, 2))


def mrd_forward(stack: Stack, x: torch.Tensor) -> torch.Tensor:
    first, second = _mrd_both(stack, x)
    if stack.template.task == "classification":
        return ((first.softmax(2) + second.softmax(2)) / 2).log()
    return (first + second) / 2


@torch.no_grad()
def _mrd_measure(stack: Stack, x: torch.Tensor) -> torch.Tensor:
    """MRD's ``_measure_discrepancy`` per member: dropout off, batch statistics, frozen
    running statistics."""
    modules = stack.modules
    training = modules.training
    modules.train()
    for module in modules.modules():
        if isinstance(module, nn.Dropout):
            module.eval()
    with _frozen_statistics(modules):
        value = _mrd_discrepancy(stack, *_mrd_both(stack, x))
    modules.train(training)
    return value


def mrd_step(stack: Stack, batch: Batch) -> Values:
    def source_loss() -> torch.Tensor:
        first, second = _mrd_both(stack, batch.x)
        return stack.task_loss(first, batch.y) + stack.task_loss(second, batch.y)

    encoder, regressors = stack.modules["encoder"], stack.modules["regressors"]
    loss = source_loss()
    stack.step(stack.optimizers["source"], loss)
    after_step1 = _mrd_measure(stack, batch.x_target)
    with frozen(encoder), _frozen_statistics(encoder):
        maximise = source_loss() - _mrd_discrepancy(stack, *_mrd_both(stack, batch.x_target))
    stack.step(stack.optimizers["regressors"], maximise)
    after_step2 = _mrd_measure(stack, batch.x_target)
    for _ in range(stack.template.n_encoder_steps):
        with frozen(regressors), _frozen_statistics(regressors):
            discrepancy = _mrd_discrepancy(stack, *_mrd_both(stack, batch.x_target))
        stack.step(stack.optimizers["encoder"], discrepancy)
    return {
        "loss": loss.detach() / 2,
        "discrepancy_after_step1": after_step1,
        "discrepancy_after_step2": after_step2,
        "discrepancy_after_step3": _mrd_measure(stack, batch.x_target),
    }


def _same_data(estimator: NeuralEstimator, data: FitData) -> FitData:
    return data


def _own_optimizers(estimator: NeuralEstimator) -> dict[str, Adam]:
    return estimator._make_optimizers()


def _own_batches(estimator: NeuralEstimator, data: FitData) -> Iterable[Batch]:
    return estimator._batches(data)


def _few_shot(estimator: NeuralEstimator, data: FitData) -> Iterable[Batch]:
    return estimator._few_shot_batches(data)


def _nothing(estimator: NeuralEstimator, data: FitData) -> None:
    return None


@dataclass(frozen=True)
class StackedPhase:
    """One phase of a stacked fit, as one ``_train_loop`` call of the solo fit: its epochs,
    step and history label, each member's data for it (from the member's estimator and
    the fit's data), the optimizer layout (built by the template estimator over the
    stack), the modules it freezes (no gradients, evaluation mode), each member's batches
    and what each member does before the phase (with its own networks, as the previous
    phase left them)."""

    epochs: int
    step: Callable[[Stack, Batch], Values]
    label: str | None = None
    data: Callable[[NeuralEstimator, FitData], FitData] = _same_data
    optimizers: Callable[[NeuralEstimator], dict[str, Adam]] = _own_optimizers
    frozen: tuple[str, ...] = ()
    batches: Callable[[NeuralEstimator, FitData], Iterable[Batch]] = _own_batches
    start: Callable[[NeuralEstimator, FitData], None] = _nothing


def _weighted_source_step(weight: float) -> Callable[[Stack, Batch], Values]:
    """:func:`~emoshift.methods.source_weight.pretrain_on_source`'s step at ``weight``."""

    def step(stack: Stack, batch: Batch) -> Values:
        loss = weight * stack.task_loss(_encoder_head(stack, batch.x), batch.y)
        stack.step(stack.optimizers["all"], loss)
        return {"loss": loss.detach()}

    return step


def _fine_tune_phases(template: FineTune) -> list[StackedPhase]:
    """Pre-training on the source (skipped at ``source_weight`` 0), then fine-tuning on
    the labelled target examples, as :meth:`FineTune._fit` runs them."""
    pretrain = [
        dataclasses.replace(phase, data=FineTune._pretrain_data)
        for phase in _pretrain_phases(template, template.max_epochs)
    ]
    tune = StackedPhase(
        template.fine_tune_epochs,
        source_only_step,
        "fine_tune",
        FineTune._tune_data,
        FineTune._tune_optimizers,
        template._tune_frozen(),
    )
    return [*pretrain, tune]


def _pretrain_phases(template: NeuralEstimator, epochs: int) -> list[StackedPhase]:
    """:func:`~emoshift.methods.source_weight.pretrain_on_source`'s phase, none at
    ``source_weight`` 0 (as it skips the phase)."""
    weight = template.source_weight
    if weight == 0:
        return []
    step = source_only_step if weight == 1.0 else _weighted_source_step(weight)
    return [StackedPhase(epochs, step, "pretrain")]


def _member_split_weighted(
    stack: Stack, outputs: torch.Tensor, targets: torch.Tensor, n_source: int, weight: float
) -> torch.Tensor:
    """:func:`~emoshift.methods.source_weight.split_weighted` of the task loss, per member."""
    if weight == 1.0:
        return stack.task_loss(outputs, targets)
    target = stack.task_loss(outputs[:, n_source:], targets[:, n_source:])
    if weight == 0:
        return target
    n_target = targets.shape[1] - n_source
    source = stack.task_loss(outputs[:, :n_source], targets[:, :n_source])
    return (weight * n_source * source + n_target * target) / (weight * n_source + n_target)


def max_entropy_step(stack: Stack, batch: Batch) -> Values:
    """:meth:`MaxEntropySoftLabel._adapt_step` per member: a domain-classifier update,
    then the encoder and emotion classifier's."""
    template, modules = stack.template, stack.modules
    members, n_source = batch.y.shape
    target = [batch.x_target_labelled, *([] if batch.x_target is None else [batch.x_target])]
    features = modules["encoder"](torch.cat([batch.x, *target], dim=1))
    rows = features.shape[1]
    is_target = torch.zeros(members, rows, dtype=torch.long, device=features.device)
    is_target[:, n_source:] = 1

    def halves(values: torch.Tensor) -> torch.Tensor:
        return 0.5 * (values[:, :n_source].mean(1) + values[:, n_source:].mean(1))

    domain_logits = modules["domain"](features.detach())
    per_row = nn.functional.cross_entropy(
        domain_logits.reshape(members * rows, -1), is_target.reshape(-1), reduction="none"
    )
    domain_loss = halves(per_row.view(members, rows))
    stack.step(stack.optimizers["domain"], domain_loss)
    accuracy = (domain_logits.argmax(2) == is_target).float().mean(1)

    n_labelled = n_source + batch.y_target_labelled.shape[1]
    with frozen(modules["domain"]):
        entropy = halves(_entropy(modules["domain"](features)))
    logits = modules["head"](features[:, :n_labelled])
    labels = torch.cat([batch.y, batch.y_target_labelled], dim=1)
    emotion_loss = _member_split_weighted(stack, logits, labels, n_source, template.source_weight)
    log_tempered = nn.functional.log_softmax(logits[:, n_source:] / template.tau, dim=2)
    soft = stack.member_values["_soft"]
    soft_rows = soft[torch.arange(members).unsqueeze(1), batch.y_target_labelled]
    soft_loss = -(soft_rows * log_tempered).sum(2).mean(1)
    loss = emotion_loss - template.lambda_conf * entropy + template.lambda_soft * soft_loss
    stack.step(stack.optimizers["all"], loss)
    return {
        "loss": loss.detach(),
        "emotion_loss": emotion_loss.detach(),
        "soft_loss": soft_loss.detach(),
        "domain_loss": domain_loss.detach(),
        "domain_accuracy": accuracy,
        "domain_entropy": entropy.detach(),
    }


def cada_step(stack: Stack, batch: Batch) -> Values:
    """:meth:`CADA._train_step` per member: the 2K-way stage, then the encoder alone on
    the swapped categories."""
    template, k = stack.template, stack.template.n_outputs_
    n_source = batch.y.shape[1]
    x = torch.cat([batch.x, batch.x_target_labelled], dim=1)
    true = torch.cat([batch.y, batch.y_target_labelled + k], dim=1)
    swapped = torch.cat([batch.y + k, batch.y_target_labelled], dim=1)
    logits = _encoder_head(stack, x)
    stage1 = _member_split_weighted(stack, logits, true, n_source, template.source_weight)
    stack.step(stack.optimizers["stage1"], stage1)
    domain_accuracy = ((logits.argmax(2) >= k) == (true >= k)).float().mean(1)
    with frozen(stack.modules["head"]):
        outputs = _encoder_head(stack, x)
        stage2 = _member_split_weighted(stack, outputs, swapped, n_source, template.source_weight)
        stack.step(stack.optimizers["stage2"], stage2)
    return {
        "stage1_loss": stage1.detach(),
        "domain_accuracy": domain_accuracy,
        "stage2_loss": stage2.detach(),
    }


def cada_forward(stack: Stack, x: torch.Tensor) -> torch.Tensor:
    """:meth:`CADA._forward` per member: each class's two categories merged."""
    logits = _encoder_head(stack, x)
    pairs = logits.view(*logits.shape[:2], 2, stack.template.n_outputs_)
    return pairs.logsumexp(2) if stack.template.merge == "sum" else pairs.amax(2)


def _cada_phases(template: CADA) -> list[StackedPhase]:
    """One phase, after each member's check that every class has labelled target rows."""
    return [StackedPhase(template.max_epochs, cada_step, start=CADA._check_class_coverage)]


def _max_entropy_phases(template: MaxEntropySoftLabel) -> list[StackedPhase]:
    """Pre-training (skipped at ``source_weight`` 0), then adaptation from each member's
    own soft labels, as :meth:`MaxEntropySoftLabel._fit` runs them."""
    adapt = StackedPhase(
        template.max_epochs,
        max_entropy_step,
        "adapt",
        batches=_few_shot,
        start=MaxEntropySoftLabel._start_adaptation,
    )
    return [*_pretrain_phases(template, template.pretrain_epochs), adapt]


def _pooled_only(estimator: NeuralEstimator) -> str | None:
    """Why a source + target estimator has no stacked step: only its pooled batches (source
    weight 1 without domain balance, or weight 0: the target alone) take the plain step."""
    if estimator.train_pool == "source":
        return (
            "source + target training with domain-balanced batches or a source_weight "
            "other than 0 and 1 has no stacked training step"
        )
    return None


def _no_problem(estimator: NeuralEstimator) -> str | None:
    return None


@dataclass(frozen=True)
class StackedMethod:
    """How one method trains stacked: its step, its forward (task outputs), whether its
    fits may hold labelled target examples (a step reads them from the training pool,
    ``Batch.x``), why an estimator's parameters leave it no stacked step, and its phases
    (``None``: one phase of ``max_epochs`` epochs of ``step``)."""

    step: Callable[[Stack, Batch], Values]
    forward: Callable[[Stack, torch.Tensor], torch.Tensor] = _encoder_head
    labelled_target: bool = False
    problem: Callable[[NeuralEstimator], str | None] = _no_problem
    phases: Callable[[NeuralEstimator], list[StackedPhase]] | None = None

    def phases_of(self, template: NeuralEstimator) -> list[StackedPhase]:
        """The phases of a stacked fit whose shared parameters are ``template``'s."""
        if self.phases is None:
            return [StackedPhase(template.max_epochs, self.step)]
        return self.phases(template)


#: the methods that train stacked, by class (exactly: a subclass may change the step)
STACKED_STEPS: dict[type, StackedMethod] = {
    SourceOnly: StackedMethod(source_only_step),
    TargetOnly: StackedMethod(source_only_step, labelled_target=True),
    SourceTarget: StackedMethod(source_only_step, labelled_target=True, problem=_pooled_only),
    FineTune: StackedMethod(source_only_step, labelled_target=True, phases=_fine_tune_phases),
    CADA: StackedMethod(cada_step, cada_forward, labelled_target=True, phases=_cada_phases),
    MaxEntropySoftLabel: StackedMethod(
        max_entropy_step, labelled_target=True, phases=_max_entropy_phases
    ),
    DANN: StackedMethod(dann_step),
    DeepCORAL: StackedMethod(coral_step),
    MRD: StackedMethod(mrd_step, mrd_forward),
}

#: per method, the hyper-parameters that may differ between members, and the attribute
#: (set by the method's ``_epoch_started`` or a parameter) that the step reads per member
MEMBER_PARAMETERS: dict[type, dict[str, str]] = {
    DANN: {"lambda_max": "lambda_"},
    DeepCORAL: {"coral_weight": "coral_weight"},
}

#: per method, the per-member tensors (fitted, not parameters) that its step reads from
#: ``Stack.member_values``, stacked along the member dimension
MEMBER_TENSORS: dict[type, tuple[str, ...]] = {MaxEntropySoftLabel: ("_soft",)}
