"""The append-only results store of a run: ``results.jsonl``, one line per finished trial.

Each line is written whole with one ``write`` call, flushed and fsynced, so a killed run
leaves at most a torn last line, which readers skip. The last line of a key wins (a
failed trial that is run again appends its new outcome). Wall-clock times go to
``timings.jsonl`` so that the results of the same config are identical whoever ran them.

Example:
    >>> import tempfile
    >>> store = ResultStore(tempfile.mkdtemp())
    >>> store.append({"key": "a", "status": "ok", "metrics": {"uar": 0.5}})
    >>> store.append({"key": "b", "status": "error", "error": "boom"})
    >>> sorted(store.finished_keys()), len(store.records())
    (['a'], 2)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

RESULTS_NAME = "results.jsonl"
TIMINGS_NAME = "timings.jsonl"


def _append_line(path: Path, record: dict) -> None:
    line = json.dumps(record, sort_keys=True, default=str) + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_jsonl(path: Path) -> list[dict]:
    """The complete lines of a JSON-lines file; a torn or corrupt line is skipped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class ResultStore:
    """``results.jsonl`` (and ``timings.jsonl``) in a run folder."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / RESULTS_NAME

    def append(self, record: dict, seconds: float | None = None) -> None:
        """Append one trial's record (and its duration to the timings file)."""
        _append_line(self.path, record)
        if seconds is not None:
            _append_line(self.run_dir / TIMINGS_NAME, {"key": record["key"], "seconds": seconds})

    def records(self) -> list[dict]:
        """Every complete line, oldest first."""
        return read_jsonl(self.path)

    def latest(self) -> dict[str, dict]:
        """The last record of each key."""
        return {record["key"]: record for record in self.records()}

    def finished_keys(self) -> set[str]:
        """Keys whose last record succeeded: the trials a resumed run skips."""
        return {key for key, record in self.latest().items() if record.get("status") == "ok"}
