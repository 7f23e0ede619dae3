"""The corpus table: one row per utterance, the hand-off between loaders and features.

Columns (see DESIGN.md): ``file`` (absolute path), ``corpus``, ``speaker``, ``gender``,
``language``, ``emotion`` (normalised category), ``arousal``, ``valence``, ``dominance``
(normalised to [-1, 1]), their native-scale copies ``arousal_raw``, ``valence_raw``,
``dominance_raw``, ``elicitation``, ``session``, ``duration`` (seconds). Loaders may add
corpus-specific columns (``intensity``, ``statement`` ...); they are kept. A row that
stands for a span of its file (an utterance of a longer recording) has ``start`` and
``end`` in seconds (:mod:`emoshift.features.segments`); rows are told apart by file and
span.

Example:
    >>> import pandas as pd
    >>> table = make_table([
    ...     {"file": "/tmp/a.wav", "corpus": "demo", "speaker": "s1", "emotion": "anger"},
    ...     {"file": "/tmp/b.wav", "corpus": "demo", "speaker": "s2", "emotion": "neutral"},
    ... ])
    >>> list(select_domain(table, "speaker == 's1'")["emotion"])
    ['anger']
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from emoshift.data.query import column_values, select_rows
from emoshift.features.segments import SEGMENT_COLUMNS, row_names

EMOTIONS: tuple[str, ...] = (
    "anger",
    "happiness",
    "sadness",
    "neutral",
    "fear",
    "disgust",
    "boredom",
    "surprise",
    "calm",
    "contempt",
    "frustration",
    "excitement",
    "other",
)
"""The normalised emotion categories a corpus table may hold (or missing)."""

DIMENSIONS: tuple[str, ...] = ("arousal", "valence", "dominance")

STRING_COLUMNS: tuple[str, ...] = (
    "file",
    "corpus",
    "speaker",
    "gender",
    "language",
    "emotion",
    "elicitation",
    "session",
)
FLOAT_COLUMNS: tuple[str, ...] = (
    *DIMENSIONS,
    *(f"{d}_raw" for d in DIMENSIONS),
    "duration",
)
COLUMNS: tuple[str, ...] = (*STRING_COLUMNS, *FLOAT_COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = ("file", "corpus")


class CorpusTableError(ValueError):
    """A corpus table breaks the schema; the message names the rows and what to do."""


def make_table(rows: Iterable[Mapping] | pd.DataFrame) -> pd.DataFrame:
    """Build a corpus table with every schema column, in schema order, extra columns after.

    Missing string columns are filled with ``<NA>``, missing float columns with ``NaN``.
    The result is not validated against the file system; call :func:`validate_table`.
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    for column in STRING_COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
        frame[column] = frame[column].astype("string")
    for column in FLOAT_COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    extra = [c for c in frame.columns if c not in COLUMNS]
    return frame[[*COLUMNS, *extra]].reset_index(drop=True)


def _rows(frame: pd.DataFrame, mask: pd.Series, limit: int = 5) -> str:
    shown = frame.loc[mask, "file"].astype(str).head(limit).tolist()
    more = int(mask.sum()) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def validate_table(
    table: pd.DataFrame,
    *,
    check_files: bool = True,
    allowed_emotions: Iterable[str] | None = EMOTIONS,
) -> pd.DataFrame:
    """Check a corpus table against the schema and return it with typed columns.

    Raises :class:`CorpusTableError` naming the offending files for: missing required
    columns, empty table, missing audio files (``check_files``), duplicate files, emotion
    labels outside ``allowed_emotions`` (``None`` accepts any label) and dimensional
    columns that are not numeric.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table]
    if missing:
        raise CorpusTableError(
            f"corpus table lacks required column(s) {missing}; "
            f"a corpus table needs at least {list(REQUIRED_COLUMNS)}"
        )
    if len(table) == 0:
        raise CorpusTableError("corpus table is empty: the loader found no utterances")
    for column in (*FLOAT_COLUMNS, *SEGMENT_COLUMNS):
        if column in table:
            converted = pd.to_numeric(table[column], errors="coerce")
            bad = converted.isna() & table[column].notna()
            if bad.any():
                values = table.loc[bad, column].astype(str).head(3).tolist()
                raise CorpusTableError(
                    f"column {column!r} must be numeric; non-numeric values {values} in "
                    f"rows for {_rows(table, bad)}. Convert them to numbers or leave empty."
                )
    table = make_table(table)
    for column in (*FLOAT_COLUMNS, *(c for c in SEGMENT_COLUMNS if c in table)):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    if table["file"].isna().any():
        raise CorpusTableError(f"{int(table['file'].isna().sum())} row(s) have no 'file' path")
    try:
        names = pd.Series(row_names(table), index=table.index)
    except ValueError as error:
        raise CorpusTableError(str(error)) from None
    duplicated = names.duplicated(keep=False)
    if duplicated.any():
        raise CorpusTableError(
            f"duplicate rows for the same file (and segment): {_rows(table, duplicated)}. "
            "Each utterance must appear once; drop the duplicates."
        )
    if allowed_emotions is not None:
        allowed = set(allowed_emotions)
        unknown = table["emotion"].notna() & ~table["emotion"].isin(allowed)
        if unknown.any():
            labels = sorted(set(table.loc[unknown, "emotion"].astype(str)))
            raise CorpusTableError(
                f"unknown emotion label(s) {labels} in rows for {_rows(table, unknown)}; "
                f"expected one of {sorted(allowed)}. Map the corpus labels with "
                "emoshift.data.labels or pass allowed_emotions=None."
            )
    if check_files:
        absent = ~table["file"].map(lambda f: os.path.isfile(str(f))).astype(bool)
        if absent.any():
            raise CorpusTableError(
                f"{int(absent.sum())} audio file(s) not found: {_rows(table, absent)}. "
                "Check the corpus directory or drop those rows."
            )
    return table


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a corpus table as Parquet (``.parquet``) or CSV (``.csv``); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = make_table(table)
    if path.suffix == ".csv":
        table.to_csv(path, index=False)
    else:
        table.to_parquet(path, index=False)
    return path


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a corpus table written by :func:`write_table` (Parquet or CSV).

    Relative ``file`` paths are taken from the table's folder, as the csv loader does.
    Raises :class:`CorpusTableError` naming the file when it is empty or has no ``file``
    column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus table {path} does not exist")
    try:
        frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise CorpusTableError(
            f"corpus table {path} is empty (no header, no rows); export one with "
            "'emoshift corpus export' or write a CSV with a 'file' column of audio paths"
        ) from None
    except (ValueError, OSError) as error:  # a parser's, a decoder's or pyarrow's error
        raise CorpusTableError(
            f"corpus table {path} cannot be read as {path.suffix.lstrip('.') or 'a'} table "
            f"({str(error).strip()}); export one with 'emoshift corpus export'"
        ) from None
    if "file" not in frame:
        raise CorpusTableError(
            f"corpus table {path} has no 'file' column (its columns: {list(frame.columns)}); "
            "name the column of audio paths 'file'"
        )
    folder = path.absolute().parent
    frame["file"] = [
        str(folder / f) if isinstance(f, str) and not os.path.isabs(f) else f for f in frame["file"]
    ]
    return make_table(frame)


def select_domain(
    table: pd.DataFrame, query: str | None, origin: str | None = None
) -> pd.DataFrame:
    """Select the rows of a domain written as a query, e.g. ``"corpus == 'emodb'"``.

    The query is parsed by emoshift's own grammar (:mod:`emoshift.data.query`: column
    names, literals, comparisons, ``in``, ``and``/``or``/``not``), never evaluated as
    Python. ``None`` or an empty string selects every row. A query outside the grammar,
    naming an unknown column or selecting nothing raises ``ValueError`` saying which;
    ``origin`` (where the query came from, e.g. a config field) is named in the message.
    """
    if not query:
        return table
    selected = select_rows(table, query, origin)
    if len(selected) == 0:
        where = f" ({origin})" if origin else ""
        raise ValueError(
            f"domain query {query!r}{where} selects no rows of {len(table)}; "
            f"{column_values(table, query)}"
        )
    return selected
