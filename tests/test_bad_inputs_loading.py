"""Tracebacks and silent results on the loading side turned into clear errors (issue 23):
loader options, CSV files that are empty or binary, a truncated WAV, a bundle's files
table with a non-numeric size, ``--jobs`` out of range, ``--device cuda`` without CUDA."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml
from test_bad_inputs_hangs import bundle, tone  # noqa: F401 - a shared fixture
from test_bundle import _rewrite_manifest

from emoshift.cli import main


@pytest.fixture
def corpus_csv(tmp_path: Path) -> Path:
    tone(tmp_path / "a.wav")
    tone(tmp_path / "b.wav", hz=240)
    path = tmp_path / "files.csv"
    path.write_text("file,emotion,speaker\na.wav,anger,1\nb.wav,neutral,2\n")
    return path


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.bad_input
def test_a_misspelt_loader_option_is_named_with_the_valid_ones(corpus_csv, capsys):
    args = ["corpus", "info", str(corpus_csv), "--format", "csv", "--option", "lables=x.csv"]
    assert main(args) == 2
    err = _error(capsys)
    assert "csv loader: unknown option 'lables'; its options are: columns, label_map" in err
    assert "strict, duration, report" in err


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty; a corpus CSV needs a header row"),
        (bytes(range(256)) * 4, "holds binary data"),
    ],
)
def test_an_empty_or_binary_csv_is_named(tmp_path, capsys, content, message):
    path = tmp_path / "labels.csv"
    path.write_bytes(content)
    assert main(["corpus", "info", str(path), "--format", "csv"]) == 2
    assert f"{path} {message}" in _error(capsys)


@pytest.mark.bad_input
def test_a_binary_file_as_a_predict_table_is_named(bundle, tmp_path, capsys):  # noqa: F811
    table = tmp_path / "inputs.csv"
    table.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)) * 8)
    out = tmp_path / "p.csv"
    assert main(["predict", str(bundle), str(table), "--out", str(out)]) == 2
    assert f"corpus table {table} cannot be read as csv table" in _error(capsys)


@pytest.mark.bad_input
def test_corpus_info_reports_a_truncated_wav_by_name(corpus_csv, capsys):
    whole = (corpus_csv.parent / "a.wav").read_bytes()
    (corpus_csv.parent / "a.wav").write_bytes(whole[: len(whole) // 3])
    assert main(["corpus", "info", str(corpus_csv), "--format", "csv"]) == 1
    out = capsys.readouterr().out
    assert "problems: none found" not in out
    assert "shorter than their header says (truncated)" in out
    assert f"{corpus_csv.parent / 'a.wav'}: audio file is truncated (it holds" in out


def test_a_streamed_wav_header_is_not_taken_for_truncation(tmp_path):
    """A WAV written to a pipe leaves 0xFFFFFFFF as its data size: unknown, not cut."""
    from emoshift.features.audio import read_audio  # noqa: PLC0415

    data = bytearray(tone(tmp_path / "a.wav").read_bytes())
    data[40:44] = (0xFFFFFFFF).to_bytes(4, "little")  # the data chunk's size field
    (tmp_path / "streamed.wav").write_bytes(data)
    assert read_audio(tmp_path / "streamed.wav").size == sf.info(tmp_path / "a.wav").frames


@pytest.mark.bad_input
@pytest.mark.parametrize("size", ["12kB", None, 1.5])
def test_a_bundle_files_table_with_a_non_numeric_size_is_named(bundle, tmp_path, size, capsys):  # noqa: F811
    import shutil  # noqa: PLC0415

    copy = Path(shutil.copytree(bundle, tmp_path / "model"))
    _rewrite_manifest(copy, lambda m: m["files"]["estimator.safetensors"].update(bytes=size))
    out = tmp_path / "p.csv"
    assert main(["predict", str(copy), str(tone(tmp_path / "a.wav")), "--out", str(out)]) == 2
    err = _error(capsys)
    assert f"files.estimator.safetensors.bytes is {size!r}, not a whole number" in err
    assert json.loads((copy / "manifest.json").read_text())["files"]


@pytest.mark.bad_input
@pytest.mark.parametrize("dry_run", [True, False])
def test_jobs_below_one_are_refused_before_any_data_is_read(tmp_path, capsys, dry_run):
    config = {
        "name": "jobs",
        "corpora": {"s": {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}},
        "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
        "methods": {"source_only": {"max_epochs": 1}},
    }
    path = tmp_path / "jobs.yaml"
    path.write_text(yaml.safe_dump(config))
    args = ["run", str(path), "--executor", "processes", "--jobs", "0"]
    assert main([*args, *(["--dry-run"] if dry_run else [])]) == 2
    assert "--jobs 0: give a positive number of trials to run at once, or -1" in _error(capsys)
    assert not (tmp_path / "corpus").exists()


def test_jobs_minus_one_is_one_trial_per_cpu(monkeypatch):
    from emoshift.experiment.runner import trial_workers  # noqa: PLC0415

    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert (trial_workers(-1, None), trial_workers(None, -1), trial_workers(None, None)) == (
        6,
        6,
        6,
    )
    assert trial_workers(None, 3) == 3 and trial_workers(2, 3) == 2


@pytest.mark.bad_input
@pytest.mark.skipif(torch.cuda.is_available(), reason="torch sees a CUDA GPU here")
def test_device_cuda_without_cuda_is_a_clear_error(bundle, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "p.csv"
    args = ["predict", str(bundle), str(tone(tmp_path / "a.wav")), "--out", str(out)]
    assert main([*args, "--device", "cuda"]) == 2
    err = _error(capsys)
    assert "device 'cuda':" in err and "use --device cpu or auto" in err
    assert not out.exists()


SELECTION_BASE = {
    "name": "sel",
    "corpora": {"s": {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}},
    "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
    "methods": {"dann": {"warmup_epochs": 1}},
    "baseline": None,
}


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("block", "shown"),
    [
        ({"grid": {}}, "{}"),
        ({"grid": {"lambda_max": [0.3]}}, "{'lambda_max': [0.3]}"),
        ({"epochs": [20]}, "{'max_epochs': [20]}"),
    ],
)
def test_a_selection_grid_that_selects_nothing_is_refused(block, shown):
    from emoshift.experiment.config import ConfigError, parse_config  # noqa: PLC0415

    raw = {**SELECTION_BASE, "selection": {"dann": {"scorer": "entropy", **block}}}
    with pytest.raises(ConfigError, match="select=...]' variant would select nothing") as error:
        parse_config(raw)
    assert f"config.selection.dann.grid: {shown} gives 1 point(s)" in str(error.value)


def test_a_selection_block_without_a_grid_still_records_the_score():
    """The accuracy benchmarks' label_target block has no grid on purpose."""
    from emoshift.experiment.config import parse_config, selection_grid  # noqa: PLC0415

    config = parse_config({**SELECTION_BASE, "selection": {"dann": {"scorer": "entropy"}}})
    assert selection_grid(config, "dann", {"warmup_epochs": 1}) == [{}]


@pytest.fixture(scope="module")
def twelve_clips(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("clips")
    return [str(tone(folder / f"{i}.wav", hz=150 + 15 * i)) for i in range(12)]


@pytest.mark.bad_input
def test_speaker_level_without_any_usable_speaker_is_refused(twelve_clips, tmp_path):
    from emoshift.experiment.features import table_features  # noqa: PLC0415

    table = pd.DataFrame({"file": twelve_clips, "corpus": "c", "speaker": [None] * 6 + ["a"] * 6})
    with pytest.raises(ValueError, match="features.level: speaker, but no speaker has 10") as error:
        table_features(table, "egemaps", level="speaker", cache_dir=tmp_path, n_jobs=1)
    assert "12 of 12 rows (6 without a speaker; speakers with fewer than 10 rows in their " in (
        str(error.value)
    )
    assert "domain: a)" in str(error.value) and "features.level: domain" in str(error.value)


@pytest.mark.bad_input
def test_rows_that_fall_back_to_their_domain_are_counted_in_a_warning(twelve_clips, tmp_path):
    from emoshift.experiment.features import (  # noqa: PLC0415
        SpeakerFallbackWarning,
        table_features,
    )

    table = pd.DataFrame({"file": twelve_clips, "corpus": "c", "speaker": ["a"] * 10 + ["b"] * 2})
    with pytest.warns(SpeakerFallbackWarning, match=r"2 of 12 rows \(0 without a speaker") as seen:
        kept, X = table_features(table, "egemaps", level="speaker", cache_dir=tmp_path, n_jobs=1)
    assert "fewer than 10 rows in their domain: b)" in str(seen[0].message)
    assert X.shape == (12, 88)
