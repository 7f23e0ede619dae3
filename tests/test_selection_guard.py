"""The negative-transfer guard: its two signals, its actions, and real DANN on a pair built
to transfer negatively (label shift: marginal alignment piles the target onto the
source's majority class) and on one built to transfer well (a shift of the whole target)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

from emoshift.experiment.config import ConfigError, parse_config
from emoshift.experiment.plan import plan_trials
from emoshift.experiment.runner import run_experiment
from emoshift.experiment.store import read_jsonl
from emoshift.methods import get_method
from emoshift.metrics import uar
from emoshift.report.experiment import write_experiment_report
from emoshift.report.selection_tables import GUARD_HEADER
from emoshift.selection import guard
from emoshift.selection.guard import NegativeTransferGuard, class_balance, guard_decision
from emoshift.selection.scorers import SelectionData

CLASSES = np.array(["anger", "happiness", "neutral", "sadness"])


class Fixed:
    """A fitted classifier whose predictions are given: ``target`` on the target rows
    (tagged 1 in the first column), ``dev`` on the others."""

    classes_ = np.array(["a", "b"])

    def __init__(self, target, dev):
        self.target, self.dev = np.asarray(target), np.asarray(dev)

    def predict(self, X):
        return self.target if X[0, 0] == 1 else self.dev


@pytest.fixture
def data():
    return SelectionData(
        X_dev=np.zeros((4, 1)), y_dev=np.array(["a", "a", "b", "b"]), X_target=np.ones((10, 1))
    )


BALANCED = ["a"] * 5 + ["b"] * 5
RIGHT = ["a", "a", "b", "b"]


def test_class_balance_is_the_normalised_entropy_of_the_predicted_classes():
    assert class_balance(["a", "b"], ["a", "b"]) == 1.0
    assert class_balance(["a", "a"], ["a", "b", "c"]) == 0.0
    # 3 of 4 rows one class, 2 classes: -(0.75 ln 0.75 + 0.25 ln 0.25) / ln 2
    assert class_balance(["a", "a", "a", "b"], ["a", "b"]) == pytest.approx(0.8112781)
    with pytest.raises(ValueError, match="two classes"):
        class_balance(["a"], ["a"])


def test_a_collapse_on_the_target_falls_back_and_says_why(data):
    adapted = Fixed(["a"] * 9 + ["b"], RIGHT)  # balance 0.47 against 1.0
    decision = guard_decision(adapted, Fixed(BALANCED, RIGHT), data)
    assert decision.action == "fallback"
    assert decision.reason.startswith("collapse: the adapted model predicts 90% of the target as a")
    assert decision.top_class == "a" and decision.top_share == 0.9
    assert decision.adapted_balance == pytest.approx(0.4689956) and decision.reference_balance == 1


def test_a_target_that_source_only_also_sees_unbalanced_is_no_collapse(data):
    # both models predict 80% 'a': the target may really hold more 'a'
    decision = guard_decision(
        Fixed(["a"] * 8 + ["b"] * 2, RIGHT), Fixed(["a"] * 8 + ["b"] * 2, RIGHT), data
    )
    assert decision.action == "keep"
    assert decision.reason.startswith("no sign of harm")


def test_source_damage_falls_back_or_combines(data):
    adapted = Fixed(BALANCED, ["a", "b", "a", "b"])  # source dev UAR 50% against 100%
    decision = guard_decision(adapted, Fixed(BALANCED, RIGHT), data, on_risk="combine")
    assert decision.action == "combine"
    assert decision.reason.startswith("source damage: source development UAR 50.0%")
    assert (decision.adapted_source_uar, decision.reference_source_uar) == (0.5, 1.0)
    # within the margin: kept
    wide = guard_decision(adapted, Fixed(BALANCED, RIGHT), data, source_margin=0.6)
    assert wide.action == "keep"
    assert set(wide.record()) >= {"action", "reason", "adapted_balance", "top_share"}


@pytest.mark.bad_input
def test_bad_settings_are_named(data):
    with pytest.raises(ValueError, match="on_risk='drop'; choose one of"):
        guard_decision(Fixed(BALANCED, RIGHT), Fixed(BALANCED, RIGHT), data, on_risk="drop")
    no_target = SelectionData(X_dev=data.X_dev, y_dev=data.y_dev)
    with pytest.raises(ValueError, match="pass X_target"):
        guard_decision(Fixed(BALANCED, RIGHT), Fixed(BALANCED, RIGHT), no_target)
    with pytest.raises(ValueError, match="pass X_target"):
        NegativeTransferGuard(get_method("dann")).fit(np.zeros((10, 2)), ["a", "b"] * 5)
    with pytest.raises(RuntimeError, match="not fitted"):
        NegativeTransferGuard(get_method("dann")).predict(np.zeros((1, 2)))


# ---------------------------------------------------------------- real DANN

DANN = dict(
    hidden_sizes=(16,),
    head_hidden_sizes=(),
    max_epochs=30,
    patience=None,
    lr=0.01,
    lambda_max=10.0,
)


def domain(counts, offset, seed):
    """Four Gaussian classes in 6-D, ``counts`` rows each, moved by ``offset``."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), counts)
    X = np.eye(4, 6)[y] * 3.0 + rng.normal(size=(len(y), 6)) + offset
    return X.astype(np.float32), CLASSES[y]


def guarded(source_counts, offset):
    """The guard around DANN on one pair: source, then a target training and test draw."""
    X_s, y_s = domain(source_counts, 0.0, seed=0)
    X_t, _ = domain([60] * 4, offset, seed=1)
    X_test, y_test = domain([60] * 4, offset, seed=2)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = NegativeTransferGuard(get_method("dann", **DANN), random_state=0)
        model.fit(X_s, y_s, X_target=X_t)
    finally:
        torch.set_num_threads(previous)
    return model, X_test, y_test


@pytest.fixture(scope="module")
def negative():
    # label shift: 75% of the source is anger, the target is balanced and barely moved
    return guarded([240, 20, 20, 20], np.array([0.5, 0, 0, 0, 0.5, 0.5]))


@pytest.fixture(scope="module")
def positive():
    # covariate shift: balanced classes, the whole target moved far
    return guarded([60] * 4, np.array([2.5, -2.5, 2.5, -2.5, 3, 3]))


def test_the_guard_falls_back_where_dann_transfers_negatively(negative):
    model, X_test, y_test = negative
    adapted = uar(y_test, model.adapted_.predict(X_test))
    reference = uar(y_test, model.reference_.predict(X_test))
    assert adapted < reference - 0.1  # the pair is built to transfer negatively
    assert model.decision_.action == "fallback"
    assert model.decision_.reason.startswith("collapse")
    assert model.decision_.top_class == "anger"
    assert model.predict(X_test).tolist() == model.reference_.predict(X_test).tolist()
    assert model.score(X_test, y_test) == reference


def test_the_guard_keeps_dann_where_it_transfers_well(positive):
    model, X_test, y_test = positive
    adapted = uar(y_test, model.adapted_.predict(X_test))
    assert adapted > uar(y_test, model.reference_.predict(X_test)) + 0.1
    assert model.decision_.action == "keep"
    assert model.predict(X_test).tolist() == model.adapted_.predict(X_test).tolist()
    assert np.array_equal(model.transform(X_test), model.adapted_.transform(X_test))


def test_the_reference_shares_the_adapted_network_and_seed(positive):
    model, _, _ = positive
    params = model.reference_.get_params()
    assert type(model.reference_).__name__ == type(get_method("source_only")).__name__
    assert params["hidden_sizes"] == (16,) and params["lr"] == 0.01 and params["max_epochs"] == 30
    assert params["random_state"] == model.adapted_.get_params()["random_state"]


def test_combine_averages_both_models_probabilities(negative):
    model, X_test, _ = negative
    model.decision_ = guard.GuardDecision(**{**model.decision_.record(), "action": "combine"})
    mean = (model.adapted_.predict_proba(X_test) + model.reference_.predict_proba(X_test)) / 2
    assert np.allclose(model.predict_proba(X_test), mean)
    assert model.predict(X_test).tolist() == CLASSES[mean.argmax(axis=1)].tolist()


def test_the_same_seed_gives_the_same_decision_and_predictions(positive):
    again, X_test, _ = guarded([60] * 4, np.array([2.5, -2.5, 2.5, -2.5, 3, 3]))
    model, _, _ = positive
    assert again.decision_ == model.decision_
    assert np.array_equal(again.predict_proba(X_test), model.predict_proba(X_test))


def test_module_docstring_example_runs():
    assert doctest.testmod(guard).failed == 0


# ---------------------------------------------------------------- experiment wiring

TINY_DANN = {"max_epochs": 3, "warmup_epochs": 1, "hidden_sizes": [8], "head_hidden_sizes": []}


def _config(**overrides: object) -> dict:
    config = {
        "name": "guard",
        "output": "run",
        "corpora": {"s": {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}},
        "features": {"domain": "elicitation", "jobs": 1},
        "pairs": [{"source": "elicitation == 'acted'", "target": "elicitation == 'spontaneous'"}],
        "methods": {"source_only": {"max_epochs": 3, "hidden_sizes": [8]}, "dann": TINY_DANN},
        "guard": {"dann": {}},
        "trials": 2,
    }
    config.update(overrides)
    return config


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("guard_block", "extra", "message"),
    [
        ({"dan": {}}, {}, "did you mean 'dann'?"),
        ({"dann": {"on_risk": "drop"}}, {}, "config.guard.dann.on_risk: 'drop' is not one of"),
        ({"dann": {"balance_margin": -0.1}}, {}, "balance_margin: -0.1 must be >= 0"),
        ({"dann": {"margin": 0.1}}, {}, "unknown key 'margin'"),
        ({"source_only": {}}, {}, "source_only is not one"),
    ],
)
def test_a_bad_guard_block_is_a_config_error_naming_the_field(guard_block, extra, message):

    with pytest.raises(ConfigError, match="config.guard") as error:
        parse_config(_config(guard=guard_block, **extra))
    assert message in str(error.value)


def test_the_guard_is_a_variant_whose_decision_reaches_results_and_report(tmp_path):

    config = parse_config(_config(), base_dir=tmp_path)
    assert [t.variant for t in plan_trials(config) if t.trial == 0] == [
        "source_only",
        "dann",
        "dann[guard]",
    ]
    unguarded = parse_config(_config(guard={}), base_dir=tmp_path)
    keys = {t.variant: t.key for t in plan_trials(unguarded)}
    assert keys["dann"] == {t.variant: t.key for t in plan_trials(config)}["dann"]

    run_experiment(config, run_dir=tmp_path / "run", progress=False)
    records = read_jsonl(tmp_path / "run" / "results.jsonl")
    guarded_records = [r for r in records if r["variant"] == "dann[guard]"]
    assert len(guarded_records) == 2 and all(r["status"] == "ok" for r in guarded_records)
    for record in guarded_records:
        decision = record["selection"]["guard"]
        assert record["selection"]["picked"] == {"model": decision["action"]}
        assert decision["action"] in ("keep", "fallback") and decision["reason"]
    text = write_experiment_report(tmp_path / "run").markdown.read_text()
    assert GUARD_HEADER in text and "model=" in text
