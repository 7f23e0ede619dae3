"""The append-only results store of a run: ``results.jsonl``, one line per finished trial.

The format and its rules (whole-line appends, torn lines, last line per key wins) live in
:mod:`emoshift.runfolder`; this is the runner's view of it. Before each append the
store cuts a torn last line left by a killed run (keeping a copy), so the next record
never lands on a fragment. Wall-clock times go to ``timings.jsonl`` so that the results
of the same config are identical whoever ran them.

Example:
    >>> import tempfile
    >>> store = ResultStore(tempfile.mkdtemp())
    >>> store.append({"key": "a", "status": "ok", "metrics": {"uar": 0.5}})
    >>> store.append({"key": "b", "status": "error", "error": "boom"})
    >>> sorted(store.finished_keys()), len(store.records())
    (['a'], 2)
"""

from __future__ import annotations

import os

from emoshift.runfolder import RunFolder, append_line, latest, read_lines, repair_torn_tail, warn


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The records of a JSON-lines file of a run, silently skipping any other line."""
    return read_lines(path).records


class ResultStore:
    """``results.jsonl`` (and ``timings.jsonl``) in a run folder."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.folder = RunFolder(run_dir)
        self.folder.path.mkdir(parents=True, exist_ok=True)
        self.path = self.folder.results

    def append(self, record: dict, seconds: float | None = None) -> None:
        """Append one trial's record (and its duration to the timings file)."""
        repair_torn_tail(self.path)
        repair_torn_tail(self.folder.timings)
        append_line(self.path, record)
        if seconds is not None:
            append_line(self.folder.timings, {"key": record["key"], "seconds": seconds})

    def records(self) -> list[dict]:
        """Every record, oldest first; each skipped line is warned about on stderr."""
        lines = read_lines(self.path)
        for problem in lines.problems:
            warn(problem)
        return lines.records

    def latest(self) -> dict[str, dict]:
        """The last record of each key."""
        return latest(self.records())

    def finished_keys(self) -> set[str]:
        """Keys whose last record succeeded: the trials a resumed run skips."""
        return {key for key, record in self.latest().items() if record.get("status") == "ok"}
