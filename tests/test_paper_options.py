"""The options the full texts of papers 000, 001 and 003 asked for (issue 20), each checked
for its mechanism: head batch norm and dropout, the papers' classifier shapes, an
unlabelled target subset the size of the source drawn per fit, domain-balanced
source + target batches, the whole-target protocol and the ComParE 2013 feature set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from paper_corpora import FOLDERS, make_paper_corpora
from torch import nn

from emoshift.experiment.config import ConfigError, parse_config
from emoshift.experiment.data import ExperimentData, load_experiment_data
from emoshift.experiment.protocols import make_split
from emoshift.experiment.trial import fit_arguments
from emoshift.features.functionals import Functionals
from emoshift.features.normalise import normalise_per_domain
from emoshift.methods.baselines import SourceTarget
from emoshift.methods.dann import DANN
from emoshift.methods.max_entropy import MaxEntropySoftLabel
from emoshift.protocols import Condition, Draw, ProtocolSettings, Target, get_protocol
from emoshift.report.pooled import pooled_table
from emoshift.report.trial_tables import Comparison


def _layers(module: nn.Module) -> list[str]:
    """The leaf layers of ``module`` in order, as short texts."""
    names = []
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            names.append(f"Linear({layer.in_features},{layer.out_features})")
        elif isinstance(layer, nn.BatchNorm1d):
            names.append(f"BatchNorm({layer.num_features})")
        elif isinstance(layer, nn.Dropout):
            names.append(f"Dropout({layer.p})")
        elif isinstance(layer, (nn.PReLU, nn.ReLU, nn.SELU)):
            names.append(type(layer).__name__)
    return names


def _domains(n_source: int = 60, n_target: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_source, 5)).astype("float32")
    y = np.where(X[:, 0] > 0, "high", "low")
    # each target row carries its own position in column 0, so a fit's rows can be traced
    X_target = rng.normal(size=(n_target, 5)).astype("float32")
    X_target[:, 0] = np.arange(n_target)
    return X, y, X_target


# --- head batch norm and dropout (DANN: Sec. IV-E, batch norm and dropout 0.5 everywhere)


def test_head_batch_norm_and_dropout_reach_the_task_head_and_the_domain_classifier():
    X, y, X_target = _domains()
    model = DANN(
        hidden_sizes=(16,),
        head_hidden_sizes=(8,),
        domain_hidden_sizes=(256,),
        head_batch_norm=True,
        head_dropout=0.5,
        max_epochs=2,
        warmup_epochs=1,
        random_state=0,
    ).fit(X, y, X_target=X_target)
    assert _layers(model.modules_["head"]) == [
        "Linear(16,8)",
        "BatchNorm(8)",
        "ReLU",
        "Dropout(0.5)",
        "Linear(8,2)",
    ]
    assert _layers(model.modules_["domain"]) == [
        "Linear(16,256)",
        "BatchNorm(256)",
        "ReLU",
        "Dropout(0.5)",
        "Linear(256,1)",
    ]
    plain = DANN(hidden_sizes=(16,), head_hidden_sizes=(8,), max_epochs=2, warmup_epochs=1)
    plain.fit(X, y, X_target=X_target)
    assert _layers(plain.modules_["head"]) == ["Linear(16,8)", "ReLU", "Linear(8,2)"]


def test_max_entropy_classifiers_take_the_papers_128_32_10_k_prelu_shape():
    """Li et al. 2021, Table 3: EC 128-32-10-4 and DC 128-32-10-2, PReLU after each."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 6)).astype("float32")
    y = np.array(["anger", "happiness", "neutral", "sadness"])[np.arange(80) % 4]
    model = MaxEntropySoftLabel(
        hidden_sizes=(128,),
        head_hidden_sizes=(32, 10),
        activation="prelu",
        pretrain_epochs=1,
        max_epochs=1,
        random_state=0,
    ).fit(X, y, X_target_labelled=X[:8], y_target_labelled=y[:8])
    hidden = ["Linear(128,32)", "PReLU", "Linear(32,10)", "PReLU"]
    assert _layers(model.modules_["head"]) == [*hidden, "Linear(10,4)"]
    assert _layers(model.modules_["domain"]) == [*hidden, "Linear(10,2)"]


# --- an unlabelled target subset the size of the source (DANN: Sec. IV-E) ---------------


class _SeenTarget(DANN):
    """DANN that records the unlabelled target rows its training batches draw from."""

    def _fit(self, data):
        self.seen_rows_ = np.sort(data.X_target[:, 0].cpu().numpy().astype(int))
        super()._fit(data)


def test_target_sample_trains_on_a_source_sized_subset_drawn_per_seed():
    X, y, X_target = _domains(n_source=60, n_target=200)

    def seen(seed: int, sample: str = "source_size") -> np.ndarray:
        model = _SeenTarget(
            hidden_sizes=(8,),
            head_hidden_sizes=(),
            domain_hidden_sizes=(),
            target_sample=sample,
            max_epochs=2,
            warmup_epochs=1,
            random_state=seed,
        )
        model.fit(X, y, X_target=X_target)
        if sample != "all":
            assert np.array_equal(model.target_sample_, model.seen_rows_)
        return model.seen_rows_

    first, again, other = seen(0), seen(0), seen(1)
    assert len(first) == 60 and len(np.unique(first)) == 60  # as many as the source
    assert np.array_equal(first, again)  # the same seed draws the same subset
    assert not np.array_equal(first, other)  # another trial's seed draws another
    assert np.array_equal(seen(0, "all"), np.arange(200))  # the default: the whole pool
    small, _, pool = _domains(n_source=60, n_target=30)
    model = _SeenTarget(
        hidden_sizes=(8,),
        target_sample="source_size",
        max_epochs=2,
        warmup_epochs=1,
        random_state=0,
    )
    model.fit(small, y, X_target=pool)
    assert np.array_equal(model.seen_rows_, np.arange(30))  # a smaller pool is used whole


def test_target_sample_is_checked_by_name():
    X, y, X_target = _domains()
    with pytest.raises(ValueError, match="target_sample"):
        DANN(target_sample="half").fit(X, y, X_target=X_target)


# --- domain-balanced source + target batches (max-entropy paper: Sec. 4) ----------------


class _SeenBatches(SourceTarget):
    def _train_step(self, batch):
        self.batches_.append(
            (
                batch.y.cpu().numpy(),
                None if batch.y_target_labelled is None else batch.y_target_labelled.cpu().numpy(),
            )
        )
        return super()._train_step(batch)

    def _fit(self, data):
        self.batches_ = []
        super()._fit(data)


def _imbalanced():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4)).astype("float32")
    y = np.array(["a"] * 360 + ["b"] * 40)
    X_t = rng.normal(size=(10, 4)).astype("float32") + 1
    y_t = np.array(["a"] * 8 + ["b"] * 2)
    return X, y, X_t, y_t


def test_domain_balanced_batches_hold_as_many_target_as_source_examples_class_balanced():
    X, y, X_t, y_t = _imbalanced()
    model = _SeenBatches(
        domain_balanced=True,
        class_balanced=True,
        hidden_sizes=(8,),
        batch_size=16,
        max_epochs=1,
        patience=None,
        validation_fraction=0,
        random_state=0,
    )
    model.fit(X, y, X_target_labelled=X_t, y_target_labelled=y_t)
    assert len(model.batches_) == 400 // 16
    assert all(len(s) == 16 and len(t) == 16 for s, t in model.batches_)
    source = np.concatenate([s for s, _ in model.batches_])
    target = np.concatenate([t for _, t in model.batches_])
    # class-balanced in each domain: the 10 % (source) and 20 % (target) class near half
    assert 0.4 < (source == 1).mean() < 0.6 and 0.4 < (target == 1).mean() < 0.6
    unbalanced = _SeenBatches(
        domain_balanced=True,
        hidden_sizes=(8,),
        batch_size=16,
        max_epochs=1,
        patience=None,
        validation_fraction=0,
        random_state=0,
    )
    unbalanced.fit(X, y, X_target_labelled=X_t, y_target_labelled=y_t)
    source = np.concatenate([s for s, _ in unbalanced.batches_])
    assert (source == 1).mean() == pytest.approx(0.1)  # a permutation of the source
    assert all(len(t) == 16 for _, t in unbalanced.batches_)


def test_without_domain_balanced_source_target_pools_the_domains():
    X, y, X_t, y_t = _imbalanced()
    model = _SeenBatches(
        hidden_sizes=(8,),
        batch_size=16,
        max_epochs=1,
        patience=None,
        validation_fraction=0,
        random_state=0,
    )
    model.fit(X, y, X_target_labelled=X_t, y_target_labelled=y_t)
    assert model.train_pool == "both"
    # one stream over the 410 pooled rows, not 400 source rows each paired with 16 target
    assert sum(len(s) for s, _ in model.batches_) == 16 * (410 // 16)


# --- the whole target, unlabelled for training and scored (MRD: Sec. 2.1, 3) ------------


def test_whole_target_trains_on_and_scores_every_target_row():
    target = Target(np.array(list("aabbcc"), dtype=object), np.arange(6.0))
    draw = Draw(ProtocolSettings("whole_target"), Condition(), trial=3, seed=7)
    split = get_protocol("whole_target").split(target, draw)
    assert split.train.tolist() == split.test.tolist() == list(range(6))
    assert split.labelled is None and split.dev is None
    table = pd.DataFrame({"domain": ["s"] * 6 + ["t"] * 4, "speaker": list("pqrstuvwxy")})
    y = np.arange(10.0)
    data = ExperimentData(table, np.random.default_rng(0).normal(size=(10, 3)), y)
    cut = make_split(data, "domain == 's'", "domain == 't'", "whole_target", trial=0, seed=0)
    assert len(cut.X_target) == len(cut.X_test) == 4
    assert np.array_equal(cut.y_test, y[6:])


def _whole_target_config(tmp_path, **protocol) -> dict:
    """A regression run of MRD and the upper bound under ``whole_target``."""
    return {
        "name": "whole-target",
        "corpora": {"synthetic": {"loader": "synthetic", "path": str(tmp_path)}},
        "task": "regression",
        "labels": {"dimensions": ["arousal"]},
        "pairs": [{"source": "domain == 'acted'", "target": "domain == 'spontaneous'"}],
        "protocol": {"name": "whole_target", **protocol},
        "methods": {"source_only": {}, "mrd": {}, "train_on_target": {}},
    }


@pytest.mark.bad_input
def test_whole_target_refuses_a_method_that_reads_every_target_label(tmp_path):
    raw = _whole_target_config(tmp_path)
    with pytest.raises(ConfigError, match="trains and scores on the same target rows"):
        parse_config(raw, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="set protocol.label_folds"):
        parse_config(raw, base_dir=tmp_path)
    parse_config({**raw, "methods": {"source_only": {}, "mrd": {}}}, base_dir=tmp_path)


def test_whole_target_label_folds_cut_the_target_speakers_into_folds_per_trial():
    speakers = np.array(list("aabbccddeeffgghh"), dtype=object)
    target = Target(speakers, np.arange(16.0))
    settings = ProtocolSettings("whole_target", label_folds=4)
    cuts = [
        get_protocol("whole_target").split(target, Draw(settings, Condition(), t, seed=7))
        for t in range(3)
    ]
    for cut in cuts:
        assert cut.train.tolist() == cut.test.tolist() == list(range(16))
        assert sorted(set(cut.label_folds.tolist())) == [0, 1, 2, 3]
        for speaker in set(speakers):  # a speaker's rows never span two folds
            assert len(set(cut.label_folds[speakers == speaker].tolist())) == 1
    assert len({tuple(cut.label_folds) for cut in cuts}) > 1  # a new cut per trial
    # checked before any training: more folds than target speakers is named
    too_many = ProtocolSettings("whole_target", label_folds=9)
    with pytest.raises(ValueError, match="label_folds: 9 speaker folds .* the target has 8"):
        get_protocol("whole_target").check_target(target, too_many, seed=0, n_trials=1)


class _Recorder:
    """Predicts the mean of the target labels it trained on, and records their rows."""

    fits: list = []

    def __init__(self, **params):
        self.params = params

    def fit(self, X, y, X_target, X_target_labelled=None, y_target_labelled=None, **kwargs):
        if X_target_labelled is None:  # a method that reads no target label
            type(self).fits.append("source only")
            self.value = 0.0
            return self
        type(self).fits.append(X_target_labelled[:, 0].astype(int).tolist())
        self.value = float(np.mean(y_target_labelled))
        return self

    def predict(self, X):
        self.predicted_rows = X[:, 0].astype(int).tolist()
        return np.full(len(X), self.value)


def test_a_method_reading_every_target_label_is_cross_validated_over_label_folds(monkeypatch):
    import emoshift.experiment.trial as trial

    monkeypatch.setattr(trial, "trial_model", lambda method, params, **_: _Recorder())
    _Recorder.fits = []
    X, _, X_target = _domains(n_source=10, n_target=12)
    folds = np.array([0, 0, 1, 1, 2, 2] * 2)
    y_target = np.arange(12.0)
    split = trial.DomainSplit(
        X_source=X,
        y_source=np.zeros(10),
        X_target=X_target,
        y_target=y_target,
        X_test=X_target,
        y_test=y_target,
        label_folds=folds,
    )
    result = trial.run_trial("train_on_target", {}, split, seed=0, task="regression")
    # each fold's model trains on the other folds' rows only ...
    assert _Recorder.fits == [np.flatnonzero(folds != f).tolist() for f in range(3)]
    # ... and predicts its own fold's rows, each row in its place
    expected = np.array([y_target[folds != f].mean() for f in folds])
    assert np.allclose(result.y_pred, expected)
    assert len(result.y_true) == 12  # the whole target is scored
    # a method that reads no target label fits once, on the source, as before
    _Recorder.fits = []
    trial.run_trial("source_only", {}, split, seed=0, task="regression")
    assert _Recorder.fits == ["source only"]


@pytest.mark.bad_input
def test_whole_target_runs_the_upper_bound_with_label_folds_and_checks_them(tmp_path):
    raw = _whole_target_config(tmp_path, label_folds=5)
    assert parse_config(raw, base_dir=tmp_path).protocol.label_folds == 5
    with pytest.raises((ConfigError, ValueError), match="label_folds: 1 must be at least 2"):
        parse_config(
            {**raw, "protocol": {"name": "whole_target", "label_folds": 1}}, base_dir=tmp_path
        )


# --- ComParE 2013 (DANN: Sec. IV-B) -----------------------------------------------------


def test_compare_2013_is_its_own_6373_feature_set():
    t = np.arange(32000) / 16000
    noise = 0.01 * np.random.default_rng(0).normal(size=t.size)
    signal = (0.3 * np.sin(2 * np.pi * 150 * t) * np.hanning(t.size) + noise).astype("float32")
    old, new = Functionals("compare_2013"), Functionals("compare")
    assert old.name == "IS13_ComParE" and len(old.feature_names) == 6373
    assert old.feature_names == new.feature_names  # the same names ...
    assert not np.allclose(old(signal, 16000), new(signal, 16000))  # ... other values
    assert np.isfinite(old(signal, 16000)).all()


# --- plain per-corpus z-normalisation (MRD: Sec. 2.2) -----------------------------------


def test_plain_z_normalisation_keeps_outliers_that_robust_z_zeroes():
    column = np.r_[np.random.default_rng(0).normal(size=99), 1000.0]
    X = np.stack([column, 2 * column], axis=1)
    domains = ["a"] * 100
    plain = normalise_per_domain(X, domains, method="z")
    expected = (X - X.mean(0)) / X.std(0)
    assert np.allclose(plain, expected) and plain[-1, 0] > 9  # the outlier kept, scaled
    robust = normalise_per_domain(X, domains, method="robust_z")
    assert robust[-1, 0] == 0.0  # robust_z zeroes it (beyond 10 trimmed sd)


# --- the pooled one-tailed z-test of the figures (DANN: Sec. V-B, Figs. 3-6) ------------


def _structured_trials() -> list[dict]:
    """source_only and dann, two structures each, two pairs, four trials; the deep
    source-only network is far better than the shallow one, so a mismatch would show."""
    rng = np.random.default_rng(0)
    trials = []
    for pair in ("a->t", "b->t"):
        for layers, base in (((256,), 0.2), ((256, 256), 0.5)):
            for trial in range(4):
                for method, gain in (("source_only", 0.0), ("dann", 0.05)):
                    trials.append(
                        {
                            "variant": f"{method}[hidden_sizes={list(layers)}]",
                            "method": method,
                            "params": {"hidden_sizes": layers},
                            "pair": pair,
                            "trial": trial,
                            "metrics": {"ccc": base + gain + 0.01 * rng.normal()},
                        }
                    )
    return trials


def test_pooled_z_test_matches_each_trial_with_its_own_structure_and_pools_everything():
    trials = _structured_trials()
    comparison = Comparison.from_config(
        {"test": "ttest", "alternative": "greater", "match": ["hidden_sizes"], "pooled": True}
    )
    row = pooled_table(trials, "source_only", "ccc", comparison).iloc[0]
    score = {
        (t["method"], t["params"]["hidden_sizes"], t["pair"], t["trial"]): t["metrics"]["ccc"]
        for t in trials
    }
    differences = np.array(
        [v - score[("source_only", *key[1:])] for key, v in score.items() if key[0] == "dann"]
    )
    z = differences.mean() / (differences.std(ddof=1) / np.sqrt(len(differences)))
    assert row["method"] == "dann" and row["n_matched"] == 16  # 2 pairs x 2 structures x 4
    assert row["ccc_diff"] == pytest.approx(differences.mean())  # about +0.05, matched
    assert row["statistic"] == pytest.approx(z) and row["p_value"] < 1e-6
    assert row["test"] == "ztest" and bool(row["significant"])
    baseline_mean = np.mean([v for k, v in score.items() if k[0] == "source_only"])
    assert row["relative_change"] == pytest.approx(differences.mean() / baseline_mean)


@pytest.mark.bad_input
def test_pooled_must_be_true_or_false():
    with pytest.raises(ValueError, match="pooled: 'yes' is not true or false"):
        Comparison.from_config({"pooled": "yes"})


# --- the within-corpus baseline on the official train set (DANN: Sec. IV-A3, IV-D) ----


@pytest.fixture(scope="module")
def podcast(tmp_path_factory):
    root = make_paper_corpora(tmp_path_factory.mktemp("corpora"))
    raw = {
        "name": "within-corpus",
        "corpora": {
            "iemocap": {"loader": "iemocap", "path": str(root / FOLDERS["iemocap"])},
            "msp_podcast": {"loader": "msp_podcast", "path": str(root / FOLDERS["msp_podcast"])},
        },
        "features": {"set": "egemaps", "cache_dir": str(root / "cache"), "jobs": 1},
        "task": "regression",
        "labels": {"dimensions": ["arousal"]},
        "pairs": [{"source": "corpus == 'iemocap'", "target": "corpus == 'msp_podcast'"}],
        "protocol": {
            "name": "partition",
            "target_test": "partition == 'Test1'",
            "target_unlabelled": "partition == 'unlabelled'",
            "target_train": "partition == 'Train'",
        },
        "methods": {"source_only": {}, "dann": {}, "train_on_target": {}},
    }
    config = parse_config(raw, base_dir=root)
    return raw, load_experiment_data(config, progress=False)


def test_partition_target_train_feeds_only_the_upper_bound_the_official_train_set(podcast):
    raw, data = podcast
    table = data.table
    split = make_split(
        data, "corpus == 'iemocap'", "corpus == 'msp_podcast'", "partition", trial=0, seed=0,
        **{k: v for k, v in raw["protocol"].items() if k != "name"},
    )  # fmt: skip
    train = (table.corpus == "msp_podcast") & (table.partition == "Train")
    assert len(split.X_labelled_train) == train.sum() > 0
    assert np.allclose(split.y_labelled_train, data.y[train.to_numpy()])
    upper = fit_arguments("train_on_target", split)
    assert upper["X_target_labelled"] is split.X_labelled_train  # the Train partition
    dann = fit_arguments("dann", split)
    assert "X_target_labelled" not in dann and len(dann["X_target"]) == 12  # the pool only


@pytest.mark.bad_input
def test_partition_without_target_train_still_refuses_the_upper_bound(podcast, tmp_path):
    raw, _ = podcast
    protocol = {k: v for k, v in raw["protocol"].items() if k != "target_train"}
    with pytest.raises(ConfigError, match="name labelled training rows with target_train"):
        parse_config({**raw, "protocol": protocol}, base_dir=tmp_path)


def test_one_model_per_dimension_cuts_the_upper_bounds_train_labels_too():
    """The bug: with labels.separate, train_on_target under partition + target_train got
    all three columns of the Train labels and predicted three outputs for one."""
    from emoshift.experiment.execute import _one_output
    from emoshift.experiment.trial import DomainSplit

    y = np.arange(12.0).reshape(4, 3)
    split = DomainSplit(
        *(np.zeros((4, 2)), y) * 3, X_labelled_train=np.zeros((4, 2)), y_labelled_train=y
    )
    cut = _one_output(split, 1)
    assert cut.y_labelled_train.tolist() == [[1.0], [4.0], [7.0], [10.0]]
