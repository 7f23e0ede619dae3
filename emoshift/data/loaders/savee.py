"""SAVEE, Surrey Audio-Visual Expressed Emotion (British English, acted, four male speakers).

Layout as distributed (Haq & Jackson 2009; the corpus's AudioData.zip):
``AudioData/<speaker>/<emotion><NN>.wav``, e.g. ``AudioData/DC/sa03.wav``:

- speaker DC, JE, JK or KL (all male);
- emotion prefix a anger, d disgust, f fear, h happiness, n neutral, sa sadness,
  su surprise;
- ``NN`` sentence number within the emotion (15 per emotion, 30 for neutral): 120 files
  per speaker, 480 in all.

Flattened copies that name files ``<speaker>_<emotion><NN>.wav`` (e.g. ``DC_a01.wav``)
load too.

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> root = example_corpus({"AudioData/JK/su07.wav": 44100})
    >>> load(root).loc[0, ["speaker", "gender", "emotion", "sentence"]].tolist()
    ['savee_JK', 'male', 'surprise', '07']
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Unpack

import pandas as pd

from emoshift.data.loaders.base import Corpus, LoaderContext, LoadOptions

LAYOUT = "AudioData/<speaker>/<emotion><NN>.wav, e.g. AudioData/DC/sa03.wav"
PATTERN = "[<speaker>_]<emotion prefix a d f h n sa su><NN>.wav in a DC/JE/JK/KL folder"
SAVEE = Corpus("savee", "SAVEE", LAYOUT, PATTERN, language="en", elicitation="acted")
EMOTIONS: dict[str, str] = {
    "a": "anger",
    "d": "disgust",
    "f": "fear",
    "h": "happiness",
    "n": "neutral",
    "sa": "sadness",
    "su": "surprise",
}
"""SAVEE's emotion prefixes and the normalised emotions they stand for."""
SPEAKERS: tuple[str, ...] = ("DC", "JE", "JK", "KL")

_NAME = re.compile(r"^(?:(?P<speaker>[A-Z]{2})_)?(?P<emotion>[a-z]{1,2})(?P<number>\d{2})$")


def _row(file: Path, context: LoaderContext) -> dict | None:
    match = SAVEE.match(file, _NAME, context)
    if match is None:
        return None
    speaker = match["speaker"] or file.parent.name
    if speaker not in SPEAKERS:
        return context.unrecognised(
            f"{file.parent.name}/{file.name}",
            f"speaker {speaker!r} is not one of SAVEE's {' '.join(SPEAKERS)}",
        )
    prefix = match["emotion"]
    if prefix not in EMOTIONS:
        return context.unrecognised(file.name, SAVEE.outside("emotion prefix", prefix, EMOTIONS))
    return SAVEE.row(
        file,
        speaker,
        gender="male",
        emotion=EMOTIONS[prefix],
        emotion_raw=prefix,
        sentence=match["number"],
    )


def load(path: str | os.PathLike, **options: Unpack[LoadOptions]) -> pd.DataFrame:
    """Load SAVEE from the folder holding ``AudioData/`` (or from ``AudioData/`` itself).

    The speaker comes from the file name prefix or else from the parent folder. Extra
    column: ``sentence`` (the number within the emotion). Unrecognised names, speakers
    and emotion prefixes are skipped with a :class:`CorpusWarning` (``strict=True``:
    :class:`CorpusFormatError`).
    """
    return SAVEE.load_files(path, _row, **options)
