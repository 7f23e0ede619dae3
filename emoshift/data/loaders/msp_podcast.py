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
    >>> import tempfile, numpy as np, soundfile as sf
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp()); (root / "Audios").mkdir(); (root / "Labels").mkdir()
    >>> for name in ("MSP-PODCAST_0002_0033", "MSP-PODCAST_0002_0034"):
    ...     sf.write(root / "Audios" / f"{name}.wav", np.zeros(160), 16000)
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

import pandas as pd

from emoshift.data.loaders.base import (
    LoaderContext,
    LoadReport,
    add_dimensions,
    audio_files,
    find_file,
    finish,
    require_directory,
)

CORPUS = "msp_podcast"
LAYOUT = "Audios/<segment>.wav and Labels/labels_consensus.csv (or .json)"
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
        raise ValueError(f"{CORPUS}: {path} lacks column(s) {missing}; expected {list(COLUMNS)}")
    return frame


def _known(value: object) -> str | None:
    text = "" if pd.isna(value) else str(value).strip()
    return None if not text or text.lower() == UNKNOWN else text


def load(
    path: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    include_unlabelled: bool = True,
    strict: bool = False,
    duration: bool = True,
    report: LoadReport | None = None,
) -> pd.DataFrame:
    """Load MSP-Podcast from the release folder (with ``Audios/`` and ``Labels/``).

    ``labels`` names the consensus file when it is elsewhere (CSV is preferred to JSON
    when both are found). Extra column: ``partition`` (``Split_Set``, or
    ``"unlabelled"`` for the pool). Labels without audio are reported; an ``EmoClass``
    outside the scheme is skipped with a :class:`CorpusWarning`.
    """
    directory = require_directory(path, CORPUS, LAYOUT)
    context = LoaderContext(CORPUS, strict, report or LoadReport())
    label_file = Path(labels) if labels else find_file(directory, LABEL_FILES, max_depth=2)
    if label_file is None or not label_file.is_file():
        raise FileNotFoundError(
            f"{CORPUS}: no consensus labels ({' or '.join(LABEL_FILES)}) "
            f"{'at ' + str(label_file) if labels else 'under ' + str(directory)}"
        )
    audio = {file.stem: file for file in audio_files(directory)}
    rows, labelled = [], set()
    for entry in read_labels(label_file).itertuples(index=False):
        stem = Path(str(entry.FileName)).stem
        labelled.add(stem)
        code = _known(entry.EmoClass) or "X"
        if code not in EMOTIONS:
            context.unrecognised(
                f"{label_file.name} ({entry.FileName})",
                f"EmoClass {code!r} not in MSP-Podcast's scheme {' '.join(EMOTIONS)}",
                "one of the EmoClass letters",
            )
            continue
        if stem not in audio:
            context.problem("missing_audio", f"{entry.FileName}: in {label_file.name}, no audio")
            continue
        speaker, gender = _known(entry.SpkrID), _known(entry.Gender)
        row = {
            "file": str(audio[stem]),
            "corpus": CORPUS,
            "speaker": f"{CORPUS}_{speaker}" if speaker else None,
            "gender": gender.lower() if gender else None,
            "language": "en",
            "emotion": EMOTIONS[code],
            "elicitation": "natural",
            "emotion_raw": code,
            "partition": _known(entry.Split_Set),
        }
        scores = {"arousal": entry.EmoAct, "valence": entry.EmoVal, "dominance": entry.EmoDom}
        add_dimensions(
            row, {k: pd.to_numeric(v, errors="coerce") for k, v in scores.items()}, *SCALE
        )
        rows.append(row)
    if include_unlabelled:
        for stem in sorted(set(audio) - labelled):
            rows.append(
                {
                    "file": str(audio[stem]),
                    "corpus": CORPUS,
                    "language": "en",
                    "elicitation": "natural",
                    "partition": "unlabelled",
                }
            )
    return finish(rows, context, layout=LAYOUT, directory=directory, duration=duration)
