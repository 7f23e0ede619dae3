"""The synthetic voice: a source-filter model of one speaker saying one utterance.

A speaker (:class:`Speaker`, drawn by :func:`make_speaker`) has an F0, a vocal-tract
length, a speaking rate, a level and a voice quality of its own. :func:`voice` turns an
utterance's (arousal, valence, dominance) into audio in named steps:

1. :func:`syllable_layout`: syllables and pauses at a rate that follows arousal;
2. :func:`f0_contour`: level, range, declination, final movement and accents;
3. :func:`conversational_style`: laughter in positive and creak in low-arousal speech;
4. :func:`glottal_source`: Rosenberg pulses with jitter and shimmer, aspiration noise;
5. :func:`spectral_tilt`: a one-pole low-pass that weakens with arousal and dominance;
6. :func:`articulate`: vowels through a formant cascade, consonants as noise bursts;
7. :func:`set_level`: the speech level that loudness cues and the speaker set.

Every step draws from the utterance's own generator in this order, so the same seed
gives the same samples.

Example:
    >>> from emoshift.data.synthetic.domains import DOMAINS
    >>> speaker = make_speaker(DOMAINS["acted"], 0, seed=0)
    >>> speaker.speaker_id, speaker.gender
    ('acted_f01', 'female')
    >>> audio = voice(speaker, DOMAINS["acted"], (0.5, 0.0, 0.0), rng(0, "doc"), 16000)
    >>> 1.4 < len(audio) / 16000 < 2.5
    True
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy import signal

from emoshift.data.synthetic.domains import CUES, SyntheticDomain
from emoshift.data.synthetic.dsp import glottal_pulse, resonator, smooth, sos_filter

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

AVD = tuple[float, float, float]
"""An utterance's (arousal, valence, dominance), each in [-1, 1]."""
Syllable = tuple[int, int, int]
"""A syllable's (consonant start, vowel start, vowel end) in samples."""


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker's voice: the parameters :func:`voice` reads."""

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


@dataclass(frozen=True)
class Style:
    """Conversational voice of one utterance: laughter amount, creak ramp, laugh bursts."""

    laugh: float
    creak_ramp: np.ndarray
    bursts: np.ndarray


def rng(*key: int | str) -> np.random.Generator:
    """A generator seeded by ``key`` (strings through CRC-32), the same on every platform."""
    entropy = [k if isinstance(k, int) else zlib.crc32(k.encode("utf-8")) for k in key]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def make_speaker(domain: SyntheticDomain, index: int, seed: int) -> Speaker:
    """Speaker ``index`` of ``domain`` (even indices female, odd male, two per session)."""
    draw = rng(seed, "speaker", domain.name, index)
    gender = "female" if index % 2 == 0 else "male"
    median = domain.f0_female_hz if gender == "female" else domain.f0_male_hz
    vtl_base = 1.17 if gender == "female" else 1.0
    pair = index // 2 + 1  # one female and one male speaker per session, as in IEMOCAP
    return Speaker(
        speaker_id=f"{domain.name}_{gender[0]}{pair:02d}",
        gender=gender,
        session=f"{domain.name}_s{pair:02d}",
        f0_hz=median * 2.0 ** (domain.f0_spread_semitones * draw.standard_normal() / 12.0),
        f0_range_semitones=float(np.clip(draw.normal(3.5, 0.8), 1.5, 6.0)),
        vtl_scale=vtl_base * float(np.exp(domain.vtl_spread * draw.standard_normal())),
        rate=4.2 * float(np.exp(domain.rate_spread * draw.standard_normal())),
        level_db=float(domain.level_spread_db * draw.standard_normal()),
        breathiness=float(np.clip(draw.normal(0.06, 0.02), 0.01, 0.15)),
        jitter=float(np.clip(draw.normal(0.006, 0.0015), 0.002, 0.012)),
        shimmer=float(np.clip(draw.normal(0.04, 0.01), 0.015, 0.08)),
        closing_phase=float(np.clip(draw.normal(0.14, 0.02), 0.08, 0.22)),
        cue_gain={
            cue: domain.gain(cue)
            * float(np.exp(domain.speaker_cue_spread * draw.standard_normal()))
            for cue in CUES
        },
        channel_tilt=float(np.clip(domain.channel_tilt_spread * draw.standard_normal(), -0.4, 0.4)),
    )


def syllable_layout(
    rng: np.random.Generator, rate: float, arousal: float, jitter: float, sr: int
) -> tuple[list[Syllable], int]:
    """Syllable layout: (consonant start, vowel start, vowel end) samples, and total length.

    Syllables (and pauses between some of them) follow at ``rate`` per second until the
    speech would pass a random 1.2-1.9 s, so tempo shows as syllable rate, not length.
    """
    pause_probability = float(np.clip(0.18 - 0.12 * arousal, 0.03, 0.4))
    t = rng.uniform(0.12, 0.22)
    speech_end = t + rng.uniform(1.2, 1.9)
    syllables: list[Syllable] = []
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


def f0_contour(
    speaker: Speaker,
    avd: AVD,
    syllables: list[Syllable],
    time: np.ndarray,
    rng: np.random.Generator,
    sr: int,
) -> np.ndarray:
    """F0 per sample: level, declination and final movement (valence), accents, wander.

    The contour is built on a 5 ms grid and interpolated to the samples.
    """
    arousal, valence, dominance = avd
    gain = speaker.cue_gain
    duration = len(time) / sr
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
    wander = 0.8 * smooth(rng.standard_normal(len(frames)), 16)
    semitones = level + declination + final + accents + wander
    f0 = speaker.f0_hz * 2.0 ** (np.interp(time, frames, semitones) / 12.0)
    return np.clip(f0, 60.0, 500.0)


def conversational_style(
    domain: SyntheticDomain, avd: AVD, time: np.ndarray, rng: np.random.Generator, sr: int
) -> Style:
    """Laughter in positive speech and phrase-final creak at low arousal (spontaneous)."""
    arousal, valence, _ = avd
    duration = len(time) / sr
    laugh = domain.laughter * max(valence, 0.0) * rng.uniform(0.5, 1.5)
    creak = domain.creak * max(-arousal, 0.0) * rng.uniform(0.5, 1.5)
    creak_ramp = min(creak, 1.0) * np.clip((time / duration - 0.55) / 0.35, 0.0, 1.0)
    bursts = 0.5 * (1.0 + np.cos(2.0 * np.pi * rng.uniform(4.0, 6.0) * time + rng.uniform(0, 6)))
    return Style(laugh, creak_ramp, bursts)


def glottal_source(
    speaker: Speaker,
    avd: AVD,
    f0: np.ndarray,
    style: Style,
    rng: np.random.Generator,
    sr: int,
) -> tuple[np.ndarray, float]:
    """Rosenberg pulses with jitter (per-period F0) and shimmer (amplitude), plus breath.

    Returns the source signal and the breathiness (aspiration level) of the utterance.
    """
    arousal, valence, dominance = avd
    gain, laugh, n = speaker.cue_gain, style.laugh, len(f0)
    quality = gain["voice_quality"]
    jitter = speaker.jitter * np.exp(0.35 * quality * arousal - 0.45 * quality * valence)
    jitter *= np.exp(2.0 * laugh)
    shimmer = speaker.shimmer * np.exp(0.3 * quality * arousal - 0.4 * quality * valence)
    shimmer *= np.exp(1.5 * laugh)
    n_periods = int(np.sum(f0) / sr) + 4
    nominal = np.minimum(np.floor(np.cumsum(f0) / sr).astype(int), n_periods - 1)
    creaky = np.zeros(n_periods)
    np.maximum.at(creaky, nominal, style.creak_ramp)
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
    flow = glottal_pulse(phase - np.floor(phase), 0.4, closing) * period_amp[period]
    source = np.diff(flow, prepend=0.0) * (sr / speaker.f0_hz / 20.0)
    breath = speaker.breathiness * np.exp(-0.7 * quality * arousal) * (1.0 + 3.0 * laugh)
    source += breath * rng.standard_normal(n) * (0.3 + flow)
    source *= 1.0 - 0.6 * min(laugh, 1.0) * style.bursts
    return source, breath


def spectral_tilt(source: np.ndarray, speaker: Speaker, avd: AVD) -> np.ndarray:
    """Extra spectral tilt: a one-pole low-pass, weaker for high arousal and dominance."""
    arousal, _, dominance = avd
    tilt = speaker.cue_gain["tilt"]
    pole = float(np.clip(0.55 - 0.25 * tilt * arousal - 0.12 * tilt * dominance, 0.0, 0.9))
    return signal.lfilter([1.0 - pole], [1.0, -pole], source)


def _vowel(
    source: np.ndarray,
    syllable: Syllable,
    formants: np.ndarray,
    bandwidths: np.ndarray,
    stress: float,
    sr: int,
) -> tuple[np.ndarray, int]:
    """One vowel: the source under a syllable envelope through the formant cascade.

    Returns the vowel and where it ends (30 ms past the syllable, for the filter tails).
    """
    _, vowel, end = syllable
    n = len(source)
    tail = min(n, end + int(0.03 * sr))
    segment = source[vowel:tail].copy()
    envelope = np.ones(len(segment))
    body = end - vowel
    hump = np.sin(np.pi * np.linspace(0.0, 1.0, body)) ** 0.4
    envelope[:body] = hump
    envelope[body:] = 0.0
    r = min(int(0.015 * sr), body // 2)
    envelope[:r] *= np.linspace(0.0, 1.0, r)
    segment *= envelope * stress
    for freq, bandwidth in zip(formants, bandwidths, strict=True):
        if freq < 0.45 * sr:
            b, a = resonator(freq, bandwidth, sr)
            segment = signal.lfilter(b, a, segment)
    return segment, tail


def articulate(
    source: np.ndarray,
    syllables: list[Syllable],
    speaker: Speaker,
    avd: AVD,
    breath: float,
    rng: np.random.Generator,
    sr: int,
) -> np.ndarray:
    """Syllables: each vowel through a formant cascade, each consonant as band-passed noise.

    Formants follow the speaker's vocal-tract length, rise slightly with valence
    (smiling) and F1 with arousal; bandwidths widen with breathiness.
    """
    arousal, valence, _ = avd
    gain = speaker.cue_gain
    formant_shift = speaker.vtl_scale * (1.0 + 0.04 * gain["formants"] * valence)
    f1_shift = 1.0 + 0.08 * gain["formants"] * arousal
    out = np.zeros(len(source))
    for start, vowel, end in syllables:
        stress = rng.uniform(0.55, 1.0)
        formants = np.concatenate([_VOWELS[rng.integers(len(_VOWELS))], _HIGH_FORMANTS])
        formants = formants * formant_shift * np.exp(0.03 * rng.standard_normal(5))
        formants[0] *= f1_shift
        bandwidths = _BANDWIDTHS * (1.0 + 0.3 * breath / 0.06)
        segment, tail = _vowel(source, (start, vowel, end), formants, bandwidths, stress, sr)
        out[vowel:tail] += segment
        if vowel > start:
            low, high = _FRICATIVES[rng.integers(len(_FRICATIVES))]
            sos = sos_filter("band", (low, min(high, 0.45 * sr)), sr)
            burst = signal.sosfilt(sos, rng.standard_normal(vowel - start))
            burst *= np.hanning(vowel - start) * 0.25 * stress
            out[start:vowel] += burst
    return out


def set_level(audio: np.ndarray, speaker: Speaker, avd: AVD) -> np.ndarray:
    """Scale the speech (non-silent samples) to the level of speaker, arousal, dominance."""
    arousal, _, dominance = avd
    loudness = speaker.cue_gain["loudness"]
    level_db = -28.0 + speaker.level_db + 6.0 * loudness * arousal + 3.0 * loudness * dominance
    active = np.abs(audio) > 1e-6
    rms = np.sqrt(np.mean(audio[active] ** 2)) if active.any() else 1.0
    return audio * (10.0 ** (level_db / 20.0) / rms)


def voice(
    speaker: Speaker,
    domain: SyntheticDomain,
    avd: AVD,
    rng: np.random.Generator,
    sr: int,
) -> np.ndarray:
    """Synthesise one utterance expressing (arousal, valence, dominance), before the channel."""
    rate = speaker.rate * np.exp(0.22 * speaker.cue_gain["tempo"] * avd[0])
    syllables, n = syllable_layout(rng, rate, avd[0], domain.timing_jitter, sr)
    time = np.arange(n) / sr
    f0 = f0_contour(speaker, avd, syllables, time, rng, sr)
    style = conversational_style(domain, avd, time, rng, sr)
    f0 = f0 * 2.0 ** ((2.0 * min(style.laugh, 1.0) * style.bursts - 7.0 * style.creak_ramp) / 12.0)
    source, breath = glottal_source(speaker, avd, f0, style, rng, sr)
    source = spectral_tilt(source, speaker, avd)
    return set_level(articulate(source, syllables, speaker, avd, breath, rng, sr), speaker, avd)
