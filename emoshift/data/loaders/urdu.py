"""URDU, emotional speech from Urdu television talk shows (natural, Latif et al. 2018).

Layout as distributed: ``{Angry,Happy,Neutral,Sad}/SMn_Fk_Ekkk.wav``, e.g.
``Angry/SM1_F10_A010.wav`` or ``Happy/SF1_F10_H010.wav``:

- ``SMn`` / ``SFn`` speaker: ``S``, gender ``M`` or ``F``, speaker number (so ``SM1`` and
  ``SF1`` are different people);
- ``Fk`` file number;
- ``E`` emotion letter A anger, H happiness, N neutral, S sadness, then a running number.

The emotion is read from the file name and checked against the folder; a file whose
folder says otherwise is reported and skipped.

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> root = example_corpus({"Sad/SF2_F3_S07.wav": 44100})
    >>> load(root).loc[0, ["speaker", "gender", "emotion"]].tolist()
    ['urdu_SF2', 'female', 'sadness']
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Unpack

import pandas as pd

from emoshift.data.loaders.base import Corpus, LoaderContext, LoadOptions

LAYOUT = "{Angry,Happy,Neutral,Sad}/SMn_Fk_Ekkk.wav, e.g. Angry/SM1_F10_A010.wav"
PATTERN = "S{M,F}<n>_F<k>_<emotion letter><number>.wav, e.g. SM1_F10_A010.wav"
URDU = Corpus("urdu", "URDU", LAYOUT, PATTERN, language="ur", elicitation="natural")
EMOTIONS: dict[str, str] = {"A": "anger", "H": "happiness", "N": "neutral", "S": "sadness"}
"""URDU's emotion letters and the normalised emotions they stand for."""
FOLDERS: dict[str, str] = {
    "angry": "anger",
    "happy": "happiness",
    "neutral": "neutral",
    "sad": "sadness",
}
"""The emotion folders of the distribution (compared case-insensitively)."""

_NAME = re.compile(r"^S(?P<gender>[MF])(?P<number>\d+)_F(?P<file>\d+)_(?P<emotion>[A-Z])\d+$")


def _row(file: Path, context: LoaderContext) -> dict | None:
    match = URDU.match(file, _NAME, context)
    if match is None:
        return None
    letter = match["emotion"]
    if letter not in EMOTIONS:
        return context.unrecognised(file.name, URDU.outside("emotion letter", letter, EMOTIONS))
    emotion = EMOTIONS[letter]
    folder = FOLDERS.get(file.parent.name.lower())
    if folder is not None and folder != emotion:
        return context.unrecognised(
            f"{file.parent.name}/{file.name}",
            f"emotion letter {letter!r} ({emotion}) contradicts the folder",
            URDU.layout,
        )
    return URDU.row(
        file,
        f"S{match['gender']}{match['number']}",
        gender="male" if match["gender"] == "M" else "female",
        emotion=emotion,
        emotion_raw=letter,
    )


def load(path: str | os.PathLike, **options: Unpack[LoadOptions]) -> pd.DataFrame:
    """Load URDU from the folder holding ``Angry/``, ``Happy/``, ``Neutral/``, ``Sad/``.

    Speaker ids come from the file names (``urdu_SM1``), gender from their second letter.
    Unrecognised names and emotion letters outside A H N S are skipped with a
    :class:`CorpusWarning` (``strict=True``: :class:`CorpusFormatError`).
    """
    return URDU.load_files(path, _row, **options)
