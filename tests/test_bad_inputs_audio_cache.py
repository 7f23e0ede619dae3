"""Bad audio and bad cache entries (issue 11, items 7 and 8).

A cache entry that loads but is wrong (shape, all NaN, dtype) is dropped, re-extracted and
warned about by audio file; extraction errors name the file; ``emoshift corpus info``
reports, per kind, the files that feature extraction will skip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from emoshift.cli import main
from emoshift.features.cache import FeatureCache, hash_config, hash_file
from emoshift.features.extract import (
    ExtractionError,
    InvalidCacheEntryWarning,
    SkippedFilesWarning,
    extract_features,
    get_extractor,
)


def _tone(seconds: float = 0.8, f0: float = 160.0) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * f0 * t) * np.hanning(t.size)).astype(np.float32)


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    path = tmp_path / "speech.wav"
    sf.write(path, _tone(), 16000)
    return path


def _entry_path(audio: Path, cache: Path, extractor: Any) -> Path:
    store = FeatureCache(cache)
    return store.path(store.key(hash_file(audio), hash_config(extractor.config())))


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("name", "bad_entry", "problem"),
    [
        ("egemaps", np.zeros(5, dtype=np.float32), "has shape (5,), not (88,)"),
        ("egemaps", np.full(88, np.nan, dtype=np.float32), "holds 88 NaN"),
        ("egemaps", np.zeros(88, dtype=np.int64), "has dtype int64, not float"),
        ("logmel", np.zeros((3, 7), dtype=np.float32), "has shape (3, 7), not (n_frames, 41)"),
        ("logmel", np.full((4, 41), np.nan, dtype=np.float32), "holds 164 NaN"),
    ],
    ids=["shape", "all-nan", "dtype", "frame-width", "frames-all-nan"],
)
def test_wrong_cache_entry_is_dropped_reextracted_and_named(
    audio, tmp_path, name, bad_entry, problem
):
    extractor = get_extractor(name)
    cache = tmp_path / "cache"
    good = extract_features([audio], extractor, cache_dir=cache, n_jobs=1, progress=False)
    entry = _entry_path(audio, cache, extractor)
    FeatureCache(cache).put(entry.stem, bad_entry)
    with pytest.warns(InvalidCacheEntryWarning) as caught:
        again = extract_features([audio], extractor, cache_dir=cache, n_jobs=1, progress=False)
    message = str(caught[0].message)
    assert str(audio) in message and str(entry) in message and problem in message
    assert again.n_extracted == 1 and again.n_cached == 0
    expected = good.features if name == "logmel" else [good.features.to_numpy()[0]]
    actual = again.features if name == "logmel" else [again.features.to_numpy()[0]]
    np.testing.assert_array_equal(actual[0], expected[0])
    np.testing.assert_array_equal(np.load(entry), expected[0])  # the entry is good again


class _Broken:
    """An extractor with a bug: it fails on every signal."""

    name = "broken"
    sample_rate = 16000
    frame_level = False
    feature_names = ["a", "b"]

    def config(self) -> dict:
        return {"kind": "broken"}

    def __call__(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        raise RuntimeError("band 7 is out of range")


class _Narrow(_Broken):
    """An extractor whose output is narrower than its feature_names say."""

    name = "narrow"

    def __call__(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        return np.zeros(1, dtype=np.float32)


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("extractor", "problem"),
    [
        (_Broken(), "extractor broken failed: RuntimeError('band 7 is out of range')"),
        (_Narrow(), "(1,), not (2,)"),
    ],
)
def test_extraction_error_names_the_audio_file(audio, tmp_path, extractor, problem):
    with pytest.raises(ExtractionError) as error:
        extract_features([audio], extractor, cache_dir=tmp_path / "c", n_jobs=1, progress=False)
    assert str(error.value).startswith(f"{audio}: ") and problem in str(error.value)


def _corpus_with_bad_audio(root: Path) -> Path:
    """An EmoDB-style folder: two good files and one of each kind features skips."""
    wav = root / "emodb" / "wav"
    wav.mkdir(parents=True)
    sf.write(wav / "03a01Wa.wav", _tone(), 16000)
    sf.write(wav / "03a02Fc.wav", _tone(f0=200.0), 16000)
    sf.write(wav / "08b01Tb.wav", np.zeros(16000, dtype=np.float32), 16000)  # silent
    nan = _tone()
    nan[100:200] = np.nan
    sf.write(wav / "08b10Na.wav", nan, 16000, subtype="FLOAT")  # NaN samples
    sf.write(wav / "08a01Na.wav", _tone(0.01), 16000)  # 10 ms
    sf.write(root / "full.wav", _tone(), 16000)
    (wav / "08a02Wa.wav").write_bytes((root / "full.wav").read_bytes()[:100])  # truncated
    return root / "emodb"


@pytest.mark.bad_input
def test_corpus_info_reports_what_features_will_skip_per_kind(tmp_path, capsys):
    corpus = _corpus_with_bad_audio(tmp_path)
    assert main(["corpus", "info", str(corpus), "--format", "emodb"]) == 1
    out = capsys.readouterr().out
    assert "problems: none found" not in out
    assert "problems: 1 silent audio file(s) (feature extraction skips them)" in out
    assert "problems: 1 audio file(s) with NaN or infinite samples" in out
    assert "problems: 1 audio file(s) shorter than 0.1 s" in out  # the 10 ms one
    assert "problems: 1 audio file(s) shorter than their header says (truncated)" in out
    for name in ("08b01Tb", "08b10Na", "08a01Na", "08a02Wa"):
        assert f"{name}.wav" in out
    files = sorted(str(p) for p in (corpus / "wav").glob("*.wav"))
    with pytest.warns(SkippedFilesWarning):
        result = extract_features(
            files, "egemaps", cache_dir=tmp_path / "c", n_jobs=1, progress=False
        )
    assert sorted(Path(f).stem for f in result.errors) == [
        "08a01Na",
        "08a02Wa",
        "08b01Tb",
        "08b10Na",
    ]


def test_corpus_info_audio_check_can_be_skipped(tmp_path, capsys):
    corpus = _corpus_with_bad_audio(tmp_path)
    assert main(["corpus", "info", str(corpus), "--format", "emodb", "--no-audio-check"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("problems: none found")
