"""Frame-level log-Mel filterbanks plus log energy: the stream for the CNN-GRU encoder.

Each frame is a 25 ms (periodic) Hann window every 10 ms (at 16 kHz: 400 samples, hop 160, FFT
size 512), frames start at sample 0 and stop at the last full window (no centre
padding; a signal shorter than one window is zero-padded to one frame). A frame's 41
values are the natural log of 40 Mel-band powers (Slaney Mel filters, the same as
:func:`librosa.filters.mel`'s, see :func:`mel_filters`) followed by the log energy of the
frame's raw samples (sum of squares, before windowing).

Example:
    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> frames = LogMel()(np.sin(2 * np.pi * 200 * t).astype(np.float32), 16000)
    >>> frames.shape, frames.dtype, n_frames(16000)
    ((98, 41), dtype('float32'), 98)
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np


def n_frames(
    n_samples: int, sample_rate: int = 16000, window_ms: float = 25.0, hop_ms: float = 10.0
) -> int:
    """The number of frames :class:`LogMel` gives for ``n_samples`` samples.

    Example:
        >>> n_frames(16000), n_frames(100)
        (98, 1)
    """
    window = round(sample_rate * window_ms / 1000)
    hop = round(sample_rate * hop_ms / 1000)
    return 1 + max(0, n_samples - window) // hop


def _periodic_hann(length: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's Mel scale: linear below 1 kHz, logarithmic above (as librosa, htk=False)."""
    hz = np.asarray(hz, dtype=np.float64)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, hz / (200.0 / 3.0))


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (mel - 15.0)), mel * 200 / 3)


@functools.cache
def mel_filters(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Slaney-normalised triangular Mel filters, ``(n_mels, n_fft // 2 + 1)``.

    The same matrix as ``librosa.filters.mel(sr=..., n_fft=..., n_mels=..., fmin=...,
    fmax=...)`` (Slaney scale and area normalisation), in float64, without importing
    librosa in every worker process.

    Example:
        >>> mel_filters(16000, 512, 40).shape
        (40, 257)
    """
    fmax = sample_rate / 2 if fmax is None else fmax
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    ramps = edges[:, None] - np.fft.rfftfreq(n_fft, 1.0 / sample_rate)[None, :]
    widths = np.diff(edges)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    weights.flags.writeable = False
    return weights


class LogMel:
    """Log-Mel filterbank + log energy frames: ``signal -> (n_frames, n_mels + 1)`` float32.

    Args:
        n_mels: number of Mel bands (40 for the CNN-GRU encoder).
        sample_rate: the rate the signal must have (``read_audio(path, sample_rate)``).
        window_ms, hop_ms: analysis window length and hop.
        fmin, fmax: frequency range of the Mel filters (``fmax=None``: Nyquist).
        floor: added to powers and energies before the log, so silence stays finite.

    Example:
        >>> LogMel().feature_names[-2:]
        ['logmel_39', 'log_energy']
    """

    frame_level = True

    def __init__(
        self,
        *,
        n_mels: int = 40,
        sample_rate: int = 16000,
        window_ms: float = 25.0,
        hop_ms: float = 10.0,
        fmin: float = 0.0,
        fmax: float | None = None,
        floor: float = 1e-10,
    ) -> None:
        self.name = "logmel"
        self.n_mels = int(n_mels)
        self.sample_rate = int(sample_rate)
        self.window_ms = float(window_ms)
        self.hop_ms = float(hop_ms)
        self.fmin = float(fmin)
        self.fmax = None if fmax is None else float(fmax)
        self.floor = float(floor)
        self.window = round(self.sample_rate * self.window_ms / 1000)
        self.hop = round(self.sample_rate * self.hop_ms / 1000)
        self.n_fft = 1 << (self.window - 1).bit_length()

    def __repr__(self) -> str:
        return f"LogMel(n_mels={self.n_mels}, sample_rate={self.sample_rate})"

    def config(self) -> dict[str, Any]:
        """A JSON-able description of everything that determines the output."""
        return {
            "kind": "logmel",
            "n_mels": self.n_mels,
            "sample_rate": self.sample_rate,
            "window": self.window,
            "hop": self.hop,
            "n_fft": self.n_fft,
            "window_function": "hann",
            "fmin": self.fmin,
            "fmax": self.fmax,
            "floor": self.floor,
            "energy": "log sum of squares of raw frame samples",
        }

    @property
    def feature_names(self) -> list[str]:
        """Names of the per-frame values: ``logmel_0`` .. ``logmel_{n-1}``, ``log_energy``."""
        return [f"logmel_{band}" for band in range(self.n_mels)] + ["log_energy"]

    def __call__(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        """The ``(n_frames, n_mels + 1)`` float32 log-Mel + log-energy frames of ``signal``."""
        if sample_rate != self.sample_rate:
            raise ValueError(
                f"logmel expects signals at {self.sample_rate} Hz, got {sample_rate} Hz; "
                f"read the file with read_audio(path, sample_rate={self.sample_rate})"
            )
        signal = np.asarray(signal, dtype=np.float64).reshape(-1)
        if signal.size < self.window:
            signal = np.pad(signal, (0, self.window - signal.size))
        frames = np.lib.stride_tricks.sliding_window_view(signal, self.window)[:: self.hop]
        energy = np.einsum("ij,ij->i", frames, frames)
        spectrum = np.fft.rfft(frames * _periodic_hann(self.window), n=self.n_fft)
        power = spectrum.real**2 + spectrum.imag**2
        filters = mel_filters(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)
        mel = power @ filters.T
        out = np.empty((frames.shape[0], self.n_mels + 1), dtype=np.float32)
        out[:, :-1] = np.log(mel + self.floor)
        out[:, -1] = np.log(energy + self.floor)
        return out
