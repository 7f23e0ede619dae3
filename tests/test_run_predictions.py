"""Each trial's per-file test predictions are kept in the run folder (issue 24): enough
to recompute every metric without retraining, byte for byte the same on a rerun, and
untouched by a resumed run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emoshift.demo import demo_config
from emoshift.experiment.data import load_experiment_data
from emoshift.experiment.runner import run_experiment
from emoshift.experiment.store import ResultStore
from emoshift.metrics import confusion_matrix, score
from emoshift.runfolder import PREDICTIONS, prediction_table


def _run(folder: Path, run_dir: Path):
    config = demo_config(
        folder, preset="tiny", n_trials=2, methods=["source_only"], max_epochs=2, n_jobs=1
    )
    return config, run_experiment(config, run_dir=run_dir, progress=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("predictions")
    _run(folder, folder / "run")
    return folder, folder / "run"


def test_each_trial_keeps_its_test_predictions(run: tuple[Path, Path]) -> None:
    folder, run_dir = run
    records = ResultStore(run_dir).latest()
    assert len(records) == 2
    config, _ = _run(folder, run_dir)  # resumed: nothing to compute
    target_files = set(
        load_experiment_data(config, progress=False).table.query("elicitation == 'spontaneous'")[
            "file"
        ]
    )
    for record in records.values():
        assert record["predictions"] == f"{PREDICTIONS}/{record['key']}.csv"
        table = pd.read_csv(run_dir / record["predictions"])
        classes = record["labels"]
        assert list(table.columns) == ["file", "true", "prediction", *[f"p_{c}" for c in classes]]
        assert set(table["file"]) <= target_files and table["file"].is_unique
        recomputed = score(table["true"], table["prediction"], "classification", labels=classes)
        assert recomputed == pytest.approx(record["metrics"])
        counts = confusion_matrix(table["true"], table["prediction"], labels=classes)
        assert counts.tolist() == record["confusion"]
        proba = table[[f"p_{c}" for c in classes]].to_numpy()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
        assert (np.array(classes)[proba.argmax(axis=1)] == table["prediction"]).all()


def test_predictions_are_byte_reproducible_and_kept_on_resume(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, run_dir = run
    files = sorted((run_dir / PREDICTIONS).glob("*.csv"))
    before = {f.name: (f.read_bytes(), f.stat().st_mtime_ns) for f in files}
    _, summary = _run(folder, run_dir)
    assert summary.n_skipped == 2 and summary.n_done == 0
    after = {f.name: (f.read_bytes(), f.stat().st_mtime_ns) for f in files}
    assert after == before  # a resumed run leaves finished trials' tables alone
    _run(folder, tmp_path / "again")
    again = sorted((tmp_path / "again" / PREDICTIONS).glob("*.csv"))
    assert [f.name for f in again] == [f.name for f in files]
    assert [f.read_bytes() for f in again] == [f.read_bytes() for f in files]
    assert not list((run_dir / PREDICTIONS).glob(".*"))  # no partial file left behind


def test_a_regression_table_holds_each_dimensions_reference_and_prediction() -> None:
    table = prediction_table(
        ["a.wav", "b.wav"],
        np.array([[0.5, -0.25], [1.0, 0.0]], dtype=np.float32),
        np.array([[0.25, 0.0], [0.75, 0.5]], dtype=np.float32),
        dimensions=["arousal", "valence"],
    )
    assert list(table.columns) == ["file", "true_arousal", "true_valence", "arousal", "valence"]
    assert table["true_valence"].tolist() == [-0.25, 0.0]
    assert table["arousal"].tolist() == [0.25, 0.75]
