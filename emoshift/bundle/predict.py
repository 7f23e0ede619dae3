"""``emoshift predict``'s work: predict on the named audio, write the table, summarise.

The table goes to a temporary file beside ``out`` that is renamed over it when complete,
so a kill leaves an existing table as it was (:func:`emoshift.bundle.replace.write_file`).
:func:`check_table_out` refuses, before any work, an ``out`` whose suffix names no format
this writes, an existing ``out`` without ``overwrite``, and always an ``out`` that is one
of the inputs or lies inside a model bundle.

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
from emoshift.bundle.io import is_bundle
from emoshift.bundle.model import ERROR_COLUMN, Model
from emoshift.bundle.replace import recover, write_file

#: how a prediction table is written, by the suffix of its name
TABLE_WRITERS = {
    ".csv": lambda table, path: table.to_csv(path, index=False),
    ".parquet": lambda table, path: table.to_parquet(path, index=False),
}


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


def check_table_out(
    out: str | os.PathLike,
    inputs: list[str | os.PathLike],
    *,
    overwrite: bool = False,
) -> Path:
    """``out``, if a prediction table may be written there (see the module doc); raises
    ``ValueError`` naming ``--out`` and what to do otherwise."""
    out = Path(out)
    resolved = out.resolve()
    if any(resolved == Path(item).resolve() for item in inputs):
        raise ValueError(f"--out {out} is also an input; write the predictions to another file")
    for folder in (resolved, *resolved.parents):
        if is_bundle(folder):
            raise ValueError(
                f"--out {out} lies inside the model bundle {folder}; writing there would "
                "damage the bundle: write the predictions outside it"
            )
    if out.suffix.lower() not in TABLE_WRITERS:
        raise ValueError(
            f"--out {out}: a prediction table is written as "
            f"{' or '.join(TABLE_WRITERS)}, not {out.suffix or 'a name without a suffix'}; "
            "end the file name with one of these"
        )
    if out.exists() and not overwrite:
        raise ValueError(f"--out {out} already exists; pass --overwrite or another file")
    return out


def predict_inputs(
    model: Model,
    inputs: list[str | os.PathLike],
    *,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    domain: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    batch_size: int = 256,
    progress: bool | None = None,
) -> PredictionRun:
    """Predict on the files, folders, lists and tables named in ``inputs``; write the
    table to ``out`` (CSV, or Parquet for a ``.parquet`` name) when given, replacing an
    existing file only with ``overwrite``."""
    if out is not None:
        out = check_table_out(out, inputs, overwrite=overwrite)
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
        recover(out)
        write_file(out, lambda path: TABLE_WRITERS[out.suffix.lower()](table, path))
    return PredictionRun(table, seconds)
