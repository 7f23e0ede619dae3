"""emoshift: speech emotion recognition across corpora.

Train on labelled speech from one setting, work in another where labels are few or
absent: domain-adaptation methods, their baselines, protocols and reports.

A trained model ships as a bundle folder: ``emoshift.load(path).predict(["a.wav"])``
returns one row per file (see :mod:`emoshift.bundle`); ``emoshift.save_model(model,
path)`` writes one. Both are imported on first use, so ``import emoshift`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {"load": "emoshift.bundle", "save_model": "emoshift.bundle", "Model": "emoshift.bundle"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'emoshift' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
