"""EmoDB, the Berlin Database of Emotional Speech (German, acted).

Layout as distributed (Burkhardt et al., Interspeech 2005; the corpus's own
documentation at emodb.bilderbar.info): ``wav/SSTTTEV.wav``, e.g. ``03a01Fa.wav``:

- ``SS`` speaker, two digits: 03, 10, 11, 12, 15 male; 08, 09, 13, 14, 16 female;
- ``TTT`` text, ``a01``-``a07`` or ``b01``-``b10``;
- ``E`` emotion letter (German initials): W Wut anger, L Langeweile boredom, E Ekel
  disgust, A Angst fear, F Freude happiness, T Trauer sadness, N neutral;
- ``V`` version letter (``a``, ``b``, ...), several takes of one text.

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> root = example_corpus({"wav/03a01Wa.wav": 16000})
    >>> table = load(root)
    >>> table.loc[0, ["speaker", "gender", "emotion"]].tolist()
    ['emodb_03', 'male', 'anger']
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Unpack

import pandas as pd

from emoshift.data.loaders.base import Corpus, LoaderContext, LoadOptions

LAYOUT = "wav/SSTTTEV.wav, e.g. wav/03a01Fa.wav"
PATTERN = "SSTTTEV.wav (speaker 2 digits, text a01-b10, emotion letter, version letter)"
EMODB = Corpus("emodb", "EmoDB", LAYOUT, PATTERN, language="de", elicitation="acted")
EMOTIONS: dict[str, str] = {
    "W": "anger",
    "L": "boredom",
    "E": "disgust",
    "A": "fear",
    "F": "happiness",
    "T": "sadness",
    "N": "neutral",
}
"""EmoDB's emotion letters and the normalised emotions they stand for."""
SPEAKER_GENDER: dict[str, str] = {
    **dict.fromkeys(("03", "10", "11", "12", "15"), "male"),
    **dict.fromkeys(("08", "09", "13", "14", "16"), "female"),
}
"""The ten EmoDB speakers and their gender, as the corpus documents them."""

_NAME = re.compile(
    r"^(?P<speaker>\d{2})(?P<text>[ab]\d{2})(?P<emotion>[A-Za-z])(?P<version>[a-z])$"
)


def _row(file: Path, context: LoaderContext) -> dict | None:
    match = EMODB.match(file, _NAME, context)
    if match is None:
        return None
    letter, speaker = match["emotion"], match["speaker"]
    if letter not in EMOTIONS:
        return context.unrecognised(file.name, EMODB.outside("emotion letter", letter, EMOTIONS))
    if speaker not in SPEAKER_GENDER:
        return context.unrecognised(
            file.name,
            f"speaker {speaker!r} is not one of EmoDB's {' '.join(sorted(SPEAKER_GENDER))}",
        )
    return EMODB.row(
        file,
        speaker,
        gender=SPEAKER_GENDER[speaker],
        emotion=EMOTIONS[letter],
        emotion_raw=letter,
        sentence=match["text"],
        version=match["version"],
    )


def load(path: str | os.PathLike, **options: Unpack[LoadOptions]) -> pd.DataFrame:
    """Load EmoDB from the folder that holds ``wav/`` (or from ``wav/`` itself).

    Files whose names break the ``SSTTTEV.wav`` scheme (or carry an emotion letter or a
    speaker outside it) are skipped with a :class:`CorpusWarning` naming them;
    ``strict=True`` raises :class:`CorpusFormatError` instead.
    """
    return EMODB.load_files(path, _row, **options)
