"""A model bundle on SSL features records its checkpoint's identity, not only its place:
moved to a new folder it predicts once pointed at the checkpoint, and refuses another one
(issue 24). The checkpoints are tiny random models (tests/ssl_models.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("transformers", reason="SSL features need the 'ssl' extra")

from ssl_models import save_tiny  # noqa: E402

from emoshift.bundle import BundleError, load  # noqa: E402
from emoshift.cli import main  # noqa: E402
from emoshift.features.ssl_model import ModelError, checkpoint_files  # noqa: E402

CONFIG = {
    "name": "ssl-bundle",
    "corpora": {
        "synthetic": {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}
    },
    "features": {
        "set": "ssl",
        "model": "checkpoint",
        "layers": -1,
        "pooling": "mean",
        "domain": "elicitation",
        "jobs": 1,
        "cache_dir": "cache",
        "device": "cpu",
        "batch_size": 2,
    },
    "labels": {"space": None, "column": "emotion"},
    "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
    "methods": {"source_only": {"max_epochs": 3, "hidden_sizes": [8]}},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ssl-bundle")
    save_tiny(folder / "checkpoint", "wav2vec2")
    (folder / "exp.yaml").write_text(yaml.safe_dump(CONFIG))
    argv = ["train", str(folder / "exp.yaml"), "--method", "source_only"]
    assert main([*argv, "--out", str(folder / "model")]) == 0
    return folder


def _files(folder: Path) -> list[str]:
    return sorted(str(p) for p in (folder / "corpus" / "wav" / "spontaneous").rglob("*.wav"))[:6]


def test_the_bundle_records_the_checkpoints_identity(trained: Path) -> None:
    features = json.loads((trained / "model" / "manifest.json").read_text())["features"]
    checkpoint = features["checkpoint"]
    assert checkpoint["model_type"] == "wav2vec2"
    assert (checkpoint["hidden_size"], checkpoint["n_hidden_states"]) == (16, 3)
    assert checkpoint["weights_sha256"] == features["extractor"]["weights_sha256"]
    assert "device" not in features["options"] and "batch_size" not in features["options"]


def test_a_moved_bundle_predicts_once_pointed_at_the_checkpoint(
    trained: Path, tmp_path: Path, capsys
) -> None:
    before = load(trained / "model").predict(_files(trained), n_jobs=1)
    machine = tmp_path / "elsewhere"
    shutil.copytree(trained / "model", machine / "model")
    shutil.copytree(trained / "checkpoint", machine / "wav2vec2-tiny")
    moved = tmp_path / "moved-away"
    (trained / "checkpoint").rename(moved)  # the training place holds it no more
    try:
        with pytest.raises(BundleError, match="--ssl-model PATH"):
            load(machine / "model")
        model = load(machine / "model", ssl_model=machine / "wav2vec2-tiny")
        after = model.predict(_files(trained), n_jobs=1)
        np.testing.assert_allclose(
            after.filter(like="p_").to_numpy(float), before.filter(like="p_").to_numpy(float)
        )
        out = tmp_path / "predictions.csv"
        argv = ["predict", str(machine / "model"), *_files(trained), "--out", str(out)]
        assert main([*argv, "--jobs", "1", "--ssl-model", str(machine / "wav2vec2-tiny")]) == 0
        assert main([*argv, "--jobs", "1", "--overwrite"]) == 2
        assert "--ssl-model" in capsys.readouterr().err
    finally:
        moved.rename(trained / "checkpoint")


def test_a_checkpoint_with_other_weights_is_refused(trained: Path, tmp_path: Path) -> None:
    other = save_tiny(tmp_path / "other", "wav2vec2", norm="layer")
    with pytest.raises(BundleError, match="weights sha256"):
        load(trained / "model", ssl_model=other)
    out = tmp_path / "p.csv"
    argv = ["predict", str(trained / "model"), _files(trained)[0], "--out", str(out)]
    assert main([*argv, "--ssl-model", str(other)]) == 2


def test_a_model_on_other_features_needs_no_checkpoint(trained: Path, tmp_path: Path) -> None:
    features = {"set": "egemaps", "domain": "elicitation", "jobs": 1, "cache_dir": "cache"}
    functionals = {**CONFIG, "features": features}
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(functionals))
    (tmp_path / "corpus").symlink_to(trained / "corpus")
    argv = ["train", str(tmp_path / "exp.yaml"), "--method", "source_only", "--out"]
    assert main([*argv, str(tmp_path / "model")]) == 0
    with pytest.raises(BundleError, match="needs no checkpoint"):
        load(tmp_path / "model", ssl_model=trained / "checkpoint")


def test_a_folder_without_preprocessor_config_says_how_to_write_one(tmp_path: Path) -> None:
    folder = save_tiny(tmp_path / "m", "hubert")
    (folder / "preprocessor_config.json").unlink()
    with pytest.raises(ModelError, match="Wav2Vec2FeatureExtractor\\(sampling_rate=16000"):
        checkpoint_files(folder)


def test_predict_device_is_where_the_ssl_checkpoint_runs(
    trained: Path, tmp_path: Path, monkeypatch
) -> None:
    """``--device`` reached the networks only; the checkpoint ran on "auto" (a GPU when
    torch sees one) whatever was asked. Now it gets the same device."""
    import emoshift.bundle.manifest as mf  # noqa: PLC0415

    asked: list[str | None] = []
    build = mf.get_extractor

    def spy(name: str, **options: object):
        if name == "ssl":
            asked.append(options.get("device"))
        return build(name, **options)

    monkeypatch.setattr(mf, "get_extractor", spy)
    args = ["predict", str(trained / "model"), *_files(trained), "--jobs", "1"]
    args += ["--cache-dir", str(tmp_path / "cache")]
    assert main([*args, "--out", str(tmp_path / "cpu.csv"), "--device", "cpu"]) == 0
    assert asked[-1] == "cpu"  # the extractor that ran (load builds one to check too)
    assert main([*args, "--out", str(tmp_path / "auto.csv")]) == 0
    assert asked[-1] == "auto"
