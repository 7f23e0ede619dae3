"""A newcomer's first steps (issue 24, "Set-up"): installing beside an existing torch,
the README's commands and Python example, the demo's cache, the example configs that
ship with the package, and a model that prints on one screen."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from packaging.requirements import Requirement

from emoshift.bundle.model import REPR_WIDTH, Model, load
from emoshift.cli import main
from emoshift.configs import example_names
from emoshift.demo import demo_config, run_demo
from emoshift.experiment.data import feature_cache_dir
from emoshift.features import DomainNormaliser
from emoshift.methods import get_method

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _torch_requirement() -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return next(r for r in map(Requirement, project["dependencies"]) if r.name == "torch")


def test_torch_is_a_tested_range_not_an_exact_pin():
    specifier = _torch_requirement().specifier
    operators = {spec.operator for spec in specifier}
    assert "==" not in operators and {">=", "<"} <= operators
    assert specifier.contains(torch.__version__)  # the release the tests run on
    pinned = {re.search(r"torch==([\d.]+)", block).group(1) for block in _blocks("bash")[:2]}
    assert len(pinned) == 1 and specifier.contains(pinned.pop())


def test_readme_starts_with_the_demo_and_test_commands_that_ci_runs():
    demo, tests = (block.strip() for block in _blocks("bash")[:2])
    for command in (demo, tests):
        assert command.startswith("python3.11 -m venv .venv && . .venv/bin/activate && ")
        # torch first, so that the range does not pull the newest (CUDA) build
        assert command.index("pip install torch==") < command.index("pip install -e ")
    assert demo.endswith("pip install -e . && emoshift demo")
    assert tests.endswith("&& python -m pytest -q -p no:cacheprovider -n 2 --dist worksteal")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == tests
    assert "--index-url https://download.pytorch.org/whl/cpu" in README


def _bundle(folder: Path, n_domains: int = 2) -> Path:
    """A small source_only model on eGeMAPS with ``n_domains`` normalisation domains."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12 * n_domains, 88))
    y = np.where(X[:, 0] > 0, "anger", "neutral")
    domains = [f"corpus_with_a_long_name_{i % n_domains}" for i in range(len(X))]
    normaliser = DomainNormaliser().fit(X, domains)
    estimator = get_method("source_only", hidden_sizes=(8,), max_epochs=2, random_state=0)
    estimator.fit(normaliser.transform(X, domains), y)
    training = {
        "pair": {"name": "a->b", "source": "corpus == 'a'", "target": "corpus == 'b'"},
        "rows": {"source": 339, "target": 400, "labelled_target": 0},
        "config": {"corpora": {f"c{i}": {"path": "/x" * 50} for i in range(40)}},
        "adaptations": [{"domain": "broadcast"}],
    }
    model = Model.from_parts(
        estimator,
        "source_only",
        "egemaps",
        normaliser,
        target_domain=domains[0],
        training=training,
    )
    return model.save(folder)


def test_print_of_a_loaded_bundle_fits_on_a_screen(tmp_path):
    text = str(load(_bundle(tmp_path / "model", n_domains=30)))
    lines = text.splitlines()
    assert 3 <= len(lines) <= 8 and max(map(len, lines)) <= REPR_WIDTH, text
    assert lines[0] == "emoshift Model: source_only (classification), 2 class(es): anger, neutral"
    assert lines[1] == "  features: egemaps, 88 per file"
    assert (
        "\n  30 domain(s): corpus_with_a_long_name_0, " in text
        and "trained on a->b: 339 source row(s)" in text
    )
    assert "adapted 1 time(s), last to 'broadcast'" in text


def test_readme_python_example_runs_as_a_script_without_a_warning(tmp_path):
    example = next(block for block in _blocks("python") if "emoshift.load(" in block)
    assert 'if __name__ == "__main__":' in example
    _bundle(tmp_path / "model-urdu")
    t = np.arange(16000) / 16000
    for name, pitch in (("a.wav", 150), ("b.wav", 220)):
        sf.write(tmp_path / name, 0.3 * np.sin(2 * np.pi * pitch * t), 16000)
    (tmp_path / "example.py").write_text(example, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "EMOSHIFT_CACHE": str(tmp_path / "cache"),
        "EMOSHIFT_PROGRESS": "0",
    }
    done = subprocess.run(
        [sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    assert "emoshift Model: source_only" in done.stdout and "a.wav" in done.stdout
    assert (tmp_path / "copy-of-model" / "manifest.json").is_file()


def test_demo_caches_features_under_emoshift_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("EMOSHIFT_CACHE", raising=False)
    assert feature_cache_dir(demo_config(tmp_path / "a")) == tmp_path / "a" / "cache"
    monkeypatch.setenv("EMOSHIFT_CACHE", str(tmp_path / "shared-cache"))
    assert feature_cache_dir(demo_config(tmp_path / "a")) == tmp_path / "shared-cache"
    given = demo_config(tmp_path / "a", cache_dir=tmp_path / "mine")  # --cache-dir wins
    assert feature_cache_dir(given) == tmp_path / "mine"
    result = run_demo(
        tmp_path / "demo",
        preset="tiny",
        n_trials=1,
        max_epochs=2,
        methods=("source_only",),
        n_jobs=1,
        progress=False,
    )
    assert result.run.n_done == 1
    assert len(list((tmp_path / "shared-cache").rglob("*.npy"))) == 48  # the tiny corpus
    assert not (tmp_path / "demo" / "cache").exists()


def test_example_configs_ship_with_the_package_and_copy_out(tmp_path, capsys, monkeypatch):
    shipped = sorted(path.stem for path in (ROOT / "configs").glob("*.yaml"))
    assert example_names() == shipped and "emodb_urdu_unsupervised" in shipped
    assert main(["configs", "list"]) == 0
    assert capsys.readouterr().out.count("\n") == len(shipped)
    monkeypatch.chdir(tmp_path)
    assert main(["configs", "copy", "emodb_urdu_unsupervised", "exp.yaml"]) == 0
    printed = capsys.readouterr().out
    text = (ROOT / "configs" / "emodb_urdu_unsupervised.yaml").read_text(encoding="utf-8")
    assert (tmp_path / "exp.yaml").read_text(encoding="utf-8") == text
    assert "corpora.emodb.path: ../../shared/data/emodb (" in printed
    assert main(["configs", "copy", "emodb_urdu_unsupervised", "exp.yaml"]) == 2
    assert "exp.yaml exists; choose another DEST or pass --overwrite" in capsys.readouterr().err


def test_the_examples_folder_is_package_data():
    """A link to configs/ inside the package: a wheel holds copies of its files."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "configs/examples/*.yaml" in project["tool"]["setuptools"]["package-data"]["emoshift"]
    assert (ROOT / "emoshift" / "configs" / "examples").resolve() == (ROOT / "configs").resolve()
