"""The audio files a prediction runs on, from what a user names on the command line.

Each input is one of:

- a folder: every audio file under it (by extension, recursively, sorted);
- a text list (``.txt`` or ``.lst``): one path per line, relative paths from the list's
  folder, blank lines and ``#`` comments ignored (a name that is not UTF-8 is kept and
  reported, as in a folder);
- a corpus table (``.csv`` or ``.parquet`` with a ``file`` column): each row, and for a
  row with ``start`` and ``end`` that span of its file alone, named
  ``<file>#t=<start>,<end>`` (:mod:`emoshift.features.segments`);
- anything else: an audio file path (a path that cannot be read is reported by the
  prediction, with the reason, and the other files go on).

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.wav", "a.flac", "notes.md"):
    ...     _ = (folder / name).write_bytes(b"")
    >>> _ = (folder / "list.txt").write_text("# two files\\nb.wav\\n\\nmissing.wav\\n")
    >>> [pathlib.Path(p).name for p in audio_files([str(folder)])]
    ['a.flac', 'b.wav']
    >>> [pathlib.Path(p).name for p in audio_files([str(folder / "list.txt")])]
    ['b.wav', 'missing.wav']
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from emoshift.data.table import read_table
from emoshift.features.segments import row_names

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aif", ".aiff", ".au", ".opus")
LIST_SUFFIXES = (".txt", ".lst")
TABLE_SUFFIXES = (".csv", ".parquet")


def _list_file(path: Path) -> list[str]:
    """The paths a text list names. A line is a file name as the system gives it: bytes
    that are not UTF-8 are kept (:func:`os.fsdecode`), so that file is reported by name
    (:func:`non_utf8_name`), as one found in a folder is, and the others are read."""
    folder = path.absolute().parent
    files = []
    for line in path.read_bytes().splitlines():
        entry = os.fsdecode(line).strip()
        if entry and not entry.startswith("#"):
            files.append(str(folder / entry) if not os.path.isabs(entry) else entry)
    return files


def _folder(path: Path) -> list[str]:
    files = [
        str(p)
        for p in path.rglob("*")
        if p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".")
    ]
    if not files:
        raise FileNotFoundError(
            f"{path} holds no audio files ({', '.join(AUDIO_SUFFIXES)}); name the files, "
            "a text list or a corpus table instead"
        )
    return sorted(files)


def non_utf8_name(path: str) -> str | None:
    """``path`` with its bytes that are not UTF-8 escaped (``\\xff``), or ``None`` when
    it is valid UTF-8. Such a name cannot be stored in a table (pandas, CSV, Parquet all
    want text), so the file is reported under this name instead.

    Example:
        >>> non_utf8_name("clips/a.wav") is None, non_utf8_name(os.fsdecode(b"b\\xff.wav"))
        (True, 'b\\\\xff.wav')
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    return None


def audio_files(inputs: Iterable[str | os.PathLike]) -> list[str]:
    """The audio paths ``inputs`` name (see the module doc), in order, each once."""
    files: list[str] = []
    for item in inputs:
        path = Path(item)
        suffix = path.suffix.lower()
        if path.is_dir():
            files += _folder(path)
        elif suffix in LIST_SUFFIXES and path.is_file():
            files += _list_file(path)
        elif suffix in TABLE_SUFFIXES and path.is_file():
            files += row_names(read_table(path))
        else:
            files.append(str(path))
    if not files:
        raise ValueError("no audio files to predict on: name files, folders, a list or a table")
    return list(dict.fromkeys(files))
