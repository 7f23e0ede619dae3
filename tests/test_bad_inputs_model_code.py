"""An SSL model folder never runs code of its own (issue 23, item 1).

A folder whose ``config.json`` or ``preprocessor_config.json`` maps to a Python file of
its own (``auto_map``) makes transformers' Auto classes ask on stdin whether to run it;
with "y" on stdin the file ran. Each attack here carries an ``evil.py`` that writes a
marker file when imported, is fed "y" on stdin, and must leave no marker, through every
way a model folder reaches emoshift: ``features.model`` (a run's features), ``emoshift
features --model`` and the ``features`` section of a bundle's manifest during
``predict``. A ``pytorch_model.bin`` holding a pickled object is refused by name.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
pytest.importorskip("transformers")

from ssl_models import save_tiny  # noqa: E402
from test_bundle import _rewrite_manifest  # noqa: E402
from test_method_contract import _fit_arguments, _model  # noqa: E402

from emoshift.bundle import Model  # noqa: E402
from emoshift.cli import main  # noqa: E402
from emoshift.experiment.config import FeaturesConfig  # noqa: E402
from emoshift.experiment.features import extractor_options, table_features  # noqa: E402
from emoshift.features.ssl_model import ModelError, weights_sha256  # noqa: E402

EVIL_CODE = """\
from pathlib import Path
Path({marker!r}).write_text("the model folder's own code ran")
from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model
class EvilConfig(Wav2Vec2Config):
    model_type = "evilnet"
class EvilModel(Wav2Vec2Model):
    config_class = EvilConfig
class EvilExtractor(Wav2Vec2FeatureExtractor):
    pass
"""

#: what each attack changes: config.json's model_type, the feature extractor's type
ATTACKS = {
    "own_model_type": ("evilnet", "Wav2Vec2FeatureExtractor"),
    "own_extractor_type": ("wav2vec2", "EvilExtractor"),
}


def _edit_json(path: Path, **changes: object) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def evil_folder(folder: Path, marker: Path, model_type: str, extractor_type: str) -> Path:
    """A tiny wav2vec2 checkpoint whose configs map to ``evil.py`` (which writes ``marker``)."""
    save_tiny(folder, "wav2vec2")
    (folder / "evil.py").write_text(EVIL_CODE.format(marker=str(marker)))
    auto_map = {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}
    _edit_json(folder / "config.json", model_type=model_type, auto_map=auto_map)
    _edit_json(
        folder / "preprocessor_config.json",
        feature_extractor_type=extractor_type,
        auto_map={"AutoFeatureExtractor": "evil.EvilExtractor"},
    )
    return folder


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    t = np.arange(8000) / 16000
    sf.write(tmp_path / "clip.wav", 0.3 * np.sin(2 * np.pi * 180 * t), 16000)
    return tmp_path / "clip.wav"


@pytest.fixture
def yes_on_stdin(monkeypatch):
    """Answer every question transformers asks with "y"."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n" * 20))


@pytest.mark.bad_input
@pytest.mark.parametrize("attack", ATTACKS)
def test_features_model_runs_no_code_from_the_folder(tmp_path, clip, yes_on_stdin, attack):
    marker = tmp_path / "marker"
    folder = evil_folder(tmp_path / "model", marker, *ATTACKS[attack])
    options = extractor_options(FeaturesConfig(set="ssl", model=str(folder)), tmp_path)
    table = pd.DataFrame({"file": [str(clip)], "corpus": ["c"]})
    with pytest.raises(ModelError) as error:
        table_features(table, "ssl", cache_dir=tmp_path / "cache", n_jobs=1, options=options)
    assert not marker.exists()
    message = str(error.value)
    assert str(folder) in message
    assert repr(ATTACKS[attack][0]) in message or ATTACKS[attack][1] in message


@pytest.mark.bad_input
def test_features_cli_with_yes_piped_runs_no_code(tmp_path, clip):
    """``yes | emoshift features --model EVIL``, as a script would run it."""
    marker = tmp_path / "marker"
    folder = evil_folder(tmp_path / "model", marker, *ATTACKS["own_model_type"])
    (tmp_path / "t.csv").write_text(f"file\n{clip}\n")
    command = [sys.executable, "-m", "emoshift", "features", str(tmp_path / "t.csv")]
    command += ["--set", "ssl", "--model", str(folder), "--out", str(tmp_path / "f.csv")]
    done = subprocess.run(
        command + ["--cache-dir", str(tmp_path / "c")],
        input="y\n" * 20,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert not marker.exists()
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{folder}: model type 'evilnet' is not a wav2vec 2.0 family model" in done.stderr
    assert not (tmp_path / "f.csv").exists()


@pytest.mark.bad_input
@pytest.mark.parametrize("attack", ATTACKS)
def test_bundle_naming_a_model_folder_runs_no_code_in_predict(
    tmp_path, clip, yes_on_stdin, capsys, attack
):
    marker = tmp_path / "marker"
    folder = evil_folder(tmp_path / "evil", marker, *ATTACKS[attack])
    (X, y), kwargs = _fit_arguments("source_only")
    estimator = _model("source_only").fit(X, y, **kwargs)
    bundle = Model.from_parts(estimator, "source_only", "egemaps", None).save(tmp_path / "b")

    def name_the_evil_folder(manifest: dict) -> None:  # resealed with the folder's identity
        manifest["features"].update(set="ssl", options={"model": str(folder)})
        manifest["features"]["extractor"].update(
            model_type="wav2vec2", weights_sha256=weights_sha256(str(folder))
        )

    _rewrite_manifest(bundle, name_the_evil_folder)
    out = tmp_path / "p.csv"
    code = main(["predict", str(bundle), str(clip), "--out", str(out), "--jobs", "1"])
    assert not marker.exists()
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert str(folder) in err and "feature extractor cannot be made" in err
    assert not out.exists()


@pytest.mark.bad_input
def test_a_bundle_naming_ssl_features_without_a_checkpoint_identity_is_refused(
    tmp_path, clip, capsys
):
    (X, y), kwargs = _fit_arguments("source_only")
    estimator = _model("source_only").fit(X, y, **kwargs)
    bundle = Model.from_parts(estimator, "source_only", "egemaps", None).save(tmp_path / "b")
    folder = save_tiny(tmp_path / "plain", "wav2vec2")
    _rewrite_manifest(
        bundle, lambda m: m["features"].update(set="ssl", options={"model": str(folder)})
    )
    code = main(["predict", str(bundle), str(clip), "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "lacks model_type, weights_sha256" in err and str(folder) in err


def test_a_supported_type_with_an_auto_map_loads_transformers_own_classes(
    tmp_path, clip, yes_on_stdin
):
    """``model_type: wav2vec2`` beside an ``auto_map``: the built-in class is used, the
    folder's file is never imported, and the features are those of the plain model."""
    marker = tmp_path / "marker"
    plain = save_tiny(tmp_path / "plain", "wav2vec2")
    mapped = evil_folder(tmp_path / "mapped", marker, "wav2vec2", "Wav2Vec2FeatureExtractor")
    table = pd.DataFrame({"file": [str(clip)], "corpus": ["c"]})
    features = [
        table_features(
            table,
            "ssl",
            normalisation="none",
            cache_dir=tmp_path / name,
            n_jobs=1,
            options={"model": str(folder), "layers": [1]},
        )[1]
        for name, folder in (("a", plain), ("b", mapped))
    ]
    assert not marker.exists()
    np.testing.assert_array_equal(features[0], features[1])


class _Payload:
    """Unpickling this would run ``touch MARKER``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.bad_input
def test_pickled_objects_in_pytorch_model_bin_are_refused_by_name(tmp_path, clip, capsys):
    marker = tmp_path / "marker"
    folder = save_tiny(tmp_path / "model", "wav2vec2")
    (folder / "model.safetensors").unlink()
    torch.save({"weight": _Payload(marker)}, folder / "pytorch_model.bin")
    (tmp_path / "t.csv").write_text(f"file\n{clip}\n")
    args = ["features", str(tmp_path / "t.csv"), "--set", "ssl", "--model", str(folder)]
    code = main([*args, "--out", str(tmp_path / "f.csv"), "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert not marker.exists()
    assert code == 2
    assert "Traceback" not in err and "ExtractionError" not in err
    assert f"{folder}: its pytorch_model.bin holds pickled Python objects" in err
    assert "model.safetensors" in err
