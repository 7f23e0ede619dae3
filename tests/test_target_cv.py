"""The CADA paper's target protocol (issue 20): ``target_cv``, a k-fold cross-validation of
the target with a labelled development tenth and ``k`` labelled examples per trial, and
``k_counts``, which says whether ``k`` counts examples per class or in all; and the
enriched-AAE paper's reduced runs, whose sample is all the in-context training data
(``unsampled_as_unlabelled: false``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emoshift.experiment.config import ConfigError, parse_config
from emoshift.experiment.data import ExperimentData
from emoshift.experiment.plan import plan_trials
from emoshift.experiment.protocols import check_data, make_split
from emoshift.protocols import Condition, Draw, ProtocolSettings, Target, get_protocol
from emoshift.protocols.splits import class_shares, few_shot_trials


def _target(n: int = 100, n_speakers: int = 10) -> Target:
    """``n`` rows, two classes in a 70/30 ratio (as EmoDB's negative/positive), speakers."""
    labels = np.where(np.arange(n) % 10 < 7, "negative", "positive")
    speakers = np.array([f"s{i % n_speakers}" for i in range(n)], dtype=object)
    return Target(speakers=speakers, y=labels)


def _cuts(target: Target, trials: int = 10, k: int = 4, **settings: object) -> list:
    protocol_settings = ProtocolSettings("target_cv", **settings)
    protocol = get_protocol("target_cv")
    return [
        protocol.split(target, Draw(protocol_settings, Condition(k=k), t, seed=3, n_trials=trials))
        for t in range(trials)
    ]


def test_five_test_folds_cover_the_target_once_each_stratified_by_class():
    target = _target()
    cuts = _cuts(target, speaker_independent=False)
    tests = [cut.test for cut in cuts[:5]]
    assert sorted(np.concatenate(tests).tolist()) == list(range(100))  # a partition
    for test in tests:  # each fold holds its 20 rows in the corpus's 70/30 ratio
        assert (target.y[test] == "negative").sum() == 14
        assert (target.y[test] == "positive").sum() == 6
    for t in range(5):  # trial t + 5 tests the same fold, with the same development rows
        assert cuts[t + 5].test.tolist() == cuts[t].test.tolist()
        assert cuts[t + 5].dev.tolist() == cuts[t].dev.tolist()


def test_training_development_and_test_rows_are_disjoint_with_a_tenth_held_out():
    target = _target()
    for cut in _cuts(target, speaker_independent=False):
        train, dev, test = set(cut.train), set(cut.dev), set(cut.test)
        assert not (train & dev or train & test or dev & test)
        assert len(train | dev | test) == 100
        assert len(dev) == 8  # 10 % of the 80 rows of the other four folds
        assert sorted(target.y[cut.dev].tolist()).count("positive") in (2, 3)  # stratified


def test_each_trial_labels_k_examples_per_class_of_its_training_rows_drawn_anew():
    target = _target()
    cuts = _cuts(target, k=4, speaker_independent=False)
    for cut in cuts:
        chosen = target.y[cut.train[cut.labelled]]
        assert sorted(chosen.tolist()) == ["negative"] * 4 + ["positive"] * 4
    assert cuts[0].labelled.tolist() != cuts[5].labelled.tolist()  # same fold, new draw


def test_k_counted_in_total_shares_k_examples_between_the_classes():
    target = _target()
    for k in (2, 6, 12):
        for cut in _cuts(target, k=k, k_counts="total", speaker_independent=False):
            chosen = target.y[cut.train[cut.labelled]].tolist()
            assert len(chosen) == k
            assert chosen.count("negative") == chosen.count("positive") == k // 2


def test_speaker_independent_folds_keep_every_speaker_on_one_side():
    target = _target()
    for cut in _cuts(target):
        assert not set(target.speakers[cut.test]) & set(target.speakers[cut.train])
        assert not set(target.speakers[cut.test]) & set(target.speakers[cut.dev])


def test_no_development_set_when_dev_fraction_is_zero():
    cut = _cuts(_target(), trials=5, dev_fraction=0.0, speaker_independent=False)[0]
    assert cut.dev is None and len(cut.train) == 80


def test_the_same_seed_gives_the_same_cuts():
    first = _cuts(_target(), speaker_independent=False)
    second = _cuts(_target(), speaker_independent=False)
    for a, b in zip(first, second):
        assert a.test.tolist() == b.test.tolist() and a.labelled.tolist() == b.labelled.tolist()


@pytest.mark.parametrize(
    ("settings", "n_trials", "message"),
    [
        ({}, 3, "leave folds untested"),
        ({"k": [60]}, 10, "k=60 is too large"),
    ],
)
def test_check_target_names_what_the_target_cannot_give(settings, n_trials, message):
    protocol_settings = ProtocolSettings("target_cv", speaker_independent=False, **settings)
    with pytest.raises(ValueError, match=message):
        get_protocol("target_cv").check_target(
            _target(), protocol_settings, seed=0, n_trials=n_trials
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("k_counts", "each", "k_counts"),
        ("n_folds", 1, "n_folds"),
        ("dev_fraction", 1.0, "dev_fraction"),
    ],
)
def test_bad_settings_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        ProtocolSettings("target_cv", **{field: value}).check()


def test_class_shares_total_gives_the_remainder_to_random_classes():
    shares = [class_shares(7, 3, "total", np.random.default_rng(s)) for s in range(20)]
    assert all(sorted(s.tolist()) == [2, 2, 3] for s in shares)
    assert len({int(np.argmax(s)) for s in shares}) > 1  # not always the first class
    with pytest.raises(ValueError, match="k=1 examples in total"):
        class_shares(1, 2, "total", np.random.default_rng(0))


def test_exclusive_few_shot_trials_counted_in_total_never_share_an_example():
    labels = np.array(["a", "b"] * 20)
    trials = few_shot_trials(labels, 4, 5, seed=1, exclusive=True, k_counts="total")
    assert [len(t) for t in trials] == [4] * 5
    assert len(set(np.concatenate(trials).tolist())) == 20


def test_few_shot_protocol_counts_k_in_total_when_asked():
    target = _target()
    settings = ProtocolSettings("few_shot", k_counts="total", exclusive=False)
    cut = get_protocol("few_shot").split(target, Draw(settings, Condition(k=6), 0, 0, 20))
    assert sorted(target.y[cut.train[cut.labelled]].tolist()) == ["negative"] * 3 + ["positive"] * 3


def _config(tmp_path, **protocol: object) -> object:
    return parse_config(
        {
            "name": "cv",
            "corpora": {"synthetic": {"loader": "synthetic", "path": "corpus"}},
            "pairs": [{"name": "s->t", "source": "domain == 's'", "target": "domain == 't'"}],
            "protocol": {"name": "target_cv", "k": [2, 4], **protocol},
            "methods": {"cada": {}, "train_on_target": {}},
            "baseline": "train_on_target",
            "trials": 10,
        },
        base_dir=tmp_path,
    )


def _data() -> ExperimentData:
    rows = 200
    table = pd.DataFrame(
        {
            "domain": np.where(np.arange(rows) < 100, "s", "t"),
            "speaker": [f"p{i // 10}" for i in range(rows)],
            "label": np.where(np.arange(rows) % 10 < 7, "negative", "positive"),
        }
    )
    X = np.random.default_rng(0).normal(size=(rows, 3))
    return ExperimentData(table, X, table["label"].to_numpy(dtype=str))


def test_a_config_plans_k_by_trial_and_the_split_gives_dev_labelled_and_all_target_rows(
    tmp_path,
):
    config = _config(tmp_path, k_counts="total", speaker_independent=False)
    specs = plan_trials(config)
    assert {(s.k, s.trial) for s in specs} == {(k, t) for k in (2, 4) for t in range(10)}
    assert all(s.protocol_options["k_counts"] == "total" for s in specs)
    data = _data()
    check_data(config, data)
    split = make_split(
        data,
        "domain == 's'",
        "domain == 't'",
        "target_cv",
        trial=2,
        seed=0,
        k=4,
        speaker_independent=False,
        **specs[0].protocol_options,
    )
    assert len(split.X_test) == 20 and len(split.X_dev) == 8 and len(split.X_target) == 72
    assert sorted(split.y_target[split.labelled].tolist()) == ["negative"] * 2 + ["positive"] * 2


def test_a_config_with_fewer_trials_than_folds_is_refused_before_training(tmp_path):
    config = _config(tmp_path)
    config.trials = 3
    with pytest.raises(ConfigError, match="leave folds untested"):
        check_data(config, _data())


@pytest.mark.parametrize("unsampled_as_unlabelled", [True, False])
def test_reduced_gives_the_unsampled_rows_as_unlabelled_data_only_when_asked(
    unsampled_as_unlabelled,
):
    target = _target(n=100, n_speakers=5)
    settings = ProtocolSettings("reduced", unsampled_as_unlabelled=unsampled_as_unlabelled)
    cut = get_protocol("reduced").split(target, Draw(settings, Condition(size=30, fold="s0"), 0, 0))
    assert len(cut.labelled) == 30 and len(cut.test) == 20
    assert len(cut.train) == (80 if unsampled_as_unlabelled else 30)
    assert not set(target.speakers[cut.train]) & {"s0"}
