"""A second per-frame stream (e.g. face embeddings) from per-utterance .npy files that a
corpus-table column names, wired through the config to the two-stream CNN-GRU (issue 12:
the max-entropy paper's audio-visual model; docs/papers.md section 2)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from emoshift.data.synthetic import generate_preset
from emoshift.experiment.config import ConfigError, parse_config
from emoshift.experiment.data import ExperimentData, load_experiment_data
from emoshift.experiment.plan import _data_spec
from emoshift.experiment.protocols import make_split
from emoshift.experiment.runner import run_experiment
from emoshift.experiment.store import read_jsonl
from emoshift.experiment.streams import read_stream
from emoshift.experiment.trial import run_trial
from emoshift.methods.sequence import Sequences

FACE_WIDTH = 6
FAST = {"encoder": "cnn_gru", "max_epochs": 2, "gru_size": 8, "second_gru_size": 8,
        "fusion_sizes": [8, 8]}  # fmt: skip
OFFSET = {"anger": 2.0, "happiness": 1.0, "neutral": 0.0, "sadness": -1.0}
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The tiny synthetic corpus, one face-embedding .npy per utterance (its own number
    of frames, class-dependent mean) and faces.csv joining them by audio file."""
    root = tmp_path_factory.mktemp("second-stream")
    table = generate_preset(root / "corpus", "tiny", seed=0, progress=False)
    rng = np.random.default_rng(0)
    (root / "corpus" / "faces").mkdir()
    rows = []
    for i, (file, emotion) in enumerate(zip(table["file"], table["emotion"])):
        frames = rng.normal(size=(5 + i % 7, FACE_WIDTH)) + OFFSET.get(emotion, 0.0)
        name = f"faces/{Path(file).stem}.npy"
        np.save(root / "corpus" / name, frames.astype(np.float32))
        rows.append({"file": Path(file).relative_to(root / "corpus").as_posix(), "face_npy": name})
    pd.DataFrame(rows).to_csv(root / "corpus" / "faces.csv", index=False)
    return root


def _raw(root: Path, **features) -> dict:
    return {
        "name": "two-streams",
        "output": str(root / "run"),
        "corpora": {
            "synthetic": {
                "loader": "synthetic",
                "path": "corpus",
                "options": {"preset": "tiny"},
                "extra_columns": "corpus/faces.csv",
            }
        },
        "features": {
            "set": "logmel",
            "domain": "elicitation",
            "jobs": 1,
            "cache_dir": str(root / "cache"),
            "second_stream": {"column": "face_npy", "root": "corpus"},
            **features,
        },
        "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
        "protocol": {"name": "few_shot", "k": [1], "exclusive": False},
        "methods": {"source_only": dict(FAST), "max_entropy": dict(FAST)},
        "trials": 2,
    }


def test_the_column_names_each_utterances_frames_and_both_streams_reach_the_split(corpus):
    config = parse_config(_raw(corpus), base_dir=corpus)
    data = load_experiment_data(config, progress=False)
    assert data.X2 is not None and len(data.X2) == len(data.X) == len(data.table)
    first = data.table.loc[0, "face_npy"]
    assert np.array_equal(data.X2[0], np.load(corpus / "corpus" / first))
    split = make_split(data, config.pairs[0].source, config.pairs[0].target, "few_shot",
                       trial=0, seed=0, k=1, exclusive=False)  # fmt: skip
    assert isinstance(split.X_source, Sequences) and split.X_source.n_streams == 2
    assert split.X_source.widths == (41, FACE_WIDTH)
    result = run_trial("max_entropy", FAST, split, seed=0, keep_model=True)
    assert result.model.sequence_widths_ == (41, FACE_WIDTH)
    streams = [m.n_streams for m in result.model.modules_.modules() if hasattr(m, "n_streams")]
    assert streams == [2]


def test_an_audio_visual_config_runs_end_to_end_with_processes(corpus):
    raw = _raw(corpus)
    raw["executor"], raw["jobs"] = "processes", 2
    summary = run_experiment(parse_config(raw, base_dir=corpus), progress=False)
    records = read_jsonl(summary.run_dir / "results.jsonl")
    assert summary.n_done == summary.n_planned == 4
    assert all(r["status"] == "ok" for r in records), [r["error"] for r in records]


def test_the_stream_enters_the_fingerprint_and_survives_worker_files(corpus, tmp_path):
    config = parse_config(_raw(corpus), base_dir=corpus)
    data = load_experiment_data(config, progress=False)
    audio_only = ExperimentData(data.table, data.X, data.y)
    assert data.fingerprint() != audio_only.fingerprint()
    loaded = ExperimentData.load(data.save(tmp_path / "data"))
    assert loaded.fingerprint() == data.fingerprint()
    assert ExperimentData.load(audio_only.save(tmp_path / "data")).X2 is None


def test_trial_keys_do_not_change_for_configs_without_a_stream(corpus):
    raw = _raw(corpus)
    del raw["features"]["second_stream"], raw["corpora"]["synthetic"]["extra_columns"]
    spec = _data_spec(parse_config(raw, base_dir=corpus))
    assert "second_stream" not in spec["features"]
    assert "extra_columns" not in spec["corpora"]["synthetic"]


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "write, match",
    [
        (lambda p: p.unlink(), "does not exist"),
        (lambda p: np.save(p, np.array([{"a": 1}], dtype=object)), "not a plain .npy array"),
        (lambda p: np.save(p, np.zeros((4, FACE_WIDTH + 1))), "7 features per frame, expected 6"),
        (lambda p: np.save(p, np.zeros((0, FACE_WIDTH))), r"shape \(0, 6\)"),
        (lambda p: np.save(p, np.zeros((3, 0))), r"shape \(3, 0\)"),
        (lambda p: np.save(p, np.full((3, FACE_WIDTH), np.nan)), "NaN or infinite"),
        (lambda p: np.save(p, np.full((3, FACE_WIDTH), 1e39)), "NaN or infinite"),
        (
            lambda p: (
                np.savez(p.with_suffix(".npz"), np.zeros(3)) or p.with_suffix(".npz").rename(p)
            ),
            "an .npz archive",
        ),
        (lambda p: np.save(p, np.array(["a", "b"])), "not numbers"),
        (lambda p: p.write_bytes(b"not a numpy file"), "not a plain .npy array"),
    ],
    ids=[
        "missing",
        "pickled",
        "width",
        "empty",
        "no-features",
        "nan",
        "float32-overflow",
        "npz",
        "strings",
        "garbage",
    ],  # fmt: skip
)
def test_a_bad_file_is_an_error_naming_it(corpus, tmp_path, write, match):
    root = tmp_path / "copy"
    (root / "corpus").mkdir(parents=True)
    (root / "corpus" / "corpus").symlink_to(corpus / "corpus")
    faces = pd.read_csv(corpus / "corpus" / "faces.csv")
    bad = root / "bad.npy"
    np.save(bad, np.zeros((3, FACE_WIDTH)))
    write(bad)
    faces.loc[len(faces) // 2, "face_npy"] = str(bad)  # an absolute path, a middle row's
    faces.to_csv(root / "faces.csv", index=False)
    raw = _raw(corpus)
    raw["corpora"]["synthetic"]["extra_columns"] = str(root / "faces.csv")
    with pytest.raises(ValueError, match=match) as error:
        load_experiment_data(parse_config(raw, base_dir=corpus), progress=False)
    assert str(bad) in str(error.value)


@pytest.mark.bad_input
def test_an_utterance_without_a_stream_file_is_named_or_left_out_by_a_query(corpus, tmp_path):
    faces = pd.read_csv(corpus / "corpus" / "faces.csv")
    faces.iloc[1:].to_csv(tmp_path / "faces.csv", index=False)
    raw = _raw(corpus)
    raw["corpora"]["synthetic"]["extra_columns"] = str(tmp_path / "faces.csv")
    with pytest.warns(UserWarning, match="has no row for 1 of the corpus's 48 audio files"):
        with pytest.raises(ValueError, match=f"no 'face_npy' file for audio .*{faces.file[0]}"):
            load_experiment_data(parse_config(raw, base_dir=corpus), progress=False)
    raw["corpora"]["synthetic"]["query"] = "face_npy != ''"
    with pytest.warns(UserWarning, match="has no row for 1"):
        data = load_experiment_data(parse_config(raw, base_dir=corpus), progress=False)
    assert len(data.X2) == len(data.table) == 47


@pytest.mark.bad_input
def test_a_column_the_table_lacks_is_named(corpus):
    raw = _raw(corpus, second_stream={"column": "faces", "root": "corpus"})
    with pytest.raises(ValueError, match="'faces' is not a corpus-table column.*extra_columns"):
        load_experiment_data(parse_config(raw, base_dir=corpus), progress=False)


@pytest.mark.bad_input
def test_segments_of_one_recording_cannot_share_a_stream_file(tmp_path):
    np.save(tmp_path / "rec.npy", np.ones((10, 3), dtype=np.float32))
    np.save(tmp_path / "rec_1.npy", np.zeros((4, 3), dtype=np.float32))
    segments = pd.DataFrame(
        {
            "file": ["rec.wav", "rec.wav"],
            "start": [0.0, 1.5],
            "end": [1.5, 3.0],
            "face": ["rec.npy", "rec.npy"],
        }
    )
    with pytest.raises(ValueError) as error:
        read_stream(segments, "face", tmp_path)
    message = str(error.value)
    assert "features.second_stream.column 'face'" in message
    assert "rec.wav#t=0.0,1.5" in message and "rec.wav#t=1.5,3.0" in message
    assert "give each segment its own file" in message
    # a file per segment is read, each row its own frames
    frames = read_stream(segments.assign(face=["rec.npy", "rec_1.npy"]), "face", tmp_path)
    assert [f.shape for f in frames] == [(10, 3), (4, 3)]
    # whole recordings (no span) may still name their files as before
    whole = pd.DataFrame({"file": ["a.wav", "b.wav"], "face": ["rec.npy", "rec_1.npy"]})
    assert len(read_stream(whole, "face", tmp_path)) == 2


@pytest.mark.bad_input
def test_a_second_stream_needs_frames_the_cnn_gru_and_no_selection(corpus):
    # refused when the config is read, before any extraction
    with pytest.raises(ConfigError, match="frame-level features .* not set: egemaps"):
        parse_config(_raw(corpus, set="egemaps"), base_dir=corpus)
    with pytest.raises(ConfigError, match="not set: ssl with pooling: mean"):
        parse_config(_raw(corpus, set="ssl", model="m", pooling="mean"), base_dir=corpus)
    raw = _raw(corpus)
    raw["methods"]["dann"] = {}
    with pytest.raises(ConfigError, match=r"methods.dann: a second stream is read by the CNN"):
        parse_config(raw, base_dir=corpus)
    raw = _raw(corpus)
    raw["selection"] = {"source_only": {"scorer": ["dev"], "grid": {"lr": [0.1, 0.01]}}}
    with pytest.raises(ConfigError, match="selection"):
        parse_config(raw, base_dir=corpus)
    raw = _raw(corpus, second_stream={"column": "face_npy", "normalisation": "zscore"})
    with pytest.raises(ConfigError, match="normalisation: 'zscore' is not one of"):
        parse_config(raw, base_dir=corpus)


def test_the_published_max_entropy_preset_reads_the_face_stream():
    raw = yaml.safe_load((CONFIGS / "published_max_entropy_msp_improv.yaml").read_text())
    config = parse_config(copy.deepcopy(raw), base_dir=CONFIGS)
    assert config.features.second_stream.column == "face_npy"
    assert config.corpora["msp_improv"].extra_columns


def test_a_corpus_reached_through_a_symbolic_link_joins_its_extra_columns(corpus, tmp_path):
    # loaders store resolved audio paths; the config may name the corpus through a link
    (tmp_path / "linked").symlink_to(corpus / "corpus")
    raw = _raw(corpus)
    raw["corpora"]["synthetic"]["path"] = str(tmp_path / "linked")
    raw["corpora"]["synthetic"]["extra_columns"] = str(tmp_path / "linked" / "faces.csv")
    raw["features"]["second_stream"]["root"] = str(tmp_path / "linked")
    data = load_experiment_data(parse_config(raw, base_dir=corpus), progress=False)
    assert data.X2 is not None and (data.table["face_npy"] != "").all()


@pytest.mark.bad_input
def test_a_malformed_extra_columns_file_is_named(corpus, tmp_path):
    bad = tmp_path / "faces.csv"
    bad.write_bytes(b"\xff\xfe\x00bad")
    raw = _raw(corpus)
    raw["corpora"]["synthetic"]["extra_columns"] = str(bad)
    with pytest.raises(ValueError, match="corpora.synthetic.extra_columns: .* not a readable"):
        load_experiment_data(parse_config(raw, base_dir=corpus), progress=False)


@pytest.mark.bad_input
def test_a_bundle_refuses_a_second_stream_before_reading_anything(corpus):
    from emoshift.bundle.training import train_model

    raw = _raw(corpus)
    raw["corpora"]["synthetic"]["path"] = "does-not-exist"  # never reached
    raw["corpora"]["synthetic"]["options"] = {}
    raw["corpora"]["synthetic"]["loader"] = "emodb"
    config = parse_config(raw, base_dir=corpus)
    with pytest.raises(ValueError, match="bundle predicts from audio alone"):
        train_model(config, "source_only")
