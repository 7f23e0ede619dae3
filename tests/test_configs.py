"""Every shipped config parses; the runnable ones run end to end in a reduced form."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from emoshift.experiment.config import load_config, parse_config
from emoshift.experiment.runner import run_experiment
from emoshift.experiment.store import read_jsonl
from emoshift.methods import method_class

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
SHARED = Path(os.environ.get("EMOSHIFT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _reduce_params(method: str, params: dict) -> dict:
    """The method's epoch budgets cut to 2 (warm-up to 0), everything else kept."""
    reduced = dict(params or {})
    for name, default in method_class(method)().get_params().items():
        if "epochs" in name and isinstance(default, int):
            reduced[name] = 0 if name.startswith("warmup") else 2
    return reduced


def _reduced(config: dict, tmp_path: Path) -> dict:
    config = dict(config)
    config["output"] = str(tmp_path / "run")
    config["trials"] = 2
    config["methods"] = {m: _reduce_params(m, p) for m, p in config["methods"].items()}
    protocol = dict(config.get("protocol", {}))
    if protocol.get("name") == "few_shot":
        protocol["k"] = [1]
    if protocol.get("name") == "reduced":
        protocol["sizes"] = [0.5]
    config["protocol"] = protocol
    features = dict(config.get("features", {}))
    features["cache_dir"] = str(tmp_path.parent / "feature-cache")
    config["features"] = features
    for corpus in config["corpora"].values():
        if corpus["loader"] == "synthetic":
            corpus["path"] = str(tmp_path.parent / "synthetic-tiny")
            corpus["options"] = {"preset": "tiny"}
        else:
            corpus["query"] = "index % 3 == 0"
    return config


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_parses(path):
    config = load_config(path)
    assert config.methods and config.pairs and config.corpora


def _runnable(path: Path) -> bool:
    text = path.read_text()
    return "$EMOSHIFT_CORPORA" not in text


RUNNABLE = [p for p in CONFIGS if _runnable(p)]


@pytest.mark.slow
@pytest.mark.parametrize("path", RUNNABLE, ids=[p.stem for p in RUNNABLE])
def test_config_runs_in_reduced_form(path, tmp_path_factory):
    raw = yaml.safe_load(path.read_text())
    if any(c["loader"] != "synthetic" for c in raw["corpora"].values()) and not SHARED.is_dir():
        pytest.skip(f"needs the real corpora in {SHARED} (absent here)")
    tmp_path = tmp_path_factory.mktemp(path.stem)
    config = parse_config(_reduced(raw, tmp_path), base_dir=path.parent)
    summary = run_experiment(config, executor="processes", jobs=2, progress=False)
    records = read_jsonl(summary.run_dir / "results.jsonl")
    failed = [
        f"{r['variant']}: {r['error'].splitlines()[-1]}" for r in records if r["status"] == "error"
    ]
    assert not failed, failed
    assert summary.n_done == summary.n_planned > 0
