"""Every shipped config parses; the runnable ones run end to end in a reduced form."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from emoshift.cli import main
from emoshift.data.synthetic import PRESETS
from emoshift.experiment.config import ConfigError, load_config, parse_config
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
    """``config`` cut to one trial (a second only re-seeds the same code), 2 epochs, one
    few-shot k and reduced size, the fewest folds or repetitions its protocol takes, and
    tiny synthetic corpora or a third of each real one."""
    config = dict(config)
    config["output"] = str(tmp_path / "run")
    config["trials"] = 1
    config["methods"] = {m: _reduce_params(m, p) for m, p in config["methods"].items()}
    protocol = dict(config.get("protocol", {}))
    if protocol.get("name") == "few_shot":
        protocol["k"] = [2 if config.get("selection") else 1]  # few_shot_cv holds one out
    if protocol.get("name") == "reduced":
        protocol["sizes"] = [0.5]
    if protocol.get("name") == "target_cv":  # two folds, each tested by one of 2 trials
        protocol.update(n_folds=2, k=[2])
        config["trials"] = 2
    if protocol.get("repetitions"):  # exclusive runs take 2 at least
        protocol["repetitions"] = 2
    config["protocol"] = protocol
    features = dict(config.get("features", {}))
    features["cache_dir"] = str(tmp_path.parent / "feature-cache")
    config["features"] = features
    for corpus in config["corpora"].values():
        domains = PRESETS.get(corpus.get("options", {}).get("preset"), PRESETS["tiny"])["domains"]
        if corpus["loader"] == "synthetic" and set(domains) - set(PRESETS["tiny"]["domains"]):
            # a preset with more domains (multi): tiny sizes over all of its domains
            corpus["path"] = str(tmp_path.parent / "synthetic-tiny-multi")
            corpus["options"] = {**PRESETS["tiny"], "domains": list(domains)}
        elif corpus["loader"] == "synthetic":
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


# --- bad configs: rejected when loaded, or by --dry-run once the data is loaded ----------


def _tiny(tmp_path: Path, cache: Path, **overrides) -> dict:
    """A small synthetic config (tiny preset, cached features) with ``overrides``."""
    config = {
        "name": "bad",
        "output": "run",
        "corpora": {
            "synthetic": {
                "loader": "synthetic",
                "path": str(cache / "corpus"),
                "options": {"preset": "tiny"},
            }
        },
        "features": {"domain": "elicitation", "jobs": 1, "cache_dir": str(cache / "features")},
        "pairs": [
            {
                "name": "a->s",
                "source": "elicitation == 'acted'",
                "target": "elicitation == 'spontaneous'",
            }
        ],
        "methods": {"source_only": {"max_epochs": 2}},
        "trials": 2,
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bad-config-cache")


BAD_CONFIGS = [
    ({"protocol": {"name": "few_shot", "k": [2, 0]}}, "config.protocol.k: 0 is not a positive"),
    ({"protocol": {"name": "few_shot", "k": -3}}, "config.protocol.k: -3"),
    ({"protocol": {"target_test_fraction": 1.5}}, "config.protocol.target_test_fraction: 1.5"),
    ({"protocol": {"target_test_fraction": 0}}, "strictly between 0 and 1"),
    ({"protocol": {"name": "reduced", "sizes": [0.5, 1.5]}}, "config.protocol.sizes: 1.5"),
    ({"protocol": {"name": "split_10_40_50", "repetitions": 0}}, "repetitions: 0"),
    ({"protocol": {"name": "cross_domain", "k": [2]}}, "cross_domain does not use ['k']"),
    ({"protocol": {"name": "loso", "exclusive": False}}, "it reads nothing besides its name"),
    ({"metrics": ["uar", "uarr"]}, "config.metrics[1]: unknown metric 'uarr'; did you mean 'uar'"),
    ({"metrics": ["ccc"]}, "'ccc' is a regression metric; classification metrics are"),
    ({"methods": {"label_target": {}}}, "config.methods.label_target: label_target needs"),
    ({"methods": {"dann": {}, "cada": {"max_epochs": [1, 2]}}}, "protocol cross_domain does not"),
    (
        {"task": "regression", "protocol": {"name": "few_shot"}},
        "few_shot cuts classification data only, not regression",
    ),
]


@pytest.mark.bad_input
@pytest.mark.parametrize(("change", "message"), BAD_CONFIGS, ids=[m for _, m in BAD_CONFIGS])
def test_bad_config_is_rejected_when_loaded(tmp_path, change, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_tiny(tmp_path, tmp_path, **change)))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value)
    assert "bad.yaml" in str(error.value)


def test_methods_that_need_labels_load_under_protocols_that_give_them(tmp_path):
    methods = {"label_target": {}, "cada": {}, "train_on_target": {}}
    for protocol in ({"name": "few_shot"}, {"name": "split_10_40_50"}, {"name": "loso"}):
        config = _tiny(tmp_path, tmp_path, methods=methods, protocol=protocol, baseline=None)
        assert parse_config(config).protocol.name == protocol["name"]
    # reading every target training label is an upper bound any protocol can give
    config = _tiny(tmp_path, tmp_path, methods={"train_on_target": {}}, baseline=None)
    assert parse_config(config).protocol.name == "cross_domain"


def _dry_run(tmp_path: Path, config: dict, capsys) -> tuple[int, str]:
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))
    code = main(["run", str(path), "--dry-run"])
    captured = capsys.readouterr()
    assert not (tmp_path / "run" / "results.jsonl").exists()
    return code, captured.out + captured.err


BAD_DATA = [
    (
        {"protocol": {"name": "few_shot", "k": [1, 2]}},
        # the tiny corpus's pool holds 3 examples per class; 2 exclusive trials of k=2 need 4
        ["config.pairs[0] ('a->s')", "k=2 is too large", "anger: 3", "need 4 per class"],
    ),
    (
        {"pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'sponty'"}]},
        ["config.pairs[0]", "elicitation == 'sponty'"],
    ),
    (
        {"pairs": [{"source": "elicitaton == 'acted'", "target": "elicitation == 'natural'"}]},
        ["config.pairs[0]", "elicitaton"],
    ),
    (
        {"pairs": [{"source": "elicitation != 'x'", "target": "elicitation == 'spontaneous'"}]},
        ["config.pairs[0]", "must not overlap"],
    ),
]


@pytest.mark.bad_input
@pytest.mark.parametrize(("change", "messages"), BAD_DATA, ids=[m[-1] for _, m in BAD_DATA])
def test_dry_run_rejects_what_the_run_would_reject(tmp_path, cache, capsys, change, messages):
    code, output = _dry_run(tmp_path, _tiny(tmp_path, cache, **change), capsys)
    assert code == 2, output
    for message in messages:
        assert message in output


def test_dry_run_accepts_k_that_fits_the_pool(tmp_path, cache, capsys):
    config = _tiny(tmp_path, cache, protocol={"name": "few_shot", "k": [1, 2], "exclusive": False})
    code, output = _dry_run(tmp_path, config, capsys)
    assert code == 0 and "4 trial(s)" in output and output.count("todo") == 4
    assert output.count("few_shot k=2") == 2
