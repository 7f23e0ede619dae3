"""Baselines every adaptation method is compared against.

- :class:`SourceOnly`: trained on labelled source data only; the lower bound.
- :class:`TargetOnly`: trained on labelled target data only. With the target's full
  training split it is *train-on-target* (the upper bound); with a few labelled target
  examples it is *label-target*.
- :class:`SourceTarget`: trained on source and labelled target data pooled.

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

from emoshift.methods.base import NeuralEstimator
from emoshift.methods.needs import MethodNeeds


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
    """Train on labelled source and labelled target examples pooled together."""

    train_pool = "both"
    needs = MethodNeeds(labelled_target=True, development_set=True)
