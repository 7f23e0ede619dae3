"""A second per-frame stream read from per-utterance ``.npy`` files a table column names.

The audio-visual model of the max-entropy paper (Li et al., Interspeech 2021; see
docs/papers.md, section 2) reads a second frame-level stream, e.g. face embeddings per
video frame, through a GRU of its own (:class:`emoshift.methods.sequence.CNNGRUEncoder`).
A config names it with ``features.second_stream: {column: face_npy}``; the column holds
one ``.npy`` path per utterance (a ``(T', D)`` float array, ``D`` the same for every
file). A corpus loader that has no such column gets it from a CSV joined by audio file
(``corpora.<name>.extra_columns``, :func:`join_extra_columns`).

Files are read with ``allow_pickle=False``: nothing read here can run code. A missing,
pickled, non-numeric, empty, non-2-D, wrongly wide or non-finite file is a ``ValueError``
that names the file and the audio file it belongs to.

Example:
    >>> import tempfile, numpy as np, pandas as pd
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> np.save(folder / "a.npy", np.ones((3, 4), dtype=np.float32))
    >>> np.save(folder / "b.npy", np.zeros((5, 4), dtype=np.float32))
    >>> table = pd.DataFrame({"file": ["a.wav", "b.wav"], "face": ["a.npy", "b.npy"]})
    >>> frames = read_stream(table, "face", folder)
    >>> [f.shape for f in frames]
    [(3, 4), (5, 4)]
    >>> np.save(folder / "c.npy", np.zeros((5, 2)))
    >>> try:
    ...     read_stream(table.assign(face=["a.npy", "c.npy"]), "face", folder)
    ... except ValueError as error:
    ...     print(str(error).split(": ", 1)[1][:47])
    has 2 features per frame, expected 4 (the width
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from emoshift.data.loaders.csv_table import table_separator
from emoshift.experiment.features import NORMALISATIONS, _normalise_frames
from emoshift.experiment.method_grid import expand_method_grid
from emoshift.experiment.schema import ConfigError, _check_choice
from emoshift.features.segments import row_names, split_name
from emoshift.methods import method_class


def check_second_stream(config: object) -> None:
    """``features.second_stream`` of an :class:`~emoshift.experiment.config.ExperimentConfig`:
    a known normalisation, every method on the CNN-GRU, no selection block (selectors
    read one-stream inputs). Raises :class:`ConfigError`."""
    stream = config.features.second_stream
    if stream is None:
        return
    where = "config.features.second_stream"
    _check_choice(stream.normalisation, NORMALISATIONS, f"{where}.normalisation")
    if not stream.column:
        raise ConfigError(f"{where}.column: name the corpus-table column of .npy paths")
    _check_frame_level(config.features, where)
    if config.selection:
        raise ConfigError(
            f"{where}: hyper-parameter selection (config.selection) reads one-stream "
            "inputs; drop the selection block or the second stream"
        )
    for method, params in config.methods.items():
        defaults = method_class(method)().get_params()
        for point in expand_method_grid(method, params or {}, f"config.methods.{method}"):
            encoder = point.get("encoder", defaults.get("encoder"))
            if encoder != "cnn_gru":
                raise ConfigError(
                    f"config.methods.{method}: a second stream is read by the CNN-GRU "
                    f"only; set encoder: cnn_gru (got {encoder!r}) or drop {where}"
                )


def _check_frame_level(features: object, where: str) -> None:
    """Refuse, before any extraction, a built-in feature set with one row per utterance
    (a custom extractor is checked once its features exist)."""
    from emoshift.features.functionals import ALIASES

    pooled = features.set == "ssl" and features.pooling != "none"
    if pooled or features.set.lower() in ALIASES:
        raise ConfigError(
            f"{where}: goes with frame-level features (set: logmel, or set: ssl with "
            f"pooling: none), not set: {features.set}"
            + (f" with pooling: {features.pooling}" if pooled else "")
        )


def join_extra_columns(
    table: pd.DataFrame, path: str | os.PathLike, corpus_dir: str | os.PathLike, name: str
) -> pd.DataFrame:
    """``table`` with the columns of the CSV/TSV ``path`` joined by audio file.

    The file's ``file`` column holds audio paths, absolute or relative to
    ``corpus_dir``. A table row without a row there gets empty cells, with a warning
    that counts them (a second stream then refuses such a row, unless
    ``corpora.<name>.query`` leaves it out, e.g. ``"face_npy != ''"``). Columns the
    table already has are refused, as are duplicate files. Cells are read as text (a
    column used in a numeric query must be compared as a string). ``name`` (the
    corpus) is used in error messages.
    """
    path = Path(path)
    where = f"corpora.{name}.extra_columns"
    if not path.is_file():
        raise FileNotFoundError(f"{where}: {path} does not exist")
    try:
        extra = pd.read_csv(path, sep=table_separator(path), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"{where}: {path} is not a readable CSV/TSV table ({error})") from None
    if "file" not in extra:
        raise ValueError(f"{where}: {path} has no 'file' column (columns: {list(extra.columns)})")
    clash = sorted(set(extra.columns) - {"file"} & set(table.columns))
    if clash:
        raise ValueError(f"{where}: {path} repeats corpus-table column(s) {clash}")
    # both sides resolved: loaders store resolved paths, a config may reach the corpus
    # through a symbolic link
    extra["file"] = [os.path.realpath(_absolute(f, corpus_dir)) for f in extra["file"]]
    duplicated = extra["file"][extra["file"].duplicated()].tolist()
    if duplicated:
        raise ValueError(f"{where}: {path} lists {duplicated[:3]} more than once")
    files = table["file"].map(lambda f: os.path.realpath(str(f)))
    missing = files[~files.isin(extra["file"])].tolist()
    if missing:
        warnings.warn(
            f"{where}: {path} has no row for {len(missing)} of the corpus's {len(table)} "
            f"audio files (first: {missing[:3]}); their extra columns are empty",
            stacklevel=2,
        )
    joined = extra.set_index("file").reindex(files.to_numpy(), fill_value="")
    out = table.copy()
    for column in joined.columns:
        out[column] = joined[column].to_numpy()
    return out


def _absolute(file: str, folder: str | os.PathLike) -> str:
    path = Path(os.path.expanduser(file))
    return os.path.normpath(path if path.is_absolute() else Path(folder) / path)


def read_stream(
    table: pd.DataFrame,
    column: str,
    root: str | os.PathLike,
    *,
    domains: np.ndarray | None = None,
    normalisation: str = "none",
) -> np.ndarray:
    """The ``(T', D)`` float32 frames each row's ``column`` names, as a 1-D object array.

    Relative paths start at ``root``. With ``normalisation`` other than ``none``, the
    frames are normalised over all frames of each of ``domains`` (one per row).
    """
    if column not in table:
        raise ValueError(
            f"features.second_stream.column {column!r} is not a corpus-table column "
            f"(columns: {list(table.columns)}); add it with corpora.<name>.extra_columns"
        )
    _refuse_shared_segment_files(table, column)
    sequences: list[np.ndarray] = []
    for audio, name in zip(table["file"].astype(str), table[column]):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(
                f"second stream: no {column!r} file for audio {audio}; name one, or leave "
                f"such rows out with corpora.<name>.query: \"{column} != ''\""
            )
        path = Path(_absolute(name.strip(), root))
        width = sequences[0].shape[1] if sequences else None
        sequences.append(_read_frames(path, audio, width))
    if normalisation != "none":
        if domains is None:
            raise ValueError("second stream: normalisation needs each row's domain")
        return _normalise_frames(sequences, np.asarray(domains), normalisation)
    out = np.empty(len(sequences), dtype=object)
    out[:] = sequences
    return out


def _refuse_shared_segment_files(table: pd.DataFrame, column: str) -> None:
    """Refuse segment rows (``<file>#t=start,end``) that name one stream file: a file
    joined by audio file (``extra_columns``) covers the whole recording, so each of its
    utterances would read every frame of the others."""
    names = row_names(table)
    segments = [split_name(name)[1] is not None for name in names]
    paths = table[column].astype(str).str.strip()
    seen: dict[str, str] = {}
    for name, path, is_segment in zip(names, paths, segments):
        if not is_segment or not path:
            continue
        if path in seen:
            raise ValueError(
                f"features.second_stream.column {column!r}: segment rows {seen[path]} and "
                f"{name} name the same file {path}; a stream file holds the frames of one "
                "utterance, so give each segment its own file (a per-segment path in the "
                "column, not one joined by audio file through corpora.<name>.extra_columns) "
                "or drop features.second_stream"
            )
        seen[path] = name


def _read_frames(path: Path, audio: str, width: int | None) -> np.ndarray:
    """One file's frames, checked; ``ValueError`` naming the file and its audio."""
    where = f"second stream file {path} (audio {audio})"
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{where}: does not exist") from None
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{where}: not a plain .npy array ({error})") from None
    if isinstance(array, np.lib.npyio.NpzFile):
        array.close()
        raise ValueError(f"{where}: an .npz archive; save one array per file with np.save")
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
        raise ValueError(f"{where}: holds {getattr(array, 'dtype', type(array))}, not numbers")
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{where}: shape {array.shape}, expected (frames >= 1, features >= 1)")
    if width is not None and array.shape[1] != width:
        raise ValueError(
            f"{where}: has {array.shape[1]} features per frame, expected {width} "
            "(the width of the first file)"
        )
    with np.errstate(over="ignore"):  # an overflow is reported below, naming the file
        frames = array.astype(np.float32)
    if not np.isfinite(frames).all():  # after the cast: 1e39 becomes inf in float32
        raise ValueError(f"{where}: has NaN or infinite values (as float32)")
    return frames
