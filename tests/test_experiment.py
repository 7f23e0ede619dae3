"""Experiments: config validation, planning, resumable runs, executors that agree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tiny_configs import FAST, tiny_config

from emoshift.cli import main
from emoshift.experiment import execute
from emoshift.experiment.config import ConfigError, expand_method_grid, load_config, parse_config
from emoshift.experiment.plan import plan_trials
from emoshift.experiment.runner import run_experiment
from emoshift.experiment.store import ResultStore, read_jsonl


def _write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feature-cache")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trails": 3}, "unknown key 'trails'; did you mean 'trials'?"),
        ({"protocol": {"nmae": "few_shot"}}, "config.protocol: unknown key 'nmae'"),
        ({"protocol": {"name": "few-shot"}}, "did you mean 'few_shot'"),
        ({"methods": {"dan": {}}}, "did you mean 'dann'"),
        ({"methods": {"source_only": {"lerning_rate": 1}}}, "no parameter 'lerning_rate'"),
        ({"methods": {"source_only": {"lrr": 1}}}, "did you mean 'lr'"),
        ({"trials": "five"}, "config.trials: expected int"),
        ({"baseline": "dann"}, "config.baseline: 'dann' is not among the methods"),
    ],
)
def test_config_errors_name_the_key_and_suggest(tmp_path, cache, change, message):
    config = tiny_config(cache)
    config.update(change)
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, config))
    assert message in str(error.value)
    assert "experiment.yaml" in str(error.value)


def test_grid_expansion_distinguishes_sequences_from_grids():
    assert expand_method_grid("source_only", {"hidden_sizes": [64, 32]}) == [
        {"hidden_sizes": (64, 32)}
    ]
    grid = expand_method_grid("source_only", {"hidden_sizes": [[64], [32]], "lr": [0.1, 0.2]})
    assert len(grid) == 4 and {"hidden_sizes": (32,), "lr": 0.2} in grid


def test_plan_keys_are_unique_and_stable(tmp_path, cache):
    config = parse_config(tiny_config(cache), base_dir=tmp_path)
    first, second = plan_trials(config), plan_trials(config)
    assert [t.key for t in first] == [t.key for t in second]
    assert len({t.key for t in first}) == len(first) == 6
    changed = parse_config(tiny_config(cache, seed=1), base_dir=tmp_path)
    assert not {t.key for t in plan_trials(changed)} & {t.key for t in first}


def _failing(monkeypatch, reasons: dict[str, Exception]) -> None:
    """Make trials of the methods in ``reasons`` raise (in this process: serial executor)."""
    real = execute.run_trial

    def run_trial(method, *args, **kwargs):
        if method in reasons:
            raise reasons[method]
        return real(method, *args, **kwargs)

    monkeypatch.setattr(execute, "run_trial", run_trial)


def test_run_resumes_and_records_failures(tmp_path, cache, monkeypatch):
    _failing(monkeypatch, {"train_on_target": ValueError("no labelled target here")})
    # stack 1: the failure is raised in the unstacked trial path (test_stacked covers a stack)
    parsed = parse_config(tiny_config(cache, stack=1), base_dir=tmp_path)
    summary = run_experiment(parsed, progress=False)
    assert (summary.n_done, summary.n_failed) == (3, 3)
    records = read_jsonl(summary.run_dir / "results.jsonl")
    failed = [r for r in records if r["status"] == "error"]
    assert {r["method"] for r in failed} == {"train_on_target"}
    assert "ValueError: no labelled target here" in failed[0]["error"]
    ok = [r for r in records if r["status"] == "ok"]
    assert all(0 <= r["metrics"]["uar"] <= 1 for r in ok)
    assert all(r["confusion"] and r["history"] for r in ok)
    embedded = [r for r in ok if r["embeddings"]]
    assert embedded and all((summary.run_dir / r["embeddings"]).is_file() for r in embedded)
    again = run_experiment(parsed, progress=False)
    assert (again.n_skipped, again.n_done, again.n_failed) == (3, 0, 3)  # failures retried


def _sorted_results(run_dir: Path) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in read_jsonl(run_dir / "results.jsonl"))


def test_killed_run_restarts_with_only_the_missing_trials(tmp_path, cache):
    # two stacks of two: the first stack's lines are written together, so the run is
    # killed with one or two of the four trials recorded and the second stack unfinished
    config = tiny_config(cache, trials=4, stack=2)
    config["methods"] = {"source_only": {"max_epochs": 40, "patience": None, "hidden_sizes": [64]}}
    path = _write(tmp_path, config)
    run_experiment(load_config(path), progress=False, run_dir=tmp_path / "warm")  # corpus+cache
    results = tmp_path / "run" / "results.jsonl"
    command = [sys.executable, "-m", "emoshift", "run", str(path), "--no-report"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(read_jsonl(results)) < 1:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = ResultStore(tmp_path / "run").finished_keys()
    assert 1 <= len(before) < 4, "the run must be killed mid-way"
    resumed = run_experiment(load_config(path), progress=False)
    assert resumed.n_skipped == len(before)
    assert resumed.n_done == 4 - len(before)
    keys = [r["key"] for r in read_jsonl(results)]
    assert len(keys) == len(set(keys)) == 4
    assert _sorted_results(tmp_path / "run") == _sorted_results(tmp_path / "warm")


def test_process_and_serial_executors_give_identical_results(tmp_path, cache):
    config = parse_config(tiny_config(cache, trials=2), base_dir=tmp_path)
    run_experiment(config, executor="serial", run_dir=tmp_path / "serial", progress=False)
    run_experiment(config, executor="processes", jobs=2, run_dir=tmp_path / "proc", progress=False)
    assert _sorted_results(tmp_path / "serial") == _sorted_results(tmp_path / "proc")


def test_ray_and_process_executors_give_identical_results(tmp_path, cache):
    pytest.importorskip("ray", reason="the Ray executor is the optional extra emoshift[ray]")
    config = parse_config(tiny_config(cache, trials=2), base_dir=tmp_path)
    run_experiment(config, executor="processes", jobs=2, run_dir=tmp_path / "proc", progress=False)
    run_experiment(config, executor="ray", jobs=2, run_dir=tmp_path / "ray", progress=False)
    assert _sorted_results(tmp_path / "ray") == _sorted_results(tmp_path / "proc")


def test_dry_run_lists_trials_and_runs_none(tmp_path, cache, capsys):
    path = _write(tmp_path, tiny_config(cache))
    assert main(["run", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "6 trial(s)" in out and out.count("todo") == 6
    assert not (tmp_path / "run" / "results.jsonl").exists()


def test_few_shot_and_split_protocols_plan_and_run(tmp_path, cache):
    few = tiny_config(cache, trials=2, protocol={"name": "few_shot", "k": [1, 2]})
    few["methods"] = {"label_target": dict(FAST), "source_only": dict(FAST)}
    # the tiny corpus's target pool holds 3 examples per class: 2 exclusive trials of
    # k=2 cannot be drawn, and the run says so by class before training anything
    with pytest.raises(ConfigError, match="k=2 is too large .*anger: 3"):
        run_experiment(
            parse_config(few, base_dir=tmp_path), progress=False, run_dir=tmp_path / "few"
        )
    assert not (tmp_path / "few" / "results.jsonl").exists()
    few["protocol"]["k"] = [1]
    summary = run_experiment(
        parse_config(few, base_dir=tmp_path), progress=False, run_dir=tmp_path / "few"
    )
    assert (summary.n_done, summary.n_failed) == (4, 0)
    records = read_jsonl(tmp_path / "few" / "results.jsonl")
    assert sorted((r["k"], r["status"]) for r in records) == [(1, "ok")] * 4

    split = tiny_config(
        cache,
        protocol={"name": "split_10_40_50", "repetitions": 2, "speaker_independent": False},
    )
    split["methods"] = {"label_target": dict(FAST)}
    split["baseline"] = None
    summary = run_experiment(
        parse_config(split, base_dir=tmp_path), progress=False, run_dir=tmp_path / "split"
    )
    assert (summary.n_done, summary.n_failed) == (2, 0)


def test_changed_data_changes_every_key_and_the_report_reads_the_current_plan(tmp_path, cache):
    config = parse_config(tiny_config(cache, trials=2), base_dir=tmp_path)
    assert not {t.key for t in plan_trials(config, data_fingerprint="a")} & {
        t.key for t in plan_trials(config, data_fingerprint="b")
    }
    summary = run_experiment(config, progress=False)
    from emoshift.report.experiment import read_run  # noqa: PLC0415

    store = ResultStore(summary.run_dir)
    stale = dict(store.records()[0], key="from-an-earlier-config")
    store.append(stale)
    run = read_run(summary.run_dir)
    assert len(run.trials) == 4
    assert "from-an-earlier-config" not in {r["key"] for r in run.trials}


@pytest.mark.bad_input
def test_resume_after_a_torn_last_line_keeps_every_trial(tmp_path, cache, capsys):
    config = tiny_config(cache, trials=2)
    config["methods"] = {"source_only": dict(FAST)}
    path = _write(tmp_path, config)
    assert main(["run", str(path), "--no-report"]) == 0
    results = tmp_path / "run" / "results.jsonl"
    complete = _sorted_results(tmp_path / "run")
    text = results.read_text()
    last = text.rstrip("\n").rfind("\n") + 1
    results.write_text(text[: last + 40])  # killed while writing the second line
    capsys.readouterr()
    assert main(["run", str(path), "--no-report"]) == 0
    captured = capsys.readouterr()
    assert "1 already finished, 1 run now, 0 failed" in captured.out
    assert f"{results}: the last line was torn by a killed run" in captured.err
    assert _sorted_results(tmp_path / "run") == complete
    assert [p.read_text() for p in results.parent.glob("results.jsonl.torn-*")] == [
        text[last : last + 40]
    ]


@pytest.mark.bad_input
def test_a_line_that_is_not_a_record_does_not_crash_run_or_report(tmp_path, cache, capsys):
    config = tiny_config(cache, trials=2)
    config["methods"] = {"source_only": dict(FAST)}
    path = _write(tmp_path, config)
    results = tmp_path / "run" / "results.jsonl"
    assert main(["run", str(path), "--no-report"]) == 0
    first = results.read_text().splitlines(keepends=True)[0]
    results.write_text(first + "null\n")  # a foreign line, and the second trial missing
    capsys.readouterr()
    assert main(["report", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert f"{results}, line 2: null is not a result record" in err
    assert "report: 1 of 2 planned trials have results" in err
    assert main(["run", str(path)]) == 0
    captured = capsys.readouterr()
    assert "1 already finished, 1 run now" in captured.out and "line 2" in captured.err
    assert "planned trials" not in captured.err  # the report after the run: all there


def test_run_summary_names_each_failure_reason_with_its_count(tmp_path, cache, capsys, monkeypatch):
    _failing(
        monkeypatch,
        {"train_on_target": ValueError("boom"), "label_target": FloatingPointError("loss is NaN")},
    )
    # stack 1: the failures are raised in the unstacked trial path
    config = tiny_config(cache, trials=2, protocol={"name": "few_shot", "k": [1]}, stack=1)
    config["methods"] = {name: dict(FAST) for name in ("source_only", "label_target")}
    config["methods"]["train_on_target"] = dict(FAST)
    assert main(["run", str(_write(tmp_path, config)), "--no-report"]) == 1
    out = capsys.readouterr().out
    assert "2 run now, 4 failed" in out
    reasons = [line for line in out.splitlines() if line.startswith("  ")]
    assert sorted(reasons) == ["  2 x FloatingPointError: loss is NaN", "  2 x ValueError: boom"]
