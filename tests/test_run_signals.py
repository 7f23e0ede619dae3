"""A killed ``emoshift run --executor processes`` leaves no worker behind (issue 11 item 3).

Real subprocesses on the tiny synthetic corpus: SIGTERM (what ``timeout`` and job
schedulers send) stops the workers and leaves a run that resumes with only the missing
trials; after a SIGKILL of the parent alone, the workers notice and exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from emoshift.experiment.config import load_config
from emoshift.experiment.data import load_experiment_data
from emoshift.experiment.runner import run_experiment
from emoshift.experiment.store import ResultStore

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").is_file(), reason="finds worker processes through /proc"
)

TRIALS = 3


@pytest.fixture(scope="module")
def config_path(tmp_path_factory) -> Path:
    """A config of three slow-enough trials, its corpus and feature cache made once."""
    folder = tmp_path_factory.mktemp("signals")
    config = {
        "name": "signals",
        "corpora": {
            "synth": {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}
        },
        "features": {"domain": "elicitation", "jobs": 1, "cache_dir": "cache"},
        "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
        "methods": {"source_only": {"max_epochs": 400, "patience": None, "hidden_sizes": [64]}},
        "trials": TRIALS,
    }
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))
    load_experiment_data(load_config(path), progress=False)
    return path


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid``."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def run(config_path, tmp_path) -> Iterator[tuple[subprocess.Popen, Path]]:
    """``emoshift run --executor processes --jobs 2`` in a subprocess (killed at the end)."""
    output = tmp_path / "run"
    command = [sys.executable, "-m", "emoshift", "run", str(config_path), "--no-report"]
    command += ["--executor", "processes", "--jobs", "2", "--output", str(output)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    yield process, output
    try:  # whatever the test left behind, in the run's own process group
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _workers(process: subprocess.Popen) -> set[int]:
    """The worker processes of the run (and multiprocessing's resource tracker)."""
    _wait_for(lambda: len(_children(process.pid)) >= 3, 120, "two workers to start")
    return _children(process.pid)


def test_sigterm_stops_the_workers_and_the_run_resumes(run, config_path):
    process, output = run
    store = ResultStore(output)
    workers = _workers(process)
    _wait_for(lambda: store.finished_keys(), 120, "a first finished trial")
    os.killpg(process.pid, signal.SIGTERM)  # to the whole group, as `timeout` does
    assert process.wait(timeout=30) == 143
    assert "run the same command again" in process.stderr.read().decode()
    _wait_for(lambda: not any(_alive(pid) for pid in workers), 30, "the workers to exit")
    kept = store.finished_keys()
    assert 1 <= len(kept) < TRIALS, "the run must be stopped mid-way"
    resumed = run_experiment(load_config(config_path), run_dir=output, progress=False)
    assert (resumed.n_skipped, resumed.n_done) == (len(kept), TRIALS - len(kept))
    keys = [record["key"] for record in store.records()]
    assert len(keys) == len(set(keys)) == TRIALS


def test_workers_exit_when_the_parent_is_killed(run):
    process, output = run
    workers = _workers(process)
    _wait_for(lambda: ResultStore(output).finished_keys(), 120, "a first finished trial")
    os.kill(process.pid, signal.SIGKILL)  # the parent only, as the OOM killer would
    process.wait()
    _wait_for(lambda: not any(_alive(pid) for pid in workers), 30, "the orphaned workers to exit")
