"""Domain-adversarial neural network (DANN; Ganin et al. 2016, used for speech emotion
recognition by Abdelwahab & Busso 2018).

A shared feature extractor (the MLP encoder, 1-4 layers via ``hidden_sizes``) feeds two
branches: the emotion head, trained on labelled source examples, and a domain classifier
that tells source from target, joined to the extractor by a gradient reversal layer
(identity forward, gradient times ``-lambda`` backward). Minimising the sum of the task
loss and the domain loss therefore trains the domain classifier to separate the domains
and, at the same time, the extractor to make them inseparable while staying useful for
the task. Each training batch holds equally many source and (unlabelled) target examples;
both go through the extractor together, so batch normalisation sees both domains.

Multi-source (``multi_source=True`` and ``fit(..., source_domains=...)`` naming K > 1
source domains, e.g. corpora): the domain classifier has K + 1 outputs, one per source
domain and one for the target, trained with cross-entropy through the reversal layer, so
the extractor learns to hide which corpus a row comes from, the sources' differences
included, instead of only source against target. This is the multi-class domain
discriminator of multi-domain adversarial learning (Schoenauer-Sebag et al. 2019,
"Multi-domain adversarial learning", ICLR); MDAN (Zhao et al. 2018, "Adversarial multiple
source domain adaptation", NeurIPS) instead trains K source-vs-target discriminators and
combines their losses. With one source domain the classifier is the single-logit one and
the numbers are those of ``multi_source=False``.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 6)); y = np.where(X[:, 0] > 0, "anger", "neutral")
    >>> X_target = rng.normal(size=(120, 6)) + [0, 0, 3, 3, 0, 0]
    >>> model = DANN(hidden_sizes=(16,), head_hidden_sizes=(8,), domain_hidden_sizes=(8,),
    ...              max_epochs=4, warmup_epochs=1, random_state=0)
    >>> model = model.fit(X, y, X_target=X_target)
    >>> [round(h["lambda"], 3) for h in model.history_]
    [0.0, 0.333, 0.667, 1.0]
    >>> sorted(k for k in model.history_[0] if k.startswith("domain"))
    ['domain_acc_source', 'domain_acc_target', 'domain_loss']
    >>> model.predict(X_target[:2]).shape
    (2,)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from sklearn.exceptions import NotFittedError
from torch import nn

from emoshift.methods.base import Batch, FitData, NeuralEstimator
from emoshift.methods.needs import UNSUPERVISED_MULTI_SOURCE
from emoshift.methods.networks import reverse_gradient
from emoshift.methods.optim import Adam
from emoshift.methods.params import NON_NEGATIVE, POSITIVE, Integral, Interval, Rule, StrOptions
from emoshift.methods.shared_params import SHARED_CONSTRAINTS

LAMBDA_SCHEDULES = ("constant", "warmup", "ganin")


def dann_lambda(
    epoch: int,
    max_epochs: int,
    *,
    schedule: str = "warmup",
    lambda_max: float = 1.0,
    warmup_epochs: int = 10,
) -> float:
    """The gradient-reversal weight lambda for ``epoch`` (0-based) of ``max_epochs``.

    Lambda is updated once per epoch:

    * ``"constant"``: ``lambda_max`` throughout;
    * ``"warmup"``: 0 for the first ``warmup_epochs`` epochs, then a linear ramp that
      reaches ``lambda_max`` in the last epoch:
      ``lambda_max * (epoch - warmup_epochs + 1) / (max_epochs - warmup_epochs)``;
    * ``"ganin"``: ``lambda_max * (2 / (1 + exp(-10 p)) - 1)`` with training progress
      ``p = epoch / (max_epochs - 1)`` (0 in the first epoch, 1 in the last).

    Example:
        >>> [dann_lambda(e, 5, warmup_epochs=2) for e in range(5)]
        [0.0, 0.0, 0.3333333333333333, 0.6666666666666666, 1.0]
        >>> round(dann_lambda(10, 11, schedule="ganin"), 4)
        0.9999
    """
    if schedule not in LAMBDA_SCHEDULES:
        raise ValueError(f"lambda_schedule={schedule!r}; choose one of {LAMBDA_SCHEDULES}")
    if schedule == "constant":
        return lambda_max
    if schedule == "warmup":
        if epoch < warmup_epochs:
            return 0.0
        return lambda_max * (epoch - warmup_epochs + 1) / (max_epochs - warmup_epochs)
    progress = epoch / (max_epochs - 1) if max_epochs > 1 else 1.0
    return lambda_max * (2 / (1 + math.exp(-10 * progress)) - 1)


class DANN(NeuralEstimator):
    """Domain-adversarial training with a gradient reversal layer.

    Structure: the shared extractor is the encoder (``hidden_sizes``, 1-4 layers in the
    SER setups, or the CNN-GRU encoder with ``encoder="cnn_gru"``); the emotion head has
    ``head_hidden_sizes`` hidden layers plus its output layer, the domain classifier
    ``domain_hidden_sizes`` plus its (single-logit) output layer. The defaults
    are the *deep* structure: two shared layers (256, 128) and two layers in each branch.
    The *shallow* structure, one shared layer and one task layer, is
    ``DANN(hidden_sizes=(256,), head_hidden_sizes=(), domain_hidden_sizes=())``.

    Regularisation defaults follow the SER use of DANN: dropout 0.2 on the input and 0.5
    after each shared layer, batch normalisation, a max-norm of 4 on every unit's incoming
    weights and gradient clipping at norm 10. Give a source-only baseline the same values
    for a like-for-like comparison.

    Model selection: ``patience`` defaults to ``None`` (train for ``max_epochs``), because
    the lambda schedule is defined over ``max_epochs`` and the source development loss
    does not measure adaptation: the adversarial term trades source fit for domain
    invariance, so early stopping on the source loss favours the epochs before the
    adversarial signal is strong (with ``"warmup"``, possibly a plain source-only model).
    With ``patience`` set, the development loss is the task loss on held-out *source* data
    (or ``eval_set``), the only choice the unsupervised protocol allows; use it knowing
    that bias.

    ``history_`` holds per epoch: ``loss`` (task + domain), ``task_loss``, ``domain_loss``,
    ``lambda`` and ``domain_acc_source`` / ``domain_acc_target``: the domain classifier's
    accuracy on the source and target halves of the epoch's training batches (training
    mode, measured before each step's update; multi-source: of its (K + 1)-way choice).
    For an independent measure of how much a representation still tells the domains apart,
    use
    :func:`emoshift.methods.alignment.domain_classifier_accuracy` on :meth:`transform`
    outputs of held-out data.

    Args:
        lambda_schedule: ``"warmup"``, ``"constant"`` or ``"ganin"`` (see :func:`dann_lambda`).
        lambda_max: the largest (and, when constant, the only) lambda.
        warmup_epochs: epochs with lambda 0 under ``"warmup"``; must be below
            ``max_epochs``.
        domain_hidden_sizes: hidden widths of the domain classifier before its output
            (its hidden layers take ``head_batch_norm`` and ``head_dropout`` as the task
            head's do).
        multi_source: a (K + 1)-way domain classifier over the K source domains passed
            as ``source_domains`` and the target (see above); ``False``: source vs target.
        domain_lr: Adam learning rate of the domain classifier (``None``: ``lr``, as in
            Ganin et al.). A faster domain classifier keeps up with the extractor it is
            played against and hides the domain more thoroughly: in ``tests/test_dann.py``
            a fresh linear probe tells the domains apart with accuracy 0.68 on the
            representation learnt with ``domain_lr=3e-2`` and 0.94 with ``lr`` (1e-3).
        head_hidden_sizes, input_dropout, dropout, batch_norm, max_norm, grad_clip,
        patience: shared parameters with DANN-specific defaults (see above).
        **shared: the other parameters of
            :class:`~emoshift.methods.base.NeuralEstimator`.
    """

    needs = UNSUPERVISED_MULTI_SOURCE
    _saved_attributes = (*NeuralEstimator._saved_attributes, "source_domains_")
    _parameter_constraints = {
        **SHARED_CONSTRAINTS,
        "lambda_schedule": [StrOptions(set(LAMBDA_SCHEDULES))],
        "lambda_max": [NON_NEGATIVE],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "domain_hidden_sizes": SHARED_CONSTRAINTS["head_hidden_sizes"],
        "domain_lr": [POSITIVE, None],
        "multi_source": ["boolean"],
    }
    _parameter_rules = (
        Rule(
            ("lambda_schedule", "warmup_epochs", "max_epochs"),
            lambda p: p["lambda_schedule"] != "warmup" or p["warmup_epochs"] < p["max_epochs"],
            "warmup_epochs < max_epochs under lambda_schedule='warmup', or lambda would "
            "stay 0 for the whole training (lower warmup_epochs or raise max_epochs)",
        ),
    )

    def __init__(
        self,
        *,
        lambda_schedule: str = "warmup",
        lambda_max: float = 1.0,
        warmup_epochs: int = 10,
        domain_hidden_sizes: Sequence[int] = (128,),
        domain_lr: float | None = None,
        multi_source: bool = False,
        head_hidden_sizes: Sequence[int] = (128,),
        input_dropout: float = 0.2,
        dropout: float = 0.5,
        batch_norm: bool = True,
        max_norm: float | None = 4.0,
        grad_clip: float | None = 10.0,
        patience: int | None = None,
        **shared: object,
    ) -> None:
        super().__init__(
            head_hidden_sizes=head_hidden_sizes,
            input_dropout=input_dropout,
            dropout=dropout,
            batch_norm=batch_norm,
            max_norm=max_norm,
            grad_clip=grad_clip,
            patience=patience,
            **shared,
        )
        self.lambda_schedule = lambda_schedule
        self.lambda_max = lambda_max
        self.warmup_epochs = warmup_epochs
        self.domain_hidden_sizes = domain_hidden_sizes
        self.domain_lr = domain_lr
        self.multi_source = multi_source

    def _build(self, data: FitData | None) -> None:
        super()._build(data)
        if data is not None:  # None: a saved model, whose source_domains_ are restored
            #: the source domains the classifier tells apart (``None``: one source domain)
            self.source_domains_ = data.source_domain_names
        names = getattr(self, "source_domains_", None)  # absent from older saved models
        k = 1 if names is None else len(names)
        self.modules_["domain"] = self._make_head(
            self.modules_["encoder"].output_size, 1 if k == 1 else k + 1, self.domain_hidden_sizes
        )

    def _make_optimizers(self) -> dict[str, Adam]:
        """One Adam; the domain classifier's parameters learn at ``domain_lr``."""
        domain = list(self.modules_["domain"].parameters())
        shared = [
            p for name, p in self.modules_.named_parameters() if not name.startswith("domain.")
        ]
        domain_lr = self.lr if self.domain_lr is None else self.domain_lr
        return {"all": self._adam([{"params": shared}, {"params": domain, "lr": domain_lr}])}

    @property
    def domain_head_(self) -> nn.Module:
        """The fitted domain classifier: features -> one logit (positive means target) or,
        multi-source, K + 1 logits (the ``source_domains_`` in order, then the target).

        Before ``fit`` it raises :class:`~sklearn.exceptions.NotFittedError` (an
        ``AttributeError``, so ``hasattr(model, "domain_head_")`` is ``False``).
        """
        if "modules_" not in vars(self):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit first")
        return self.modules_["domain"]

    def _epoch_started(self, epoch: int, data: FitData) -> None:
        self.lambda_ = dann_lambda(
            epoch,
            self.max_epochs,
            schedule=self.lambda_schedule,
            lambda_max=self.lambda_max,
            warmup_epochs=self.warmup_epochs,
        )

    def _domain_loss(
        self,
        features: torch.Tensor,
        n_source: int,
        scale: float,
        source_domains: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Domain loss through the reversal layer, and which examples it got right.

        ``features`` holds the ``n_source`` source rows first, then the target rows; the
        gradient reaching ``features`` is the domain loss's gradient times ``-scale``.
        With ``source_domains`` (the source rows' codes 0..K-1) the loss is the
        cross-entropy over K + 1 classes, the target being class K.
        """
        logits = self.modules_["domain"](reverse_gradient(features, scale))
        if source_domains is not None:
            n_target = len(features) - n_source
            target_class = logits.shape[1] - 1
            domain = torch.cat([source_domains, source_domains.new_full((n_target,), target_class)])
            loss = nn.functional.cross_entropy(logits, domain)
            return loss, logits.argmax(1) == domain
        logits = logits.squeeze(1)
        is_target = torch.zeros_like(logits)
        is_target[n_source:] = 1.0
        loss = nn.functional.binary_cross_entropy_with_logits(logits, is_target)
        return loss, (logits > 0) == is_target.bool()

    def _train_step(self, batch: Batch) -> dict[str, float]:
        n = len(batch.x)
        features = self.modules_["encoder"](torch.cat([batch.x, batch.x_target]))
        task_loss = self._task_loss(self.modules_["head"](features[:n]), batch.y)
        domain_loss, correct = self._domain_loss(features, n, self.lambda_, batch.source_domains)
        loss = task_loss + domain_loss
        self._step(self._optimizers["all"], loss)
        return {
            "loss": loss.item(),
            "task_loss": task_loss.item(),
            "domain_loss": domain_loss.item(),
            "lambda": self.lambda_,
            "domain_acc_source": correct[:n].float().mean().item(),
            "domain_acc_target": correct[n:].float().mean().item(),
        }
