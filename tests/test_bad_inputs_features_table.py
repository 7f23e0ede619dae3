"""``emoshift features`` on a table CSV (issue 11, item 6): empty tables and tables without
a file column are named, relative paths start at the CSV's folder, duplicates go once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emoshift.cli import main


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """``tables/clips/{0,1}.wav`` next to where the table CSVs go; the cwd is elsewhere."""
    clips = tmp_path / "tables" / "clips"
    clips.mkdir(parents=True)
    t = np.arange(16000) / 16000
    for i in range(2):
        signal = 0.3 * np.sin(2 * np.pi * (140 + 60 * i) * t) * np.hanning(16000)
        sf.write(clips / f"{i}.wav", signal, 16000)
    return tmp_path / "tables"


def _features(table: Path, out: Path) -> int:
    cache = table.parent / "cache"
    return main(
        ["features", str(table), "--out", str(out), "--jobs", "1", "--cache-dir", str(cache)]
    )


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "corpus table {table} is empty (no header, no rows)"),
        ("file,corpus\n", "corpus table {table} has no rows"),
        (
            "path,corpus\nclips/0.wav,d\n",
            "corpus table {table} has no 'file' column (its columns: ['path', 'corpus'])",
        ),
        ("file,corpus\nclips/0.wav,d\n,d\n", "{table}: 1 row(s) have no 'file' path (lines [3])"),
    ],
    ids=["empty", "header-only", "no-file-column", "row-without-file"],
)
def test_unusable_table_csv_is_named(folder, tmp_path, capsys, content, expected):
    table = folder / "table.csv"
    table.write_text(content)
    assert _features(table, tmp_path / "f.parquet") == 2
    captured = capsys.readouterr()
    assert expected.format(table=table) in captured.err
    assert "Traceback" not in captured.err and not (tmp_path / "f.parquet").exists()


@pytest.mark.bad_input
def test_relative_paths_start_at_the_csv_folder(folder, tmp_path, monkeypatch, capsys):
    table = folder / "relative.csv"
    table.write_text("file,corpus\nclips/0.wav,d\nclips/1.wav,d\n")
    monkeypatch.chdir(tmp_path)  # clips/ does not exist here
    out = tmp_path / "f.parquet"
    assert _features(table, out) == 0
    written = pd.read_parquet(out)
    assert written["file"].tolist() == [str(folder / "clips" / f"{i}.wav") for i in range(2)]
    assert "0 skipped" in capsys.readouterr().out


@pytest.mark.bad_input
def test_duplicate_rows_are_written_once_with_a_warning(folder, tmp_path, capsys):
    table = folder / "dupes.csv"
    table.write_text("file,corpus\nclips/0.wav,d\nclips/1.wav,d\nclips/0.wav,d\nclips/0.wav,d\n")
    out = tmp_path / "f.csv"
    assert _features(table, out) == 0
    written = pd.read_csv(out)
    assert written["file"].tolist() == [str(folder / "clips" / f"{i}.wav") for i in range(2)]
    err = capsys.readouterr().err
    assert f"{table}: dropped 2 duplicate row(s)" in err
