"""The run folder that ``emoshift run`` writes and ``emoshift report`` reads.

One place for its format (``experiment/`` writes it, ``report/`` reads it, neither imports
the other)::

    RUN_DIR/
      config.yaml      the config last run here (paths as given)
      plan.json        the trial keys of that config, in plan order
      results.jsonl    one JSON line per finished trial, append-only
      timings.jsonl    {"key", "seconds"} per finished trial (kept out of the results)
      data/            the run's data for worker processes (``--executor processes``)
      artifacts/       <key>.npz: representations of trial 0 for the report
      projections/     <hash>.npz: 2-D projections the report drew of them (a cache)
      predictions/     <key>.csv: each trial's per-file test predictions (below)
      report/          what ``emoshift report`` writes

Rules of the JSON-lines files:

- a line is appended whole, with one ``write`` call, then fsynced: a killed run leaves at
  most a torn last line (no newline at the end), which readers skip with a warning and
  :func:`repair_torn_tail` cuts off (keeping a copy) before the next append;
- a line that is not a JSON object with a string ``key`` (``null``, a list, corrupt text) is
  skipped with a warning that names the file and line;
- the last line of a key wins (a failed trial that is run again appends its new outcome);
- only the keys of ``plan.json`` belong to the current config (:func:`current`).

A predictions table (:func:`prediction_table`; ``emoshift evaluate`` writes the same
layout) has one row per test file: ``file``, the reference (``true``; for regression
``true_<dimension>`` per dimension), the prediction (``prediction``; for regression one
column per dimension) and, when the model gives them, ``p_<class>`` probabilities. It is
written whole (to a temporary name, then renamed) before the trial's record is appended,
so a record never names a missing or half-written table.

Example:
    >>> import tempfile
    >>> folder = RunFolder(tempfile.mkdtemp())
    >>> folder.write_plan(["a", "b"])
    >>> for record in ({"key": "a", "status": "error"}, {"key": "a", "status": "ok"}):
    ...     append_line(folder.results, record)
    >>> _ = open(folder.results, "a").write('{"key": "b", "sta')  # a killed run
    >>> lines = read_lines(folder.results)
    >>> [r["status"] for r in latest(lines.records).values()], len(lines.problems)
    (['ok'], 1)
    >>> folder.progress_note(latest(lines.records))
    '1 of 2 planned trials have results'
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from emoshift.safe_yaml import load_yaml

RESULTS = "results.jsonl"
PLAN = "plan.json"
TIMINGS = "timings.jsonl"
CONFIG = "config.yaml"
DATA = "data"
ARTIFACTS = "artifacts"
PROJECTIONS = "projections"
PREDICTIONS = "predictions"
REPORT = "report"
METADATA_PREFIX = "meta_"
"""Arrays ``meta_<column>`` of an ``artifacts/<key>.npz`` file hold each embedded row's
value of a corpus-table column (``meta_speaker``, ``meta_session``, ...) as text."""
#: the column of a predictions table that holds the reference label
TRUE_COLUMN = "true"


def warn(message: str) -> None:
    """Tell the user about a problem in a run folder (on stderr), and go on."""
    print(f"emoshift: warning: {message}", file=sys.stderr, flush=True)


def append_line(path: str | os.PathLike, record: Mapping) -> None:
    """Append ``record`` as one JSON line with a single ``write``, then fsync."""
    line = json.dumps(record, sort_keys=True, default=str) + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def prediction_table(
    files: Iterable[str],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    classes: list[str] | None = None,
    proba: np.ndarray | None = None,
    dimensions: list[str] | None = None,
) -> pd.DataFrame:
    """The predictions table of ``files`` (see the module doc): class labels with
    ``classes`` (and their ``proba`` columns), else regression values per ``dimensions``.

    Example:
        >>> prediction_table(["a.wav"], np.array(["anger"]), np.array(["sadness"]),
        ...                  classes=["anger", "sadness"], proba=np.array([[0.25, 0.75]]))
            file   true prediction  p_anger  p_sadness
        0  a.wav  anger    sadness     0.25       0.75
    """
    table = pd.DataFrame({"file": [str(f) for f in files]})
    if dimensions is None:
        table[TRUE_COLUMN] = np.asarray(y_true).astype(str)
        table["prediction"] = np.asarray(y_pred).astype(str)
        if proba is not None:
            for i, label in enumerate(classes or []):
                table[f"p_{label}"] = np.asarray(proba)[:, i]
        return table
    true = np.asarray(y_true, dtype=np.float64).reshape(len(table), -1)
    predicted = np.asarray(y_pred, dtype=np.float64).reshape(len(table), -1)
    for i, dimension in enumerate(dimensions):
        table[f"{TRUE_COLUMN}_{dimension}"] = true[:, i]
    for i, dimension in enumerate(dimensions):
        table[dimension] = predicted[:, i]
    return table


def write_csv_whole(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Write ``table`` as CSV at ``path`` whole: to a temporary name, then renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    table.to_csv(partial, index=False)
    os.replace(partial, path)


def repair_torn_tail(path: str | os.PathLike) -> Path | None:
    """Cut a torn last line (no final newline) off ``path`` before anything is appended.

    The cut bytes go to ``<path>.torn-<UTC time>`` (returned) and a warning says so; in
    ``results.jsonl`` that trial has no result then, so the run computes it again.
    Returns ``None`` when the file is missing, empty or ends with a newline, or when the
    last line is a whole record that lacks only its newline (which is then added).
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":  # the usual case: only the last byte is read
            return None
    content = path.read_bytes()
    keep = content.rfind(b"\n") + 1
    if _parses_as_record(content[keep:]):  # whole but for the newline (a hand-written file)
        with open(path, "ab") as handle:
            handle.write(b"\n")
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    copy = path.with_name(f"{path.name}.torn-{stamp}")
    copy.write_bytes(content[keep:])
    with open(path, "r+b") as handle:
        handle.truncate(keep)
        os.fsync(handle.fileno())
    warn(f"{path}: the last line was torn by a killed run; cut it off (kept in {copy})")
    return copy


def _is_record(record: object) -> bool:
    return isinstance(record, dict) and isinstance(record.get("key"), str)


def _parses_as_record(line: bytes) -> bool:
    try:
        return _is_record(json.loads(line))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


@dataclass
class Lines:
    """The records of a JSON-lines file (oldest first), their line ``numbers``, and the
    lines skipped, described."""

    records: list[dict] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_lines(path: str | os.PathLike) -> Lines:
    """Every JSON object with a string ``key`` in ``path``; other lines become ``problems``.

    A missing file reads as empty.
    """
    path = Path(path)
    read = Lines()
    if not path.is_file():
        return read
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        torn = number == len(lines)  # no newline after it: the write was cut short
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            what = "torn by a killed run" if torn else "not valid JSON"
            read.problems.append(f"{path}, line {number}: {what}; skipped")
            continue
        if not _is_record(record):
            read.problems.append(
                f"{path}, line {number}: {_shorten(line)} is not a result record (a JSON "
                "object with a string 'key'); skipped"
            )
            continue
        read.records.append(record)
        read.numbers.append(number)
    return read


def _shorten(line: str, width: int = 40) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


def latest(records: Iterable[Mapping]) -> dict[str, dict]:
    """The last record of each key, in the order keys last appeared."""
    last: dict[str, dict] = {}
    for record in records:
        last.pop(record["key"], None)
        last[record["key"]] = dict(record)
    return last


def repeated(records: Iterable[Mapping]) -> list[str]:
    """Keys with more than one line (trials that were run again), in first-seen order."""
    seen: dict[str, int] = {}
    for record in records:
        seen[record["key"]] = seen.get(record["key"], 0) + 1
    return [key for key, count in seen.items() if count > 1]


def current(by_key: Mapping[str, dict], plan: list[str] | None) -> dict[str, dict]:
    """The records of ``by_key`` that belong to ``plan`` (all of them when no plan)."""
    if plan is None:
        return dict(by_key)
    planned = set(plan)
    return {key: record for key, record in by_key.items() if key in planned}


class RunFolder:
    """The paths of a run folder and its small files (plan, config)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.results = self.path / RESULTS
        self.plan = self.path / PLAN
        self.timings = self.path / TIMINGS
        self.config = self.path / CONFIG
        self.data = self.path / DATA
        self.artifacts = self.path / ARTIFACTS
        self.projections = self.path / PROJECTIONS
        self.report = self.path / REPORT

    @staticmethod
    def artifact_name(key: str) -> str:
        """Where a trial's artifacts go, relative to the run folder (as results record it)."""
        return f"{ARTIFACTS}/{key}.npz"

    @staticmethod
    def predictions_name(key: str) -> str:
        """Where a trial's predictions table goes, relative to the run folder (as results
        record it)."""
        return f"{PREDICTIONS}/{key}.csv"

    def write_plan(self, keys: list[str]) -> None:
        """Record the trial keys of the config being run."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.plan.write_text(json.dumps(keys))

    def read_plan(self) -> list[str] | None:
        """The planned trial keys, or ``None`` when the folder has no plan."""
        if not self.plan.is_file():
            return None
        try:
            keys = json.loads(self.plan.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            keys = None
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            raise ValueError(
                f"{self.plan} is not a JSON list of trial keys; run the config again to "
                "rewrite it, or delete it to read every result in the folder"
            )
        return keys

    def write_config(self, record: Mapping) -> None:
        """Record the config being run (``config.yaml``)."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.config.write_text(yaml.safe_dump(dict(record), sort_keys=False))

    def read_config(self) -> dict:
        """``config.yaml`` as a mapping (empty when absent)."""
        if not self.config.is_file():
            return {}
        config = load_yaml(self.config.read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError(f"{self.config} must hold a YAML mapping (name, baseline, ...)")
        return config

    def progress_note(self, by_key: Mapping[str, dict]) -> str | None:
        """``"58 of 60 planned trials have results"`` when some are missing, else ``None``."""
        plan = self.read_plan()
        if plan is None:
            return None
        done = len(set(plan) & set(by_key))
        if done == len(set(plan)):
            return None
        return f"{done} of {len(set(plan))} planned trials have results"
