"""Train one method of an experiment config on all the data its protocol allows.

``emoshift run`` measures a method on held-out target data; a model that ships keeps no
test set back. :func:`train_model` loads the config's data (with the same checks as
``run``), takes the pair's source rows as labelled training data and every target row as
unlabelled target data, and gives the method the target labels the protocol lets it read
(each protocol object's ``deployment`` cut, in :mod:`emoshift.protocols.catalog`: none for
``cross_domain``, the largest ``k`` per class for ``few_shot``, everything but the
development part for ``split_10_40_50``, ...).

A method that reads all target labels (``train_on_target``) reads them all. The model's
normalisation statistics are those the experiment normalised each domain with.

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
from emoshift.experiment.config import ExperimentConfig, PairConfig, expand_method_grid
from emoshift.experiment.data import ExperimentData, _resolve, load_experiment_data
from emoshift.experiment.features import extractor_options
from emoshift.experiment.protocols import check_data
from emoshift.experiment.trial import DomainSplit, fit_arguments
from emoshift.features import DomainNormaliser, extract_features, get_extractor
from emoshift.methods import get_method, method_class
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
    development rows the protocol allows for a shipped model (see the module doc)."""
    speakers = data.table["speaker"].iloc[target].to_numpy()
    rows = Target(speakers=speakers, y=data.y[target])
    protocol = get_protocol(config.protocol.name)
    return protocol.deployment(rows, config.protocol, config.seed)


def _split(config: ExperimentConfig, data: ExperimentData, pair: PairConfig) -> DomainSplit:
    source, target = data.rows(pair.source), data.rows(pair.target)
    overlap = np.intersect1d(source, target)
    if len(overlap):
        raise ValueError(
            f"pair {pair.label()!r}: source and target share {len(overlap)} rows; a domain "
            "pair must not overlap"
        )
    for side, rows in (("source", source), ("target", target)):
        if len(rows) == 0:
            raise ValueError(f"pair {pair.label()!r}: the {side} query selects no rows")
    labelled, dev = _target_labels(config, data, target)
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
    chosen = choose_pair(config, pair)
    params = choose_params(config, method)
    check_savable(method, params)
    data = load_experiment_data(config, progress=progress)
    check_data(config, data)
    split = _split(config, data, chosen)
    kwargs = fit_arguments(method, split, params)
    estimator = get_method(method, **params)
    started = time.perf_counter()
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
