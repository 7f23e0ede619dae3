"""The embedded **synthetic** emotional-speech corpus (no real speakers, no real speech).

Every file this module writes is synthetic: a source-filter voice, not a recording. The
table's ``corpus`` column reads ``"synthetic"`` and ``language`` reads ``"zxx"`` (ISO 639-2:
no linguistic content), so synthetic rows can never be mistaken for a real corpus.

The voice is a glottal pulse train (Rosenberg pulses with jitter, shimmer and aspiration
noise) along an F0 contour, shaped by syllable-like amplitude envelopes and passed through
a cascade of second-order formant resonators (``scipy.signal.lfilter``), with noise-burst
consonants between the vowels. Its prosody follows the emotion:

* every utterance draws its own arousal, valence and dominance around its emotion's
  prototype (:data:`EMOTION_PROTOTYPES`); the table stores those values, in [-1, 1] and
  as ``*_raw`` copies on a 1-5 rating scale;
* arousal raises F0 level and range, loudness and syllable rate, flattens the spectral
  tilt (more abrupt glottal closure) and reduces breathiness;
* valence moves the contour shape (rising and accented when positive, falling when
  negative), raises the formants slightly (smiling) and lowers jitter and shimmer;
* dominance raises loudness, flattens the tilt and lowers F0.

A *domain* (:class:`SyntheticDomain`) fixes who speaks (F0 and vocal-tract length of its
own speakers), how they express emotion (exaggerated and consistent when acted, subtle and
variable when spontaneous, cue by cue, with its own emotion prototypes and the laughter and
creaky voice of conversation) and the channel (band limits, additive noise at an SNR,
reverberation from a synthetic exponentially decaying impulse response, per-speaker line
colouring, telephone mu-law coding). Three domains ship in :data:`DOMAINS`: ``acted``
(studio), ``spontaneous`` (telephone conversation) and ``broadcast`` (read, lightly
coloured). A classifier trained on ``acted`` loses far more than ten points of UAR on
``spontaneous`` against one trained on ``spontaneous`` itself, with eGeMAPS features
normalised per domain (see ``benchmarks/synthetic_gap.py``).

Generation is deterministic: each utterance draws from its own random generator, seeded by
(seed, domain, speaker, emotion, index), so the same seed writes byte-identical WAV files
(16 kHz mono PCM_16) whatever the generation order. A folder that already holds a corpus
generated with the same parameters is reused.

Example:
    >>> import tempfile
    >>> table = generate_preset(tempfile.mkdtemp(), "tiny", seed=0, progress=False)
    >>> sorted(table["elicitation"].unique())
    ['acted', 'spontaneous']
    >>> table["corpus"].unique().tolist()
    ['synthetic']
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy import signal

from emoshift.data.table import make_table, read_table, write_table
from emoshift.progress import progress as progress_bar

CORPUS_NAME = "synthetic"
"""The ``corpus`` column of every synthetic row."""

LANGUAGE = "zxx"
"""ISO 639-2 code for "no linguistic content": the synthetic voice says no words."""

GENERATOR_VERSION = 1
"""Bumped whenever the synthesis changes, so that stale folders are regenerated."""

TABLE_NAME = "corpus.parquet"
MANIFEST_NAME = "manifest.json"

EMOTION_PROTOTYPES: dict[str, tuple[float, float, float]] = {
    "anger": (0.8, -0.6, 0.6),
    "happiness": (0.6, 0.7, 0.3),
    "sadness": (-0.6, -0.6, -0.5),
    "neutral": (0.0, 0.0, 0.0),
    "fear": (0.7, -0.7, -0.6),
    "disgust": (0.2, -0.7, 0.3),
    "boredom": (-0.7, -0.3, -0.2),
    "surprise": (0.7, 0.3, 0.0),
    "calm": (-0.5, 0.4, 0.1),
}
"""Prototype (arousal, valence, dominance) in [-1, 1] of each emotion the voice can express."""

CUES: tuple[str, ...] = (
    "f0_level",
    "f0_range",
    "loudness",
    "tempo",
    "tilt",
    "voice_quality",
    "contour",
    "formants",
)
"""The acoustic cues through which the voice expresses arousal, valence and dominance."""

SAMPLE_RATE = 16000

_AGC_LEVEL_DB = -26.0  # speech level (dBFS) that automatic gain control aims at

# Vowel formants (F1, F2, F3) of an adult male vocal tract, Hz (Peterson & Barney).
_VOWELS = np.array(
    [
        (730.0, 1090.0, 2440.0),  # a
        (270.0, 2290.0, 3010.0),  # i
        (300.0, 870.0, 2240.0),  # u
        (530.0, 1840.0, 2480.0),  # e
        (570.0, 840.0, 2410.0),  # o
        (660.0, 1720.0, 2410.0),  # ae
    ]
)
_HIGH_FORMANTS = (3300.0, 3750.0)
_BANDWIDTHS = np.array([60.0, 90.0, 120.0, 180.0, 250.0])
# Frication bands (low, high) Hz of the noise-burst consonants.
_FRICATIVES = ((2500.0, 7000.0), (1500.0, 4500.0), (800.0, 3000.0), (3500.0, 7500.0))


@dataclass(frozen=True)
class SyntheticDomain:
    """One recording setting of the synthetic corpus: its speakers, style and channel.

    Attributes:
        name: domain name; prefixes the speaker ids and fills the ``domain`` column.
        elicitation: the ``elicitation`` column (defaults to ``name``).
        prototypes: this domain's own (arousal, valence, dominance) prototype for some
            emotions, overriding :data:`EMOTION_PROTOTYPES` (spontaneous happiness is
            content rather than elated, spontaneous anger irritated rather than shouting).
        expressiveness: range of the factor scaling each utterance's emotion prototype
            (1 = the prototype as is; smaller is subtler).
        emotion_spread: standard deviation of each utterance's arousal/valence/dominance
            around its scaled prototype (bigger is more variable).
        cue_gain: per-cue multipliers (keys from :data:`CUES`) of how strongly the
            domain's speakers express emotion through that cue; missing cues use 1.
        speaker_cue_spread: log-normal spread of each speaker's own multiplier per cue
            (0: every speaker expresses emotion the same way).
        f0_male_hz, f0_female_hz: median speaking F0 of the domain's speakers.
        f0_spread_semitones: spread of speakers' F0 around those medians.
        vtl_spread: spread of the speakers' formant scaling (vocal-tract length).
        rate_spread: spread of the speakers' speaking rate (log scale).
        level_spread_db: spread of the speakers' speech level (microphone distance, gain).
        timing_jitter: variability of syllable and pause durations.
        band_hz: pass band (low, high) of the channel in Hz, ``None`` for full band.
        snr_db: signal-to-noise ratio of additive pink noise, ``None`` for none.
        snr_spread_db: per-utterance spread of that SNR.
        rt60_s: reverberation time of the room impulse response, ``None`` for none.
        drr_db: direct-to-reverberant energy ratio of that impulse response.
        channel_tilt_spread: spread of a per-speaker microphone/line colouring filter.
        laughter: how much positive speech is interspersed with laughter (pulsed,
            breathy, irregular voicing at high F0), as in spontaneous conversation.
        creak: how much low-arousal speech ends in creaky voice (low, irregular,
            alternating pulses), as in spontaneous conversation.
        agc: automatic gain control of the channel, the fraction (0-1) of each
            utterance's deviation from a fixed speech level that it removes (telephone
            networks and call recorders level their input, hiding vocal loudness).
        mu_law: whether the channel applies 8-bit mu-law coding (telephone).

    Example:
        >>> quiet = SyntheticDomain("lab", snr_db=40.0, band_hz=(80.0, 7000.0))
        >>> quiet.elicitation
        'lab'
    """

    name: str
    elicitation: str = ""
    prototypes: Mapping[str, tuple[float, float, float]] = field(default_factory=dict)
    expressiveness: tuple[float, float] = (0.9, 1.1)
    emotion_spread: float = 0.08
    cue_gain: Mapping[str, float] = field(default_factory=dict)
    speaker_cue_spread: float = 0.1
    f0_male_hz: float = 115.0
    f0_female_hz: float = 205.0
    f0_spread_semitones: float = 1.5
    vtl_spread: float = 0.04
    rate_spread: float = 0.08
    level_spread_db: float = 2.0
    timing_jitter: float = 0.15
    band_hz: tuple[float, float] | None = None
    snr_db: float | None = None
    snr_spread_db: float = 0.0
    rt60_s: float | None = None
    drr_db: float = 10.0
    channel_tilt_spread: float = 0.0
    laughter: float = 0.0
    creak: float = 0.0
    agc: float = 0.0
    mu_law: bool = False

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(
                f"domain name {self.name!r} must be a non-empty word (letters, digits, - or _)"
            )
        if not self.elicitation:
            object.__setattr__(self, "elicitation", self.name)
        unknown = sorted(set(self.cue_gain) - set(CUES))
        if unknown:
            raise ValueError(f"domain {self.name!r}: unknown cue(s) {unknown}; cues are {CUES}")
        object.__setattr__(self, "cue_gain", dict(self.cue_gain))
        unknown = sorted(set(self.prototypes) - set(EMOTION_PROTOTYPES))
        if unknown:
            raise ValueError(
                f"domain {self.name!r}: prototypes for unknown emotion(s) {unknown}; "
                f"emotions are {sorted(EMOTION_PROTOTYPES)}"
            )
        prototypes = {e: tuple(float(x) for x in p) for e, p in self.prototypes.items()}
        if any(len(p) != 3 or max(abs(x) for x in p) > 1 for p in prototypes.values()):
            raise ValueError(
                f"domain {self.name!r}: each prototype is (arousal, valence, dominance) in [-1, 1]"
            )
        object.__setattr__(self, "prototypes", prototypes)
        low, high = self.expressiveness
        if not 0 <= low <= high:
            raise ValueError(f"domain {self.name!r}: expressiveness needs 0 <= low <= high")
        if not 0 <= self.agc <= 1:
            raise ValueError(f"domain {self.name!r}: agc must be between 0 and 1")
        if self.band_hz is not None and not 0 <= self.band_hz[0] < self.band_hz[1]:
            raise ValueError(f"domain {self.name!r}: band_hz needs 0 <= low < high")

    def gain(self, cue: str) -> float:
        """How strongly this domain expresses emotion through ``cue`` (1 when unset)."""
        return float(self.cue_gain.get(cue, 1.0))

    def prototype(self, emotion: str) -> tuple[float, float, float]:
        """This domain's (arousal, valence, dominance) prototype of ``emotion``."""
        return self.prototypes.get(emotion, EMOTION_PROTOTYPES[emotion])

    def to_dict(self) -> dict:
        """The parameters as plain JSON-compatible values (for the manifest)."""
        values = dataclasses.asdict(self)
        values["cue_gain"] = dict(sorted(self.cue_gain.items()))
        values["prototypes"] = {e: list(p) for e, p in sorted(self.prototypes.items())}
        return json.loads(json.dumps(values))


DOMAINS: dict[str, SyntheticDomain] = {
    "acted": SyntheticDomain(
        name="acted",
        expressiveness=(0.95, 1.15),
        emotion_spread=0.08,
        cue_gain={"f0_level": 1.4, "f0_range": 1.4, "contour": 1.4, "voice_quality": 1.3},
        speaker_cue_spread=0.1,
        f0_male_hz=120.0,
        f0_female_hz=215.0,
        f0_spread_semitones=1.5,
        vtl_spread=0.035,
        band_hz=(50.0, 7900.0),
        snr_db=45.0,
    ),
    "spontaneous": SyntheticDomain(
        name="spontaneous",
        prototypes={
            "anger": (0.4, -0.7, 0.6),
            "happiness": (0.25, 0.7, 0.2),
            "sadness": (-0.5, -0.6, -0.4),
        },
        expressiveness=(0.8, 1.1),
        emotion_spread=0.12,
        cue_gain={
            "f0_level": 0.4,
            "f0_range": 0.5,
            "contour": 1.6,
            "voice_quality": 1.5,
            "formants": 2.0,
            "tempo": 1.3,
            "loudness": 1.3,
            "tilt": 1.2,
        },
        speaker_cue_spread=0.15,
        f0_male_hz=105.0,
        f0_female_hz=190.0,
        f0_spread_semitones=2.0,
        vtl_spread=0.04,
        rate_spread=0.08,
        level_spread_db=1.0,
        timing_jitter=0.35,
        band_hz=(300.0, 3400.0),
        snr_db=20.0,
        snr_spread_db=3.0,
        rt60_s=0.35,
        drr_db=5.0,
        channel_tilt_spread=0.2,
        laughter=1.5,
        creak=1.5,
        mu_law=True,
    ),
    "broadcast": SyntheticDomain(
        name="broadcast",
        elicitation="read",
        expressiveness=(0.8, 1.1),
        emotion_spread=0.12,
        cue_gain={"tempo": 0.6, "voice_quality": 0.8, "contour": 1.2},
        speaker_cue_spread=0.15,
        f0_male_hz=110.0,
        f0_female_hz=200.0,
        f0_spread_semitones=2.0,
        vtl_spread=0.04,
        level_spread_db=1.0,
        band_hz=(80.0, 7000.0),
        snr_db=30.0,
        snr_spread_db=3.0,
        rt60_s=0.25,
        drr_db=8.0,
        channel_tilt_spread=0.15,
        creak=0.5,
    ),
}
"""The shipped domains: ``acted`` (studio, exaggerated and consistent), ``spontaneous``
(telephone conversation: band-limited, noisy, reverberant, mu-law coded; subtle and
variable, with its own prototypes, laughter and creak) and ``broadcast`` (read speech,
lightly coloured). From ``acted``, ``spontaneous`` is a far domain (source-only UAR about
0.5 against about 0.85 when trained on it) and ``broadcast`` a near one (no loss)."""

PRESETS: dict[str, dict] = {
    "demo": {
        "domains": ("acted", "spontaneous"),
        "speakers_per_domain": 8,
        "utterances_per_emotion": 12,
    },
    "tiny": {
        "domains": ("acted", "spontaneous"),
        "speakers_per_domain": 2,
        "utterances_per_emotion": 3,
    },
    "multi": {
        "domains": ("acted", "spontaneous", "broadcast"),
        "speakers_per_domain": 8,
        "utterances_per_emotion": 12,
    },
}
"""Named corpus sizes: ``demo`` (2 domains x 8 speakers x 4 emotions x 12 = 768 files),
``tiny`` (48 files, for tests) and ``multi`` (the demo size over all three domains)."""


@dataclass(frozen=True)
class _Speaker:
    speaker_id: str
    gender: str
    session: str
    f0_hz: float
    f0_range_semitones: float
    vtl_scale: float
    rate: float
    level_db: float
    breathiness: float
    jitter: float
    shimmer: float
    closing_phase: float
    cue_gain: dict[str, float]
    channel_tilt: float


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _rng(*key: int | str) -> np.random.Generator:
    entropy = [k if isinstance(k, int) else _stable_hash(k) for k in key]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _make_speaker(domain: SyntheticDomain, index: int, seed: int) -> _Speaker:
    rng = _rng(seed, "speaker", domain.name, index)
    gender = "female" if index % 2 == 0 else "male"
    median = domain.f0_female_hz if gender == "female" else domain.f0_male_hz
    vtl_base = 1.17 if gender == "female" else 1.0
    pair = index // 2 + 1  # one female and one male speaker per session, as in IEMOCAP
    return _Speaker(
        speaker_id=f"{domain.name}_{gender[0]}{pair:02d}",
        gender=gender,
        session=f"{domain.name}_s{pair:02d}",
        f0_hz=median * 2.0 ** (domain.f0_spread_semitones * rng.standard_normal() / 12.0),
        f0_range_semitones=float(np.clip(rng.normal(3.5, 0.8), 1.5, 6.0)),
        vtl_scale=vtl_base * float(np.exp(domain.vtl_spread * rng.standard_normal())),
        rate=4.2 * float(np.exp(domain.rate_spread * rng.standard_normal())),
        level_db=float(domain.level_spread_db * rng.standard_normal()),
        breathiness=float(np.clip(rng.normal(0.06, 0.02), 0.01, 0.15)),
        jitter=float(np.clip(rng.normal(0.006, 0.0015), 0.002, 0.012)),
        shimmer=float(np.clip(rng.normal(0.04, 0.01), 0.015, 0.08)),
        closing_phase=float(np.clip(rng.normal(0.14, 0.02), 0.08, 0.22)),
        cue_gain={
            cue: domain.gain(cue) * float(np.exp(domain.speaker_cue_spread * rng.standard_normal()))
            for cue in CUES
        },
        channel_tilt=float(np.clip(domain.channel_tilt_spread * rng.standard_normal(), -0.4, 0.4)),
    )


def _resonator(freq: float, bandwidth: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Second-order IIR resonator with unit gain at 0 Hz."""
    r = np.exp(-np.pi * bandwidth / sr)
    a = np.array([1.0, -2.0 * r * np.cos(2.0 * np.pi * freq / sr), r * r])
    return np.array([a.sum()]), a


def _glottal_pulse(phase: np.ndarray, open_phase: float, closing_phase: float) -> np.ndarray:
    """Rosenberg glottal flow over one period, ``phase`` in [0, 1)."""
    flow = np.zeros_like(phase)
    rising = phase < open_phase
    flow[rising] = 0.5 * (1.0 - np.cos(np.pi * phase[rising] / open_phase))
    falling = (phase >= open_phase) & (phase < open_phase + closing_phase)
    flow[falling] = np.cos(0.5 * np.pi * (phase[falling] - open_phase) / closing_phase)
    return flow


def _pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance 1/f noise (Kellet's IIR approximation of a -3 dB/octave slope)."""
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1.0, -2.494956002, 2.017265875, -0.522189400]
    noise = signal.lfilter(b, a, rng.standard_normal(n + 2000))[2000:]
    return noise / (np.std(noise) + 1e-12)


@functools.lru_cache(maxsize=256)
def _filter(kind: str, cutoff: float | tuple[float, float], sr: int) -> np.ndarray:
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


def _smooth(values: np.ndarray, width: int) -> np.ndarray:
    kernel = np.hanning(width + 2)[1:-1]
    return np.convolve(values, kernel / kernel.sum(), mode="same")


def _layout(
    rng: np.random.Generator, rate: float, arousal: float, jitter: float, sr: int
) -> tuple[list[tuple[int, int, int]], int]:
    """Syllable layout: (consonant start, vowel start, vowel end) samples, and total length.

    Syllables (and pauses between some of them) follow at ``rate`` per second until the
    speech would pass a random 1.2-1.9 s, so tempo shows as syllable rate, not length.
    """
    pause_probability = float(np.clip(0.18 - 0.12 * arousal, 0.03, 0.4))
    t = rng.uniform(0.12, 0.22)
    speech_end = t + rng.uniform(1.2, 1.9)
    syllables: list[tuple[int, int, int]] = []
    while True:
        length = float(np.clip(np.exp(jitter * rng.standard_normal()), 0.5, 2.0)) / rate
        pause = rng.uniform(0.06, 0.22) if rng.random() < pause_probability else 0.0
        if syllables and t + length > speech_end:
            break
        consonant = length * rng.uniform(0.2, 0.35) if rng.random() < 0.7 else 0.0
        start = int(t * sr)
        vowel = int((t + consonant) * sr)
        t += length
        syllables.append((start, vowel, int(t * sr)))
        if t + pause < speech_end:
            t += pause
    t += rng.uniform(0.15, 0.25)
    return syllables, int(t * sr)


def _voice(
    speaker: _Speaker,
    domain: SyntheticDomain,
    avd: tuple[float, float, float],
    rng: np.random.Generator,
    sr: int,
) -> np.ndarray:
    """Synthesise one utterance expressing (arousal, valence, dominance), before the channel."""
    arousal, valence, dominance = avd
    gain = speaker.cue_gain
    rate = speaker.rate * np.exp(0.22 * gain["tempo"] * arousal)
    syllables, n = _layout(rng, rate, arousal, domain.timing_jitter, sr)
    duration = n / sr
    time = np.arange(n) / sr

    # F0 contour on a 5 ms grid: level, declination and final movement (valence), accents.
    frames = np.arange(0.0, duration + 0.005, 0.005)
    level = (
        4.0 * gain["f0_level"] * arousal
        - 1.5 * gain["f0_level"] * dominance
        + 1.5 * gain["contour"] * valence
    )
    span = speaker.f0_range_semitones * np.exp(
        0.45 * gain["f0_range"] * arousal + 0.3 * gain["contour"] * valence
    )
    position = frames / duration
    declination = (-2.5 + 2.0 * gain["contour"] * valence) * position
    final = 3.0 * gain["contour"] * valence * np.clip((position - 0.7) / 0.3, 0.0, 1.0) ** 2
    accents = np.zeros(len(frames))
    accent_rate = np.clip(0.45 + 0.3 * gain["contour"] * valence, 0.05, 0.95)
    sharpness = np.clip(0.6 - 0.2 * gain["contour"] * valence, 0.25, 1.0)
    for _, vowel, end in syllables:
        if rng.random() < accent_rate:
            centre = (vowel + end) / 2 / sr
            width = max((end - vowel) / sr, 0.04) * sharpness
            height = span * rng.uniform(0.4, 1.0)
            accents += height * np.exp(-0.5 * ((frames - centre) / width) ** 2)
    wander = 0.8 * _smooth(rng.standard_normal(len(frames)), 16)
    semitones = level + declination + final + accents + wander
    f0 = speaker.f0_hz * 2.0 ** (np.interp(time, frames, semitones) / 12.0)
    f0 = np.clip(f0, 60.0, 500.0)

    # Spontaneous style: laughter in positive speech, phrase-final creak at low arousal.
    laugh = domain.laughter * max(valence, 0.0) * rng.uniform(0.5, 1.5)
    creak = domain.creak * max(-arousal, 0.0) * rng.uniform(0.5, 1.5)
    creak_ramp = min(creak, 1.0) * np.clip((time / duration - 0.55) / 0.35, 0.0, 1.0)
    bursts = 0.5 * (1.0 + np.cos(2.0 * np.pi * rng.uniform(4.0, 6.0) * time + rng.uniform(0, 6)))
    f0 = f0 * 2.0 ** ((2.0 * min(laugh, 1.0) * bursts - 7.0 * creak_ramp) / 12.0)

    # Glottal source: Rosenberg pulses with jitter (per-period F0) and shimmer (amplitude).
    quality = gain["voice_quality"]
    jitter = speaker.jitter * np.exp(0.35 * quality * arousal - 0.45 * quality * valence)
    jitter *= np.exp(2.0 * laugh)
    shimmer = speaker.shimmer * np.exp(0.3 * quality * arousal - 0.4 * quality * valence)
    shimmer *= np.exp(1.5 * laugh)
    n_periods = int(np.sum(f0) / sr) + 4
    nominal = np.minimum(np.floor(np.cumsum(f0) / sr).astype(int), n_periods - 1)
    creaky = np.zeros(n_periods)
    np.maximum.at(creaky, nominal, creak_ramp)
    period_f0 = 1.0 + (jitter + 0.08 * creaky) * rng.standard_normal(n_periods)
    period_amp = np.clip(1.0 + shimmer * rng.standard_normal(n_periods), 0.3, 2.0)
    period_amp[1::2] *= 1.0 - 0.8 * creaky[1::2]  # alternating pulses: subharmonic creak
    phase = np.cumsum(f0 * period_f0[nominal]) / sr
    period = np.minimum(np.floor(phase).astype(int), n_periods - 1)
    closing = np.clip(
        speaker.closing_phase
        * np.exp(-0.35 * gain["tilt"] * arousal - 0.2 * gain["tilt"] * dominance),
        0.04,
        0.3,
    )
    flow = _glottal_pulse(phase - np.floor(phase), 0.4, closing) * period_amp[period]
    source = np.diff(flow, prepend=0.0) * (sr / speaker.f0_hz / 20.0)
    breath = speaker.breathiness * np.exp(-0.7 * quality * arousal) * (1.0 + 3.0 * laugh)
    source += breath * rng.standard_normal(n) * (0.3 + flow)
    source *= 1.0 - 0.6 * min(laugh, 1.0) * bursts

    # Extra spectral tilt: a one-pole low-pass, weaker for high arousal and dominance.
    pole = float(
        np.clip(0.55 - 0.25 * gain["tilt"] * arousal - 0.12 * gain["tilt"] * dominance, 0.0, 0.9)
    )
    source = signal.lfilter([1.0 - pole], [1.0, -pole], source)

    # Syllables: vowel through formant cascade, consonant as band-passed noise.
    formant_shift = speaker.vtl_scale * (1.0 + 0.04 * gain["formants"] * valence)
    f1_shift = 1.0 + 0.08 * gain["formants"] * arousal
    out = np.zeros(n)
    ramp = int(0.015 * sr)
    for start, vowel, end in syllables:
        stress = rng.uniform(0.55, 1.0)
        formants = np.concatenate([_VOWELS[rng.integers(len(_VOWELS))], _HIGH_FORMANTS])
        formants = formants * formant_shift * np.exp(0.03 * rng.standard_normal(5))
        formants[0] *= f1_shift
        bandwidths = _BANDWIDTHS * (1.0 + 0.3 * breath / 0.06)
        tail = min(n, end + int(0.03 * sr))
        segment = source[vowel:tail].copy()
        envelope = np.ones(len(segment))
        body = end - vowel
        hump = np.sin(np.pi * np.linspace(0.0, 1.0, body)) ** 0.4
        envelope[:body] = hump
        envelope[body:] = 0.0
        r = min(ramp, body // 2)
        envelope[:r] *= np.linspace(0.0, 1.0, r)
        segment *= envelope * stress
        for freq, bandwidth in zip(formants, bandwidths, strict=True):
            if freq < 0.45 * sr:
                b, a = _resonator(freq, bandwidth, sr)
                segment = signal.lfilter(b, a, segment)
        out[vowel:tail] += segment
        if vowel > start:
            low, high = _FRICATIVES[rng.integers(len(_FRICATIVES))]
            sos = _filter("band", (low, min(high, 0.45 * sr)), sr)
            burst = signal.sosfilt(sos, rng.standard_normal(vowel - start))
            burst *= np.hanning(vowel - start) * 0.25 * stress
            out[start:vowel] += burst

    level_db = (
        -28.0
        + speaker.level_db
        + 6.0 * gain["loudness"] * arousal
        + 3.0 * gain["loudness"] * dominance
    )
    active = np.abs(out) > 1e-6
    rms = np.sqrt(np.mean(out[active] ** 2)) if active.any() else 1.0
    return out * (10.0 ** (level_db / 20.0) / rms)


def _channel(
    audio: np.ndarray,
    speaker: _Speaker,
    domain: SyntheticDomain,
    rng: np.random.Generator,
    sr: int,
) -> np.ndarray:
    """Room, noise, microphone/line colouring, band limits and coding of one domain."""
    n = len(audio)
    speech_power = np.mean(audio[np.abs(audio) > 1e-6] ** 2) if np.any(audio) else 1.0
    if domain.rt60_s:
        length = int(domain.rt60_s * sr)
        t = np.arange(length) / sr
        tail = rng.standard_normal(length) * np.exp(-6.9 * t / domain.rt60_s)
        tail[: int(0.002 * sr)] = 0.0
        tail *= np.sqrt(10.0 ** (-domain.drr_db / 10.0) / np.sum(tail**2))
        tail[0] = 1.0
        audio = signal.fftconvolve(audio, tail)[:n]
    if domain.snr_db is not None:
        snr = domain.snr_db + domain.snr_spread_db * rng.standard_normal()
        audio = audio + _pink_noise(n, rng) * np.sqrt(speech_power / 10.0 ** (snr / 10.0))
    if domain.agc:
        level_db = 10.0 * np.log10(speech_power)
        audio = audio * 10.0 ** (domain.agc * (_AGC_LEVEL_DB - level_db) / 20.0)
    if speaker.channel_tilt:  # colours the spectrum, keeps the level
        coloured = signal.lfilter([1.0, -speaker.channel_tilt], [1.0], audio)
        audio = coloured * np.sqrt(np.mean(audio**2) / (np.mean(coloured**2) + 1e-20))
    if domain.mu_law:
        mu = 255.0
        peak = np.max(np.abs(audio)) + 1e-12
        scaled = np.clip(audio / peak, -1.0, 1.0)
        coded = np.sign(scaled) * np.log1p(mu * np.abs(scaled)) / np.log1p(mu)
        coded = np.round(coded * 127.0) / 127.0
        audio = peak * np.sign(coded) * np.expm1(np.abs(coded) * np.log1p(mu)) / mu
    if domain.band_hz is not None:
        low, high = domain.band_hz
        if high < 0.49 * sr:
            audio = signal.sosfilt(_filter("edge", high, sr), audio)
        if low > 0:
            audio = signal.sosfilt(_filter("rolloff", low, sr), audio)
    peak = np.max(np.abs(audio))
    if peak > 0.98:
        audio = audio * (0.98 / peak)
    return audio


def _resolve_domains(domains: Iterable[str | SyntheticDomain]) -> list[SyntheticDomain]:
    if isinstance(domains, str | SyntheticDomain):
        domains = [domains]
    resolved = []
    for domain in domains:
        if isinstance(domain, SyntheticDomain):
            resolved.append(domain)
        elif domain in DOMAINS:
            resolved.append(DOMAINS[domain])
        else:
            raise ValueError(
                f"unknown synthetic domain {domain!r}; use one of {sorted(DOMAINS)} "
                "or pass a SyntheticDomain"
            )
    if not resolved:
        raise ValueError("at least one synthetic domain is needed")
    names = [d.name for d in resolved]
    if len(set(names)) != len(names):
        raise ValueError(f"synthetic domain names must be unique, got {names}")
    return resolved


def _check_arguments(
    emotions: Sequence[str], speakers_per_domain: int, utterances_per_emotion: int, sr: int
) -> None:
    if isinstance(emotions, str):
        raise ValueError(f"emotions must be a sequence of names, not the string {emotions!r}")
    unknown = [e for e in emotions if e not in EMOTION_PROTOTYPES]
    if unknown:
        raise ValueError(
            f"unknown emotion(s) {unknown} for the synthetic voice; "
            f"it can express {sorted(EMOTION_PROTOTYPES)}"
        )
    if not emotions or len(set(emotions)) != len(emotions):
        raise ValueError(f"emotions must be a non-empty list without repeats, got {emotions}")
    if int(speakers_per_domain) < 1:
        raise ValueError(f"speakers_per_domain must be at least 1, got {speakers_per_domain}")
    if int(utterances_per_emotion) < 1:
        raise ValueError(f"utterances_per_emotion must be at least 1, got {utterances_per_emotion}")
    if sr < 8000:
        raise ValueError(f"sample_rate must be at least 8000 Hz, got {sr}")


def _sample_avd(
    emotion: str, domain: SyntheticDomain, rng: np.random.Generator
) -> tuple[tuple[float, float, float], float]:
    """An utterance's (arousal, valence, dominance) and the intensity that scaled them."""
    scale = round(float(rng.uniform(*domain.expressiveness)), 4)
    avd = np.array(domain.prototype(emotion)) * scale + domain.emotion_spread * rng.standard_normal(
        3
    )
    arousal, valence, dominance = (float(x) for x in np.round(np.clip(avd, -1.0, 1.0), 4))
    return (arousal, valence, dominance), scale


def _reuse(out_dir: Path, manifest: dict) -> pd.DataFrame | None:
    manifest_path = out_dir / MANIFEST_NAME
    table_path = out_dir / TABLE_NAME
    if not (manifest_path.is_file() and table_path.is_file()):
        return None
    try:
        stored = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if stored != manifest:
        return None
    table = read_table(table_path)
    if not table["file"].map(lambda f: os.path.isfile(str(f))).all():
        return None
    return table


def generate_corpus(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    domains: Iterable[str | SyntheticDomain] = ("acted", "spontaneous"),
    speakers_per_domain: int = 8,
    utterances_per_emotion: int = 12,
    emotions: Sequence[str] = ("anger", "happiness", "sadness", "neutral"),
    sample_rate: int = SAMPLE_RATE,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Generate the synthetic corpus in ``out_dir`` and return its corpus table.

    Writes ``wav/<domain>/<speaker>/<speaker>_<emotion>_<nnn>.wav`` (mono PCM_16),
    ``corpus.parquet`` (the table) and ``manifest.json`` (the parameters). A folder that
    already holds a complete corpus with the same parameters is reused as it is; one that
    holds a synthetic corpus with other parameters has its ``wav`` folder replaced.

    Args:
        out_dir: folder to write into (created if needed).
        seed: the random seed; the same seed gives byte-identical files.
        domains: names from :data:`DOMAINS` or :class:`SyntheticDomain` objects.
        speakers_per_domain: speakers per domain, alternately female and male.
        utterances_per_emotion: utterances per speaker and emotion.
        emotions: emotions to express, names from :data:`EMOTION_PROTOTYPES`.
        sample_rate: sampling rate of the WAV files in Hz.
        progress: draw a progress bar (``None``: on a terminal only).

    Returns:
        The corpus table (see :mod:`emoshift.data.table`) with extra columns ``domain``
        and ``intensity`` (how strongly the utterance expresses its emotion's prototype).

    Example:
        >>> import tempfile
        >>> table = generate_corpus(tempfile.mkdtemp(), speakers_per_domain=1,
        ...                         utterances_per_emotion=1, progress=False)
        >>> len(table), table["speaker"].nunique()
        (8, 2)
    """
    resolved = _resolve_domains(domains)
    emotions = list(emotions) if not isinstance(emotions, str) else emotions
    _check_arguments(emotions, speakers_per_domain, utterances_per_emotion, sample_rate)
    out_dir = Path(out_dir).resolve()
    manifest = {
        "corpus": CORPUS_NAME,
        "generator": "emoshift.data.synthetic",
        "version": GENERATOR_VERSION,
        "seed": int(seed),
        "domains": [d.to_dict() for d in resolved],
        "speakers_per_domain": int(speakers_per_domain),
        "utterances_per_emotion": int(utterances_per_emotion),
        "emotions": list(emotions),
        "sample_rate": int(sample_rate),
    }
    reused = _reuse(out_dir, manifest)
    if reused is not None:
        return reused
    if (out_dir / MANIFEST_NAME).is_file():  # an older synthetic corpus: replace its audio
        (out_dir / MANIFEST_NAME).unlink()
        shutil.rmtree(out_dir / "wav", ignore_errors=True)

    speakers = [
        (domain, _make_speaker(domain, s, seed))
        for domain in resolved
        for s in range(speakers_per_domain)
    ]
    jobs = [
        (domain, speaker, emotion, u)
        for domain, speaker in speakers
        for emotion in emotions
        for u in range(utterances_per_emotion)
    ]
    rows = []
    for domain, speaker, emotion, index in progress_bar(
        jobs, desc="synthetic corpus", enabled=progress, unit="utt"
    ):
        rng = _rng(seed, "utterance", domain.name, speaker.speaker_id, emotion, index)
        avd, intensity = _sample_avd(emotion, domain, rng)
        audio = _channel(
            _voice(speaker, domain, avd, rng, sample_rate), speaker, domain, rng, sample_rate
        )
        path = out_dir / "wav" / domain.name / speaker.speaker_id
        path.mkdir(parents=True, exist_ok=True)
        path = path / f"{speaker.speaker_id}_{emotion}_{index:03d}.wav"
        sf.write(path, audio.astype(np.float32), sample_rate, subtype="PCM_16")
        rows.append(
            {
                "file": str(path),
                "corpus": CORPUS_NAME,
                "speaker": speaker.speaker_id,
                "gender": speaker.gender,
                "language": LANGUAGE,
                "emotion": emotion,
                "arousal": avd[0],
                "valence": avd[1],
                "dominance": avd[2],
                "arousal_raw": 3.0 + 2.0 * avd[0],
                "valence_raw": 3.0 + 2.0 * avd[1],
                "dominance_raw": 3.0 + 2.0 * avd[2],
                "elicitation": domain.elicitation,
                "session": speaker.session,
                "duration": len(audio) / sample_rate,
                "domain": domain.name,
                "intensity": intensity,
            }
        )
    table = make_table(rows)
    write_table(table, out_dir / TABLE_NAME)
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return table


def generate_preset(
    out_dir: str | os.PathLike,
    name: str = "demo",
    *,
    seed: int = 0,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Generate one of the named corpus sizes in :data:`PRESETS` (``demo``, ``tiny``, ...).

    Example:
        >>> import tempfile
        >>> len(generate_preset(tempfile.mkdtemp(), "tiny", progress=False))
        48
    """
    if name not in PRESETS:
        raise ValueError(f"unknown synthetic preset {name!r}; use one of {sorted(PRESETS)}")
    return generate_corpus(out_dir, seed=seed, progress=progress, **PRESETS[name])
