"""NNIME, the NTHU-NTUA Chinese Interactive Multimodal Emotion corpus (Mandarin, dyads).

What the corpus documents (Chou, Lin, Chang, Li, Lee et al., "NNIME: The NTHU-NTUA
Chinese Interactive Multimodal Emotion Corpus", ACII 2017; the corpus site
nnime.ee.nthu.edu.tw, "Construction"): 44 drama students (22 female) in dyads act
scenes around six affective atmospheres (angry, sad, happy, frustration, neutral,
surprise), each session about three minutes, each actor on a wireless close-talking
microphone. Every actor in every session has continuous-in-time activation and valence
annotations (Feeltrace, one value per second, on [-1, 1]) from many raters (peers,
director, self, naive observers), and session-level annotations: activation and valence
on 1-5 and one of the six categories.

The release's file layout is not public. This loader assumes the layout below, the
same trace layout as :mod:`~emoshift.data.loaders.creativeit`; the file names are its
assumption:

- ``audio/<session>_<speaker>.wav``, e.g. ``audio/S012_F03.wav``: one actor's channel of
  one session (speaker ``nnime_F03``);
- ``activation/`` and ``valence/`` folders holding ``<session>_<speaker>_<rater>.txt``,
  one trace each, lines ``<time> <value>`` (:mod:`emoshift.data.loaders.traces`);
- optionally ``session_labels.csv`` with columns ``session``, ``speaker``, ``category``
  (angry, happy, sad, neutral, frustration, surprise), ``activation``, ``valence``
  (1-5): the session-level annotation, as ``emotion`` and as
  ``session_arousal_raw`` / ``session_valence_raw`` (native 1-5) with their [-1, 1]
  copies ``session_arousal`` / ``session_valence``.

Scores from the traces are the mean over raters of each trace's mean (``n_annotators``),
native scale [-1, 1] in ``*_raw`` and the same normalised copy. With
``segments="utterance"`` each session channel gives one row per utterance instead, from
``segments/<session>_<speaker>.txt`` (lines ``<start> <end> [name]`` in seconds), scored
over the utterance's span of the traces and with features read from that span alone
(:mod:`emoshift.data.loaders.traces`); the session-level annotation is copied to each.
Gender stays missing. Language ``zh``, elicitation ``acted``.

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> root = example_corpus({"audio/S012_F03.wav": 16000})
    >>> (root / "activation").mkdir()
    >>> _ = (root / "activation" / "S012_F03_peer1.txt").write_text("0 0.5\\n1 0.7\\n")
    >>> _ = (root / "session_labels.csv").write_text(
    ...     "session,speaker,category,activation,valence\\nS012,F03,angry,5,1\\n")
    >>> row = load(root).iloc[0]
    >>> row["speaker"], row["emotion"], round(float(row["arousal"]), 2)
    ('nnime_F03', 'anger', 0.6)
    >>> float(row["session_arousal_raw"]), float(row["session_valence"])
    (5.0, -1.0)
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
    find_file,
    normalise,
)
from emoshift.data.loaders.traces import load_traced

LAYOUT = (
    "audio/<session>_<speaker>.wav, "
    "{activation,valence}/<session>_<speaker>_<rater>.txt and optionally session_labels.csv"
)
PATTERN = "<session>_<speaker>.wav, e.g. S012_F03.wav"
NNIME = Corpus("nnime", "NNIME", LAYOUT, PATTERN, language="zh", elicitation="acted")
ATTRIBUTES: dict[str, str] = {"activation": "arousal", "valence": "valence"}
"""Trace folder -> table dimension."""
CATEGORIES: dict[str, str] = {
    "angry": "anger",
    "happy": "happiness",
    "sad": "sadness",
    "neutral": "neutral",
    "frustration": "frustration",
    "surprise": "surprise",
}
"""The six session-level categories -> normalised emotions."""
SESSION_SCALE: tuple[float, float] = (1.0, 5.0)
"""The native range of the session-level activation and valence."""
SESSION_LABELS = "session_labels.csv"
SESSION_COLUMNS: tuple[str, ...] = ("session", "speaker", "category", "activation", "valence")

_RECORDING = re.compile(r"^(?P<session>[^_]+)_(?P<speaker>[^_]+)$")


def _session_labels(directory: Path, context: LoaderContext) -> dict[str, dict]:
    """Recording -> emotion and session-level scores, from session_labels.csv if present."""
    path = find_file(directory, [SESSION_LABELS])
    if path is None:
        return {}
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in SESSION_COLUMNS if c not in frame]
    if missing:
        raise ValueError(f"nnime: {path} lacks column(s) {missing}; expected {SESSION_COLUMNS}")
    labels = {}
    for number, record in enumerate(frame.to_dict("records"), 2):
        category = record["category"].strip().lower()
        scores = pd.to_numeric(pd.Series([record["activation"], record["valence"]]), "coerce")
        low, high = SESSION_SCALE
        if category not in CATEGORIES:
            reason = NNIME.outside("category", category, CATEGORIES)
        elif scores.isna().any() or not scores.between(low, high).all():
            reason = "activation and valence must be numbers on the 1-5 scale"
        else:
            key = f"{record['session']}_{record['speaker']}"
            labels[key] = {"emotion": CATEGORIES[category]} | {
                f"session_{dim}{suffix}": value
                for dim, raw in zip(("arousal", "valence"), scores, strict=True)
                for suffix, value in (("_raw", float(raw)), ("", normalise(raw, low, high)))
            }
            continue
        context.unrecognised(
            f"{path.name} line {number}", reason, "session,speaker,category,1-5,1-5"
        )
    return labels


def load(
    path: str | os.PathLike, segments: str = "recording", **options: Unpack[LoadOptions]
) -> pd.DataFrame:
    """Load NNIME (assumed layout, see the module docstring) from its folder.

    One row per actor and session with audio and at least one trace, or with
    ``segments="utterance"`` one per utterance of its segments file (extra columns
    ``start``, ``end``, ``utterance``). Extra columns: ``n_annotators`` and, with
    ``session_labels.csv``, the session-level annotation.
    """
    rows, context = load_traced(
        NNIME,
        path,
        _RECORDING,
        ATTRIBUTES,
        lambda match: {"session": match["session"]},
        options,
        segments,
    )
    sessions = _session_labels(context.directory, context)
    for row in rows:
        row.update(sessions.get(Path(row["file"]).stem, {}))
    return context.finish(rows)
