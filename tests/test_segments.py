"""Utterance segments of longer recordings (issue 20: CreativeIT and NNIME at the utterance
level of the enriched-AAE paper): the traced loaders' ``segments: utterance`` mode, and
features that read only a row's span of its file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from paper_corpora import FOLDERS, make_paper_corpora

from emoshift.data.loaders import CorpusWarning, LoadReport, load_corpus
from emoshift.data.table import CorpusTableError, validate_table
from emoshift.experiment.config import load_config, parse_config
from emoshift.experiment.runner import run_experiment
from emoshift.experiment.store import read_jsonl
from emoshift.features import extract_features
from emoshift.features.audio import AudioError, read_audio
from emoshift.features.segments import row_names, split_name

RATE = 22050  # not the extractors' 16 kHz: a segment is cut before resampling


def _recording(path: Path, seconds: float, seed: int) -> np.ndarray:
    """A voiced-like signal whose pitch and loudness change over time, as float WAV."""
    t = np.arange(int(RATE * seconds)) / RATE
    rng = np.random.default_rng(seed)
    pitch = 120 + 60 * np.sin(2 * np.pi * t / seconds) + 20 * seed
    signal = (0.2 + 0.15 * np.sin(3 * t)) * np.sin(2 * np.pi * np.cumsum(pitch) / RATE)
    signal += rng.normal(0, 0.01, t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, signal, RATE, subtype="FLOAT")
    return signal.astype(np.float32)


# --- features of a segment -----------------------------------------------------------------


@pytest.mark.parametrize("feature_set", ["egemaps", "logmel"])
def test_segment_features_equal_those_of_the_audio_cut_into_its_own_file(tmp_path, feature_set):
    signal = _recording(tmp_path / "long.wav", 3.0, 0)
    spans = [(0.25, 1.1), (1.1, 2.75)]
    table = pd.DataFrame(
        {
            "file": [str(tmp_path / "long.wav")] * 2,
            "start": [s for s, _ in spans],
            "end": [e for _, e in spans],
        }
    )
    cut_files = []
    for number, (start, end) in enumerate(spans):
        cut_files.append(str(tmp_path / f"cut{number}.wav"))
        piece = signal[int(round(start * RATE)) : int(round(end * RATE))]
        sf.write(cut_files[-1], piece, RATE, subtype="FLOAT")
    cache = tmp_path / "cache"
    segments = extract_features(table, feature_set, cache_dir=cache, n_jobs=1, progress=False)
    cut = extract_features(cut_files, feature_set, cache_dir=cache, n_jobs=1, progress=False)
    whole = extract_features(
        [tmp_path / "long.wav"], feature_set, cache_dir=cache, n_jobs=1, progress=False
    )
    assert segments.n_extracted == 2 and not segments.errors
    if feature_set == "egemaps":
        np.testing.assert_array_equal(segments.features.to_numpy(), cut.features.to_numpy())
        assert not np.allclose(segments.features.iloc[0], segments.features.iloc[1])
        assert not np.allclose(segments.features.iloc[0], whole.features.iloc[0])
    else:
        for ours, theirs in zip(segments.features, cut.features, strict=True):
            np.testing.assert_array_equal(ours, theirs)
        assert len(whole.features[0]) > sum(len(f) for f in segments.features) - 5
    again = extract_features(table, feature_set, cache_dir=cache, n_jobs=1, progress=False)
    assert (again.n_cached, again.n_extracted) == (2, 0)  # one cache entry per span
    assert again.files == row_names(table)


def test_a_segment_past_the_end_of_its_file_is_skipped_and_named(tmp_path):
    _recording(tmp_path / "long.wav", 1.0, 1)
    table = pd.DataFrame(
        {"file": [str(tmp_path / "long.wav")] * 2, "start": [0.0, 0.5], "end": [0.5, 1.5]}
    )
    with pytest.warns(UserWarning, match=r"long\.wav#t=0\.5,1\.5: the segment ends after"):
        result = extract_features(
            table, "egemaps", cache_dir=tmp_path / "cache", n_jobs=1, progress=False
        )
    assert list(result.index) == [0] and len(result.errors) == 1
    with pytest.raises(AudioError, match=r"#t=0\.95,1\.0: audio is 50 ms long") as error:
        read_audio(tmp_path / "long.wav", span=(0.95, 1.0))
    assert error.value.kind == "too_short"


def test_row_names_tell_segments_of_one_file_apart_and_round_trip():
    table = pd.DataFrame(
        {
            "file": ["/a.wav", "/a.wav", "/b.wav"],
            "start": [0.1, 0.3, np.nan],
            "end": [0.3, 0.7, None],
        }
    )
    names = row_names(table)
    assert names == ["/a.wav#t=0.1,0.3", "/a.wav#t=0.3,0.7", "/b.wav"]
    assert [split_name(n) for n in names] == [
        ("/a.wav", (0.1, 0.3)),
        ("/a.wav", (0.3, 0.7)),
        ("/b.wav", None),
    ]


@pytest.mark.bad_input
def test_corpus_table_checks_segment_columns(tmp_path):
    base = {"file": ["/a.wav", "/a.wav"], "corpus": ["c", "c"]}
    validate_table(pd.DataFrame(base | {"start": [0, 1], "end": [1, 2]}), check_files=False)
    with pytest.raises(CorpusTableError, match=r"duplicate rows .*/a\.wav"):
        validate_table(pd.DataFrame(base | {"start": [0, 0], "end": [1, 1]}), check_files=False)
    with pytest.raises(CorpusTableError, match=r"/a\.wav: a segment needs both 'start' and 'end'"):
        validate_table(pd.DataFrame(base | {"start": [0, 1], "end": [1, None]}), check_files=False)
    with pytest.raises(CorpusTableError, match=r"/a\.wav: segment start=2.0, end=1.0 s is not"):
        validate_table(pd.DataFrame(base | {"start": [0, 2], "end": [1, 1]}), check_files=False)
    with pytest.raises(CorpusTableError, match=r"column 'end' must be numeric"):
        validate_table(pd.DataFrame(base | {"start": [0, 1], "end": [1, "x"]}), check_files=False)


# --- the traced loaders' utterance mode -----------------------------------------------------


def _trace(path: Path, samples: list[tuple[float, float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("time value\n" + "".join(f"{t} {v}\n" for t, v in samples))


def _creativeit(root: Path) -> Path:
    """Two sessions x two actors, 4 s recordings, traces every 0.5 s from two annotators,
    three utterances each (the last one named in its segments file)."""
    base = root / "creativeit"
    for session in ("Ses01", "Ses02"):
        for actor in ("A01", "A02"):
            recording = f"{session}_P01_{actor}"
            _recording(base / "audio" / f"{recording}.wav", 4.0, int(actor[-1]))
            for annotator, shift in (("ann1", 0.0), ("ann2", 0.2)):
                for attribute, sign in (("activation", 1), ("valence", -1)):
                    values = [(t / 2, sign * (t / 10 - 0.3) + shift) for t in range(8)]
                    _trace(base / attribute / f"{recording}_{annotator}.txt", values)
            (base / "segments").mkdir(parents=True, exist_ok=True)
            (base / "segments" / f"{recording}.txt").write_text(
                "start\tend\tname\n0.2\t1.3\n1.6\t1.8\n2.0\t3.5\tlast_one\n"
            )
    return base


def test_creativeit_utterances_score_the_traces_over_each_span(tmp_path):
    table = load_corpus(_creativeit(tmp_path), "creativeit", segments="utterance")
    assert len(table) == 12 and table["speaker"].nunique() == 2
    one = table[table["file"].str.endswith("Ses01_P01_A01.wav")].set_index("utterance")
    assert list(one.index) == ["Ses01_P01_A01_001", "Ses01_P01_A01_002", "last_one"]
    assert one[["start", "end"]].to_numpy().tolist() == [[0.2, 1.3], [1.6, 1.8], [2.0, 3.5]]
    np.testing.assert_allclose(one["duration"], [1.1, 0.2, 1.5])
    # activation samples t/2 -> t/10 - 0.3 (+0.2 for the second annotator): the first span
    # holds t = 0.5 and 1.0 (t = 1, 2), the second none (the value held from t = 1.5, 3),
    # the third t = 2.0, 2.5, 3.0 (t = 4, 5, 6)
    expected = np.array([np.mean([-0.2, -0.1]), 0.0, np.mean([0.1, 0.2, 0.3])]) + 0.1
    np.testing.assert_allclose(one["arousal"], expected)
    np.testing.assert_allclose(one["valence"], -expected + 0.2)
    assert set(one["n_annotators"]) == {2} and set(one["session"]) == {"Ses01"}
    recordings = load_corpus(tmp_path / "creativeit", "creativeit")
    assert len(recordings) == 4 and "start" not in recordings


def _nnime(root: Path) -> Path:
    """Four session channels of 2 s, one rater's activation trace, two utterances each."""
    base = root / "nnime"
    for number, recording in enumerate(("S001_F01", "S001_M02", "S002_F03", "S002_M04")):
        _recording(base / "audio" / f"{recording}.wav", 2.0, number + 3)
        _trace(base / "activation" / f"{recording}_r1.txt", [(0, 0.5), (1, -0.5)])
        (base / "segments").mkdir(exist_ok=True)
        (base / "segments" / f"{recording}.txt").write_text("0.1 0.9\n1.0 1.9\n")
    (base / "session_labels.csv").write_text(
        "session,speaker,category,activation,valence\nS001,F01,angry,5,1\n"
    )
    return base


def test_nnime_utterances_keep_the_session_level_labels(tmp_path):
    table = load_corpus(_nnime(tmp_path), "nnime", segments="utterance")
    first = table[table["speaker"] == "nnime_F01"]
    assert first["arousal"].tolist() == [0.5, -0.5]
    assert first["emotion"].tolist() == ["anger"] * 2
    assert first["session_arousal_raw"].tolist() == [5.0, 5.0]


def test_loso_folds_over_utterances_keep_each_speakers_recordings_whole(tmp_path):
    """Leave one CreativeIT actor out, the protocol of the enriched-AAE paper (Sec. 3.1),
    run end to end on the utterances: each trial tests every utterance of one actor and
    no other, and its predictions name the segments."""
    base = _creativeit(tmp_path)
    config = {
        "name": "segments",
        "output": str(tmp_path / "run"),
        "corpora": {
            "creativeit": {
                "loader": "creativeit",
                "path": str(base),
                "options": {"segments": "utterance"},
            },
            "nnime": {"loader": "nnime", "path": str(_nnime(tmp_path))},
        },
        "features": {"set": "egemaps", "cache_dir": str(tmp_path / "cache")},
        "labels": {"space": "binarised_arousal"},
        "pairs": [{"name": "p", "source": "corpus == 'nnime'", "target": "corpus == 'creativeit'"}],
        "protocol": {"name": "reduced", "sizes": [1.0]},
        "methods": {"svm": {}},
        "trials": 1,
        "baseline": None,
    }
    summary = run_experiment(parse_config(config, base_dir=tmp_path), progress=False)
    records = read_jsonl(summary.run_dir / "results.jsonl")
    table = load_corpus(base, "creativeit", segments="utterance")
    by_name = dict(zip(row_names(table), table["speaker"], strict=True))
    tested = []
    for record in records:
        assert record["status"] == "ok", record.get("error")
        names = pd.read_csv(summary.run_dir / record["predictions"])["file"].tolist()
        speakers = {by_name[n] for n in names}
        assert len(speakers) == 1
        assert sorted(names) == sorted(n for n, s in by_name.items() if s in speakers)
        tested += names
    assert sorted(tested) == sorted(by_name)


@pytest.mark.bad_input
def test_utterance_mode_reports_bad_segment_files_and_keeps_the_rest(tmp_path):
    base = _creativeit(tmp_path)
    (base / "segments" / "Ses01_P01_A01.txt").write_text("0.5 0.4\n")
    (base / "segments" / "Ses01_P01_A02.txt").write_text("3.0 4.5\n0.5 1.5\n")
    (base / "segments" / "Ses02_P01_A01.txt").unlink()
    report = LoadReport()
    with pytest.warns(CorpusWarning):
        table = load_corpus(base, "creativeit", segments="utterance", report=report)
    assert len(table) == 3 + 1  # Ses02_P01_A02 whole, one span of Ses01_P01_A02
    assert any("Ses01_P01_A01.txt line 1: start 0.5 s, end 0.4 s" in m for m in report.unrecognised)
    assert any(
        "Ses01_P01_A02.wav#t=3.0,4.5: the segment ends after" in m for m in report.unreadable
    )
    assert any("no segments/Ses02_P01_A01.txt" in m for m in report.unlabelled)
    with pytest.raises(
        ValueError, match=r"segments='turn' is not one of \('recording', 'utterance'\)"
    ):
        load_corpus(base, "creativeit", segments="turn")


# --- the enriched-AAE presets ----------------------------------------------------------------

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("attribute", ["arousal", "valence"])
def test_enriched_aae_presets_read_creativeit_and_nnime_utterances(attribute, tmp_path):
    """The paper's unit is the utterance (Sec. 2.1: 2162 CreativeIT, 6509 NNIME) and it
    trains 100 to 300 epochs (Sec. 3.1): the presets load both traced corpora in
    utterance mode and run both epoch counts."""
    config = load_config(CONFIGS / f"published_enriched_aae_{attribute}.yaml")
    assert config.methods["enriched_aae"]["epochs"] == [100, 300]
    corpora = make_paper_corpora(tmp_path)
    for name in ("creativeit", "nnime"):
        options = config.corpora[name].options
        assert options == {"segments": "utterance"}
        table = load_corpus(corpora / FOLDERS[name], name, **options)
        recordings = load_corpus(corpora / FOLDERS[name], name)
        assert len(table) == 2 * len(recordings) and table["start"].notna().all()
        assert len(set(row_names(table))) == len(table)


def test_predict_on_a_segmented_table_predicts_each_span_as_its_cut_audio(tmp_path):
    from bundle_parts import small_model

    from emoshift.bundle import load
    from emoshift.bundle.evaluate import evaluate_model
    from emoshift.bundle.inputs import audio_files

    signal = _recording(tmp_path / "long.wav", 3.0, 4)
    spans = [(0.2, 1.4), (1.4, 2.9)]
    table = pd.DataFrame(
        {
            "file": [str(tmp_path / "long.wav")] * 2,
            "start": [s for s, _ in spans],
            "end": [e for _, e in spans],
            "corpus": "c",
        }
    )
    table.to_csv(tmp_path / "table.csv", index=False)
    cut_files = []
    for number, (start, end) in enumerate(spans):
        cut_files.append(str(tmp_path / f"cut{number}.wav"))
        piece = signal[int(round(start * RATE)) : int(round(end * RATE))]
        sf.write(cut_files[-1], piece, RATE, subtype="FLOAT")
    model = load(small_model(tmp_path / "model"))
    names = audio_files([tmp_path / "table.csv"])
    assert names == row_names(table)
    ours = model.predict(names, cache_dir=tmp_path / "cache", n_jobs=1, progress=False)
    theirs = model.predict(cut_files, cache_dir=tmp_path / "cache", n_jobs=1, progress=False)
    assert ours["file"].tolist() == names
    from_table = model.predict(table, cache_dir=tmp_path / "cache", n_jobs=1, progress=False)
    pd.testing.assert_frame_equal(from_table, ours)
    table.assign(emotion=["anger", "sadness"]).to_csv(tmp_path / "labelled.csv", index=False)
    scored = evaluate_model(
        model, [tmp_path / "labelled.csv"], cache_dir=tmp_path / "cache", n_jobs=1, progress=False
    )
    assert scored.predictions["file"].tolist() == names  # each span scored, not the file twice
    assert scored.predictions["prediction"].tolist() == ours["prediction"].tolist()
    columns = [c for c in ours.columns if c.startswith("p_")]
    assert columns
    np.testing.assert_array_equal(ours[columns].to_numpy(), theirs[columns].to_numpy())
