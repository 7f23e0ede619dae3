"""Any corpus described by a CSV or TSV file: one row per audio file, labels in columns.

The file needs a column with the audio paths (absolute, or relative to the CSV's
folder); ``columns`` says which CSV column feeds which corpus-table column (those named
like a table column are taken as they are), ``label_map`` turns the corpus's labels into
normalised emotions, ``dimension_range`` gives the native scale of arousal / valence /
dominance columns so that they are normalised to [-1, 1]. Every other CSV column is
kept as an extra column. Each row's ``corpus`` is the CSV's own ``corpus`` column where
it has one, else the ``corpus`` option (in a config: the corpus's key), else the file's
stem.

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> root = example_corpus({"clips/a.wav": 16000})
    >>> _ = (root / "meta.tsv").write_text(
    ...     "path\\tlabel\\tspk\\tact\\nclips/a.wav\\tang\\t7\\t4\\n")
    >>> table = load(root / "meta.tsv", corpus="demo", label_map={"ang": "anger"},
    ...              columns={"file": "path", "emotion": "label", "speaker": "spk",
    ...                       "arousal": "act"}, dimension_range=(1, 5))
    >>> table.loc[0, ["speaker", "emotion"]].tolist(), float(table.loc[0, "arousal"])
    (['demo_7', 'anger'], 0.5)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from emoshift.data.loaders.base import LoaderContext, LoadReport, add_dimensions
from emoshift.data.table import COLUMNS, DIMENSIONS, EMOTIONS

LAYOUT = "a CSV/TSV file with a column of audio paths (relative to the file's folder)"


def table_separator(path: Path, sep: str | None = None) -> str:
    """``sep``, or the separator its suffix implies: tab for .tsv/.tab, else a comma."""
    if sep is not None:
        return sep
    return "\t" if path.suffix.lower() in (".tsv", ".tab") else ","


def read_text_table(path: Path, sep: str) -> pd.DataFrame:
    """The cells of the CSV/TSV file ``path`` as strings; ``ValueError`` naming the file
    when it is empty, binary or not a table.

    >>> import tempfile
    >>> empty = Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = empty.write_text("")
    >>> read_text_table(empty, ",")
    Traceback (most recent call last):
    ...
    ValueError: ...labels.csv is empty; a corpus CSV needs a header row naming its columns ...
    """
    with path.open("rb") as file:
        if b"\0" in file.read(8192):
            raise ValueError(
                f"{path} holds binary data (NUL bytes), not CSV/TSV text; name the corpus's "
                "label table"
            )
    try:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path} is empty; a corpus CSV needs a header row naming its columns (one of "
            "them the audio paths) and a row per audio file"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{path} is not a readable CSV/TSV table ({str(error).strip()}); save it as "
            "UTF-8 text with one row per audio file"
        ) from None


def _number(value: str | None) -> float:
    """A CSV cell as a float; empty or non-numeric cells are NaN."""
    return float(pd.to_numeric(value, errors="coerce")) if value else float("nan")


def _mapping(frame: pd.DataFrame, columns: Mapping[str, str] | None, path: Path) -> dict:
    """Table column -> CSV column: the CSV's columns named like table columns, then
    ``columns``; ``ValueError`` naming what is missing or unknown."""
    mapping = {c: c for c in COLUMNS if c in frame} | dict(columns or {})
    absent = sorted(set(mapping.values()) - set(frame.columns))
    if absent or "file" not in mapping:
        raise ValueError(
            f"{path.name}: column(s) {absent or ['file']} not found; the file has "
            f"{list(frame.columns)}. Name the audio path column with columns={{'file': ...}}"
        )
    unknown = sorted(set(mapping) - set(COLUMNS))
    if unknown:
        raise ValueError(f"columns= names {unknown}, which are not corpus-table columns {COLUMNS}")
    return mapping


@dataclass(frozen=True)
class _Reader:
    """How the CSV's records become rows: the file, its column mapping and label options."""

    path: Path
    corpus: str
    mapping: dict[str, str]
    extra: list[str]
    labels: dict[str, str]
    dimension_range: Sequence[float] | None

    def row(self, record: dict, number: int, context: LoaderContext) -> dict | None:
        """The row of CSV line ``number``, or ``None`` (reported) if it cannot be used."""
        where = f"{self.path.name} line {number}"
        file = Path(record[self.mapping["file"]])
        file = file if file.is_absolute() else self.path.parent / file
        if not file.is_file():
            context.problem("missing_audio", f"{where}: {file} does not exist")
            return None
        row = {table: record[column] or None for table, column in self.mapping.items()}
        row.update({column: record[column] for column in self.extra})
        row.update(file=str(file.resolve()), corpus=row.get("corpus") or self.corpus)
        if row.get("speaker"):
            row["speaker"] = f"{row['corpus']}_{row['speaker']}"
        raw = row.get("emotion")
        if raw is not None:
            emotion = self.labels.get(raw, raw)
            if emotion not in EMOTIONS:
                return context.unrecognised(
                    f"{where} ({file.name})",
                    f"label {raw!r} is not a normalised emotion and label_map does not map it",
                    f"one of {', '.join(EMOTIONS)} (or a label_map entry)",
                )
            row["emotion"], row["emotion_raw"] = emotion, raw
        scores = {d: _number(row.pop(d, None)) for d in DIMENSIONS}
        if self.dimension_range is not None:
            add_dimensions(row, scores, *self.dimension_range)
        else:
            row.update(scores)
        return row


def load(
    path: str | os.PathLike,
    *,
    columns: Mapping[str, str] | None = None,
    label_map: Mapping[str, str] | None = None,
    corpus: str | None = None,
    sep: str | None = None,
    dimension_range: Sequence[float] | None = None,
    strict: bool = False,
    duration: bool = True,
    report: LoadReport | None = None,
) -> pd.DataFrame:
    """Load the corpus listed in the CSV/TSV file ``path``.

    Args:
        columns: table column -> CSV column, e.g. ``{"file": "path", "emotion": "label"}``.
        label_map: corpus label -> normalised emotion; labels already normalised pass.
            A label that maps to nothing in ``EMOTIONS`` skips its row with a warning.
        corpus: the ``corpus`` value (and speaker prefix) of the rows whose own ``corpus``
            cell is empty or absent (default: the file's stem); a CSV column named
            ``corpus`` (or mapped to it by ``columns``) names its rows itself. In an
            experiment config the corpus's key is this default.
        sep: column separator (default: tab for ``.tsv``, else comma).
        dimension_range: ``(low, high)`` native scale of the dimensional columns; without
            it they are taken as already normalised to [-1, 1].
        strict: raise :class:`CorpusFormatError` at the first problem instead of warning.
        duration: read each file's header for ``duration`` and ``sample_rate``.
        report: a :class:`LoadReport` to collect the problems in.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"corpus table file {path} does not exist (expected {LAYOUT})")
    path = path.resolve()
    corpus = corpus or path.stem
    context = LoaderContext(
        corpus, strict, report or LoadReport(), layout=LAYOUT, directory=path, duration=duration
    )
    frame = read_text_table(path, table_separator(path, sep))
    mapping = _mapping(frame, columns, path)
    extra = [c for c in frame.columns if c not in mapping.values()]
    reader = _Reader(path, corpus, mapping, extra, dict(label_map or {}), dimension_range)
    rows = [reader.row(record, n, context) for n, record in enumerate(frame.to_dict("records"), 2)]
    return context.finish([row for row in rows if row is not None])
