"""Protocols: disjointness, sizes, stratification, determinism and errors."""

from __future__ import annotations

import dataclasses
import doctest
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import emoshift.experiment.protocols
import emoshift.protocols
import emoshift.protocols.base
import emoshift.protocols.catalog
import emoshift.protocols.splits
from emoshift.experiment.data import ExperimentData
from emoshift.experiment.protocols import make_split
from emoshift.protocols import (
    PROTOCOLS,
    Condition,
    Draw,
    ProtocolSettings,
    Target,
    few_shot_trials,
    get_protocol,
    leave_one_speaker_out,
    reduced_sample,
    speaker_split,
    target_split_10_40_50,
)

CLASSES = ["anger", "happiness", "neutral", "sadness"]


def corpus(n_speakers: int = 10, seed: int = 0) -> pd.DataFrame:
    """A table of speakers with uneven utterance counts and class mixes."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_speakers):
        for _ in range(rng.integers(20, 60)):
            rows.append({"speaker": f"spk{s:02d}", "emotion": rng.choice(CLASSES)})
    return pd.DataFrame(rows)


def assert_partition(parts, n):
    joined = np.concatenate(parts)
    assert len(joined) == len(set(joined.tolist())) == n
    for part in parts:
        assert np.all(np.diff(part) > 0)  # sorted, no duplicates


# --- speaker_split -----------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.3, 0.5])
def test_speaker_split_is_speaker_independent_and_balanced(fraction):
    table = corpus()
    train, test = speaker_split(table, test_fraction=fraction, seed=7)
    assert_partition([train, test], len(table))
    assert not set(table.speaker.iloc[train]) & set(table.speaker.iloc[test])
    assert len(test) / len(table) == pytest.approx(fraction, abs=0.08)
    for part in (train, test):
        assert set(table.emotion.iloc[part]) == set(CLASSES)


def test_speaker_split_puts_every_class_in_both_parts_when_possible():
    # only speakers a and c have "fear"; a random cut often puts both on one side
    table = pd.DataFrame(
        {
            "speaker": list("aaaabbbbccccdddd"),
            "emotion": ["fear", "x", "x", "x"] + ["x"] * 4 + ["fear", "x", "x", "x"] + ["x"] * 4,
        }
    )
    for seed in range(5):
        train, test = speaker_split(table, seed=seed)
        assert "fear" in set(table.emotion.iloc[train])
        assert "fear" in set(table.emotion.iloc[test])


def test_speaker_split_is_deterministic_and_seed_dependent():
    table = corpus()
    first, again = speaker_split(table, seed=1), speaker_split(table, seed=1)
    np.testing.assert_array_equal(first.test, again.test)
    tests = {tuple(speaker_split(table, seed=s).test.tolist()) for s in range(5)}
    assert len(tests) > 1


def test_speaker_split_without_labels_and_custom_columns():
    table = corpus().rename(columns={"speaker": "talker"})
    train, test = speaker_split(table, seed=0, speaker_column="talker", label_column=None)
    assert_partition([train, test], len(table))


def test_speaker_split_errors():
    table = corpus()
    with pytest.raises(ValueError, match="test_fraction"):
        speaker_split(table, test_fraction=1.0)
    with pytest.raises(ValueError, match="no column 'label'"):
        speaker_split(table, label_column="label")
    with pytest.raises(ValueError, match="at least 2 speakers"):
        speaker_split(table.assign(speaker="one"))
    with pytest.raises(ValueError, match="1 missing value"):
        speaker_split(table.assign(speaker=[None] + list(table.speaker.iloc[1:])))


# --- few_shot_trials ---------------------------------------------------------------------


def test_few_shot_trials_sizes_classes_and_exclusivity():
    labels = np.repeat(CLASSES, 25)
    trials = few_shot_trials(labels, k=4, n_trials=6, seed=0)
    assert len(trials) == 6
    for trial in trials:
        assert Counter(labels[trial].tolist()) == dict.fromkeys(CLASSES, 4)
    used = np.concatenate(trials)
    assert len(set(used.tolist())) == len(used)


def test_few_shot_trials_respect_pool_and_determinism():
    table = corpus()
    labels = table.emotion
    pool = np.flatnonzero(table.speaker.isin(["spk00", "spk01", "spk02", "spk03", "spk04"]))
    trials = few_shot_trials(labels, k=2, n_trials=3, seed=5, pool=pool)
    assert set(np.concatenate(trials).tolist()) <= set(pool.tolist())
    again = few_shot_trials(labels, k=2, n_trials=3, seed=5, pool=pool)
    assert all(np.array_equal(a, b) for a, b in zip(trials, again, strict=True))
    other = few_shot_trials(labels, k=2, n_trials=3, seed=6, pool=pool)
    assert not all(np.array_equal(a, b) for a, b in zip(trials, other, strict=True))


def test_few_shot_trials_non_exclusive_may_reuse():
    labels = ["a", "b"] * 3
    trials = few_shot_trials(labels, k=3, n_trials=4, seed=0, exclusive=False)
    assert all(len(t) == 6 for t in trials)  # each trial takes every example
    with pytest.raises(ValueError, match=r"12\. Lower k or n_trials, or pass exclusive=False"):
        few_shot_trials(labels, k=3, n_trials=4, seed=0)
    with pytest.raises(ValueError, match=r"has 3 example\(s\) in labels; k=4 need 4\. Lower k"):
        few_shot_trials(labels, k=4, n_trials=1, seed=0, exclusive=False)


def test_few_shot_trials_unlabelled_rows_and_class_subset():
    labels = pd.Series(["a", None, "b", "a", pd.NA, "b", "c"], dtype="object")
    trials = few_shot_trials(labels, k=1, n_trials=2, seed=0, classes=["a", "b"])
    assert all(sorted(labels[t].tolist()) == ["a", "b"] for t in trials)


def test_few_shot_trials_errors_name_class_and_count():
    labels = ["anger"] * 20 + ["fear"] * 7
    with pytest.raises(ValueError, match=r"class 'fear' has 7 example\(s\) in labels; 4 excl"):
        few_shot_trials(labels, k=2, n_trials=4, seed=0)
    with pytest.raises(ValueError, match=r"class 'fear' has 0 example\(s\) in the pool"):
        few_shot_trials(labels, k=1, n_trials=1, seed=0, pool=np.arange(20))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        few_shot_trials(labels, k=0, n_trials=1, seed=0)
    with pytest.raises(ValueError, match="positions beyond 26"):
        few_shot_trials(labels, k=1, n_trials=1, seed=0, pool=[0, 99])
    with pytest.raises(ValueError, match="duplicate"):
        few_shot_trials(labels, k=1, n_trials=1, seed=0, pool=[0, 0, 25])


# --- target_split_10_40_50 ---------------------------------------------------------------


def test_target_split_sizes_and_stratification():
    labels = np.array(["anger"] * 100 + ["neutral"] * 200 + ["sadness"] * 50)
    train, dev, test = target_split_10_40_50(labels, seed=0)
    assert_partition([train, dev, test], len(labels))
    assert (len(train), len(dev), len(test)) == (35, 140, 175)
    for part, share in ((train, 0.1), (dev, 0.4), (test, 0.5)):
        counts = Counter(labels[part].tolist())
        for label, total in Counter(labels.tolist()).items():
            assert counts[label] == pytest.approx(share * total, abs=1)


def test_target_split_small_classes_get_one_per_part():
    labels = ["rare"] * 3 + ["common"] * 40
    train, dev, test = target_split_10_40_50(labels, seed=2)
    for part in (train, dev, test):
        assert "rare" in {labels[i] for i in part}
    with pytest.raises(ValueError, match=r"class 'tiny' has 2 example\(s\)"):
        target_split_10_40_50(["tiny"] * 2 + ["common"] * 40, seed=0)


def test_target_split_repeats_via_seeds():
    labels = np.repeat(CLASSES, 30)
    splits = [target_split_10_40_50(labels, seed=s) for s in range(3)]
    np.testing.assert_array_equal(splits[0].test, target_split_10_40_50(labels, seed=0).test)
    assert not np.array_equal(splits[0].train, splits[1].train)


def test_target_split_with_speakers_is_speaker_disjoint():
    table = corpus(n_speakers=12, seed=3)
    train, dev, test = target_split_10_40_50(table.emotion, seed=0, speakers=table.speaker)
    assert_partition([train, dev, test], len(table))
    speakers = [set(table.speaker.iloc[p]) for p in (train, dev, test)]
    assert not (speakers[0] & speakers[1] or speakers[0] & speakers[2] or speakers[1] & speakers[2])
    assert len(train) / len(table) == pytest.approx(0.1, abs=0.06)
    assert len(test) / len(table) == pytest.approx(0.5, abs=0.1)
    for part in (train, dev, test):
        assert set(table.emotion.iloc[part]) == set(CLASSES)
    with pytest.raises(ValueError, match="at least 3 speakers"):
        target_split_10_40_50(["a", "b"] * 5, seed=0, speakers=["s1", "s2"] * 5)
    with pytest.raises(ValueError, match="speakers has 3 values but labels has 4"):
        target_split_10_40_50(["a"] * 4, seed=0, speakers=["s1", "s2", "s3"])


def test_target_split_rejects_missing_labels_and_bad_seed():
    with pytest.raises(ValueError, match="labels has 1 missing value"):
        target_split_10_40_50(["a", None, "a", "a"], seed=0)
    with pytest.raises(ValueError, match="seed must be an integer"):
        target_split_10_40_50(["a"] * 3, seed="0")


# --- leave_one_speaker_out ---------------------------------------------------------------


def test_leave_one_speaker_out_covers_every_speaker_once():
    table = corpus(n_speakers=5)
    folds = list(leave_one_speaker_out(table.speaker))
    assert [speaker for _, _, speaker in folds] == sorted(table.speaker.unique())
    for train, test, speaker in folds:
        assert_partition([train, test], len(table))
        assert set(table.speaker.iloc[test]) == {speaker}
        assert speaker not in set(table.speaker.iloc[train])
    np.testing.assert_array_equal(
        np.sort(np.concatenate([test for _, test, _ in folds])), np.arange(len(table))
    )


def test_leave_one_speaker_out_errors_are_eager():
    with pytest.raises(ValueError, match="at least 2 speakers"):
        leave_one_speaker_out(["s1", "s1"])
    with pytest.raises(ValueError, match="missing"):
        leave_one_speaker_out(["s1", None])


# --- reduced_sample ----------------------------------------------------------------------


def test_reduced_sample_stratified_subset_of_fold():
    labels = np.array(["a"] * 60 + ["b"] * 30 + ["c"] * 10)
    train_idx = np.arange(0, 100, 1)[::-1]
    subset = reduced_sample(train_idx, labels, size=0.2, seed=0)
    assert len(subset) == 20
    assert set(subset.tolist()) <= set(train_idx.tolist())
    counts = Counter(labels[subset].tolist())
    assert counts == {"a": 12, "b": 6, "c": 2}


def test_reduced_sample_counts_nested_and_deterministic():
    table = corpus()
    fold = np.flatnonzero(table.speaker != "spk00")
    labels = table.emotion.to_numpy()
    previous: set[int] = set()
    for size in (4, 10, 50, 200):
        subset = reduced_sample(fold, labels, size=size, seed=3)
        assert len(subset) == size
        assert previous <= set(subset.tolist())  # nested for one seed
        previous = set(subset.tolist())
        for label, total in Counter(labels[fold].tolist()).items():
            assert np.sum(labels[subset] == label) == pytest.approx(size * total / len(fold), abs=1)
    np.testing.assert_array_equal(
        reduced_sample(fold, labels, 50, seed=3), reduced_sample(fold, labels, 50, seed=3)
    )
    assert not np.array_equal(
        reduced_sample(fold, labels, 50, seed=3), reduced_sample(fold, labels, 50, seed=4)
    )
    # one of each class as soon as the size allows it
    assert set(labels[reduced_sample(fold, labels, 4, seed=9)]) == set(CLASSES)


def test_reduced_sample_without_labels_and_errors():
    subset = reduced_sample(np.arange(10, 30), None, size=5, seed=0)
    assert len(subset) == 5 and set(subset.tolist()) <= set(range(10, 30))
    labels = ["a"] * 10
    with pytest.raises(ValueError, match="size=11 must be between 1 and the fold size 10"):
        reduced_sample(np.arange(10), labels, size=11, seed=0)
    with pytest.raises(ValueError, match=r"fractional size=1.5 must be in \(0, 1\]"):
        reduced_sample(np.arange(10), labels, size=1.5, seed=0)
    with pytest.raises(ValueError, match="size must be a count"):
        reduced_sample(np.arange(10), labels, size=True, seed=0)
    with pytest.raises(ValueError, match="empty"):
        reduced_sample(np.array([], dtype=int), labels, size=1, seed=0)
    with pytest.raises(ValueError, match="integer positions"):
        reduced_sample(np.array([0.5, 1.0]), labels, size=1, seed=0)


# --- protocol objects ---------------------------------------------------------------------


def _target(seed: int = 0, regression: bool = False) -> Target:
    table = corpus(n_speakers=8, seed=seed)
    speakers = table.speaker.to_numpy(dtype=object)
    # what a partition query selects: the speakers' own test set (partition protocol)
    selected = {"target_test": np.isin(speakers, sorted(set(speakers))[:3])}
    if regression:
        rng = np.random.default_rng(seed)
        return Target(speakers, rng.normal(size=(len(table), 2)), selected)
    return Target(speakers, table.emotion.to_numpy(dtype=str), selected)


def _cut(name: str, target: Target, trial: int = 0):
    protocol = get_protocol(name)
    settings = ProtocolSettings(name, k=[2])
    folds = sorted(set(target.speaker_names().tolist()))
    condition = protocol.conditions(settings, folds)[0]
    n_trials = protocol.n_trials(settings, 3)
    return protocol.split(target, Draw(settings, condition, trial, seed=0, n_trials=n_trials))


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_every_protocol_declares_itself_and_cuts_what_it_declares(name):
    protocol = PROTOCOLS[name]
    assert protocol.name == name and get_protocol(name) is protocol
    assert set(protocol.settings) <= {f.name for f in dataclasses.fields(ProtocolSettings)}
    assert isinstance(protocol.model_selection, str) and protocol.model_selection
    target = _target()
    cut = _cut(name, target)
    if protocol.transductive:  # trains on the test rows, unlabelled: all of them, both
        assert cut.train.tolist() == cut.test.tolist() == list(range(len(target.y)))
    else:
        assert_partition([np.unique(cut.train), cut.test], len(cut.train) + len(cut.test))
        assert not set(cut.train.tolist()) & set(cut.test.tolist())
    assert (cut.labelled is not None) == protocol.labelled_target
    assert (cut.dev is not None) == protocol.development_set
    if cut.labelled is not None:
        assert 0 < len(cut.labelled) <= len(cut.train) and cut.labelled.max() < len(cut.train)
    if cut.dev is not None:  # the development rows are never test rows
        assert not set(cut.dev.tolist()) & set(cut.test.tolist())
        if name != "target_cv":  # target_cv keeps them apart from the training rows
            assert set(cut.dev.tolist()) <= set(cut.train.tolist())
    if protocol.uses_folds:
        assert len(set(target.speakers[cut.test].tolist())) == 1


@pytest.mark.parametrize("name", [n for n, p in PROTOCOLS.items() if "regression" in p.tasks])
def test_every_regression_protocol_cuts_two_dimensional_targets(name):
    cut = _cut(name, _target(regression=True))
    assert len(cut.train) and len(cut.test)


def test_split_10_40_50_cuts_regression_targets():
    # the bug: 2-D regression targets went to the class stratification and every trial
    # failed with "labels must be 1-D"; regression is cut by size (and speaker) only
    table = corpus(n_speakers=10)
    table["domain"] = np.where(np.arange(len(table)) % 3 == 0, "s", "t")
    rng = np.random.default_rng(0)
    data = ExperimentData(table, rng.normal(size=(len(table), 4)), rng.normal(size=(len(table), 2)))
    for independent in (True, False):
        split = make_split(
            data,
            "domain == 's'",
            "domain == 't'",
            "split_10_40_50",
            trial=0,
            seed=0,
            speaker_independent=independent,
        )
        n_target = int((table.domain == "t").sum())
        assert split.y_dev.shape[1] == 2 and len(split.X_target) + len(split.X_test) == n_target
        assert len(split.X_test) / n_target == pytest.approx(0.5, abs=0.12)
        assert len(split.labelled) / n_target == pytest.approx(0.1, abs=0.08)


def test_trials_and_conditions_come_from_the_settings():
    settings = ProtocolSettings("reduced", sizes=[0.5, 1.0], repetitions=4)
    folds = ["s1", "s2"]
    assert [c.text() for c in get_protocol("reduced").conditions(settings, folds)] == [
        "size=0.5 fold=s1",
        "size=0.5 fold=s2",
        "size=1.0 fold=s1",
        "size=1.0 fold=s2",
    ]
    assert get_protocol("loso").conditions(settings, folds) == [
        Condition(fold="s1"),
        Condition(fold="s2"),
    ]
    assert get_protocol("few_shot").conditions(ProtocolSettings(k=[1, 3]))[1] == Condition(k=3)
    assert get_protocol("split_10_40_50").n_trials(settings, 5) == 4
    assert get_protocol("cross_domain").n_trials(settings, 5) == 5
    assert get_protocol("loso").n_trials(settings, 5) == 1
    with pytest.raises(ValueError, match="needs the target speakers"):
        get_protocol("loso").conditions(settings)


def test_each_trial_of_a_protocol_is_deterministic_and_trials_differ():
    target = _target()
    for name in ("cross_domain", "split_10_40_50", "few_shot"):
        first, again, other = _cut(name, target), _cut(name, target), _cut(name, target, 1)
        np.testing.assert_array_equal(first.test, again.test)
        changed = first.test if name != "few_shot" else first.labelled
        assert not np.array_equal(changed, other.test if name != "few_shot" else other.labelled)


def test_few_shot_pool_check_names_k_and_the_pool_per_class():
    target = _target()
    few_shot = get_protocol("few_shot")
    few_shot.check_target(target, ProtocolSettings("few_shot", k=[2]), seed=0, n_trials=3)
    with pytest.raises(ValueError) as error:
        few_shot.check_target(target, ProtocolSettings("few_shot", k=[2, 40]), seed=0, n_trials=3)
    message = str(error.value)
    assert "k=40" in message and "3 exclusive trials need 120 per class" in message
    pool = target.y[_cut("few_shot", target).train]
    assert f"anger: {int((pool == 'anger').sum())}" in message


def test_unknown_protocol_suggests_the_nearest():
    with pytest.raises(ValueError, match="did you mean 'few_shot'"):
        get_protocol("few-shot")


def test_settings_check_names_the_field():
    for settings, field in [
        (ProtocolSettings(target_test_fraction=1.0), "target_test_fraction"),
        (ProtocolSettings(sizes=[0.0]), "sizes"),
        (ProtocolSettings(k=[-1]), "k"),
        (ProtocolSettings(repetitions=0), "repetitions"),
    ]:
        with pytest.raises(ValueError, match=f"^{field}: "):
            settings.check()


@pytest.mark.parametrize(
    "module",
    [
        emoshift.protocols,
        emoshift.protocols.splits,
        emoshift.protocols.base,
        emoshift.protocols.catalog,
        emoshift.experiment.protocols,
    ],
)
def test_docstring_examples(module):
    failures, _ = doctest.testmod(module)
    assert failures == 0
