"""The ``ssl`` feature set on tiny randomly initialised wav2vec2 / HuBERT / WavLM models.

Each model is built from its config class with tiny sizes and saved with
``save_pretrained``; nothing is downloaded (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
transformers = pytest.importorskip("transformers")

from ssl_models import FAMILIES, FIELD, HOP, save_tiny  # noqa: E402

from emoshift.cli import main  # noqa: E402
from emoshift.experiment.config import parse_config  # noqa: E402
from emoshift.experiment.data import load_experiment_data  # noqa: E402
from emoshift.experiment.store import read_jsonl  # noqa: E402
from emoshift.features import extract_features, get_extractor  # noqa: E402
from emoshift.features.ssl import SSLFeatures, attentive_pool, frame_windows  # noqa: E402
from emoshift.features.ssl_model import ModelError  # noqa: E402
from emoshift.methods import method_names  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    return {f: save_tiny(tmp_path_factory.mktemp(f), f) for f in FAMILIES}


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise under a slow amplitude envelope, at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * rng.normal(size=t.size) * (1.2 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def reference_states(folder: Path, signal: np.ndarray) -> tuple[torch.Tensor, ...]:
    """Hidden states as transformers computes them, feature extractor included."""
    extractor = transformers.AutoFeatureExtractor.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder).eval()
    inputs = extractor(signal, sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        states = model(inputs["input_values"], output_hidden_states=True).hidden_states
    return tuple(s[0] for s in states)


@pytest.mark.parametrize("family", FAMILIES)
def test_layers_and_pooling_match_the_models_hidden_states(models, family):
    folder = models[family]
    signal = speechlike(1.3)
    states = reference_states(folder, signal)
    n_frames = (signal.size - FIELD) // HOP + 1
    assert [tuple(s.shape) for s in states] == [(n_frames, 16)] * 3

    frames = SSLFeatures(folder, layers="all", combine="concat", pooling="none")(signal, 16000)
    assert frames.shape == (n_frames, 3 * 16) and frames.dtype == np.float32
    expected = torch.cat(states, dim=1).numpy()
    np.testing.assert_allclose(frames, expected, rtol=1e-4, atol=1e-5)

    last = SSLFeatures(folder, layers=-1, pooling="mean")
    np.testing.assert_allclose(last(signal, 16000), states[2].mean(0), rtol=1e-4, atol=1e-5)
    assert last.feature_names == [f"layer2_mean_{d}" for d in range(16)]

    pair = SSLFeatures(folder, layers=[0, 2], combine="concat", pooling="mean_std")
    pooled = pair(signal, 16000)
    assert pooled.shape == (64,) == (len(pair.feature_names),)
    for block, layer in enumerate((0, 2)):
        mean, std = pooled[32 * block : 32 * block + 16], pooled[32 * block + 16 : 32 * block + 32]
        np.testing.assert_allclose(mean, states[layer].mean(0), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(std, states[layer].std(0, unbiased=False), rtol=1e-4, atol=1e-5)

    averaged = SSLFeatures(folder, layers=[1, 2], combine="mean", pooling="attentive")
    reference = attentive_pool(((states[1] + states[2]) / 2).numpy()[None]).reshape(-1)
    np.testing.assert_allclose(averaged(signal, 16000), reference, rtol=1e-4, atol=1e-5)
    assert averaged.feature_names[0] == "layers_mean_mean_0"
    mean_frames = SSLFeatures(folder, layers=[1, 2], combine="mean", pooling="none")
    np.testing.assert_allclose(
        mean_frames(signal, 16000), (states[1] + states[2]).numpy() / 2, rtol=1e-4, atol=1e-5
    )


def test_attentive_pooling_weights_frames_by_agreement_with_the_mean():
    # two frames along x, one along y: the mean leans to x, so x frames weigh more
    frames = np.array([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    pooled = attentive_pool(frames)[0]
    weights = np.exp(np.array([2, 2, 1]) / 3 / np.sqrt(2))
    weights /= weights.sum()
    mean = weights @ frames[0]
    np.testing.assert_allclose(pooled[:2], mean)
    np.testing.assert_allclose(pooled[2:], np.sqrt(weights @ frames[0] ** 2 - mean**2))
    assert pooled[0] > frames[0, :, 0].mean()
    constant = attentive_pool(np.ones((2, 5, 3)))
    np.testing.assert_allclose(constant, [[1, 1, 1, 0, 0, 0]] * 2)


def test_frame_windows_tile_the_file_and_respect_its_edges():
    for n, chunk, context in [(1, 4, 2), (10, 4, 0), (37, 5, 3), (100, 100, 7), (101, 100, 7)]:
        windows = frame_windows(n, chunk, context)
        kept = np.concatenate([np.arange(f + a, f + b) for f, _, a, b in windows])
        assert kept.tolist() == list(range(n))
        assert all(0 <= f < s <= n and s - f <= chunk + 2 * context for f, s, _, _ in windows)


@pytest.mark.parametrize("family", FAMILIES)
def test_chunked_long_file_equals_one_pass_where_the_architecture_allows(tmp_path, family):
    """Per-frame normalised models: the convolutional features (hidden state 0) are the
    same in chunks; Transformer layers attend over their window only, so they match
    within tolerance, and closer with context than without."""
    folder = save_tiny(tmp_path / family, family, norm="layer")
    signal = speechlike(3.0, seed=1)
    options = {"layers": "all", "combine": "concat", "pooling": "none"}
    whole = SSLFeatures(folder, chunk_seconds=None, **options)(signal, 16000)
    chunked = SSLFeatures(folder, chunk_seconds=0.5, context_seconds=0.1, **options)
    assert len(frame_windows(len(whole), chunked.chunk_frames, chunked.context_frames)) == 6
    blind = SSLFeatures(folder, chunk_seconds=0.5, context_seconds=0.0, **options)
    with_context, without = chunked(signal, 16000), blind(signal, 16000)
    assert with_context.shape == whole.shape == without.shape
    batched = SSLFeatures(folder, chunk_seconds=0.5, context_seconds=0.1, batch_size=4, **options)
    np.testing.assert_allclose(batched(signal, 16000), with_context, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(with_context[:, :16], whole[:, :16], rtol=1e-5, atol=1e-5)
    error = np.linalg.norm(with_context - whole) / np.linalg.norm(whole)
    assert error < 1e-2
    assert error < np.linalg.norm(without - whole) / np.linalg.norm(whole) / 3
    pooled = SSLFeatures(
        folder, layers=-1, pooling="mean_std", chunk_seconds=0.5, context_seconds=0.1
    )(signal, 16000)  # accumulated over the 6 windows
    last = whole[:, 32:].astype(np.float64)
    np.testing.assert_allclose(pooled, np.r_[last.mean(0), last.std(0)], rtol=2e-2, atol=2e-3)


def test_group_normalised_models_are_not_chunk_invariant_and_short_files_are_one_pass(models):
    """wav2vec2-base style models normalise each channel over the whole input in the
    first convolution, so a window's features depend on the window (documented limit);
    a file shorter than chunk_seconds runs in one pass and is unaffected."""
    signal = speechlike(3.0, seed=1)
    options = {"layers": 0, "combine": "concat", "pooling": "none"}
    whole = SSLFeatures(models["wav2vec2"], chunk_seconds=None, **options)(signal, 16000)
    chunked = SSLFeatures(models["wav2vec2"], chunk_seconds=0.5, **options)(signal, 16000)
    assert np.abs(chunked - whole).max() > 1e-3  # layer-normalised models: < 1e-5
    default = SSLFeatures(models["wav2vec2"], **options)(signal, 16000)
    np.testing.assert_array_equal(default, whole)


def test_second_extraction_reads_everything_from_the_cache(models, tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    files = []
    for i, seconds in enumerate((0.15, 0.8, 1.7)):
        files.append(str(folder / f"{i}.wav"))
        sf.write(files[-1], speechlike(seconds, seed=i), 16000)
    cache = tmp_path / "cache"
    extractor = get_extractor("ssl", model=str(models["hubert"]), layers=[1], pooling="mean")
    first = extract_features(files, extractor, cache_dir=cache, n_jobs=1)
    assert (first.n_extracted, first.n_cached, first.features.shape) == (3, 0, (3, 16))
    again = extract_features(files, extractor, cache_dir=cache, n_jobs=1)
    assert (again.n_extracted, again.n_cached) == (0, 3)
    np.testing.assert_array_equal(again.features.to_numpy(), first.features.to_numpy())

    short = speechlike(0.002)  # shorter than one frame's receptive field: padded to one
    assert extractor(short, 16000).shape == (16,)
    other_layer = get_extractor("ssl", model=str(models["hubert"]), layers=[2], pooling="mean")
    assert extract_features(files, other_layer, cache_dir=cache, n_jobs=1).n_extracted == 3
    other_pooling = get_extractor("ssl", model=str(models["hubert"]), layers=[1], pooling="none")
    assert extract_features(files, other_pooling, cache_dir=cache, n_jobs=1).n_extracted == 3

    retrained = tmp_path / "retrained"
    shutil.copytree(models["hubert"], retrained)
    weights = transformers.AutoModel.from_pretrained(retrained)
    with torch.no_grad():
        next(weights.parameters()).add_(0.01)
    weights.save_pretrained(retrained)
    changed = get_extractor("ssl", model=str(retrained), layers=[1], pooling="mean")
    assert changed.config()["weights_sha256"] != extractor.config()["weights_sha256"]
    assert extract_features(files, changed, cache_dir=cache, n_jobs=1).n_extracted == 3


def test_parallel_workers_give_the_serial_features(models, tmp_path):
    files = []
    for i in range(3):
        files.append(str(tmp_path / f"{i}.wav"))
        sf.write(files[-1], speechlike(0.5 + 0.3 * i, seed=i), 16000)
    extractor = get_extractor("ssl", model=str(models["wavlm"]), pooling="mean_std")
    serial = extract_features(files, extractor, cache_dir=tmp_path / "a", n_jobs=1)
    parallel = extract_features(files, extractor, cache_dir=tmp_path / "b", n_jobs=2)
    np.testing.assert_allclose(parallel.features, serial.features, rtol=1e-5, atol=1e-6)


@pytest.mark.bad_input
def test_missing_transformers_names_the_extra(models, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"pip install 'emoshift\[ssl\]'"):
        get_extractor("ssl", model=str(models["wav2vec2"]))


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("config.json", "no config.json"),
        ("model.safetensors", "no weights"),
        ("preprocessor_config.json", "no preprocessor_config.json"),
    ],
)
def test_folder_without_a_usable_checkpoint_is_named(models, tmp_path, remove, message):
    broken = tmp_path / "broken"
    shutil.copytree(models["wav2vec2"], broken)
    (broken / remove).unlink()
    with pytest.raises(ModelError, match=message) as error:
        SSLFeatures(broken)
    assert str(broken) in str(error.value)


@pytest.mark.bad_input
def test_bad_model_paths_and_options_give_clear_errors(models, tmp_path):
    with pytest.raises(ModelError, match="model folder does not exist"):
        SSLFeatures(str(tmp_path / "nowhere" / "model"))
    with pytest.raises(ModelError, match="not a local folder and not a model found"):
        SSLFeatures("someone/no-such-model")
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="must be a folder"):
        SSLFeatures(tmp_path / "file.bin")
    bert = tmp_path / "bert"
    shutil.copytree(models["wav2vec2"], bert)
    transformers.BertConfig(hidden_size=16, num_hidden_layers=1).save_pretrained(bert)
    with pytest.raises(ModelError, match="'bert' is not a wav2vec 2.0 family model"):
        SSLFeatures(bert)
    whisper = tmp_path / "whisper"
    shutil.copytree(models["wav2vec2"], whisper)
    transformers.WhisperFeatureExtractor().save_pretrained(whisper)
    with pytest.raises(ModelError, match="describes a WhisperFeatureExtractor"):
        SSLFeatures(whisper)
    with pytest.raises(ValueError, match="needs a model"):
        get_extractor("ssl")
    folder = models["wav2vec2"]
    with pytest.raises(
        ValueError, match=r"layer 3 does not exist; the model has hidden states 0..2"
    ):
        SSLFeatures(folder, layers=[0, 3])
    with pytest.raises(ValueError, match="names a layer twice"):
        SSLFeatures(folder, layers=[2, -1])
    with pytest.raises(ValueError, match="features.pooling: 'max'"):
        SSLFeatures(folder, pooling="max")
    with pytest.raises(ValueError, match="features.layers: 'last'"):
        SSLFeatures(folder, layers="last")


@pytest.mark.bad_input
def test_ssl_options_with_another_feature_set_are_an_error(tmp_path):
    config = experiment_config(tmp_path, Path("m"), {"source_only": {}})
    config["features"] = {"set": "egemaps", "pooling": "mean", "domain": "elicitation"}
    with pytest.raises(ValueError, match="features.pooling applies to set: ssl only"):
        load_experiment_data(parse_config(config, base_dir=tmp_path), progress=False)


FAST = {"max_epochs": 2, "hidden_sizes": [8], "batch_size": 16}


def experiment_config(tmp_path: Path, model: Path, methods: dict, **features) -> dict:
    return {
        "name": "ssl",
        "output": "run",
        "corpora": {
            "synth": {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}
        },
        "features": {
            "set": "ssl",
            "model": str(model),
            "layers": -1,
            "pooling": "mean",
            "domain": "elicitation",
            "jobs": 1,
            "cache_dir": "cache",
            **features,
        },
        "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
        "methods": methods,
        "trials": 1,
    }


def run_cli(tmp_path: Path, config: dict) -> list[dict]:
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))
    code = main(["run", str(path), "--no-report"])
    records = read_jsonl(tmp_path / "run" / "results.jsonl")
    assert code == 0, [r.get("error") for r in records if r["status"] != "ok"]
    return records


def test_emoshift_run_end_to_end_pooled_and_frame_sequences(models, tmp_path):
    relative = tmp_path / "models" / "tiny"
    shutil.copytree(models["wavlm"], relative)
    pooled = experiment_config(
        tmp_path, Path("models/tiny"), {"source_only": FAST, "dann": {**FAST, "warmup_epochs": 1}}
    )
    records = run_cli(tmp_path, pooled)
    assert sorted((r["method"], r["status"]) for r in records) == [
        ("dann", "ok"),
        ("source_only", "ok"),
    ]
    data = load_experiment_data(parse_config(pooled, base_dir=tmp_path), progress=False)
    assert data.X.shape == (48, 16)
    cached = extract_features(
        data.table,
        get_extractor("ssl", model=str(relative), layers=-1),
        cache_dir=tmp_path / "cache",
        n_jobs=1,
    )
    assert (cached.n_extracted, cached.n_cached) == (0, 48)

    frames = experiment_config(
        tmp_path,
        relative,
        {"source_only": {**FAST, "encoder": "cnn_gru", "gru_size": 8, "fusion_sizes": [8]}},
        pooling="none",
        layers=[1, 2],
        combine="concat",
    )
    frames["output"] = "frames"
    path = tmp_path / "frames.yaml"
    path.write_text(yaml.safe_dump(frames))
    assert main(["run", str(path), "--no-report"]) == 0
    (record,) = read_jsonl(tmp_path / "frames" / "results.jsonl")
    assert record["status"] == "ok", record.get("error")
    sequences = load_experiment_data(parse_config(frames, base_dir=tmp_path), progress=False).X
    assert sequences.dtype == object and sequences[0].shape[1] == 32


def method_settings(name: str) -> dict:
    """Quick settings for method ``name``; neural ones read the 3 layers' weighted sum."""
    if name in ("svm", "anova_svm"):
        return {"n_selected": 8}
    if name == "enriched_aae":
        return {"epochs": 2, "hidden_sizes": [8], "code_size": 4, "n_selected": 4}
    return {**FAST, "stacked_layers": 3, **({"warmup_epochs": 1} if name == "dann" else {})}


def test_every_method_trains_on_all_layers_of_ssl_features(models, tmp_path):
    """All three hidden states, concatenated: the neural methods learn a weighted sum
    over them (stacked_layers), the others read the concatenation."""
    methods = {name: method_settings(name) for name in method_names() if name != "mrd"}
    config = experiment_config(
        tmp_path, models["hubert"], methods, layers="all", combine="concat", pooling="mean_std"
    )
    config["protocol"] = {"name": "few_shot", "k": [1]}
    records = run_cli(tmp_path, config)
    assert {r["method"]: r["status"] for r in records} == dict.fromkeys(methods, "ok")
    data = load_experiment_data(parse_config(config, base_dir=tmp_path), progress=False)
    assert data.X.shape == (48, 3 * 2 * 16)
    regression = experiment_config(
        tmp_path,
        models["hubert"],
        {"mrd": method_settings("mrd"), "source_only": FAST},
        layers="all",
        combine="concat",
    )
    regression.update(task="regression", output="regression")
    path = tmp_path / "regression.yaml"
    path.write_text(yaml.safe_dump(regression))
    assert main(["run", str(path), "--no-report"]) == 0
    statuses = [r["status"] for r in read_jsonl(tmp_path / "regression" / "results.jsonl")]
    assert statuses == ["ok", "ok"]


def test_features_cli_takes_the_ssl_options(models, tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    for i, seconds in enumerate((0.5, 0.9)):
        sf.write(folder / f"{i}.wav", speechlike(seconds, seed=i), 16000)
    (tmp_path / "t.csv").write_text("file\naudio/0.wav\naudio/1.wav\n")
    out = tmp_path / "f.parquet"
    args = ["features", str(tmp_path / "t.csv"), "--set", "ssl", "--out", str(out)]
    extra = ["--model", str(models["wavlm"]), "--layers", "1,2", "--pooling", "mean_std"]
    assert main([*args, *extra, "--combine", "concat", "--cache-dir", str(tmp_path / "c")]) == 0
    written = pd.read_parquet(out)
    assert written.shape == (2, 1 + 2 * 2 * 16)  # file + 2 layers x (mean, std) x 16


@pytest.mark.bad_input
def test_features_cli_refuses_ssl_options_for_other_sets(tmp_path, capsys):
    (tmp_path / "t.csv").write_text("file\na.wav\n")
    args = ["features", str(tmp_path / "t.csv"), "--model", "m", "--out", str(tmp_path / "f.csv")]
    assert main(args) == 2
    assert "--model applies to --set ssl only" in capsys.readouterr().err
