"""VAM, the Vera am Mittag German audio-visual emotional speech database (talk show).

What the corpus documents (Grimm, Kroschel & Narayanan, "The Vera am Mittag German
audio-visual emotional speech database", ICME 2008): VAM-Audio holds 947 spontaneous
utterances of 47 talk-show guests, in two parts by quality (VAM-Audio I, 499 utterances
of 19 speakers rated by 17 evaluators; VAM-Audio II, 448 of 28 rated by 6). Each
evaluator rated valence, activation and dominance with Self-Assessment Manikins on five
steps mapped to [-1, 1]; the reference value of an utterance is the evaluator weighted
estimator (EWE) of those ratings, on [-1, 1].

The release's file layout is not public. This loader assumes:

- the utterances as ``<utterance>.wav`` anywhere below the corpus folder;
- one label table ``ewe.csv`` (comma-separated; ``ewe.tsv`` / ``ewe.txt`` tab-separated)
  with columns ``utterance`` (the audio file's stem), ``speaker``, ``valence``,
  ``activation``, ``dominance`` (the EWE, [-1, 1]) and optionally ``gender``
  (``m``/``f`` or ``male``/``female``) and ``part`` (``I`` or ``II``).

The native scale is [-1, 1]: ``*_raw`` holds the EWE and the normalised copy is the
same; activation is the table's ``arousal``. Language ``de``, elicitation ``natural``.

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> root = example_corpus({"Satz001.wav": 16000})
    >>> _ = (root / "ewe.csv").write_text(
    ...     "utterance,speaker,valence,activation,dominance,gender\\n"
    ...     "Satz001,07,-0.4,0.6,0.3,f\\n")
    >>> row = load(root).iloc[0]
    >>> row["speaker"], row["gender"], float(row["arousal"]), float(row["valence_raw"])
    ('vam_07', 'female', 0.6, -0.4)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Unpack

import pandas as pd

from emoshift.data.loaders.base import Corpus, LoaderContext, LoadOptions, add_dimensions

LAYOUT = "<utterance>.wav and ewe.csv (utterance, speaker, valence, activation, dominance)"
VAM = Corpus("vam", "VAM", LAYOUT, language="de", elicitation="natural")
LABEL_FILES: tuple[str, ...] = ("ewe.csv", "ewe.tsv", "ewe.txt")
COLUMNS: tuple[str, ...] = ("utterance", "speaker", "valence", "activation", "dominance")
SCALE: tuple[float, float] = (-1.0, 1.0)
"""The native range of the EWE scores."""
GENDERS: dict[str, str] = {"m": "male", "f": "female", "male": "male", "female": "female"}


def _read(path: Path, context: LoaderContext) -> dict[str, dict]:
    """Utterance -> its label record, checked: scores numeric and on [-1, 1]."""
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in frame]
    if missing:
        raise ValueError(f"vam: {path} lacks column(s) {missing}; expected {list(COLUMNS)}")
    entries = {}
    for number, record in enumerate(frame.to_dict("records"), 2):
        scores = pd.to_numeric(pd.Series([record[c] for c in COLUMNS[2:]]), errors="coerce")
        if scores.isna().any() or scores.abs().max() > 1:
            context.unrecognised(
                f"{path.name} line {number} ({record['utterance']})",
                "valence, activation and dominance must be numbers in [-1, 1]",
                "an EWE score in [-1, 1] per attribute",
            )
            continue
        entries[record["utterance"]] = record | dict(zip(COLUMNS[2:], scores, strict=True))
    return entries


def _row(file: Path, entry: dict) -> dict:
    columns = {"gender": GENDERS.get(str(entry.get("gender", "")).strip().lower())}
    if entry.get("part"):
        columns["part"] = entry["part"]
    row = VAM.row(file, entry["speaker"], **columns)
    scores = {"valence": entry["valence"], "arousal": entry["activation"]}
    add_dimensions(row, scores | {"dominance": entry["dominance"]}, *SCALE)
    return row


def load(
    path: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    **options: Unpack[LoadOptions],
) -> pd.DataFrame:
    """Load VAM-Audio (assumed layout, see the module docstring) from its folder.

    ``labels`` names the EWE table when it is elsewhere. One row per utterance with audio
    and a label line; the others are reported. Extra column: ``part`` when given.
    """
    return VAM.load_labelled(
        path, labels, _read, _row, label_files=LABEL_FILES, what="EWE label table", **options
    )
