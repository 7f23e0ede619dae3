"""The data of a fit and the batches a training epoch draws from it.

:class:`FitData` holds what a fit works on (labels and 2-D features as tensors on the
device, frame sequences on the CPU); :class:`Batch` is one optimisation step's data.
:func:`pool_batches` pairs each batch of the labelled training pool with equally sized
batches of the target data; :func:`few_shot_batches` draws class-balanced batches for
supervised adaptation from few labelled target examples. Every draw comes from the
generator passed in, so the same seed gives the same batches.

A method that needs all of an input at once uses :func:`map_chunks` and indexes inputs
with :func:`take`, never ``data.X_*[...]`` itself, so it works with feature matrices
and with frame sequences (padded per batch).

Example:
    >>> import numpy as np, torch
    >>> X = torch.arange(12.0).reshape(6, 2); y = torch.tensor([0, 1] * 3)
    >>> data = FitData(X, y, None, None, None, None, None)
    >>> batches = list(pool_batches(data, np.random.default_rng(0), 4, "cpu", balanced=False))
    >>> len(batches), batches[0].x.shape, batches[0].x_target is None
    (1, torch.Size([4, 2]), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from emoshift.methods.sequence import PaddedSequences, Sequences

#: what ``data.X_*`` holds: a 2-D tensor on the device, or sequences on the CPU
Inputs = torch.Tensor | Sequences
#: what a batch's ``x`` holds: a 2-D tensor or a padded batch of sequences
BatchInputs = torch.Tensor | PaddedSequences


@dataclass
class Batch:
    """One optimisation step's data, as tensors on the estimator's device.

    ``x``/``y`` come from the method's labelled training pool (the source for most
    methods); ``x_target`` is an equally sized batch of unlabelled target examples and
    ``x_target_labelled``/``y_target_labelled`` a batch of the labelled target examples
    (``None`` when the fit had none). ``source_domains`` holds the source domain code of
    each row of ``x`` when the fit was given them (multi-source training).
    """

    x: BatchInputs
    y: torch.Tensor
    x_target: BatchInputs | None = None
    x_target_labelled: BatchInputs | None = None
    y_target_labelled: torch.Tensor | None = None
    source_domains: torch.Tensor | None = None


@dataclass
class FitData:
    """The arrays a fit works on: labels and 2-D features on the device, sequences on
    the CPU (index inputs with :func:`take`).

    ``eval_set`` is the caller's checked development data even when early stopping uses
    another split (fine-tuning stops its pre-training on a source split).
    ``source_domains`` are the training rows' source domain codes (indices into
    ``source_domain_names``) when the method reads them and they were given, else ``None``.
    """

    X_train: Inputs
    y_train: torch.Tensor
    X_target: Inputs | None
    X_target_labelled: Inputs | None
    y_target_labelled: torch.Tensor | None
    X_dev: Inputs | None
    y_dev: torch.Tensor | None
    eval_set: tuple[Inputs, torch.Tensor] | None = None
    source_domains: torch.Tensor | None = None
    source_domain_names: np.ndarray | None = None

    @property
    def n_source_domains(self) -> int:
        """How many source domains the training rows come from (1 when not given)."""
        return 1 if self.source_domain_names is None else len(self.source_domain_names)


def take(X: Inputs, index: np.ndarray | slice, device: torch.device | str) -> BatchInputs:
    """The examples of ``X`` at ``index`` as a batch on ``device`` (sequences padded)."""
    if isinstance(X, Sequences):
        return X.pad(index, device)
    if isinstance(index, np.ndarray) and index.dtype == np.int64:
        # the same rows as X[index], without torch's slower indexing by a NumPy array
        return X.index_select(0, torch.from_numpy(index).to(X.device))
    return X[index]


def map_chunks(
    fn: Callable[[BatchInputs], torch.Tensor],
    X: Inputs,
    device: torch.device | str,
    chunk_size: int = 1024,
) -> torch.Tensor:
    """``fn`` applied to ``X`` in chunks, concatenated in ``X``'s order.

    Sequences are processed sorted by length (chunks of 128), so little padding is
    computed; the results are put back in the original order.
    """
    if not isinstance(X, Sequences):
        return torch.cat([fn(X[i : i + chunk_size]) for i in range(0, len(X), chunk_size)])
    order = np.argsort(X.lengths(0), kind="stable")
    stacked = torch.cat([fn(take(X, order[i : i + 128], device)) for i in range(0, len(X), 128)])
    result = torch.empty_like(stacked)
    result[torch.as_tensor(order, device=result.device)] = stacked
    return result


def sample_indices(
    rng: np.random.Generator, labels: torch.Tensor | None, n: int, *, balanced: bool
) -> np.ndarray:
    """An epoch's order over ``n`` examples: a permutation or class-balanced draws."""
    if balanced and labels is not None:
        y = labels.cpu().numpy()
        weights = 1.0 / np.bincount(y)[y]
        return rng.choice(n, size=n, replace=True, p=weights / weights.sum())
    return rng.permutation(n)


def cycle(rng: np.random.Generator, n: int, size: int, n_batches: int) -> list[np.ndarray]:
    """``n_batches`` batches of ``size`` indices from repeated permutations of ``n``."""
    needed = size * n_batches
    order = np.concatenate([rng.permutation(n) for _ in range(math.ceil(needed / n))])
    return [order[i * size : (i + 1) * size] for i in range(n_batches)]


def pool_batches(
    data: FitData,
    rng: np.random.Generator,
    batch_size: int,
    device: torch.device | str,
    *,
    balanced: bool,
) -> Iterator[Batch]:
    """Training-pool batches, each paired with target batches of the same size.

    ``balanced`` draws the pool class-balanced with replacement instead of permuting it.
    """
    n = len(data.X_train)
    order = sample_indices(rng, data.y_train, n, balanced=balanced)
    size = min(batch_size, n)
    n_batches = max(n // size, 1)
    target = cycle(rng, len(data.X_target), size, n_batches) if data.X_target is not None else None
    labelled = None
    if data.X_target_labelled is not None:
        n_tl = len(data.X_target_labelled)
        labelled = cycle(rng, n_tl, min(size, n_tl), n_batches)
    for i in range(n_batches):
        idx = order[i * size : (i + 1) * size]
        yield Batch(
            x=take(data.X_train, idx, device),
            y=take(data.y_train, idx, device),
            x_target=None if target is None else take(data.X_target, target[i], device),
            x_target_labelled=(
                None if labelled is None else take(data.X_target_labelled, labelled[i], device)
            ),
            y_target_labelled=(
                None if labelled is None else take(data.y_target_labelled, labelled[i], device)
            ),
            source_domains=(
                None if data.source_domains is None else take(data.source_domains, idx, device)
            ),
        )


def few_shot_batches(
    data: FitData,
    rng: np.random.Generator,
    batch_size: int,
    device: torch.device | str,
    *,
    balanced: bool = True,
) -> Iterator[Batch]:
    """Batches for supervised adaptation with few labelled target examples.

    Each batch holds ``batch_size`` source examples and as many labelled target
    examples, both drawn class-balanced with replacement (every class weighs the
    same, however few its examples; ``balanced=False``: each pool in repeated random
    permutations instead), and, when the fit has unlabelled target data, as many
    unlabelled target examples. An epoch is as many batches as the source pool fills.
    """
    n = len(data.X_train)
    size = min(batch_size, n)
    n_batches = max(n // size, 1)

    def draws(labels: torch.Tensor) -> np.ndarray:
        if not balanced:
            return np.concatenate(cycle(rng, len(labels), size, n_batches))
        y = labels.cpu().numpy()
        weights = 1.0 / np.bincount(y)[y]
        return rng.choice(len(y), size=size * n_batches, p=weights / weights.sum())

    source = draws(data.y_train)
    labelled = draws(data.y_target_labelled)
    target = None
    if data.X_target is not None:
        target = cycle(rng, len(data.X_target), size, n_batches)
    for i in range(n_batches):
        idx, tl = source[i * size : (i + 1) * size], labelled[i * size : (i + 1) * size]
        yield Batch(
            x=take(data.X_train, idx, device),
            y=take(data.y_train, idx, device),
            x_target=None if target is None else take(data.X_target, target[i], device),
            x_target_labelled=take(data.X_target_labelled, tl, device),
            y_target_labelled=take(data.y_target_labelled, tl, device),
        )
