"""Train one method of an experiment config on all the data its protocol allows.

``emoshift run`` measures a method on held-out target data; a model that ships keeps no
test set back. :func:`train_model` loads the data of the normalisation domains the pair's
queries select (no other corpus is featurised, and only their statistics are stored),
takes the pair's source rows as labelled training data and every target row as
unlabelled target data, and gives the method the target labels the protocol lets it read
(each protocol object's ``deployment`` cut, in :mod:`emoshift.protocols.catalog`: none for
``cross_domain``, the largest ``k`` per class for ``few_shot``, everything but the
development part for ``split_10_40_50``, ...), drawn from the target rows that have a
label. Target rows with an empty label (a folder of unlabelled target audio next to a few
labelled clips) are unlabelled target data; nothing is held back as a test share, so
``k`` may equal the number of labelled clips per class.

A method that reads all target labels (``train_on_target``) reads every one there is.
The model's normalisation statistics are those the experiment normalised each domain
with. Training runs torch on one thread, as a trial does, so the same config and seed
give the same weights on any machine.

Example:
    >>> import tempfile
    >>> from emoshift.demo import demo_config
    >>> config = demo_config(tempfile.mkdtemp(), preset="tiny", methods=["coral"],
    ...                      max_epochs=2, n_jobs=1)
    >>> model = train_model(config, "coral", progress=False)
    >>> model.normalisation["target_domain"], model.training["rows"]["labelled_target"]
    ('spontaneous', 0)
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from emoshift.bundle.model import Model
from emoshift.bundle.state import check_savable
from emoshift.experiment.config import ExperimentConfig, PairConfig
from emoshift.experiment.data import ExperimentData, _resolve, load_experiment_data
from emoshift.experiment.devices import check_devices
from emoshift.experiment.features import extractor_options
from emoshift.experiment.method_grid import expand_method_grid
from emoshift.experiment.trial import DomainSplit, fit_arguments, torch_threads
from emoshift.features import DomainNormaliser, extract_features, get_extractor
from emoshift.methods import get_method, method_class, method_needs
from emoshift.protocols import Target, get_protocol


def choose_pair(config: ExperimentConfig, pair: str | None) -> PairConfig:
    """The config's pair named ``pair`` (its name or ``source -> target`` label)."""
    labels = [p.label() for p in config.pairs]
    if pair is None:
        if len(config.pairs) == 1:
            return config.pairs[0]
        raise ValueError(f"the config has {len(labels)} pairs; choose one with --pair: {labels}")
    for candidate in config.pairs:
        if pair in (candidate.name, candidate.label()):
            return candidate
    raise ValueError(f"no pair {pair!r} in config {config.name!r}; its pairs: {labels}")


def choose_params(config: ExperimentConfig, method: str) -> dict:
    """The hyper-parameters of ``method`` in the config (one setting, not a grid)."""
    if method not in config.methods:
        raise ValueError(
            f"method {method!r} is not in config {config.name!r}; its methods: "
            f"{list(config.methods)}"
        )
    grid = expand_method_grid(method, config.methods[method] or {}, f"config.methods.{method}")
    if len(grid) > 1:
        raise ValueError(
            f"config.methods.{method} lists {len(grid)} settings ({grid}); a shipped model "
            "needs one: keep one value of each listed hyper-parameter"
        )
    params = dict(grid[0])
    if "task" in method_class(method)().get_params():
        params = {"task": config.task, **params}
    elif config.task != "classification":
        raise ValueError(f"method {method!r} does classification only, not {config.task}")
    return {**params, "random_state": config.seed}


def _target_labels(
    config: ExperimentConfig, data: ExperimentData, target: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(labelled, dev)``: positions in ``target`` of the labelled rows and of the
    development rows the protocol allows for a shipped model (see the module doc), drawn
    from the target rows that have a label; the others stay unlabelled training rows."""
    protocol = get_protocol(config.protocol.name)
    with_label = np.flatnonzero(_has_label(data.y[target]))
    if len(with_label) == 0 and protocol.labelled_target:
        raise ValueError(
            f"protocol {config.protocol.name!r} reads target labels, but no target row has "
            "one; label some target rows, or use protocol cross_domain"
        )
    speakers = data.table["speaker"].iloc[target[with_label]].to_numpy()
    rows = Target(speakers=speakers, y=data.y[target[with_label]])
    labelled, dev = protocol.deployment(rows, config.protocol, config.seed)
    return (
        None if labelled is None else with_label[labelled],
        None if dev is None else with_label[dev],
    )


def _has_label(y: np.ndarray) -> np.ndarray:
    """Whether each row has its label (unlabelled target rows hold ``None`` or NaN)."""
    if y.dtype.kind in "OUS":
        return pd.notna(y)
    return np.isfinite(y.astype(float)).reshape(len(y), -1).all(1)


def _split(config: ExperimentConfig, data: ExperimentData, pair: PairConfig) -> DomainSplit:
    source, target = data.rows(pair.source), data.rows(pair.target)
    source = source[_has_label(data.y[source])]
    overlap = np.intersect1d(source, target)
    if len(overlap):
        raise ValueError(
            f"pair {pair.label()!r}: source and target share {len(overlap)} rows; a domain "
            "pair must not overlap"
        )
    for side, rows in (("source", source), ("target", target)):
        if len(rows) == 0:
            raise ValueError(f"pair {pair.label()!r}: the {side} query selects no rows")
    try:
        labelled, dev = _target_labels(config, data, target)
    except ValueError as error:
        raise ValueError(f"pair {pair.label()!r}: {error}") from None
    train = target if dev is None else np.delete(target, dev)
    if dev is not None:
        kept = np.setdiff1d(np.arange(len(target)), dev)
        labelled = np.searchsorted(kept, labelled)
    empty = data.X[:0]
    return DomainSplit(
        X_source=data.X[source],
        y_source=data.y[source],
        X_target=data.X[train],
        y_target=data.y[train],
        X_test=empty,
        y_test=data.y[:0],
        labelled=labelled,
        X_dev=None if dev is None else data.X[target[dev]],
        y_dev=None if dev is None else data.y[target[dev]],
    )


def _fit_arguments(method: str, split: DomainSplit, params: dict) -> dict[str, object]:
    """The ``fit`` arguments of a shipped model: as in a trial, but a method that reads
    every target label reads those of the target rows that have one."""
    kwargs = fit_arguments(method, split, params)
    if method_needs(method, params).all_target_labels:
        known = _has_label(split.y_target)
        kwargs["X_target_labelled"] = split.X_target[known]
        kwargs["y_target_labelled"] = split.y_target[known]
    return kwargs


def fit_normaliser(config: ExperimentConfig, table: pd.DataFrame) -> DomainNormaliser | None:
    """The per-domain statistics the experiment normalised ``table``'s rows with (read
    from the feature cache; ``None`` for ``normalisation: none``)."""
    features = config.features
    if features.normalisation == "none":
        return None
    cache_dir = features.cache_dir
    if cache_dir is not None:
        cache_dir = str(_resolve(cache_dir, config.base_dir))
    result = extract_features(
        table,
        get_extractor(features.set, **extractor_options(features, config.base_dir)),
        cache_dir=cache_dir,
        n_jobs=features.jobs,
        progress=False,
    )
    domains = table.loc[result.index, features.domain].astype(str).to_numpy()
    normaliser = DomainNormaliser(method=features.normalisation)
    if isinstance(result.features, pd.DataFrame):
        return normaliser.fit(result.features.to_numpy(dtype=np.float64), domains)
    lengths = [len(a) for a in result.features]
    frames = np.concatenate(result.features).astype(np.float64)
    return normaliser.fit(frames, np.repeat(domains, lengths))


def train_model(
    config: ExperimentConfig,
    method: str,
    pair: str | None = None,
    *,
    progress: bool | None = None,
) -> Model:
    """Fit ``method`` (with its hyper-parameters in ``config``) on ``pair``'s data."""
    if config.features.second_stream is not None:  # before any extraction or file read
        raise ValueError(
            "features.second_stream: a bundle predicts from audio alone, so it cannot "
            "ship a model that reads a second stream; train it with emoshift run"
        )
    if method in config.selection:  # before any extraction or file read
        raise ValueError(
            f"config.selection.{method}: train fits the one setting of config.methods."
            f"{method} and does not choose among a selection grid; remove "
            f"selection.{method} (put the setting an emoshift run chose in methods.{method})"
        )
    check_devices(config)
    chosen = choose_pair(config, pair)
    params = choose_params(config, method)
    check_savable(method, params)
    data = load_experiment_data(config, progress=progress, pair=chosen)
    split = _split(config, data, chosen)
    kwargs = _fit_arguments(method, split, params)
    estimator = get_method(method, **params)
    started = time.perf_counter()
    with torch_threads(1):  # as a trial: the weights do not depend on the machine's cores
        estimator.fit(split.X_source, split.y_source, **kwargs)
    seconds = time.perf_counter() - started
    target_rows = data.rows(chosen.target)
    domains = data.table[config.features.domain].iloc[target_rows].astype(str).unique()
    record = dataclasses.asdict(config)
    record.pop("base_dir")
    training = {
        "config": record,
        "pair": dataclasses.asdict(chosen),
        "protocol": config.protocol.name,
        "rows": {
            "source": len(split.X_source),
            "target": len(target_rows),
            "unlabelled_target": int((~_has_label(data.y[target_rows])).sum()),
            "labelled_target": len(kwargs.get("y_target_labelled", [])),
            "development": 0 if split.X_dev is None else len(split.X_dev),
        },
        "fit_seconds": round(seconds, 3),
        "adaptations": [],
    }
    return Model.from_parts(
        estimator,
        method,
        config.features.set,
        fit_normaliser(config, data.table),
        target_domain=domains[0] if len(domains) == 1 else None,
        domain_column=config.features.domain,
        feature_options=extractor_options(config.features, config.base_dir),
        dimensions=None if config.task == "classification" else list(config.labels.dimensions),
        label_space=config.labels.space if config.task == "classification" else None,
        training=training,
    )
