"""Output paths of the command line: checked before the work starts, errors in one line.

:func:`check_writable` makes sure an output file's folder exists and accepts new files,
so ``emoshift features --out`` fails before hours of extraction rather than after;
:func:`os_error_message` is how :func:`emoshift.cli.main` turns an ``OSError`` with a
path (a run folder that cannot be created, a disk that is full) into one line that names
the path and says what to do.

Example:
    >>> import errno
    >>> print(os_error_message(PermissionError(errno.EACCES, "Permission denied", "/runs")))
    /runs: Permission denied. Change its permissions or choose another location (--out or --output)
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

_ELSEWHERE = "choose another location (--out or --output)"
_PERMISSION = f"Change its permissions or {_ELSEWHERE}"
_SPACE = f"Free some space or {_ELSEWHERE}"
_ADVICE = {
    errno.EACCES: _PERMISSION,
    errno.EPERM: _PERMISSION,
    errno.EROFS: f"{{path}} is on a read-only file system; {_ELSEWHERE}",
    errno.ENOSPC: _SPACE,
    errno.EDQUOT: _SPACE,
    errno.ENOTDIR: "A part of {path} is a file, not a folder; choose another location",
    errno.EISDIR: "{path} is a folder; name a file inside it",
}


class OutputPathError(ValueError):
    """An output path cannot be written; the message names it and what to do."""


def os_error_message(error: OSError) -> str:
    """One line for an ``OSError``: the path, the system's reason and what to do."""
    path = error.filename
    reason = error.strerror or str(error)
    advice = _ADVICE.get(error.errno or 0, "Check the path and its permissions")
    return f"{path}: {reason}. {advice.format(path=path)}"


def check_writable(path: str | os.PathLike, option: str) -> Path:
    """Create ``path``'s folder and make sure it accepts a new file; return ``path``.

    Raises :class:`OutputPathError` naming ``option`` and the path, before any work.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> check_writable(f"{folder}/new/features.parquet", "--out").parent.is_dir()
        True
        >>> check_writable(folder, "--out")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        emoshift.cli.output.OutputPathError: --out ...: is a folder; name a file inside it
    """
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{option} {path}: is a folder; name a file inside it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    except OSError as error:
        error.filename = str(path)
        raise OutputPathError(f"{option} {os_error_message(error)}") from None
    return path
