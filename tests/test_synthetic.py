"""Tests of the synthetic emotional-speech corpus (emoshift.data.synthetic, emoshift synth)."""

from __future__ import annotations

import os
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emoshift.cli import main as cli_main
from emoshift.data.synthetic import (
    DOMAINS,
    MANIFEST_NAME,
    PRESETS,
    TABLE_NAME,
    SyntheticDomain,
    generate_corpus,
    generate_preset,
)
from emoshift.data.table import read_table, validate_table


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("tiny")
    return out, generate_preset(out, "tiny", seed=0, progress=False)


@pytest.fixture(scope="module")
def acted(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """A few more acted utterances per emotion, for the prosody checks."""
    out = tmp_path_factory.mktemp("acted")
    return generate_corpus(
        out,
        seed=3,
        domains=("acted",),
        speakers_per_domain=2,
        utterances_per_emotion=4,
        progress=False,
    )


def _relative_bytes(out: Path, table: pd.DataFrame) -> dict[str, bytes]:
    return {str(Path(f).relative_to(out)): Path(f).read_bytes() for f in table["file"].astype(str)}


def _median_f0(path: str) -> float:
    audio, sr = sf.read(path)
    f0 = librosa.yin(audio, fmin=60, fmax=500, sr=sr, frame_length=1024, hop_length=256)
    rms = librosa.feature.rms(y=audio, frame_length=1024, hop_length=256)[0][: len(f0)]
    voiced = rms > 0.3 * rms.max()
    return float(np.median(np.log2(f0[: len(rms)][voiced])))


def _rms_db(path: str) -> float:
    audio, _ = sf.read(path)
    return float(10 * np.log10(np.mean(audio**2)))


def test_table_validates_and_is_labelled_synthetic(tiny):
    out, table = tiny
    checked = validate_table(table)
    preset = PRESETS["tiny"]
    per_domain = preset["speakers_per_domain"] * preset["utterances_per_emotion"] * 4
    assert len(checked) == per_domain * len(preset["domains"])
    assert set(table["corpus"]) == {"synthetic"}
    assert set(table["elicitation"]) == {"acted", "spontaneous"}
    assert set(table["domain"]) == {"acted", "spontaneous"}
    assert set(table["gender"]) == {"female", "male"}
    assert set(table["emotion"]) == {"anger", "happiness", "sadness", "neutral"}
    speakers = table.groupby("speaker")["domain"].nunique()
    assert (speakers == 1).all(), "speaker ids must be unique across domains"
    for dim in ("arousal", "valence", "dominance"):
        assert table[dim].between(-1, 1).all()
        np.testing.assert_allclose(table[f"{dim}_raw"], 3 + 2 * table[dim])
    assert (out / TABLE_NAME).is_file() and (out / MANIFEST_NAME).is_file()
    pd.testing.assert_frame_equal(read_table(out / TABLE_NAME), table)


def test_files_are_16k_mono_pcm16_and_not_silent(tiny):
    _, table = tiny
    for path, duration in zip(table["file"], table["duration"], strict=True):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.duration == pytest.approx(duration, abs=1e-3)
        assert 1.0 < duration < 3.2
        audio, _ = sf.read(path)
        assert np.sqrt(np.mean(audio**2)) > 1e-3
        assert np.max(np.abs(audio)) < 1.0


def test_same_seed_gives_identical_files_in_any_order(tiny, tmp_path):
    out, table = tiny
    again = generate_corpus(
        tmp_path,
        seed=0,
        domains=("spontaneous", "acted"),
        speakers_per_domain=2,
        utterances_per_emotion=3,
        progress=False,
    )
    assert _relative_bytes(tmp_path, again) == _relative_bytes(out, table)
    columns = [c for c in table.columns if c != "file"]
    key = ["speaker", "emotion", "duration"]
    pd.testing.assert_frame_equal(
        again[columns].sort_values(key).reset_index(drop=True),
        table[columns].sort_values(key).reset_index(drop=True),
    )


def test_different_seed_gives_different_corpus(tiny, tmp_path):
    out, table = tiny
    other = generate_preset(tmp_path, "tiny", seed=1, progress=False)
    ours, theirs = _relative_bytes(out, table), _relative_bytes(tmp_path, other)
    assert ours.keys() == theirs.keys()
    assert all(ours[name] != theirs[name] for name in ours)
    assert not np.allclose(table["arousal"], other["arousal"])


def test_existing_corpus_is_reused(tiny, tmp_path):
    out, table = tiny
    first = Path(table["file"].iloc[0])
    stamp = first.stat().st_mtime_ns
    reused = generate_preset(out, "tiny", seed=0, progress=False)
    pd.testing.assert_frame_equal(reused, table)
    assert first.stat().st_mtime_ns == stamp

    small = generate_corpus(
        tmp_path,
        domains=("acted",),
        speakers_per_domain=1,
        utterances_per_emotion=1,
        progress=False,
    )
    victim = Path(small["file"].iloc[0])
    victim.unlink()
    regenerated = generate_corpus(
        tmp_path,
        domains=("acted",),
        speakers_per_domain=1,
        utterances_per_emotion=1,
        progress=False,
    )
    assert victim.is_file()
    pd.testing.assert_frame_equal(regenerated, small)
    bigger = generate_corpus(
        tmp_path,
        domains=("acted",),
        speakers_per_domain=1,
        utterances_per_emotion=2,
        progress=False,
    )
    assert len(bigger) == 2 * len(small)


def test_emotion_drives_prosody_in_acted_speech(acted):
    acted = acted.assign(
        f0=[_median_f0(f) for f in acted["file"]], level=[_rms_db(f) for f in acted["file"]]
    )
    # Compare within speaker: F0 in octaves, level in dB.
    by = acted.groupby(["speaker", "emotion"])[["f0", "level"]].mean().unstack("emotion")
    for high in ("anger", "happiness"):
        assert (by["f0"][high] - by["f0"]["sadness"] > 2 / 12).all(), by["f0"]
        assert (by["level"][high] - by["level"]["sadness"] > 3).all(), by["level"]
    assert (by["f0"]["neutral"] - by["f0"]["sadness"] > 0).all()
    arousal = acted.groupby("emotion")["arousal"].mean()
    assert arousal["anger"] > arousal["neutral"] > arousal["sadness"]


def test_spontaneous_labels_are_subtler_and_more_variable(tiny):
    _, table = tiny
    emotional = table[table["emotion"] != "neutral"]
    size = emotional.groupby("domain")["arousal"].apply(lambda a: a.abs().mean())
    assert size["spontaneous"] < size["acted"]
    spread = table.groupby(["domain", "emotion"])["valence"].std().groupby("domain").mean()
    assert spread["spontaneous"] > spread["acted"]


def test_domains_differ_in_channel(tiny):
    _, table = tiny

    def high_band_share(path: str) -> float:
        audio, sr = sf.read(path)
        spectrum = np.abs(np.fft.rfft(audio)) ** 2
        freqs = np.fft.rfftfreq(len(audio), 1 / sr)
        return float(spectrum[freqs > 4000].sum() / spectrum.sum())

    share = table.assign(share=[high_band_share(f) for f in table["file"]])
    median = share.groupby("domain")["share"].median()
    assert median["spontaneous"] < median["acted"] / 10, median
    assert share.loc[share["domain"] == "spontaneous", "share"].max() < median["acted"] / 10


def test_user_defined_domain(tmp_path):
    lab = SyntheticDomain(
        "lab",
        elicitation="improvised",
        band_hz=(100.0, 6000.0),
        snr_db=30.0,
        rt60_s=0.2,
        prototypes={"happiness": (0.3, 0.5, 0.1)},
        cue_gain={"tempo": 2.0},
        laughter=1.0,
        creak=1.0,
        agc=0.5,
        mu_law=True,
    )
    table = generate_corpus(
        tmp_path,
        domains=[lab, DOMAINS["acted"]],
        speakers_per_domain=1,
        utterances_per_emotion=1,
        emotions=("happiness", "fear"),
        progress=False,
    )
    validate_table(table)
    assert set(table["elicitation"]) == {"improvised", "acted"}
    assert table["speaker"].str.startswith("lab_").sum() == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"emotions": ("anger", "joy")}, "unknown emotion"),
        ({"emotions": ()}, "non-empty"),
        ({"emotions": "anger"}, "sequence"),
        ({"speakers_per_domain": 0}, "speakers_per_domain must be at least 1"),
        ({"utterances_per_emotion": 0}, "utterances_per_emotion must be at least 1"),
        ({"domains": ("acted", "studio")}, "unknown synthetic domain 'studio'"),
        ({"domains": ("acted", "acted")}, "unique"),
        ({"domains": ()}, "at least one"),
        ({"sample_rate": 4000}, "sample_rate"),
    ],
)
def test_bad_arguments_are_explained(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_corpus(tmp_path / "corpus", progress=False, **kwargs)
    assert not any(tmp_path.iterdir()), "nothing is written for bad arguments"


def test_bad_domain_definitions_are_explained():
    with pytest.raises(ValueError, match="unknown cue"):
        SyntheticDomain("x", cue_gain={"pitch": 2.0})
    with pytest.raises(ValueError, match="unknown emotion"):
        SyntheticDomain("x", prototypes={"joy": (0.5, 0.5, 0.0)})
    with pytest.raises(ValueError, match="in \\[-1, 1\\]"):
        SyntheticDomain("x", prototypes={"anger": (2.0, 0.0, 0.0)})
    with pytest.raises(ValueError, match="name"):
        SyntheticDomain("a b")
    with pytest.raises(ValueError, match="agc"):
        SyntheticDomain("x", agc=2.0)
    with pytest.raises(ValueError, match="expressiveness"):
        SyntheticDomain("x", expressiveness=(1.0, 0.5))
    with pytest.raises(ValueError, match="unknown synthetic preset"):
        generate_preset("/nonexistent", "huge")


def test_cli_generates_and_prints_the_table(tiny, capsys):
    out, table = tiny
    assert cli_main(["synth", str(out), "--preset", "tiny", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert str(out / TABLE_NAME) in printed
    assert f"{len(table)} utterances" in printed


def test_cli_rejects_bad_options(tmp_path, capsys):
    assert cli_main(["synth", str(tmp_path), "--speakers", "0", "--no-progress"]) == 2
    assert "speakers_per_domain" in capsys.readouterr().err
    assert not os.listdir(tmp_path)
