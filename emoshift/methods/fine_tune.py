"""Fine-tuning: pre-train on the labelled source, then tune on the few labelled target clips.

Phase ``"pretrain"``: the encoder and task head train on the labelled source data as
:class:`~emoshift.methods.baselines.SourceOnly` would, for up to ``max_epochs`` epochs,
with early stopping on a stratified ``validation_fraction`` split of the *source* (a
source development set, which every protocol allows).

Phase ``"fine_tune"``: training continues on the labelled target examples
(``X_target_labelled``, ``y_target_labelled``) alone, with a fresh Adam at
``fine_tune_lr``, over the whole network (``tune="all"``) or the task head only
(``tune="head"``: the encoder is frozen, in evaluation mode, so its batch-norm
statistics do not move either). Early stopping in this phase uses only the ``eval_set``
the caller passes (e.g. the labelled target dev split of the 10/40/50 protocol), never a
split of the few labelled examples; without an ``eval_set`` the phase runs exactly
``fine_tune_epochs`` epochs.

Unlabelled target data (``X_target``) is not used. Classification and regression.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Xs = rng.normal(size=(200, 5)); ys = np.where(Xs[:, 0] > 0, "anger", "neutral")
    >>> Xt = rng.normal(size=(8, 5)) + 0.5; yt = np.where(Xt[:, 0] > 0.5, "anger", "neutral")
    >>> model = FineTune(tune="head", hidden_sizes=(8,), max_epochs=5, fine_tune_epochs=3,
    ...                  random_state=0)
    >>> _ = model.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt)
    >>> [h["phase"] for h in model.history_][-3:]
    ['fine_tune', 'fine_tune', 'fine_tune']
"""

from __future__ import annotations

import torch

from emoshift.methods.base import FitData, NeuralEstimator

TUNE = ("all", "head")


class FineTune(NeuralEstimator):
    """Pre-train on source, then continue training on the few labelled target examples.

    Args:
        tune: ``"all"`` tunes encoder and head; ``"head"`` tunes the task head only.
        fine_tune_epochs: epochs of the fine-tune phase (the most, when an ``eval_set``
            drives early stopping; exactly, without one).
        fine_tune_lr: Adam learning rate of the fine-tune phase (``None``: ``lr``).
        **shared: the parameters of :class:`~emoshift.methods.base.NeuralEstimator`
            (``max_epochs`` bounds the pre-training phase).
    """

    train_pool = "source"
    requires_target_labels = True

    def __init__(
        self,
        *,
        tune: str = "all",
        fine_tune_epochs: int = 50,
        fine_tune_lr: float | None = None,
        **shared: object,
    ) -> None:
        super().__init__(**shared)
        self.tune = tune
        self.fine_tune_epochs = fine_tune_epochs
        self.fine_tune_lr = fine_tune_lr

    def _check_params(self) -> None:
        super()._check_params()
        if self.tune not in TUNE:
            raise ValueError(f"tune={self.tune!r}; choose one of {TUNE}")
        if self.fine_tune_epochs < 1:
            raise ValueError(f"fine_tune_epochs={self.fine_tune_epochs} must be at least 1")

    def fit(
        self,
        X: object,
        y: object,
        *,
        X_target: object | None = None,
        X_target_labelled: object | None = None,
        y_target_labelled: object | None = None,
        eval_set: tuple[object, object] | None = None,
    ) -> FineTune:
        """Pre-train on ``(X, y)``, fine-tune on the labelled target examples.

        Args:
            X, y: labelled source data.
            X_target: ignored (fine-tuning uses no unlabelled target data).
            X_target_labelled, y_target_labelled: the few labelled target examples.
            eval_set: labelled target development data for early stopping in the
                fine-tune phase; the pre-training phase stops on a source split.
        """
        self._check_params()
        data = self._prepare(X, y, None, X_target_labelled, y_target_labelled, None)
        tune_dev = self._check_eval_set(eval_set) if eval_set is not None else (None, None)
        self._start_fit(data)
        self._phase = "pretrain"
        self._train_loop(data, self.max_epochs, phase="pretrain")

        self._phase = "fine_tune"
        tune_data = FitData(
            X_train=data.X_target_labelled,
            y_train=data.y_target_labelled,
            X_source=None,
            y_source=None,
            X_target=None,
            X_target_labelled=None,
            y_target_labelled=None,
            X_dev=self._to_device(tune_dev[0]),
            y_dev=self._to_device(tune_dev[1], data.y_train.dtype),
        )
        module = self.modules_["head"] if self.tune == "head" else self.modules_
        lr = self.lr if self.fine_tune_lr is None else self.fine_tune_lr
        self._optimizers = {
            "all": torch.optim.Adam(module.parameters(), lr=lr, weight_decay=self.weight_decay)
        }
        self._train_loop(tune_data, self.fine_tune_epochs, phase="fine_tune")
        return self._finish_fit()

    def _epoch_started(self, epoch: int, data: FitData) -> None:
        """Keep a frozen encoder in evaluation mode while only the head is tuned."""
        if self._phase == "fine_tune" and self.tune == "head":
            self.modules_["encoder"].eval()
