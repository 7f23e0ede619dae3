"""The recording channel of a synthetic domain: room, noise, levelling, colouring, coding.

:func:`channel` applies, in order, the steps a domain asks for: reverberation
(:func:`reverberate`), additive pink noise at an SNR (:func:`add_noise`), automatic gain
control, the speaker's line colouring, 8-bit mu-law coding (:func:`mu_law`) and the band
limits (:func:`band_limit`), then keeps the peak below full scale.

Example:
    >>> import numpy as np
    >>> coded = mu_law(np.array([0.5, -0.01, 0.0]))
    >>> [round(float(x), 3) for x in coded]
    [0.5, -0.01, 0.0]
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from emoshift.data.synthetic.domains import SyntheticDomain
from emoshift.data.synthetic.dsp import pink_noise, sos_filter
from emoshift.data.synthetic.voice import Speaker

AGC_LEVEL_DB = -26.0
"""The speech level (dBFS) that automatic gain control aims at."""


def reverberate(
    audio: np.ndarray, rt60_s: float, drr_db: float, rng: np.random.Generator, sr: int
) -> np.ndarray:
    """Convolve with an exponentially decaying noise impulse response (``rt60_s``, DRR)."""
    length = int(rt60_s * sr)
    t = np.arange(length) / sr
    tail = rng.standard_normal(length) * np.exp(-6.9 * t / rt60_s)
    tail[: int(0.002 * sr)] = 0.0
    tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / np.sum(tail**2))
    tail[0] = 1.0
    return signal.fftconvolve(audio, tail)[: len(audio)]


def add_noise(
    audio: np.ndarray,
    speech_power: float,
    domain: SyntheticDomain,
    rng: np.random.Generator,
) -> np.ndarray:
    """Add pink noise at the domain's SNR (drawn around ``snr_db`` per utterance)."""
    snr = domain.snr_db + domain.snr_spread_db * rng.standard_normal()
    return audio + pink_noise(len(audio), rng) * np.sqrt(speech_power / 10.0 ** (snr / 10.0))


def mu_law(audio: np.ndarray, mu: float = 255.0) -> np.ndarray:
    """Code ``audio`` with 8-bit mu-law (relative to its peak) and decode it again."""
    peak = np.max(np.abs(audio)) + 1e-12
    scaled = np.clip(audio / peak, -1.0, 1.0)
    coded = np.sign(scaled) * np.log1p(mu * np.abs(scaled)) / np.log1p(mu)
    coded = np.round(coded * 127.0) / 127.0
    return peak * np.sign(coded) * np.expm1(np.abs(coded) * np.log1p(mu)) / mu


def band_limit(audio: np.ndarray, band_hz: tuple[float, float], sr: int) -> np.ndarray:
    """A steep upper band edge (below Nyquist only) and a gentle lower roll-off."""
    low, high = band_hz
    if high < 0.49 * sr:
        audio = signal.sosfilt(sos_filter("edge", high, sr), audio)
    if low > 0:
        audio = signal.sosfilt(sos_filter("rolloff", low, sr), audio)
    return audio


def channel(
    audio: np.ndarray,
    speaker: Speaker,
    domain: SyntheticDomain,
    rng: np.random.Generator,
    sr: int,
) -> np.ndarray:
    """Room, noise, microphone/line colouring, band limits and coding of one domain."""
    speech_power = np.mean(audio[np.abs(audio) > 1e-6] ** 2) if np.any(audio) else 1.0
    if domain.rt60_s:
        audio = reverberate(audio, domain.rt60_s, domain.drr_db, rng, sr)
    if domain.snr_db is not None:
        audio = add_noise(audio, speech_power, domain, rng)
    if domain.agc:
        level_db = 10.0 * np.log10(speech_power)
        audio = audio * 10.0 ** (domain.agc * (AGC_LEVEL_DB - level_db) / 20.0)
    if speaker.channel_tilt:  # colours the spectrum, keeps the level
        coloured = signal.lfilter([1.0, -speaker.channel_tilt], [1.0], audio)
        audio = coloured * np.sqrt(np.mean(audio**2) / (np.mean(coloured**2) + 1e-20))
    if domain.mu_law:
        audio = mu_law(audio)
    if domain.band_hz is not None:
        audio = band_limit(audio, domain.band_hz, sr)
    peak = np.max(np.abs(audio))
    if peak > 0.98:
        audio = audio * (0.98 / peak)
    return audio
