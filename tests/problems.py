"""Small synthetic problems that several method tests share."""

from __future__ import annotations

import numpy as np

from emoshift.experiment.trial import DomainSplit

CLASSES = np.array(["anger", "happiness", "neutral", "sadness"])


def class_shifted_domain(n_per_class: int, target: bool, seed: int):
    """Four Gaussian classes in 6-D; the target moves each class its own way."""
    rng = np.random.default_rng(seed)
    means = np.eye(4, 6) * 2.5
    shifts = np.array([[1.5, 0, 0, 0, 1, 0], [0, -1.5, 0, 0, 0, 1], [1, 1, 0, 0, 0, -1], [0] * 6])
    y = np.repeat(np.arange(4), n_per_class)
    X = means[y] + rng.normal(size=(len(y), 6)) + (2.0 * shifts[y] if target else 0)
    return X.astype(np.float32), CLASSES[y]


def shifted_binary_split(labelled_per_class: int | None = None) -> DomainSplit:
    """240 rows in 5-D, high/low by the first feature; the last 120 (target) moved by 0.5:
    120 source rows, 60 target training rows, 60 test rows; with ``labelled_per_class``,
    that many labelled target training rows of each class (a few-shot split)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 5)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "high", "low")
    X[120:] += 0.5
    labelled = None
    if labelled_per_class is not None:
        labelled = np.concatenate(
            [np.flatnonzero(y[120:180] == c)[:labelled_per_class] for c in ("high", "low")]
        )
    return DomainSplit(
        X_source=X[:120],
        y_source=y[:120],
        X_target=X[120:180],
        y_target=y[120:180],
        X_test=X[180:],
        y_test=y[180:],
        labelled=labelled,
    )


def frame_sequences(n: int, seed: int, shift: float = 0.0) -> list[np.ndarray]:
    """``n`` random 41-band frame sequences of 12-29 frames, moved by ``shift``."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(12, 30, size=n)
    return [(rng.normal(size=(k, 41)) + shift).astype(np.float32) for k in lengths]


#: the smallest CNN-GRU encoder the method tests train on frame sequences
TINY_CNN_GRU = dict(
    encoder="cnn_gru",
    conv_channels=(8,),
    conv_kernel_sizes=(5,),
    conv_strides=(2,),
    gru_size=8,
    fusion_sizes=(8,),
    batch_size=8,
    random_state=0,
)
