"""Hidden states of self-supervised speech models (wav2vec 2.0, HuBERT, WavLM) as features.

:class:`SSLFeatures` is an extractor for :func:`~emoshift.features.extract_features` (feature
set ``ssl``): it runs a checkpoint that ``transformers`` reads from a local folder (see
:mod:`emoshift.features.ssl_model`) on a waveform at the model's sample rate, normalised
as the model's feature extractor says, and keeps the hidden states of the chosen layers.

Layers. Hidden state 0 is the Transformer's input (convolutional features, projected and
position-embedded), ``i`` is the output of Transformer layer ``i``; ``layers`` is one
index, a list, or ``"all"`` (negative indices count from the last). Several layers are
concatenated (``combine="concat"``, layer-major: block ``j`` holds layer ``layers[j]``,
which is what a learnable weighted sum over layers reads, as in SUPERB) or averaged
(``combine="mean"``).

Pooling. ``"none"`` keeps the frame sequence (one frame per ``stride`` samples, 20 ms for
the usual 16 kHz models: input for the CNN-GRU encoder); ``"mean"`` averages the frames;
``"mean_std"`` adds their standard deviation; ``"attentive"`` is attentive statistics
pooling with a fixed query: frame weights are the softmax over frames of each frame's
scaled dot product with the utterance mean (no learned parameters, since features are
extracted before any training), giving a weighted mean and standard deviation. Pooling
applies to each layer block, so the layer-major layout holds for pooled vectors too.

Long files. A signal longer than ``chunk_seconds`` runs in windows of that many seconds
of output frames, each seen with ``context_seconds`` of audio on either side whose frames
are then dropped, so memory stays bounded by the window length times ``batch_size``
(the windows of equal length that run as one batch: 1 on a CPU). Window edges fall on
the frame grid of the whole file, so the frames line up one to one with those of an
unchunked pass (which sees every sample, also those after the last full frame). The
convolutional encoder is local, so with enough context (at least half the width of the
positional convolution) hidden state 0 is the same as in one pass for models that
normalise each frame (``feat_extract_norm="layer"``). Models with group normalisation
over time in the first convolution (``"group"``: wav2vec2-base, HuBERT-base, WavLM-base)
and every Transformer layer (global self-attention) see only their window, so their
chunked output approximates the one-pass output; more context brings it closer.

Example:
    >>> import tempfile, numpy as np, torch, transformers
    >>> folder = tempfile.mkdtemp()
    >>> config = transformers.Wav2Vec2Config(
    ...     hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
    ...     conv_dim=(8, 8), conv_kernel=(10, 8), conv_stride=(5, 4),
    ...     num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)
    >>> transformers.Wav2Vec2Model(config).save_pretrained(folder)
    >>> _ = transformers.Wav2Vec2FeatureExtractor().save_pretrained(folder)
    >>> extractor = SSLFeatures(folder, layers=[1, 2], combine="concat", pooling="mean_std")
    >>> signal = np.random.default_rng(0).normal(size=16000).astype(np.float32)
    >>> extractor(signal, 16000).shape, extractor.feature_names[:2]
    ((64,), ['layer1_mean_0', 'layer1_mean_1'])
    >>> SSLFeatures(folder, layers="all", pooling="none")(signal, 16000).shape  # averaged
    (798, 16)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from emoshift.features.ssl_model import (
    load_model,
    read_info,
    require_transformers,
    resolve_model,
    weights_sha256,
)
from emoshift.torch_device import torch_device

POOLINGS: tuple[str, ...] = ("mean", "mean_std", "attentive", "none")
COMBINES: tuple[str, ...] = ("concat", "mean")
SSL_FORMAT = 1
"""Bumped when this module changes how the features are computed (part of the cache key)."""
RUNTIME_OPTIONS: tuple[str, ...] = ("device", "batch_size")
"""Options that say where and how many windows at a time the model runs, not what it
computes: neither part of the cache key nor kept in a model bundle."""


def resolve_layers(layers: int | str | list[int], n_hidden_states: int) -> list[int]:
    """Hidden-state indices in ``[0, n_hidden_states)`` for a ``layers`` setting.

    Example:
        >>> resolve_layers("all", 4), resolve_layers(-1, 13), resolve_layers([0, -2], 13)
        ([0, 1, 2, 3], [12], [0, 11])
    """
    if isinstance(layers, str):
        if layers != "all":
            raise ValueError(f"features.layers: {layers!r}; use 'all', an index or a list")
        return list(range(n_hidden_states))
    items = [layers] if isinstance(layers, int) else list(layers)
    if not items:
        raise ValueError("features.layers: the list of layers is empty; name at least one")
    resolved = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | np.integer):
            raise ValueError(f"features.layers: {item!r} is not a layer index")
        if not -n_hidden_states <= item < n_hidden_states:
            raise ValueError(
                f"features.layers: layer {item} does not exist; the model has hidden states "
                f"0..{n_hidden_states - 1} (0: Transformer input, i: output of layer i)"
            )
        resolved.append(int(item) % n_hidden_states)
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"features.layers: {items} names a layer twice")
    return resolved


def frame_windows(
    n_frames: int, chunk_frames: int | None, context_frames: int
) -> list[tuple[int, int, int, int]]:
    """``(first, stop, keep_from, keep_to)`` frame windows covering ``n_frames`` frames.

    Each window runs frames ``first..stop-1`` (with context) and keeps its frames
    ``keep_from..keep_to-1``; the kept frames of all windows tile ``0..n_frames-1``.

    Example:
        >>> frame_windows(10, 4, 1)
        [(0, 5, 0, 4), (3, 9, 1, 5), (7, 10, 1, 3)]
        >>> frame_windows(10, None, 1)
        [(0, 10, 0, 10)]
    """
    if chunk_frames is None or n_frames <= chunk_frames:
        return [(0, n_frames, 0, n_frames)]
    windows = []
    for start in range(0, n_frames, chunk_frames):
        stop = min(n_frames, start + chunk_frames)
        first, last = max(0, start - context_frames), min(n_frames, stop + context_frames)
        windows.append((first, last, start - first, stop - first))
    return windows


def attentive_pool(frames: np.ndarray) -> np.ndarray:
    """``(layers, T, D)`` frames to ``(layers, 2 * D)``: attention-weighted mean and std.

    The weights are the softmax over frames of each frame's dot product with the layer's
    mean frame, divided by ``sqrt(D)``.
    """
    pooled = []
    for layer in frames:  # one layer at a time in float64: bounded extra memory
        x = layer.astype(np.float64)
        scores = x @ x.mean(axis=0) / np.sqrt(x.shape[1])
        weights = np.exp(scores - scores.max())
        weights /= weights.sum()
        mean = weights @ x
        std = np.sqrt(np.maximum(weights @ (x * x) - mean**2, 0.0))
        pooled.append(np.concatenate([mean, std]))
    return np.stack(pooled)


class SSLFeatures:
    """Hidden states of a wav2vec 2.0 / HuBERT / WavLM checkpoint, per frame or pooled.

    Args:
        model: a checkpoint folder (as ``save_pretrained`` writes it) or a hub name
            already in the local Hugging Face cache.
        layers: ``"all"``, a hidden-state index, or a list of them (module doc).
        combine: ``"concat"`` or ``"mean"`` of several layers.
        pooling: ``"mean"``, ``"mean_std"``, ``"attentive"`` or ``"none"`` (frames).
        chunk_seconds: longest audio run in one pass (``None``: whole files).
        context_seconds: audio seen on each side of a window, whose frames are dropped.
        batch_size: windows of equal length run together, at most this many (``None``:
            1 on a CPU, where batching saves no time and multiplies memory; 8 on a GPU).
        device: ``"auto"`` (CUDA when torch sees it), ``"cpu"`` or ``"cuda"``.

    Raises:
        ImportError: ``transformers`` is missing (names the extra to install).
        ModelError: the model is not a usable checkpoint (names the folder).
        ValueError: a bad ``layers``, ``combine``, ``pooling`` or duration.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        layers: int | str | list[int] = "all",
        combine: str = "mean",
        pooling: str = "mean",
        chunk_seconds: float | None = 20.0,
        context_seconds: float = 2.0,
        batch_size: int | None = None,
        device: str = "auto",
    ) -> None:
        require_transformers()
        if model is None:
            raise ValueError(
                "the 'ssl' feature set needs a model: set features.model to the folder of a "
                "wav2vec 2.0 / HuBERT / WavLM checkpoint (see the README)"
            )
        if pooling not in POOLINGS:
            raise ValueError(f"features.pooling: {pooling!r}; choose one of {list(POOLINGS)}")
        if combine not in COMBINES:
            raise ValueError(f"features.combine: {combine!r}; choose one of {list(COMBINES)}")
        if chunk_seconds is not None and not chunk_seconds > 0:
            raise ValueError(f"features.chunk_seconds: {chunk_seconds}; must be > 0 or null")
        if not context_seconds >= 0:
            raise ValueError(f"features.context_seconds: {context_seconds}; must be >= 0")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size: {batch_size}; must be at least 1")
        torch_device(device)  # a device torch cannot use is an error now, not per file
        self.info = read_info(resolve_model(model))
        self.layers = resolve_layers(layers, self.info.n_hidden_states)
        self.combine = combine if len(self.layers) > 1 else "concat"
        self.pooling = pooling
        self.chunk_seconds = None if chunk_seconds is None else float(chunk_seconds)
        self.context_seconds = float(context_seconds)
        self.batch_size = batch_size
        self.device = device
        self.name = "ssl"
        self.sample_rate = self.info.sample_rate
        self.frame_level = pooling == "none"

    def __repr__(self) -> str:
        return (
            f"SSLFeatures({self.info.folder!r}, layers={self.layers}, "
            f"combine={self.combine!r}, pooling={self.pooling!r})"
        )

    @property
    def chunk_frames(self) -> int | None:
        """Output frames per window (``None``: whole files in one pass)."""
        if self.chunk_seconds is None:
            return None
        return max(1, round(self.chunk_seconds * self.sample_rate / self.info.stride))

    @property
    def context_frames(self) -> int:
        """Frames of context run, and dropped, on each side of a window."""
        return round(self.context_seconds * self.sample_rate / self.info.stride)

    def config(self) -> dict[str, Any]:
        """A JSON-able description of everything that determines the output (cache key)."""
        return {
            "kind": "ssl",
            "format": SSL_FORMAT,
            "model_type": self.info.model_type,
            "weights_sha256": weights_sha256(self.info.folder),
            "layers": self.layers,
            "combine": self.combine,
            "pooling": self.pooling,
            "sample_rate": self.sample_rate,
            "do_normalize": self.info.do_normalize,
            "chunk_frames": self.chunk_frames,
            "context_frames": self.context_frames,
        }

    def checkpoint(self) -> dict[str, Any]:
        """The checkpoint's identity, not its place: architecture and weights hash."""
        return {
            "model_type": self.info.model_type,
            "hidden_size": self.info.hidden_size,
            "n_hidden_states": self.info.n_hidden_states,
            "weights_sha256": weights_sha256(self.info.folder),
        }

    @property
    def feature_names(self) -> list[str]:
        """``layer{i}_{stat}_{d}`` (pooled) or ``layer{i}_{d}`` (frames), layer-major."""
        labels = ["layers_mean"] if self.combine == "mean" else [f"layer{i}" for i in self.layers]
        stats = {"none": [""], "mean": ["mean_"]}.get(self.pooling, ["mean_", "std_"])
        size = self.info.hidden_size
        return [f"{label}_{stat}{d}" for label in labels for stat in stats for d in range(size)]

    def n_frames(self, n_samples: int) -> int:
        """Output frames for a prepared signal of ``n_samples`` samples."""
        return (n_samples - self.info.receptive_field) // self.info.stride + 1

    def window_states(self, signal: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """``(first frame, frames)`` of each window of a prepared signal, where ``frames``
        is ``(blocks, n, D)`` float32 (the chosen layers, or their mean) for frames
        ``first .. first + n - 1``; windows of equal length run as one batch."""
        import torch

        device = str(torch_device(self.device))
        model = load_model(self.info.folder, device)
        batch_size = self.batch_size or (1 if device == "cpu" else 8)
        field, hop = self.info.receptive_field, self.info.stride
        n_frames = self.n_frames(signal.size)
        groups: dict[int, list[tuple[int, int, int, int]]] = {}
        for window in frame_windows(n_frames, self.chunk_frames, self.context_frames):
            # the last window runs to the end: samples past its last frame count too
            end = signal.size if window[1] == n_frames else (window[1] - 1) * hop + field
            groups.setdefault(end - window[0] * hop, []).append(window)
        with torch.inference_mode():
            for length, group in groups.items():
                for at in range(0, len(group), batch_size):
                    batch = group[at : at + batch_size]
                    pieces = np.stack([signal[w[0] * hop : w[0] * hop + length] for w in batch])
                    states = model(
                        torch.from_numpy(pieces).to(device), output_hidden_states=True
                    ).hidden_states
                    chosen = torch.stack([states[i] for i in self.layers], dim=1).float()
                    if self.combine == "mean":
                        chosen = chosen.mean(dim=1, keepdim=True)
                    for row, (first, _, keep_from, keep_to) in enumerate(batch):
                        kept = chosen[row, :, keep_from:keep_to].cpu().numpy()
                        yield first + keep_from, kept

    def prepare(self, signal: np.ndarray) -> np.ndarray:
        """The signal normalised as the model's ``Wav2Vec2FeatureExtractor`` does it (zero
        mean, unit variance per utterance, when its ``do_normalize`` is set), zero-padded
        to one frame if shorter."""
        signal = np.asarray(signal, dtype=np.float32).reshape(-1)
        if self.info.do_normalize:
            signal = (signal - signal.mean()) / np.sqrt(signal.var() + 1e-7)
        if signal.size < self.info.receptive_field:
            signal = np.pad(signal, (0, self.info.receptive_field - signal.size))
        return np.ascontiguousarray(signal, dtype=np.float32)

    def __call__(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        """Frames ``(T, blocks * D)`` for ``pooling="none"``, else a pooled vector.

        Mean and standard deviation are accumulated window by window, so pooled features
        of a long file never hold its frames; frames and attentive pooling do.
        """
        if sample_rate != self.sample_rate:
            raise ValueError(
                f"the model expects signals at {self.sample_rate} Hz, got {sample_rate} Hz; "
                f"read the file with read_audio(path, sample_rate={self.sample_rate})"
            )
        signal = self.prepare(signal)
        n_frames, size = self.n_frames(signal.size), self.info.hidden_size
        blocks = 1 if self.combine == "mean" else len(self.layers)
        if self.pooling in ("none", "attentive"):
            frames = np.empty((n_frames, blocks, size), dtype=np.float32)
            for first, kept in self.window_states(signal):
                frames[first : first + kept.shape[1]] = kept.transpose(1, 0, 2)
            if self.pooling == "none":
                return frames.reshape(n_frames, blocks * size)
            return attentive_pool(frames.transpose(1, 0, 2)).reshape(-1).astype(np.float32)
        total = np.zeros((blocks, size))
        squares = np.zeros((blocks, size))
        for _, kept in self.window_states(signal):
            total += kept.sum(axis=1, dtype=np.float64)
            squares += np.einsum("btd,btd->bd", kept, kept, dtype=np.float64)
        mean = total / n_frames
        if self.pooling == "mean":
            return mean.reshape(-1).astype(np.float32)
        std = np.sqrt(np.maximum(squares / n_frames - mean**2, 0.0))
        return np.concatenate([mean, std], axis=1).reshape(-1).astype(np.float32)
