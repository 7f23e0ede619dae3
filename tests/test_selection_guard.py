"""The negative-transfer guard: its signals (class balance, source damage, reverse
validation, domain gap), its actions, and real DANN on a pair built to transfer negatively
(label shift: marginal alignment piles the target onto the source's majority class) and
on one built to transfer well (a shift of the whole target)."""

from __future__ import annotations

import dataclasses
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
from emoshift.selection import guard, transfer_signals
from emoshift.selection.guard import (
    DEFAULT_MARGINS,
    NegativeTransferGuard,
    class_balance,
    decide,
    guard_decision,
    measure,
)
from emoshift.selection.scorers import SelectionData
from emoshift.selection.transfer_signals import agreement, domain_separability, reverse_uar

CLASSES = np.array(["anger", "happiness", "neutral", "sadness"])


class Fixed:
    """A fitted classifier whose predictions are given: ``target`` on the target rows
    (tagged 1 in the first column), ``dev`` on the others."""

    classes_ = np.array(["a", "b"])

    def __init__(self, target, dev, gap=0.0):
        self.target, self.dev, self.gap = np.asarray(target), np.asarray(dev), gap

    def predict(self, X):
        return self.target if X[0, 0] == 1 else self.dev

    def transform(self, X):
        """Two noise columns (seeded, the same for every model) and, when ``gap`` is
        set, a third that moves the target rows by ``gap``."""
        noise = np.random.default_rng(len(X)).normal(size=(len(X), 2))
        return np.c_[noise, self.gap * X[:, :1]]


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
    signals = decision.signals
    assert signals.top_class == "a" and signals.top_share == 0.9
    assert signals.adapted_balance == pytest.approx(0.4689956) and signals.reference_balance == 1


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
    assert (decision.signals.adapted_source_uar, decision.signals.reference_source_uar) == (
        0.5,
        1.0,
    )
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


# ---------------------------------------------------------------- the signals


class Rule:
    """A fitted 'model' that labels source rows by the sign of feature ``column`` and
    target rows (column 2 tags them) by that of ``target_column``; its representation is
    the rows with the target moved by ``shift``."""

    classes_ = np.array(["high", "low"])

    def __init__(self, column, target_column=None, shift=0.0):
        self.column, self.shift = column, shift
        self.target_column = column if target_column is None else target_column

    def predict(self, X):
        X = np.asarray(X)
        column = np.where(X[:, 2] == 1, self.target_column, self.column)
        return np.where(X[np.arange(len(X)), column] > 0, "high", "low")

    def transform(self, X):
        X = np.asarray(X, dtype=float)
        return X[:, :2] + self.shift * X[:, 2:3]


@pytest.fixture
def two_gaussians():
    """Source development rows whose class is the sign of column 0; target rows drawn
    the same way (column 2 is 0 on the source, 1 on the target)."""
    rng = np.random.default_rng(0)
    source, target = rng.normal(size=(200, 2)), rng.normal(size=(300, 2))
    return SelectionData(
        X_dev=np.c_[source, np.zeros(200)],
        y_dev=np.where(source[:, 0] > 0, "high", "low"),
        X_target=np.c_[target, np.ones(300)],
    )


def test_reverse_uar_is_low_for_a_balanced_but_wrong_target_labelling(two_gaussians):
    # labelling the target by column 0 agrees with how the classes lie in the source;
    # by column 1 it is just as balanced, but a linear model trained on it is at chance
    assert reverse_uar(Rule(0), two_gaussians) > 0.95
    assert abs(reverse_uar(Rule(0, target_column=1), two_gaussians) - 0.5) < 0.1
    # one class everywhere: the constant prediction's UAR, 1 / K
    constant = Rule(0)
    constant.predict = lambda X: np.full(len(X), "low")
    assert reverse_uar(constant, two_gaussians) == 0.5


def test_domain_separability_reads_the_models_representation(two_gaussians):
    # same distribution in both domains: a domain classifier is near chance
    assert abs(domain_separability(Rule(0), two_gaussians) - 0.5) < 0.1
    # the representation moves the target by 4: it tells them apart almost always
    assert domain_separability(Rule(0, shift=4.0), two_gaussians) > 0.95
    again = domain_separability(Rule(0, shift=0.5), two_gaussians, seed=3)
    assert again == domain_separability(Rule(0, shift=0.5), two_gaussians, seed=3)


def test_agreement_is_the_share_of_equal_predictions(two_gaussians):
    X = two_gaussians.X_target
    expected = np.mean((X[:, 0] > 0) == (X[:, 1] > 0))
    assert agreement(Rule(0), Rule(1), X) == pytest.approx(expected)
    assert agreement(Rule(0), Rule(0), X) == 1.0


def test_balanced_harmful_adaptation_falls_back_where_the_first_guard_kept_it(two_gaussians):
    # the adapted model labels the target in a balanced but wrong way (column 1), and
    # its representation leaves the domains apart; source-only is right and aligned
    adapted, reference = Rule(0, target_column=1, shift=4.0), Rule(0)
    signals = measure(adapted, reference, two_gaussians)
    assert signals.adapted_balance > 0.95 and signals.adapted_source_uar == 1.0
    first_guard = decide(signals, reverse_margin=None, domain_margin=None)
    assert first_guard.action == "keep"  # the old two signals see nothing
    decision = decide(signals)  # the defaults
    assert DEFAULT_MARGINS["domain_margin"] is not None
    assert decision.action == "fallback"
    assert decision.reason.startswith("wider gap: a domain classifier tells source from target")
    reverse = decide(signals, reverse_margin=0.1, domain_margin=None)
    assert reverse.action == "fallback" and reverse.reason.startswith("reverse drop:")
    # an aligned adapted model that labels like source-only is kept by every signal
    kept = decide(measure(Rule(0), reference, two_gaussians), reverse_margin=0.05)
    assert kept.action == "keep" and kept.reason.startswith("no sign of harm")


@pytest.mark.bad_input
def test_an_unknown_margin_is_named(two_gaussians):
    signals = measure(Rule(0), Rule(0), two_gaussians)
    with pytest.raises(ValueError, match=r"unknown guard margin\(s\) \['gap'\]; known"):
        decide(signals, gap=0.1)


def test_signals_module_docstring_example_runs():
    assert doctest.testmod(transfer_signals).failed == 0


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
    assert model.decision_.signals.top_class == "anger"
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
    model.decision_ = dataclasses.replace(model.decision_, action="combine")
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
        ({"dann": {"domain_margin": -0.05}}, {}, "domain_margin: -0.05 must be >= 0"),
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

    # a margin set to null switches its signal off and reaches the trial's selection
    off = parse_config(_config(guard={"dann": {"domain_margin": None}}), base_dir=tmp_path)
    assert off.guard["dann"].domain_margin is None
    assert config.guard["dann"].domain_margin == guard.DEFAULT_MARGINS["domain_margin"]
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
