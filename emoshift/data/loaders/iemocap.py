"""IEMOCAP, the Interactive Emotional Dyadic Motion Capture database (English, acted dyads).

Layout as distributed (Busso et al., Language Resources and Evaluation 2008; the
release's README), under ``IEMOCAP_full_release/``:

- ``Session{1..5}/sentences/wav/<dialog>/<utterance>.wav``, e.g.
  ``Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav``;
- ``Session{1..5}/dialog/EmoEvaluation/<dialog>.txt``, one block per utterance whose
  first line is ``[START - END]<TAB>UTTERANCE<TAB>CODE<TAB>[V, A, D]``, e.g.
  ``[6.2901 - 8.2357]	Ses01F_impro01_F000	neu	[2.5000, 2.5000, 2.5000]``: the
  consensus category and the evaluators' mean valence, activation and dominance on the
  1-5 scale (the file's header reads ``% [START_TIME - END_TIME] TURN_NAME EMOTION
  [V, A, D]``).

Utterance names ``Ses<SS><L>_<dialog>_<G><NNN>``: session ``SS``, the dialog
(``impro..`` improvised or ``script..`` scripted, which becomes ``elicitation``) and the
speaking actor's gender ``G`` (``F``/``M``; each session has one female and one male
actor, so the speaker is ``iemocap_Ses01F``). Category codes: neu, hap, sad, ang, sur,
fea, dis, fru, exc, oth, and xxx where the evaluators did not agree (kept with no
emotion, its dimensional scores intact).

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> wav = "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav"
    >>> root = example_corpus({wav: 16000})
    >>> (root / "Session1/dialog/EmoEvaluation").mkdir(parents=True)
    >>> _ = (root / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt").write_text(
    ...     "[6.2901 - 8.2357]\\tSes01F_impro01_F000\\tneu\\t[2.5000, 4.0000, 3.0000]\\n")
    >>> row = load(root).iloc[0]
    >>> row["speaker"], row["emotion"], row["elicitation"]
    ('iemocap_Ses01F', 'neutral', 'improvised')
    >>> float(row["arousal_raw"]), float(row["arousal"]), float(row["valence"])
    (4.0, 0.5, -0.25)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Unpack

import pandas as pd

from emoshift.data.loaders.base import (
    Corpus,
    LoaderContext,
    LoadOptions,
    add_dimensions,
    audio_files,
    matched,
)

LAYOUT = (
    "Session{1..5}/sentences/wav/<dialog>/<utterance>.wav and "
    "Session{1..5}/dialog/EmoEvaluation/<dialog>.txt"
)
PATTERN = "Ses<SS><F|M>_<impro..|script..>_<F|M><NNN>, e.g. Ses01F_impro01_F000"
IEMOCAP = Corpus("iemocap", "IEMOCAP", LAYOUT, PATTERN, language="en")
EMOTIONS: dict[str, str | None] = {
    "neu": "neutral",
    "hap": "happiness",
    "sad": "sadness",
    "ang": "anger",
    "sur": "surprise",
    "fea": "fear",
    "dis": "disgust",
    "fru": "frustration",
    "exc": "excitement",
    "oth": "other",
    "xxx": None,
}
"""IEMOCAP's category codes and normalised emotions (``xxx``: no agreement, no emotion)."""
SCALE: tuple[float, float] = (1.0, 5.0)
"""The native range of IEMOCAP's valence, activation and dominance ratings."""

_UTTERANCE = re.compile(
    r"^Ses(?P<session>\d{2})[FM]_(?P<dialog>(?:impro|script)[^_]*(?:_[^_]+)*?)"
    r"_(?P<gender>[FM])(?P<turn>\d{3})$"
)
_LINE = re.compile(
    r"^\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(?P<name>\S+)\s+(?P<code>\S+)\s+"
    r"\[\s*(?P<v>[\d.]+)\s*,\s*(?P<a>[\d.]+)\s*,\s*(?P<d>[\d.]+)\s*\]"
)


def _evaluation_files(directory: Path) -> list[Path]:
    """Every ``<dialog>.txt`` directly inside an ``EmoEvaluation`` folder."""
    found = []
    for root, _dirs, files in os.walk(directory):
        if Path(root).name == "EmoEvaluation":
            found += [Path(root) / f for f in files if f.endswith(".txt") and f[:2] != "._"]
    return sorted(found)


def _labels(directory: Path, context: LoaderContext) -> dict[str, dict]:
    """Utterance name -> code and V/A/D scores, from every EmoEvaluation file."""
    labels = {}
    for path in _evaluation_files(directory):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = _LINE.match(line)
            if match is None:
                continue
            where = f"{path.name} line {number} ({match['name']})"
            if match["code"] not in EMOTIONS:
                context.unrecognised(
                    where,
                    IEMOCAP.outside("category", match["code"], EMOTIONS),
                    "[START - END] UTTERANCE CODE [V, A, D]",
                )
                continue
            labels[match["name"]] = {
                "code": match["code"],
                "scores": {
                    "valence": float(match["v"]),
                    "arousal": float(match["a"]),
                    "dominance": float(match["d"]),
                },
            }
    return labels


def _audio(directory: Path, context: LoaderContext) -> dict[str, Path]:
    """Utterance name -> sentence audio file, for names in IEMOCAP's scheme."""
    audio = {}
    for file in audio_files(directory):
        if "sentences" in file.parts and IEMOCAP.match(file, _UTTERANCE, context) is not None:
            audio[file.stem] = file
    return audio


def _row(name: str, file: Path, label: dict) -> dict:
    match = _UTTERANCE.match(name)
    session, code = match["session"], label["code"]
    row = IEMOCAP.row(
        file,
        f"Ses{session}{match['gender']}",
        gender="female" if match["gender"] == "F" else "male",
        emotion=EMOTIONS[code],
        elicitation="improvised" if match["dialog"].startswith("impro") else "scripted",
        session=str(int(session)),
        emotion_raw=code,
        dialog=name.rsplit("_", 1)[0],
    )
    add_dimensions(row, label["scores"], *SCALE)
    return row


def load(path: str | os.PathLike, **options: Unpack[LoadOptions]) -> pd.DataFrame:
    """Load IEMOCAP from ``IEMOCAP_full_release/`` (or one ``Session*`` folder).

    One row per utterance that has both audio and an EmoEvaluation entry; audio without
    an entry and entries without audio are reported (:class:`CorpusWarning`, or
    :class:`CorpusFormatError` with ``strict=True``). Extra column: ``dialog``.
    """
    context = IEMOCAP.start(path, **options)
    labels = _labels(context.directory, context)
    audio = _audio(context.directory, context)
    rows = []
    names = matched(
        labels,
        audio,
        context,
        "EmoEvaluation",
        missing_audio=lambda name: f"{name}: in EmoEvaluation, no sentence audio",
        unlabelled=lambda file: f"{file}: no EmoEvaluation entry",
    )
    for name in names:
        if _UTTERANCE.match(name) is None:
            context.unrecognised(name, "EmoEvaluation entry outside IEMOCAP's scheme")
            continue
        rows.append(_row(name, audio[name], labels[name]))
    return context.finish(rows)
