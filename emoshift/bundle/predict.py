"""``emoshift predict``'s work: predict on the named audio, write the table, summarise.

Example:
    >>> import pandas as pd
    >>> table = pd.DataFrame({"file": ["a.wav", "b.wav", "c.wav"],
    ...                       "prediction": ["anger", "anger", None],
    ...                       "error": ["", "", "c.wav: the audio file is empty"]})
    >>> print(summarise(table, seconds=2.0))
    predicted 2 of 3 file(s) in 2.0 s (1.0 files/s)
      anger: 2
    skipped 1 file(s):
      c.wav: the audio file is empty
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from emoshift.bundle.inputs import audio_files
from emoshift.bundle.model import ERROR_COLUMN, Model


@dataclass
class PredictionRun:
    """The table of one prediction run (one row per file) and how long it took."""

    table: pd.DataFrame
    seconds: float

    def summary(self) -> str:
        """Counts per class (or value ranges per dimension) and the skipped files."""
        return summarise(self.table, self.seconds)


def summarise(table: pd.DataFrame, seconds: float) -> str:
    """A text summary of a prediction table (see the module example)."""
    failed = table[table[ERROR_COLUMN].astype(bool)]
    done = table[~table[ERROR_COLUMN].astype(bool)]
    rate = len(done) / seconds if seconds > 0 else float("nan")
    lines = [
        f"predicted {len(done)} of {len(table)} file(s) in {seconds:.1f} s ({rate:.1f} files/s)"
    ]
    if "prediction" in table:
        counts = done["prediction"].value_counts()
        lines += [f"  {label}: {count}" for label, count in counts.sort_index().items()]
    else:
        dimensions = [c for c in table.columns if c not in ("file", ERROR_COLUMN)]
        for column in dimensions:
            values = done[column]
            lines.append(
                f"  {column}: mean {values.mean():.3f}, min {values.min():.3f}, "
                f"max {values.max():.3f}"
            )
    if len(failed):
        lines.append(f"skipped {len(failed)} file(s):")
        lines += [f"  {message}" for message in failed[ERROR_COLUMN]]
    return "\n".join(lines)


def predict_inputs(
    model: Model,
    inputs: list[str | os.PathLike],
    *,
    out: str | os.PathLike | None = None,
    domain: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    batch_size: int = 256,
    progress: bool | None = None,
) -> PredictionRun:
    """Predict on the files, folders, lists and tables named in ``inputs``; write the
    table to ``out`` (CSV, or Parquet for a ``.parquet`` name) when given."""
    files = audio_files(inputs)
    started = time.perf_counter()
    table = model.predict(
        files,
        domain=domain,
        cache_dir=cache_dir,
        n_jobs=n_jobs,
        batch_size=batch_size,
        progress=progress,
    )
    seconds = time.perf_counter() - started
    if out is not None:
        out = Path(out)
        if out.suffix == ".parquet":
            table.to_parquet(out, index=False)
        else:
            table.to_csv(out, index=False)
    return PredictionRun(table, seconds)
