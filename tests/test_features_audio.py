"""Audio reading and the extractors: resampling, mixdown, bad files, feature dimensions."""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import opensmile
import pytest
import soundfile as sf

from emoshift.features import (
    AudioError,
    Functionals,
    LogMel,
    get_extractor,
    hash_config,
    mel_filters,
    n_frames,
    read_audio,
)


def tone(sample_rate: int = 16000, seconds: float = 1.0, f0: float = 150.0) -> np.ndarray:
    """A few harmonics of ``f0`` under a raised-sine amplitude envelope."""
    t = np.arange(int(round(sample_rate * seconds))) / sample_rate
    harmonics = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 5))
    return (harmonics * np.sin(np.pi * t / seconds) ** 2).astype(np.float32)


def test_read_audio_returns_mono_float32(tmp_path: Path) -> None:
    sf.write(tmp_path / "a.wav", tone(), 16000, subtype="FLOAT")
    signal = read_audio(tmp_path / "a.wav")
    assert signal.dtype == np.float32 and signal.shape == (16000,)
    np.testing.assert_allclose(signal, tone(), atol=1e-6)


def test_resampling_44k_gives_the_16k_length_and_waveform(tmp_path: Path) -> None:
    sf.write(tmp_path / "16k.wav", tone(16000, 1.3), 16000)
    sf.write(tmp_path / "44k.wav", tone(44100, 1.3), 44100)
    reference = read_audio(tmp_path / "16k.wav")
    resampled = read_audio(tmp_path / "44k.wav")
    assert abs(len(resampled) - len(reference)) <= 1
    n = min(len(reference), len(resampled))
    assert np.corrcoef(reference[:n], resampled[:n])[0, 1] > 0.999


def test_resampling_to_another_target_rate(tmp_path: Path) -> None:
    sf.write(tmp_path / "a.wav", tone(16000, 0.5), 16000)
    assert len(read_audio(tmp_path / "a.wav", sample_rate=8000)) == 4000


def test_stereo_is_mixed_down_by_averaging(tmp_path: Path) -> None:
    left = tone()
    sf.write(tmp_path / "stereo.wav", np.stack([left, 0.5 * left], axis=1), 16000, "FLOAT")
    np.testing.assert_allclose(read_audio(tmp_path / "stereo.wav"), 0.75 * left, atol=1e-6)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _no_samples(path: Path) -> None:
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)


def _silent(path: Path) -> None:
    sf.write(path, np.zeros(16000, dtype=np.float32), 16000)


def _corrupt(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(4000))


def _nan(path: Path) -> None:
    signal = tone()
    signal[100] = np.nan
    sf.write(path, signal, 16000, subtype="FLOAT")


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_empty, "empty (0 bytes)"),
        (_no_samples, "no samples"),
        (_silent, "silent"),
        (_corrupt, "cannot be decoded"),
        (_nan, "NaN or infinite"),
    ],
)
def test_unusable_files_raise_audio_error_naming_the_file(tmp_path: Path, make, problem) -> None:
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError) as info:
        read_audio(path)
    assert str(path) in str(info.value) and problem in str(info.value)
    assert "drop the row" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_file_raises_audio_error(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="does not exist"):
        read_audio(tmp_path / "nowhere.wav")


@pytest.mark.parametrize(
    ("name", "canonical", "dims"),
    [
        ("egemaps", "eGeMAPSv02", 88),
        ("GeMAPSv01b", "GeMAPSv01b", 62),
        ("is10", "IS10_paraling", 1582),
        ("compare", "ComParE_2016", 6373),
        ("emobase", "emobase", 988),
    ],
)
def test_functionals_dimensions(name: str, canonical: str, dims: int) -> None:
    extractor = get_extractor(name)
    assert isinstance(extractor, Functionals) and extractor.name == canonical
    values = extractor(tone(), 16000)
    assert values.shape == (dims,) and values.dtype == np.float32
    assert np.all(np.isfinite(values))
    assert len(extractor.feature_names) == dims
    json.dumps(extractor.config())


def test_functionals_from_a_config_file_match_the_standard_set() -> None:
    package = Path(opensmile.__file__).parent / "core" / "config"
    conf = package / f"{opensmile.FeatureSet.eGeMAPSv02.value}.conf"
    custom = get_extractor(str(conf))
    assert custom.name == "config:eGeMAPSv02"
    assert len(custom.config()["config_sha256"]) == 64
    np.testing.assert_array_equal(custom(tone(), 16000), get_extractor("egemaps")(tone(), 16000))


def test_unknown_feature_set_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown feature extractor 'egemapz'.*'egemaps'"):
        get_extractor("egemapz")
    with pytest.raises(ValueError, match="valid names are .*ComParE_2016"):
        Functionals("IS99")
    with pytest.raises(ValueError, match="does not exist"):
        get_extractor("/no/such/file.conf")


def test_functionals_reject_too_short_and_wrong_rate_signals() -> None:
    extractor = get_extractor("egemaps")
    with pytest.raises(AudioError, match="too short"):
        extractor(tone(seconds=0.05), 16000)
    with pytest.raises(ValueError, match="expects signals at 16000 Hz"):
        extractor(tone(8000), 8000)


@pytest.mark.parametrize("n_samples", [16000, 20123, 399, 400, 560])
def test_logmel_shape_and_frame_count(n_samples: int) -> None:
    frames = get_extractor("logmel")(tone(seconds=n_samples / 16000), 16000)
    expected = max(1, 1 + (n_samples - 400) // 160)
    assert frames.shape == (expected, 41) == (n_frames(n_samples), 41)
    assert frames.dtype == np.float32 and np.all(np.isfinite(frames))


def test_logmel_values_are_log_mel_power_and_log_energy() -> None:
    t = np.arange(8000) / 16000
    signal = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    frames = LogMel()(signal, 16000)
    centres = librosa.mel_frequencies(n_mels=42, fmax=8000)[1:-1]
    assert np.argmax(frames[10, :40]) == np.argmin(np.abs(centres - 1000))
    first = signal[:400].astype(np.float64)
    np.testing.assert_allclose(frames[0, 40], np.log(np.sum(first**2) + 1e-10), rtol=1e-5)


@pytest.mark.parametrize(
    ("sample_rate", "n_fft", "n_mels", "fmin", "fmax"),
    [(16000, 512, 40, 0.0, None), (16000, 512, 64, 50.0, 7600.0), (22050, 1024, 80, 0.0, None)],
)
def test_mel_filters_equal_librosa(sample_rate, n_fft, n_mels, fmin, fmax) -> None:
    expected = librosa.filters.mel(
        sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float64
    )
    np.testing.assert_allclose(
        mel_filters(sample_rate, n_fft, n_mels, fmin, fmax), expected, rtol=1e-9, atol=1e-15
    )


def test_logmel_config_describes_options() -> None:
    assert get_extractor("logmel").feature_names[-1] == "log_energy"
    default, wide = get_extractor("logmel"), get_extractor("logmel", n_mels=64)
    assert hash_config(default.config()) != hash_config(wide.config())
    assert wide(tone(), 16000).shape[1] == 65
