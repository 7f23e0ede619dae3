"""RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song (English, acted).

Layout as distributed on Zenodo (Livingstone & Russo, PLoS ONE 2018; the corpus README):
``Actor_NN/MM-VV-EE-II-SS-RR-AA.wav``, e.g. ``Actor_12/03-01-06-01-02-01-12.wav``, a
seven-part numeric name:

- ``MM`` modality: 01 full-AV, 02 video-only, 03 audio-only (the ``.wav`` files are 03);
- ``VV`` vocal channel: 01 speech, 02 song;
- ``EE`` emotion: 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful,
  07 disgust, 08 surprised;
- ``II`` intensity: 01 normal, 02 strong (there is no strong neutral);
- ``SS`` statement: 01 "Kids are talking by the door", 02 "Dogs are sitting by the door";
- ``RR`` repetition: 01 or 02;
- ``AA`` actor 01-24: odd numbers male, even numbers female.

The speech (``Audio_Speech_Actors_01-24``) and song (``Audio_Song_Actors_01-24``)
archives unpack into the same ``Actor_NN`` folders; point to the folder above them.

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> root = example_corpus({"Actor_12/03-01-06-01-02-01-12.wav": 48000})
    >>> row = load(root).iloc[0]
    >>> row["speaker"], row["gender"], row["emotion"], row["vocal_channel"], row["intensity"]
    ('ravdess_12', 'female', 'fear', 'speech', 'normal')
"""

from __future__ import annotations

import os
import re
from functools import partial
from pathlib import Path
from typing import Unpack

import pandas as pd

from emoshift.data.loaders.base import Corpus, LoaderContext, LoadOptions

LAYOUT = "Actor_NN/MM-VV-EE-II-SS-RR-AA.wav, e.g. Actor_12/03-01-06-01-02-01-12.wav"
PATTERN = (
    "MM-VV-EE-II-SS-RR-AA.wav (modality 01-03, vocal channel 01-02, emotion 01-08, "
    "intensity 01-02, statement 01-02, repetition 01-02, actor 01-24)"
)
RAVDESS = Corpus("ravdess", "RAVDESS", LAYOUT, PATTERN, language="en", elicitation="acted")
EMOTIONS: dict[str, str] = {
    "01": "neutral",
    "02": "calm",
    "03": "happiness",
    "04": "sadness",
    "05": "anger",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}
"""RAVDESS's emotion codes and the normalised emotions they stand for."""
VOCAL_CHANNELS: dict[str, str] = {"01": "speech", "02": "song"}
INTENSITIES: dict[str, str] = {"01": "normal", "02": "strong"}
STATEMENTS: dict[str, str] = {
    "01": "Kids are talking by the door",
    "02": "Dogs are sitting by the door",
}
MODALITIES: tuple[str, ...] = ("01", "02", "03")

_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


def _check(parts: tuple[str, ...]) -> str | None:
    """Why a parsed name is outside RAVDESS's scheme, or ``None`` if it is inside."""
    modality, channel, emotion, intensity, statement, repetition, actor = parts
    checks = (
        (modality in MODALITIES, f"modality {modality!r} not in 01 02 03"),
        (channel in VOCAL_CHANNELS, f"vocal channel {channel!r} not in 01 02"),
        (emotion in EMOTIONS, f"emotion {emotion!r} not in RAVDESS's scheme 01-08"),
        (intensity in INTENSITIES, f"intensity {intensity!r} not in 01 02"),
        (
            not (emotion == "01" and intensity == "02"),
            "strong intensity (02) with neutral (01), which RAVDESS does not record",
        ),
        (statement in STATEMENTS, f"statement {statement!r} not in 01 02"),
        (repetition in ("01", "02"), f"repetition {repetition!r} not in 01 02"),
        (1 <= int(actor) <= 24, f"actor {actor!r} not in 01-24"),
    )
    return next((reason for passed, reason in checks if not passed), None)


def _row(file: Path, context: LoaderContext, include_song: bool) -> dict | None:
    match = RAVDESS.match(file, _NAME, context)
    if match is None:
        return None
    reason = _check(match.groups())
    if reason is not None:
        return context.unrecognised(file.name, reason)
    _, channel, emotion, intensity, statement, repetition, actor = match.groups()
    if channel == "02" and not include_song:
        return None
    return RAVDESS.row(
        file,
        actor,
        gender="male" if int(actor) % 2 else "female",
        emotion=EMOTIONS[emotion],
        emotion_raw=emotion,
        vocal_channel=VOCAL_CHANNELS[channel],
        intensity=INTENSITIES[intensity],
        statement=statement,
        text=STATEMENTS[statement],
        repetition=int(repetition),
    )


def load(
    path: str | os.PathLike, *, include_song: bool = True, **options: Unpack[LoadOptions]
) -> pd.DataFrame:
    """Load RAVDESS (speech and, unless ``include_song=False``, song) from ``path``.

    Extra columns: ``vocal_channel`` (speech/song), ``intensity`` (normal/strong),
    ``statement`` (01/02) with its ``text``, ``repetition`` (1/2). Names outside the
    seven-part scheme are skipped with a :class:`CorpusWarning` naming them
    (``strict=True``: :class:`CorpusFormatError`).
    """
    return RAVDESS.load_files(path, partial(_row, include_song=include_song), **options)
