"""The weight of the labelled source in a few-shot method's loss (``source_weight``).

With a few labelled target examples the source corpus can do more harm than good. The
few-shot methods (source+target, fine-tune, CADA, FADA, max-entropy) therefore take a
``source_weight`` (default 1.0, the published methods): their labelled-source loss term
is multiplied by it, and at 0 they skip their source-only phases, so cross-validation on
the labelled target examples (:class:`emoshift.selection.FewShotCVSelector`) can turn the
source down or off.

Example:
    >>> import torch
    >>> from torch.nn import functional as F
    >>> source = (torch.tensor([[2.0, 0.0]]), torch.tensor([1]))
    >>> target = (torch.tensor([[0.0, 2.0], [1.0, 1.0]]), torch.tensor([1, 0]))
    >>> full = F.cross_entropy(torch.cat([source[0], target[0]]), torch.tensor([1, 1, 0]))
    >>> bool(torch.isclose(weigh_source(F.cross_entropy, source, target, 1.0), full))
    True
    >>> bool(torch.isclose(weigh_source(F.cross_entropy, source, target, 0.0),
    ...                    F.cross_entropy(*target)))
    True
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from emoshift.methods.params import NON_NEGATIVE

#: the constraint of ``source_weight``: any weight from 0 (no source) up
SOURCE_WEIGHT_CONSTRAINT: list[object] = [NON_NEGATIVE]

Pair = tuple[torch.Tensor, torch.Tensor]


def weigh_source(
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    source: Pair,
    target: Pair,
    weight: float,
) -> torch.Tensor:
    """The mean of ``loss`` over source and target rows, each source row weighing ``weight``.

    ``(weight * n_s * loss(*source) + n_t * loss(*target)) / (weight * n_s + n_t)``, where
    ``loss`` is a per-batch mean (cross-entropy, MSE); at ``weight = 0`` it is
    ``loss(*target)`` and the source rows get no gradient.
    """
    if weight == 0:
        return loss(*target)
    n_source, n_target = len(source[1]), len(target[1])
    total = weight * n_source * loss(*source) + n_target * loss(*target)
    return total / (weight * n_source + n_target)


def split_weighted(
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    outputs: torch.Tensor,
    targets: torch.Tensor,
    n_source: int,
    weight: float,
) -> torch.Tensor:
    """``loss(outputs, targets)`` over rows whose first ``n_source`` are source rows.

    At ``weight = 1`` this is the plain ``loss`` call (the published methods' numbers,
    bit for bit); otherwise :func:`weigh_source` over the two parts.
    """
    if weight == 1.0:
        return loss(outputs, targets)
    source = (outputs[:n_source], targets[:n_source])
    return weigh_source(loss, source, (outputs[n_source:], targets[n_source:]), weight)


def pretrain_on_source(model: object, data: object, epochs: int) -> None:
    """A method's source-only ``"pretrain"`` phase with its loss multiplied by the model's
    ``source_weight``; skipped at 0 (the method then starts from its initial weights).

    At weight 1 this is ``model._train_loop(data, epochs, phase="pretrain")`` unchanged.
    Adam divides by the gradient's own scale, so a weight between 0 and 1 changes this
    phase little (the gradient clip and weight decay still see it); 0 is the value that
    matters here.
    """
    weight = model.source_weight
    if weight == 0:
        return

    def step(batch: object) -> dict[str, float]:
        loss = weight * model._task_loss(model._forward(batch.x), batch.y)
        model._step(model._optimizers["all"], loss)
        return {"loss": loss.item()}

    model._train_loop(data, epochs, step=None if weight == 1.0 else step, phase="pretrain")
