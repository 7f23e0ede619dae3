"""FAU Aibo, children's spontaneous speech to a Sony Aibo robot (German, two schools).

Layout of the FAU Aibo Emotion Corpus as the INTERSPEECH 2009 Emotion Challenge
distributes it (Schuller, Steidl & Batliner, "The INTERSPEECH 2009 Emotion Challenge",
Interspeech 2009; Steidl, "Automatic Classification of Emotion-Related User States in
Spontaneous Children's Speech", 2009), as public loaders read it (e.g. the ``AIBO``
dataset of autrainer, which expects the same file names):

- ``wav/<chunk>.wav``, one file per chunk (the challenge's unit of analysis: a
  syntactically and prosodically motivated part of a turn), e.g. ``wav/Ohm_01_001_00.wav``;
- ``labels/IS2009EmotionChallenge/chunk_labels_2cl_corpus.txt`` and
  ``chunk_labels_5cl_corpus.txt``: one line per chunk, ``<chunk> <label> <confidence>``
  separated by spaces, e.g. ``Ohm_01_001_00 IDL 1.0``.

Chunk names ``<school>_<SS>_<TTT>_<CC>``: the school ``Ohm`` (Ohm-Gymnasium, the
challenge's training set) or ``Mont`` (Montessori school, its test set), the child's
number ``SS`` within the school, turn ``TTT`` and chunk ``CC``. The school is the
``school`` column (the two domains of the challenge); speakers are ``fau_aibo_Ohm_01``.

Labels (the challenge paper, section 2):

- two classes: ``NEG`` negative (angry, touchy, reprimanding, emphatic) and ``IDL``
  idle (all other states), in ``aibo_2cl``, with ``valence_class`` negative / positive
  (what the ``binary_valence`` label space reads, so that Aibo pairs with EmoDB's
  negative / positive emotions) and ``confidence_2cl``;
- five classes: ``A`` anger (angry, touchy, reprimanding), ``E`` emphatic, ``N``
  neutral, ``P`` positive (motherese, joyful), ``R`` rest, in ``aibo_5cl`` with
  ``confidence_5cl``; ``emotion`` is A anger, N neutral, P happiness, R other, and
  missing for E (emphatic is not one of the normalised categories).

The challenge distribution does not name the children's gender in these files; the
``gender`` column stays missing. Language ``de``, elicitation ``natural``.

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> root = example_corpus({"wav/Mont_02_010_01.wav": 16000})
    >>> labels = root / "labels" / "IS2009EmotionChallenge"; labels.mkdir(parents=True)
    >>> _ = (labels / "chunk_labels_2cl_corpus.txt").write_text("Mont_02_010_01 NEG 0.8\\n")
    >>> _ = (labels / "chunk_labels_5cl_corpus.txt").write_text("Mont_02_010_01 A 0.6\\n")
    >>> row = load(root).iloc[0]
    >>> row["speaker"], row["school"], row["valence_class"], row["emotion"]
    ('fau_aibo_Mont_02', 'Mont', 'negative', 'anger')
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
    audio_files,
    find_file,
    matched,
)

LAYOUT = "wav/<chunk>.wav and labels/IS2009EmotionChallenge/chunk_labels_{2cl,5cl}_corpus.txt"
PATTERN = "<Ohm|Mont>_<SS>_<TTT>_<CC>, e.g. Ohm_01_001_00"
FAU_AIBO = Corpus("fau_aibo", "FAU Aibo", LAYOUT, PATTERN, language="de", elicitation="natural")
TWO_CLASS: dict[str, str] = {"NEG": "negative", "IDL": "positive"}
"""The challenge's two classes -> ``valence_class`` (IDL: the non-negative states)."""
FIVE_CLASS: dict[str, str | None] = {
    "A": "anger",
    "E": None,
    "N": "neutral",
    "P": "happiness",
    "R": "other",
}
"""The challenge's five classes -> normalised emotions (E, emphatic, has none)."""
LABEL_FILES: dict[str, str] = {
    "2cl": "chunk_labels_2cl_corpus.txt",
    "5cl": "chunk_labels_5cl_corpus.txt",
}
"""The label files of each task."""
SCHEMES: dict[str, dict] = {"2cl": TWO_CLASS, "5cl": FIVE_CLASS}

_CHUNK = re.compile(r"^(?P<school>Ohm|Mont)_(?P<speaker>\d{2})_(?P<turn>\d{3})_(?P<chunk>\d{2})$")


def _read_labels(path: Path, task: str, context: LoaderContext) -> dict[str, tuple[str, float]]:
    """Chunk -> (label, confidence) from one challenge label file."""
    labels = {}
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path.name} line {number}"
        expected = f"<chunk> <{'|'.join(SCHEMES[task])}> <confidence>"
        if len(fields) != 3 or _CHUNK.match(fields[0]) is None:
            context.unrecognised(where, "not a chunk label line", expected)
        elif fields[1] not in SCHEMES[task]:
            context.unrecognised(where, FAU_AIBO.outside(f"{task} label", fields[1], SCHEMES[task]))
        else:
            labels[fields[0]] = (fields[1], float(fields[2]))
    return labels


def _labels(directory: Path, tasks: tuple[str, ...], context: LoaderContext) -> dict[str, dict]:
    """Chunk -> task -> (label, confidence), for every task whose file is found."""
    chunks: dict[str, dict] = {}
    for task in tasks:
        path = find_file(directory, [LABEL_FILES[task]], max_depth=4)
        if path is None:
            raise FileNotFoundError(
                f"fau_aibo: no {LABEL_FILES[task]} under {directory} (expected layout: "
                f"{FAU_AIBO.layout}); pass labels= with the tasks you have"
            )
        for chunk, label in _read_labels(path, task, context).items():
            chunks.setdefault(chunk, {})[task] = label
    return chunks


def _row(chunk: str, file: Path, labels: dict) -> dict:
    match = _CHUNK.match(chunk)
    columns: dict = {"school": match["school"], "turn": match["turn"], "chunk": match["chunk"]}
    if "5cl" in labels:
        code, confidence = labels["5cl"]
        columns |= {"emotion": FIVE_CLASS[code], "aibo_5cl": code, "confidence_5cl": confidence}
    if "2cl" in labels:
        code, confidence = labels["2cl"]
        columns |= {
            "valence_class": TWO_CLASS[code],
            "aibo_2cl": code,
            "confidence_2cl": confidence,
        }
    return FAU_AIBO.row(file, f"{match['school']}_{match['speaker']}", **columns)


def load(
    path: str | os.PathLike,
    *,
    labels: str | tuple[str, ...] = ("2cl", "5cl"),
    **options: Unpack[LoadOptions],
) -> pd.DataFrame:
    """Load FAU Aibo (the challenge chunks) from the folder holding ``wav/`` and ``labels/``.

    ``labels`` names the tasks to read, ``"2cl"``, ``"5cl"`` or both (default); a chunk
    must be labelled in each. Chunks without audio, audio without labels and labels
    outside the scheme are reported (:class:`CorpusWarning`, or :class:`CorpusFormatError`
    with ``strict=True``).
    """
    tasks = (labels,) if isinstance(labels, str) else tuple(labels)
    unknown = sorted(set(tasks) - set(LABEL_FILES))
    if unknown or not tasks:
        raise ValueError(f"fau_aibo: labels={labels!r}; choose from {sorted(LABEL_FILES)}")
    context = FAU_AIBO.start(path, **options)
    chunks = _labels(context.directory, tasks, context)
    chunks = {c: task for c, task in chunks.items() if set(task) == set(tasks)}
    audio = {}
    for file in audio_files(context.directory):
        if FAU_AIBO.match(file, _CHUNK, context) is not None:
            audio[file.stem] = file
    source = " and ".join(LABEL_FILES[task] for task in tasks)
    keys = matched(chunks, audio, context, source)
    return context.finish([_row(chunk, audio[chunk], chunks[chunk]) for chunk in keys])
