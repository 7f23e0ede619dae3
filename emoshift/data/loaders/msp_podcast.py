"""MSP-Podcast, natural speech segments from podcasts (English).

Layout as distributed (Lotfian & Busso, IEEE TAC 2019; the release's README):

- ``Audios/<segment>.wav``, e.g. ``Audios/MSP-PODCAST_0002_0033.wav``;
- ``Labels/labels_consensus.csv`` with columns ``FileName, EmoClass, EmoAct, EmoVal,
  EmoDom, SpkrID, Gender, Split_Set``, and/or ``Labels/labels_consensus.json`` mapping
  each file name to the same fields. ``EmoAct``/``EmoVal``/``EmoDom`` are consensus
  arousal, valence, dominance on 1-7; ``Split_Set`` the partition (Train, Development,
  Test1, Test2, ...); ``SpkrID``/``Gender`` may read ``Unknown``.

``EmoClass`` codes: A anger, S sadness, H happiness, U surprise, F fear, D disgust,
C contempt, N neutral, O other, X no agreement (kept with no emotion, dimensional scores
intact). Audio segments that the labels file does not list form the unlabelled pool:
rows with no emotion and ``partition == "unlabelled"`` (``include_unlabelled=False``
leaves them out).

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> names = ("MSP-PODCAST_0002_0033", "MSP-PODCAST_0002_0034")
    >>> root = example_corpus({f"Audios/{name}.wav": 16000 for name in names})
    >>> (root / "Labels").mkdir()
    >>> _ = (root / "Labels" / "labels_consensus.csv").write_text(
    ...     "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\\n"
    ...     "MSP-PODCAST_0002_0033.wav,H,5.2,7.0,4.0,127,Female,Train\\n")
    >>> table = load(root)
    >>> table["partition"].tolist(), table["emotion"].isna().tolist()
    (['Train', 'unlabelled'], [False, True])
    >>> table.loc[0, ["speaker", "emotion"]].tolist()
    ['msp_podcast_127', 'happiness']
    >>> float(table.loc[0, "valence"])
    1.0
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Unpack

import pandas as pd

from emoshift.data.loaders.base import (
    Corpus,
    LoaderContext,
    LoadOptions,
    add_dimensions,
    audio_by_stem,
    label_file,
)

LAYOUT = "Audios/<segment>.wav and Labels/labels_consensus.csv (or .json)"
MSP_PODCAST = Corpus("msp_podcast", "MSP-Podcast", LAYOUT, language="en", elicitation="natural")
EMOTIONS: dict[str, str | None] = {
    "A": "anger",
    "S": "sadness",
    "H": "happiness",
    "U": "surprise",
    "F": "fear",
    "D": "disgust",
    "C": "contempt",
    "N": "neutral",
    "O": "other",
    "X": None,
}
"""EmoClass codes -> normalised emotions (``X``: no agreement)."""
SCALE: tuple[float, float] = (1.0, 7.0)
"""The native range of EmoAct, EmoVal and EmoDom."""
LABEL_FILES: tuple[str, ...] = ("labels_consensus.csv", "labels_consensus.json")
COLUMNS: tuple[str, ...] = (
    "FileName",
    "EmoClass",
    "EmoAct",
    "EmoVal",
    "EmoDom",
    "SpkrID",
    "Gender",
    "Split_Set",
)
UNKNOWN = "unknown"


def read_labels(path: str | os.PathLike) -> pd.DataFrame:
    """The consensus labels as a frame with :data:`COLUMNS`, from the CSV or JSON file."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        entries = json.loads(path.read_text())
        frame = pd.DataFrame.from_dict(entries, orient="index")
        frame = frame.rename_axis("FileName").reset_index()
    else:
        frame = pd.read_csv(path, dtype={"SpkrID": str})
    missing = [c for c in COLUMNS if c not in frame]
    if missing:
        raise ValueError(
            f"{MSP_PODCAST.name}: {path} lacks column(s) {missing}; expected {list(COLUMNS)}"
        )
    return frame


def _known(value: object) -> str | None:
    text = "" if pd.isna(value) else str(value).strip()
    return None if not text or text.lower() == UNKNOWN else text


def _row(entry: tuple, file: Path) -> dict:
    """The row of one consensus entry whose audio is ``file``."""
    speaker, gender = _known(entry.SpkrID), _known(entry.Gender)
    code = _known(entry.EmoClass) or "X"
    row = MSP_PODCAST.row(
        file,
        speaker,
        gender=gender.lower() if gender else None,
        emotion=EMOTIONS[code],
        emotion_raw=code,
        partition=_known(entry.Split_Set),
    )
    scores = {"arousal": entry.EmoAct, "valence": entry.EmoVal, "dominance": entry.EmoDom}
    add_dimensions(row, {k: pd.to_numeric(v, errors="coerce") for k, v in scores.items()}, *SCALE)
    return row


def _labelled_rows(
    source: Path, audio: dict[str, Path], context: LoaderContext
) -> tuple[list[dict], set[str]]:
    """Rows of the consensus entries that have audio, and every file stem the labels name.

    An ``EmoClass`` outside the scheme and entries without audio are reported.
    """
    rows, labelled = [], set()
    for entry in read_labels(source).itertuples(index=False):
        stem = Path(str(entry.FileName)).stem
        labelled.add(stem)
        code = _known(entry.EmoClass) or "X"
        if code not in EMOTIONS:
            context.unrecognised(
                f"{source.name} ({entry.FileName})",
                MSP_PODCAST.outside("EmoClass", code, EMOTIONS),
                "one of the EmoClass letters",
            )
        elif stem not in audio:
            context.problem("missing_audio", f"{entry.FileName}: in {source.name}, no audio")
        else:
            rows.append(_row(entry, audio[stem]))
    return rows, labelled


def load(
    path: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    include_unlabelled: bool = True,
    **options: Unpack[LoadOptions],
) -> pd.DataFrame:
    """Load MSP-Podcast from the release folder (with ``Audios/`` and ``Labels/``).

    ``labels`` names the consensus file when it is elsewhere (CSV is preferred to JSON
    when both are found). Extra column: ``partition`` (``Split_Set``, or
    ``"unlabelled"`` for the pool). Labels without audio are reported; an ``EmoClass``
    outside the scheme is skipped with a :class:`CorpusWarning`.
    """
    context = MSP_PODCAST.start(path, **options)
    source = label_file(
        context.directory, labels, LABEL_FILES, "consensus labels", context, max_depth=2
    )
    audio = audio_by_stem(context.directory)
    rows, labelled = _labelled_rows(source, audio, context)
    if include_unlabelled:
        pool = sorted(set(audio) - labelled)
        rows += [MSP_PODCAST.row(audio[stem], partition="unlabelled") for stem in pool]
    return context.finish(rows)
