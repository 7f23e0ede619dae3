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

``source_weight`` multiplies the pre-training loss; at 0 there is no pre-training and
the model trains on the labelled target examples alone (from its initial weights, for
``fine_tune_epochs`` epochs). Unlabelled target data (``X_target``) is not used.
Classification and regression.

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

import dataclasses

from emoshift.methods.base import FitData, NeuralEstimator
from emoshift.methods.needs import MethodNeeds
from emoshift.methods.networks import frozen
from emoshift.methods.optim import Adam
from emoshift.methods.params import AT_LEAST_ONE, POSITIVE, StrOptions
from emoshift.methods.shared_params import SHARED_CONSTRAINTS
from emoshift.methods.source_weight import SOURCE_WEIGHT_CONSTRAINT, pretrain_on_source

TUNE = ("all", "head")


class FineTune(NeuralEstimator):
    """Pre-train on source, then continue training on the few labelled target examples.

    Args:
        tune: ``"all"`` tunes encoder and head; ``"head"`` tunes the task head only.
        fine_tune_epochs: epochs of the fine-tune phase (the most, when an ``eval_set``
            drives early stopping; exactly, without one).
        fine_tune_lr: Adam learning rate of the fine-tune phase (``None``: ``lr``).
        source_weight: multiplies the pre-training (source) loss; 0 skips pre-training.
        **shared: the parameters of :class:`~emoshift.methods.base.NeuralEstimator`
            (``max_epochs`` bounds the pre-training phase).
    """

    needs = MethodNeeds(labelled_target=True, development_set=True)
    #: ``eval_set`` drives the fine-tune phase; pre-training stops on a source split
    stop_on_eval_set = False
    _parameter_constraints = {
        **SHARED_CONSTRAINTS,
        "tune": [StrOptions(set(TUNE))],
        "fine_tune_epochs": [AT_LEAST_ONE],
        "fine_tune_lr": [POSITIVE, None],
        "source_weight": SOURCE_WEIGHT_CONSTRAINT,
    }

    def __init__(
        self,
        *,
        tune: str = "all",
        fine_tune_epochs: int = 50,
        fine_tune_lr: float | None = None,
        source_weight: float = 1.0,
        **shared: object,
    ) -> None:
        super().__init__(**shared)
        self.tune = tune
        self.fine_tune_epochs = fine_tune_epochs
        self.fine_tune_lr = fine_tune_lr
        self.source_weight = source_weight

    def _fit(self, data: FitData) -> None:
        """Pre-train on the source, then fine-tune on the labelled target examples.

        Unlabelled target data is not used. The pre-training phase stops on a source
        split; the fine-tune phase on ``eval_set`` (labelled target development data)
        when one is given, else it runs exactly ``fine_tune_epochs`` epochs.
        """
        pretrain_on_source(self, self._pretrain_data(data), self.max_epochs)
        self._optimizers = self._tune_optimizers()
        # A frozen encoder gets no gradients at all: none would be used, and a recurrent
        # encoder in evaluation mode cannot be backpropagated through on CUDA (cuDNN).
        with frozen(*(self.modules_[name] for name in self._tune_frozen())):
            self._train_loop(
                self._tune_data(data),
                self.fine_tune_epochs,
                phase="fine_tune",
                eval_modules=self._tune_frozen(),  # a frozen encoder stays frozen
            )

    def _pretrain_data(self, data: FitData) -> FitData:
        """The pre-training phase's data: the fit's, without unlabelled target rows."""
        return dataclasses.replace(data, X_target=None)

    def _tune_data(self, data: FitData) -> FitData:
        """The fine-tune phase's data: the labelled target examples, ``eval_set`` (when
        given) as the development data."""
        X_dev, y_dev = data.eval_set or (None, None)
        return FitData(
            X_train=data.X_target_labelled,
            y_train=data.y_target_labelled,
            X_target=None,
            X_target_labelled=None,
            y_target_labelled=None,
            X_dev=X_dev,
            y_dev=y_dev,
        )

    def _tune_optimizers(self) -> dict[str, Adam]:
        """The fine-tune phase's Adam: over the head, or everything, at ``fine_tune_lr``."""
        module = self.modules_["head"] if self.tune == "head" else self.modules_
        return {"all": self._adam(module.parameters(), lr=self.fine_tune_lr)}

    def _tune_frozen(self) -> tuple[str, ...]:
        """The modules that the fine-tune phase freezes (and keeps in evaluation mode)."""
        return ("encoder",) if self.tune == "head" else ()
