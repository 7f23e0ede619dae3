"""The hyper-parameters every neural method shares: their choices and constraints.

:class:`~emoshift.methods.base.NeuralEstimator` declares them in its ``__init__``; their
constraints are :data:`SHARED_CONSTRAINTS`, which each method's
``_parameter_constraints`` extends with its own (see :mod:`emoshift.methods.params`).
"""

from __future__ import annotations

from emoshift.methods.networks import ACTIVATIONS
from emoshift.methods.params import (
    AT_LEAST_ONE,
    DEVICE,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    Integral,
    Interval,
    StrOptions,
    Widths,
)

TASKS = ("classification", "regression")
REGRESSION_LOSSES = ("mse", "ccc")
ENCODERS = ("mlp", "cnn_gru")

#: what each shared hyper-parameter may be; subclasses extend it with their own
SHARED_CONSTRAINTS: dict[str, list[object]] = {
    "task": [StrOptions(set(TASKS))],
    "hidden_sizes": [Widths(min_len=1)],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "batch_norm": ["boolean"],
    "dropout": [FRACTION],
    "input_dropout": [FRACTION],
    "stacked_layers": [AT_LEAST_ONE],
    "encoder": [StrOptions(set(ENCODERS))],
    "conv_channels": [Widths(min_len=1)],
    "conv_kernel_sizes": [Widths(min_len=1)],
    "conv_strides": [Widths(min_len=1)],
    "gru_size": [AT_LEAST_ONE],
    "second_gru_size": [AT_LEAST_ONE],
    "fusion_sizes": [Widths()],
    "head_hidden_sizes": [Widths()],
    "head_batch_norm": ["boolean"],
    "head_dropout": [FRACTION],
    "regression_loss": [StrOptions(set(REGRESSION_LOSSES))],
    "lr": [POSITIVE],
    "weight_decay": [NON_NEGATIVE],
    "batch_size": [Interval(Integral, 2, None, closed="left")],
    "max_epochs": [AT_LEAST_ONE],
    "patience": [Interval(Integral, 0, None, closed="left"), None],
    "validation_fraction": [FRACTION],
    "class_balanced": ["boolean"],
    "target_sample": [StrOptions({"all", "source_size"})],
    "grad_clip": [POSITIVE, None],
    "max_norm": [POSITIVE, None],
    "device": [DEVICE],
    "random_state": [SEED, None],
    "ensemble": [AT_LEAST_ONE],
    "verbose": ["verbose"],
}
