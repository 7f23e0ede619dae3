"""Continuous-in-time emotion annotations (Feeltrace-style traces) reduced to one score.

Corpora annotated with continuous traces (CreativeIT, NNIME) give, per recording and
attribute, one trace per annotator: a text file of ``<time> <value>`` lines (spaces,
tabs or commas; lines that are not two numbers, such as a header, are skipped), values
on the tracing tool's scale. A recording's score for an attribute is the mean over its
annotators of each trace's mean over time; ``n_annotators`` counts the traces averaged.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_text("time,value\\n0.0,0.5\\n1.0,1.0\\n")
    >>> trace_mean(root / "a.txt")
    0.75
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

TRACE_SUFFIXES: tuple[str, ...] = (".txt", ".csv", ".dat")
"""File suffixes read as traces."""
TRACE_SCALE: tuple[float, float] = (-1.0, 1.0)
"""The scale of Feeltrace-style traces."""

_PAIR = re.compile(r"^\s*([-+\d.eE]+)[\s,;]+([-+\d.eE]+)\s*$")


def trace_mean(path: Path) -> float:
    """The mean value of one trace file; ``ValueError`` naming it if it holds no samples."""
    values = []
    for line in path.read_text(errors="replace").splitlines():
        match = _PAIR.match(line)
        if match is None:
            continue
        try:
            values.append(float(match[2]))
        except ValueError:
            continue
    if not values:
        raise ValueError(f"{path}: no '<time> <value>' lines in this trace")
    return float(np.mean(values))


def trace_scores(
    directory: Path,
    name: re.Pattern,
    attributes: Mapping[str, str],
    context: LoaderContext,
    pattern: str,
) -> dict[str, dict]:
    """Recording -> table dimension -> mean score, and ``n_annotators``, from the traces.

    ``name`` matches a trace file's stem with groups ``recording`` and ``annotator``;
    the attribute is the name of the folder the file is in (a key of ``attributes``,
    which maps it to a table dimension). Unreadable or empty traces and files outside
    the scheme are reported as unrecognised and skipped.
    """
    traces: dict[str, dict[str, list[float]]] = {}
    annotators: dict[str, set[str]] = {}
    for root, _dirs, files in os.walk(directory):
        attribute = Path(root).name.lower()
        if attribute not in attributes:
            continue
        for file in sorted(f for f in files if Path(f).suffix.lower() in TRACE_SUFFIXES):
            path = Path(root) / file
            match = name.match(path.stem)
            if match is None:
                context.unrecognised(
                    f"{attribute}/{file}", "trace name outside the scheme", pattern
                )
                continue
            try:
                mean = trace_mean(path)
            except (ValueError, OSError) as error:
                context.unrecognised(f"{attribute}/{file}", str(error), pattern)
                continue
            recording = match["recording"]
            traces.setdefault(recording, {}).setdefault(attributes[attribute], []).append(mean)
            annotators.setdefault(recording, set()).add(match["annotator"])
    return {
        recording: {dim: float(np.mean(means)) for dim, means in sorted(scores.items())}
        | {"n_annotators": len(annotators[recording])}
        for recording, scores in traces.items()
    }


def load_traced(
    corpus: Corpus,
    path: str | os.PathLike,
    recording: re.Pattern,
    attributes: Mapping[str, str],
    columns: Callable[[re.Match], dict],
    options: Mapping[str, object],
) -> tuple[list[dict], LoaderContext]:
    """Rows of a traced corpus: ``audio/<recording>.wav`` joined with its trace scores.

    ``recording`` matches an audio stem (anchored ``^...$``, with a group ``speaker``);
    the trace names are built from it, so its groups must not be called ``recording``
    or ``annotator``. Traces are
    ``<attribute>/<recording>_<annotator>.<txt|csv|dat>`` below the corpus folder.
    ``columns(match)`` gives the corpus's own columns of a recording. Scores are on the
    tracing scale [-1, 1], kept as ``*_raw`` and as the (identical) normalised copy.
    Returns the rows and the load's context (for :meth:`LoaderContext.finish`).
    """
    context = corpus.start(path, **options)
    trace_name = re.compile(rf"^(?P<recording>{recording.pattern[1:-1]})_(?P<annotator>[^_]+)$")
    scores = trace_scores(
        context.directory, trace_name, attributes, context, "<recording>_<annotator>.txt"
    )
    audio = {}
    for file in audio_files(context.directory):
        if corpus.match(file, recording, context) is not None:
            audio[file.stem] = file
    rows = []
    for key in matched(scores, audio, context, f"the {'/'.join(attributes)} traces"):
        match = recording.match(key)
        dims = {d: v for d, v in scores[key].items() if d != "n_annotators"}
        row = corpus.row(
            audio[key],
            match["speaker"],
            **columns(match),
            n_annotators=scores[key]["n_annotators"],
        )
        add_dimensions(row, dims, *TRACE_SCALE)
        rows.append(row)
    return rows, context
