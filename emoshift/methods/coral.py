"""Deep CORAL (Sun & Saenko 2016): align second-order statistics of a shared layer.

The network is the shared MLP encoder and task head. Each training batch holds equally
many labelled source and unlabelled target examples, passed through the encoder together;
the loss is the task loss on the source examples plus ``coral_weight`` times the CORAL
distance ``||C_s - C_t||_F^2 / (4 d^2)`` between the source and target covariance matrices
of shared layer ``coral_layer`` (see :func:`emoshift.methods.alignment.coral_loss`).

Multi-source (``multi_source=True`` and ``fit(..., source_domains=...)`` naming several
domains): the CORAL loss is computed between each source domain's rows of the batch and
the target rows, and averaged over the source domains
(:func:`~emoshift.methods.alignment.per_source_coral_loss`), so that every source corpus
is aligned with the target rather than their mixture, which can match the target's
covariance while no single corpus does (the source-target terms of M3SDA's moment
matching, Peng et al. 2019, "Moment matching for multi-source domain adaptation", here on
second-order moments; its source-source terms are left out). With one source domain it
is the single-source method, number for number.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 6)); y = np.where(X[:, 0] > 0, "anger", "neutral")
    >>> X_target = rng.normal(size=(120, 6)) * [1, 1, 3, 3, 1, 1]
    >>> model = DeepCORAL(hidden_sizes=(16, 8), max_epochs=3, random_state=0)
    >>> model = model.fit(X, y, X_target=X_target)
    >>> sorted(k for k in model.history_[0] if k.endswith("loss"))
    ['coral_loss', 'dev_loss', 'loss', 'task_loss']
    >>> model.transform(X_target[:5]).shape
    (5, 8)
"""

from __future__ import annotations

import torch

from emoshift.methods.alignment import coral_loss, per_source_coral_loss
from emoshift.methods.base import Batch, FitData, NeuralEstimator
from emoshift.methods.needs import UNSUPERVISED_MULTI_SOURCE
from emoshift.methods.params import NON_NEGATIVE, Integral, Interval
from emoshift.methods.shared_params import SHARED_CONSTRAINTS


class DeepCORAL(NeuralEstimator):
    """Task loss plus a weighted CORAL loss between source and target covariances.

    ``history_`` holds per epoch ``loss`` (the weighted sum), ``task_loss`` and
    ``coral_loss``, averaged over the epoch's batches, and ``dev_loss`` (the task loss on
    held-out source data or ``eval_set``) when early stopping is on.

    Args:
        coral_weight: weight of the CORAL loss against the task loss.
        coral_layer: which shared encoder layer to align, indexed as in
            :meth:`transform` (default the last, the layer the task head reads).
        multi_source: align each source domain with the target (read ``source_domains``
            in ``fit``); ``False`` aligns the pooled source.
        **shared: the parameters of :class:`~emoshift.methods.base.NeuralEstimator`.
    """

    needs = UNSUPERVISED_MULTI_SOURCE
    _saved_attributes = (*NeuralEstimator._saved_attributes, "source_domains_")
    _parameter_constraints = {
        **SHARED_CONSTRAINTS,
        "coral_weight": [NON_NEGATIVE],
        "coral_layer": [Interval(Integral, None, None, closed="neither")],
        "multi_source": ["boolean"],
    }

    def __init__(
        self,
        *,
        coral_weight: float = 1.0,
        coral_layer: int = -1,
        multi_source: bool = False,
        **shared: object,
    ):
        super().__init__(**shared)
        self.coral_weight = coral_weight
        self.coral_layer = coral_layer
        self.multi_source = multi_source

    def _build(self, data: FitData | None) -> None:
        super()._build(data)
        if data is not None:  # None: a saved model, whose source_domains_ are restored
            #: the source domains aligned one by one (``None``: one, pooled source)
            self.source_domains_ = data.source_domain_names

    def _train_step(self, batch: Batch) -> dict[str, float]:
        n = len(batch.x)
        layers = self.modules_["encoder"].layers_output(torch.cat([batch.x, batch.x_target]))
        task_loss = self._task_loss(self.modules_["head"](layers[-1][:n]), batch.y)
        if not -len(layers) <= self.coral_layer < len(layers):
            raise ValueError(
                f"coral_layer={self.coral_layer}; the encoder has {len(layers)} shared layers"
            )
        aligned = layers[self.coral_layer]
        if batch.source_domains is None:
            alignment = coral_loss(aligned[:n], aligned[n:])
        else:
            alignment = per_source_coral_loss(aligned[:n], batch.source_domains, aligned[n:])
        loss = task_loss + self.coral_weight * alignment
        self._step(self._optimizers["all"], loss)
        return {
            "loss": loss.item(),
            "task_loss": task_loss.item(),
            "coral_loss": alignment.item(),
        }
