"""``emoshift run``: plan the trials, skip the finished ones, run the rest, store each.

Executors (:mod:`emoshift.experiment.executors`): ``serial`` (in this process),
``processes`` (``jobs`` local worker processes, each loading the run's data once) and
``ray`` (Ray tasks on a local Ray or the cluster at ``address``). Whichever runs them,
every trial's numbers are the same (torch runs one thread per trial, everything is
seeded), and only this process writes ``results.jsonl``, one line per finished trial
(the run-folder format is :mod:`emoshift.runfolder`).

An interrupted run (Ctrl-C, SIGTERM, a killed process, a crashed trial) keeps every
finished trial and resumes where it stopped: running the same command again computes
only what is missing. SIGTERM stops the run like Ctrl-C (:class:`Terminated`) and ends the
worker processes.

Example:
    >>> import tempfile
    >>> from emoshift.demo import demo_config
    >>> config = demo_config(tempfile.mkdtemp(), preset="tiny", n_trials=2,
    ...                      methods=["source_only"], max_epochs=2, n_jobs=1)
    >>> summary = run_experiment(config, progress=False)
    >>> summary.n_done, summary.n_failed, summary.n_skipped
    (2, 0, 0)
    >>> run_experiment(config, progress=False).n_skipped
    2
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emoshift.experiment.config import ExperimentConfig
from emoshift.experiment.data import (
    ExperimentData,
    feature_cache_dir,
    load_experiment_data,
    load_labelled_table,
    table_data,
)
from emoshift.experiment.devices import check_devices
from emoshift.experiment.executors import EXECUTORS
from emoshift.experiment.features import extractor_options
from emoshift.experiment.plan import TrialSpec, plan_trials
from emoshift.experiment.protocols import check_data, target_speakers
from emoshift.experiment.stacking import stack_settings
from emoshift.experiment.store import ResultStore
from emoshift.features.extract import get_extractor, uncached_files
from emoshift.progress import progress_bar
from emoshift.protocols import get_protocol
from emoshift.runfolder import write_csv_whole


@dataclass
class RunSummary:
    """What a run did."""

    run_dir: Path
    n_planned: int
    n_skipped: int
    n_done: int
    n_failed: int
    seconds: float
    failure_reasons: dict[str, int] = field(default_factory=dict)
    """The last line of each failed trial's traceback, with how many trials it ended."""


class Terminated(KeyboardInterrupt):
    """The run got SIGTERM: it stops like on Ctrl-C, keeping every finished trial."""


@contextmanager
def _sigterm_stops_the_run() -> Iterator[None]:
    """Turn SIGTERM (``timeout``, job schedulers) into :class:`Terminated` while running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # `timeout` sends it twice: one stop
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def failure_reason(error: str | None) -> str:
    """The last line of a traceback: what a failed trial says went wrong.

    Example:
        >>> failure_reason("Traceback (most recent call last):\\n  ...\\nValueError: bad k\\n")
        'ValueError: bad k'
    """
    lines = (error or "").strip().splitlines()
    return lines[-1].strip() if lines else "(no error text recorded)"


def _config_record(config: ExperimentConfig) -> dict:
    """The config as the run folder keeps it: a config ``emoshift run`` accepts again."""
    record = dataclasses.asdict(config)
    record.pop("base_dir")
    reads = {"name", *get_protocol(config.protocol.name).settings}
    record["protocol"] = {k: v for k, v in record["protocol"].items() if k in reads}
    return record


def checked_table(config: ExperimentConfig, progress: bool | None = None) -> pd.DataFrame:
    """The config's labelled corpus table, checked against the config before any feature
    is extracted: corpus and pair queries select rows, labels exist, the protocol can cut
    every trial (:func:`~emoshift.experiment.protocols.check_data`)."""
    table = load_labelled_table(config, progress)
    check_data(config, table_data(config, table))
    return table


def _plan(config: ExperimentConfig, data: ExperimentData, fingerprint: str) -> list[TrialSpec]:
    folds = {pair.label(): target_speakers(data, pair.target) for pair in config.pairs}
    return plan_trials(config, folds, fingerprint)


def _featurised(
    config: ExperimentConfig, table: pd.DataFrame, progress: bool | None
) -> tuple[ExperimentData, list[TrialSpec]]:
    """The features of a :func:`checked_table` (extracted or read from the cache), checked
    again on the rows whose audio gave features, and the trials planned on them."""
    data = load_experiment_data(config, progress=progress, table=table)
    check_data(config, data)
    return data, _plan(config, data, data.fingerprint())


def prepare_run(
    config: ExperimentConfig, progress: bool | None = None
) -> tuple[ExperimentData, list[TrialSpec]]:
    """Check the config on the corpus table, then extract (or read) the features and plan
    the trials."""
    return _featurised(config, checked_table(config, progress), progress)


@dataclass
class DryRun:
    """What ``run --dry-run`` found, having extracted nothing."""

    specs: list[TrialSpec]
    """The trials ``run`` would plan; keyed only when ``uncached`` is empty."""
    n_files: int
    """Audio files the run reads."""
    uncached: list[str]
    """The files whose features the cache lacks: ``run`` extracts them first. Trial keys
    hash the features, so while any is missing the specs carry no key."""


def dry_run(config: ExperimentConfig, progress: bool | None = None) -> DryRun:
    """Check ``config`` and plan its trials without extracting any feature.

    The devices it names are checked first (:func:`check_devices`), then everything
    that needs no features (:func:`checked_table`); the feature cache is only looked up.
    When it holds every file, the trials are planned with their keys, as ``run`` would
    plan them.
    """
    check_devices(config)
    table = checked_table(config, progress)
    features = config.features
    extractor = get_extractor(features.set, **extractor_options(features, config.base_dir))
    cache_dir = feature_cache_dir(config)
    uncached = uncached_files(table, extractor, cache_dir=cache_dir, progress=progress)
    n_files = table["file"].nunique()
    if uncached:
        specs = _plan(config, table_data(config, table), "")
        for spec in specs:
            spec.key = ""  # a key without the features' fingerprint would match no run
        return DryRun(specs, n_files, uncached)
    specs = _featurised(config, table, progress)[1]  # every file cached: nothing extracted
    return DryRun(specs, n_files, uncached)


# -------------------------------------------------------------------- run


def trial_workers(jobs: int | None, config_jobs: int | None) -> int:
    """Trials run at once for ``--jobs`` (else the config's ``jobs``): ``None`` or ``-1``
    is one per CPU; anything else below 1 is a ``ValueError`` (checked before any work).

    >>> trial_workers(-1, 4) == (os.cpu_count() or 1), trial_workers(None, 4)
    (True, 4)
    """
    chosen = jobs if jobs is not None else config_jobs
    if chosen is None or chosen == -1:
        return os.cpu_count() or 1
    if chosen < 1:
        where = "--jobs" if jobs is not None else "config.jobs"
        raise ValueError(
            f"{where} {chosen}: give a positive number of trials to run at once, or -1 for "
            "one per CPU"
        )
    return chosen


def run_experiment(
    config: ExperimentConfig,
    *,
    executor: str | None = None,
    jobs: int | None = None,
    address: str | None = None,
    run_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
    stack: int | str | None = None,
    stack_masks: str | None = None,
) -> RunSummary:
    """Run every trial of ``config`` that ``run_dir`` has not finished yet; ``stack``
    (default the config's) trains up to that many trials together with ``stack_masks``
    dropout masks (default the config's) (:mod:`emoshift.experiment.stacking`)."""
    started = time.perf_counter()
    executor = executor or config.executor
    if executor not in EXECUTORS:
        raise ValueError(f"executor {executor!r}; choose one of {list(EXECUTORS)}")
    jobs = trial_workers(jobs, config.jobs)
    stacking = stack_settings(
        config.stack,
        config.stack_masks,
        stack=stack,
        masks=stack_masks,
        executor=executor,
        jobs=jobs,
    )
    check_devices(config)
    run_dir = Path(run_dir) if run_dir is not None else config.output_dir()
    store = ResultStore(run_dir)
    store.folder.write_config(_config_record(config))
    data, specs = prepare_run(config, progress)
    store.folder.write_plan([spec.key for spec in specs])
    finished = store.finished_keys()
    todo = [spec for spec in specs if spec.key not in finished]
    data_dir = data.save(store.folder.data) if executor == "processes" and todo else None
    bar = progress_bar(
        len(todo), desc=f"{config.name} trials", unit="trial", enabled=progress, leave=True
    )
    units = stacking.units(specs, todo)
    outcomes = EXECUTORS[executor](units, data, jobs, data_dir=data_dir, address=address)
    failures: Counter[str] = Counter()
    n_finished = 0
    with _sigterm_stops_the_run(), closing(outcomes), bar:
        for record, embeddings, predictions, seconds in outcomes:
            if predictions is not None:  # whole, before the record that names it
                write_csv_whole(store.folder.path / record["predictions"], predictions)
            if embeddings is not None:
                store.folder.artifacts.mkdir(exist_ok=True)
                np.savez_compressed(store.folder.path / record["embeddings"], **embeddings)
            store.append(record, seconds)
            if record["status"] == "error":
                failures[failure_reason(record["error"])] += 1
            n_finished += 1
            n_failed = sum(failures.values())
            running = min(jobs, len(todo) - n_finished)
            bar.set_postfix(done=n_finished - n_failed, running=running, failed=n_failed)
            bar.update()
    n_failed = sum(failures.values())
    return RunSummary(
        run_dir,
        len(specs),
        len(specs) - len(todo),
        n_finished - n_failed,
        n_failed,
        time.perf_counter() - started,
        dict(failures.most_common()),
    )
