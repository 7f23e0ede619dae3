"""Continuous-in-time emotion annotations (Feeltrace-style traces) reduced to scores.

Corpora annotated with continuous traces (CreativeIT, NNIME) give, per recording and
attribute, one trace per annotator: a text file of ``<time> <value>`` lines (spaces,
tabs or commas; lines that are not two numbers, such as a header, are skipped), values
on the tracing tool's scale. A recording's score for an attribute is the mean over its
annotators of each trace's mean over time; ``n_annotators`` counts the traces averaged.

With ``segments="utterance"`` a recording gives one row per utterance instead, read
from ``segments/<recording>.<txt|csv|dat>`` below the corpus folder: one utterance per
line, ``<start> <end>`` in seconds from the recording's start, optionally followed by
the utterance's name (Audacity's label-track export has this form; other lines are
skipped). The row carries ``start`` and ``end`` (:mod:`emoshift.features.segments`, so
its features come from that span alone) and ``utterance`` (the name, or
``<recording>_<number>``). Its score per attribute is the mean over annotators of each
trace's mean over the samples timed in ``[start, end)``; a trace with no sample there
(an utterance shorter than the trace's step) gives the value it holds at ``start``: its
last sample before, or its first sample if the utterance starts before it.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_text("time,value\\n0.0,0.5\\n1.0,1.0\\n")
    >>> times, values = read_trace(root / "a.txt")
    >>> float(values.mean())
    0.75
    >>> span_mean(times, values, (0.5, 0.9)), span_mean(times, values, (0.9, 2.0))
    (0.5, 1.0)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from emoshift.data.loaders.base import (
    Corpus,
    LoaderContext,
    add_dimensions,
    audio_files,
    matched,
)

SEGMENT_MODES: tuple[str, ...] = ("recording", "utterance")
"""What a row of a traced corpus stands for: a whole recording or one utterance of it."""
SEGMENTS_FOLDER = "segments"
"""The folder (anywhere below the corpus folder) of the utterance files."""
TRACE_SUFFIXES: tuple[str, ...] = (".txt", ".csv", ".dat")
"""File suffixes read as traces."""
TRACE_SCALE: tuple[float, float] = (-1.0, 1.0)
"""The scale of Feeltrace-style traces."""

_PAIR = re.compile(r"^\s*([-+\d.eE]+)[\s,;]+([-+\d.eE]+)\s*$")
_SPAN = re.compile(r"^\s*([-+\d.eE]+)[\s,;]+([-+\d.eE]+)(?:[\s,;]+(\S.*?))?\s*$")

Trace = tuple[np.ndarray, np.ndarray]
"""One annotator's trace: sample times and values."""
Span = tuple[float, float, str]
"""One utterance: start and end in seconds, and its name."""


def _numbers(*groups: str | None) -> list[float] | None:
    try:
        return [float(group) for group in groups if group is not None]
    except ValueError:
        return None


def read_trace(path: Path) -> Trace:
    """The sample times and values of one trace file; ``ValueError`` naming it if it
    holds no samples."""
    samples = []
    for line in path.read_text(errors="replace").splitlines():
        match = _PAIR.match(line)
        pair = None if match is None else _numbers(match[1], match[2])
        if pair is not None:
            samples.append(pair)
    if not samples:
        raise ValueError(f"{path}: no '<time> <value>' lines in this trace")
    times, values = np.asarray(samples, dtype=float).T
    return times, values


def span_mean(times: np.ndarray, values: np.ndarray, span: tuple[float, float]) -> float:
    """The mean of the samples timed in ``[start, end)``, else the value held at ``start``
    (the last sample before it, or the first sample)."""
    start, end = span
    inside = (times >= start) & (times < end)
    if inside.any():
        return float(values[inside].mean())
    before = np.flatnonzero(times <= start)
    held = before[np.argmax(times[before])] if before.size else np.argmin(times)
    return float(values[held])


def read_spans(path: Path, recording: str) -> list[Span]:
    """The utterances of one segments file (see the module docstring), in file order;
    ``ValueError`` naming the file and line for a span that is not ``0 <= start < end``
    or if it lists none."""
    spans = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        match = _SPAN.match(line)
        times = None if match is None else _numbers(match[1], match[2])
        if times is None:
            continue
        start, end = times
        if not (np.isfinite([start, end]).all() and 0 <= start < end):
            raise ValueError(
                f"{path} line {number}: start {start:g} s, end {end:g} s is not an "
                "utterance (need 0 <= start < end)"
            )
        spans.append((start, end, match[3] or f"{recording}_{len(spans) + 1:03d}"))
    if not spans:
        raise ValueError(f"{path}: no '<start> <end> [name]' lines in this segments file")
    return spans


def _trace_files(directory: Path, attributes: Mapping[str, str]) -> list[tuple[str, Path]]:
    """Every trace file below ``directory`` with its attribute folder's name."""
    found = []
    for root, _dirs, files in os.walk(directory):
        attribute = Path(root).name.lower()
        if attribute in attributes:
            found += [
                (attribute, Path(root) / f)
                for f in sorted(files)
                if Path(f).suffix.lower() in TRACE_SUFFIXES
            ]
    return found


def read_traces(
    directory: Path,
    name: re.Pattern,
    attributes: Mapping[str, str],
    context: LoaderContext,
    pattern: str,
) -> tuple[dict[str, dict[str, list[Trace]]], dict[str, int]]:
    """Recording -> table dimension -> its annotators' traces, and recording -> the
    number of annotators.

    ``name`` matches a trace file's stem with groups ``recording`` and ``annotator``;
    the attribute is the name of the folder the file is in (a key of ``attributes``,
    which maps it to a table dimension). Unreadable or empty traces and files outside
    the scheme are reported as unrecognised and skipped.
    """
    traces: dict[str, dict[str, list[Trace]]] = {}
    annotators: dict[str, set[str]] = {}
    for attribute, path in _trace_files(directory, attributes):
        match = name.match(path.stem)
        if match is None:
            context.unrecognised(
                f"{attribute}/{path.name}", "trace name outside the scheme", pattern
            )
            continue
        try:
            trace = read_trace(path)
        except (ValueError, OSError) as error:
            context.unrecognised(f"{attribute}/{path.name}", str(error), pattern)
            continue
        recording = match["recording"]
        traces.setdefault(recording, {}).setdefault(attributes[attribute], []).append(trace)
        annotators.setdefault(recording, set()).add(match["annotator"])
    return traces, {recording: len(names) for recording, names in annotators.items()}


def recording_scores(traces: Mapping[str, list[Trace]]) -> dict[str, float]:
    """Table dimension -> the mean over annotators of each trace's mean."""
    return {
        dim: float(np.mean([values.mean() for _, values in dim_traces]))
        for dim, dim_traces in sorted(traces.items())
    }


def span_scores(traces: Mapping[str, list[Trace]], span: tuple[float, float]) -> dict[str, float]:
    """Table dimension -> the mean over annotators of each trace's :func:`span_mean`."""
    return {
        dim: float(np.mean([span_mean(times, values, span) for times, values in dim_traces]))
        for dim, dim_traces in sorted(traces.items())
    }


def _segment_files(
    directory: Path, recording: re.Pattern, context: LoaderContext
) -> dict[str, Path]:
    """Recording -> its segments file, from every ``segments`` folder below ``directory``."""
    found = {}
    for root, _dirs, files in os.walk(directory):
        if Path(root).name.lower() != SEGMENTS_FOLDER:
            continue
        for file in sorted(f for f in files if Path(f).suffix.lower() in TRACE_SUFFIXES):
            if recording.match(Path(file).stem) is None:
                context.unrecognised(
                    f"{SEGMENTS_FOLDER}/{file}",
                    "segments file name outside the scheme",
                    f"{SEGMENTS_FOLDER}/<recording>.txt",
                )
                continue
            found[Path(file).stem] = Path(root) / file
    return found


def utterance_rows(row: dict, traces: Mapping[str, list[Trace]], spans: list[Span]) -> list[dict]:
    """One row per utterance of a recording's ``row``: its span, name and trace scores."""
    rows = []
    for start, end, utterance in spans:
        segment = row | {"start": start, "end": end, "utterance": utterance}
        add_dimensions(segment, span_scores(traces, (start, end)), *TRACE_SCALE)
        rows.append(segment)
    return rows


def load_traced(
    corpus: Corpus,
    path: str | os.PathLike,
    recording: re.Pattern,
    attributes: Mapping[str, str],
    columns: Callable[[re.Match], dict],
    options: Mapping[str, object],
    segments: str = "recording",
) -> tuple[list[dict], LoaderContext]:
    """Rows of a traced corpus: ``audio/<recording>.wav`` joined with its trace scores,
    one per recording or, with ``segments="utterance"``, one per utterance of its
    segments file (see the module docstring).

    ``recording`` matches an audio stem (anchored ``^...$``, with a group ``speaker``);
    the trace names are built from it, so its groups must not be called ``recording``
    or ``annotator``. Traces are
    ``<attribute>/<recording>_<annotator>.<txt|csv|dat>`` below the corpus folder.
    ``columns(match)`` gives the corpus's own columns of a recording. Scores are on the
    tracing scale [-1, 1], kept as ``*_raw`` and as the (identical) normalised copy.
    A recording without a segments file, or with an unreadable one, is reported and
    left out in utterance mode.
    Returns the rows and the load's context (for :meth:`LoaderContext.finish`).
    """
    if segments not in SEGMENT_MODES:
        raise ValueError(
            f"{corpus.name}: segments={segments!r} is not one of {SEGMENT_MODES}; "
            "'recording' gives a row per recording, 'utterance' a row per utterance"
        )
    context = corpus.start(path, **options)
    trace_name = re.compile(rf"^(?P<recording>{recording.pattern[1:-1]})_(?P<annotator>[^_]+)$")
    traces, annotators = read_traces(
        context.directory, trace_name, attributes, context, "<recording>_<annotator>.txt"
    )
    audio = {}
    for file in audio_files(context.directory):
        if corpus.match(file, recording, context) is not None:
            audio[file.stem] = file
    span_files = (
        _segment_files(context.directory, recording, context) if segments == "utterance" else {}
    )
    rows = []
    for key in matched(traces, audio, context, f"the {'/'.join(attributes)} traces"):
        match = recording.match(key)
        row = corpus.row(
            audio[key], match["speaker"], **columns(match), n_annotators=annotators[key]
        )
        if segments == "recording":
            add_dimensions(row, recording_scores(traces[key]), *TRACE_SCALE)
            rows.append(row)
            continue
        try:
            spans = read_spans(span_files[key], key) if key in span_files else None
        except (ValueError, OSError) as error:
            context.unrecognised(f"{SEGMENTS_FOLDER}/{span_files[key].name}", str(error))
            continue
        if spans is None:
            context.problem("unlabelled", f"{audio[key]}: no {SEGMENTS_FOLDER}/{key}.txt file")
            continue
        rows += utterance_rows(row, traces[key], spans)
    return rows, context
