"""Model selection wired into experiments: config, trial, few-shot CV, source weight,
resumable runs and the report (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator
from torch.nn import functional as F

from emoshift.experiment.config import ConfigError, parse_config
from emoshift.experiment.plan import plan_trials
from emoshift.experiment.runner import run_experiment
from emoshift.experiment.store import read_jsonl
from emoshift.experiment.trial import DomainSplit, run_trial
from emoshift.methods import check_method_params, get_method
from emoshift.methods.source_weight import split_weighted
from emoshift.report.experiment import write_experiment_report
from emoshift.report.selection_tables import DISTANCE_HEADER, ORACLE_HEADER
from emoshift.selection import FewShotCVSelector, few_shot_folds

FAST = {"max_epochs": 3, "hidden_sizes": [16]}
DANN = {"max_epochs": 3, "warmup_epochs": 1, "hidden_sizes": [8], "head_hidden_sizes": []}


def _config(**overrides: object) -> dict:
    config = {
        "name": "selection",
        "output": "run",
        "corpora": {"s": {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}},
        "features": {"domain": "elicitation", "jobs": 1},
        "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
        "methods": {"source_only": dict(FAST), "dann": dict(DANN)},
        "selection": {"dann": {"scorer": "entropy", "grid": {"lambda_max": [1.0, 0.1]}}},
        "trials": 2,
    }
    config.update(overrides)
    return config


# --------------------------------------------------------------------- config


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("selection", "extra", "message"),
    [
        ({"dann": {"scorer": "snf"}}, {}, "did you mean 'snd'?"),
        (
            {"dann": {"scorer": "dev", "grid": {"lamda_max": [1.0]}}},
            {},
            "did you mean 'lambda_max'",
        ),
        ({"dann": {"scorer": "dev", "grid": {"lambda_max": [1.0, -2.0]}}}, {}, "lambda_max=-2.0"),
        (
            {"dann": {"scorer": "dev", "grid": {"max_epochs": [2]}}},
            {},
            "also set in config.methods",
        ),
        ({"dan": {"scorer": "dev"}}, {}, "did you mean 'dann'?"),
        ({"dann": {"scorer": "dev", "epochs": [2, 4]}}, {}, "['max_epochs'] also set"),
        ({"dann": {"scorer": "snd", "scorer_params": {"temp": 1}}}, {}, "['temperature']"),
        ({"dann": {"scorer": "dev", "gird": {}}}, {}, "did you mean 'grid'?"),
        ({"dann": {"scorer": "few_shot_cv"}}, {}, "does not give; use one of"),
        ({"dann": {"scorer": "dev", "cv": 1}}, {}, "config.selection.dann.cv"),
        (
            {"fine_tune": {"scorer": "snd", "grid": {"source_weight": [1.0, 0.0]}}},
            {"protocol": {"name": "few_shot", "k": [2]}, "methods": {"fine_tune": {}}},
            "use few_shot_cv",
        ),
        (
            {"fine_tune": {"scorer": "few_shot_cv"}},
            {"protocol": {"name": "few_shot", "k": [1, 4]}, "methods": {"fine_tune": {}}},
            "needs k >= 2 per class",
        ),
        (
            {"fine_tune": {"scorer": "few_shot_cv", "grid": {"source_weight": [1.0, -1.0]}}},
            {"protocol": {"name": "few_shot", "k": [2]}, "methods": {"fine_tune": {}}},
            "source_weight=-1.0 is not allowed",
        ),
        (
            {"fine_tune": {"scorer": "few_shot_cv", "rule": "median"}},
            {"protocol": {"name": "few_shot", "k": [2]}, "methods": {"fine_tune": {}}},
            ".rule: 'median'; choose one of ['best', 'one_se']",
        ),
        (
            {
                "fine_tune": {
                    "scorer": "few_shot_cv",
                    "grid": {"source_weight": [1.0, 0.5]},
                    "rule": "one_se",
                }
            },
            {"protocol": {"name": "few_shot", "k": [2]}, "methods": {"fine_tune": {}}},
            "add 0.0 to grid.source_weight",
        ),
        (
            {"dann": {"scorer": "entropy", "grid": {"lambda_max": [1.0, 0.1]}, "rule": "one_se"}},
            {},
            "one_se is a rule of few_shot_cv only",
        ),
    ],
)
def test_a_bad_selection_block_is_a_config_error_naming_the_field(selection, extra, message):
    with pytest.raises(ConfigError, match="config.selection") as error:
        parse_config(_config(selection=selection, **extra))
    assert message in str(error.value)


def test_each_scorer_is_a_variant_and_the_selection_enters_the_trial_key():
    config = parse_config(_config(selection={"dann": {"scorer": ["entropy", "snd"]}}))
    variants = [t.variant for t in plan_trials(config) if t.trial == 0]
    assert variants == ["source_only", "dann", "dann[select=entropy]", "dann[select=snd]"]
    other = parse_config(_config(selection={"dann": {"scorer": ["entropy", "snd"], "cv": 3}}))
    keys = {t.variant: t.key for t in plan_trials(config)}
    other_keys = {t.variant: t.key for t in plan_trials(other)}
    assert keys["dann"] == other_keys["dann"]  # no selection: the key is as before
    assert keys["dann[select=snd]"] != other_keys["dann[select=snd]"]


# ---------------------------------------------------------------------- trial


def _split(seed: int = 0, **extra: object) -> DomainSplit:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(260, 5))
    y = np.where(X[:, 0] + 0.3 * X[:, 1] > 0, "anger", "neutral")
    X[130:] += [0.8, 0, 0.5, 0, 0]
    return DomainSplit(
        X_source=X[:130],
        y_source=y[:130],
        X_target=X[130:200],
        y_target=y[130:200],
        X_test=X[200:],
        y_test=y[200:],
        **extra,
    )


def test_a_trial_with_selection_records_its_pick_and_never_reads_the_test_labels():
    selection = {
        "scorer": "entropy",
        "grid": [{"lambda_max": 1.0}, {"lambda_max": 0.1}],
        "oracle": True,
    }
    split = _split()
    result = run_trial("dann", DANN, split, seed=0, selection=selection)
    record = result.selection
    assert sorted(result.metrics) == ["f1", "uar", "wa"] and result.confusion.sum() == 60
    assert record["scorer"] == "entropy"
    assert [s["params"] for s in record["scores"]] == selection["grid"]
    best = max(record["scores"], key=lambda s: s["score"])
    assert record["picked"] == best["params"]
    picked_oracle = next(o for o in record["oracle"] if o["params"] == record["picked"])
    assert picked_oracle["uar"] == pytest.approx(result.metrics["uar"])
    poisoned = _split()
    poisoned.y_test = np.random.default_rng(1).permutation(poisoned.y_test)[::-1].copy()
    poisoned.y_test[:] = np.where(poisoned.y_test == "anger", "neutral", "anger")
    again = run_trial("dann", DANN, poisoned, seed=0, selection=selection).selection
    assert again["picked"] == record["picked"] and again["scores"] == record["scores"]
    assert again["oracle"] != record["oracle"]  # only the oracle column reads them


def test_under_split_10_40_50_source_dev_scores_on_the_target_development_split():
    split = _split()
    dev = _split(seed=3)
    split.X_dev, split.y_dev = dev.X_target[:40], dev.y_target[:40]
    selection = {"scorer": "source_dev", "grid": [{"lambda_max": 1.0}, {"lambda_max": 0.1}]}
    record = run_trial("dann", DANN, split, seed=0, selection=selection).selection
    assert record["dev_set"] == "the labelled target development split of the protocol"
    model = get_method("dann", **DANN, **record["picked"], random_state=0)
    model.fit(
        split.X_source, split.y_source, X_target=split.X_target, eval_set=(split.X_dev, split.y_dev)
    )
    assert max(s["score"] for s in record["scores"]) == pytest.approx(
        model.score(split.X_dev, split.y_dev)
    )


def test_the_guard_names_the_development_set_it_read_as_selection_does():
    guard = {"scorer": "guard", "balance_margin": 0.1, "source_margin": 0.1}
    guard |= {"on_risk": "fallback", "dev_fraction": 0.25}
    split = _split()
    assert run_trial("dann", DANN, split, seed=0, selection=guard).selection["dev_set"] == (
        "0.25 of the labelled source held out"
    )
    dev = _split(seed=3)
    split.X_dev, split.y_dev = dev.X_target[:40], dev.y_target[:40]
    record = run_trial("dann", DANN, split, seed=0, selection=guard).selection
    assert record["dev_set"] == "the labelled target development split of the protocol"
    assert record["scorer"] == "guard" and record["picked"]["model"] in ("keep", "fallback")


# ------------------------------------------------------------ few-shot CV


class WeightedCentroids(BaseEstimator):
    """1-D nearest class mean over source (weighted) and labelled target rows."""

    def __init__(self, source_weight: float = 1.0, random_state: int | None = None) -> None:
        self.source_weight = source_weight
        self.random_state = random_state

    def fit(
        self, X, y, *, X_target=None, X_target_labelled=None, y_target_labelled=None, eval_set=None
    ):
        xs, xt = np.ravel(X), np.ravel(X_target_labelled)
        self.classes_ = np.unique(np.r_[y, y_target_labelled])
        w = self.source_weight
        self.means_ = np.array(
            [
                (w * xs[y == c].sum() + xt[y_target_labelled == c].sum())
                / (w * (y == c).sum() + (y_target_labelled == c).sum())
                for c in self.classes_
            ]
        )
        return self

    def predict(self, X):
        return self.classes_[np.abs(np.ravel(X)[:, None] - self.means_).argmin(1)]


def test_few_shot_cv_matches_a_hand_computed_leave_one_out():
    # source: a at 0, b at 10 (10 each); the labelled target has them the other way round
    X = np.r_[np.zeros(10), np.full(10, 10.0)][:, None]
    y = np.array(["a"] * 10 + ["b"] * 10)
    Xt, yt = np.array([[8.0], [9.0], [1.0], [2.0]]), np.array(["a", "a", "b", "b"])
    selector = FewShotCVSelector(
        WeightedCentroids(), {"source_weight": [1.0, 0.1, 0.0]}, cv="loo"
    ).fit(X, y, X_target_labelled=Xt, y_target_labelled=yt)
    # by hand: w=1 gets every held-out example wrong; w=0.1 gets 8 and 2 right (UAR 0.5);
    # w=0 (the target examples alone) gets all four right
    assert [s["score"] for s in selector.scores_] == [0.0, 0.5, 1.0]
    assert selector.best_params_ == {"source_weight": 0.0}
    assert selector.predict(np.array([[8.5], [1.5]])).tolist() == ["a", "b"]


def test_few_shot_folds_keep_each_speaker_on_one_side():
    y = np.array(["a", "b"] * 6)
    speakers = np.repeat(["s1", "s2", "s3", "s4"], 3)
    folds, how = few_shot_folds(y, speakers, cv=3)
    assert how == "3-fold stratified, grouped by speaker"
    for train, held in folds:
        assert not set(speakers[train]) & set(speakers[held])
    loso, how = few_shot_folds(y, speakers, cv="loo")
    assert how == "leave-one-speaker-out" and len(loso) == 4
    with pytest.raises(ValueError, match="2 or more of each class"):
        few_shot_folds(np.array(["a", "b"]), cv=5)


# ------------------------------------------------------------ source weight


def _few_shot_data():
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(120, 4))
    ys = np.where(Xs[:, 0] > 0, "anger", "sadness")
    Xt = rng.normal(size=(16, 4)) + 1
    yt = np.array(["anger", "sadness"] * 8)
    return Xs, ys, Xt, yt


def test_source_weight_zero_trains_on_the_target_examples_alone():
    Xs, ys, Xt, yt = _few_shot_data()
    params = {"hidden_sizes": (8,), "max_epochs": 5, "random_state": 0}
    alone = get_method("label_target", **params).fit(
        Xs, ys, X_target_labelled=Xt, y_target_labelled=yt
    )
    zero = get_method("source_target", source_weight=0.0, **params).fit(
        Xs, ys, X_target_labelled=Xt, y_target_labelled=yt
    )
    np.testing.assert_array_equal(zero.predict_proba(Xs), alone.predict_proba(Xs))
    half = get_method("source_target", source_weight=0.5, **params).fit(
        Xs, ys, X_target_labelled=Xt, y_target_labelled=yt
    )
    assert not np.array_equal(half.predict_proba(Xs), alone.predict_proba(Xs))
    tuned = get_method("fine_tune", source_weight=0.0, fine_tune_epochs=3, **params).fit(
        Xs, ys, X_target_labelled=Xt, y_target_labelled=yt
    )
    assert [h["phase"] for h in tuned.history_] == ["fine_tune"] * 3  # no pre-training


def test_source_weight_one_keeps_the_published_loss_and_others_weigh_each_row():
    rng = np.random.default_rng(0)
    logits, labels = torch.tensor(rng.normal(size=(6, 3))), torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.equal(
        split_weighted(F.cross_entropy, logits, labels, 4, 1.0), F.cross_entropy(logits, labels)
    )
    per_row = F.cross_entropy(logits, labels, reduction="none")
    weights = torch.tensor([0.3] * 4 + [1.0] * 2, dtype=per_row.dtype)
    expected = (weights * per_row).sum() / weights.sum()
    assert torch.isclose(split_weighted(F.cross_entropy, logits, labels, 4, 0.3), expected)


@pytest.mark.bad_input
@pytest.mark.parametrize("method", ["source_target", "fine_tune", "cada", "fada", "max_entropy"])
def test_a_negative_source_weight_is_refused(method):
    check_method_params(method, {"source_weight": 0.0})
    with pytest.raises(ValueError, match="source_weight=-0.5 is not allowed"):
        check_method_params(method, {"source_weight": -0.5})


# ------------------------------------------------------- run, resume, report


def _sorted(run_dir: Path) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in read_jsonl(run_dir / "results.jsonl"))


def test_a_run_with_selection_resumes_to_the_same_results_and_reports_the_picks(
    tmp_path, monkeypatch
):
    import emoshift.experiment.execute as execute  # noqa: PLC0415

    selection = {"dann": {"scorer": "entropy", "grid": {"lambda_max": [1.0, 0.1]}, "oracle": True}}
    # stack 1: the interruption counts calls of the unstacked trial path
    config = parse_config(_config(selection=selection, stack=1), base_dir=tmp_path)
    whole = run_experiment(config, run_dir=tmp_path / "whole", progress=False)
    assert whole.n_done == 6

    original, calls = execute.run_trial, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(execute, "run_trial", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, run_dir=tmp_path / "cut", progress=False)
    monkeypatch.setattr(execute, "run_trial", original)
    resumed = run_experiment(config, run_dir=tmp_path / "cut", progress=False)
    assert (resumed.n_skipped, resumed.n_done) == (3, 3)
    assert _sorted(tmp_path / "cut") == _sorted(tmp_path / "whole")

    records = read_jsonl(tmp_path / "whole" / "results.jsonl")
    selected = [r for r in records if r["variant"] == "dann[select=entropy]"]
    assert len(selected) == 2 and all(r["selection"]["picked"] for r in selected)
    assert all("selection" not in r for r in records if r["variant"] != "dann[select=entropy]")
    report = write_experiment_report(tmp_path / "whole")
    text = report.markdown.read_text()
    assert "Model selection inside trials" in text and ORACLE_HEADER in text
    assert DISTANCE_HEADER in text and "entropy" in text
    picks = [f"lambda_max={r['selection']['picked']['lambda_max']}" for r in selected]
    assert all(p in text for p in picks)


def test_the_report_shows_no_oracle_column_unless_recorded(tmp_path):
    trials = [
        {
            "key": f"k{t}{v}",
            "status": "ok",
            "method": "dann",
            "variant": v,
            "pair": "a->b",
            "protocol": "cross_domain",
            "trial": t,
            "metrics": {"uar": 0.5 + 0.01 * t},
            **(
                {"selection": {"scorer": "snd", "picked": {"lambda_max": 0.3}, "scores": []}}
                if v != "dann"
                else {}
            ),
        }
        for t in range(3)
        for v in ("dann", "dann[select=snd]")
    ]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(t) + "\n" for t in trials))
    (tmp_path / "config.yaml").write_text("name: x\nbaseline: dann\n")
    text = write_experiment_report(tmp_path).markdown.read_text()
    assert "Model selection inside trials" in text and "lambda_max=0.3: 3" in text
    assert "oracle" not in text.lower()


def test_a_few_shot_trial_records_the_one_se_rule_and_each_folds_score():
    split = _split(labelled=np.arange(8))
    selection = {
        "scorer": "few_shot_cv",
        "grid": [{"source_weight": 1.0}, {"source_weight": 0.0}],
        "cv": 2,
        "repeats": 2,
        "rule": "one_se",
    }
    record = run_trial("fine_tune", FAST, split, seed=0, selection=selection).selection
    rule = record["rule"]
    assert rule["name"] == "one_se" and sorted(rule) == ["gain", "kept", "name", "se"]
    assert all(len(s["fold_scores"]) == 4 for s in record["scores"])  # 2 draws x 2 folds
    expected = {"source_weight": 1.0} if rule["kept"] else {"source_weight": 0.0}
    assert record["picked"] == expected and rule["kept"] == (rule["gain"] > rule["se"])


def test_one_se_reads_its_fall_back_from_the_expanded_grid():
    """A single ``source_weight`` value is a grid point too (here with a list of rates)."""
    selection = {
        "fine_tune": {
            "scorer": "few_shot_cv",
            "grid": {"source_weight": 0.0, "lr": [0.001, 0.01]},
            "rule": "one_se",
        }
    }
    extra = {"protocol": {"name": "few_shot", "k": [2]}, "methods": {"fine_tune": {}}}
    config = parse_config(_config(selection=selection, baseline=None, **extra))
    assert config.selection["fine_tune"].rule == "one_se"
