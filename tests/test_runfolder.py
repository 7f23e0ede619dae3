"""The run-folder format (emoshift.runfolder): torn and foreign lines, repair, the plan,
and the run's data written for worker processes without pickles."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from emoshift.cli import main
from emoshift.experiment.data import ExperimentData
from emoshift.experiment.store import ResultStore
from emoshift.report.experiment import read_run
from emoshift.runfolder import RunFolder, current, latest, read_lines, repair_torn_tail, repeated


def _result(key: str, status: str = "ok", uar: float = 0.5) -> dict:
    return {
        "key": key,
        "status": status,
        "method": "source_only",
        "variant": "source_only",
        "pair": "a->s",
        "protocol": "cross_domain",
        "trial": int(key[-1]) if key[-1].isdigit() else 0,
        "metrics": {"uar": uar} if status == "ok" else {},
        "error": None if status == "ok" else "Traceback ...\nValueError: bad k",
    }


def _write(path, *lines: str) -> None:
    path.write_text("".join(lines), encoding="utf-8")


@pytest.mark.bad_input
def test_lines_that_are_not_records_are_skipped_with_file_and_line(tmp_path):
    path = tmp_path / "results.jsonl"
    good = json.dumps(_result("t0"))
    lines = ["null", "[1, 2]", '{"status": "ok"}', '{"key": [1]}', "{broken"]
    _write(path, good + "\n", *(line + "\n" for line in lines), good[:20])
    read = read_lines(path)
    assert [r["key"] for r in read.records] == ["t0"] and read.numbers == [1]
    assert len(read.problems) == 6
    for number, problem in enumerate(read.problems, 2):
        assert problem.startswith(f"{path}, line {number}: ")
    assert "not a result record" in read.problems[0] and "null" in read.problems[0]
    assert "not valid JSON" in read.problems[4]
    assert "torn by a killed run" in read.problems[5]


def test_last_line_per_key_wins_and_the_plan_filters():
    records = [_result("a", "error"), _result("b"), _result("a", uar=0.7)]
    by_key = latest(records)
    assert list(by_key) == ["b", "a"] and by_key["a"]["metrics"] == {"uar": 0.7}
    assert repeated(records) == ["a"]
    assert list(current(by_key, ["a", "c"])) == ["a"]
    assert current(by_key, None) == by_key


@pytest.mark.bad_input
def test_repair_cuts_a_torn_tail_and_keeps_a_copy(tmp_path, capsys):
    path = tmp_path / "results.jsonl"
    whole = json.dumps(_result("t0")) + "\n"
    _write(path, whole, '{"key": "t1", "sta')
    copy = repair_torn_tail(path)
    assert path.read_text() == whole
    assert copy is not None and re.fullmatch(r"results\.jsonl\.torn-\d{8}T\d{6}Z", copy.name)
    assert copy.read_text() == '{"key": "t1", "sta'
    err = capsys.readouterr().err
    assert str(path) in err and str(copy) in err and "torn by a killed run" in err
    assert repair_torn_tail(path) is None  # nothing left to repair
    _write(path, whole, json.dumps(_result("t1")))  # whole but for its newline: kept
    assert repair_torn_tail(path) is None
    assert [r["key"] for r in read_lines(path).records] == ["t0", "t1"]
    assert path.read_text().endswith("\n")
    assert repair_torn_tail(tmp_path / "missing.jsonl") is None


@pytest.mark.bad_input
def test_store_appends_after_a_torn_line_without_losing_the_next_record(tmp_path, capsys):
    store = ResultStore(tmp_path)
    store.append(_result("t0"), seconds=1.0)
    with open(store.path, "a") as handle:  # a killed run: half of t1's line
        handle.write(json.dumps(_result("t1"))[:30])
    store.append(_result("t1"), seconds=1.0)
    assert [r["key"] for r in read_lines(store.path).records] == ["t0", "t1"]
    assert read_lines(store.path).problems == []
    assert len(list(tmp_path.glob("results.jsonl.torn-*"))) == 1
    assert "torn" in capsys.readouterr().err


@pytest.mark.bad_input
def test_store_and_report_skip_a_null_line(tmp_path, capsys):
    folder = RunFolder(tmp_path)
    _write(folder.results, json.dumps(_result("t0")) + "\n", "null\n")
    assert ResultStore(tmp_path).finished_keys() == {"t0"}
    assert f"{folder.results}, line 2" in capsys.readouterr().err
    assert [t["key"] for t in read_run(tmp_path).trials] == ["t0"]
    assert f"{folder.results}, line 2" in capsys.readouterr().err


@pytest.mark.bad_input
def test_report_warns_about_torn_lines_and_missing_planned_trials(tmp_path, capsys):
    folder = RunFolder(tmp_path / "run")
    folder.write_plan(["t0", "t1", "t2"])
    _write(folder.results, *(json.dumps(_result(k)) + "\n" for k in ("t0", "t1")), '{"key": "t2"')
    assert main(["report", str(folder.path), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert f"{folder.results}, line 3: torn by a killed run" in err
    assert "report: 2 of 3 planned trials have results" in err
    assert f"emoshift run CONFIG --output {folder.path}" in err
    folder.write_plan(["t0", "t1"])
    assert main(["report", str(folder.path), "--out", str(tmp_path / "out")]) == 0
    assert "planned trials" not in capsys.readouterr().err


@pytest.mark.bad_input
@pytest.mark.parametrize("plan", ['{"not": "a list"}', "[1, 2]", '["a"'])
def test_unreadable_plan_is_named(tmp_path, plan):
    folder = RunFolder(tmp_path)
    _write(folder.plan, plan)
    _write(folder.results, json.dumps(_result("t0")) + "\n")
    with pytest.raises(ValueError, match=f"{re.escape(str(folder.plan))} is not a JSON list"):
        read_run(tmp_path)
    folder.plan.unlink()
    assert len(read_run(tmp_path).trials) == 1


def _data(X: np.ndarray, y: np.ndarray) -> ExperimentData:
    return ExperimentData(pd.DataFrame({"file": [f"f{i}.wav" for i in range(len(y))]}), X, y)


def test_data_round_trips_without_pickles(tmp_path):
    rng = np.random.default_rng(0)
    sequences = np.empty(3, dtype=object)
    for i, frames in enumerate((4, 1, 7)):
        sequences[i] = rng.normal(size=(frames, 5)).astype(np.float32)
    labels = np.array(["anger", "sad", "neutral"])
    loaded = ExperimentData.load(_data(sequences, labels).save(tmp_path / "seq"))
    assert loaded.X.dtype == object and len(loaded.X) == 3
    for original, back in zip(sequences, loaded.X, strict=True):
        assert back.dtype == np.float32 and np.array_equal(original, back)
    assert loaded.y.tolist() == labels.tolist()
    assert sorted(p.name for p in (tmp_path / "seq").iterdir()) == [
        "X.offsets.npy",
        "X.values.npy",
        "table.parquet",
        "y.npy",
    ]
    flat = rng.normal(size=(3, 4)).astype(np.float32)
    targets = rng.normal(size=(3, 2)).astype(np.float32)
    again = ExperimentData.load(_data(flat, targets).save(tmp_path / "seq"))  # same folder
    assert np.array_equal(again.X, flat) and np.array_equal(again.y, targets)
    assert not (tmp_path / "seq" / "X.offsets.npy").exists()


@pytest.mark.bad_input
def test_data_with_a_pickled_array_is_refused(tmp_path):
    folder = _data(np.zeros((2, 3), np.float32), np.array(["a", "b"])).save(tmp_path / "data")
    payload = np.empty(2, dtype=object)
    payload[:] = [{"a": 1}, "b"]
    np.save(folder / "y.npy", payload, allow_pickle=True)  # a tampered file
    with pytest.raises(ValueError, match=r"data/y: .*pickle.*delete"):
        ExperimentData.load(folder)


@pytest.mark.bad_input
def test_data_that_cannot_be_stored_plainly_is_named(tmp_path):
    mixed = np.empty(2, dtype=object)
    mixed[:] = [np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32)]
    with pytest.raises(ValueError, match="X holds 2 items of layouts"):
        _data(mixed, np.array(["a", "b"])).save(tmp_path / "data")
