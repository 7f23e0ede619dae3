"""``emoshift corpus info`` and ``emoshift corpus export`` through ``emoshift.cli.main``."""

from __future__ import annotations

import pytest
from fixtures_corpora import SHARED_DATA, make_csv, make_emodb, make_msp_podcast, make_ravdess

from emoshift.cli import main
from emoshift.data.table import read_table


def test_info_prints_counts_duration_rates_and_labels_per_speaker(tmp_path, capsys):
    assert main(["corpus", "info", str(make_emodb(tmp_path)), "--format", "emodb"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[:5] == [
        "corpus: emodb",
        "utterances: 4",
        "speakers: 2",
        "total duration: 0:00:00 (0.4 s)",
        "sample rates: 16000 Hz (4 files)",
    ]
    assert "emotion   anger  happiness  neutral  sadness  total" in out
    assert "emodb_03      1          1        0        0      2" in out
    assert out.rstrip().endswith("problems: none found")


def test_info_lists_what_is_wrong_and_exits_1(tmp_path, capsys):
    root = make_emodb(tmp_path, names=("03a01Xa.wav",))
    (root / "wav" / "08b10Na.wav").write_bytes(b"not audio")
    assert main(["corpus", "info", str(root), "--format", "emodb"]) == 1
    out = capsys.readouterr().out
    assert "problems: 1 file name(s) or label(s) outside the corpus's scheme (skipped)" in out
    assert "03a01Xa.wav: emotion letter 'X' not in EmoDB's scheme" in out
    assert "problems: 1 audio file(s) that could not be read" in out
    assert "08b10Na.wav" in out and "utterances: 3" in out


def test_info_shows_unlabelled_pool_and_labels_without_audio(tmp_path, capsys):
    root = make_msp_podcast(tmp_path)
    (root / "Audios" / "MSP-PODCAST_0001_0009.wav").unlink()
    assert main(["corpus", "info", str(root), "--format", "msp-podcast"]) == 1
    out = capsys.readouterr().out
    assert "utterances: 5" in out and "utterances without an emotion label: 3" in out
    assert "problems: 1 label entries without an audio file" in out
    assert "MSP-PODCAST_0001_0009.wav: in labels_consensus.csv, no audio" in out


def test_info_passes_loader_options(tmp_path, capsys):
    root = str(make_ravdess(tmp_path))
    assert main(["corpus", "info", root, "--format", "ravdess", "--option", "include_song=no"]) == 0
    assert "utterances: 3" in capsys.readouterr().out


def test_export_writes_parquet_and_csv(tmp_path, capsys):
    meta = make_csv(tmp_path)
    options = [
        "--option",
        "columns={file: path, emotion: label, speaker: spk}",
        "--option",
        "label_map={ang: anger, hap: happiness, neu: neutral}",
    ]
    for suffix in ("parquet", "csv"):
        out = tmp_path / f"table.{suffix}"
        assert (
            main(["corpus", "export", str(meta), "--format", "csv", "--out", str(out), *options])
            == 0
        )
        assert f"wrote 3 utterances of csv to {out}" in capsys.readouterr().out
        table = read_table(out)
        assert table["emotion"].tolist() == ["anger", "happiness", "neutral"]
        assert table["speaker"].tolist() == ["meta_p1", "meta_p1", "meta_p2"]


def test_errors_are_reported_with_exit_code_2(tmp_path, capsys):
    missing = tmp_path / "nothing"
    assert main(["corpus", "info", str(missing), "--format", "emodb"]) == 2
    assert f"emodb: corpus directory {missing} does not exist" in capsys.readouterr().err
    root = str(make_emodb(tmp_path))
    assert main(["corpus", "export", root, "--format", "emodb", "--out", "t.xlsx"]) == 2
    assert "must end in .parquet or .csv" in capsys.readouterr().err
    assert main(["corpus", "info", root, "--format", "semaine"]) == 2
    assert "unknown corpus format 'semaine'" in capsys.readouterr().err
    assert main(["corpus", "info", root, "--format", "emodb", "--option", "strict"]) == 2
    assert "is not KEY=VALUE" in capsys.readouterr().err


@pytest.mark.shared_data
def test_info_on_the_real_emodb_when_present(capsys):
    path = SHARED_DATA / "emodb"
    if not path.is_dir():
        pytest.skip(f"real corpus {path} absent; set EMOSHIFT_SHARED_DATA to its folder")
    assert main(["corpus", "info", str(path), "--format", "emodb"]) == 0
    out = capsys.readouterr().out
    assert "utterances: 535" in out and "speakers: 10" in out
    assert "emodb_16     14       14       11     7         11        5        9     71" in out
    assert out.rstrip().endswith("problems: none found")
