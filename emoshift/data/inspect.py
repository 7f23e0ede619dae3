"""What a person checks first about a corpus: size, speakers, labels, audio, problems.

:func:`corpus_info` summarises a corpus table (and the :class:`LoadReport` of its load);
:func:`format_corpus_info` renders the summary as the text ``emoshift corpus info``
prints.

Example:
    >>> import pandas as pd
    >>> table = pd.DataFrame({
    ...     "file": ["a.wav", "b.wav", "c.wav"], "corpus": "demo",
    ...     "speaker": ["s1", "s1", "s2"], "emotion": ["anger", "neutral", "anger"],
    ...     "duration": [1.5, 2.0, 2.5], "sample_rate": [16000, 16000, 16000]})
    >>> info = corpus_info(table)
    >>> info.utterances, info.speakers, info.total_duration, info.sample_rates
    (3, 2, 6.0, {16000: 3})
    >>> print(format_corpus_info(info))  # doctest: +NORMALIZE_WHITESPACE
    corpus: demo
    utterances: 3
    speakers: 2
    total duration: 0:00:06 (6.0 s)
    sample rates: 16000 Hz (3 files)
    labels per speaker:
    emotion  anger  neutral  total
    speaker
    s1           1        1      2
    s2           1        0      1
    total        2        1      3
    problems: none found
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass, field

import pandas as pd

from emoshift.data.loaders.base import PROBLEM_KINDS, LoadReport
from emoshift.features.audio import AUDIO_PROBLEMS, AudioError, load_samples
from emoshift.progress import progress


@dataclass
class CorpusInfo:
    """The summary of one corpus table; see :func:`corpus_info`."""

    corpora: list[str]
    utterances: int
    speakers: int
    total_duration: float
    per_speaker: pd.DataFrame
    sample_rates: dict[int, int]
    without_emotion: int
    problems: dict[str, list[str]] = field(default_factory=dict)
    audio_problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether neither the load nor the audio check found anything wrong."""
        return not self.problems and not self.audio_problems


def _natural_key(name: str) -> list:
    """Sort key that puts ``urdu_SM2`` before ``urdu_SM10``."""
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)
    ]


def audio_problems(files: list[str], show_progress: bool | None = None) -> dict[str, list[str]]:
    """The files feature extraction will skip, per kind of :data:`AUDIO_PROBLEMS`.

    Each file's header and samples are read and checked as
    :func:`emoshift.features.audio.read_audio` checks them (one declared check).

    Example:
        >>> import tempfile, numpy as np, soundfile as sf
        >>> folder = tempfile.mkdtemp()
        >>> sf.write(f"{folder}/quiet.wav", np.zeros(16000), 16000)
        >>> list(audio_problems([f"{folder}/quiet.wav", f"{folder}/none.wav"], False))
        ['missing', 'silent']
    """
    found: dict[str, list[str]] = {}
    for file in progress(files, enabled=show_progress, desc="checking audio", unit="file"):
        try:
            load_samples(file)
        except AudioError as error:
            found.setdefault(error.kind or "undecodable", []).append(str(error))
    return {kind: found[kind] for kind in AUDIO_PROBLEMS if kind in found}


def corpus_info(
    table: pd.DataFrame, report: LoadReport | None = None, *, check_audio: bool = False
) -> CorpusInfo:
    """Summarise ``table``: counts, total duration, labels per speaker, sample rates.

    ``per_speaker`` is a speaker x emotion count table with ``total`` margins (rows
    without a speaker count under ``<none>``); ``sample_rates`` maps each rate to its
    number of files (files whose header could not be read are not counted);
    ``problems`` are the report's messages per kind; with ``check_audio`` every file is
    checked as feature extraction checks it (:func:`audio_problems`).
    """
    speakers = table["speaker"].astype("string").fillna("<none>")
    emotions = table["emotion"].astype("string")
    labelled = emotions.notna()
    if labelled.any():
        per_speaker = pd.crosstab(
            speakers[labelled].rename("speaker"),
            emotions[labelled].rename("emotion"),
            margins=True,
            margins_name="total",
        )
        order = sorted(per_speaker.index.drop("total"), key=_natural_key)
        per_speaker = per_speaker.loc[[*order, "total"]]
    else:
        per_speaker = pd.DataFrame()
    rates = (
        pd.to_numeric(table["sample_rate"], errors="coerce").dropna().astype(int).value_counts()
        if "sample_rate" in table
        else pd.Series(dtype=int)
    )
    duration = (
        pd.to_numeric(table["duration"], errors="coerce").sum(min_count=1)
        if "duration" in table
        else math.nan
    )
    return CorpusInfo(
        corpora=sorted(table["corpus"].dropna().astype(str).unique()),
        utterances=len(table),
        speakers=int(table["speaker"].dropna().nunique()),
        total_duration=float(duration),
        per_speaker=per_speaker,
        sample_rates={int(rate): int(n) for rate, n in sorted(rates.items())},
        without_emotion=int((~labelled).sum()),
        problems=report.problems() if report is not None else {},
        audio_problems=audio_problems(table["file"].astype(str).tolist()) if check_audio else {},
    )


def _duration(seconds: float) -> str:
    if math.isnan(seconds):
        return "unknown (durations not read)"
    return f"{datetime.timedelta(seconds=round(seconds))} ({seconds:.1f} s)"


def format_corpus_info(info: CorpusInfo, *, max_speakers: int = 50, max_problems: int = 10) -> str:
    """The summary as text: one fact per line, the per-speaker table, then the problems.

    At most ``max_speakers`` speakers and ``max_problems`` messages per kind of problem
    are listed; the remainder is counted.
    """
    lines = [
        f"corpus: {', '.join(info.corpora)}",
        f"utterances: {info.utterances}",
        f"speakers: {info.speakers}",
        f"total duration: {_duration(info.total_duration)}",
        "sample rates: "
        + (
            ", ".join(f"{rate} Hz ({n} files)" for rate, n in info.sample_rates.items())
            or "unknown"
        ),
    ]
    if info.without_emotion:
        lines.append(f"utterances without an emotion label: {info.without_emotion}")
    if info.per_speaker.empty:
        lines.append("labels per speaker: no emotion labels")
    else:
        table = info.per_speaker
        shown = table.drop(index="total")
        if len(shown) > max_speakers:
            omitted = len(shown) - max_speakers
            table = pd.concat([shown.head(max_speakers), table.loc[["total"]]])
            lines.append(f"labels per speaker (first {max_speakers}, {omitted} more):")
        else:
            lines.append("labels per speaker:")
        lines.append(table.to_string())
    if info.ok:
        lines.append("problems: none found")
    problems = [(PROBLEM_KINDS[kind], messages) for kind, messages in info.problems.items()]
    problems += [
        (f"{AUDIO_PROBLEMS[kind]} (feature extraction skips them)", messages)
        for kind, messages in info.audio_problems.items()
    ]
    for description, messages in problems:
        lines.append(f"problems: {len(messages)} {description}")
        lines += [f"  {message}" for message in messages[:max_problems]]
        if len(messages) > max_problems:
            lines.append(f"  ... and {len(messages) - max_problems} more")
    return "\n".join(lines)
