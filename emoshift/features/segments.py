"""Segments of audio files: a table row that stands for a time span of its file.

A corpus table whose recordings hold several utterances (CreativeIT, NNIME in utterance
mode) carries, besides ``file``, the columns ``start`` and ``end`` in seconds from the
file's beginning (openSMILE's segmented-index convention: file, start, end). A row
without them (or with both empty) stands for its whole file.

Feature extraction, the feature cache and every place that must tell two rows apart
name a row by :func:`row_name`: the file path, or for a segment the path with a W3C
Media Fragments time suffix, ``<file>#t=<start>,<end>``. :func:`split_name` turns a
name back into the file and its span; :func:`cut` takes the span out of a signal at
its native rate, so that a segment's features equal those of the audio cut from it.

Example:
    >>> import pandas as pd
    >>> table = pd.DataFrame({"file": ["a.wav", "a.wav", "b.wav"],
    ...                       "start": [0.0, 1.5, None], "end": [1.5, 2.25, None]})
    >>> row_names(table)
    ['a.wav#t=0.0,1.5', 'a.wav#t=1.5,2.25', 'b.wav']
    >>> split_name("a.wav#t=1.5,2.25")
    ('a.wav', (1.5, 2.25))
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

SEGMENT_COLUMNS: tuple[str, str] = ("start", "end")
"""The columns of a segment's span, in seconds from the start of its file."""

_FRAGMENT = re.compile(r"^(?P<file>.+)#t=(?P<start>[0-9.eE+-]+),(?P<end>[0-9.eE+-]+)$")


def segment_name(file: str, start: float, end: float) -> str:
    """The name of the span ``[start, end)`` of ``file``; the seconds are written in
    their shortest exact form, so :func:`split_name` gives the same floats back."""
    return f"{file}#t={float(start)!r},{float(end)!r}"


def check_span(file: str, start: float, end: float) -> None:
    """``ValueError`` naming ``file`` unless ``0 <= start < end`` are finite seconds."""
    if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
        raise ValueError(
            f"{file}: segment start={start!r}, end={end!r} s is not a span "
            "(need 0 <= start < end, in seconds); correct or drop the row"
        )


def row_names(table: pd.DataFrame) -> list[str]:
    """Each row's name: its ``file``, or ``<file>#t=<start>,<end>`` for a segment.

    Raises ``ValueError`` naming the file for a row with only one of ``start`` and
    ``end``, or with a span that is not ``0 <= start < end``.
    """
    files = [str(f) for f in table["file"]]
    if not all(column in table for column in SEGMENT_COLUMNS):
        return files
    names = []
    for file, start, end in zip(files, table["start"], table["end"], strict=True):
        if pd.isna(start) and pd.isna(end):
            names.append(file)
            continue
        if pd.isna(start) or pd.isna(end):
            raise ValueError(
                f"{file}: a segment needs both 'start' and 'end' (seconds); fill the empty "
                "one, or leave both empty for the whole file"
            )
        check_span(file, float(start), float(end))
        names.append(segment_name(file, start, end))
    return names


def split_name(name: str) -> tuple[str, tuple[float, float] | None]:
    """The file of a row name and its span, ``None`` for a whole file."""
    match = _FRAGMENT.match(name)
    if match is None:
        return name, None
    try:
        span = float(match["start"]), float(match["end"])
    except ValueError:
        return name, None
    return match["file"], span


def span_frames(span: tuple[float, float], sample_rate: int) -> tuple[int, int]:
    """The sample indices ``[first, stop)`` of a span at ``sample_rate`` (rounded)."""
    start, end = span
    return int(round(start * sample_rate)), int(round(end * sample_rate))


def cut(signal: np.ndarray, sample_rate: int, span: tuple[float, float]) -> np.ndarray:
    """The samples of ``signal`` (at ``sample_rate``) inside ``span``, along axis 0."""
    first, stop = span_frames(span, sample_rate)
    return signal[first:stop]
