"""A memo of audio-file digests, so that a cached run does not read every audio file.

The feature cache is addressed by the sha256 of each audio file's bytes
(:mod:`emoshift.features.cache`); hashing a corpus means reading all of it, which costs
more than loading its cached features. :class:`FileHashMemo` remembers each file's digest
together with its ``os.stat`` signature: size, ``st_mtime_ns``, ``st_ctime_ns``, inode
and device. A file whose signature is unchanged is not read again.

What invalidates a remembered digest (the file is then hashed again): any write to the
file (changes mtime and ctime), replacing it by another file or a copy (inode, ctime),
``touch`` or restoring an old mtime (ctime, which no user call can set back), ``chmod``
or a rename (ctime), moving the corpus or the cache to another disk or machine (device,
inode). A digest is only remembered if the file did not change while it was read and
its last change is at least :data:`SETTLE_SECONDS` old, so two writes within one tick
of the file system's clock cannot leave a stale digest. What it cannot see: a file
system that changes content without updating mtime or ctime, or a clock set back by
hand. Deleting ``file-hashes.json`` in the cache directory makes the next run hash every
file again.

The memo is plain JSON (never a pickle), written atomically; an unreadable or malformed
memo, or a malformed entry in it, is ignored (the files are hashed again) and rewritten.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.wav").write_bytes(b"abc")
    >>> memo = FileHashMemo(folder / "cache")
    >>> memo.sha256(folder / "a.wav")[:16]
    'ba7816bf8f01cfea'
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from emoshift.features.cache import hash_file, write_text_atomic

MEMO_FILE = "file-hashes.json"
"""The memo's file name inside the cache directory."""

MEMO_FORMAT = "emoshift-file-hashes/1"

SETTLE_SECONDS = 2.0
"""A digest is remembered only for files last changed at least this long ago."""

_SHA256 = re.compile(r"[0-9a-f]{64}")
Signature = tuple[int, int, int, int, int]


def _signature(stat: os.stat_result) -> Signature:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)


def _valid_entry(entry: object) -> bool:
    return (
        isinstance(entry, list)
        and len(entry) == 6
        and all(type(value) is int for value in entry[:5])
        and isinstance(entry[5], str)
        and _SHA256.fullmatch(entry[5]) is not None
    )


def _read(path: Path) -> dict[str, list]:
    """The well-formed entries of the memo at ``path``; nothing if it is absent or bad."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != MEMO_FORMAT:
        return {}
    files = data.get("files")
    if not isinstance(files, dict):
        return {}
    return {name: entry for name, entry in files.items() if _valid_entry(entry)}


class FileHashMemo:
    """sha256 digests of files, remembered by their ``os.stat`` signature.

    Args:
        cache_root: the feature cache directory; the memo is ``cache_root/file-hashes.json``.
    """

    def __init__(self, cache_root: str | os.PathLike) -> None:
        self.path = Path(cache_root) / MEMO_FILE
        self._entries = _read(self.path)
        self._new: dict[str, list] = {}
        self.n_hashed = 0

    def sha256(self, path: str | os.PathLike) -> str:
        """The sha256 hex digest of the file's bytes, read only if the memo cannot vouch.

        Raises:
            OSError: the file cannot be read.
        """
        name = os.path.abspath(path)
        before = _signature(os.stat(name))
        entry = self._new.get(name) or self._entries.get(name)
        if entry is not None and tuple(entry[:5]) == before:
            return entry[5]
        digest = hash_file(name)
        self.n_hashed += 1
        after = os.stat(name)
        settled = time.time_ns() - max(after.st_mtime_ns, after.st_ctime_ns)
        if _signature(after) == before and settled >= SETTLE_SECONDS * 1e9:
            self._new[name] = [*before, digest]
        return digest

    def save(self) -> None:
        """Add the digests learnt since loading to the memo on disk (atomic replace).

        Entries another process wrote meanwhile are kept; a memo that cannot be written
        (read-only cache) is left as it is: it only saves time.
        """
        if not self._new:
            return
        files = {**_read(self.path), **self._new}
        text = json.dumps({"format": MEMO_FORMAT, "files": files}, separators=(",", ":"))
        if write_text_atomic(self.path, text):
            self._entries, self._new = files, {}
