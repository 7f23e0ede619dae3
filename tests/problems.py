"""Small synthetic problems that several method tests share."""

from __future__ import annotations

import numpy as np

CLASSES = np.array(["anger", "happiness", "neutral", "sadness"])


def class_shifted_domain(n_per_class: int, target: bool, seed: int):
    """Four Gaussian classes in 6-D; the target moves each class its own way."""
    rng = np.random.default_rng(seed)
    means = np.eye(4, 6) * 2.5
    shifts = np.array([[1.5, 0, 0, 0, 1, 0], [0, -1.5, 0, 0, 0, 1], [1, 1, 0, 0, 0, -1], [0] * 6])
    y = np.repeat(np.arange(4), n_per_class)
    X = means[y] + rng.normal(size=(len(y), 6)) + (2.0 * shifts[y] if target else 0)
    return X.astype(np.float32), CLASSES[y]


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
