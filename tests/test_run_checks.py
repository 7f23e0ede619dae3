"""From CSV manifests to a run (issue 24, "Configs and errors" and "Outputs"): corpora
named by their config key, query errors that show what the columns hold, a dry run that
extracts nothing, and ``run`` printing its results table."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from emoshift.cli import main
from emoshift.experiment.config import load_config
from emoshift.experiment.data import load_corpora
from emoshift.features.extract import _FileJob

EMOTIONS = ("anger", "sadness")


def _manifest(folder: Path, corpus_column: str | None = None) -> Path:
    """``folder/manifest.csv``: 8 clips (4 speakers x 2 emotions), tones whose pitch
    follows the emotion, paths relative to the CSV."""
    rows = ["path,label,spk" + (",corpus" if corpus_column else "")]
    for speaker in range(4):
        for e, emotion in enumerate(EMOTIONS):
            clip = folder / "clips" / f"{speaker}_{emotion}.wav"
            clip.parent.mkdir(parents=True, exist_ok=True)
            t = np.arange(8000) / 16000
            tone = 0.2 * np.sin(2 * np.pi * (120 + 80 * e + 7 * speaker) * t)
            sf.write(clip, tone + 0.001 * np.sin(37 * t), 16000)
            extra = f",{corpus_column}" if corpus_column else ""
            rows.append(f"clips/{clip.name},{emotion},{speaker}{extra}")
    path = folder / "manifest.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _config(tmp_path: Path, target: str = "corpus == 'urdu_talk'", **extra: object) -> Path:
    """Two CSV corpora whose files are both called manifest.csv, keyed in the config."""
    corpus = {
        "loader": "csv",
        "options": {"columns": {"file": "path", "emotion": "label", "speaker": "spk"}},
    }
    config = {
        "name": "two-manifests",
        "output": "run",
        "corpora": {
            "acted_lab": {**corpus, "path": str(_manifest(tmp_path / "lab"))},
            "urdu_talk": {**corpus, "path": str(_manifest(tmp_path / "talk"))},
        },
        "features": {"set": "egemaps", "cache_dir": "cache", "jobs": 1},
        "labels": {"space": None, "column": "emotion"},
        "pairs": [{"name": "lab->talk", "source": "corpus == 'acted_lab'", "target": target}],
        "protocol": {"name": "cross_domain", "target_test_fraction": 0.5},
        "methods": {"source_only": {"max_epochs": 3}},
        "trials": 1,
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def no_extraction(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fails the test's extraction: every file an extractor would read is recorded."""
    extracted: list[str] = []

    def extract(self: _FileJob, path: str) -> np.ndarray:
        extracted.append(path)
        raise AssertionError(f"extracted {path}")

    monkeypatch.setattr(_FileJob, "extract", extract)
    return extracted


def test_csv_corpora_are_named_by_their_config_key(tmp_path):
    config = load_config(_config(tmp_path))
    table = load_corpora(config, progress=False)
    assert table.groupby("corpus").size().to_dict() == {"acted_lab": 8, "urdu_talk": 8}
    assert set(table.loc[table.corpus == "urdu_talk", "speaker"]) == {
        f"urdu_talk_{s}" for s in range(4)
    }


def test_a_csv_corpus_column_or_option_says_otherwise(tmp_path):
    path = _config(tmp_path)
    config = yaml.safe_load(path.read_text())
    config["corpora"]["acted_lab"]["path"] = str(_manifest(tmp_path / "own", "emodb"))
    config["corpora"]["urdu_talk"]["options"]["corpus"] = "urdu"
    path.write_text(yaml.safe_dump(config))
    table = load_corpora(load_config(path), progress=False)
    assert sorted(set(table["corpus"])) == ["emodb", "urdu"]
    assert "emodb_0" in set(table["speaker"])


def test_an_empty_query_lists_the_values_of_its_column(tmp_path, capsys):
    assert main(["run", str(_config(tmp_path, target="corpus == 'manifest'")), "--dry-run"]) == 2
    error = capsys.readouterr().err
    assert "config.pairs[0] ('lab->talk')" in error
    assert "domain query \"corpus == 'manifest'\" selects no rows of 16" in error
    assert "column 'corpus' holds 2 value(s): 'acted_lab' (8 rows), 'urdu_talk' (8 rows)" in error


def test_dry_run_reports_a_bad_query_before_extracting_anything(tmp_path, capsys, no_extraction):
    path = _config(tmp_path, target="corpus == 'urdu_talk' and speaker == 'nobody'")
    assert main(["run", str(path), "--dry-run"]) == 2
    error = capsys.readouterr().err
    assert "selects no rows" in error and "column 'speaker' holds 8 value(s)" in error
    assert no_extraction == []
    assert not (tmp_path / "cache").exists()


def test_dry_run_extracts_nothing_then_matches_the_run_it_predicts(
    tmp_path, capsys, monkeypatch, no_extraction
):
    path = _config(tmp_path)
    assert main(["run", str(path), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert (
        "1 trial(s) in 'two-manifests'; 16 of 16 audio file(s) have no cached features" in printed
    )
    assert "todo  ------------  source_only" in printed
    assert no_extraction == [] and not list((tmp_path / "cache").rglob("*.npy"))

    monkeypatch.undo()  # extraction allowed again: the real run, logged (not a terminal)
    monkeypatch.delenv("EMOSHIFT_PROGRESS", raising=False)
    monkeypatch.setenv("EMOSHIFT_PROGRESS_EVERY", "0")
    assert main(["run", str(path)]) == 0
    printed, logged = capsys.readouterr()
    assert "eGeMAPSv02 features: 1/16 files (6%), " in logged
    assert "eGeMAPSv02 features: 16/16 files (100%) in " in logged
    assert "two-manifests trials: 1/1 trials (100%) in " in logged
    assert "two-manifests: target test scores, mean ± std over trials" in printed
    rows = [line for line in printed.splitlines() if line.startswith("|")]
    assert "| variant |" in rows[0] and "| uar |" in rows[0]
    assert any("| source_only |" in row and "| lab->talk |" in row for row in rows[2:])
    assert f"report: {tmp_path / 'run' / 'report' / 'report.html'}" in printed

    assert main(["run", str(path), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert (
        "1 already finished" in printed
        and "the features of all 16 audio file(s) are cached" in printed
    )
    assert printed.splitlines()[1].startswith("done")

    shutil.rmtree(tmp_path / "cache")  # features gone: finished trials cannot be matched
    assert main(["run", str(path), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "which of the 1 trial(s) finished in" in printed
    assert printed.splitlines()[1].startswith("?     ------------  source_only")


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"methods": {"source_only": {"max_epochs": 3, "device": "cuda:99"}}}, "methods"),
        ({"methods": {"source_only": {"device": ["cpu", "cuda:99"]}}}, "methods"),
        ({"features": {"set": "ssl", "model": "ckpt", "device": "cuda:99"}}, "features"),
    ],
)
@pytest.mark.parametrize("command", ["run", "dry run", "train"])
def test_a_device_torch_cannot_use_here_is_named_before_any_data_is_read(
    tmp_path, capsys, no_extraction, extra, field, command
):
    """``device: cuda:99`` (no machine has it) passed the config and failed every trial at
    fit time. Now run, --dry-run and train refuse it first, naming the field; the corpora
    are never read and no run folder is made."""
    config = _config(tmp_path, **extra)
    for manifest in tmp_path.glob("*/manifest.csv"):
        manifest.unlink()  # reading a corpus now would fail with another error
    args = {
        "run": ["run", str(config)],
        "dry run": ["run", str(config), "--dry-run"],
        "train": ["train", str(config), "--method", "source_only", "--out", str(tmp_path / "m")],
    }[command]
    assert main(args) == 2
    error = capsys.readouterr().err
    where = "source_only.device" if field == "methods" else "device"
    assert f"config.{field}.{where}: device 'cuda:99':" in error
    assert "use --device cpu or auto (device: cpu in a config)" in error or "name one" in error
    assert not (tmp_path / "run").exists() and not (tmp_path / "m").exists()


@pytest.mark.bad_input
def test_a_pair_query_on_label_says_which_columns_train_may_read(tmp_path, capsys, no_extraction):
    """``train`` chooses a pair's rows before labelling (it keeps unlabelled target rows),
    so a query on ``label`` met "unknown column(s) ['label']" although ``run`` accepts
    it. The error now says why and which columns to use; ``run --dry-run`` still runs it."""
    path = _config(tmp_path, target="corpus == 'urdu_talk' and label == 'anger'")
    assert main(["run", str(path), "--dry-run"]) == 0
    capsys.readouterr()
    args = ["train", str(path), "--method", "source_only", "--out", str(tmp_path / "m")]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert (
        "pair 'lab->talk': the target query \"corpus == 'urdu_talk' and label == 'anger'\"" in error
    )
    assert "reads 'label', which labelling adds after emoshift train has chosen" in error
    assert "may use the corpus table's columns ['file', " in error and "'emotion'" in error
    assert "select on emotion instead" in error
    assert no_extraction == [] and not (tmp_path / "m").exists()
