"""Domains of the synthetic corpus: who speaks, how they express emotion, through which channel.

:class:`SyntheticDomain` holds one recording setting; :data:`DOMAINS` the three that ship
(``acted``, ``spontaneous``, ``broadcast``) and :data:`PRESETS` the named corpus sizes.
The emotions the voice can express and the cues it expresses them through are declared
here too (:data:`EMOTION_PROTOTYPES`, :data:`CUES`).

Example:
    >>> [d.name for d in resolve_domains(["acted", SyntheticDomain("lab")])]
    ['acted', 'lab']
    >>> DOMAINS["broadcast"].elicitation, DOMAINS["spontaneous"].gain("f0_level")
    ('read', 0.4)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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


def resolve_domains(domains: Iterable[str | SyntheticDomain]) -> list[SyntheticDomain]:
    """The domains named (or given) in ``domains``: unique names, at least one."""
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
