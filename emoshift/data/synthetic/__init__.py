"""The embedded **synthetic** emotional-speech corpus (no real speakers, no real speech).

Every file this package writes is synthetic: a source-filter voice, not a recording. The
table's ``corpus`` column reads ``"synthetic"`` and ``language`` reads ``"zxx"`` (ISO 639-2:
no linguistic content), so synthetic rows can never be mistaken for a real corpus.

The voice (:mod:`~emoshift.data.synthetic.voice`) is a glottal pulse train (Rosenberg
pulses with jitter, shimmer and aspiration noise) along an F0 contour, shaped by
syllable-like amplitude envelopes and passed through a cascade of second-order formant
resonators (``scipy.signal.lfilter``), with noise-burst consonants between the vowels.
Its prosody follows the emotion:

* every utterance draws its own arousal, valence and dominance around its emotion's
  prototype (:data:`EMOTION_PROTOTYPES`); the table stores those values, in [-1, 1] and
  as ``*_raw`` copies on a 1-5 rating scale;
* arousal raises F0 level and range, loudness and syllable rate, flattens the spectral
  tilt (more abrupt glottal closure) and reduces breathiness;
* valence moves the contour shape (rising and accented when positive, falling when
  negative), raises the formants slightly (smiling) and lowers jitter and shimmer;
* dominance raises loudness, flattens the tilt and lowers F0.

A *domain* (:class:`SyntheticDomain`, :mod:`~emoshift.data.synthetic.domains`) fixes who
speaks (F0 and vocal-tract length of its own speakers), how they express emotion
(exaggerated and consistent when acted, subtle and variable when spontaneous, cue by cue,
with its own emotion prototypes and the laughter and creaky voice of conversation) and the
channel (:mod:`~emoshift.data.synthetic.channel`: band limits, additive noise at an SNR,
reverberation from a synthetic exponentially decaying impulse response, per-speaker line
colouring, telephone mu-law coding). Three domains ship in :data:`DOMAINS`: ``acted``
(studio), ``spontaneous`` (telephone conversation) and ``broadcast`` (read, lightly
coloured). A classifier trained on ``acted`` loses far more than ten points of UAR on
``spontaneous`` against one trained on ``spontaneous`` itself, with eGeMAPS features
normalised per domain (see ``benchmarks/synthetic_gap.py``).

Generation (:mod:`~emoshift.data.synthetic.corpus`) is deterministic: each utterance
draws from its own random generator, seeded by (seed, domain, speaker, emotion, index), so
the same seed writes byte-identical WAV files (16 kHz mono PCM_16) whatever the generation
order. A folder that already holds a corpus generated with the same parameters is reused.

Example:
    >>> import tempfile
    >>> table = generate_preset(tempfile.mkdtemp(), "tiny", seed=0, progress=False)
    >>> sorted(table["elicitation"].unique())
    ['acted', 'spontaneous']
    >>> table["corpus"].unique().tolist()
    ['synthetic']
"""

from emoshift.data.synthetic.corpus import (
    CORPUS_NAME,
    GENERATOR_VERSION,
    LANGUAGE,
    MANIFEST_NAME,
    SAMPLE_RATE,
    TABLE_NAME,
    generate_corpus,
    generate_preset,
)
from emoshift.data.synthetic.domains import (
    CUES,
    DOMAINS,
    EMOTION_PROTOTYPES,
    PRESETS,
    SyntheticDomain,
)

__all__ = [
    "CORPUS_NAME",
    "CUES",
    "DOMAINS",
    "EMOTION_PROTOTYPES",
    "GENERATOR_VERSION",
    "LANGUAGE",
    "MANIFEST_NAME",
    "PRESETS",
    "SAMPLE_RATE",
    "TABLE_NAME",
    "SyntheticDomain",
    "generate_corpus",
    "generate_preset",
]
