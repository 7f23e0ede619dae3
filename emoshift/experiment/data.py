"""The data of an experiment: corpora loaded, labelled in the shared space, featurised.

Example:
    >>> import tempfile
    >>> from emoshift.demo import demo_config
    >>> config = demo_config(tempfile.mkdtemp(), preset="tiny", n_jobs=1)
    >>> data = load_experiment_data(config, progress=False)
    >>> data.X.shape[0] == len(data.table) == len(data.y)
    True
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from emoshift.data.labels import apply_label_space
from emoshift.data.loaders import format_name, load_corpus
from emoshift.data.query import columns_of, parse_query, query_mask
from emoshift.data.synthetic import generate_corpus, generate_preset
from emoshift.data.table import select_domain
from emoshift.experiment.config import ExperimentConfig, PairConfig
from emoshift.experiment.features import extractor_options, table_features
from emoshift.experiment.streams import join_extra_columns, read_stream
from emoshift.features.segments import row_names
from emoshift.methods.sequence import Sequences


@dataclass
class ExperimentData:
    """Rows (corpus table with a ``label`` column), features and targets, aligned.

    ``X2``: a second per-frame stream (an object array of ``(T', D)`` arrays, one per
    row; ``features.second_stream``) or ``None``; :meth:`inputs` pairs it with ``X``.
    """

    table: pd.DataFrame
    X: np.ndarray
    y: np.ndarray
    X2: np.ndarray | None = None

    def inputs(self, rows: np.ndarray) -> np.ndarray | Sequences:
        """The method inputs of ``rows``: ``X[rows]``, or with a second stream the
        two-stream :class:`~emoshift.methods.sequence.Sequences` of both."""
        if self.X2 is None:
            return self.X[rows]
        return Sequences(list(self.X[rows]), list(self.X2[rows]))

    def rows(self, query: str) -> np.ndarray:
        """Positions of the rows a domain query selects."""
        selected = select_domain(self.table.reset_index(drop=True), query)
        return selected.index.to_numpy()

    def fingerprint(self) -> str:
        """sha256 over the features, targets and files (and segments): what a trial's
        numbers depend on.

        Part of every trial key, so a changed corpus or feature extraction never reuses
        results computed on other data.
        """
        digest = hashlib.sha256()
        digest.update("\n".join(row_names(self.table)).encode())
        digest.update(np.asarray(self.y).astype(str).tobytes())
        for values in self.X if self.X.dtype == object else [self.X]:
            digest.update(np.ascontiguousarray(values, dtype=np.float32).tobytes())
        if self.X2 is not None:  # only then, so one-stream fingerprints stay as they were
            digest.update(b"second stream")
            for values in self.X2:  # shapes too: the same bytes can hold other frames
                digest.update(np.asarray(values.shape, dtype=np.int64).tobytes())
                digest.update(np.ascontiguousarray(values, dtype=np.float32).tobytes())
        return digest.hexdigest()

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the data to ``folder`` for worker processes, without pickles.

        ``table.parquet``; each of ``X``, ``y`` (and ``X2``) as ``<name>.npy``, or, when
        it holds sequences (an object array of ``(T_i, F)`` arrays), as
        ``<name>.values.npy`` (the frames, concatenated) and ``<name>.offsets.npy``
        (where each sequence starts).
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.table.to_parquet(folder / "table.parquet", index=False)
        _save_array(folder, "X", self.X)
        _save_array(folder, "y", self.y)
        _save_array(folder, "X2", self.X2)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> ExperimentData:
        """Read data written by :meth:`save` (``allow_pickle=False``: a pickle is refused)."""
        folder = Path(folder)
        return cls(
            table=pd.read_parquet(folder / "table.parquet"),
            X=_load_array(folder, "X"),
            y=_load_array(folder, "y"),
            X2=_load_array(folder, "X2") if (folder / "X2.offsets.npy").is_file() else None,
        )


_SEQUENCE_FILES = (".values.npy", ".offsets.npy")


def _save_array(folder: Path, name: str, array: np.ndarray | None) -> None:
    """``array`` as plain ``.npy`` files: one, or values and offsets for sequences
    (``None``: none)."""
    for suffix in (".npy", *_SEQUENCE_FILES):  # no stale file of another layout stays
        (folder / f"{name}{suffix}").unlink(missing_ok=True)
    if array is None:
        return
    if array.dtype != object:
        np.save(folder / f"{name}.npy", array, allow_pickle=False)
        return
    sequences = [np.asarray(item) for item in array]
    layouts = {(item.dtype.str, item.shape[1:]) for item in sequences}
    if len(layouts) > 1 or any(item.dtype == object or item.ndim == 0 for item in sequences):
        raise ValueError(
            f"{name} holds {len(sequences)} items of layouts {sorted(layouts)}; only sequences "
            "of one dtype and frame shape can be saved for worker processes"
        )
    offsets = np.cumsum([0, *(len(item) for item in sequences)], dtype=np.int64)
    np.save(folder / f"{name}.values.npy", np.concatenate(sequences), allow_pickle=False)
    np.save(folder / f"{name}.offsets.npy", offsets, allow_pickle=False)


def _load_array(folder: Path, name: str) -> np.ndarray:
    """What :func:`_save_array` wrote; a pickled (object) ``.npy`` raises ``ValueError``."""
    try:
        if not (folder / f"{name}.offsets.npy").is_file():
            return np.load(folder / f"{name}.npy", allow_pickle=False)
        values = np.load(folder / f"{name}.values.npy", allow_pickle=False)
        offsets = np.load(folder / f"{name}.offsets.npy", allow_pickle=False)
    except ValueError as error:
        raise ValueError(
            f"{folder}/{name}: {error}; run data must be plain arrays (delete {folder} and "
            "run again to rewrite it)"
        ) from None
    out = np.empty(len(offsets) - 1, dtype=object)
    for i in range(len(out)):
        out[i] = values[offsets[i] : offsets[i + 1]]
    return out


def _resolve(path: str, base_dir: str) -> Path:
    resolved = Path(os.path.expandvars(os.path.expanduser(path)))
    return resolved if resolved.is_absolute() else Path(base_dir) / resolved


#: loaders whose ``corpus`` option names the rows (else a file's stem): in a config, a
#: corpus of these is named by its key unless its options or its file say otherwise
NAMED_BY_OPTION = ("csv",)


def load_corpora(config: ExperimentConfig, progress: bool | None = None) -> pd.DataFrame:
    """Every corpus of the config, loaded (or generated, for ``synthetic``) and concatenated."""
    tables = []
    for name, corpus in config.corpora.items():
        path = _resolve(corpus.path, config.base_dir)
        options = dict(corpus.options)
        if corpus.loader == "synthetic":
            preset = options.pop("preset", None)
            seed = options.pop("seed", 0)
            table = (
                generate_preset(path, preset, seed=seed, progress=progress)
                if preset is not None
                else generate_corpus(path, seed=seed, progress=progress, **options)
            )
        else:
            if not path.exists():
                raise FileNotFoundError(
                    f"corpus {name!r}: {path} does not exist; set corpora.{name}.path to "
                    f"your copy of the corpus (relative paths start at {config.base_dir})"
                )
            if format_name(corpus.loader) in NAMED_BY_OPTION:
                options.setdefault("corpus", name)  # the CSV's own column still wins
            table = load_corpus(path, corpus.loader, **options)
        if corpus.extra_columns:
            extra = _resolve(corpus.extra_columns, config.base_dir)
            table = join_extra_columns(table, extra, path, name)
        if corpus.query:
            table = select_domain(table, corpus.query, f"corpora.{name}.query")
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def _regression_rows(table: pd.DataFrame, config: ExperimentConfig) -> np.ndarray:
    """Rows with every dimension scored, plus the unlabelled pool the protocol names
    (``protocol.target_unlabelled``) with none scored: unlabelled target data."""
    scores = table[list(config.labels.dimensions)]
    keep = scores.notna().all(axis=1).to_numpy().copy()
    pool = config.protocol.target_unlabelled
    if pool is not None:
        selected = np.zeros(len(table), dtype=bool)
        selected[select_domain(table.reset_index(drop=True), pool).index.to_numpy()] = True
        keep |= selected & scores.isna().all(axis=1).to_numpy()
    return keep


def _label_source(config: ExperimentConfig) -> list[str]:
    """The columns a row's label is read from: a row with all of them empty has none."""
    labels = config.labels
    if config.task == "regression":
        return list(labels.dimensions)
    if labels.space in ("binarised_arousal", "binarised_valence"):
        return [labels.space.removeprefix("binarised_")]
    return [labels.column if not labels.space else "emotion"]


def _unlabelled(table: pd.DataFrame, config: ExperimentConfig, query: str) -> np.ndarray:
    """Which rows ``query`` selects and that have no label at all (empty or blank cells in
    every label column): unlabelled target data."""
    empty = np.ones(len(table), dtype=bool)
    for column in _label_source(config):
        values = table[column] if column in table else pd.Series(pd.NA, index=table.index)
        blank = values.astype("string").str.strip().fillna("") == ""
        empty &= blank.to_numpy()
    selected = query_mask(table, query, f"the target query {query!r}")
    return empty & np.asarray(selected, dtype=bool)


def _check_pair_columns(table: pd.DataFrame, config: ExperimentConfig, pair: PairConfig) -> None:
    """Refuse a pair query that reads ``label`` where the pair's rows are chosen before
    labelling (a model to ship keeps its unlabelled target rows): the error says which
    columns such a query may use."""
    for side, query in (("source", pair.source), ("target", pair.target)):
        if "label" in columns_of(parse_query(query)) and "label" not in table:
            raise ValueError(
                f"pair {pair.label()!r}: the {side} query {query!r} reads 'label', which "
                "labelling adds after emoshift train has chosen the pair's rows (unlabelled "
                "target rows included); a pair query here may use the corpus table's "
                f"columns {list(table.columns)}: select on "
                f"{' / '.join(_label_source(config))} instead (emoshift run, which labels "
                "first, may read 'label')"
            )


def _deployment_rows(table: pd.DataFrame, pair: PairConfig, domain: str) -> pd.DataFrame:
    """The rows of the normalisation domains (``domain`` values) that ``pair``'s source
    or target query selects: what a model shipped for the pair is trained and normalised
    on (each domain whole, so its statistics are those ``run`` computes)."""
    used = pd.concat(
        [
            select_domain(table, query, f"the pair's {side}")
            for side, query in (("source", pair.source), ("target", pair.target))
        ]
    )
    keep = table[domain].isin(used[domain].unique())
    return table[keep.to_numpy()]


def _labelled(
    table: pd.DataFrame, config: ExperimentConfig, unlabelled: np.ndarray | None
) -> pd.DataFrame:
    """``table``'s rows with a label in the config's label space (a ``label`` column for
    classification), plus the ``unlabelled`` rows kept without one (label missing)."""
    kept = table[unlabelled] if unlabelled is not None else table.iloc[:0]
    if unlabelled is not None:
        table = table[~unlabelled]
    labels = config.labels
    if config.task == "classification":
        if labels.space:
            table, report = apply_label_space(table, labels.space, **labels.options)
            if report.dropped:
                print(str(report))
        else:
            if labels.column not in table:
                raise ValueError(f"labels.column {labels.column!r} is not in the corpus table")
            table = table[table[labels.column].notna()].copy()
            table["label"] = table[labels.column].astype(str)
    else:
        missing = [d for d in labels.dimensions if d not in table]
        if missing:
            raise ValueError(f"labels.dimensions {missing} are not columns of the corpus table")
        table = table[_regression_rows(table, config)]
    if len(kept) == 0:
        return table
    if config.task == "classification":
        kept = kept.assign(label=None)
    return pd.concat([table, kept], ignore_index=True)


def load_labelled_table(
    config: ExperimentConfig, progress: bool | None = None, *, pair: PairConfig | None = None
) -> pd.DataFrame:
    """The corpora loaded, with the config's label space applied (a ``label`` column) or,
    for regression, the rows its dimensions score: everything before features.

    With ``pair`` (a model trained to ship for that pair, :mod:`emoshift.bundle.training`),
    only the rows of the normalisation domains the pair's queries select are kept, and the
    pair's target rows without any label are kept as unlabelled target data (their label
    is missing, or NaN for regression).
    """
    table = load_corpora(config, progress)
    unlabelled = None
    if pair is not None:
        _check_pair_columns(table, config, pair)
        table = _deployment_rows(table, pair, config.features.domain).reset_index(drop=True)
        unlabelled = _unlabelled(table, config, pair.target)
    return _labelled(table, config, unlabelled).reset_index(drop=True)


def table_data(config: ExperimentConfig, table: pd.DataFrame) -> ExperimentData:
    """``table``'s rows and targets with no features (``X`` has no columns): enough to
    check queries, labels and protocols before anything is extracted."""
    return ExperimentData(table=table, X=np.empty((len(table), 0)), y=_targets(config, table))


def load_experiment_data(
    config: ExperimentConfig,
    progress: bool | None = None,
    table: pd.DataFrame | None = None,
    *,
    pair: PairConfig | None = None,
) -> ExperimentData:
    """Load the corpora, apply the label space (or pick the dimensions), extract features.

    ``table``: the :func:`load_labelled_table` of ``config``, when already loaded;
    ``pair``: as in :func:`load_labelled_table` (only without ``table``).
    """
    if table is None:
        table = load_labelled_table(config, progress, pair=pair)
    features = config.features
    table, X = table_features(
        table,
        features.set,
        domain_column=features.domain,
        normalisation=features.normalisation,
        level=features.level,
        cache_dir=feature_cache_dir(config),
        n_jobs=features.jobs,
        on_error=features.on_error,
        progress=progress,
        options=extractor_options(features, config.base_dir),
    )
    table = table.reset_index(drop=True)
    X2 = _second_stream(config, table, X)
    return ExperimentData(table=table, X=X, y=_targets(config, table), X2=X2)


def feature_cache_dir(config: ExperimentConfig) -> Path | None:
    """The config's ``features.cache_dir`` resolved (``None``: the default cache)."""
    cache_dir = config.features.cache_dir
    return _resolve(cache_dir, config.base_dir) if cache_dir else None


def _targets(config: ExperimentConfig, table: pd.DataFrame) -> np.ndarray:
    """The class of each row, or its scores on the config's dimensions (and scale)."""
    if config.task == "classification":
        y = table["label"].to_numpy(dtype=object)
        has_label = pd.notna(y)
        return y.astype(str) if has_label.all() else np.where(has_label, y.astype(str), None)
    y = table[list(config.labels.dimensions)].to_numpy(dtype=np.float32)
    if config.labels.scale is not None:  # normalised [-1, 1] onto the paper's scale
        low, high = config.labels.scale
        y = (low + (y + 1) * (high - low) / 2).astype(np.float32)
    return y


def _second_stream(
    config: ExperimentConfig, table: pd.DataFrame, X: np.ndarray
) -> np.ndarray | None:
    """The ``features.second_stream`` frames of the rows that have audio features."""
    stream = config.features.second_stream
    if stream is None:
        return None
    if X.dtype != object:
        raise ValueError(
            f"features.second_stream goes with frame-level features (set: logmel, or ssl "
            f"with pooling: none), not features.set: {config.features.set}, whose features "
            "are one row per utterance"
        )
    return read_stream(
        table,
        stream.column,
        _resolve(stream.root or ".", config.base_dir),
        domains=table[config.features.domain].to_numpy(dtype=object),
        normalisation=stream.normalisation,
    )
