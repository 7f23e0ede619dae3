"""BAVED, the Basic Arabic Vocal Emotions Dataset (Arabic, single words at three arousal levels).

Layout as distributed (the README of the 40uf411/Basic-Arabic-Vocal-Emotions-Dataset
repository, "Naming"): ``<word folder 0-6>/<speaker>-<gender>-<age>-<word>-<level>-<record>.wav``,
e.g. ``0/0-m-21-0-1-105.wav``:

- ``speaker`` id (integer), ``gender`` ``m`` or ``f``, ``age`` in years;
- ``word`` 0-6, one of seven Arabic words (:data:`WORDS`);
- ``level`` the level of expressed emotion, 0-2: "Level 0 is when the speaker is
  expressing a low emotion, this is similar to feeling tired or feeling down. Level 1
  is the standard level, ... a neutral emotion, finally the level 2, is when the speaker
  is expressing a high level of positive or negative emotions";
- ``record`` a running id.

1935 files, 16 kHz mono. The word is read from the file name (one distributed file names
word 6 but sits in folder 0; the name is trusted). BAVED has no emotion categories: the
level is an arousal label, kept three ways:

- ``arousal_raw``: the level on its native scale 0-2, and ``arousal``: its [-1, 1] copy
  (0 -> -1, 1 -> 0, 2 -> 1), as the dimensional loaders keep native and normalised scores;
- ``arousal_level``: ``low`` / ``normal`` / ``high``, the classes of the ``arousal_level``
  label space, and of ``binary_arousal`` (low vs high, normal dropped) for cross-corpus
  binary arousal with EmoDB or URDU (:mod:`emoshift.data.labels`).

The recordings are posed (speakers asked to say a word at a level): ``elicitation`` is
``acted``. Licence: none stated; the authors meant it for research, not commercial use.

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> root = example_corpus({"4/12-f-19-4-2-31.wav": 16000})
    >>> row = load(root).iloc[0]
    >>> row["speaker"], row["gender"], row["arousal_level"], int(row["word"])
    ('baved_12', 'female', 'high', 4)
    >>> float(row["arousal_raw"]), float(row["arousal"])
    (2.0, 1.0)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Unpack

import pandas as pd

from emoshift.data.labels import AROUSAL_LEVELS
from emoshift.data.loaders.base import Corpus, LoaderContext, LoadOptions, add_dimensions

LAYOUT = "<word 0-6>/<speaker>-<m|f>-<age>-<word>-<level>-<record>.wav, e.g. 0/0-m-21-0-1-105.wav"
PATTERN = "<speaker>-<m|f>-<age>-<word 0-6>-<level 0-2>-<record>.wav, e.g. 0-m-21-0-1-105.wav"
BAVED = Corpus("baved", "BAVED", LAYOUT, PATTERN, language="ar", elicitation="acted")
WORDS: dict[int, str] = {
    0: "اعجبني",
    1: "لم يعجبني",
    2: "هذا",
    3: "الفيلم",
    4: "رائع",
    5: "مقول",
    6: "سيئ",
}
"""The seven words, as the corpus README lists them."""
SCALE: tuple[float, float] = (0.0, 2.0)
"""The native range of the level (0 low, 1 normal, 2 high)."""
GENDERS: dict[str, str] = {"m": "male", "f": "female"}

_NAME = re.compile(
    r"^(?P<speaker>\d+)-(?P<gender>[mfMF])-(?P<age>\d+)-(?P<word>\d+)-(?P<level>\d+)-(?P<record>\d+)$"
)


def _row(file: Path, context: LoaderContext) -> dict | None:
    match = BAVED.match(file, _NAME, context)
    if match is None:
        return None
    word, level = int(match["word"]), int(match["level"])
    if word not in WORDS:
        return context.unrecognised(file.name, BAVED.outside("word", word, WORDS))
    if not 0 <= level < len(AROUSAL_LEVELS):
        return context.unrecognised(file.name, BAVED.outside("level", level, range(3)))
    row = BAVED.row(
        file,
        int(match["speaker"]),
        gender=GENDERS[match["gender"].lower()],
        arousal_level=AROUSAL_LEVELS[level],
        word=word,
        text=WORDS[word],
        age=int(match["age"]),
        record=int(match["record"]),
    )
    add_dimensions(row, {"arousal": level}, *SCALE)
    return row


def load(path: str | os.PathLike, **options: Unpack[LoadOptions]) -> pd.DataFrame:
    """Load BAVED from the folder holding the word folders ``0/`` ... ``6/``.

    Extra columns: ``arousal_level`` (low/normal/high), ``word`` (0-6) and its ``text``,
    ``age``, ``record``. Names outside the scheme, words outside 0-6 and levels outside
    0-2 are skipped with a :class:`CorpusWarning` (``strict=True``:
    :class:`CorpusFormatError`).
    """
    return BAVED.load_files(path, _row, **options)
