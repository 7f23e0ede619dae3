"""The demo: the bundled config, edited by the demo's options, run by the experiment runner."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import emoshift.configs
import emoshift.demo
from emoshift.cli import build_parser, main
from emoshift.configs import bundled_config, bundled_names
from emoshift.demo import demo_config
from emoshift.experiment.config import ConfigError, parse_config

FAST = ["--preset", "tiny", "--trials", "2", "--epochs", "2", "--jobs", "1"]


def _records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    return sorted((json.loads(line) for line in lines), key=lambda r: r["key"])


def test_the_demo_config_is_bundled_and_keeps_the_demo_defaults(tmp_path):
    assert "demo" in bundled_names()
    config = demo_config(tmp_path)
    assert config == parse_config(bundled_config("demo"), base_dir=tmp_path.resolve())
    # the demo's defaults: these methods, three trials, a 60-epoch budget and nothing
    # else, so each method keeps its own early-stopping default
    assert list(config.methods) == ["source_only", "dann", "coral", "mrd", "train_on_target"]
    assert all(params == {"max_epochs": 60} for params in config.methods.values())
    assert (config.trials, config.seed, config.baseline) == (3, 0, "source_only")
    assert config.protocol.name == "cross_domain"
    assert config.corpora["synthetic"].loader == "synthetic"
    assert config.corpora["synthetic"].options == {"preset": "demo", "seed": 0}
    assert config.output_dir() == tmp_path.resolve()


def test_options_edit_the_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = demo_config(
        "out",
        preset="tiny",
        seed=3,
        n_trials=2,
        methods=["coral", "mrd"],
        max_epochs=7,
        cache_dir="features",
        n_jobs=1,
    )
    # the budget goes to every method
    assert config.methods == {"coral": {"max_epochs": 7}, "mrd": {"max_epochs": 7}}
    assert config.baseline is None  # source_only is not among the methods
    assert config.corpora["synthetic"].options == {"preset": "tiny", "seed": 3}
    assert (config.seed, config.trials, config.features.jobs) == (3, 2, 1)
    assert config.features.cache_dir == str(tmp_path / "features")
    assert config.output_dir() == tmp_path / "out"


@pytest.mark.bad_input
def test_an_unknown_method_is_named(tmp_path):
    with pytest.raises(ValueError, match="did you mean 'dann'"):
        demo_config(tmp_path, methods=["source_only", "dan"])
    with pytest.raises(ConfigError, match="config.trials: must be at least 1"):
        demo_config(tmp_path, n_trials=0)
    # the demo's protocol gives no target labels: a method that needs them is refused
    with pytest.raises(ConfigError, match="svm needs labelled target examples"):
        demo_config(tmp_path, methods=["source_only", "svm"])


def test_help_shows_the_bundled_defaults():
    args = build_parser().parse_args(["demo"])
    assert (args.trials, args.methods, args.epochs, args.seed) == (None, None, None, None)
    demo = next(
        action.choices["demo"] for action in build_parser()._actions if action.dest == "command"
    )
    text = " ".join(demo.format_help().split())
    assert "methods to run (default: source_only dann coral mrd train_on_target)" in text
    assert "seeded trials per method (default: 3)" in text


def test_demo_is_emoshift_run_on_its_config(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *FAST, "--methods", "source_only", "coral"]) == 0
    printed = capsys.readouterr().out
    assert "| acted->spontaneous | source_only | 2 |" in printed
    assert f"report: {out.resolve() / 'report' / 'report.html'}" in printed
    records = _records(out)
    assert [r["status"] for r in records] == ["ok"] * 4
    assert {(r["variant"], r["trial"]) for r in records} == {
        (v, t) for v in ("source_only", "coral") for t in (0, 1)
    }
    assert (out / "report" / "results.csv").is_file() and (out / "plan.json").is_file()
    # the config the demo ran, run by `emoshift run` elsewhere: the same trials, same numbers
    ran = yaml.safe_load((out / "config.yaml").read_text())
    assert ran["methods"] == {"source_only": {"max_epochs": 2}, "coral": {"max_epochs": 2}}
    again = tmp_path / "again"
    assert main(["run", str(out / "config.yaml"), "--output", str(again), "--no-report"]) == 0
    assert _records(again) == records
    # running the demo again resumes: nothing is recomputed
    assert main(["demo", "--out", str(out), *FAST, "--methods", "source_only", "coral"]) == 0
    assert len((out / "results.jsonl").read_text().splitlines()) == 4


def test_no_import_cycle_and_a_light_cli():
    code = (
        "import sys, emoshift.cli.demo; light = 'emoshift.demo' not in sys.modules; "
        "import emoshift.demo; print(light, 'emoshift.cli' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True"]
    code = "import sys, emoshift.demo; print('emoshift.cli' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("module", [emoshift.configs, emoshift.demo])
def test_docstring_examples(module):
    failures, _ = doctest.testmod(module)
    assert failures == 0
