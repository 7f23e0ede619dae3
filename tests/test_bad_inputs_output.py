"""Unwritable output (issue 11, item 5): the run folder, ``features --out`` and ``corpus
export --out`` name the path and what to do, in one line, with a non-zero exit code."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from emoshift.cli import main
from emoshift.data.table import make_table, write_table


@pytest.fixture
def unwritable(tmp_path: Path):
    """A folder no new file can be created in (root ignores permission bits: use sysfs)."""
    if os.geteuid() == 0:
        if not Path("/sys/fs").is_dir():
            pytest.skip("running as root without /sys: no folder refuses root's writes")
        yield Path("/sys/fs/emoshift-unwritable")
        return
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder / "sub"
    folder.chmod(0o755)


@pytest.fixture
def clips(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "clips"
    folder.mkdir()
    t = np.arange(16000) / 16000
    paths = []
    for i in range(4):
        path = folder / f"{i}.wav"
        sf.write(path, 0.3 * np.sin(2 * np.pi * (120 + 40 * i) * t) * np.hanning(16000), 16000)
        paths.append(path)
    return paths


def _one_line_error(err: str, path: Path) -> None:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    assert "choose another location" in lines[0]


@pytest.mark.bad_input
def test_features_out_in_unwritable_folder(clips, tmp_path, unwritable, capsys):
    table = write_table(
        make_table([{"file": str(p), "corpus": "d"} for p in clips]), tmp_path / "t.csv"
    )
    out = unwritable / "features.parquet"
    code = main(
        [
            "features",
            str(table),
            "--out",
            str(out),
            "--jobs",
            "1",
            "--cache-dir",
            str(tmp_path / "c"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 2
    _one_line_error(captured.err, out)
    assert "--out" in captured.err
    assert "features" not in captured.out  # failed before any extraction
    assert not (tmp_path / "c").exists()


@pytest.mark.bad_input
def test_corpus_export_out_in_unwritable_folder(clips, tmp_path, unwritable, capsys):
    meta = tmp_path / "meta.csv"
    meta.write_text("path,label\n" + "".join(f"clips/{p.name},ang\n" for p in clips))
    out = unwritable / "table.parquet"
    argv = ["corpus", "export", str(meta), "--format", "csv", "--out", str(out)]
    code = main(
        [
            *argv,
            "--option",
            "columns={file: path, emotion: label}",
            "--option",
            "label_map={ang: anger}",
        ]
    )
    assert code == 2
    _one_line_error(capsys.readouterr().err, out)


@pytest.mark.bad_input
def test_run_folder_in_unwritable_folder(clips, tmp_path, unwritable, capsys):
    meta = tmp_path / "meta.csv"
    meta.write_text(
        "path,label,spk\n" + "".join(f"clips/{p.name},ang,{i % 2}\n" for i, p in enumerate(clips))
    )
    config = {
        "name": "unwritable",
        "corpora": {
            "d": {
                "loader": "csv",
                "path": str(meta),
                "options": {
                    "label_map": {"ang": "anger"},
                    "columns": {"file": "path", "emotion": "label", "speaker": "spk"},
                },
            }
        },
        "features": {"cache_dir": str(tmp_path / "cache"), "jobs": 1},
        "labels": {"space": None},
        "pairs": [{"source": "speaker == 'meta_0'", "target": "speaker == 'meta_1'"}],
        "methods": {"source_only": {}},
        "trials": 1,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    run_dir = unwritable / "run"
    assert main(["run", str(path), "--output", str(run_dir), "--no-report"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "emoshift run: error:" in err
    assert str(unwritable) in err and "choose another location" in err
