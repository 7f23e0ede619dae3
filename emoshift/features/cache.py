"""A content-addressed, crash-safe cache of feature arrays.

An entry's key is the sha256 of (emoshift feature-format version, sha256 of the audio
file's bytes, sha256 of the extractor's JSON config), so renaming or moving a file keeps
its entry, editing the audio or changing any extractor option makes a new one, and no
entry is ever stale (to skip reading unchanged audio files, the digests are remembered by
:mod:`emoshift.features.hash_memo`, which says what makes it hash a file again).
Entries are ``.npy`` files at ``root/<first 2 hex chars>/<key>.npy``, written to a
temporary file in the same directory, fsynced and renamed into place with
:func:`os.replace`: a killed run leaves either the whole entry or none. An entry that
fails to load (truncated, corrupt) is treated as a miss and rewritten by the next
:meth:`FeatureCache.put`; one that loads but is wrong for its extractor (shape, dtype,
NaN) is deleted by :meth:`FeatureCache.get_valid` and so rewritten too.

Example:
    >>> import tempfile, numpy as np
    >>> cache = FeatureCache(tempfile.mkdtemp())
    >>> key = cache.key("ab" * 32, hash_config({"kind": "demo"}))
    >>> cache.get(key) is None
    True
    >>> _ = cache.put(key, np.arange(3, dtype=np.float32))
    >>> cache.get(key)
    array([0., 1., 2.], dtype=float32)
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

FEATURE_FORMAT_VERSION = 1
"""Bumped whenever emoshift changes how features are computed or stored."""

CHUNK_SIZE = 1 << 20

_HEADERS: dict[bytes, tuple[tuple[int, ...], bool, np.dtype]] = {}
_MAX_HEADERS = 256


def read_npy(path: str | os.PathLike) -> np.ndarray:
    """The array in an ``.npy`` file (format 1 or 2, as :func:`numpy.save` writes it),
    as :func:`numpy.load` with ``allow_pickle=False`` reads it, but in one read and with
    each distinct header parsed once (all entries of one extractor share theirs): a cached
    corpus loads several times faster.

    Raises:
        OSError: the file cannot be read.
        ValueError: not an ``.npy`` file, an object array, or truncated.

    Example:
        >>> import tempfile, numpy as np
        >>> path = tempfile.mkdtemp() + "/a.npy"
        >>> np.save(path, np.arange(6, dtype=np.float32).reshape(2, 3))
        >>> read_npy(path)
        array([[0., 1., 2.],
               [3., 4., 5.]], dtype=float32)
    """
    with open(path, "rb", buffering=0) as file:
        data = bytearray(os.fstat(file.fileno()).st_size)
        file.readinto(data)
    if data[:6] != b"\x93NUMPY" or data[6] not in (1, 2):
        raise ValueError(f"{path} is not an .npy file of format version 1 or 2")
    start = 10 if data[6] == 1 else 12
    end = start + int.from_bytes(data[8:start], "little")
    header = bytes(data[start:end])
    parsed = _HEADERS.get(header)
    if parsed is None:
        stream = io.BytesIO(data)
        version = np.lib.format.read_magic(stream)
        reader = np.lib.format.read_array_header_1_0
        if version != (1, 0):
            reader = np.lib.format.read_array_header_2_0
        parsed = reader(stream)
        if len(_HEADERS) >= _MAX_HEADERS:
            _HEADERS.clear()
        _HEADERS[header] = parsed
    shape, fortran_order, dtype = parsed
    if dtype.hasobject:
        raise ValueError(f"{path} holds an object array, which is never a cache entry")
    count = math.prod(shape)
    if len(data) - end != count * dtype.itemsize:
        raise ValueError(f"{path} is truncated")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=end)
    return array.reshape(shape[::-1]).T if fortran_order else array.reshape(shape)


CACHE_VARIABLE = "EMOSHIFT_CACHE"
"""The environment variable that names the feature cache folder."""


def default_cache_dir() -> Path:
    """``$EMOSHIFT_CACHE`` if set, else ``~/.cache/emoshift``.

    Example:
        >>> import os
        >>> os.environ["EMOSHIFT_CACHE"] = "/tmp/emoshift-cache"
        >>> str(default_cache_dir())
        '/tmp/emoshift-cache'
        >>> del os.environ["EMOSHIFT_CACHE"]
    """
    env = os.environ.get(CACHE_VARIABLE)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "emoshift"


def hash_file(path: str | os.PathLike, chunk_size: int = CHUNK_SIZE) -> str:
    """The sha256 hex digest of a file's bytes, read in ``chunk_size`` chunks.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile(delete=False) as f:
        ...     _ = f.write(b"abc")
        >>> hash_file(f.name)[:16]
        'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as file:
        buffer = bytearray(chunk_size)
        view = memoryview(buffer)
        while size := file.readinto(buffer):
            digest.update(view[:size])
    return digest.hexdigest()


def write_text_atomic(path: str | os.PathLike, text: str) -> bool:
    """Write ``text`` to ``path`` through a temporary file and a rename, so readers see the
    old or the new file, never half of one. Returns ``False`` (and writes nothing) when the
    file cannot be written: for the cache's own helper files that only costs time.

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/sub/a.json"
        >>> write_text_atomic(path, "[]"), open(path).read()
        (True, '[]')
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError:
        return False
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, target)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        return False
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def hash_config(config: Mapping[str, Any]) -> str:
    """The sha256 hex digest of a JSON-able config (canonical JSON: sorted keys).

    Example:
        >>> hash_config({"b": 1, "a": 2}) == hash_config({"a": 2, "b": 1})
        True
    """
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FeatureCache:
    """Feature arrays on disk, addressed by audio content and extractor config.

    Args:
        root: the cache directory; ``None`` uses :func:`default_cache_dir`.
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self._root = str(self.root)

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    @staticmethod
    def key(file_sha256: str, config_sha256: str) -> str:
        """The entry key for an audio file's digest and an extractor config's digest."""
        text = f"emoshift-features:{FEATURE_FORMAT_VERSION}:{file_sha256}:{config_sha256}"
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    def path(self, key: str) -> Path:
        """Where the entry for ``key`` lives: ``root/<key[:2]>/<key>.npy``."""
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        """The cached array, or ``None`` if absent or unreadable (then it is a miss)."""
        try:
            return read_npy(os.path.join(self._root, key[:2], f"{key}.npy"))
        except (OSError, ValueError, EOFError):
            return None

    def feature_names(self, config_sha256: str, compute: Callable[[], list[str]]) -> list[str]:
        """The feature names of the extractor config with digest ``config_sha256``.

        Read from ``root/names/<config_sha256>.json`` (a JSON list of strings); when that
        is absent or malformed, ``compute()`` gives them and they are stored there. The
        config describes the output completely (it keys every entry), so its names never
        change; reading them spares building the extractor (an ``opensmile.Smile`` takes
        about a second) in a run that finds every file cached.

        Example:
            >>> import tempfile
            >>> cache = FeatureCache(tempfile.mkdtemp())
            >>> cache.feature_names("ab" * 32, lambda: ["f0", "loudness"])
            ['f0', 'loudness']
            >>> cache.feature_names("ab" * 32, lambda: [])  # stored: compute is not called
            ['f0', 'loudness']
        """
        path = self.root / "names" / f"{config_sha256}.json"
        try:
            names = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            names = None
        if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
            return names
        names = list(compute())
        write_text_atomic(path, json.dumps(names))
        return names

    def get_valid(
        self, key: str, check: Callable[[np.ndarray], str | None]
    ) -> tuple[np.ndarray | None, str | None]:
        """The cached array if it loads and ``check`` finds nothing wrong with it.

        Returns ``(array, None)`` for a valid entry, ``(None, None)`` for a miss, and
        ``(None, problem)`` for an entry that loads but is wrong (``check`` returned
        ``problem``, e.g. a wrong shape or NaN): that entry is deleted, so the next
        :meth:`put` writes a good one.

        Example:
            >>> import tempfile, numpy as np
            >>> cache = FeatureCache(tempfile.mkdtemp())
            >>> _ = cache.put("ab" * 32, np.full(3, np.nan))
            >>> cache.get_valid("ab" * 32, lambda a: "holds NaN" if np.isnan(a).any() else None)
            (None, 'holds NaN')
            >>> cache.path("ab" * 32).exists()
            False
        """
        array = self.get(key)
        if array is None:
            return None, None
        problem = check(array)
        if problem is None:
            return array, None
        self.path(key).unlink(missing_ok=True)
        return None, problem

    def put(self, key: str, array: np.ndarray) -> Path:
        """Store ``array`` under ``key`` atomically (temp file, fsync, rename); return its path."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                np.save(file, np.ascontiguousarray(array), allow_pickle=False)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target
