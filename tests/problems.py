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
