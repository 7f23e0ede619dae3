"""MRD: maximum regression discrepancy, for unsupervised adaptation of arousal/valence.

MRD is the regression analogue of Saito et al.'s maximum classifier discrepancy (MCD,
CVPR 2018). A shared encoder feeds two regressors of different depths. Their
disagreement on target examples (the *discrepancy*, the mean absolute difference of
their predictions) marks target examples that the source-trained regressors do not
cover; the encoder is trained to remove it. Every training batch runs three steps:

1. :meth:`MRD._step_source`: encoder and both regressors minimise the source task loss
   (MSE by default) of each regressor;
2. :meth:`MRD._step_maximise_discrepancy`: the regressors alone (encoder fixed) minimise
   source loss minus discrepancy, i.e. keep the source fit while disagreeing as much as
   possible on the target batch;
3. :meth:`MRD._step_minimise_discrepancy`: the encoder alone (regressors fixed) minimises
   the discrepancy, ``n_encoder_steps`` times on the same target batch.

A prediction is the mean of the two regressors. MRD is meant for regression (arousal,
valence, dominance, one or several columns), but it also runs for classification, as
MCD: the discrepancy is then the mean absolute difference of the two class-probability
vectors and the prediction comes from their average.

``history_`` records per epoch the source task loss (``loss``, mean over the two
regressors) and the target discrepancy measured after each step
(``discrepancy_after_step1``, ``..._step2``, ``..._step3``, averaged over the epoch's
batches; each is measured on the step's target batch, with dropout off and batch
statistics), so that step 2 raising it and step 3 lowering it can be watched.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 6)).astype("float32")
    >>> y = np.stack([X[:, 0], X[:, 1] - X[:, 2]], axis=1)  # arousal, valence
    >>> X_target = rng.normal(size=(200, 6)).astype("float32") * 1.5 + 0.5
    >>> model = MRD(task="regression", hidden_sizes=(16,), regressor_width=16,
    ...             max_epochs=3, random_state=0).fit(X, y, X_target=X_target)
    >>> model.predict(X_target[:4]).shape
    (4, 2)
    >>> [len(model.regressor_depths), model.n_encoder_steps]
    [2, 3]
    >>> sorted(k for k in model.history_[0] if k.startswith("discrepancy"))
    ['discrepancy_after_step1', 'discrepancy_after_step2', 'discrepancy_after_step3']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from numbers import Real

import torch
from torch import nn

from emoshift.methods.base import Batch, FitData, NeuralEstimator
from emoshift.methods.needs import MethodNeeds
from emoshift.methods.networks import ACTIVATIONS, MLPHead, frozen
from emoshift.methods.optim import Adam
from emoshift.methods.params import AT_LEAST_ONE, FRACTION, Interval, StrOptions, Widths
from emoshift.methods.shared_params import SHARED_CONSTRAINTS

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@contextmanager
def _frozen_statistics(module: nn.Module) -> Iterator[None]:
    """Within the block, the batch-norm layers of ``module`` keep their running statistics.

    In training mode they still normalise with the batch's statistics; they just do not
    fold them into the running averages.
    """
    norms = [m for m in module.modules() if isinstance(m, _BATCH_NORMS) and m.track_running_stats]
    for m in norms:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in norms:
            m.track_running_stats = True


class MRD(NeuralEstimator):
    """Maximum regression discrepancy: an encoder and two differently deep regressors.

    The encoder is the shared MLP of :class:`~emoshift.methods.base.NeuralEstimator`
    (``hidden_sizes``, ``activation``, ``batch_norm``, ``dropout``, ...); the two
    regressors are configured by the ``regressor_*`` parameters, so ``head_hidden_sizes``
    is not used. Unlabelled target data (``X_target``) is required; labelled target
    examples, if passed, are not used. Each step has its own Adam optimiser (all with
    ``lr`` and ``weight_decay``) over the parameters that it trains. ``encoder="cnn_gru"``
    works too (frame sequences in, the same three steps).

    Args:
        regressor_depths: number of linear layers of each of the two regressors (the
            last one is the output layer); different depths make the two disagree.
        regressor_width: width of the regressors' hidden layers.
        regressor_activation: activation of the regressors' hidden layers.
        regressor_batch_norm: batch normalisation in the regressors' hidden layers.
        regressor_dropout: dropout after each regressor hidden layer.
        n_encoder_steps: encoder updates in step 3 per batch ("m" in the papers).
        lr_decay: the learning rate of epoch ``e`` is ``lr * lr_decay ** e`` (1.0: constant;
            the MRD paper decays it, at a rate that docs/papers.md could not confirm).
        **shared: the parameters of :class:`~emoshift.methods.base.NeuralEstimator`
            (``task`` keeps its default there; pass ``task="regression"`` for
            arousal/valence/dominance).
    """

    needs = MethodNeeds(unlabelled_target=True, development_set=True)
    _parameter_constraints = {
        **SHARED_CONSTRAINTS,
        "regressor_depths": [Widths(min_len=2, max_len=2)],
        "regressor_width": [AT_LEAST_ONE],
        "regressor_activation": [StrOptions(set(ACTIVATIONS))],
        "regressor_batch_norm": ["boolean"],
        "regressor_dropout": [FRACTION],
        "n_encoder_steps": [AT_LEAST_ONE],
        "lr_decay": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(
        self,
        *,
        regressor_depths: Sequence[int] = (4, 5),
        regressor_width: int = 128,
        regressor_activation: str = "selu",
        regressor_batch_norm: bool = True,
        regressor_dropout: float = 0.5,
        n_encoder_steps: int = 3,
        lr_decay: float = 1.0,
        **shared: object,
    ) -> None:
        super().__init__(**shared)
        self.lr_decay = lr_decay
        self.regressor_depths = regressor_depths
        self.regressor_width = regressor_width
        self.regressor_activation = regressor_activation
        self.regressor_batch_norm = regressor_batch_norm
        self.regressor_dropout = regressor_dropout
        self.n_encoder_steps = n_encoder_steps

    # ------------------------------------------------------------- networks

    def _build(self, data: FitData | None) -> None:
        encoder = self._make_encoder(self.n_features_in_)
        self.modules_["encoder"] = encoder
        self.modules_["regressors"] = nn.ModuleList(
            MLPHead(
                encoder.output_size,
                self.n_outputs_,
                (self.regressor_width,) * (depth - 1),
                activation=self.regressor_activation,
                batch_norm=self.regressor_batch_norm,
                dropout=self.regressor_dropout,
            )
            for depth in self.regressor_depths
        )

    def _make_optimizers(self) -> dict[str, Adam]:
        """One Adam per step, each over the parameters that its step trains.

        Each step has its own objective, so each keeps its own moment estimates: with a
        shared optimiser, step 1's momentum would carry step 2's update.
        """
        return {
            "source": self._adam(self.modules_.parameters()),
            "regressors": self._adam(self.modules_["regressors"].parameters()),
            "encoder": self._adam(self.modules_["encoder"].parameters()),
        }

    def _epoch_started(self, epoch: int, data: FitData) -> None:
        """The learning rate of every step's optimiser: ``lr * lr_decay ** epoch``."""
        for optimizer in self._optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = self.lr * self.lr_decay**epoch

    def _both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The two regressors' outputs (logits for classification) for a batch."""
        features = self.modules_["encoder"](x)
        first, second = (regressor(features) for regressor in self.modules_["regressors"])
        return first, second

    def _discrepancy(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Mean absolute difference of two outputs (of class probabilities when classifying)."""
        if self.task == "classification":
            first, second = first.softmax(1), second.softmax(1)
        return (first - second).abs().mean()

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of the two regressors; for classification the log of the mean probabilities.

        The log keeps ``predict_proba`` (a softmax of these outputs) equal to the averaged
        probabilities and the development loss equal to their cross-entropy.
        """
        first, second = self._both(x)
        if self.task == "classification":
            return ((first.softmax(1) + second.softmax(1)) / 2).log()
        return (first + second) / 2

    # -------------------------------------------------------------- training

    def _source_loss(self, batch: Batch) -> torch.Tensor:
        first, second = self._both(batch.x)
        return self._task_loss(first, batch.y) + self._task_loss(second, batch.y)

    def _step_source(self, batch: Batch) -> float:
        """Step 1: encoder and regressors minimise the source task loss of both regressors.

        Returns the loss before the update, averaged over the two regressors.
        """
        loss = self._source_loss(batch)
        self._step(self._optimizers["source"], loss)
        return loss.item() / 2

    def _step_maximise_discrepancy(self, batch: Batch) -> None:
        """Step 2: the regressors minimise source loss minus target discrepancy.

        The encoder is fixed: its parameters and batch-norm statistics do not change.
        """
        with frozen(self.modules_["encoder"]), _frozen_statistics(self.modules_["encoder"]):
            loss = self._source_loss(batch) - self._discrepancy(*self._both(batch.x_target))
        self._step(self._optimizers["regressors"], loss)

    def _step_minimise_discrepancy(self, batch: Batch) -> None:
        """Step 3: the encoder minimises the target discrepancy, ``n_encoder_steps`` times.

        The regressors are fixed: their parameters and batch-norm statistics do not change.
        """
        regressors = self.modules_["regressors"]
        for _ in range(self.n_encoder_steps):
            with frozen(regressors), _frozen_statistics(regressors):
                loss = self._discrepancy(*self._both(batch.x_target))
            self._step(self._optimizers["encoder"], loss)

    @torch.no_grad()
    def _measure_discrepancy(self, x: torch.Tensor) -> float:
        """The discrepancy on ``x`` with dropout off and batch statistics, as in training.

        Deterministic, so two measurements of the same batch differ only by what the
        parameters did in between. Changes nothing: batch-norm running statistics are
        frozen and the mode is restored.
        """
        training = self.modules_.training
        self.modules_.train()
        for module in self.modules_.modules():
            if isinstance(module, nn.Dropout):
                module.eval()
        with _frozen_statistics(self.modules_):
            value = float(self._discrepancy(*self._both(x)))
        self.modules_.train(training)
        return value

    def _train_step(self, batch: Batch) -> dict[str, float]:
        loss = self._step_source(batch)
        after_step1 = self._measure_discrepancy(batch.x_target)
        self._step_maximise_discrepancy(batch)
        after_step2 = self._measure_discrepancy(batch.x_target)
        self._step_minimise_discrepancy(batch)
        after_step3 = self._measure_discrepancy(batch.x_target)
        return {
            "loss": loss,
            "discrepancy_after_step1": after_step1,
            "discrepancy_after_step2": after_step2,
            "discrepancy_after_step3": after_step3,
        }
