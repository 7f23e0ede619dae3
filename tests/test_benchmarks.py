"""Benchmarks: the grids are configs that parse and plan; the domain probe reads a run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from emoshift.experiment.config import load_config
from emoshift.experiment.plan import plan_trials

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "benchmarks").glob("*.yaml"))


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_benchmark_configs_parse_and_plan(path):
    config = load_config(path)
    assert config.name == f"bench-{path.stem.replace('_', '-')}"
    assert config.baseline in config.methods
    if config.protocol.name in ("loso", "reduced"):
        folds = {pair.label(): ["s1", "s2"] for pair in config.pairs}
        specs = plan_trials(config, folds)
    else:
        specs = plan_trials(config)
    assert len({spec.key for spec in specs}) == len(specs) > 0
    assert {spec.method for spec in specs} == set(config.methods)


def test_the_unsupervised_configs_share_their_settings_but_coral_weight():
    classification = load_config(ROOT / "benchmarks" / "unsupervised_synthetic.yaml")
    regression = load_config(ROOT / "benchmarks" / "unsupervised_synthetic_regression.yaml")
    assert classification.methods["coral"]["coral_weight"] == 1000.0
    assert regression.methods["coral"]["coral_weight"] == 100.0
    for config in (classification, regression):
        common = {k: v for k, v in config.methods["coral"].items() if k != "coral_weight"}
        assert all(config.methods[m] == common for m in ("source_only", "dann"))
        assert common["patience"] is None and common["max_epochs"] == 60


def test_domain_probe_separates_shifted_domains_only(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "artifacts").mkdir()
    domain = np.repeat([0, 1], 100)
    lines = []
    for variant, shift in (("source_only", 3.0), ("dann", 0.0)):
        layer = rng.normal(size=(200, 8))
        layer[domain == 1] += shift
        np.savez(
            tmp_path / "artifacts" / f"{variant}.npz",
            layer_0=layer,
            domain=domain,
            label=np.array(["a", "b"] * 100),
        )
        lines.append(
            {
                "key": variant,
                "status": "ok",
                "variant": variant,
                "method": variant,
                "pair": "a->b",
                "trial": 0,
                "metrics": {"uar": 0.5},
                "embeddings": f"artifacts/{variant}.npz",
            }
        )
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"name": "probe"}))
    table = _script("domain_probe").probe_table(tmp_path).set_index("variant")
    assert table.loc["source_only", "domain_acc"] > 0.95
    assert abs(table.loc["dann", "domain_acc"] - 0.5) < 0.15


def test_bench_report_writes_a_run_the_report_reads(tmp_path):
    from emoshift.report.experiment import read_run  # noqa: PLC0415

    script = _script("bench_report")
    assert script.make_run(tmp_path, pairs=2, trials=3) == 2 * len(script.METHODS) * 3
    run = read_run(tmp_path)
    assert len(run.trials) == 30 and not run.failures
    artifacts = sorted((tmp_path / "artifacts").glob("*.npz"))
    assert len(artifacts) == 2 * len(script.METHODS)  # trial 0 of each method and pair
    with np.load(artifacts[0]) as stored:
        assert stored["domain"].shape == (script.ROWS,)
