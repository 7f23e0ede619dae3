"""USC CreativeIT, dyadic theatrical improvisations with continuous emotion traces (English).

What the corpus documents (Metallinou, Lee, Busso, Carnicke & Narayanan, "The USC
CreativeIT database: A multimodal database of theatrical improvisation", Multimodal
Corpora workshop, LREC 2010; Metallinou et al., "The USC CreativeIT database of
multimodal dyadic interactions: from speech and full body motion capture to continuous
emotional annotations", Language Resources and Evaluation 50, 2016): pairs of actors
improvise scenes (Active Analysis), each actor recorded on a close-talking microphone;
for every actor and performance several annotators traced activation, valence and
dominance continuously in time with Feeltrace, on [-1, 1].

The release's file layout is not public. This loader assumes the layout below, one
folder per attribute of per-annotator traces, and the file names are its assumption:

- ``audio/<session>_<performance>_<actor>.wav``, e.g. ``audio/Ses01_P03_A02.wav``: the
  close-talking audio of one actor in one performance (the speaker is the actor,
  ``creativeit_A02``; ``session`` and ``performance`` become columns);
- ``activation/``, ``valence/``, ``dominance/`` folders (anywhere below the corpus folder)
  holding ``<session>_<performance>_<actor>_<annotator>.txt``: one trace, lines
  ``<time> <value>`` (:mod:`emoshift.data.loaders.traces`).

A recording's score per attribute is the mean over annotators of each trace's mean
(``n_annotators`` counts them); activation is the table's ``arousal``. With
``segments="utterance"`` each recording gives one row per utterance instead, from
``segments/<session>_<performance>_<actor>.txt`` (lines ``<start> <end> [name]`` in
seconds), scored over the utterance's span of the traces and with features read from
that span alone (:mod:`emoshift.data.loaders.traces`). The native scale
is the trace scale [-1, 1]: ``*_raw`` holds it and the normalised copy is the same.
Gender is not in these names and stays missing. Language ``en``, elicitation
``improvised``.

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> root = example_corpus({"audio/Ses01_P03_A02.wav": 16000})
    >>> for folder in ("activation", "valence"): (root / folder).mkdir()
    >>> _ = (root / "activation" / "Ses01_P03_A02_ann1.txt").write_text("0 0.2\\n1 0.6\\n")
    >>> _ = (root / "valence" / "Ses01_P03_A02_ann1.txt").write_text("0 -0.5\\n")
    >>> row = load(root).iloc[0]
    >>> row["speaker"], row["performance"], round(float(row["arousal"]), 2)
    ('creativeit_A02', 'P03', 0.4)
"""

from __future__ import annotations

import os
import re
from typing import Unpack

import pandas as pd

from emoshift.data.loaders.base import Corpus, LoadOptions
from emoshift.data.loaders.traces import load_traced

LAYOUT = (
    "audio/<session>_<performance>_<actor>.wav and "
    "{activation,valence,dominance}/<session>_<performance>_<actor>_<annotator>.txt"
)
PATTERN = "<session>_<performance>_<actor>.wav, e.g. Ses01_P03_A02.wav"
CREATIVEIT = Corpus(
    "creativeit", "CreativeIT", LAYOUT, PATTERN, language="en", elicitation="improvised"
)
ATTRIBUTES: dict[str, str] = {
    "activation": "arousal",
    "valence": "valence",
    "dominance": "dominance",
}
"""Trace folder -> table dimension."""

_RECORDING = re.compile(r"^(?P<session>[^_]+)_(?P<performance>[^_]+)_(?P<speaker>[^_]+)$")


def load(
    path: str | os.PathLike, segments: str = "recording", **options: Unpack[LoadOptions]
) -> pd.DataFrame:
    """Load CreativeIT (assumed layout, see the module docstring) from its folder.

    One row per actor and performance with audio and at least one trace, or with
    ``segments="utterance"`` one per utterance of its segments file (extra columns
    ``start``, ``end``, ``utterance``). Extra columns: ``performance``, ``n_annotators``.
    Traces without audio, audio without traces and names outside the scheme are reported.
    """
    rows, context = load_traced(
        CREATIVEIT,
        path,
        _RECORDING,
        ATTRIBUTES,
        lambda match: {"session": match["session"], "performance": match["performance"]},
        options,
        segments,
    )
    return context.finish(rows)
