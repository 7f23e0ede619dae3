"""From a protocol and a trial's coordinates to the :class:`DomainSplit` it trains on.

The split of a trial depends only on the data, the pair, the protocol, its condition
(``k``, ``size`` or ``fold``), the trial index and the experiment seed: every method of a
trial sees the same split, so comparisons between methods are paired. The protocols
themselves are in :mod:`emoshift.protocols.catalog`; this module maps their cuts of the
target rows onto the experiment's data, and checks a config against the loaded data
before any training (what ``emoshift run --dry-run`` reports).

Example:
    >>> import numpy as np, pandas as pd
    >>> from emoshift.experiment.data import ExperimentData
    >>> table = pd.DataFrame({"domain": ["s"] * 8 + ["t"] * 8,
    ...                       "speaker": list("aabbccdd") + list("eeffgghh"),
    ...                       "label": ["x", "y"] * 8})
    >>> data = ExperimentData(table, np.arange(32.0).reshape(16, 2), table.label.to_numpy())
    >>> split = make_split(data, "domain == 's'", "domain == 't'", "cross_domain",
    ...                    trial=0, seed=0)
    >>> len(split.X_source), len(split.X_target) + len(split.X_test)
    (8, 8)
"""

from __future__ import annotations

import numpy as np

from emoshift.experiment.config import ConfigError, ExperimentConfig
from emoshift.experiment.data import ExperimentData
from emoshift.experiment.trial import DomainSplit
from emoshift.features.segments import row_names
from emoshift.protocols import Condition, Draw, ProtocolSettings, Target, get_protocol


def target_speakers(data: ExperimentData, target_query: str) -> list[str]:
    """The target speakers, sorted: the folds of ``loso`` and ``reduced``."""
    return sorted(set(_target(data, data.rows(target_query)).speaker_names().tolist()))


#: protocol settings that are queries over the target rows (see ``Target.selected``)
QUERY_SETTINGS = ("target_test", "target_unlabelled", "target_train")


def _target(
    data: ExperimentData, rows: np.ndarray, settings: ProtocolSettings | None = None
) -> Target:
    """The target rows as a protocol sees them, with the rows each query setting selects."""
    selected = {}
    for name in QUERY_SETTINGS:
        query = getattr(settings, name, None)
        if query is not None:
            selected[name] = np.isin(rows, data.rows(query))
    return Target(
        speakers=data.table["speaker"].to_numpy(dtype=object)[rows],
        y=data.y[rows],
        selected=selected,
    )


def _labelled_rows(data: ExperimentData, rows: np.ndarray) -> np.ndarray:
    """``rows`` without those kept unlabelled (regression targets all NaN)."""
    if data.y.dtype.kind in "OUS":
        return rows
    return rows[np.isfinite(data.y[rows].astype(float)).reshape(len(rows), -1).all(1)]


def _domain_rows(data: ExperimentData, source_query: str, target_query: str) -> tuple:
    source = data.rows(source_query)
    target = data.rows(target_query)
    overlap = np.intersect1d(source, target)
    if len(overlap):
        raise ValueError(
            f"source query {source_query!r} and target query {target_query!r} share "
            f"{len(overlap)} rows; a domain pair must not overlap"
        )
    return source, target


def make_split(
    data: ExperimentData,
    source_query: str,
    target_query: str,
    protocol: str,
    *,
    trial: int,
    seed: int,
    n_trials: int = 1,
    target_test_fraction: float = 0.5,
    k: int | None = None,
    size: int | float | None = None,
    fold: str | None = None,
    speaker_independent: bool = True,
    exclusive: bool = True,
    domain_column: str | None = None,
    **options: object,
) -> DomainSplit:
    """The split that trial ``trial`` of ``protocol`` trains and tests on.

    ``domain_column`` (the features' normalisation domain) gives each source row its
    domain, for multi-source methods. ``options`` are further :class:`ProtocolSettings`
    fields (e.g. ``exclusive_runs``). Source rows kept without labels (regression rows of
    an unlabelled pool) never train.
    """
    source, target = _domain_rows(data, source_query, target_query)
    source = _labelled_rows(data, source)
    settings = ProtocolSettings(
        name=protocol,
        target_test_fraction=target_test_fraction,
        speaker_independent=speaker_independent,
        exclusive=exclusive,
        **options,
    )
    draw = Draw(settings, Condition(k=k, size=size, fold=fold), trial, seed, n_trials)
    cut = get_protocol(protocol).split(_target(data, target, settings), draw)
    train, test = target[cut.train], target[cut.test]
    return DomainSplit(
        X_source=data.inputs(source),
        y_source=data.y[source],
        X_target=data.inputs(train),
        y_target=data.y[train],
        X_test=data.inputs(test),
        y_test=data.y[test],
        labelled=cut.labelled,
        X_dev=None if cut.dev is None else data.inputs(target[cut.dev]),
        y_dev=None if cut.dev is None else data.y[target[cut.dev]],
        target_speakers=data.table["speaker"].to_numpy(dtype=object)[train],
        test_files=np.asarray(row_names(data.table), dtype=object)[test]
        if "file" in data.table
        else None,
        X_labelled_train=(
            None if cut.labelled_train is None else data.inputs(target[cut.labelled_train])
        ),
        y_labelled_train=None if cut.labelled_train is None else data.y[target[cut.labelled_train]],
        label_folds=cut.label_folds,
        source_rows=source,
        test_rows=test,
        source_domains=(
            None
            if domain_column is None
            else data.table[domain_column].to_numpy(dtype=object)[source]
        ),
    )


def check_data(config: ExperimentConfig, data: ExperimentData) -> None:
    """Raise :class:`ConfigError` for a pair or condition the loaded data cannot run.

    Checked before any training: each pair's queries select rows of known columns and do
    not overlap, and the protocol can cut every trial from the target (e.g. ``k`` fits
    the few-shot pool of every class).
    """
    protocol = get_protocol(config.protocol.name)
    n_trials = protocol.n_trials(config.protocol, config.trials)
    for i, pair in enumerate(config.pairs):
        where = f"config.pairs[{i}] ({pair.label()!r})"
        try:
            _, target = _domain_rows(data, pair.source, pair.target)
            protocol.check_target(
                _target(data, target, config.protocol),
                config.protocol,
                seed=config.seed,
                n_trials=n_trials,
            )
        except ValueError as error:
            raise ConfigError(f"{where}: {error}") from None
