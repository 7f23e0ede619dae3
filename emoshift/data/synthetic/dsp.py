"""Signal primitives of the synthetic voice and channel: pulses, resonators, filters, noise.

Example:
    >>> import numpy as np
    >>> flow = glottal_pulse(np.linspace(0.0, 1.0, 5, endpoint=False), 0.4, 0.2)
    >>> [round(float(x), 3) for x in flow]
    [0.0, 0.5, 1.0, 0.0, 0.0]
    >>> b, a = resonator(500.0, 60.0, 16000)
    >>> float(b[0]) == float(a.sum())
    True
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import signal


def resonator(freq: float, bandwidth: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Second-order IIR resonator with unit gain at 0 Hz."""
    r = np.exp(-np.pi * bandwidth / sr)
    a = np.array([1.0, -2.0 * r * np.cos(2.0 * np.pi * freq / sr), r * r])
    return np.array([a.sum()]), a


def glottal_pulse(phase: np.ndarray, open_phase: float, closing_phase: float) -> np.ndarray:
    """Rosenberg glottal flow over one period, ``phase`` in [0, 1)."""
    flow = np.zeros_like(phase)
    rising = phase < open_phase
    flow[rising] = 0.5 * (1.0 - np.cos(np.pi * phase[rising] / open_phase))
    falling = (phase >= open_phase) & (phase < open_phase + closing_phase)
    flow[falling] = np.cos(0.5 * np.pi * (phase[falling] - open_phase) / closing_phase)
    return flow


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance 1/f noise (Kellet's IIR approximation of a -3 dB/octave slope)."""
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1.0, -2.494956002, 2.017265875, -0.522189400]
    noise = signal.lfilter(b, a, rng.standard_normal(n + 2000))[2000:]
    return noise / (np.std(noise) + 1e-12)


@functools.lru_cache(maxsize=256)
def sos_filter(kind: str, cutoff: float | tuple[float, float], sr: int) -> np.ndarray:
    """Cached filter designs as second-order sections.

    ``"edge"``: a steep elliptic low-pass (0.5 dB ripple, 60 dB stop band), the upper
    band edge of a channel; ``"rolloff"``: a gentle second-order Butterworth high-pass,
    the lower band edge (it leaves some of a low voice's fundamental, as phone lines do);
    ``"band"``: a second-order Butterworth band-pass that shapes frication noise.
    """
    if kind == "edge":
        return signal.ellip(6, 0.5, 60.0, cutoff, "lowpass", fs=sr, output="sos")
    if kind == "rolloff":
        return signal.butter(2, cutoff, "highpass", fs=sr, output="sos")
    return signal.butter(2, cutoff, "bandpass", fs=sr, output="sos")


def smooth(values: np.ndarray, width: int) -> np.ndarray:
    """``values`` smoothed by a Hann window of ``width`` samples."""
    kernel = np.hanning(width + 2)[1:-1]
    return np.convolve(values, kernel / kernel.sum(), mode="same")
