"""Variable-length frame sequences and the Conv1D + GRU encoder that reads them.

Inputs. A method fitted with ``encoder="cnn_gru"`` takes, wherever it would take a
feature matrix, a list of ``(T_i, F)`` float arrays (one per utterance, e.g. log-Mel
frames with ``F = 41``: 40 bands + log energy), a 1-D object array or a pandas Series of
them, a 3-D array ``(N, T, F)`` of equally long sequences, or a :class:`Sequences`
container. A second
frame-level stream (e.g. 512-d face embeddings per video frame, at its own frame rate)
is given as ``Sequences(frames, faces)``: both streams hold one sequence per example.
Batches are padded with zeros and carry each sequence's true length
(:class:`PaddedSequences`); the encoder packs them, so padding never changes an output.

Encoder (:class:`CNNGRUEncoder`), per the few-shot SER literature::

    frames (T x 41) -> Conv1D(41->64, k=10, s=2) -> PReLU -> Conv1D(64->128, k=5, s=2)
      -> PReLU -> GRU(128, 128): last valid state                        (128)
    [second stream (T' x 512) -> GRU(512, 512): last valid state]      (+ 512)
    concatenation -> Linear(->128) -> PReLU -> dropout -> Linear(128->128)

With the method's ``head_hidden_sizes=(32, 10)`` and ``activation="prelu"`` the emotion
and domain classifiers are the 128-32-10-K PReLU networks of the same papers
(:data:`CNN_GRU_PAPER`).

A sequence shorter than the convolutions' receptive field (18 frames with the default
kernels and strides) is zero-padded to it, alone or in a batch alike.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = Sequences([rng.normal(size=(n, 41)) for n in (30, 55, 80)])
    >>> len(X), X.widths, X.lengths(0).tolist()
    (3, (41,), [30, 55, 80])
    >>> batch = X.pad([0, 2])
    >>> tuple(batch.values[0].shape), batch.lengths[0].tolist()
    ((2, 80, 41), [30, 80])
    >>> encoder = CNNGRUEncoder((41,), gru_size=16, fusion_sizes=(16, 8)).eval()
    >>> tuple(encoder(batch).shape)
    (2, 8)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

#: the encoder and heads of the papers: pass ``**CNN_GRU_PAPER`` to any method
CNN_GRU_PAPER: dict[str, Any] = {
    "encoder": "cnn_gru",
    "conv_channels": (64, 128),
    "conv_kernel_sizes": (10, 5),
    "conv_strides": (2, 2),
    "gru_size": 128,
    "second_gru_size": 512,
    "fusion_sizes": (128, 128),
    "head_hidden_sizes": (32, 10),
    "activation": "prelu",
}


def float_matrix(value: object, what: str, axes: str) -> np.ndarray:
    """``value`` as a 2-D float32 array (``axes`` names its rows and columns), or a
    ValueError naming ``what``.

    >>> float_matrix([[1, 2]], "X", "examples x features").dtype
    dtype('float32')
    """
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be numeric: {error}") from None
    if array.ndim != 2:
        raise ValueError(f"{what} must be 2-D ({axes}), got shape {array.shape}")
    return array


def _check_item(item: object, stream: int, index: int, width: int | None) -> np.ndarray:
    """One sequence as a finite, non-empty 2-D float32 array, or a ValueError naming it."""
    where = f"stream {stream}, item {index}"
    array = float_matrix(item, where, "frames x features")
    if array.shape[0] == 0:
        raise ValueError(f"{where} is an empty sequence (0 frames)")
    if width is not None and array.shape[1] != width:
        raise ValueError(
            f"{where} has {array.shape[1]} features per frame, expected {width} "
            "(the width of item 0)"
        )
    bad = ~np.isfinite(array)
    if bad.any():
        frames = np.flatnonzero(bad.any(1))
        raise ValueError(
            f"{where} has NaN or infinite values in {len(frames)} frame(s) "
            f"(first {frames[:5].tolist()})"
        )
    return array


class Sequences:
    """One or more streams of variable-length frame sequences, one sequence per example.

    Args:
        *streams: each a list (or 1-D object array, or 3-D array) of ``(T_i, F_s)``
            arrays; every stream holds the same number of examples, its own widths
            ``F_s`` fixed across examples, its own lengths ``T_i``.

    Raises:
        ValueError: naming the stream and item of an empty, non-2-D, wrongly wide or
            non-finite sequence, or streams of different sizes.

    Example:
        >>> import numpy as np
        >>> audio = [np.zeros((40, 41)), np.zeros((25, 41))]
        >>> faces = [np.zeros((12, 512)), np.zeros((8, 512))]
        >>> both = Sequences(audio, faces)
        >>> both.n_streams, both.widths, len(both[1:])
        (2, (41, 512), 1)
    """

    def __init__(self, *streams: object) -> None:
        if not streams:
            raise ValueError("Sequences needs at least one stream")
        checked: list[list[torch.Tensor]] = []
        for s, stream in enumerate(streams):
            if isinstance(stream, Sequences):
                raise ValueError(f"stream {s} is a Sequences; pass its arrays")
            items = list(stream)
            if not items:
                raise ValueError(f"stream {s} holds no sequences")
            first = _check_item(items[0], s, 0, None)
            arrays = [first] + [
                _check_item(item, s, i, first.shape[1]) for i, item in enumerate(items[1:], 1)
            ]
            checked.append([torch.from_numpy(a) for a in arrays])
        sizes = [len(items) for items in checked]
        if len(set(sizes)) > 1:
            raise ValueError(f"the streams hold different numbers of sequences: {sizes}")
        self._streams = checked

    @classmethod
    def _trusted(cls, streams: list[list[torch.Tensor]]) -> Sequences:
        """A container over already checked tensors (subsets, concatenations)."""
        new = cls.__new__(cls)
        new._streams = streams
        return new

    def __len__(self) -> int:
        return len(self._streams[0])

    def __repr__(self) -> str:
        return f"Sequences(n={len(self)}, widths={self.widths})"

    @property
    def n_streams(self) -> int:
        """How many streams each example has."""
        return len(self._streams)

    @property
    def widths(self) -> tuple[int, ...]:
        """Features per frame of each stream."""
        return tuple(items[0].shape[1] for items in self._streams)

    def lengths(self, stream: int = 0) -> np.ndarray:
        """Frames per sequence of one stream."""
        return np.array([len(item) for item in self._streams[stream]])

    def _positions(self, index: object) -> list[int]:
        if isinstance(index, slice):
            return list(range(len(self)))[index]
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        positions = np.asarray(index).reshape(-1)
        if positions.dtype == bool:
            positions = np.flatnonzero(positions)
        return positions.astype(np.int64).tolist()

    def __getitem__(self, index: object) -> Sequences:
        """The examples at ``index`` (slice, integer array or boolean mask)."""
        positions = self._positions(index)
        return Sequences._trusted([[items[i] for i in positions] for items in self._streams])

    @staticmethod
    def concat(parts: Sequence[Sequences]) -> Sequences:
        """The examples of ``parts`` in order; every part must have the same widths."""
        widths = {part.widths for part in parts}
        if len(widths) > 1:
            raise ValueError(f"cannot concatenate sequences of different widths: {widths}")
        n_streams = parts[0].n_streams
        return Sequences._trusted(
            [[item for part in parts for item in part._streams[s]] for s in range(n_streams)]
        )

    def pad(self, index: object = slice(None), device: torch.device | str = "cpu"):
        """The examples at ``index`` as one zero-padded batch with their lengths."""
        positions = self._positions(index)
        values, lengths = [], []
        for items in self._streams:
            chosen = [items[i] for i in positions]
            values.append(pad_sequence(chosen, batch_first=True).to(device))
            lengths.append(torch.tensor([len(item) for item in chosen], dtype=torch.long))
        return PaddedSequences(tuple(values), tuple(lengths))


def is_sequence_input(X: object) -> bool:
    """Whether ``X`` is sequence input (see the module doc) rather than a feature matrix."""
    if isinstance(X, Sequences):
        return True
    if isinstance(X, pd.Series):
        X = X.to_numpy()
    if isinstance(X, np.ndarray):
        return X.ndim == 3 or (X.dtype == object and X.ndim == 1 and _is_2d(X[0] if len(X) else 0))
    if isinstance(X, list | tuple) and len(X) > 0:
        return _is_2d(X[0])
    return False


def _is_2d(item: object) -> bool:
    return isinstance(item, np.ndarray | torch.Tensor) and item.ndim == 2


def as_sequences(X: object, name: str) -> Sequences:
    """``X`` as :class:`Sequences`, with errors that name the argument ``name``."""
    if isinstance(X, Sequences):
        return X
    try:
        return Sequences(X)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


@dataclass
class PaddedSequences:
    """A batch of sequences: zero-padded ``(B, T_max, F)`` values and lengths per stream.

    Behaves like a batch tensor where methods need it: ``len``, row indexing
    (``batch[idx]``), ``.to(device)`` and ``torch.cat([a, b])``.
    """

    values: tuple[torch.Tensor, ...]
    lengths: tuple[torch.Tensor, ...]

    def __len__(self) -> int:
        return len(self.lengths[0])

    def __getitem__(self, index: object) -> PaddedSequences:
        """The rows at ``index`` (slice, integer array or tensor, boolean mask)."""
        if not isinstance(index, slice):
            index = torch.as_tensor(
                np.asarray(index.cpu() if isinstance(index, torch.Tensor) else index)
            )
            index = index.reshape(-1)
        return PaddedSequences(
            tuple(
                v[index.to(v.device) if isinstance(index, torch.Tensor) else index]
                for v in self.values
            ),
            tuple(lengths[index] for lengths in self.lengths),
        )

    def to(self, device: torch.device | str) -> PaddedSequences:
        return PaddedSequences(tuple(v.to(device) for v in self.values), self.lengths)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN206
        if func is torch.cat and not (kwargs or {}).get("dim") and len(args) == 1:
            return cls.cat(args[0])
        return NotImplemented

    @staticmethod
    def cat(batches: Sequence[PaddedSequences]) -> PaddedSequences:
        """The rows of ``batches`` in order, padded to the longest."""
        values, lengths = [], []
        for s in range(len(batches[0].values)):
            longest = max(b.values[s].shape[1] for b in batches)
            values.append(
                torch.cat(
                    [
                        nn.functional.pad(b.values[s], (0, 0, 0, longest - b.values[s].shape[1]))
                        for b in batches
                    ]
                )
            )
            lengths.append(torch.cat([b.lengths[s] for b in batches]))
        return PaddedSequences(tuple(values), tuple(lengths))


def conv_output_length(
    lengths: torch.Tensor, kernel_sizes: Sequence[int], strides: Sequence[int]
) -> torch.Tensor:
    """Frames left after unpadded strided convolutions: ``(L - k) // s + 1`` per layer."""
    for kernel, stride in zip(kernel_sizes, strides):
        lengths = (lengths - kernel) // stride + 1
    return lengths


def min_input_length(kernel_sizes: Sequence[int], strides: Sequence[int]) -> int:
    """The shortest sequence that leaves one frame after the convolutions."""
    length = 1
    for kernel, stride in zip(reversed(kernel_sizes), reversed(strides)):
        length = (length - 1) * stride + kernel
    return length


def _last_state(gru: nn.GRU, values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    packed = pack_padded_sequence(values, lengths.cpu(), batch_first=True, enforce_sorted=False)
    _, hidden = gru(packed)
    return hidden[-1]


class CNNGRUEncoder(nn.Module):
    """Conv1D + GRU over frame sequences, optionally with a second GRU stream.

    Args:
        widths: features per frame of each stream (one or two streams).
        conv_channels: output channels of each Conv1D layer (each followed by PReLU).
        conv_kernel_sizes: kernel size of each Conv1D layer.
        conv_strides: stride of each Conv1D layer.
        gru_size: hidden size of the GRU over the convolved first stream.
        second_gru_size: hidden size of the GRU over the second stream.
        fusion_sizes: widths of the linear layers after the concatenated GRU states; all
            but the last are followed by PReLU and dropout (``()``: the states are the
            output).
        dropout: dropout between fusion layers.

    The shared layers that :meth:`layers_output` returns are the concatenated GRU
    states and the output of each fusion layer.
    """

    def __init__(
        self,
        widths: Sequence[int],
        *,
        conv_channels: Sequence[int] = (64, 128),
        conv_kernel_sizes: Sequence[int] = (10, 5),
        conv_strides: Sequence[int] = (2, 2),
        gru_size: int = 128,
        second_gru_size: int = 512,
        fusion_sizes: Sequence[int] = (128, 128),
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        widths = tuple(widths)
        if len(widths) not in (1, 2):
            raise ValueError(f"the CNN-GRU encoder reads one or two streams, got {len(widths)}")
        if not len(conv_channels) == len(conv_kernel_sizes) == len(conv_strides) >= 1:
            raise ValueError(
                "conv_channels, conv_kernel_sizes and conv_strides must have the same "
                f"length >= 1, got {len(conv_channels)}, {len(conv_kernel_sizes)}, "
                f"{len(conv_strides)}"
            )
        self.kernel_sizes = tuple(conv_kernel_sizes)
        self.strides = tuple(conv_strides)
        self.min_length = min_input_length(self.kernel_sizes, self.strides)
        layers: list[nn.Module] = []
        n_in = widths[0]
        for channels, kernel, stride in zip(conv_channels, conv_kernel_sizes, conv_strides):
            layers += [nn.Conv1d(n_in, channels, kernel, stride=stride), nn.PReLU()]
            n_in = channels
        self.convs = nn.Sequential(*layers)
        self.gru = nn.GRU(n_in, gru_size, batch_first=True)
        state_size = gru_size
        self.second_gru = None
        if len(widths) == 2:
            self.second_gru = nn.GRU(widths[1], second_gru_size, batch_first=True)
            state_size += second_gru_size
        self.fusion = nn.ModuleList()
        sizes = [state_size, *fusion_sizes]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = i == len(fusion_sizes) - 1
            block: list[nn.Module] = [nn.Linear(a, b)]
            if not last:
                block += [nn.PReLU()] + ([nn.Dropout(dropout)] if dropout > 0 else [])
            self.fusion.append(nn.Sequential(*block))
        self.n_streams = len(widths)
        self.output_size = sizes[-1]

    def layers_output(self, batch: PaddedSequences) -> list[torch.Tensor]:
        """The concatenated GRU states, then the output of each fusion layer."""
        if not isinstance(batch, PaddedSequences):
            raise TypeError(
                "the CNN-GRU encoder reads frame sequences (PaddedSequences), "
                f"got {type(batch).__name__}"
            )
        if len(batch.values) != self.n_streams:
            raise ValueError(
                f"the encoder was built for {self.n_streams} stream(s), "
                f"the batch has {len(batch.values)}"
            )
        frames = batch.values[0]
        if frames.shape[1] < self.min_length:
            frames = nn.functional.pad(frames, (0, 0, 0, self.min_length - frames.shape[1]))
        lengths = conv_output_length(
            batch.lengths[0].clamp(min=self.min_length), self.kernel_sizes, self.strides
        )
        convolved = self.convs(frames.transpose(1, 2)).transpose(1, 2)
        states = [_last_state(self.gru, convolved, lengths)]
        if self.second_gru is not None:
            states.append(_last_state(self.second_gru, batch.values[1], batch.lengths[1]))
        x = torch.cat(states, dim=1)
        outputs = [x]
        for block in self.fusion:
            x = block(x)
            outputs.append(x)
        return outputs

    def forward(self, batch: PaddedSequences) -> torch.Tensor:
        return self.layers_output(batch)[-1]
