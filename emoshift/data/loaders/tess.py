"""TESS, the Toronto Emotional Speech Set (English, acted, two female speakers).

Layout as distributed on the Scholars Portal Dataverse (doi:10.5683/SP2/E8H2MF;
Dupuis & Pichora-Fuller, University of Toronto 2010): one folder per speaker and
emotion, ``OAF_angry/``, ``YAF_pleasant_surprised/`` ..., holding
``{OAF,YAF}_<word>_<emotion>.wav``, e.g. ``OAF_back_angry.wav``:

- speaker ``OAF`` (older adult female, aged 64) or ``YAF`` (younger adult female, 26);
- ``<word>`` one of the 200 NU-6 target words said in "Say the word ___";
- ``<emotion>`` angry, disgust, fear, happy, neutral, ps (pleasant surprise), sad.

2800 files, 200 per speaker and emotion. The emotion is read from the file name, or
from the folder name where the file name lacks it; a file whose name and folder
disagree is reported and skipped.

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> root = example_corpus({"YAF_pleasant_surprised/YAF_back_ps.wav": 24414})
    >>> load(root).loc[0, ["speaker", "emotion", "word"]].tolist()
    ['tess_YAF', 'surprise', 'back']
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Unpack

import pandas as pd

from emoshift.data.loaders.base import Corpus, LoaderContext, LoadOptions

LAYOUT = "<speaker>_<emotion>/<speaker>_<word>_<emotion>.wav, e.g. OAF_angry/OAF_back_angry.wav"
PATTERN = "{OAF,YAF}_<word>_<emotion>.wav with emotion angry disgust fear happy neutral ps sad"
TESS = Corpus("tess", "TESS", LAYOUT, PATTERN, language="en", elicitation="acted")
EMOTIONS: dict[str, str] = {
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happiness",
    "neutral": "neutral",
    "ps": "surprise",
    "pleasant_surprise": "surprise",
    "pleasant_surprised": "surprise",
    "sad": "sadness",
}
"""TESS's emotion words (file and folder names, lower case) and normalised emotions."""
SPEAKER_AGE: dict[str, int] = {"OAF": 64, "YAF": 26}

_NAME = re.compile(r"^(?P<speaker>OAF|YAF)_(?P<word>[^_]+)_(?P<emotion>.+)$", re.IGNORECASE)
_FOLDER = re.compile(r"^(?:OAF|YAF)_(?P<emotion>.+)$", re.IGNORECASE)


def _folder_emotion(folder: str) -> str | None:
    match = _FOLDER.match(folder)
    return EMOTIONS.get(match["emotion"].lower().replace("-", "_")) if match else None


def _row(file: Path, context: LoaderContext) -> dict | None:
    match = TESS.match(file, _NAME, context)
    if match is None:
        return None
    token = match["emotion"].lower()
    from_name, from_folder = EMOTIONS.get(token), _folder_emotion(file.parent.name)
    if from_name is None and from_folder is None:
        return context.unrecognised(file.name, f"emotion {token!r} not in TESS's scheme")
    if from_name and from_folder and from_name != from_folder:
        return context.unrecognised(
            f"{file.parent.name}/{file.name}",
            f"emotion {token!r} in the name contradicts the folder",
            TESS.layout,
        )
    speaker = match["speaker"].upper()
    return TESS.row(
        file,
        speaker,
        gender="female",
        emotion=from_name or from_folder,
        emotion_raw=token if from_name else file.parent.name,
        word=match["word"].lower(),
        age=SPEAKER_AGE[speaker],
    )


def load(path: str | os.PathLike, **options: Unpack[LoadOptions]) -> pd.DataFrame:
    """Load TESS from the folder holding the 14 ``OAF_*`` / ``YAF_*`` folders.

    Extra columns: ``word`` (the target word) and ``age`` of the speaker. Unrecognised
    names, emotions outside the scheme and name/folder conflicts are skipped with a
    :class:`CorpusWarning` (``strict=True``: :class:`CorpusFormatError`).
    """
    return TESS.load_files(path, _row, **options)
