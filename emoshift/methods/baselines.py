"""Baselines every adaptation method is compared against.

- :class:`SourceOnly`: trained on labelled source data only; the lower bound.
- :class:`TargetOnly`: trained on labelled target data only. With the target's full
  training split it is *train-on-target* (the upper bound); with a few labelled target
  examples it is *label-target*.
- :class:`SourceTarget`: trained on source and labelled target data pooled (the source
  weighted by ``source_weight``; at 0 it is label-target).

All three share :class:`~emoshift.methods.base.NeuralEstimator`'s MLP encoder, training
loop and ``fit`` signature.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 4)); y = (X[:, 0] > 0).astype(int)
    >>> model = TargetOnly(hidden_sizes=(16,), max_epochs=60, lr=1e-2, random_state=0)
    >>> _ = model.fit(None, None, X_target_labelled=X, y_target_labelled=y)
    >>> model.score(X, y) > 0.8
    True
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from emoshift.methods.base import Batch, FitData, NeuralEstimator
from emoshift.methods.batching import few_shot_batches
from emoshift.methods.needs import MethodNeeds
from emoshift.methods.shared_params import SHARED_CONSTRAINTS
from emoshift.methods.source_weight import SOURCE_WEIGHT_CONSTRAINT, weigh_source


class SourceOnly(NeuralEstimator):
    """Train on labelled source data; target data passed to ``fit`` is ignored."""

    train_pool = "source"


class TargetOnly(NeuralEstimator):
    """Train on the labelled target examples alone (train-on-target / label-target).

    The registry's ``train_on_target`` passes every target training row with its label
    (``all_target_labels``, declared on the registry entry); ``label_target`` the few.
    """

    train_pool = "target"
    needs = MethodNeeds(labelled_target=True, development_set=True)


class SourceTarget(NeuralEstimator):
    """Train on labelled source and labelled target examples pooled together.

    Args:
        source_weight: weight of each source example in the loss. At 1 (default) the
            source and target examples are pooled and batched together; at 0 the model
            trains on the target examples alone, exactly as ``label_target`` does with
            the same seed; otherwise each source batch comes with a batch of the labelled
            target examples and the loss is their weighted mean
            (:func:`~emoshift.methods.source_weight.weigh_source`).
        domain_balanced: every batch holds ``batch_size`` source examples and as many
            labelled target examples (drawn with replacement, so the few target examples
            recur within an epoch; class-balanced in each domain when ``class_balanced``),
            as the max-entropy method batches them (Li et al. 2021, Sec. 4). An epoch is
            as many batches as the source fills. With ``False`` the pooled batches hold
            the domains in the proportion of their sizes.
        **shared: the parameters of :class:`~emoshift.methods.base.NeuralEstimator`.
    """

    needs = MethodNeeds(labelled_target=True, development_set=True)
    _parameter_constraints = {
        **SHARED_CONSTRAINTS,
        "source_weight": SOURCE_WEIGHT_CONSTRAINT,
        "domain_balanced": ["boolean"],
    }

    def __init__(
        self, *, source_weight: float = 1.0, domain_balanced: bool = False, **shared: object
    ) -> None:
        super().__init__(**shared)
        self.source_weight = source_weight
        self.domain_balanced = domain_balanced

    @property
    def train_pool(self) -> str:  # type: ignore[override]
        """``"target"`` at weight 0; ``"both"`` at weight 1 without ``domain_balanced``;
        else ``"source"`` (source batches paired with labelled target batches)."""
        if self.source_weight == 0:
            return "target"
        return "both" if self.source_weight == 1.0 and not self.domain_balanced else "source"

    def _batches(self, data: FitData) -> Iterator[Batch]:
        if self.train_pool == "source" and self.domain_balanced:
            balanced = self.class_balanced and self.task == "classification"
            return few_shot_batches(
                data, self._rng, self.batch_size, self.device_, balanced=balanced
            )
        return super()._batches(data)

    def _train_step(self, batch: Batch) -> dict[str, float]:
        if self.train_pool != "source":
            return super()._train_step(batch)
        source = (self._forward(batch.x), batch.y)
        target = (self._forward(batch.x_target_labelled), batch.y_target_labelled)
        loss: torch.Tensor = weigh_source(self._task_loss, source, target, self.source_weight)
        self._step(self._optimizers["all"], loss)
        return {"loss": loss.item()}
