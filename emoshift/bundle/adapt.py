"""Give a saved model the normalisation statistics of a new domain, from unlabelled audio.

Per-domain normalisation is itself an adaptation: features of the new domain are
centred and scaled with that domain's own statistics, as each training domain was.
:func:`adapt_model` computes them (``robust_z`` or ``minmax``, as the model was trained)
from unlabelled recordings of the new domain and makes that domain the model's default.
Optionally (``batch_norm=True``, for neural models on feature matrices) the networks'
batch-normalisation statistics are recomputed on the new domain's normalised features
(AdaBN: Li et al., "Adaptive batch normalization for practical domain adaptation",
Pattern Recognition 2018): every running mean and variance becomes that of the new
domain, no weight changes, no label is read. Nothing else is retrained: the adversarial
and discrepancy methods (DANN, CORAL, MRD, ...) adapt by training on source and target
data together, which needs the labelled source data a bundle does not hold; to adapt
them that way, run ``emoshift train`` with the new domain as the pair's target.

Statistics without spread are refused. A feature whose values hardly vary over the new
domain's files (one file, copies of one file, near silence) gets scale 0 and is set to 0
for every file; when more than :data:`MAX_FLAT_SHARE` of the features that vary in the
model's stored domains are flat, the adapted model would answer nearly the same for every
file, so :func:`adapt_model` raises ``ValueError`` naming them. Fewer flat features (a
feature that is the same for nine files in ten, say) are kept at 0, which is the value
of an average file, and named in a :class:`ZeroSpreadWarning` and the report. A domain
name that the model already holds is replaced only with ``replace_domain=True``.

Example:
    >>> import tempfile
    >>> from emoshift.bundle.training import train_model
    >>> from emoshift.demo import demo_config
    >>> folder = tempfile.mkdtemp()
    >>> config = demo_config(folder, preset="tiny", methods=["source_only"], max_epochs=2,
    ...                      n_jobs=1)
    >>> model = train_model(config, "source_only", progress=False)
    >>> adapted, report = adapt_model(model, [f"{folder}/corpus/wav"], domain="phone",
    ...                               cache_dir=f"{folder}/cache", n_jobs=1, progress=False)
    >>> adapted.normalisation["target_domain"], adapted.domains()
    ('phone', ['acted', 'spontaneous', 'phone'])
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from emoshift.bundle.inputs import audio_files
from emoshift.bundle.manifest import extractor
from emoshift.bundle.model import Model  # noqa: F401 (the doctest)
from emoshift.experiment.trial import torch_threads
from emoshift.features import DomainNormaliser, SkippedFilesWarning, extract_features

#: the largest share of the model's varying features that may be flat in a new domain
MAX_FLAT_SHARE = 0.1


class ZeroSpreadWarning(UserWarning):
    """Some features have no spread in the new domain; they are set to 0 there."""


def adapt_model(
    model: Model,
    inputs: list[str | os.PathLike],
    *,
    domain: str | None = None,
    min_files: int = 10,
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    batch_norm: bool = False,
    replace_domain: bool = False,
) -> tuple[Model, dict]:
    """A copy of ``model`` whose default domain is ``domain``, normalised with statistics
    of the audio in ``inputs`` (files, folders, lists, tables; no labels needed).

    With ``batch_norm``, the batch-normalisation statistics of the networks are
    recomputed on the new domain (see the module doc). Returns ``(adapted_model,
    report)``; the report (also kept in the model's ``training["adaptations"]``) counts
    the files used, names the ones skipped and says what changed in the networks.
    Raises ``ValueError`` when fewer than ``min_files`` files (or none) give features,
    when the statistics have no spread (see the module doc), or when the model already
    holds a domain of that name and ``replace_domain`` is not set.
    """
    if model.normaliser is None:
        raise ValueError("the model was trained without normalisation; there is nothing to adapt")
    name = domain or Path(str(inputs[0])).name or "adapted"
    if name in model.domains() and not replace_domain:
        raise ValueError(
            f"the model already holds the statistics of domain {name!r} "
            f"(its domains: {model.domains()}); name the new domain otherwise (--domain) "
            "or pass --replace-domain to replace them"
        )
    files = audio_files(inputs)
    with warnings.catch_warnings():  # skipped files are listed in the report
        warnings.simplefilter("ignore", SkippedFilesWarning)
        result = extract_features(
            files,
            extractor(model.features),
            cache_dir=cache_dir,
            n_jobs=n_jobs,
            progress=progress,
        )
    if not result.files:
        reasons = list(result.errors.values())[:3]
        raise ValueError(
            f"none of the {len(files)} file(s) gave features (e.g. {'; '.join(reasons)}); "
            f"the statistics of domain {name!r} need recordings that can be read"
        )
    if len(result.files) < min_files:
        raise ValueError(
            f"only {len(result.files)} of {len(files)} file(s) gave features; the statistics "
            f"of a domain need at least {min_files} (pass more audio of domain {name!r})"
        )
    normaliser = DomainNormaliser(**model.normaliser.get_params())
    if isinstance(result.features, pd.DataFrame):
        values = result.features.to_numpy(dtype=np.float64)
    else:
        values = np.concatenate(result.features).astype(np.float64)
    normaliser.fit(values, [name] * len(values))
    report = {
        "domain": name,
        "files": len(result.files),
        "skipped": result.errors,
        "normalisation": normaliser.method,
        "networks": "unchanged",
        "zero_spread": flat_features(model, normaliser.stats_[name].scale, name),
    }
    adapted = model.with_domain(name, normaliser, report)
    if batch_norm:
        adapted.estimator = copy.deepcopy(model.estimator)
        n_layers = recompute_batch_norm(adapted.estimator, adapted.normalise(values, name))
        report["networks"] = (
            f"batch-norm statistics of {n_layers} layer(s) recomputed on {len(values)} "
            "file(s) (AdaBN); weights unchanged"
        )
    return adapted, report


def flat_features(model: Model, scale: np.ndarray, name: str) -> list[str]:
    """The features that vary in one of ``model``'s domains but not in the new one
    (``scale`` 0); raises ``ValueError`` when they are too many (see the module doc)."""
    varying = np.any([stats.scale > 0 for stats in model.normaliser.stats_.values()], axis=0)
    flat = varying & (scale == 0)
    names = list(extractor(model.features).feature_names)
    if len(names) != len(scale):  # frame-level features: one statistic per column
        names = [f"column {i}" for i in range(len(scale))]
    listed = [names[i] for i in np.flatnonzero(flat)]
    message = (
        f"{len(listed)} of the {int(varying.sum())} features that vary in the model's "
        f"domains have no spread over the files of domain {name!r} ({', '.join(listed[:8])}"
        f"{', ...' if len(listed) > 8 else ''})"
    )
    if len(listed) > MAX_FLAT_SHARE * varying.sum():
        raise ValueError(
            f"{message}: its statistics would make the model answer nearly the same for "
            "every file. Give more, and more varied, recordings of the domain (not one "
            "file, copies of one file or near silence)"
        )
    if listed:
        warnings.warn(f"{message}; they are set to 0 there", ZeroSpreadWarning, stacklevel=3)
    return listed


def recompute_batch_norm(estimator: object, X: np.ndarray) -> int:
    """Set every batch-norm layer's running mean and variance to those of its inputs
    over ``X`` (normalised features of one domain, all rows in one pass); returns the
    number of layers. Raises ``ValueError`` for a model without such layers."""
    modules = getattr(estimator, "modules_", None)
    layers = (
        []
        if modules is None
        else [m for m in modules.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    )
    if not layers or np.asarray(X).dtype == object:
        raise ValueError(
            f"{type(estimator).__name__} has no batch-normalisation layers over feature "
            "matrices to recompute; adapt without batch_norm (--batch-norm)"
        )
    momenta = [layer.momentum for layer in layers]
    modules.eval()
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average: one pass gives the statistics of X
        layer.train()
    try:
        with torch.no_grad(), torch_threads(1):  # the statistics do not depend on the cores
            estimator._forward(torch.as_tensor(X, device=estimator.device_))
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        modules.eval()
    return len(layers)
