"""The feature cache, parallel extraction with error reporting, and the CLI."""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emoshift.cli import features as features_cli
from emoshift.data.table import make_table, write_table
from emoshift.features import (
    AudioError,
    FeatureCache,
    SkippedFilesWarning,
    default_cache_dir,
    extract_features,
    get_extractor,
    hash_config,
    hash_file,
)
from emoshift.features import cache as cache_module


def tone(sample_rate: int = 16000, seconds: float = 1.0, f0: float = 150.0) -> np.ndarray:
    """A few harmonics of ``f0`` under a raised-sine amplitude envelope."""
    t = np.arange(int(round(sample_rate * seconds))) / sample_rate
    harmonics = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 5))
    return (harmonics * np.sin(np.pi * t / seconds) ** 2).astype(np.float32)


@pytest.fixture
def corpus(tmp_path: Path) -> dict:
    """Four usable files (one 44.1 kHz stereo) and three unusable ones, in a corpus table."""
    folder = tmp_path / "audio"
    folder.mkdir()
    good = []
    for i, f0 in enumerate((120.0, 180.0, 240.0)):
        path = folder / f"good{i}.wav"
        sf.write(path, tone(seconds=0.6 + 0.2 * i, f0=f0), 16000)
        good.append(str(path))
    stereo = folder / "good_stereo44k.wav"
    sf.write(stereo, np.stack([tone(44100, 0.7, 200.0)] * 2, axis=1), 44100)
    good.append(str(stereo))
    empty, silent, corrupt = folder / "empty.wav", folder / "silent.wav", folder / "corrupt.wav"
    empty.write_bytes(b"")
    sf.write(silent, np.zeros(8000, dtype=np.float32), 16000)
    corrupt.write_bytes(b"RIFF not really a wave file" * 50)
    bad = [str(empty), str(silent), str(corrupt)]
    files = [good[0], bad[0], good[1], bad[1], good[2], bad[2], good[3]]
    table = make_table([{"file": f, "corpus": "demo"} for f in files])
    table.index = [f"utt{i}" for i in range(len(files))]
    return {"table": table, "good": good, "bad": bad, "cache": tmp_path / "cache"}


def entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("*/*.npy")) if cache_dir.exists() else []


# ---------------------------------------------------------------- cache


def test_hash_file_reads_in_chunks(tmp_path: Path) -> None:
    data = np.random.default_rng(1).bytes(10_007)
    (tmp_path / "blob").write_bytes(data)
    assert hash_file(tmp_path / "blob", chunk_size=64) == hashlib.sha256(data).hexdigest()


def test_default_cache_dir_follows_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EMOSHIFT_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("EMOSHIFT_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "emoshift"


def test_cache_layout_and_round_trip(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    key = cache.key("0" * 64, hash_config({"kind": "x"}))
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = cache.put(key, array)
    assert path == tmp_path / key[:2] / f"{key}.npy"
    np.testing.assert_array_equal(cache.get(key), array)
    assert cache.key("0" * 64, hash_config({"kind": "y"})) != key


def test_crash_during_write_leaves_no_entry(tmp_path: Path, monkeypatch) -> None:
    cache = FeatureCache(tmp_path)
    key = cache.key("1" * 64, "2" * 64)

    def crash(source, target):
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(cache_module.os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        cache.put(key, np.ones(5, dtype=np.float32))
    monkeypatch.undo()
    assert cache.get(key) is None
    assert entries(tmp_path) == []
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_leftover_temporary_file_is_not_an_entry(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    key = cache.key("3" * 64, "4" * 64)
    cache.path(key).parent.mkdir(parents=True)
    (cache.path(key).parent / f".{key}.abc123.tmp").write_bytes(b"\x93NUMPY half")
    assert cache.get(key) is None and entries(tmp_path) == []


def test_truncated_entry_is_a_miss_and_rewritten(corpus: dict) -> None:
    files = corpus["good"][:1]
    first = extract_features(files, "egemaps", cache_dir=corpus["cache"], n_jobs=1)
    (entry,) = entries(corpus["cache"])
    entry.write_bytes(entry.read_bytes()[:100])
    again = extract_features(files, "egemaps", cache_dir=corpus["cache"], n_jobs=1)
    assert (again.n_extracted, again.n_cached) == (1, 0)
    pd.testing.assert_frame_equal(first.features, again.features)
    third = extract_features(files, "egemaps", cache_dir=corpus["cache"], n_jobs=1)
    assert (third.n_extracted, third.n_cached) == (0, 1)


# ---------------------------------------------------------------- extraction


def test_skip_reports_bad_files_by_name(corpus: dict) -> None:
    table = corpus["table"]
    with pytest.warns(SkippedFilesWarning) as caught:
        result = extract_features(table, "egemaps", cache_dir=corpus["cache"], n_jobs=1)
    message = str(caught[0].message)
    assert all(bad in message for bad in corpus["bad"])
    assert list(result.errors) == corpus["bad"]
    assert "empty" in result.errors[corpus["bad"][0]]
    assert "silent" in result.errors[corpus["bad"][1]]
    assert "cannot be decoded" in result.errors[corpus["bad"][2]]
    assert result.features.shape == (4, 88)
    assert list(result.features.index) == ["utt0", "utt2", "utt4", "utt6"]
    assert result.files == corpus["good"]
    assert (result.n_extracted, result.n_cached, result.n_skipped) == (4, 0, 3)
    assert len(entries(corpus["cache"])) == 4
    assert all(bad in result.summary() for bad in corpus["bad"])


def test_second_run_extracts_nothing(corpus: dict) -> None:
    files = corpus["good"]
    first = extract_features(files, "egemaps", cache_dir=corpus["cache"], n_jobs=1)
    second = extract_features(files, "egemaps", cache_dir=corpus["cache"], n_jobs=1)
    assert (first.n_extracted, first.n_cached) == (4, 0)
    assert (second.n_extracted, second.n_cached) == (0, 4)
    pd.testing.assert_frame_equal(first.features, second.features)
    assert list(second.features.index) == files


def test_cache_is_content_addressed(corpus: dict, tmp_path: Path) -> None:
    source = Path(corpus["good"][0])
    extract_features([source], "egemaps", cache_dir=corpus["cache"], n_jobs=1)
    moved = tmp_path / "renamed.wav"
    moved.write_bytes(source.read_bytes())
    assert extract_features([moved], "egemaps", cache_dir=corpus["cache"], n_jobs=1).n_cached == 1
    other = extract_features([moved], "gemaps", cache_dir=corpus["cache"], n_jobs=1)
    assert other.n_extracted == 1


def test_raise_names_the_file_and_keeps_earlier_work(corpus: dict) -> None:
    table = corpus["table"]
    with pytest.raises(AudioError, match=str(corpus["bad"][0])):
        extract_features(table, "egemaps", cache_dir=corpus["cache"], n_jobs=1, on_error="raise")
    assert len(entries(corpus["cache"])) == 1
    with pytest.warns(SkippedFilesWarning):
        rerun = extract_features(table, "egemaps", cache_dir=corpus["cache"], n_jobs=1)
    assert (rerun.n_cached, rerun.n_extracted) == (1, 3)


@pytest.mark.parametrize(("which", "problem"), [(0, "empty"), (1, "silent"), (2, "decoded")])
def test_raise_mode_names_each_kind_of_bad_file(corpus: dict, which: int, problem: str) -> None:
    bad = corpus["bad"][which]
    with pytest.raises(AudioError, match=f"{bad}: .*{problem}"):
        extract_features(
            [corpus["good"][0], bad],
            "logmel",
            cache_dir=corpus["cache"],
            n_jobs=1,
            on_error="raise",
        )


def test_parallel_matches_serial_and_reports_errors(corpus: dict, tmp_path: Path) -> None:
    table = corpus["table"]
    with pytest.warns(SkippedFilesWarning):
        serial = extract_features(table, "egemaps", cache_dir=tmp_path / "c1", n_jobs=1)
    with pytest.warns(SkippedFilesWarning):
        parallel = extract_features(table, "egemaps", cache_dir=tmp_path / "c2", n_jobs=2)
    pd.testing.assert_frame_equal(serial.features, parallel.features)
    assert parallel.errors == serial.errors and parallel.n_extracted == 4
    with pytest.raises(AudioError, match="audio"):
        extract_features(table, "logmel", cache_dir=tmp_path / "c3", n_jobs=2, on_error="raise")


def test_logmel_extraction_gives_frame_arrays(corpus: dict) -> None:
    files = corpus["good"]
    result = extract_features(files, "logmel", cache_dir=corpus["cache"], n_jobs=1)
    durations = [0.6, 0.8, 1.0, 0.7]
    assert [a.shape for a in result.features] == [
        (1 + (round(16000 * d) - 400) // 160, 41) for d in durations
    ]
    assert result.feature_names[-1] == "log_energy"
    again = extract_features(files, get_extractor("logmel"), cache_dir=corpus["cache"], n_jobs=1)
    assert again.n_cached == 4
    for a, b in zip(result.features, again.features, strict=True):
        np.testing.assert_array_equal(a, b)


def test_argument_errors(corpus: dict) -> None:
    with pytest.raises(ValueError, match="on_error must be"):
        extract_features(corpus["good"], "egemaps", on_error="ignore")
    with pytest.raises(ValueError, match="no 'file' column"):
        extract_features(pd.DataFrame({"path": corpus["good"]}), "egemaps")
    with pytest.raises(ValueError, match="n_jobs"):
        extract_features(corpus["good"], "egemaps", n_jobs=0)


# ---------------------------------------------------------------- CLI


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="emoshift")
    parser.add_argument("--version")
    features_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["features", *argv])
    return args.func(args)


def test_cli_writes_functionals_and_summary(corpus: dict, tmp_path: Path, capsys) -> None:
    table_path = write_table(corpus["table"], tmp_path / "table.parquet")
    out = tmp_path / "out" / "features.parquet"
    args = [str(table_path), "--set", "egemaps", "--out", str(out)]
    args += ["--cache-dir", str(corpus["cache"]), "--jobs", "1"]
    assert run_cli(*args) == 0
    printed = capsys.readouterr().out
    assert "4 extracted, 0 from cache), 3 skipped" in printed
    assert all(bad in printed for bad in corpus["bad"])
    frame = pd.read_parquet(out)
    assert frame.shape == (4, 89) and list(frame["file"]) == corpus["good"]
    assert run_cli(*args) == 0
    assert "0 extracted, 4 from cache" in capsys.readouterr().out


def test_cli_logmel_npz_and_raise(corpus: dict, tmp_path: Path, capsys) -> None:
    table_path = write_table(corpus["table"], tmp_path / "table.parquet")
    out = tmp_path / "frames.npz"
    common = ["--cache-dir", str(corpus["cache"]), "--jobs", "1"]
    assert run_cli(str(table_path), "--set", "logmel", "--out", str(out), *common) == 0
    with np.load(out) as saved:
        assert list(saved["files"]) == corpus["good"]
        assert saved["frames"].shape == (int(saved["lengths"].sum()), 41)
    with pytest.raises(ValueError, match="must end in .npz"):
        run_cli(str(table_path), "--set", "logmel", "--out", str(tmp_path / "f.parquet"))
    with pytest.raises(AudioError, match="empty.wav"):
        run_cli(
            str(table_path), "--out", str(tmp_path / "x.parquet"), "--on-error", "raise", *common
        )
    assert not os.path.exists(tmp_path / "x.parquet")
