"""Where trials run: in this process, in local worker processes, or on Ray.

Each executor takes the units of work (a trial, or a stack of trials:
:mod:`emoshift.experiment.stacking`) and the run's data and yields one
``(record, embeddings, predictions, seconds)`` outcome per trial as its unit finishes (in
any order); :func:`emoshift.experiment.stacking.execute_unit` computes each, so the
numbers are the same whichever executor ran them.

No worker outlives its run: worker processes watch a pipe that only the parent holds
open, and exit as soon as it closes, whether because the run stopped (Ctrl-C, SIGTERM,
an error) or because the parent was killed outright (SIGKILL, out of memory). Workers
ignore Ctrl-C and SIGTERM sent to the whole process group (by a terminal, ``timeout`` or
a job scheduler): the parent handles them and its closed pipe ends the workers.

Example:
    >>> sorted(EXECUTORS)
    ['processes', 'ray', 'serial']
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path

from emoshift.experiment.data import ExperimentData
from emoshift.experiment.stacking import Outcome, Unit, execute_unit

_WORKER_DATA: ExperimentData | None = None


def _exit_with_parent(parent_alive: Connection) -> None:
    """Block until the parent closes its end of the pipe (or dies), then end this worker."""
    try:
        parent_alive.recv_bytes()
    except (EOFError, OSError):
        pass
    os._exit(1)


def _init_worker(data_dir: str, parent_alive: Connection) -> None:
    global _WORKER_DATA
    for stop in (signal.SIGINT, signal.SIGTERM):  # sent to the whole group: the parent
        signal.signal(stop, signal.SIG_IGN)  # decides, and its pipe ends the workers
    threading.Thread(target=_exit_with_parent, args=(parent_alive,), daemon=True).start()
    _WORKER_DATA = ExperimentData.load(data_dir)


def _run_in_worker(unit: Unit) -> list[Outcome]:
    assert _WORKER_DATA is not None, "worker started without data"
    return execute_unit(unit, _WORKER_DATA)


def _serial(units: list[Unit], data: ExperimentData, jobs: int, **_: object) -> Iterator[Outcome]:
    for unit in units:
        yield from execute_unit(unit, data)


def _processes(
    units: list[Unit], data: ExperimentData, jobs: int, data_dir: Path, **_: object
) -> Iterator[Outcome]:
    context = get_context("spawn")
    parent_alive, alive = context.Pipe(duplex=False)
    pool = ProcessPoolExecutor(
        jobs,
        mp_context=context,
        initializer=_init_worker,
        initargs=(str(data_dir), parent_alive),
    )
    completed = False
    try:
        pending = {pool.submit(_run_in_worker, unit) for unit in units}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield from future.result()
        completed = True
    except BrokenProcessPool:
        raise RuntimeError(
            "a worker process died (killed, or out of memory?); the finished trials are "
            "kept: run the same command again to compute the rest"
        ) from None
    finally:
        if not completed:
            alive.close()  # the workers exit now, mid-trial; those trials run again on resume
        pool.shutdown(wait=True, cancel_futures=True)
        alive.close()
        parent_alive.close()


def _ray(
    units: list[Unit], data: ExperimentData, jobs: int, address: str | None = None, **_: object
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
        remote = ray.remote(num_cpus=1)(execute_unit)
        data_ref = ray.put(data)
        pending = [remote.remote(unit, data_ref) for unit in units]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield from ray.get(done[0])
    finally:
        if started_here:
            ray.shutdown()


EXECUTORS: dict[str, Callable[..., Iterator[Outcome]]] = {
    "serial": _serial,
    "processes": _processes,
    "ray": _ray,
}
