"""CREMA-D, the Crowd-sourced Emotional Multimodal Actors Dataset (English, acted).

Layout as distributed (Cao et al., IEEE TAC 2014; the README of the
CheyneyComputerScience/CREMA-D repository): ``AudioWAV/AAAA_SSS_EEE_LL.wav``, e.g.
``AudioWAV/1001_DFA_ANG_XX.wav``:

- ``AAAA`` actor id 1001-1091 (48 male, 43 female);
- ``SSS`` one of 12 sentences (:data:`SENTENCES`);
- ``EEE`` emotion: ANG, DIS, FEA, HAP, NEU, SAD;
- ``LL`` level: LO low, MD medium, HI high, XX unspecified.

Optional files beside the audio, used when present:

- ``VideoDemographics.csv`` (ActorID, Age, Sex, Race, Ethnicity): gender, age, race,
  ethnicity. Without it gender comes from :data:`FEMALE_ACTORS`, a copy of its Sex column.
- ``processedResults/tabulatedVotes.csv``: the crowd-sourced ratings. Its first, unnamed
  column is a row id whose first digit is the rating modality (1 voice only, 2 face only,
  3 audio-visual, as the README's ``queryType``); per modality the loader adds
  ``rating_<modality>_vote`` (majority vote, normalised names joined by ``:`` for ties),
  ``rating_<modality>_agreement``, ``rating_<modality>_responses`` and
  ``rating_<modality>_level`` (meanEmoResp, mean perceived level 0-100).

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> root = example_corpus({"AudioWAV/1002_DFA_ANG_HI.wav": 16000})
    >>> load(root).loc[0, ["speaker", "gender", "emotion", "intensity"]].tolist()
    ['cremad_1002', 'female', 'anger', 'high']
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Unpack

import pandas as pd

from emoshift.data.loaders.base import Corpus, LoaderContext, LoadOptions, audio_files, find_file

LAYOUT = "AudioWAV/AAAA_SSS_EEE_LL.wav, e.g. AudioWAV/1001_DFA_ANG_XX.wav"
PATTERN = "AAAA_SSS_EEE_LL.wav (actor 1001-1091, sentence code, emotion code, level code)"
CREMAD = Corpus("cremad", "CREMA-D", LAYOUT, PATTERN, language="en", elicitation="acted")
EMOTIONS: dict[str, str] = {
    "ANG": "anger",
    "DIS": "disgust",
    "FEA": "fear",
    "HAP": "happiness",
    "NEU": "neutral",
    "SAD": "sadness",
}
"""CREMA-D's emotion codes and the normalised emotions they stand for."""
VOTES: dict[str, str] = {
    "A": "anger",
    "D": "disgust",
    "F": "fear",
    "H": "happiness",
    "N": "neutral",
    "S": "sadness",
}
"""The rating files' emotion letters."""
LEVELS: dict[str, str] = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES: dict[str, str] = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
FEMALE_ACTORS: frozenset[int] = frozenset(
    (1002, 1003, 1004, 1006, 1007, 1008, 1009, 1010, 1012, 1013, 1018, 1020, 1021, 1024)
    + (1025, 1028, 1029, 1030, 1037, 1043, 1046, 1047, 1049, 1052, 1053, 1054, 1055, 1056)
    + (1058, 1060, 1061, 1063, 1072, 1073, 1074, 1075, 1076, 1078, 1079, 1082, 1084, 1089)
    + (1091,)
)
"""The 43 female actors per VideoDemographics.csv; the other 48 of 1001-1091 are male."""
MODALITIES: dict[str, str] = {"1": "voice", "2": "face", "3": "av"}
"""First digit of a tabulatedVotes.csv row id -> rating modality."""

_NAME = re.compile(
    r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{2})$"
)


def _check(actor: int, sentence: str, emotion: str, level: str) -> str | None:
    """Why a parsed name is outside CREMA-D's scheme, or ``None`` if it is inside."""
    checks = (
        (emotion in EMOTIONS, CREMAD.outside("emotion", emotion, EMOTIONS)),
        (level in LEVELS, f"level {level!r} not in {' '.join(LEVELS)}"),
        (sentence in SENTENCES, f"sentence {sentence!r} not one of CREMA-D's 12"),
        (1001 <= actor <= 1091, f"actor {actor} not in 1001-1091"),
    )
    return next((reason for passed, reason in checks if not passed), None)


def _demographics(directory: Path) -> dict[int, dict]:
    """Actor id -> gender/age/race/ethnicity from VideoDemographics.csv, if present."""
    path = find_file(directory, ["VideoDemographics.csv"])
    if path is None:
        return {}
    frame = pd.read_csv(path)
    return {
        int(row.ActorID): {
            "gender": str(row.Sex).lower(),
            "age": int(row.Age),
            "race": str(row.Race),
            "ethnicity": str(row.Ethnicity),
        }
        for row in frame.itertuples()
    }


def _vote(letters: object) -> object:
    if pd.isna(letters):
        return pd.NA
    return ":".join(VOTES.get(letter, letter) for letter in str(letters).split(":"))


def _ratings(directory: Path) -> dict[str, dict]:
    """File stem -> rating columns from processedResults/tabulatedVotes.csv, if present."""
    path = find_file(directory, ["tabulatedVotes.csv"])
    if path is None:
        return {}
    frame = pd.read_csv(path)
    ids = frame.iloc[:, 0].astype(str)
    ratings: dict[str, dict] = {}
    for row_id, row in zip(ids, frame.itertuples(index=False), strict=True):
        modality = MODALITIES.get(row_id[:1])
        if modality is None:
            continue
        ratings.setdefault(row.fileName, {}).update(
            {
                f"rating_{modality}_vote": _vote(row.emoVote),
                f"rating_{modality}_agreement": float(row.agreement),
                f"rating_{modality}_responses": int(row.numResponses),
                f"rating_{modality}_level": float(row.meanEmoResp),
            }
        )
    return ratings


def _row(
    file: Path, context: LoaderContext, demographics: dict[int, dict], ratings: dict[str, dict]
) -> dict | None:
    match = CREMAD.match(file, _NAME, context)
    if match is None:
        return None
    actor, sentence = int(match["actor"]), match["sentence"]
    emotion, level = match["emotion"], match["level"]
    reason = _check(actor, sentence, emotion, level)
    if reason is not None:
        return context.unrecognised(file.name, reason)
    columns = {
        "gender": "female" if actor in FEMALE_ACTORS else "male",
        "emotion": EMOTIONS[emotion],
        "emotion_raw": emotion,
        "sentence": sentence,
        "text": SENTENCES[sentence],
        "intensity": LEVELS[level],
    }
    columns |= demographics.get(actor, {}) | ratings.get(file.stem, {})
    return CREMAD.row(file, actor, **columns)


def load(path: str | os.PathLike, **options: Unpack[LoadOptions]) -> pd.DataFrame:
    """Load CREMA-D from the repository folder (or from ``AudioWAV/`` itself).

    Extra columns: ``sentence`` (code) and ``text``, ``intensity`` (low/medium/high/
    unspecified), demographics and ratings when their files are present (see module
    docstring). Names outside the scheme are skipped with a :class:`CorpusWarning`
    (``strict=True``: :class:`CorpusFormatError`).
    """
    context = CREMAD.start(path, **options)
    demographics = _demographics(context.directory)
    ratings = _ratings(context.directory)
    rows = [_row(file, context, demographics, ratings) for file in audio_files(context.directory)]
    rows = [row for row in rows if row is not None]
    for stem in sorted(set(ratings) - {Path(row["file"]).stem for row in rows}):
        context.problem("missing_audio", f"{stem}: rated in tabulatedVotes.csv, no audio")
    return context.finish(rows)
