"""The model bundle on disk: a folder of safetensors arrays, a JSON manifest, checksums.

A bundle holds three kinds of files:

- ``manifest.json``: everything about the model as JSON (see
  :mod:`emoshift.bundle.manifest`), including the size and sha256 of every array file;
- ``*.safetensors``: named arrays (network weights, normalisation statistics, SVM
  parameters), read with :func:`safetensors.numpy.load_file`, which never runs code;
- ``SHA256SUMS``: one ``<sha256>  <name>`` line per file, the manifest included, in the
  format of ``sha256sum -c``.

:func:`write_bundle` writes into a hidden sibling folder and puts it in place only when it
is complete (:mod:`emoshift.bundle.replace`): a kill at any moment leaves ``folder``
holding the complete old bundle or the complete new one, never a half-written one or
none. ``overwrite`` replaces only a bundle or an empty folder, never other files.

:func:`read_bundle` checks every file before it parses any of them: a missing, truncated
or altered file raises :class:`BundleError` naming the file; nothing is unpickled.

Example:
    >>> import tempfile, numpy as np
    >>> folder = tempfile.mkdtemp() + "/model"
    >>> _ = write_bundle(folder, {"format_version": 1}, {"weights": {"w": np.ones(3)}})
    >>> manifest, arrays = read_bundle(folder)
    >>> arrays["weights"]["w"].tolist(), sorted(manifest["files"])
    ([1.0, 1.0, 1.0], ['weights.safetensors'])
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from emoshift.bundle.replace import leftover_prefix, pause_point, recover, swap_in

MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
ARRAY_SUFFIX = ".safetensors"
#: the largest manifest read (a real one is a few kilobytes to a few megabytes)
MAX_MANIFEST_BYTES = 64 << 20
#: the largest checksum list read (a real one is a line per file: well under a kilobyte)
MAX_CHECKSUMS_BYTES = 1 << 20


class BundleError(ValueError):
    """A model bundle cannot be used; the message names the file and what to do."""


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _contiguous(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.ascontiguousarray(value) for name, value in arrays.items()}


def write_bundle(
    folder: str | os.PathLike,
    manifest: Mapping[str, object],
    arrays: Mapping[str, Mapping[str, np.ndarray]],
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``manifest`` and each group of ``arrays`` (one ``<group>.safetensors`` file
    each) to ``folder``, with sizes and checksums; returns the folder.

    An existing ``folder`` is replaced only with ``overwrite=True``.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    recover(folder, is_bundle)
    check_replaceable(folder, overwrite)
    staging = Path(tempfile.mkdtemp(prefix=leftover_prefix(folder), dir=folder.parent))
    try:
        files = {}
        for group, named in arrays.items():
            name = f"{group}{ARRAY_SUFFIX}"
            save_file(_contiguous(named), str(staging / name))
            files[name] = {
                "bytes": (staging / name).stat().st_size,
                "sha256": sha256_of(staging / name),
            }
        text = json.dumps({**manifest, "files": files}, indent=2, sort_keys=False)
        (staging / MANIFEST).write_text(text + "\n", encoding="utf-8")
        sums = [f"{sha256_of(staging / name)}  {name}" for name in [MANIFEST, *files]]
        (staging / CHECKSUMS).write_text("\n".join(sums) + "\n", encoding="utf-8")
        _open_permissions(staging)
        pause_point("staged")
        swap_in(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def check_replaceable(folder: Path, overwrite: bool) -> None:
    """Raise ``FileExistsError`` unless a bundle may be written at ``folder``: a new
    path, or with ``overwrite`` an emoshift model bundle or an empty folder, nothing else."""
    if not (folder.exists() or folder.is_symlink()):
        return
    if not overwrite:
        raise FileExistsError(
            f"{folder} already exists; choose another --out folder or remove it first"
        )
    if folder.is_symlink() or not folder.is_dir():
        raise FileExistsError(
            f"{folder} is not a folder; --overwrite replaces only a model bundle folder: "
            "choose another --out"
        )
    if any(folder.iterdir()) and not is_bundle(folder):
        raise FileExistsError(
            f"{folder} holds files but no emoshift {MANIFEST}: it is not a model bundle, and "
            "--overwrite replaces only a model bundle (or an empty folder); choose another "
            "--out"
        )


def _open_permissions(folder: Path) -> None:
    """The modes a folder and files made with ``mkdir``/``open`` get (temporary folders
    and some writers are private to their owner)."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        path.chmod(0o666 & ~umask)


def _read_checksums(folder: Path) -> dict[str, str]:
    path = folder / CHECKSUMS
    if not path.is_file():
        raise BundleError(
            f"{path} is missing: {folder} is not a complete model bundle (save it again "
            "with emoshift train or Model.save)"
        )
    sums = {}
    text = _bounded_text(path, MAX_CHECKSUMS_BYTES, "checksum list")
    for number, line in enumerate(text.splitlines(), 1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name or "/" in name or name.startswith("."):
            raise BundleError(f"{path}, line {number}: not a '<sha256>  <file>' line: {line!r}")
        sums[name] = digest
    if MANIFEST not in sums:
        raise BundleError(f"{path} lists no checksum for {MANIFEST}; the bundle is altered")
    return sums


def _check_file(folder: Path, name: str, digest: str, size: int | None = None) -> None:
    path = folder / name
    if not path.is_file():
        raise BundleError(f"{path} is missing from the model bundle; copy the whole folder")
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        state = "truncated" if actual_size < size else "longer than saved"
        raise BundleError(
            f"{path} is {state} ({actual_size} bytes, the manifest says {size}); copy the "
            "bundle again from its source"
        )
    if sha256_of(path) != digest:
        raise BundleError(
            f"{path}: sha256 does not match {CHECKSUMS} (the file was altered or damaged); "
            "copy the bundle again from its source"
        )


def _bounded_text(path: Path, limit: int, what: str) -> str:
    """The UTF-8 text of ``path``, of which at most ``limit`` bytes (and one more) are
    read; a longer file, or one that is not UTF-8, is a :class:`BundleError`."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise BundleError(
            f"{path} is {path.stat().st_size} bytes, more than the {limit} a model {what} "
            f"may have; it is not an emoshift model {what}"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BundleError(f"{path} is not UTF-8 text ({error}); the bundle is damaged") from None


def _read_manifest(folder: Path) -> dict:
    text = _bounded_text(folder / MANIFEST, MAX_MANIFEST_BYTES, "manifest")
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as error:
        raise BundleError(f"{folder / MANIFEST} is not valid JSON: {error}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BundleError(f"{folder / MANIFEST} has no 'files' table; the bundle is damaged")
    return manifest


def is_bundle(folder: Path) -> bool:
    """Whether ``folder`` is a model bundle: it holds an emoshift model manifest (its
    format, near the top), whatever else it lacks. A place no other output may be written
    into, and the only one ``overwrite`` replaces; a ``SHA256SUMS`` alone does not make
    one (a downloads folder has them)."""
    try:
        with open(folder / MANIFEST, "rb") as handle:
            return b'"emoshift-model"' in handle.read(4096)
    except OSError:
        return False


def _recover_for_reading(folder: Path) -> None:
    """Put back a bundle that a killed ``--overwrite`` left aside (see
    :func:`~emoshift.bundle.replace.recover`); a read-only place keeps it as it is."""
    with contextlib.suppress(OSError):
        recover(folder, is_bundle)


def read_bundle(folder: str | os.PathLike) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
    """The manifest and the array groups of the bundle in ``folder``, every file checked.

    Raises :class:`BundleError` naming the file when one is missing, truncated, altered
    or not listed in both the manifest and ``SHA256SUMS``.
    """
    folder = Path(folder)
    if not folder.exists():
        _recover_for_reading(folder)
    if not folder.is_dir():
        raise BundleError(f"{folder} is not a model bundle folder (it does not exist)")
    sums = _read_checksums(folder)
    _check_file(folder, MANIFEST, sums[MANIFEST])
    manifest = _read_manifest(folder)
    listed = set(manifest["files"])
    if listed != set(sums) - {MANIFEST}:
        raise BundleError(
            f"{folder / CHECKSUMS} and {folder / MANIFEST} list different files "
            f"({sorted(set(sums) ^ listed ^ {MANIFEST})}); the bundle is altered"
        )
    arrays = {}
    for name, entry in manifest["files"].items():
        if not name.endswith(ARRAY_SUFFIX):
            raise BundleError(f"{folder / MANIFEST}: {name!r} is not a {ARRAY_SUFFIX} file")
        size = entry.get("bytes") if isinstance(entry, dict) else None
        if type(size) is not int:
            raise BundleError(
                f"{folder / MANIFEST}: files.{name}.bytes is {size!r}, not a whole number of "
                "bytes; the bundle is damaged, copy it again from its source"
            )
        _check_file(folder, name, sums[name], size)
        if entry.get("sha256") != sums[name]:
            raise BundleError(
                f"{folder / name}: its sha256 in {MANIFEST} differs from {CHECKSUMS}; "
                "the bundle is altered"
            )
        try:
            arrays[name.removesuffix(ARRAY_SUFFIX)] = load_file(str(folder / name))
        except (SafetensorError, OSError) as error:
            raise BundleError(
                f"{folder / name} is not a readable safetensors file: {error}"
            ) from None
    return manifest, arrays
