"""Ship a trained model: a bundle folder that ``emoshift predict`` runs on new recordings.

:func:`train_model` fits a method on everything an experiment config's protocol allows
(no held-out test), :meth:`Model.save` writes the bundle (safetensors arrays, a JSON
manifest, checksums), :func:`load` reads it back after checking every file, and
:meth:`Model.predict` returns one row per audio file. :func:`adapt_model` gives a model
the normalisation statistics of a new domain from unlabelled audio.
"""

from __future__ import annotations

from emoshift.bundle.io import BundleError
from emoshift.bundle.model import Model, load

__all__ = ["BundleError", "Model", "load", "save_model"]


def save_model(model: Model, path: str, *, overwrite: bool = False) -> object:
    """Write ``model`` as a bundle folder at ``path`` (the same as ``model.save(path)``)."""
    return model.save(path, overwrite=overwrite)
