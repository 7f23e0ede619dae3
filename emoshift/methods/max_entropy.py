"""Max-entropy adversarial training with a soft-label loss (few labelled target examples).

Three networks: the encoder (ENC), the emotion classifier (EC, the task head) and the
domain classifier (DC, same shape as EC with two outputs). Training has two phases.

Phase ``"pretrain"`` trains ENC + EC on the labelled source alone (the *source model*
of the soft labels) for up to ``pretrain_epochs`` epochs, with early stopping on the
development data (``eval_set``, else a source split). The **soft labels** are then
computed from this source model: for each class k, the average over the source training
examples of class k of ``softmax(logits / tau)`` (:attr:`MaxEntropySoftLabel.soft_labels_`,
one row per class, each summing to 1). They carry the source model's knowledge of how
classes resemble one another.

Phase ``"adapt"`` continues from the source model. Each batch holds ``batch_size``
source examples and ``batch_size`` labelled target examples, both drawn class-balanced
with replacement, plus ``batch_size`` unlabelled target examples when ``X_target`` is
given. Two alternating updates per batch:

1. DC minimises the domain cross-entropy, source (0) against target (1: labelled and
   unlabelled target examples), each domain weighted one half; the encoder is not
   updated.
2. ENC + EC (DC fixed) minimise::

       CE(emotion | labelled source + labelled target)
       - lambda_conf * H(DC posterior)              (mean over both domains, halves)
       + lambda_soft * CE(soft_label[y_t], softmax(EC(x_t) / tau))

   The entropy term drives the encoder towards features whose domain the DC cannot
   tell (maximum entropy, i.e. a uniform domain posterior); the soft-label term asks
   each labelled target example's tempered output to match its class's soft label.

``source_weight`` multiplies the labelled-source loss terms (the pre-training loss and
the source half of the emotion loss); at 0 the pre-training is skipped (the soft labels
then come from the untrained network, near uniform) and only the target examples carry
an emotion loss, while the domain classifier still reads the source.

``history_`` records ``domain_loss``, ``domain_accuracy`` and ``domain_entropy`` (the
DC posterior's mean entropy in nats; at most ln 2 = 0.693) of every adaptation epoch,
next to ``emotion_loss`` and ``soft_loss``. Classification only.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(120, 4)); ys = np.where(Xs[:, 0] > 0, "anger", "sadness")
    >>> Xt = rng.normal(size=(8, 4)) + 1; yt = np.where(Xt[:, 0] > 1, "anger", "sadness")
    >>> model = MaxEntropySoftLabel(hidden_sizes=(8,), pretrain_epochs=3, max_epochs=3,
    ...                             random_state=0)
    >>> _ = model.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt)
    >>> model.soft_labels_.shape, np.allclose(model.soft_labels_.sum(1), 1)
    ((2, 2), True)
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from emoshift.methods.base import Batch, FitData, Inputs, NeuralEstimator
from emoshift.methods.batching import map_chunks
from emoshift.methods.needs import MethodNeeds
from emoshift.methods.networks import frozen
from emoshift.methods.optim import Adam
from emoshift.methods.params import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, Only
from emoshift.methods.shared_params import SHARED_CONSTRAINTS
from emoshift.methods.source_weight import (
    SOURCE_WEIGHT_CONSTRAINT,
    pretrain_on_source,
    split_weighted,
)

CLASSIFICATION_ONLY = (
    "soft labels are class averages; for regression use FineTune or another method"
)


def _entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of each row's softmax."""
    log_p = F.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(-1)


class MaxEntropySoftLabel(NeuralEstimator):
    """Domain confusion by maximum DC entropy plus soft-label transfer to labelled targets.

    Args:
        lambda_conf: weight of the domain classifier's posterior entropy (subtracted).
        lambda_soft: weight of the soft-label loss.
        tau: softmax temperature of the soft labels and of the soft-label loss.
        pretrain_epochs: epochs of the source-only pre-training (the source model).
        source_weight: weight of the labelled source in the emotion losses.
        **shared: the parameters of :class:`~emoshift.methods.base.NeuralEstimator`
            (``max_epochs`` bounds the adaptation phase).
    """

    needs = MethodNeeds(labelled_target=True, optional_unlabelled_target=True, development_set=True)
    _saved_attributes = (*NeuralEstimator._saved_attributes, "soft_labels_")
    _parameter_constraints = {
        **SHARED_CONSTRAINTS,
        "task": [Only("classification", CLASSIFICATION_ONLY)],
        "lambda_conf": [NON_NEGATIVE],
        "lambda_soft": [NON_NEGATIVE],
        "tau": [POSITIVE],
        "pretrain_epochs": [AT_LEAST_ONE],
        "source_weight": SOURCE_WEIGHT_CONSTRAINT,
    }

    def __init__(
        self,
        *,
        lambda_conf: float = 1.0,
        lambda_soft: float = 1.0,
        tau: float = 2.0,
        pretrain_epochs: int = 30,
        source_weight: float = 1.0,
        **shared: object,
    ) -> None:
        super().__init__(**shared)
        self.lambda_conf = lambda_conf
        self.lambda_soft = lambda_soft
        self.tau = tau
        self.pretrain_epochs = pretrain_epochs
        self.source_weight = source_weight

    def _fit(self, data: FitData) -> None:
        """Pre-train the source model, compute soft labels, then adapt.

        Unlabelled target data, when given, joins the domain classification; early
        stopping watches ``eval_set`` (e.g. labelled target dev), else a source split.
        """
        pretrain_on_source(self, data, self.pretrain_epochs)
        self._start_adaptation(data)
        self._optimizers = self._make_optimizers()
        self._train_loop(
            data,
            self.max_epochs,
            step=self._adapt_step,
            batches=self._few_shot_batches,
            phase="adapt",
        )

    def _start_adaptation(self, data: FitData) -> None:
        """The soft labels of the network as the pre-training left it."""
        self.soft_labels_ = self._compute_soft_labels(data.X_train, data.y_train)
        self._soft = torch.as_tensor(self.soft_labels_, device=self.device_)

    @torch.no_grad()
    def _compute_soft_labels(self, X: Inputs, y: torch.Tensor) -> np.ndarray:
        """Per class, the mean tempered softmax of the current network over ``X``'s examples
        of that class (rows in ``classes_`` order; a class without examples gets uniform)."""
        self.modules_.eval()
        probs = torch.softmax(map_chunks(self._forward, X, self.device_) / self.tau, dim=1)
        y = y.to(probs.device)
        n_classes = len(self.classes_)
        soft = torch.full((n_classes, n_classes), 1.0 / n_classes, device=probs.device)
        for k in range(n_classes):
            if (y == k).any():
                soft[k] = probs[y == k].mean(0)
        return soft.cpu().numpy()

    def _build(self, data: FitData | None) -> None:
        super()._build(data)
        self.modules_["domain"] = self._make_head(self.modules_["encoder"].output_size, 2)

    def _make_optimizers(self) -> dict[str, Adam]:
        model = [*self.modules_["encoder"].parameters(), *self.modules_["head"].parameters()]
        return {
            "all": self._adam(model),
            "domain": self._adam(self.modules_["domain"].parameters()),
        }

    def _adapt_step(self, batch: Batch) -> dict[str, float]:
        """A domain-classifier update, then the encoder and emotion classifier's."""
        n_source = len(batch.y)
        target = [batch.x_target_labelled]
        if batch.x_target is not None:
            target.append(batch.x_target)
        features = self.modules_["encoder"](torch.cat([batch.x, *target]))
        is_target = torch.zeros(len(features), dtype=torch.long, device=features.device)
        is_target[n_source:] = 1

        def halves(values: torch.Tensor) -> torch.Tensor:
            return 0.5 * (values[:n_source].mean() + values[n_source:].mean())

        domain_logits = self.modules_["domain"](features.detach())
        domain_loss = halves(F.cross_entropy(domain_logits, is_target, reduction="none"))
        self._step(self._optimizers["domain"], domain_loss)
        accuracy = (domain_logits.argmax(1) == is_target).float().mean()

        n_labelled = n_source + len(batch.y_target_labelled)
        with frozen(self.modules_["domain"]):
            entropy = halves(_entropy(self.modules_["domain"](features)))
        logits = self.modules_["head"](features[:n_labelled])
        labels = torch.cat([batch.y, batch.y_target_labelled])
        emotion_loss = split_weighted(F.cross_entropy, logits, labels, n_source, self.source_weight)
        log_tempered = F.log_softmax(logits[n_source:] / self.tau, dim=1)
        soft_loss = -(self._soft[batch.y_target_labelled] * log_tempered).sum(1).mean()
        loss = emotion_loss - self.lambda_conf * entropy + self.lambda_soft * soft_loss
        self._step(self._optimizers["all"], loss)
        return {
            "loss": loss.item(),
            "emotion_loss": emotion_loss.item(),
            "soft_loss": soft_loss.item(),
            "domain_loss": domain_loss.item(),
            "domain_accuracy": accuracy.item(),
            "domain_entropy": entropy.item(),
        }
