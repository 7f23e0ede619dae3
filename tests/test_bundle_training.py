"""``emoshift train`` for deployment: weights independent of the machine's threads, only the
pair's domains featurised and stored, no baseline needed, and few-shot shipping from a
handful of labelled clips next to unlabelled target audio (issue 24).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from emoshift.bundle import load
from emoshift.bundle.adapt import recompute_batch_norm
from emoshift.bundle.training import train_model
from emoshift.cli import main
from emoshift.experiment.config import ConfigError, load_config, parse_config
from emoshift.methods.estimator import DomainEstimator

SYNTHETIC = {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}
CONFIG = {
    "name": "ship-test",
    "corpora": {"synthetic": SYNTHETIC},
    "features": {"set": "egemaps", "domain": "elicitation", "jobs": 1, "cache_dir": "cache"},
    "labels": {"space": None, "column": "emotion"},
    "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
    "methods": {"dann": {"max_epochs": 3, "warmup_epochs": 1, "hidden_sizes": [256, 256]}},
    "baseline": None,
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A folder with the tiny synthetic corpus generated and its features cached."""
    folder = tmp_path_factory.mktemp("ship")
    (folder / "exp.yaml").write_text(yaml.safe_dump(CONFIG))
    train_model(load_config(folder / "exp.yaml"), "dann", progress=False)
    return folder


def _train_in_subprocess(folder: Path, threads: int, out: Path) -> bytes:
    """Train the config in a fresh interpreter whose torch has ``threads`` threads."""
    code = (
        "import sys, torch\n"
        f"torch.set_num_threads({threads})\n"
        "from emoshift.cli import main\n"
        f"sys.exit(main(['train', {str(folder / 'exp.yaml')!r}, '--method', 'dann', "
        f"'--out', {str(out)!r}]))\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "EMOSHIFT_PROGRESS": "0"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return (out / "estimator.safetensors").read_bytes()


def test_weights_do_not_depend_on_the_thread_count(folder: Path, tmp_path: Path) -> None:
    one = _train_in_subprocess(folder, 1, tmp_path / "one")
    four = _train_in_subprocess(folder, 4, tmp_path / "four")
    assert one == four


def test_training_runs_torch_on_one_thread_and_restores_it(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []
    fit = DomainEstimator.fit

    def recording_fit(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(DomainEstimator, "fit", recording_fit)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train_model(load_config(folder / "exp.yaml"), "dann", progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen == [1]


def _write_csv_corpus(path: Path, rows: list[dict]) -> None:
    pd.DataFrame(rows).to_csv(path, index=False)


def test_only_the_pairs_domains_are_featurised_and_stored(folder: Path, tmp_path: Path) -> None:
    """A third domain in the config (files that are not audio at all, with features
    required: ``on_error: raise``) is neither read nor stored in the bundle."""
    (tmp_path / "junk.wav").write_bytes(b"not audio" * 100)
    rows = [
        {"file": "junk.wav", "emotion": "anger", "elicitation": "phone", "speaker": "p1"},
    ]
    _write_csv_corpus(tmp_path / "phone.csv", rows)
    config = {
        **CONFIG,
        "corpora": {
            "synthetic": {**SYNTHETIC, "path": str(folder / "corpus")},
            "phone": {
                "loader": "csv",
                "path": str(tmp_path / "phone.csv"),
                "options": {"duration": False},
            },
        },
        "features": {**CONFIG["features"], "cache_dir": str(folder / "cache"), "on_error": "raise"},
        "methods": {"source_only": {"max_epochs": 2, "hidden_sizes": [8]}},
    }
    model = train_model(parse_config(config, tmp_path), "source_only", progress=False)
    assert model.domains() == ["acted", "spontaneous"]
    assert model.training["rows"] == {
        "source": 24,
        "target": 24,
        "unlabelled_target": 0,
        "labelled_target": 0,
        "development": 0,
    }


def test_train_needs_no_baseline_method(folder: Path, tmp_path: Path) -> None:
    config = {**CONFIG, "methods": {"coral": {"max_epochs": 2, "hidden_sizes": [8]}}}
    config.pop("baseline")  # the default, source_only, is not among the methods
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match="config.baseline"):
        load_config(tmp_path / "exp.yaml")  # emoshift run still needs it
    for name in ("corpus", "cache"):
        (tmp_path / name).symlink_to(folder / name)
    out = tmp_path / "model"
    assert main(["train", str(tmp_path / "exp.yaml"), "--method", "coral", "--out", str(out)]) == 0
    assert load(out).training["config"]["baseline"] is None


def _few_shot_config(folder: Path, tmp_path: Path, labelled_per_class: int, k: int) -> dict:
    """The synthetic acted rows as source; as target, a CSV of the spontaneous clips where
    only ``labelled_per_class`` clips per class keep their label."""
    table = pd.read_parquet(folder / "corpus" / "corpus.parquet")
    target = table[table["elicitation"] == "spontaneous"].sort_values("file")
    rows = []
    for emotion, clips in target.groupby("emotion"):
        for i, file in enumerate(clips["file"]):
            label = emotion if i < labelled_per_class else ""
            rows.append({"file": file, "emotion": label, "speaker": "user", "elicitation": "mine"})
    _write_csv_corpus(tmp_path / "mine.csv", rows)
    return {
        **CONFIG,
        "corpora": {
            "synthetic": {
                **SYNTHETIC,
                "path": str(folder / "corpus"),
                "query": "elicitation == 'acted'",
            },
            "mine": {"loader": "csv", "path": str(tmp_path / "mine.csv")},
        },
        "features": {**CONFIG["features"], "cache_dir": str(folder / "cache")},
        "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'mine'"}],
        "methods": {"fine_tune": {"max_epochs": 2, "hidden_sizes": [8]}},
        "protocol": {"name": "few_shot", "k": [k]},
    }


def test_few_shot_ships_with_labelled_clips_and_unlabelled_target_audio(
    folder: Path, tmp_path: Path
) -> None:
    config = parse_config(_few_shot_config(folder, tmp_path, 2, k=2), tmp_path)
    model = train_model(config, "fine_tune", progress=False)
    assert model.training["rows"] == {
        "source": 24,
        "target": 24,  # every target clip, labelled or not
        "unlabelled_target": 16,
        "labelled_target": 8,  # k = 2 = every labelled clip of each of the 4 classes
        "development": 0,
    }
    assert model.normalisation["target_domain"] == "mine"


def test_few_shot_k_above_the_labelled_clips_says_so(folder: Path, tmp_path: Path) -> None:
    config = parse_config(_few_shot_config(folder, tmp_path, 2, k=3), tmp_path)
    with pytest.raises(ValueError, match="has 2 example"):
        train_model(config, "fine_tune", progress=False)


def test_train_on_target_reads_only_the_labelled_target_rows(folder: Path, tmp_path: Path) -> None:
    config = _few_shot_config(folder, tmp_path, 3, k=1)
    config["methods"] = {"train_on_target": {"max_epochs": 2, "hidden_sizes": [8]}}
    config["protocol"] = {"name": "cross_domain"}
    model = train_model(parse_config(config, tmp_path), "train_on_target")
    assert model.training["rows"]["labelled_target"] == 12
    assert model.labels["classes"] == ["anger", "happiness", "neutral", "sadness"]


def test_adabn_recomputes_statistics_on_one_thread(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``adapt --batch-norm`` runs its forward pass as training does: on one thread, so
    the recomputed statistics do not depend on the machine's cores either."""
    model = train_model(load_config(folder / "exp.yaml"), "dann", progress=False)
    seen = []
    forward = type(model.estimator)._forward

    def recording_forward(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(type(model.estimator), "_forward", recording_forward)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        X = np.random.default_rng(0).normal(size=(30, 88)).astype(np.float32)
        assert recompute_batch_norm(model.estimator, X) > 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen == [1]
