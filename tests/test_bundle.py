"""Model bundles: train -> save -> load -> predict on new audio, and every bad bundle.

One module-scoped bundle is trained through ``emoshift train`` on the synthetic tiny
corpus (acted -> spontaneous); the tests predict with it, damage copies of it, and adapt
it to a new domain.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from emoshift.bundle import BundleError, load
from emoshift.bundle.adapt import adapt_model, recompute_batch_norm
from emoshift.bundle.inputs import audio_files
from emoshift.bundle.predict import predict_inputs
from emoshift.bundle.training import train_model
from emoshift.cli import main
from emoshift.experiment.config import load_config, parse_config
from emoshift.experiment.data import load_experiment_data
from emoshift.features import DomainNormaliser, extract_features

CONFIG = {
    "name": "bundle-test",
    "corpora": {
        "synthetic": {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}
    },
    "features": {"set": "egemaps", "domain": "elicitation", "jobs": 1, "cache_dir": "cache"},
    "labels": {"space": None, "column": "emotion"},
    "pairs": [
        {
            "name": "acted->spontaneous",
            "source": "elicitation == 'acted'",
            "target": "elicitation == 'spontaneous'",
        }
    ],
    "methods": {"dann": {"max_epochs": 4, "warmup_epochs": 1, "hidden_sizes": [16]}},
    "baseline": None,
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The experiment folder: exp.yaml, the corpus, the feature cache and model/."""
    folder = tmp_path_factory.mktemp("bundle")
    (folder / "exp.yaml").write_text(yaml.safe_dump(CONFIG))
    code = main(
        ["train", str(folder / "exp.yaml"), "--method", "dann", "--out", str(folder / "model")]
    )
    assert code == 0
    return folder


@pytest.fixture
def bundle(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained bundle that a test may damage."""
    return Path(shutil.copytree(trained / "model", tmp_path / "model"))


def _target_files(folder: Path) -> list[str]:
    return sorted(str(p) for p in (folder / "corpus" / "wav" / "spontaneous").rglob("*.wav"))


def test_bundle_holds_weights_manifest_and_checksums(trained: Path) -> None:
    model_dir = trained / "model"
    names = sorted(p.name for p in model_dir.iterdir())
    assert names == [
        "SHA256SUMS",
        "estimator.safetensors",
        "manifest.json",
        "normalisation.safetensors",
    ]
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["emoshift_version"]
    assert manifest["method"]["name"] == "dann" and manifest["method"]["params"]["max_epochs"] == 4
    assert manifest["features"]["set"] == "egemaps" and manifest["features"]["n_features"] == 88
    assert manifest["features"]["extractor"]["opensmile"]
    assert manifest["features"]["sample_rate"] == 16000
    assert manifest["labels"]["classes"] == ["anger", "happiness", "neutral", "sadness"]
    assert manifest["normalisation"]["target_domain"] == "spontaneous"
    assert set(manifest["normalisation"]["settings"]["domains"]) == {"acted", "spontaneous"}
    assert manifest["training"]["config"]["name"] == "bundle-test"
    assert manifest["training"]["rows"]["labelled_target"] == 0
    for line in (model_dir / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((model_dir / name).read_bytes()).hexdigest() == digest


def test_bundle_predicts_what_the_trained_model_predicts(trained: Path) -> None:
    """Features of the target files, normalised as the experiment did, give the same
    probabilities through the loaded bundle as through the estimator fitted in memory."""
    config = load_config(trained / "exp.yaml")
    data = load_experiment_data(config, progress=False)
    target = data.rows("elicitation == 'spontaneous'")
    model = load(trained / "model")
    from_files = model.predict(
        list(data.table["file"].iloc[target]), cache_dir=trained / "cache", n_jobs=1
    )
    from_training = model.estimator.predict_proba(data.X[target])
    np.testing.assert_allclose(
        from_files[[f"p_{c}" for c in model.labels["classes"]]].to_numpy(),
        from_training,
        rtol=1e-5,
        atol=1e-6,
    )
    assert (from_files["error"] == "").all()


def test_normaliser_saved_equals_the_experiments(trained: Path) -> None:
    config = load_config(trained / "exp.yaml")
    data = load_experiment_data(config, progress=False)
    raw = extract_features(data.table, "egemaps", cache_dir=trained / "cache", n_jobs=1)
    model = load(trained / "model")
    domains = data.table["elicitation"].astype(str).to_numpy()
    again = model.normaliser.transform(raw.features.to_numpy(np.float64), domains)
    np.testing.assert_array_equal(again.astype(np.float32), data.X)


def test_predict_cli_folder_with_corrupt_and_empty_file(
    trained: Path, tmp_path: Path, capsys
) -> None:
    audio = tmp_path / "new"
    shutil.copytree(trained / "corpus" / "wav" / "spontaneous", audio)
    (audio / "empty.wav").write_bytes(b"")
    (audio / "corrupt.wav").write_bytes(b"RIFF\x00\x01garbage" * 50)
    out = tmp_path / "predictions.csv"
    capsys.readouterr()
    code = main(
        [
            "predict",
            str(trained / "model"),
            str(audio),
            "--out",
            str(out),
            "--jobs",
            "1",
            "--cache-dir",
            str(trained / "cache"),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out, keep_default_na=False)
    n_good = len(_target_files(trained))
    assert len(table) == n_good + 2
    failed = table[table["error"] != ""]
    assert sorted(Path(f).name for f in failed["file"]) == ["corrupt.wav", "empty.wav"]
    assert (
        "empty"
        in failed.set_index(failed["file"].map(lambda f: Path(f).name))["error"]["empty.wav"]
    )
    done = table[table["error"] == ""]
    assert len(done) == n_good and set(done["prediction"]) <= {
        "anger",
        "happiness",
        "neutral",
        "sadness",
    }
    probabilities = done[[c for c in table if c.startswith("p_")]].astype(float)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert f"predicted {n_good} of {n_good + 2} file(s)" in printed
    assert "skipped 2 file(s)" in printed and "corrupt.wav" in printed and "empty.wav" in printed
    counts = done["prediction"].value_counts()
    for label, count in counts.items():
        assert f"  {label}: {count}" in printed


def test_predict_reads_lists_and_tables(trained: Path, tmp_path: Path) -> None:
    files = _target_files(trained)[:3]
    (tmp_path / "list.txt").write_text("# three clips\n" + "\n".join(files) + "\n")
    pd.DataFrame({"file": files}).to_csv(tmp_path / "table.csv", index=False)
    assert audio_files([tmp_path / "list.txt"]) == files
    assert audio_files([tmp_path / "table.csv"]) == files
    model = load(trained / "model")
    a = model.predict(audio_files([tmp_path / "list.txt"]), cache_dir=trained / "cache", n_jobs=1)
    b = model.predict(pd.read_csv(tmp_path / "table.csv"), cache_dir=trained / "cache", n_jobs=1)
    pd.testing.assert_frame_equal(a, b)


def test_train_refuses_a_grid_and_unknown_names(trained: Path, tmp_path: Path, capsys) -> None:
    config = {**CONFIG, "methods": {"dann": {"lambda_max": [0.5, 1.0]}}}
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(config))
    assert (
        main(
            ["train", str(tmp_path / "grid.yaml"), "--method", "dann", "--out", str(tmp_path / "m")]
        )
        == 2
    )
    assert "2 settings" in capsys.readouterr().err
    assert (
        main(
            ["train", str(trained / "exp.yaml"), "--method", "coral", "--out", str(tmp_path / "m")]
        )
        == 2
    )
    assert "not in config" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                str(trained / "exp.yaml"),
                "--method",
                "dann",
                "--pair",
                "x",
                "--out",
                str(tmp_path / "m"),
            ]
        )
        == 2
    )
    assert "no pair 'x'" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_adapt_sets_a_new_domain_from_unlabelled_audio(
    trained: Path, tmp_path: Path, capsys
) -> None:
    audio = trained / "corpus" / "wav" / "spontaneous"
    out = tmp_path / "adapted"
    code = main(
        [
            "adapt",
            str(trained / "model"),
            str(audio),
            "--out",
            str(out),
            "--domain",
            "calls",
            "--jobs",
            "1",
            "--cache-dir",
            str(trained / "cache"),
        ]
    )
    assert code == 0
    assert "domain 'calls'" in capsys.readouterr().out
    original, adapted = load(trained / "model"), load(out)
    assert adapted.normalisation["target_domain"] == "calls"
    assert adapted.domains() == ["acted", "spontaneous", "calls"]
    assert adapted.training["adaptations"][0]["files"] == len(_target_files(trained))
    raw = extract_features(_target_files(trained), "egemaps", cache_dir=trained / "cache", n_jobs=1)
    expected = DomainNormaliser().fit(raw.features.to_numpy(np.float64), ["calls"] * len(raw.files))
    np.testing.assert_array_equal(
        adapted.normaliser.stats_["calls"].loc, expected.stats_["calls"].loc
    )
    # the same audio as the spontaneous training rows: the same statistics, the same predictions
    np.testing.assert_allclose(
        adapted.normaliser.stats_["calls"].scale, original.normaliser.stats_["spontaneous"].scale
    )
    files = _target_files(trained)[:4]
    kwargs = {"cache_dir": trained / "cache", "n_jobs": 1}
    pd.testing.assert_frame_equal(
        adapted.predict(files, **kwargs), original.predict(files, **kwargs)
    )
    with pytest.raises(ValueError, match="at least 10"):
        adapt_model(original, files, domain="few", **kwargs)


# ------------------------------------------------------------------ bad bundles


def _rewrite_manifest(bundle: Path, change) -> None:
    """Edit the manifest and re-sign it, so only the edited content is wrong."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    change(manifest)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    lines = []
    for line in (bundle / "SHA256SUMS").read_text().splitlines():
        _, name = line.split("  ")
        lines.append(f"{hashlib.sha256((bundle / name).read_bytes()).hexdigest()}  {name}")
    (bundle / "SHA256SUMS").write_text("\n".join(lines) + "\n")


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "name", ["estimator.safetensors", "normalisation.safetensors", "manifest.json", "SHA256SUMS"]
)
def test_missing_file(bundle: Path, name: str) -> None:
    (bundle / name).unlink()
    with pytest.raises(BundleError, match=f"{name}.*missing"):
        load(bundle)


@pytest.mark.bad_input
def test_truncated_file(bundle: Path) -> None:
    path = bundle / "estimator.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(BundleError, match="estimator.safetensors is truncated"):
        load(bundle)


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "name", ["estimator.safetensors", "normalisation.safetensors", "manifest.json"]
)
def test_altered_file(bundle: Path, name: str) -> None:
    path = bundle / name
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x01  # same size, one bit changed
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=f"{name}: sha256 does not match"):
        load(bundle)


@pytest.mark.bad_input
def test_checksum_mismatch(bundle: Path) -> None:
    """SHA256SUMS says another sha256 for a file than the file has."""
    path = bundle / "SHA256SUMS"
    lines = path.read_text().splitlines()
    digest, name = lines[1].split("  ")
    lines[1] = f"{'0' * 64}  {name}"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BundleError, match=f"{name}: sha256 does not match SHA256SUMS"):
        load(bundle)


@pytest.mark.bad_input
def test_manifest_checksum_of_an_array_file_differs(bundle: Path) -> None:
    _rewrite_manifest(bundle, lambda m: m["files"]["estimator.safetensors"].update(sha256="0" * 64))
    with pytest.raises(BundleError, match="estimator.safetensors: its sha256 in manifest.json"):
        load(bundle)


@pytest.mark.bad_input
def test_newer_format_version(bundle: Path) -> None:
    _rewrite_manifest(bundle, lambda m: m.update(format_version=2))
    with pytest.raises(BundleError, match="manifest.json: format version 2 is newer.*upgrade"):
        load(bundle)


@pytest.mark.bad_input
def test_other_feature_set_than_requested(bundle: Path) -> None:
    with pytest.raises(BundleError, match="reads eGeMAPSv02 features, not ComParE_2016"):
        load(bundle, feature_set="compare")


@pytest.mark.bad_input
def test_other_extractor_version(bundle: Path) -> None:
    _rewrite_manifest(bundle, lambda m: m["features"]["extractor"].update(opensmile="0.0.1"))
    with pytest.raises(
        BundleError, match="manifest.json: the feature extractor differs.*opensmile: saved '0.0.1'"
    ):
        load(bundle)
    assert load(bundle, strict=False).features["extractor"]["opensmile"] == "0.0.1"


@pytest.mark.bad_input
def test_feature_columns_of_another_set(bundle: Path) -> None:
    _rewrite_manifest(bundle, lambda m: m["features"].update(set="gemaps"))
    with pytest.raises(BundleError, match="other feature columns"):
        load(bundle)


@pytest.mark.bad_input
def test_weights_of_another_shape(bundle: Path) -> None:
    _rewrite_manifest(bundle, lambda m: m["method"]["params"].update(hidden_sizes=[8]))
    with pytest.raises(BundleError, match="manifest.json: the saved model cannot be rebuilt"):
        load(bundle)


@pytest.mark.bad_input
def test_unknown_domain_for_prediction(trained: Path) -> None:
    model = load(trained / "model")
    with pytest.raises(
        ValueError, match="no normalisation statistics for domain 'phone'.*emoshift adapt"
    ):
        model.predict(_target_files(trained)[:1], domain="phone")


@pytest.mark.bad_input
def test_predict_cli_names_a_bad_bundle(bundle: Path, tmp_path: Path, capsys) -> None:
    (bundle / "normalisation.safetensors").write_bytes(b"")
    code = main(["predict", str(bundle), str(tmp_path), "--out", str(tmp_path / "p.csv")])
    assert code == 2
    err = capsys.readouterr().err
    assert "normalisation.safetensors is truncated" in err and "Traceback" not in err


def test_python_api_at_the_top_level(trained: Path, tmp_path: Path) -> None:
    import emoshift  # noqa: PLC0415

    model = emoshift.load(trained / "model")
    copy = emoshift.load(emoshift.save_model(model, tmp_path / "copy"))
    files = _target_files(trained)[:3]
    table = copy.predict(files, cache_dir=trained / "cache", n_jobs=1)
    assert isinstance(table, pd.DataFrame) and table["file"].tolist() == files
    expected = model.predict(files, cache_dir=trained / "cache", n_jobs=1)
    pd.testing.assert_frame_equal(table, expected)


@pytest.mark.bad_input
def test_predict_when_no_file_can_be_read(trained: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    missing = str(tmp_path / "missing.wav")
    run = predict_inputs(
        load(trained / "model"), [tmp_path / "empty.wav", missing], cache_dir=tmp_path / "c"
    )
    assert len(run.table) == 2 and run.table["prediction"].isna().all()
    assert run.table["error"].str.contains("empty|does not exist").all()
    summary = run.summary()
    assert "predicted 0 of 2 file(s)" in summary and "missing.wav" in summary


@pytest.mark.bad_input
def test_a_folder_without_audio_and_an_existing_out_are_named(
    trained: Path, tmp_path: Path, capsys
) -> None:
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(FileNotFoundError, match="holds no audio files"):
        audio_files([tmp_path])
    out = tmp_path / "taken"
    out.mkdir()
    args = ["train", str(trained / "exp.yaml"), "--method", "dann", "--out", str(out)]
    assert main(args) == 2
    assert f"--out {out} already exists; pass --overwrite" in capsys.readouterr().err


def test_adapt_batch_norm_recomputes_the_statistics_only(trained: Path, tmp_path: Path) -> None:
    original = load(trained / "model")
    files = _target_files(trained)
    kwargs = {"cache_dir": trained / "cache", "n_jobs": 1}
    adapted, report = adapt_model(original, files, domain="calls", batch_norm=True, **kwargs)
    assert "AdaBN" in report["networks"]
    adapted = load(adapted.save(tmp_path / "adapted"))
    raw = extract_features(files, "egemaps", **kwargs).features.to_numpy(np.float64)
    X = torch.as_tensor(adapted.normalise(raw, "calls"))
    layer = adapted.estimator.modules_["encoder"].blocks[0]
    linear = next(m for m in layer if isinstance(m, torch.nn.Linear))
    batch_norm = next(m for m in layer if isinstance(m, torch.nn.BatchNorm1d))
    with torch.no_grad():
        inputs = linear(X)
    np.testing.assert_allclose(batch_norm.running_mean, inputs.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(batch_norm.running_var, inputs.var(0), rtol=1e-4, atol=1e-5)
    before = original.estimator.modules_.state_dict()
    for name, value in adapted.estimator.modules_.state_dict().items():
        if "running" not in name and "num_batches" not in name:
            assert torch.equal(value, before[name]), name
    assert not torch.equal(before["encoder.blocks.0.1.running_mean"], batch_norm.running_mean)


@pytest.mark.bad_input
def test_adapt_batch_norm_needs_batch_norm_layers(tmp_path: Path) -> None:
    from test_method_contract import _fit_arguments, _model  # noqa: PLC0415

    (X, y), kwargs = _fit_arguments("svm")
    estimator = _model("svm").fit(X, y, **kwargs)
    with pytest.raises(ValueError, match="SVMClassifier has no batch-normalisation layers"):
        recompute_batch_norm(estimator, X)


@pytest.mark.parametrize(
    ("protocol", "labelled", "development"),
    [
        ({"name": "few_shot", "k": [1, 2], "exclusive": False}, 8, 0),  # largest k per class
        ({"name": "loso"}, 24, 0),  # no speaker held out
        ({"name": "reduced", "sizes": [0.25, 0.5]}, 12, 0),  # the largest size
        ({"name": "split_10_40_50", "speaker_independent": False}, None, None),
    ],
)
def test_train_reads_the_target_labels_its_protocol_allows(
    trained: Path, protocol: dict, labelled: int | None, development: int | None
) -> None:
    raw = {
        **CONFIG,
        "protocol": protocol,
        "trials": 1,
        "methods": {"label_target": {"max_epochs": 2, "hidden_sizes": [8]}},
    }
    config = parse_config(raw, base_dir=trained)
    rows = train_model(config, "label_target", progress=False).training["rows"]
    assert rows["source"] == 24 and rows["target"] == 24
    if labelled is None:  # 10/40/50 without a test part: the 40% development part stays
        assert 0 < rows["development"] < rows["labelled_target"]
        assert rows["development"] + rows["labelled_target"] == 24
    else:
        assert (rows["labelled_target"], rows["development"]) == (labelled, development)


@pytest.mark.bad_input
def test_train_refuses_a_method_the_protocol_cannot_feed(trained: Path, capsys) -> None:
    raw = {**CONFIG, "methods": {"cada": {"max_epochs": 2}}}
    (trained / "cada.yaml").write_text(yaml.safe_dump(raw))
    args = ["train", str(trained / "cada.yaml"), "--method", "cada", "--out", str(trained / "x")]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "cada needs labelled target examples, which protocol cross_domain" in error
    assert not (trained / "x").exists()
