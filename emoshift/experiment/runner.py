"""``emoshift run``: plan the trials, skip the finished ones, run the rest, store each.

Executors:

- ``serial``: one trial after another in this process;
- ``processes``: ``jobs`` local worker processes, each loading the run's data once;
- ``ray``: Ray tasks on a local Ray instance or the cluster at ``address`` (the data goes
  through Ray's object store).

Whichever runs them, every trial's numbers are the same (torch runs one thread per trial,
everything is seeded), and only this process writes ``results.jsonl``, one line per
finished trial, so an interrupted run (Ctrl-C, a killed process, a crashed trial)
resumes where it stopped: running the same command again computes only what is missing.

Example:
    >>> import tempfile
    >>> from emoshift.experiment.config import parse_config
    >>> folder = tempfile.mkdtemp()
    >>> config = parse_config({
    ...     "name": "doc", "corpora": {"synth": {"loader": "synthetic", "path": "corpus",
    ...                                           "options": {"preset": "tiny"}}},
    ...     "features": {"domain": "elicitation", "jobs": 1, "cache_dir": "cache"},
    ...     "pairs": [{"source": "elicitation == 'acted'",
    ...                "target": "elicitation == 'spontaneous'"}],
    ...     "methods": {"source_only": {"max_epochs": 2}}, "trials": 2}, base_dir=folder)
    >>> summary = run_experiment(config, progress=False)
    >>> summary.n_done, summary.n_failed, summary.n_skipped
    (2, 0, 0)
    >>> run_experiment(config, progress=False).n_skipped
    2
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import yaml
from tqdm.auto import tqdm

from emoshift.experiment.config import ExperimentConfig
from emoshift.experiment.data import ExperimentData, load_experiment_data
from emoshift.experiment.execute import execute_trial
from emoshift.experiment.plan import TrialSpec, plan_trials
from emoshift.experiment.protocols import check_data, target_speakers
from emoshift.experiment.store import ResultStore
from emoshift.progress import progress_enabled

Outcome = tuple[dict, dict | None, float]


@dataclass
class RunSummary:
    """What a run did."""

    run_dir: Path
    n_planned: int
    n_skipped: int
    n_done: int
    n_failed: int
    seconds: float


def _config_record(config: ExperimentConfig) -> dict:
    record = dataclasses.asdict(config)
    record.pop("base_dir")
    return record


def prepare_run(
    config: ExperimentConfig, progress: bool | None = None
) -> tuple[ExperimentData, list[TrialSpec]]:
    """Load the data, check the config against it and plan the trials (``--dry-run``)."""
    data = load_experiment_data(config, progress=progress)
    check_data(config, data)
    folds = {pair.label(): target_speakers(data, pair.target) for pair in config.pairs}
    return data, plan_trials(config, folds, data.fingerprint())


# ---------------------------------------------------------------- executors

_WORKER_DATA: ExperimentData | None = None


def _init_worker(data_dir: str) -> None:
    global _WORKER_DATA
    _WORKER_DATA = ExperimentData.load(data_dir)


def _run_in_worker(spec: TrialSpec) -> Outcome:
    assert _WORKER_DATA is not None, "worker started without data"
    return execute_trial(spec, _WORKER_DATA)


def _serial(
    specs: list[TrialSpec], data: ExperimentData, jobs: int, **_: object
) -> Iterator[Outcome]:
    for spec in specs:
        yield execute_trial(spec, data)


def _processes(
    specs: list[TrialSpec], data: ExperimentData, jobs: int, data_dir: Path, **_: object
) -> Iterator[Outcome]:
    pool = ProcessPoolExecutor(
        jobs,
        mp_context=get_context("spawn"),
        initializer=_init_worker,
        initargs=(str(data_dir),),
    )
    try:
        pending = {pool.submit(_run_in_worker, spec) for spec in specs}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ray(
    specs: list[TrialSpec], data: ExperimentData, jobs: int, address: str | None = None, **_: object
) -> Iterator[Outcome]:
    try:
        import ray  # noqa: PLC0415 (optional extra)
    except ImportError:
        raise ValueError("the ray executor needs Ray: pip install 'emoshift[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address,
            num_cpus=None if address else jobs,
            include_dashboard=False,
            log_to_driver=False,
            ignore_reinit_error=True,
        )
    try:
        remote = ray.remote(num_cpus=1)(execute_trial)
        data_ref = ray.put(data)
        pending = [remote.remote(spec, data_ref) for spec in specs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started_here:
            ray.shutdown()


EXECUTORS: dict[str, Callable[..., Iterator[Outcome]]] = {
    "serial": _serial,
    "processes": _processes,
    "ray": _ray,
}


# -------------------------------------------------------------------- run


def run_experiment(
    config: ExperimentConfig,
    *,
    executor: str | None = None,
    jobs: int | None = None,
    address: str | None = None,
    run_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> RunSummary:
    """Run every trial of ``config`` that ``run_dir`` has not finished yet."""
    started = time.perf_counter()
    executor = executor or config.executor
    if executor not in EXECUTORS:
        raise ValueError(f"executor {executor!r}; choose one of {list(EXECUTORS)}")
    jobs = jobs or config.jobs or os.cpu_count() or 1
    run_dir = Path(run_dir) if run_dir is not None else config.output_dir()
    store = ResultStore(run_dir)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(_config_record(config), sort_keys=False))
    data, specs = prepare_run(config, progress)
    (run_dir / "plan.json").write_text(json.dumps([spec.key for spec in specs]))
    finished = store.finished_keys()
    todo = [spec for spec in specs if spec.key not in finished]
    data_dir = data.save(run_dir / "data") if executor == "processes" and todo else None
    counts = {"done": 0, "failed": 0}
    bar = tqdm(
        total=len(todo),
        desc=f"{config.name} trials",
        unit="trial",
        disable=not progress_enabled(progress),
        dynamic_ncols=True,
    )
    try:
        outcomes = EXECUTORS[executor](todo, data, jobs, data_dir=data_dir, address=address)
        for record, embeddings, seconds in outcomes:
            if embeddings is not None:
                artifacts = run_dir / "artifacts"
                artifacts.mkdir(exist_ok=True)
                np.savez_compressed(artifacts / f"{record['key']}.npz", **embeddings)
            store.append(record, seconds)
            counts["failed" if record["status"] == "error" else "done"] += 1
            running = min(jobs, len(todo) - counts["done"] - counts["failed"])
            bar.set_postfix(done=counts["done"], running=running, failed=counts["failed"])
            bar.update()
    finally:
        bar.close()
    return RunSummary(
        run_dir,
        len(specs),
        len(specs) - len(todo),
        counts["done"],
        counts["failed"],
        time.perf_counter() - started,
    )
