"""Bundles that contradict themselves, adaptations without spread, and commands that
would fail only after the work (issue 23, items 4 and 6 and the bundle cases of
"tracebacks and silent results").

A resealed bundle (files edited, checksums recomputed) passes every checksum; what is
checked here is that its parts agree: class names with the estimator's, network sizes
with the arrays (before any network is built), numbers finite, labels bounded.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from bundle_parts import RATE, edit_arrays, reseal, small_model, voice, voice_clips
from test_bundle import CONFIG

from emoshift.bundle import BundleError, load
from emoshift.bundle.adapt import ZeroSpreadWarning, adapt_model, flat_features
from emoshift.cli import main
from emoshift.features import get_extractor
from emoshift.methods.base import NeuralEstimator


@pytest.fixture(scope="module")
def parts(tmp_path_factory) -> Path:
    """model/ (a small bundle) and clips/ (12 voice-like clips)."""
    folder = tmp_path_factory.mktemp("hardening")
    small_model(folder / "model")
    voice_clips(folder / "clips")
    return folder


@pytest.fixture
def bundle(parts: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(parts / "model", tmp_path / "model"))


def _edit_manifest(bundle: Path, change) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    change(manifest)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    reseal(bundle)


def _adapt(parts: Path, audio, **kwargs):
    options = {"domain": "calls", "cache_dir": parts / "cache", "n_jobs": 1, **kwargs}
    return adapt_model(load(parts / "model"), audio, **options)


# ------------------------------------------------------------ resealed bundles (item 6)


@pytest.mark.bad_input
def test_swapped_class_names_are_refused(bundle: Path) -> None:
    _edit_manifest(bundle, lambda m: m["labels"]["classes"].reverse())
    with pytest.raises(BundleError, match="names the classes.*the estimator was trained on"):
        load(bundle)


@pytest.mark.bad_input
def test_millions_of_class_names_are_refused_in_bounded_words(bundle: Path) -> None:
    names = [f"class{i}" for i in range(2_000_000)]
    _edit_manifest(bundle, lambda m: m["labels"].update(classes=names))
    with pytest.raises(BundleError, match="2000000 classes or dimensions, more than the 1000") as e:
        load(bundle)
    assert len(str(e.value)) < 500


@pytest.mark.bad_input
def test_a_huge_manifest_is_refused_before_it_is_parsed(bundle: Path) -> None:
    _edit_manifest(bundle, lambda m: m["training"].update(padding="x" * (65 << 20)))
    with pytest.raises(BundleError, match="manifest.json is [0-9]+ bytes, more than the"):
        load(bundle)


@pytest.mark.bad_input
def test_a_huge_or_binary_checksum_list_is_refused_naming_it(bundle: Path) -> None:
    """SHA256SUMS was read whole, and its first bad line put into the message whatever
    its length; one that is not UTF-8 escaped as UnicodeDecodeError."""
    checksums = bundle / "SHA256SUMS"
    real = checksums.read_bytes()
    checksums.write_bytes(real + b"0" * (2 << 20))
    with pytest.raises(BundleError, match="SHA256SUMS is [0-9]+ bytes, more than the") as e:
        load(bundle)
    assert len(str(e.value)) < 500 and "checksum list" in str(e.value)
    checksums.write_bytes(real + b"\xff\xfe\n")
    with pytest.raises(BundleError, match="SHA256SUMS is not UTF-8 text"):
        load(bundle)
    checksums.write_bytes(real)
    assert load(bundle) is not None


@pytest.mark.bad_input
def test_repeated_class_names_are_refused(bundle: Path) -> None:
    _edit_manifest(bundle, lambda m: m["labels"].update(classes=["anger"] * 4))
    with pytest.raises(BundleError, match="the labels name 'anger' twice"):
        load(bundle)


@pytest.mark.bad_input
def test_nan_weights_are_refused_naming_the_file(bundle: Path) -> None:
    def poison(arrays: dict) -> None:
        name = next(n for n in arrays if n.endswith("weight"))
        arrays[name] = np.full_like(arrays[name], np.nan)

    edit_arrays(bundle, "estimator", poison)
    with pytest.raises(BundleError, match=r"model/estimator.safetensors: array 'modules\..*NaN"):
        load(bundle)


@pytest.mark.bad_input
def test_finite_weights_with_infinite_outputs_are_refused(parts: Path) -> None:
    """Huge but finite weights overflow to infinite logits and NaN probabilities."""
    model = load(parts / "model")
    with torch.no_grad():
        for parameter in model.estimator.modules_["head"].parameters():
            parameter.fill_(3e38)
    with pytest.raises(ValueError, match="NaN or infinite outputs for 5 of 5 input"):
        model.predict_features(np.ones((5, 88), dtype=np.float32))


@pytest.mark.bad_input
def test_hidden_sizes_are_checked_against_the_weights_before_building(
    bundle: Path, monkeypatch
) -> None:
    """A manifest claiming a network of about 2 GB is refused before anything is built
    on a real device (only shapes, on torch's meta device)."""
    built = []
    new_networks = NeuralEstimator._new_networks

    def spy(self):
        device = torch.get_default_device().type
        if device != "meta":  # what the old code did: stop before allocating 2 GB
            built.append((device, None))
            raise RuntimeError("a network is being built for real")
        modules = new_networks(self)
        built.append((device, sum(p.numel() for p in modules.parameters())))
        return modules

    monkeypatch.setattr(NeuralEstimator, "_new_networks", spy)
    _edit_manifest(bundle, lambda m: m["method"]["params"].update(hidden_sizes=[22000, 22000]))
    with pytest.raises(BundleError, match="do not fit the networks its settings describe"):
        load(bundle, device="cpu")
    assert built and built[0][1] * 4 > 1.9e9  # the claimed network: about 2 GB of floats
    assert [device for device, _ in built] == ["meta"]  # never built for real


@pytest.mark.bad_input
def test_a_manifest_describing_millions_of_layers_is_refused_after_a_few(
    bundle: Path, monkeypatch
) -> None:
    """Even on the meta device each layer costs time and memory (20,000 took 96 s and
    0.8 GB here); the build stops once it has made more tensors than the bundle saved."""
    made = []
    empty = torch.empty

    def counting_empty(*args, **kwargs):
        made.append(1)
        return empty(*args, **kwargs)

    monkeypatch.setattr(torch, "empty", counting_empty)  # what nn layers allocate with
    _edit_manifest(bundle, lambda m: m["method"]["params"].update(hidden_sizes=[4] * 20_000))
    with pytest.raises(BundleError, match="more tensors than the bundle saved"):
        load(bundle, device="cpu")
    assert len(made) < 200


# ------------------------------------------------------------ adapt (item 4, bad domain)


@pytest.mark.bad_input
@pytest.mark.parametrize("case", ["one file", "copies of one file", "near silence"])
def test_adapt_refuses_statistics_without_spread(parts: Path, tmp_path: Path, case: str) -> None:
    folder = tmp_path / "audio"
    folder.mkdir()
    n = 1 if case == "one file" else 12
    for i in range(n):
        if case == "near silence":
            clip = 2e-4 * np.random.default_rng(i).normal(size=RATE)
        else:
            clip = voice(1.0, 140, 0.2, 0)
        sf.write(folder / f"{i}.wav", clip, RATE)
    with pytest.raises(ValueError, match=r"of the 88 features that vary.*no spread") as error:
        _adapt(parts, [folder], min_files=1)
    assert any(name in str(error.value) for name in get_extractor("egemaps").feature_names)


def test_adapt_on_varied_audio_passes_the_spread_check(parts: Path) -> None:
    adapted, report = _adapt(parts, [parts / "clips"])
    assert adapted.normalisation["target_domain"] == "calls"
    assert len(report["zero_spread"]) <= 8  # at most a tenth of the 88 features
    scale = adapted.normaliser.stats_["calls"].scale
    assert (scale == 0).sum() == len(report["zero_spread"])


def test_a_few_flat_features_are_named_in_a_warning(parts: Path) -> None:
    model = load(parts / "model")
    scale = np.ones(88)
    scale[[3, 5]] = 0
    with pytest.warns(ZeroSpreadWarning, match=r"2 of the 88 features.*domain 'x'"):
        flat = flat_features(model, scale, "x")
    names = get_extractor("egemaps").feature_names
    assert flat == [names[3], names[5]]
    scale[:9] = 0
    with pytest.raises(ValueError, match="9 of the 88 features"):
        flat_features(model, scale, "x")


@pytest.mark.bad_input
def test_adapt_min_files_0_on_silent_files_is_a_clear_error(
    parts: Path, tmp_path: Path, capsys
) -> None:
    folder = tmp_path / "silent"
    folder.mkdir()
    for i in range(3):
        sf.write(folder / f"{i}.wav", np.zeros(RATE), RATE)
    args = ["adapt", str(parts / "model"), str(folder), "--out", str(tmp_path / "m")]
    code = main([*args, "--min-files", "0", "--jobs", "1", "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "none of the 3 file(s) gave features" in err and "silent" in err
    assert not (tmp_path / "m").exists()


@pytest.mark.bad_input
def test_adapt_replaces_a_held_domain_only_when_told(parts: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "m"
    args = ["adapt", str(parts / "model"), str(parts / "clips"), "--out", str(out)]
    args += ["--domain", "phone", "--jobs", "1", "--cache-dir", str(parts / "cache")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already holds the statistics of domain 'phone'" in err and "--replace-domain" in err
    assert not out.exists()
    assert main([*args, "--replace-domain"]) == 0
    before, after = load(parts / "model"), load(out)
    assert after.domains() == before.domains() and after.normalisation["target_domain"] == "phone"
    assert not np.array_equal(
        after.normaliser.stats_["phone"].loc, before.normaliser.stats_["phone"].loc
    )


# ------------------------------------------------------------ train refuses up front


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"methods": {"dann": {**CONFIG["methods"]["dann"], "ensemble": 2}}},
            r"dann\(ensemble=2\) cannot",
        ),
        (
            {"selection": {"dann": {"scorer": ["snd"], "grid": {"lambda_max": [0.5, 1.0]}}}},
            "config.selection.dann: train fits the one setting",
        ),
    ],
)
def test_train_refuses_before_any_work(tmp_path: Path, change: dict, message: str, capsys) -> None:
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump({**CONFIG, **change}))
    args = ["train", str(tmp_path / "exp.yaml"), "--method", "dann", "--out", str(tmp_path / "m")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err
    assert not (tmp_path / "corpus").exists() and not (tmp_path / "cache").exists()
    assert not (tmp_path / "m").exists()
