"""Every registered method survives a bundle: saved, loaded, it predicts what it did.

Each method is fitted on the tiny problem of the method contract (given what it declares
it needs), written as a bundle folder, loaded back, and its predictions, probabilities
and representations on new inputs are compared with those of the fitted estimator.
Sequence models (the log-Mel CNN-GRU encoder) and regression get their own round trips,
and one CNN-GRU model goes from log-Mel files through ``train`` to ``predict``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_method_contract import _domain, _fit_arguments, _model

from emoshift.bundle import Model, load
from emoshift.bundle.training import train_model
from emoshift.experiment.config import parse_config
from emoshift.experiment.data import load_experiment_data
from emoshift.methods import get_method, method_names
from emoshift.methods.enriched_aae import EnrichedAAEClassifier


def _round_trip(estimator, name: str, folder: Path, feature_set: str = "egemaps") -> Model:
    model = Model.from_parts(estimator, name, feature_set, None)
    return load(model.save(folder / "model"), device="cpu")


def _assert_same_outputs(original, restored, X) -> None:
    np.testing.assert_array_equal(restored.predict(X), original.predict(X))
    for method in ("predict_proba", "decision_function", "transform"):
        try:
            expected = getattr(original, method)(X)
        except AttributeError:  # a method the estimator does not offer as fitted
            continue
        np.testing.assert_allclose(getattr(restored, method)(X), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", method_names())
def test_every_method_round_trips(name: str, tmp_path: Path) -> None:
    (X, y), kwargs = _fit_arguments(name)
    estimator = _model(name).fit(X, y, **kwargs)
    loaded = _round_trip(estimator, name, tmp_path)
    X_new, _ = _domain(7, 1.0, 5)
    assert loaded.method == name and type(loaded.estimator) is type(estimator)
    assert loaded.estimator.get_params() == estimator.get_params()
    _assert_same_outputs(estimator, loaded.estimator, X_new)
    frame = loaded.predict_features(X_new)
    np.testing.assert_array_equal(frame["prediction"], estimator.predict(X_new))
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["method"]["name"] == name


def test_enriched_aae_keeps_its_svm_as_arrays(tmp_path: Path) -> None:
    """The chain's SVM is stored as support vectors, dual coefficients and intercepts
    (no pickle), with the calibration of ``probability=True``."""
    (X, y), _ = _fit_arguments("enriched_aae")
    X_in, y_in = _domain(6, 1.0, 1)  # the calibration cross-validates: 5+ per class
    estimator = _model("enriched_aae", probability=True)
    estimator.fit(X, y, X_target_labelled=X_in, y_target_labelled=y_in)
    loaded = _round_trip(estimator, "enriched_aae", tmp_path)
    assert isinstance(loaded.estimator, EnrichedAAEClassifier)
    X_new, _ = _domain(7, 1.0, 5)
    _assert_same_outputs(estimator, loaded.estimator, X_new)
    names = set(json.loads((tmp_path / "model" / "manifest.json").read_text())["files"])
    assert names == {"estimator.safetensors"}
    from safetensors.numpy import load_file  # noqa: PLC0415

    arrays = load_file(str(tmp_path / "model" / "estimator.safetensors"))
    assert any(k.endswith("support_vectors_") for k in arrays)
    assert any(k.endswith("dual_coef_") for k in arrays)
    assert any(k.startswith("aae_.modules.encoder") for k in arrays)
    assert loaded.estimator.selected_dims_.tolist() == estimator.selected_dims_.tolist()


def _sequences(n: int, seed: int, shift: float = 0.0):
    rng = np.random.default_rng(seed)
    y = np.array(["anger", "sadness"] * (n // 2))
    X = [
        (rng.normal(size=(int(rng.integers(12, 60)), 41)) + 1.2 * (label == "anger") + shift)
        for label in y
    ]
    return [x.astype(np.float32) for x in X], y


SEQUENCE = dict(
    encoder="cnn_gru",
    conv_channels=(8, 16),
    gru_size=16,
    fusion_sizes=(16, 8),
    batch_size=8,
    max_epochs=2,
    device="cpu",
    random_state=0,
)


@pytest.mark.parametrize("name", ["source_only", "dann"])
def test_sequence_models_round_trip(name: str, tmp_path: Path) -> None:
    X, y = _sequences(24, 0)
    X_target, _ = _sequences(16, 1, shift=0.5)
    params = dict(SEQUENCE, **({"warmup_epochs": 0} if name == "dann" else {}))
    estimator = get_method(name, **params).fit(X, y, X_target=X_target)
    loaded = _round_trip(estimator, name, tmp_path, feature_set="logmel")
    assert loaded.features["frame_level"]
    X_new, _ = _sequences(10, 2, shift=0.3)
    assert loaded.estimator.sequence_widths_ == estimator.sequence_widths_
    _assert_same_outputs(estimator, loaded.estimator, X_new)


def test_regression_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6)).astype(np.float32)
    targets = np.c_[X[:, 0], X[:, 1] - X[:, 2]].astype(np.float32)
    estimator = get_method(
        "source_only", task="regression", hidden_sizes=(8,), max_epochs=3, random_state=0
    ).fit(X, targets)
    model = Model.from_parts(estimator, "source_only", "egemaps", None, dimensions=["a", "v"])
    loaded = load(model.save(tmp_path / "model"))
    X_new = rng.normal(size=(9, 6)).astype(np.float32)
    np.testing.assert_array_equal(loaded.estimator.predict(X_new), estimator.predict(X_new))
    frame = loaded.predict_features(X_new)
    assert list(frame.columns) == ["a", "v"]
    np.testing.assert_allclose(frame.to_numpy(), estimator.predict(X_new), rtol=1e-6)


def test_logmel_cnn_gru_from_files_predicts_what_it_trained(tmp_path: Path) -> None:
    """Frame-level features normalised per domain at training time give the same
    probabilities as the loaded bundle computes from the audio files."""
    raw = {
        "name": "logmel",
        "corpora": {"s": {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}},
        "features": {"set": "logmel", "domain": "elicitation", "jobs": 1, "cache_dir": "cache"},
        "labels": {"space": None, "column": "emotion"},
        "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
        "methods": {"source_only": {k: v for k, v in SEQUENCE.items() if k != "random_state"}},
        "baseline": None,
    }
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(raw))
    config = parse_config(raw, base_dir=tmp_path)
    folder = train_model(config, "source_only", progress=False).save(tmp_path / "model")
    model = load(folder)
    data = load_experiment_data(config, progress=False)
    target = data.rows("elicitation == 'spontaneous'")
    table = model.predict(list(data.table["file"].iloc[target]), cache_dir=tmp_path / "cache")
    expected = model.estimator.predict_proba(data.X[target])
    columns = [f"p_{c}" for c in model.labels["classes"]]
    np.testing.assert_allclose(table[columns].to_numpy(), expected, rtol=1e-5, atol=1e-6)


def test_ssl_features_from_a_local_model_round_trip(tmp_path: Path, monkeypatch) -> None:
    """A bundle of ``set: ssl`` keeps the extractor's options (the local model folder,
    layers, pooling) and computes the same features from files as training did."""
    pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from ssl_models import save_tiny  # noqa: PLC0415

    model_dir = save_tiny(tmp_path / "hubert", "hubert")
    raw = {
        "name": "ssl",
        "corpora": {"s": {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}},
        "features": {
            "set": "ssl",
            "model": str(model_dir),
            "layers": [1],
            "pooling": "mean",
            "domain": "elicitation",
            "jobs": 1,
            "cache_dir": "cache",
        },
        "labels": {"space": None, "column": "emotion"},
        "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
        "methods": {"source_only": {"max_epochs": 2, "hidden_sizes": [8], "device": "cpu"}},
        "baseline": None,
    }
    config = parse_config(raw, base_dir=tmp_path)
    folder = train_model(config, "source_only", progress=False).save(tmp_path / "model")
    model = load(folder, feature_set="ssl")
    assert model.features["options"]["model"] == str(model_dir)
    data = load_experiment_data(config, progress=False)
    target = data.rows("elicitation == 'spontaneous'")
    table = model.predict(list(data.table["file"].iloc[target]), cache_dir=tmp_path / "cache")
    columns = [f"p_{c}" for c in model.labels["classes"]]
    expected = model.estimator.predict_proba(data.X[target])
    np.testing.assert_allclose(table[columns].to_numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.bad_input
def test_scikit_learn_objects_need_the_version_that_saved_them(tmp_path: Path) -> None:
    from test_bundle import _rewrite_manifest  # noqa: PLC0415

    from emoshift.bundle import BundleError  # noqa: PLC0415

    (X, y), kwargs = _fit_arguments("svm")
    folder = Model.from_parts(_model("svm").fit(X, y, **kwargs), "svm", "egemaps", None).save(
        tmp_path / "model"
    )
    _rewrite_manifest(folder, lambda m: m["libraries"].update({"scikit-learn": "0.1"}))
    with pytest.raises(BundleError, match="saved by scikit-learn 0.1, this is"):
        load(folder)
    assert load(folder, strict=False).method == "svm"


@pytest.mark.bad_input
def test_a_seed_ensemble_is_refused_rather_than_saved_as_one_member(tmp_path: Path) -> None:
    (X, y), kwargs = _fit_arguments("source_only")
    estimator = _model("source_only").set_params(ensemble=2).fit(X, y, **kwargs)
    with pytest.raises(TypeError, match=r"ensemble=2\) cannot be saved yet"):
        Model.from_parts(estimator, "source_only", "egemaps", None).save(tmp_path / "model")
    assert not (tmp_path / "model" / "manifest.json").exists()
