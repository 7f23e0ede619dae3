"""A bundle's parts must agree with one another, not only match their checksums.

Checksums prove that files are as their writer left them, not that the writer was
emoshift: a manifest can be edited and resealed. :func:`load` therefore also checks

- the ``labels`` section: at most :data:`MAX_LABELS` names, each once, before anything
  is built from it (:func:`check_labels`);
- that every saved array holds finite numbers (:func:`check_finite`): NaN or infinite
  weights would give NaN probabilities;
- that the manifest's classes are the estimator's own, in its order (the estimator keeps
  them in its saved state), and the regression dimensions as many as its outputs
  (:func:`check_estimator_labels`): swapped names would put a prediction under one class
  and its highest probability under another.

The network sizes in the manifest are compared with the arrays before any network is
built (:class:`emoshift.methods.state.NetworkState`), and :meth:`Model.predict_features`
refuses non-finite outputs.

Example:
    >>> check_labels({"task": "classification", "labels": {"classes": ["a", "a"]}}, "m")
    Traceback (most recent call last):
    ...
    emoshift.bundle.io.BundleError: m: the labels name 'a' twice; the bundle was altered
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from emoshift.bundle.io import BundleError

#: the most classes or regression dimensions a bundle may name
MAX_LABELS = 1000


def _names(manifest: Mapping, where: str) -> list:
    labels = manifest.get("labels")
    key = "classes" if manifest.get("task") == "classification" else "dimensions"
    names = labels.get(key) if isinstance(labels, Mapping) else None
    if not isinstance(names, list) or not names:
        raise BundleError(f"{where}: the labels section has no list of {key}")
    return names


def check_labels(manifest: Mapping, where: str) -> None:
    """The class names (or dimensions) of ``manifest``: a bounded list of distinct
    strings or numbers; raises :class:`BundleError` otherwise."""
    names = _names(manifest, where)
    if len(names) > MAX_LABELS:
        raise BundleError(
            f"{where}: the labels name {len(names)} classes or dimensions, more than the "
            f"{MAX_LABELS} a model bundle may hold; the bundle was altered or is not a model"
        )
    seen = set()
    for name in names:
        if isinstance(name, bool) or not isinstance(name, (str, int, float)):
            raise BundleError(f"{where}: the label {name!r} is not a name")
        if name in seen:
            raise BundleError(f"{where}: the labels name {name!r} twice; the bundle was altered")
        seen.add(name)


def check_finite(arrays: Mapping[str, Mapping[str, np.ndarray]], folder: str) -> None:
    """Every saved number is finite; the error names the file and the array."""
    for group, named in arrays.items():
        for name, values in named.items():
            values = np.asarray(values)
            if values.dtype.kind in "fc" and not np.isfinite(values).all():
                bad = int(values.size - np.isfinite(values).sum())
                raise BundleError(
                    f"{folder}/{group}.safetensors: array {name!r} holds {bad} NaN or "
                    "infinite value(s); the model cannot give valid probabilities: train "
                    "it again or copy the bundle from its source"
                )


def check_estimator_labels(estimator: object, manifest: Mapping, where: str) -> None:
    """The manifest's classes are the estimator's (same names, same order), or its
    dimensions as many as the estimator's outputs."""
    names = _names(manifest, where)
    if manifest.get("task") == "classification":
        own = np.asarray(getattr(estimator, "classes_", [])).tolist()
        if own != names:
            raise BundleError(
                f"{where}: the manifest names the classes {_short(names)}, the estimator "
                f"was trained on {_short(own)}; the probability columns would be misnamed: "
                "the bundle was altered, copy it from its source"
            )
        return
    outputs = int(getattr(estimator, "n_outputs_", 1))
    if outputs != len(names):
        raise BundleError(
            f"{where}: the manifest names {len(names)} dimensions, the estimator predicts "
            f"{outputs}; the bundle was altered, copy it from its source"
        )


def _short(names: list) -> str:
    """A list of names for a message, at most ten of them."""
    return repr(names) if len(names) <= 10 else f"{names[:10]!r}[:10] of {len(names)}"
