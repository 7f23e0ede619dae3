"""What every corpus loader shares: problem reporting, audio discovery, table assembly.

A loader declares its corpus once as a :class:`Corpus` (name, layout, file-name pattern,
language, elicitation) and holds only what is specific to it: how a file name or a label
entry becomes a row. :meth:`Corpus.start` checks the folder and opens a
:class:`LoaderContext`; :meth:`Corpus.row` builds a row with the standard columns;
:meth:`Corpus.load_files` walks the audio files through a per-file parser; and
:meth:`LoaderContext.finish` (:func:`finish`) adds durations and sample rates, builds the
corpus table with :func:`emoshift.data.table.make_table` and validates it. Loaders that
pair audio with label files use :func:`label_file` and :func:`matched`.

Problems are collected in a :class:`LoadReport` (what ``emoshift corpus info`` prints):
file names that do not follow the corpus's naming scheme, labels outside its scheme,
unreadable audio, audio without labels and labels without audio. In the default mode
each kind of problem becomes one :class:`CorpusWarning` that names the first files and
the expected pattern; with ``strict=True`` the first problem raises
:class:`CorpusFormatError` instead.

Example:
    >>> import warnings
    >>> context = LoaderContext("demo", strict=False)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     context.unrecognised("x.wav", "no speaker id", "SPEAKER_N.wav")
    ...     context.emit_warnings()
    >>> context.report.unrecognised
    ['x.wav: no speaker id; expected SPEAKER_N.wav']
    >>> "x.wav: no speaker id" in str(caught[0].message)
    True
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd
import soundfile as sf

from emoshift.data.table import make_table, validate_table
from emoshift.features.segments import segment_name

AUDIO_SUFFIXES: tuple[str, ...] = (".wav",)
"""File suffixes the corpus loaders treat as audio (case-insensitive)."""

PROBLEM_KINDS: dict[str, str] = {
    "unrecognised": "file name(s) or label(s) outside the corpus's scheme (skipped)",
    "unreadable": "audio file(s) that could not be read (skipped)",
    "unlabelled": "audio file(s) without a label entry (skipped)",
    "missing_audio": "label entries without an audio file (skipped)",
}
"""The kinds of problem a :class:`LoadReport` holds, with how they are described."""


class CorpusFormatError(ValueError):
    """A corpus directory does not follow its documented layout (raised in strict mode)."""


class CorpusWarning(UserWarning):
    """A corpus directory deviates from its documented layout; the rows concerned are
    skipped or kept as described in the message."""


@dataclass
class LoadReport:
    """Problems found while loading one corpus, one message per file or label entry.

    Use a fresh report for each load: a loader adds to it and warns about all it holds.
    """

    corpus: str = ""
    unrecognised: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    missing_audio: list[str] = field(default_factory=list)

    def problems(self) -> dict[str, list[str]]:
        """Messages per problem kind, only the kinds with at least one message."""
        return {kind: getattr(self, kind) for kind in PROBLEM_KINDS if getattr(self, kind)}

    @property
    def ok(self) -> bool:
        """Whether nothing was wrong."""
        return not self.problems()


def _summary(kind: str, messages: list[str], corpus: str, limit: int = 5) -> str:
    shown = "\n  ".join(messages[:limit])
    more = len(messages) - limit
    tail = f"\n  ... and {more} more" if more > 0 else ""
    return f"{corpus}: {len(messages)} {PROBLEM_KINDS[kind]}:\n  {shown}{tail}"


@dataclass
class LoaderContext:
    """Collects the problems of one load and turns them into warnings or errors.

    ``report`` may be shared with the caller (``load_corpus(..., report=...)``) so that
    the problems stay available after the warnings are gone.
    """

    corpus: str
    strict: bool = False
    report: LoadReport = field(default_factory=LoadReport)
    pattern: str = ""
    layout: str = ""
    directory: Path = Path()
    duration: bool = True

    def __post_init__(self) -> None:
        self.report.corpus = self.corpus

    def problem(self, kind: str, message: str) -> None:
        """Record a problem; raise :class:`CorpusFormatError` at once in strict mode."""
        getattr(self.report, kind).append(message)
        if self.strict:
            raise CorpusFormatError(f"{self.corpus}: {message}")

    def unrecognised(self, name: str, reason: str, pattern: str | None = None) -> None:
        """A file name or label that the corpus's scheme does not allow.

        ``pattern`` (default: the corpus's file-name pattern) says what was expected.
        Returns ``None``, so that a row parser can ``return context.unrecognised(...)``.
        """
        self.problem("unrecognised", f"{name}: {reason}; expected {pattern or self.pattern}")

    def finish(self, rows: list[dict]) -> pd.DataFrame:
        """The rows as a validated corpus table (:func:`finish` with this load's settings)."""
        return finish(
            rows, self, layout=self.layout, directory=self.directory, duration=self.duration
        )

    def emit_warnings(self) -> None:
        """One :class:`CorpusWarning` per kind of problem recorded so far."""
        for kind, messages in self.report.problems().items():
            warnings.warn(_summary(kind, messages, self.corpus), CorpusWarning, stacklevel=3)


class LoadOptions(TypedDict, total=False):
    """The options every corpus loader takes (``load(path, **options)``)."""

    strict: bool
    """Raise :class:`CorpusFormatError` at the first problem instead of warning."""
    duration: bool
    """Read each file's header for ``duration`` and ``sample_rate`` (default on)."""
    report: LoadReport | None
    """A :class:`LoadReport` to collect the problems in."""


RowParser = Callable[[Path, LoaderContext], "dict | None"]
"""A loader's per-file step: the row of one audio file, or ``None`` to skip it."""
LabelReader = Callable[[Path, LoaderContext], "dict[str, dict]"]
"""A label-file loader's reading step: key -> label entry, from the label file."""
AudioIndex = Callable[[Path, LoaderContext], "dict[str, Path]"]
"""A label-file loader's audio step: key -> audio file, for the files below the folder."""
LabelledRow = Callable[[Path, dict], dict]
"""A label-file loader's row step: the row of one audio file and its label entry."""


@dataclass(frozen=True)
class Corpus:
    """What a loader declares about its corpus, once.

    Attributes:
        name: the ``corpus`` column, the speaker-id prefix and the name in messages.
        title: how messages name the corpus's scheme (``"EmoDB"``).
        layout: the documented folder layout, shown when the folder is wrong.
        pattern: the file-name pattern, shown with unrecognised names.
        language: the ``language`` column (ISO 639-1), if one language.
        elicitation: the ``elicitation`` column, if the same for every row.

    Example:
        >>> demo = Corpus("demo", "Demo", "wav/<name>.wav", "S<n>_<emotion>.wav", "en")
        >>> row = demo.row(Path("/x/S1_anger.wav"), "S1", emotion="anger")
        >>> row["speaker"], row["language"], row["emotion"]
        ('demo_S1', 'en', 'anger')
        >>> demo.outside("emotion", "Q", ["A", "H"])
        "emotion 'Q' not in Demo's scheme A H"
    """

    name: str
    title: str
    layout: str
    pattern: str = ""
    language: str | None = None
    elicitation: str | None = None

    def start(
        self,
        path: str | os.PathLike,
        *,
        strict: bool = False,
        duration: bool = True,
        report: LoadReport | None = None,
    ) -> LoaderContext:
        """Check the corpus folder (:func:`require_directory`) and open a load's context."""
        return LoaderContext(
            self.name,
            strict,
            report or LoadReport(),
            pattern=self.pattern,
            layout=self.layout,
            directory=require_directory(path, self.name, self.layout),
            duration=duration,
        )

    def row(self, file: str | os.PathLike, speaker: object = None, **columns: object) -> dict:
        """A row with ``file``, ``corpus``, the prefixed ``speaker`` (``None`` if unknown),
        ``language`` and ``elicitation``, then ``columns`` in their order."""
        row: dict = {"file": str(file), "corpus": self.name}
        if speaker is not None:
            row["speaker"] = f"{self.name}_{speaker}"
        if self.language is not None:
            row["language"] = self.language
        if self.elicitation is not None:
            row["elicitation"] = self.elicitation
        return row | columns

    def outside(self, what: str, value: object, scheme: Iterable[object]) -> str:
        """The reason for a ``value`` outside the corpus's ``scheme`` of ``what``."""
        return f"{what} {value!r} not in {self.title}'s scheme {' '.join(map(str, scheme))}"

    def match(self, file: Path, name: re.Pattern, context: LoaderContext) -> re.Match | None:
        """``name`` matched against the file's stem; a mismatch is reported as unrecognised."""
        match = name.match(file.stem)
        if match is None:
            context.unrecognised(file.name, f"name does not follow {self.title}'s scheme")
        return match

    def load_files(
        self, path: str | os.PathLike, parse: RowParser, **options: object
    ) -> pd.DataFrame:
        """Load a corpus whose file names (and folders) carry the labels.

        Every audio file below ``path`` goes through ``parse``; ``options`` are the
        :class:`LoadOptions`.
        """
        context = self.start(path, **options)
        rows = [parse(file, context) for file in audio_files(context.directory)]
        return context.finish([row for row in rows if row is not None])

    def load_labelled(
        self,
        path: str | os.PathLike,
        labels: str | os.PathLike | None,
        read: LabelReader,
        row: LabelledRow,
        *,
        label_files: tuple[str, ...],
        what: str,
        audio: AudioIndex | None = None,
        missing_audio: Callable[[str, Path], str] | None = None,
        **options: object,
    ) -> pd.DataFrame:
        """Load a corpus whose labels sit in one label file, matched to the audio by key.

        The label file is ``labels`` or the first of ``label_files`` below the folder
        (:func:`label_file`, ``what`` names it in the error); ``read`` turns it into
        entries, ``audio`` indexes the audio files (default :func:`audio_by_stem`) and
        ``row`` builds the row of each key found in both (:func:`matched` reports the
        others; ``missing_audio(key, label_file)`` words a label without audio).
        ``options`` are the :class:`LoadOptions`.
        """
        context = self.start(path, **options)
        source = label_file(context.directory, labels, label_files, what, context)
        entries = read(source, context)
        found = (audio or audio_by_stem)(context.directory, context)
        worded = (lambda key: missing_audio(key, source)) if missing_audio else None
        keys = matched(entries, found, context, source.name, missing_audio=worded)
        return context.finish([row(found[key], entries[key]) for key in keys])


def label_file(
    directory: Path,
    given: str | os.PathLike | None,
    names: tuple[str, ...],
    what: str,
    context: LoaderContext,
    max_depth: int = 3,
) -> Path:
    """The label file: ``given``, or the first of ``names`` found below ``directory``.

    ``FileNotFoundError`` naming what was looked for and where if there is none.
    """
    path = Path(given) if given else find_file(directory, names, max_depth=max_depth)
    if path is None or not path.is_file():
        where = f"at {path}" if given else f"under {directory}"
        raise FileNotFoundError(f"{context.corpus}: no {what} ({' or '.join(names)}) {where}")
    return path


def matched(
    labels: Mapping[str, object],
    audio: Mapping[str, Path],
    context: LoaderContext,
    source: str,
    *,
    missing_audio: Callable[[str], str] | None = None,
    unlabelled: Callable[[Path], str] | None = None,
) -> Iterator[str]:
    """The keys, sorted, that have both a label entry (from ``source``) and an audio file.

    The others are reported, by default as ``"<key>: in <source>, no audio"`` and
    ``"<file>: no line in <source>"``; ``missing_audio(key)`` and ``unlabelled(file)``
    give other messages.
    """
    for key in sorted(set(labels) | set(audio)):
        if key not in audio:
            message = missing_audio(key) if missing_audio else f"{key}: in {source}, no audio"
            context.problem("missing_audio", message)
        elif key not in labels:
            file = audio[key]
            message = unlabelled(file) if unlabelled else f"{file}: no line in {source}"
            context.problem("unlabelled", message)
        else:
            yield key


def require_directory(path: str | os.PathLike, corpus: str, layout: str) -> Path:
    """The corpus directory as an absolute path; ``FileNotFoundError`` naming it if absent."""
    directory = Path(path).expanduser()
    if not directory.exists():
        raise FileNotFoundError(
            f"{corpus}: corpus directory {directory} does not exist (expected layout: {layout})"
        )
    if not directory.is_dir():
        raise NotADirectoryError(
            f"{corpus}: {directory} is not a directory; point to the corpus folder "
            f"(expected layout: {layout})"
        )
    return directory.resolve()


def audio_files(directory: Path) -> list[Path]:
    """Audio files below ``directory``, sorted; macOS ``._`` resource forks are skipped."""
    found = []
    for root, _dirs, files in os.walk(directory):
        for name in files:
            if name.startswith("._") or Path(name).suffix.lower() not in AUDIO_SUFFIXES:
                continue
            found.append(Path(root) / name)
    return sorted(found)


def audio_by_stem(directory: Path, context: LoaderContext | None = None) -> dict[str, Path]:
    """The audio files below ``directory`` (:func:`audio_files`) by file stem."""
    return {file.stem: file for file in audio_files(directory)}


def example_corpus(files: Mapping[str, int], folder: str | os.PathLike | None = None) -> Path:
    """``folder`` (default: a new temporary folder) holding a silent 10 ms WAV at each
    relative path of ``files`` (value: the sample rate): a corpus layout to try a loader on.

    >>> root = example_corpus({"wav/03a01Wa.wav": 16000})
    >>> [(p.parent.name, p.name, sf.info(str(p)).samplerate) for p in audio_files(root)]
    [('wav', '03a01Wa.wav', 16000)]
    """
    root = Path(folder) if folder is not None else Path(tempfile.mkdtemp())
    for name, sample_rate in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / name, np.zeros(sample_rate // 100), sample_rate)
    return root


def find_file(directory: Path, names: Iterable[str], max_depth: int = 3) -> Path | None:
    """The first file called one of ``names`` at most ``max_depth`` folders below."""
    wanted = list(names)
    base_depth = len(directory.parts)
    matches = []
    for root, dirs, files in os.walk(directory):
        depth = len(Path(root).parts) - base_depth
        if depth >= max_depth:
            dirs[:] = []
        for name in wanted:
            if name in files:
                matches.append((depth, wanted.index(name), Path(root) / name))
    return min(matches)[2] if matches else None


def normalise(value: float, low: float, high: float) -> float:
    """Map ``value`` on the scale ``[low, high]`` linearly onto ``[-1, 1]``.

    >>> normalise(3.0, 1.0, 5.0), normalise(7.0, 1.0, 7.0)
    (0.0, 1.0)
    """
    return 2.0 * (float(value) - low) / (high - low) - 1.0


def add_dimensions(row: dict, scores: Mapping[str, float], low: float, high: float) -> None:
    """Store native-scale scores as ``*_raw`` and their ``[-1, 1]`` copies in ``row``.

    On a native scale of [-1, 1] the copy is the score itself (no rounding).
    """
    for dimension, value in scores.items():
        if value is None or pd.isna(value):
            continue
        row[f"{dimension}_raw"] = float(value)
        same = (low, high) == (-1.0, 1.0)
        row[dimension] = float(value) if same else normalise(value, low, high)


def _header(file: str, context: LoaderContext) -> tuple[float, int] | None:
    """A usable file's duration (seconds) and sample rate from its header, else ``None``
    with the problem reported."""
    if not Path(file).is_file():  # a FIFO or device: reading it never ends
        context.problem("unreadable", f"{file}: not a regular file")
        return None
    try:
        info = sf.info(file)
    except (RuntimeError, OSError) as error:
        context.problem("unreadable", f"{file}: {error}")
        return None
    if info.frames == 0:
        context.problem("unreadable", f"{file}: no audio samples")
        return None
    return float(info.duration), int(info.samplerate)


def _add_duration(
    row: dict, infos: dict[str, tuple[float, int] | None], context: LoaderContext
) -> bool:
    """Give ``row`` its ``duration`` and ``sample_rate``; ``False`` if it has no usable
    audio. ``infos`` keeps each file's header (or ``None``), read once per file."""
    file = str(row["file"])
    if file not in infos:
        infos[file] = _header(file, context)
    header = infos[file]
    if header is None:
        return False
    length, sample_rate = header
    if "end" in row:
        if row["end"] > length:
            name = segment_name(file, row["start"], row["end"])
            context.problem("unreadable", f"{name}: the segment ends after the file ({length:g} s)")
            return False
        length = row["end"] - row["start"]
    row["duration"], row["sample_rate"] = length, sample_rate
    return True


def finish(
    rows: list[dict],
    context: LoaderContext,
    *,
    layout: str,
    directory: Path,
    duration: bool = True,
) -> pd.DataFrame:
    """Turn loader rows into a validated corpus table sorted by file.

    With ``duration`` each file's header is read (``soundfile.info``) for ``duration``
    (seconds) and ``sample_rate``; files that are not regular files, cannot be read or
    hold no samples are reported as unreadable and left out. A segment row (``start``
    and ``end``, :mod:`emoshift.features.segments`) gets its span's duration, and one
    that ends after its file is reported as unreadable and left out. Rows are sorted by
    file, then start. Warnings for the recorded problems are emitted here.
    """
    if not rows:
        context.emit_warnings()
        raise CorpusFormatError(
            f"{context.corpus}: no utterances found under {directory}; expected layout: {layout}"
        )
    if duration:
        infos: dict[str, tuple[float, int] | None] = {}
        rows = [row for row in rows if _add_duration(row, infos, context)]
    if not rows:
        context.emit_warnings()
        raise CorpusFormatError(
            f"{context.corpus}: none of the audio files under {directory} could be read"
        )
    table = make_table(rows)
    if "sample_rate" in table:
        table["sample_rate"] = table["sample_rate"].astype("Int64")
    order = ["file", "start"] if "start" in table else ["file"]
    table = table.sort_values(order, kind="stable").reset_index(drop=True)
    context.emit_warnings()
    return validate_table(table, check_files=False)
