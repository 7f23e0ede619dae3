"""Extracting features for a corpus table: extractor factory, cache, parallel workers.

:func:`extract_features` reads each file with :func:`~emoshift.features.audio.read_audio`,
runs an extractor on it and stores the result in the content-addressed
:class:`~emoshift.features.cache.FeatureCache`, in parallel over files, with a progress
bar. A second run over the same files and extractor reads everything from the cache.
Files that give no usable signal are skipped and reported (``on_error="skip"``) or stop
the run (``on_error="raise"``); either way every feature computed so far is in the cache.
Every output, fresh or cached, passes one check (:func:`check_output`: shape, float dtype,
finite values); a cache entry that fails it is dropped and its file extracted again,
with an :class:`InvalidCacheEntryWarning` naming the file. An extractor that fails for
another reason raises :class:`ExtractionError` naming the file.

The calling process looks every file up in the cache first (file digests come from a
stat-keyed memo, :mod:`emoshift.features.hash_memo`, so a cached run reads no audio);
only the files the cache lacks are extracted, and no worker process starts when there
are none. Workers are fresh processes (:mod:`emoshift.features.workers`), never forks of
the caller, so a custom extractor class must be importable (defined in a module, not in
a notebook). A call from a script's top level without an
``if __name__ == "__main__":`` guard extracts in the calling process instead, with a
:class:`ScriptWithoutMainGuardWarning` that says why. Each worker creates its
``opensmile.Smile`` once, on its first file.

Example:
    >>> import os, tempfile, numpy as np, soundfile as sf
    >>> folder = tempfile.mkdtemp()
    >>> t = np.arange(16000) / 16000
    >>> for i in range(2):
    ...     sf.write(f"{folder}/{i}.wav", np.sin(2 * np.pi * (150 + 50 * i) * t), 16000)
    >>> files = [f"{folder}/0.wav", f"{folder}/1.wav"]
    >>> result = extract_features(files, "egemaps", cache_dir=f"{folder}/cache", n_jobs=1)
    >>> result.features.shape, result.n_extracted, result.n_cached
    ((2, 88), 2, 0)
    >>> extract_features(files, "egemaps", cache_dir=f"{folder}/cache", n_jobs=1).n_cached
    2
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
import pandas as pd

from emoshift.features.audio import AudioError, check_regular_file, read_audio
from emoshift.features.cache import FeatureCache, hash_config
from emoshift.features.functionals import ALIASES, FEATURE_SETS, SHORT_NAMES, Functionals
from emoshift.features.hash_memo import FileHashMemo
from emoshift.features.logmel import LogMel
from emoshift.features.segments import row_names, split_name
from emoshift.features.ssl_model import ModelError
from emoshift.features.workers import resolve_jobs, unguarded_main_call, worker_context
from emoshift.progress import progress as progress_bar

EXTRACTOR_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys((*SHORT_NAMES, "logmel", "ssl", *FEATURE_SETS))
)
"""Names :func:`get_extractor` accepts (any case; also ``egemapsv02`` style aliases),
besides ``*.conf`` paths."""

_MAX_NAMED = 20


class Extractor(Protocol):
    """What :func:`extract_features` needs from an extractor.

    ``frame_level`` extractors return ``(n_frames, n_features)`` arrays, the others 1-D
    vectors of ``len(feature_names)``. ``config()`` must be JSON-able and describe the
    output completely: it is part of the cache key.
    """

    name: str
    sample_rate: int
    frame_level: bool

    @property
    def feature_names(self) -> list[str]: ...

    def config(self) -> dict[str, Any]: ...

    def __call__(self, signal: np.ndarray, sample_rate: int) -> np.ndarray: ...


def get_extractor(name_or_path: str | os.PathLike | Extractor, **options: Any) -> Extractor:
    """An extractor by name (see :data:`EXTRACTOR_NAMES`) or openSMILE ``.conf`` path.

    ``options`` go to the extractor's constructor (e.g. ``sample_rate``, or ``n_mels`` for
    ``logmel``). An :class:`Extractor` instance is returned unchanged.

    Example:
        >>> get_extractor("eGeMAPSv02").name, get_extractor("logmel", n_mels=64).n_mels
        ('eGeMAPSv02', 64)
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        return name_or_path
    text = os.fspath(name_or_path)
    if text.lower() == "logmel":
        return LogMel(**options)
    if text.lower() == "ssl":  # imported here: transformers is an optional extra
        from emoshift.features.ssl import SSLFeatures

        return SSLFeatures(**options)
    if text.endswith(".conf") or text.lower() in ALIASES:
        return Functionals(text, **options)
    raise ValueError(
        f"unknown feature extractor {text!r}; valid names are {list(EXTRACTOR_NAMES)}, "
        "or the path of an openSMILE config file ending in .conf"
    )


class SkippedFilesWarning(UserWarning):
    """Some files gave no features and were skipped; ``FeatureResult.errors`` says why."""


class InvalidCacheEntryWarning(UserWarning):
    """A cache entry loaded but was wrong (shape, dtype, NaN); it was dropped and the file
    extracted again. The message names the audio file and the entry."""


class ExtractionError(RuntimeError):
    """An extractor failed on a file for a reason other than unusable audio (a bug or a
    broken extractor); the message names the audio file and the extractor."""


@dataclass
class FeatureResult:
    """The outcome of :func:`extract_features`.

    Attributes:
        features: functionals as a DataFrame (rows: the kept rows of the input, with its
            index; columns: feature names), or frame-level arrays as a list aligned
            with ``index``.
        index: the input's index labels of the rows that have features, in input order.
        files: the audio file of each of those rows.
        errors: ``{file: message}`` for every skipped file; messages start with the file.
        n_extracted: files computed in this run.
        n_cached: files read from the cache.
        feature_names: names of the feature columns (per frame for frame-level).
        extractor: the extractor's name.
        config: the extractor's config.
    """

    features: pd.DataFrame | list[np.ndarray]
    index: pd.Index
    files: list[str]
    errors: dict[str, str] = field(default_factory=dict)
    n_extracted: int = 0
    n_cached: int = 0
    feature_names: list[str] = field(default_factory=list)
    extractor: str = ""
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def n_skipped(self) -> int:
        """Number of skipped files."""
        return len(self.errors)

    def summary(self) -> str:
        """A human-readable account: extracted, cached, skipped (with names and reasons)."""
        lines = [
            f"{self.extractor}: {len(self.files)} file(s) with features "
            f"({self.n_extracted} extracted, {self.n_cached} from cache), "
            f"{self.n_skipped} skipped"
        ]
        lines += [f"  skipped {message}" for message in self.errors.values()]
        return "\n".join(lines)


def _shape_problem(array: np.ndarray, n_features: int, frame_level: bool) -> str | None:
    expected = f"(n_frames, {n_features})" if frame_level else f"({n_features},)"
    shape_ok = (
        array.ndim == 2 and array.shape[0] >= 1 and array.shape[1] == n_features
        if frame_level
        else array.shape == (n_features,)
    )
    if not shape_ok:
        return f"has shape {array.shape}, not {expected}"
    if array.dtype.kind != "f":
        return f"has dtype {array.dtype}, not float"
    return None


def check_output(array: np.ndarray, n_features: int, frame_level: bool) -> str | None:
    """What is wrong with an extractor's output for one file, or ``None`` if nothing.

    Functionals must be a 1-D float vector of ``n_features`` values, frame-level
    features a ``(n_frames >= 1, n_features)`` float array; every value must be finite.
    The same check applies to fresh output and to cache entries.

    Example:
        >>> check_output(np.zeros(3, dtype=np.float32), 3, frame_level=False) is None
        True
        >>> check_output(np.full((2, 3), np.nan, dtype=np.float32), 3, frame_level=True)
        'holds 6 NaN or infinite values of 6'
    """
    problem = _shape_problem(array, n_features, frame_level)
    if problem is None and (bad := int(np.count_nonzero(~np.isfinite(array)))):
        problem = f"holds {bad} NaN or infinite values of {array.size}"
    return problem


class _Outcome(NamedTuple):
    """One file's result: its status, the features or the error message (for ``pending``,
    the cache key), and a note on a cache entry that was dropped as invalid."""

    status: Literal["cached", "extracted", "error", "pending"]
    value: np.ndarray | str
    dropped: str = ""


@dataclass(frozen=True)
class _FileJob:
    """Features of one file from the cache, or computed and cached (picklable for workers).

    :meth:`look_up` runs in the calling process for every file; :meth:`__call__` runs,
    there or in a worker, only for the files the cache lacks.
    """

    extractor: Extractor
    cache_root: str
    config_sha256: str
    n_features: int

    def check(self, array: np.ndarray) -> str | None:
        return check_output(array, self.n_features, self.extractor.frame_level)

    def look_up(self, path: str, memo: FileHashMemo, cache: FeatureCache) -> _Outcome:
        """``cached`` with the features, ``error`` if unreadable, else ``pending`` with
        the cache key to extract into. ``path`` may name a segment
        (:mod:`emoshift.features.segments`): its key adds the span to the file's digest."""
        file, span = split_name(path)
        try:
            check_regular_file(file)  # a FIFO or /dev/zero would never finish hashing
            file_sha256 = memo.sha256(file)
        except AudioError as error:
            return _Outcome("error", str(error))
        except OSError as error:
            reason = error.strerror or str(error)
            message = (
                f"{path}: audio file cannot be read ({reason}); check the path or drop the row"
            )
            return _Outcome("error", message)
        if span is not None:
            file_sha256 = f"{file_sha256}#t={span[0]!r},{span[1]!r}"
        key = cache.key(file_sha256, self.config_sha256)
        cached, problem = cache.get_valid(key, self.check)
        if cached is not None:
            return _Outcome("cached", cached)
        dropped = (
            f"{path}: cache entry {cache.path(key)} {problem}; dropped it and extracted the "
            "file again"
            if problem
            else ""
        )
        return _Outcome("pending", key, dropped)

    def __call__(self, path: str, pending: _Outcome) -> _Outcome:
        """Extract a ``pending`` file and store its features under the pending key."""
        try:
            features = self.extract(path)
        except AudioError as error:
            return _Outcome("error", str(error), pending.dropped)
        FeatureCache(self.cache_root).put(str(pending.value), features)
        return _Outcome("extracted", features, pending.dropped)

    def extract(self, path: str) -> np.ndarray:
        """The extractor's output for ``path`` (a file or a segment's name); every
        failure names it."""
        file, span = split_name(path)
        signal = read_audio(file, self.extractor.sample_rate, span=span)
        name = self.extractor.name
        try:
            features = np.asarray(self.extractor(signal, self.extractor.sample_rate))
        except AudioError as error:
            raise AudioError(f"{path}: {error}") from error
        except ModelError:
            raise  # the model, not this file, is at fault; the message names its folder
        except Exception as error:
            raise ExtractionError(f"{path}: extractor {name} failed: {error!r}") from error
        problem = _shape_problem(features, self.n_features, self.extractor.frame_level)
        if problem is not None:
            raise ExtractionError(
                f"{path}: the output of extractor {name} {problem}; its feature_names and "
                "output disagree"
            )
        if (problem := self.check(features)) is not None:
            raise AudioError(f"{path}: the output of extractor {name} {problem}")
        return features


def _inputs(table_or_files: pd.DataFrame | Iterable[str | os.PathLike]) -> tuple[pd.Index, list]:
    if isinstance(table_or_files, pd.DataFrame):
        if "file" not in table_or_files:
            raise ValueError(
                "the table has no 'file' column; pass a corpus table "
                "(emoshift.data.table.read_table) or a list of audio paths"
            )
        missing = table_or_files["file"].isna()
        if missing.any():
            raise ValueError(
                f"the 'file' column is empty in rows {list(table_or_files.index[missing][:10])}; "
                "fill or drop those rows"
            )
        return table_or_files.index, row_names(table_or_files)
    files = [os.fspath(f) for f in table_or_files]
    return pd.Index(files, name="file"), files


def extract_features(
    table_or_files: pd.DataFrame | Iterable[str | os.PathLike],
    extractor: str | os.PathLike | Extractor,
    *,
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    on_error: Literal["skip", "raise"] = "skip",
    progress: bool | None = None,
) -> FeatureResult:
    """Features for every file of a corpus table (its ``file`` column) or list of paths.

    Args:
        table_or_files: a corpus table, or audio paths (then the result is indexed by path).
        extractor: an :class:`Extractor` or a name/path for :func:`get_extractor`.
        cache_dir: the feature cache (default ``$EMOSHIFT_CACHE`` or ``~/.cache/emoshift``).
        n_jobs: worker processes; ``None`` or ``-1``: one per CPU; ``1``: in this process.
        on_error: ``"skip"`` leaves out files without a usable signal, lists them in
            ``errors`` and warns (:class:`SkippedFilesWarning`) with their names;
            ``"raise"`` raises :class:`AudioError` for the first such file (features
            computed before are kept in the cache).
        progress: draw a progress bar (``None``: on a terminal, see :mod:`emoshift.progress`).

    Returns:
        A :class:`FeatureResult`; functionals come as a DataFrame, frame-level features
        as a list of arrays.
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', not {on_error!r}")
    job, names = _file_job(get_extractor(extractor), cache_dir)
    extractor, config = job.extractor, job.extractor.config()
    index, files = _inputs(table_or_files)
    unique = list(dict.fromkeys(files))
    outcomes = _look_up(job, unique, on_error=on_error, progress=progress)
    pending = {path: outcome for path, outcome in outcomes.items() if outcome.status == "pending"}
    if pending:
        outcomes.update(
            _run_jobs(job, pending, n_jobs=n_jobs, on_error=on_error, progress=progress)
        )
    errors = {
        path: str(outcomes[path].value) for path in unique if outcomes[path].status == "error"
    }
    _warn_about(outcomes, errors, len(unique))
    return _assemble(extractor, config, names, index, files, outcomes, errors)


def uncached_files(
    table_or_files: pd.DataFrame | Iterable[str | os.PathLike],
    extractor: str | os.PathLike | Extractor,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> list[str]:
    """The files whose features :func:`extract_features` would have to extract: those
    the cache lacks (or holds an invalid entry for). It extracts nothing; unreadable
    files, which extraction would skip, are not among them.

    Example:
        >>> import tempfile, numpy as np, soundfile as sf
        >>> folder = tempfile.mkdtemp()
        >>> sf.write(f"{folder}/a.wav", np.sin(np.arange(16000) / 9), 16000)
        >>> [f.rsplit("/", 1)[1] for f in uncached_files([f"{folder}/a.wav"], "egemaps",
        ...                                               cache_dir=f"{folder}/cache")]
        ['a.wav']
    """
    job, _ = _file_job(get_extractor(extractor), cache_dir)
    unique = list(dict.fromkeys(_inputs(table_or_files)[1]))
    outcomes = _look_up(job, unique, on_error="skip", progress=progress)
    return [path for path, outcome in outcomes.items() if outcome.status == "pending"]


def _file_job(
    extractor: Extractor, cache_dir: str | os.PathLike | None
) -> tuple[_FileJob, list[str]]:
    """The :class:`_FileJob` of ``extractor`` on the cache at ``cache_dir``, and the
    extractor's feature names (read from the cache when it has them)."""
    cache = FeatureCache(cache_dir)
    config_sha256 = hash_config(extractor.config())
    names = cache.feature_names(config_sha256, lambda: extractor.feature_names)
    job = _FileJob(
        extractor=extractor,
        cache_root=str(cache.root),
        config_sha256=config_sha256,
        n_features=len(names),
    )
    return job, names


class ScriptWithoutMainGuardWarning(UserWarning):
    """Extraction ran in the calling process although ``n_jobs > 1``: the call comes from
    a script's top level outside an ``if __name__ == "__main__":`` guard, which worker
    processes would run again. The message names the script and line."""


def _record(outcomes: dict[str, _Outcome], path: str, outcome: _Outcome, on_error: str) -> None:
    outcomes[path] = outcome
    if outcome.status == "error" and on_error == "raise":
        raise AudioError(str(outcome.value))


def _look_up(
    job: _FileJob, unique: list[str], *, on_error: str, progress: bool | None
) -> dict[str, _Outcome]:
    """Every file's cached features, error or pending key, in this process; file digests
    come from the :class:`~emoshift.features.hash_memo.FileHashMemo` where it can vouch."""
    memo = FileHashMemo(job.cache_root)
    cache = FeatureCache(job.cache_root)
    outcomes: dict[str, _Outcome] = {}
    bar = {"desc": f"{job.extractor.name} cache", "total": len(unique), "unit": "file"}
    try:
        for path in progress_bar(unique, enabled=progress, **bar):
            _record(outcomes, path, job.look_up(path, memo, cache), on_error)
    finally:
        memo.save()
    return outcomes


def _run_jobs(
    job: _FileJob,
    pending: dict[str, _Outcome],
    *,
    n_jobs: int | None,
    on_error: Literal["skip", "raise"],
    progress: bool | None,
) -> dict[str, _Outcome]:
    """The outcome of extracting every pending file, in this process or in worker
    processes; with ``on_error="raise"`` the first unusable file raises :class:`AudioError`."""
    workers = min(resolve_jobs(n_jobs), len(pending))
    if workers > 1 and (where := unguarded_main_call()) is not None:
        warnings.warn(
            ScriptWithoutMainGuardWarning(
                f"extracting {len(pending)} file(s) in this process, not in {workers} "
                f"workers: the call at {where} is at the top level of a script, outside an "
                "'if __name__ == \"__main__\":' guard, and every worker would run that script "
                "again. Put the script's work under that guard to extract in parallel."
            ),
            stacklevel=3,
        )
        workers = 1
    outcomes: dict[str, _Outcome] = {}
    bar = {"desc": f"{job.extractor.name} features", "total": len(pending), "unit": "file"}
    if workers == 1:
        for path in progress_bar(pending, enabled=progress, **bar):
            _record(outcomes, path, job(path, pending[path]), on_error)
        return outcomes
    executor = ProcessPoolExecutor(workers, mp_context=worker_context())
    try:
        futures: dict[Future, str] = {
            executor.submit(job, path, outcome): path for path, outcome in pending.items()
        }
        for future in progress_bar(as_completed(futures), enabled=progress, **bar):
            _record(outcomes, futures[future], future.result(), on_error)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return outcomes


def _warn_about(outcomes: dict[str, _Outcome], errors: dict[str, str], n_files: int) -> None:
    """Warn once about dropped cache entries and once about skipped files, naming them."""
    dropped = [outcome.dropped for outcome in outcomes.values() if outcome.dropped]
    if dropped:
        warnings.warn(
            InvalidCacheEntryWarning(
                f"{len(dropped)} feature cache entr{'y was' if len(dropped) == 1 else 'ies were'}"
                f" invalid: {_named(dropped)}"
            ),
            stacklevel=3,
        )
    if errors:
        warnings.warn(
            SkippedFilesWarning(
                f"skipped {len(errors)} of {n_files} file(s) without usable audio: "
                f"{_named(list(errors.values()))}. The full list is in FeatureResult.errors"
            ),
            stacklevel=3,
        )


def _named(messages: list[str]) -> str:
    more = f"; and {len(messages) - _MAX_NAMED} more" if len(messages) > _MAX_NAMED else ""
    return "; ".join(messages[:_MAX_NAMED]) + more


def _assemble(
    extractor: Extractor,
    config: dict[str, Any],
    names: list[str],
    index: pd.Index,
    files: list[str],
    outcomes: dict[str, _Outcome],
    errors: dict[str, str],
) -> FeatureResult:
    """The result in input order: a DataFrame of functionals or a list of frame arrays."""
    keep = [i for i, path in enumerate(files) if outcomes[path].status != "error"]
    arrays = [np.asarray(outcomes[files[i]].value) for i in keep]
    kept_index = index[keep]
    if extractor.frame_level:
        features: pd.DataFrame | list[np.ndarray] = arrays
    else:
        matrix = np.stack(arrays) if arrays else np.empty((0, len(names)), dtype=np.float32)
        features = pd.DataFrame(matrix, index=kept_index, columns=names)
    statuses = [outcome.status for outcome in outcomes.values()]
    return FeatureResult(
        features=features,
        index=kept_index,
        files=[files[i] for i in keep],
        errors=errors,
        n_extracted=statuses.count("extracted"),
        n_cached=statuses.count("cached"),
        feature_names=names,
        extractor=extractor.name,
        config=config,
    )
