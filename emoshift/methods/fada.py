"""FADA: few-shot adversarial domain adaptation (Motiian et al., NeurIPS 2017).

FADA aligns domains through *pairs* of examples, grouped by class and domain relation:

====  ==================  ===========
group  pair                class
====  ==================  ===========
G1     source, source      same
G2     source, target      same
G3     source, source      different
G4     source, target      different
====  ==================  ===========

A domain-class discriminator (DCD) classifies the concatenated embeddings of a pair
``[g(a), g(b)]`` into these four groups. The encoder g is trained to make G2 pairs look
like G1 and G4 pairs look like G3 to the DCD, so that the target's class structure lines
up with the source's: the DCD can no longer tell the domain of a pair, only whether it
shares a class. Training follows the paper's three steps:

1. ``"pretrain"``: encoder g and classifier h trained on the labelled source
   (``pretrain_epochs``, early stopping on the development data);
2. ``"dcd"``: the DCD trained on the four groups with g frozen (``dcd_epochs``);
3. ``"adapt"``: alternately, per batch, g and h minimise the classification loss on
   labelled source and labelled target examples plus ``gamma`` times the confusion loss
   ``CE(DCD(G2), G1) + CE(DCD(G4), G3)`` (DCD fixed), then the DCD minimises its
   4-group cross-entropy (g fixed); up to ``max_epochs`` epochs.

Each step draws ``batch_size`` pairs per group (:func:`make_pairs`: a class-balanced
anchor, a partner of the required class), so the few target examples are reused in many
pairs. ``source_weight`` multiplies the labelled-source terms of the classification
losses (step 1, and the source half of step 3's); at 0 step 1 is skipped and only the
target examples carry a classification loss, while the pairs still read the source.
``history_`` records ``dcd_loss``, ``dcd_accuracy`` and ``g2_as_g1`` (how often
the DCD takes a same-class cross-domain pair for a source pair). Needs labelled target
examples of every class; unlabelled target data is not used. Classification only.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(120, 4)); ys = np.where(Xs[:, 0] > 0, "anger", "sadness")
    >>> Xt = rng.normal(size=(8, 4)) + 1
    >>> yt = np.array(["anger", "sadness"] * 4)
    >>> model = FADA(hidden_sizes=(8,), pretrain_epochs=2, dcd_epochs=2, max_epochs=2,
    ...              random_state=0)
    >>> _ = model.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt)
    >>> [h["phase"] for h in model.history_]
    ['pretrain', 'pretrain', 'dcd', 'dcd', 'adapt', 'adapt']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from emoshift.methods.base import Batch, BatchInputs, FitData, NeuralEstimator
from emoshift.methods.batching import take
from emoshift.methods.needs import MethodNeeds
from emoshift.methods.networks import MLPHead, frozen
from emoshift.methods.optim import Adam
from emoshift.methods.params import AT_LEAST_ONE, NON_NEGATIVE, Only, Widths
from emoshift.methods.shared_params import SHARED_CONSTRAINTS
from emoshift.methods.source_weight import (
    SOURCE_WEIGHT_CONSTRAINT,
    pretrain_on_source,
    split_weighted,
)

CLASSIFICATION_ONLY = (
    "its pair groups are defined by classes; for regression use FineTune or another method"
)

#: (anchor domain, partner domain, same class) of groups G1..G4
GROUPS: tuple[tuple[str, str, bool], ...] = (
    ("source", "source", True),
    ("source", "target", True),
    ("source", "source", False),
    ("source", "target", False),
)


def make_pairs(
    y_source: np.ndarray, y_target: np.ndarray, n: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` pairs of each group G1..G4 as (source indices, partner indices).

    Partner indices point into the source for G1 and G3 and into the target for G2 and
    G4. Anchors are drawn class-balanced; partners uniformly among the examples of the
    required relation (a G1 partner differs from its anchor when its class has more than
    one example). Every class must have source and target examples.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> ys, yt = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 2])
        >>> pairs = make_pairs(ys, yt, 6, rng)
        >>> bool((ys[pairs[1][0]] == yt[pairs[1][1]]).all())
        True
        >>> bool((ys[pairs[2][0]] != ys[pairs[2][1]]).all())
        True
    """
    classes = np.unique(np.concatenate([y_source, y_target]))
    if len(classes) < 2:
        raise ValueError("FADA pairs need at least two classes")
    for name, labels in (("source", y_source), ("target", y_target)):
        missing = [c.item() for c in classes if not (labels == c).any()]
        if missing:
            raise ValueError(f"FADA pairs need {name} examples of every class; missing {missing}")

    def draw(pool: np.ndarray, size: int) -> np.ndarray:
        return pool[rng.integers(len(pool), size=size)]

    groups = []
    for _, partner_domain, same in GROUPS:
        partner_y = y_source if partner_domain == "source" else y_target
        anchor_class = classes[rng.integers(len(classes), size=n)]
        anchors, partners = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        for c in classes:
            rows = np.flatnonzero(anchor_class == c)
            own = np.flatnonzero(y_source == c)
            pool = np.flatnonzero((partner_y == c) == same)
            if partner_domain == "source" and same and len(own) > 1:
                # anchor and partner: two different positions in the class
                first = rng.integers(len(own), size=len(rows))
                second = rng.integers(len(own) - 1, size=len(rows))
                anchors[rows], partners[rows] = own[first], own[second + (second >= first)]
            else:
                anchors[rows], partners[rows] = draw(own, len(rows)), draw(pool, len(rows))
        groups.append((anchors, partners))
    return groups


@dataclass
class PairBatch:
    """One FADA step: classification batches and the inputs of each group's pairs."""

    classification: Batch
    pairs: list[tuple[BatchInputs, BatchInputs]]


class FADA(NeuralEstimator):
    """Few-shot adversarial DA with a 4-group domain-class discriminator on example pairs.

    Args:
        gamma: weight of the confusion loss against the classification loss.
        pretrain_epochs: step 1, encoder and classifier on the labelled source.
        dcd_epochs: step 2, the discriminator alone on the frozen encoder's pairs.
        dcd_hidden_sizes: hidden widths of the discriminator.
        source_weight: weight of the labelled source in the classification losses.
        **shared: the parameters of :class:`~emoshift.methods.base.NeuralEstimator`
            (``max_epochs`` bounds step 3).
    """

    needs = MethodNeeds(labelled_target=True, development_set=True)
    _parameter_constraints = {
        **SHARED_CONSTRAINTS,
        "task": [Only("classification", CLASSIFICATION_ONLY)],
        "gamma": [NON_NEGATIVE],
        "pretrain_epochs": [AT_LEAST_ONE],
        "dcd_epochs": [AT_LEAST_ONE],
        "dcd_hidden_sizes": [Widths()],
        "source_weight": SOURCE_WEIGHT_CONSTRAINT,
    }

    def __init__(
        self,
        *,
        gamma: float = 0.2,
        pretrain_epochs: int = 30,
        dcd_epochs: int = 20,
        dcd_hidden_sizes: Sequence[int] = (64,),
        source_weight: float = 1.0,
        **shared: object,
    ) -> None:
        super().__init__(**shared)
        self.gamma = gamma
        self.pretrain_epochs = pretrain_epochs
        self.dcd_epochs = dcd_epochs
        self.dcd_hidden_sizes = dcd_hidden_sizes
        self.source_weight = source_weight

    def _fit(self, data: FitData) -> None:
        """Run the three steps: pre-train g and h, train the DCD, then alternate.

        Unlabelled target data is not used; early stopping in steps 1 and 3 watches the
        development data (``eval_set``, e.g. labelled target dev, else a source split).
        """
        data = dataclasses.replace(data, X_target=None)
        self._check_class_coverage(data)
        pretrain_on_source(self, data, self.pretrain_epochs)
        no_dev = dataclasses.replace(data, X_dev=None, y_dev=None)
        self._train_loop(
            no_dev,
            self.dcd_epochs,
            step=lambda batch: self._dcd_step(batch.pairs),
            batches=self._pair_batches,
            phase="dcd",
            patience=None,
            eval_modules=("encoder",),  # frozen, batch-norm statistics included
        )
        self._train_loop(
            data, self.max_epochs, step=self._adapt_step, batches=self._pair_batches, phase="adapt"
        )

    def _build(self, data: FitData | None) -> None:
        super()._build(data)
        self.modules_["dcd"] = MLPHead(
            2 * self.modules_["encoder"].output_size,
            len(GROUPS),
            self.dcd_hidden_sizes,
            activation=self.activation,
        )

    def _make_optimizers(self) -> dict[str, Adam]:
        model = [*self.modules_["encoder"].parameters(), *self.modules_["head"].parameters()]
        return {"all": self._adam(model), "dcd": self._adam(self.modules_["dcd"].parameters())}

    def _pair_batches(self, data: FitData) -> Iterator[PairBatch]:
        """Few-shot classification batches, each with ``batch_size`` pairs per group."""
        y_source = data.y_train.cpu().numpy()
        y_target = data.y_target_labelled.cpu().numpy()
        size = min(self.batch_size, len(y_source))
        device = self.device_
        for batch in self._few_shot_batches(data):
            groups = make_pairs(y_source, y_target, size, self._rng)
            pairs = []
            for (anchors, partners), (_, partner_domain, _) in zip(groups, GROUPS):
                pool = data.X_train if partner_domain == "source" else data.X_target_labelled
                pairs.append((take(data.X_train, anchors, device), take(pool, partners, device)))
            yield PairBatch(batch, pairs)

    def _pair_features(self, pairs: list[tuple[BatchInputs, BatchInputs]]) -> torch.Tensor:
        """``[g(a), g(b)]`` of every pair, group after group."""
        sizes = [len(x) for pair in pairs for x in pair]
        chunks = self.modules_["encoder"](torch.cat([x for pair in pairs for x in pair]))
        chunks = chunks.split(sizes)
        return torch.cat(
            [torch.cat([chunks[2 * g], chunks[2 * g + 1]], dim=1) for g in range(len(pairs))]
        )

    def _group_labels(
        self, pairs: list[tuple[BatchInputs, BatchInputs]], groups: Sequence[int]
    ) -> torch.Tensor:
        """Each pair's group label, for groups given in the order of ``pairs``."""
        return torch.cat(
            [torch.full((len(a),), g, dtype=torch.long) for g, (a, _) in zip(groups, pairs)]
        ).to(self.device_)

    def _dcd_step(self, pairs: list[tuple[BatchInputs, BatchInputs]]) -> dict[str, float]:
        """The DCD learns the four groups on the (fixed) encoder's pair embeddings."""
        with torch.no_grad():
            features = self._pair_features(pairs)
        groups = self._group_labels(pairs, range(len(GROUPS)))
        logits = self.modules_["dcd"](features)
        loss = F.cross_entropy(logits, groups)
        self._step(self._optimizers["dcd"], loss)
        predicted = logits.argmax(1)
        return {
            "dcd_loss": loss.item(),
            "dcd_accuracy": (predicted == groups).float().mean().item(),
            "g2_as_g1": (predicted[groups == 1] == 0).float().mean().item(),
        }

    def _adapt_step(self, batch: PairBatch) -> dict[str, float]:
        """Step 3: g and h confuse G2 with G1 and G4 with G3 (DCD fixed), then a DCD step."""
        cls = batch.classification
        logits = self._forward(torch.cat([cls.x, cls.x_target_labelled]))
        labels = torch.cat([cls.y, cls.y_target_labelled])
        class_loss = split_weighted(F.cross_entropy, logits, labels, len(cls.y), self.source_weight)
        cross_domain = [batch.pairs[1], batch.pairs[3]]
        with frozen(self.modules_["dcd"]):
            pair_logits = self.modules_["dcd"](self._pair_features(cross_domain))
        confused_as = self._group_labels(cross_domain, (0, 2))
        confusion_loss = F.cross_entropy(pair_logits, confused_as)
        loss = class_loss + self.gamma * confusion_loss
        self._step(self._optimizers["all"], loss)
        return {
            "loss": loss.item(),
            "class_loss": class_loss.item(),
            "confusion_loss": confusion_loss.item(),
            **self._dcd_step(batch.pairs),
        }
