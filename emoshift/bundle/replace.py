"""Put finished output in place of old output so that a kill never leaves neither.

A model bundle is written into a hidden staging folder beside ``--out`` and only then put
in place. When ``--out`` already holds a bundle (``--overwrite``), :func:`swap_in`
exchanges the two folders in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``), then
deletes the old one from the staging name: at every instant ``--out`` holds the complete
old bundle or the complete new one. Where the system cannot exchange folders, the old
bundle is first renamed aside to ``.<name>.emoshift-<pid>-replaced``, the new one renamed
in, then the old one deleted; a kill between the two renames leaves ``--out`` missing
for a moment, and :func:`recover` (run by every later write and read of that path)
renames the old bundle back and says so.

Leftovers of a killed writer (``.<name>.emoshift-<pid>-*`` folders or files whose process
is gone) are deleted by the next write to the same ``--out``; those of a writer still
running are left alone.

:func:`write_file` does the same for one file (a prediction table): written to a hidden
temporary file in the same folder, then renamed over the target with :func:`os.replace`.

``EMOSHIFT_TEST_PAUSE=<step>:<marker>`` makes a process create ``<marker>`` and sleep
at ``<step>`` (see :func:`pause_point`): the kill tests use it to kill a writer at the
critical moment. Nothing else reads it.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_file(folder / "p.csv", lambda path: path.write_text("old"))
    >>> write_file(folder / "p.csv", lambda path: path.write_text("new"))
    >>> (folder / "p.csv").read_text(), sorted(p.name for p in folder.iterdir())
    ('new', ['p.csv'])
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

#: the environment variable of the kill tests (see the module doc)
PAUSE_VARIABLE = "EMOSHIFT_TEST_PAUSE"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_UNSUPPORTED = (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV)


class RecoveredWarning(UserWarning):
    """An interrupted write had left a bundle aside; it was renamed back into place."""


def pause_point(step: str) -> None:
    """Sleep here (after creating the marker file) when ``EMOSHIFT_TEST_PAUSE`` names
    ``step``: the moment a kill test kills the process."""
    wanted, _, marker = os.environ.get(PAUSE_VARIABLE, "").partition(":")
    if wanted == step and marker:
        Path(marker).touch()
        time.sleep(60)


def leftover_prefix(target: Path) -> str:
    """The name start of this process's staging files and folders beside ``target``."""
    return f".{target.name}.emoshift-{os.getpid()}-"


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    if os.name == "nt":  # os.kill would end the process there: keep its leftovers
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def recover(target: Path, is_complete: Callable[[Path], bool] = Path.exists) -> None:
    """Undo what a killed writer of ``target`` left: rename a bundle it had moved aside
    back into place (with a :class:`RecoveredWarning`) when ``target`` is missing, and
    delete its staging leftovers. A bundle moved aside is deleted only once ``target``
    ``is_complete`` (the new one is in place); leftovers of live writers are kept."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.emoshift-(\d+)-(.*)")
    if not target.parent.is_dir():
        return
    leftovers = sorted(target.parent.iterdir())
    for path in leftovers:
        match = pattern.fullmatch(path.name)
        if match is None or _writer_alive(int(match.group(1))):
            continue
        if match.group(2) == "replaced" and not target.exists():
            path.rename(target)
            warnings.warn(
                f"{target}: an interrupted write had moved this bundle to {path.name}; it "
                "is back in place",
                RecoveredWarning,
                stacklevel=2,
            )
        elif match.group(2) == "replaced" and not is_complete(target):
            warnings.warn(
                f"{target} is not a complete bundle, and an interrupted write had moved the "
                f"earlier bundle to {path}; it is kept there: move it back by hand",
                RecoveredWarning,
                stacklevel=2,
            )
        elif path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _exchange(a: Path, b: Path) -> None:
    """Swap two paths in one atomic step; ``OSError`` where the system cannot."""
    libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE):
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(b))


def swap_in(staging: Path, target: Path) -> None:
    """Put the complete folder ``staging`` at ``target`` (an existing folder is replaced;
    see the module doc). ``staging`` is gone afterwards."""
    if not target.exists():
        staging.rename(target)
        return
    try:
        _exchange(staging, target)
    except OSError as error:
        if error.errno not in _UNSUPPORTED:
            raise
        aside = target.with_name(f"{leftover_prefix(target)}replaced")
        target.rename(aside)
        pause_point("moved-aside")
        staging.rename(target)
        shutil.rmtree(aside)
        return
    pause_point("exchanged")
    shutil.rmtree(staging)


def write_file(target: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temporary_path)``, then rename the file over ``target``: a kill
    leaves ``target`` as it was, or complete."""
    target = Path(target)
    handle, name = tempfile.mkstemp(prefix=leftover_prefix(target), dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        _copy_mode(target, temporary)
        pause_point("file-written")
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _copy_mode(target: Path, temporary: Path) -> None:
    """The mode ``target`` has, or that of a new file (``mkstemp`` makes it private)."""
    if target.exists():
        shutil.copymode(target, temporary)
        return
    umask = os.umask(0)
    os.umask(umask)
    temporary.chmod(0o666 & ~umask)
