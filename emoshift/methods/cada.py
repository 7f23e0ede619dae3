"""CADA: class-wise adversarial domain adaptation (Zhou & Chen) with few labelled targets.

Every training example is relabelled into one of 2K domain-class categories: class k of
the source is category k, class k of the target is category K + k. One network, the
encoder followed by a 2K-way predictor (the task head), is trained by alternating two
stages on every batch (``batch_size`` class-balanced source examples and as many
class-balanced draws from the labelled target examples):

1. encoder and predictor minimise the 2K-way cross-entropy (the predictor learns to
   tell the domain *and* the class);
2. the encoder alone (predictor fixed: its parameters get no gradient) minimises the
   cross-entropy against *swapped* domain labels: source class k as K + k, target class
   k as k. The encoder thus maps class k of each domain onto class k of the other, a
   class-wise alignment that leaves the classes apart.

Prediction merges the two categories of each class. ``merge="sum"`` (the default):
``P(k) = P(k) + P(K + k)`` (``_forward`` returns ``logsumexp`` over each pair, whose
softmax is exactly that sum). ``merge="max"``: the class of the top category among all
2K, as Zhou & Chen predict (their Sec. 3: a prediction d1 or d3 is class 1, d2 or d4
class 2); ``_forward`` returns the larger logit of each pair, so ``predict`` is that
class and ``predict_proba`` (and the development loss of early stopping) is the softmax
over those K logits, not a sum of probabilities.
``history_`` records both stage losses and ``domain_accuracy``, how often the
predictor's top category is in the right domain half during stage 1.

``source_weight`` multiplies the source rows' share of both stage losses; at 0 only the
labelled target examples carry a loss (source rows still pass through the network).

Needs labelled target examples of every class (category K + k must exist); unlabelled
target data is not used. Classification only.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(120, 4)); ys = np.where(Xs[:, 0] > 0, "anger", "sadness")
    >>> Xt = rng.normal(size=(8, 4)) + 1
    >>> yt = np.array(["anger", "sadness"] * 4)
    >>> model = CADA(hidden_sizes=(8,), max_epochs=3, random_state=0)
    >>> _ = model.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt)
    >>> model.predict_proba(Xt[:2]).shape
    (2, 2)
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.nn import functional as F

from emoshift.methods.base import Batch, BatchInputs, FitData, NeuralEstimator
from emoshift.methods.needs import MethodNeeds
from emoshift.methods.networks import frozen
from emoshift.methods.optim import Adam
from emoshift.methods.params import Only, StrOptions
from emoshift.methods.shared_params import SHARED_CONSTRAINTS
from emoshift.methods.source_weight import SOURCE_WEIGHT_CONSTRAINT, split_weighted

CLASSIFICATION_ONLY = (
    "it relabels examples into 2K domain-class categories; for regression use FineTune "
    "or another method"
)


class CADA(NeuralEstimator):
    """Class-wise adversarial DA: a 2K-way domain-class predictor and a swapped-label stage.

    Args:
        source_weight: weight of the labelled source rows in both stage losses.
        merge: how a class's two categories make its prediction: ``"sum"`` of their
            probabilities or ``"max"`` (the class of the top one of the 2K categories).
        **shared: the parameters of :class:`~emoshift.methods.base.NeuralEstimator`.
    """

    needs = MethodNeeds(labelled_target=True, development_set=True)
    _parameter_constraints = {
        **SHARED_CONSTRAINTS,
        "task": [Only("classification", CLASSIFICATION_ONLY)],
        "source_weight": SOURCE_WEIGHT_CONSTRAINT,
        "merge": [StrOptions({"sum", "max"})],
    }

    def __init__(self, *, source_weight: float = 1.0, merge: str = "sum", **shared: object) -> None:
        super().__init__(**shared)
        self.source_weight = source_weight
        self.merge = merge

    def _loss(self, logits: torch.Tensor, categories: torch.Tensor, n_source: int) -> torch.Tensor:
        """The 2K-way cross-entropy, the first ``n_source`` rows weighted by source_weight."""
        return split_weighted(F.cross_entropy, logits, categories, n_source, self.source_weight)

    def _fit(self, data: FitData) -> None:
        self._check_class_coverage(data)
        super()._fit(data)

    def _build(self, data: FitData | None) -> None:
        self.modules_["encoder"] = self._make_encoder(self.n_features_in_)
        self.modules_["head"] = self._make_head(
            self.modules_["encoder"].output_size, 2 * self.n_outputs_
        )

    def _make_optimizers(self) -> dict[str, Adam]:
        return {
            "stage1": self._adam(self.modules_.parameters()),
            "stage2": self._adam(self.modules_["encoder"].parameters()),
        }

    def _batches(self, data: FitData) -> Iterator[Batch]:
        return self._few_shot_batches(data)

    def _category_logits(self, x: BatchInputs) -> torch.Tensor:
        """The predictor's 2K logits: source classes first, then target classes."""
        return self.modules_["head"](self.modules_["encoder"](x))

    def _forward(self, x: BatchInputs) -> torch.Tensor:
        """Class logits: softmax ``P(k) + P(K + k)`` (``sum``) or each pair's larger logit
        (``max``: their argmax is the class of the top category)."""
        pairs = self._category_logits(x).view(-1, 2, self.n_outputs_)
        return pairs.logsumexp(1) if self.merge == "sum" else pairs.amax(1)

    def _stage_inputs(self, batch: Batch) -> tuple[BatchInputs, torch.Tensor, torch.Tensor]:
        """Source then labelled target inputs, their true and their swapped categories."""
        k = self.n_outputs_
        x = torch.cat([batch.x, batch.x_target_labelled])
        true = torch.cat([batch.y, batch.y_target_labelled + k])
        swapped = torch.cat([batch.y + k, batch.y_target_labelled])
        return x, true, swapped

    def _stage1_step(self, batch: Batch) -> dict[str, float]:
        """Encoder and predictor minimise the 2K-way cross-entropy."""
        x, true, _ = self._stage_inputs(batch)
        logits = self._category_logits(x)
        loss = self._loss(logits, true, len(batch.y))
        self._step(self._optimizers["stage1"], loss)
        k = self.n_outputs_
        domain_accuracy = ((logits.argmax(1) >= k) == (true >= k)).float().mean()
        return {"stage1_loss": loss.item(), "domain_accuracy": domain_accuracy.item()}

    def _stage2_step(self, batch: Batch) -> dict[str, float]:
        """The encoder alone maps each domain's class k onto the other domain's class k."""
        x, _, swapped = self._stage_inputs(batch)
        with frozen(self.modules_["head"]):
            loss = self._loss(self._category_logits(x), swapped, len(batch.y))
            self._step(self._optimizers["stage2"], loss)
        return {"stage2_loss": loss.item()}

    def _train_step(self, batch: Batch) -> dict[str, float]:
        return {**self._stage1_step(batch), **self._stage2_step(batch)}
