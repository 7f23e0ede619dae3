"""The protocol features the published presets need (issue 12), each with the defect it fixes:
unknown speakers, exclusive 10/40/50 runs without development rows as unlabelled target
data, reduced sizes as counts, and a corpus's official partition with its unlabelled pool.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from paper_corpora import FOLDERS, make_paper_corpora

from emoshift.experiment.config import ConfigError, parse_config
from emoshift.experiment.data import ExperimentData, load_experiment_data
from emoshift.experiment.protocols import make_split
from emoshift.experiment.runner import run_experiment
from emoshift.experiment.store import read_jsonl
from emoshift.methods.mrd import MRD
from emoshift.protocols import Condition, Draw, ProtocolSettings, Target, get_protocol
from emoshift.report.trial_tables import Comparison, experiment_table


def _data(n_speakers: int = 10, per_speaker: int = 10, unknown: int = 0) -> ExperimentData:
    """Source rows (domain s) and target rows (domain t), 4 classes, some speakers unknown."""
    rows = n_speakers * per_speaker
    speakers = np.array([f"p{i // per_speaker}" for i in range(rows)], dtype=object)
    speakers[rows - unknown :] = None
    table = pd.DataFrame(
        {
            "domain": np.where(np.arange(rows) < rows // 2, "s", "t"),
            "speaker": speakers,
            "label": np.array(["a", "b", "c", "d"])[np.arange(rows) % 4],
        }
    )
    X = np.random.default_rng(0).normal(size=(rows, 3))
    return ExperimentData(table, X, table["label"].to_numpy(dtype=str))


# --- unknown speakers (DANN to MSP-Podcast: speaker_split raised on 'Unknown') ----------


def test_cross_domain_speaker_split_gives_unknown_speakers_their_own_group():
    data = _data(unknown=12)
    split = make_split(data, "domain == 's'", "domain == 't'", "cross_domain", trial=0, seed=0)
    assert len(split.X_target) + len(split.X_test) == 50  # no target row lost


@pytest.mark.bad_input
def test_unknown_speakers_raise_only_when_asked_and_the_error_says_so():
    data = _data(unknown=12)
    with pytest.raises(ValueError, match="12 missing value"):
        make_split(
            data,
            "domain == 's'",
            "domain == 't'",
            "cross_domain",
            trial=0,
            seed=0,
            unknown_speakers="raise",
        )
    with pytest.raises(ValueError, match="unknown_speakers: 'maybe' is not"):
        ProtocolSettings(unknown_speakers="maybe").check()


# --- exclusive 10/40/50 runs (max-entropy: runs overlapped, dev rows were target data) ---


def _runs(target: Target, **settings) -> list:
    protocol = get_protocol("split_10_40_50")
    config = ProtocolSettings("split_10_40_50", repetitions=5, exclusive_runs=True, **settings)
    return [protocol.split(target, Draw(config, Condition(), r, 0, 5)) for r in range(5)]


@pytest.mark.parametrize("by_speaker", [False, True])
def test_exclusive_10_40_50_runs_share_the_test_set_and_label_disjoint_tenths(by_speaker):
    labels = np.array(["a", "b"] * 100)
    speakers = np.array([f"p{i % 20}" for i in range(200)], dtype=object)
    runs = _runs(Target(speakers, labels), speaker_independent=by_speaker)
    assert all(np.array_equal(run.test, runs[0].test) for run in runs)
    labelled = [run.train[run.labelled] for run in runs]
    everything = np.concatenate(labelled)
    assert len(np.unique(everything)) == len(everything)  # disjoint across runs
    assert set(everything) == set(range(200)) - set(runs[0].test.tolist())
    for run, own in zip(runs, labelled, strict=True):
        assert not set(run.dev) & set(own) and not set(run.dev) & set(run.test)
        if not by_speaker:
            assert (len(own), len(run.dev), len(run.test)) == (20, 80, 100)
        else:  # the folds hold whole speakers
            assert not set(speakers[own]) & set(speakers[run.dev])


def test_10_40_50_without_dev_as_unlabelled_gives_only_the_labelled_tenth_as_target():
    def cut(**options):
        return make_split(_data(), "domain == 's'", "domain == 't'", "split_10_40_50",
                          trial=0, seed=0, **options)  # fmt: skip

    kept, only = cut(), cut(dev_as_unlabelled=False)
    assert len(only.X_target) == len(only.labelled) < len(kept.X_target)
    assert len(only.X_dev) == len(kept.X_dev)


# --- reduced sizes as counts (enriched AAE: the paper's counts) ---------------------------


def test_reduced_sizes_take_counts_and_fractions():
    config = parse_config(
        {
            "name": "counts",
            "corpora": {"c": {"loader": "emodb", "path": "x"}},
            "pairs": [{"source": "corpus == 'a'", "target": "corpus == 'b'"}],
            "protocol": {"name": "reduced", "sizes": [3, 0.5, 1.0]},
            "methods": {"svm": {}},
            "baseline": None,
        }
    )
    assert config.protocol.sizes == [3, 0.5, 1.0] and isinstance(config.protocol.sizes[0], int)
    data = _data()
    split = make_split(
        data, "domain == 's'", "domain == 't'", "reduced", trial=0, seed=0, size=3, fold="p5"
    )
    assert len(split.labelled) == 3


@pytest.mark.bad_input
@pytest.mark.parametrize("size, message", [(0, "positive count"), (1.5, "fraction in")])
def test_reduced_sizes_out_of_range_are_named(size, message):
    with pytest.raises(ValueError, match=message):
        ProtocolSettings("reduced", sizes=[size]).check()


# --- the official partition and the unlabelled pool (DANN to MSP-Podcast) -----------------


@pytest.fixture(scope="module")
def podcast_config(tmp_path_factory):
    root = make_paper_corpora(tmp_path_factory.mktemp("corpora"))
    return {
        "name": "partition",
        "corpora": {
            "iemocap": {"loader": "iemocap", "path": str(root / FOLDERS["iemocap"])},
            "msp_podcast": {"loader": "msp_podcast", "path": str(root / FOLDERS["msp_podcast"])},
        },
        "features": {"set": "egemaps", "cache_dir": str(root / "cache"), "jobs": 1},
        "task": "regression",
        "labels": {"dimensions": ["arousal", "valence", "dominance"]},
        "pairs": [{"source": "corpus == 'iemocap'", "target": "corpus == 'msp_podcast'"}],
        "protocol": {
            "name": "partition",
            "target_test": "partition == 'Test1'",
            "target_unlabelled": "partition == 'unlabelled'",
        },
        "methods": {"source_only": {}, "dann": {}},
    }


def test_partition_tests_on_the_official_test_set_and_adapts_to_the_unlabelled_pool(
    podcast_config, tmp_path
):
    config = parse_config(podcast_config, base_dir=tmp_path)
    data = load_experiment_data(config, progress=False)
    table = data.table
    pool = table.index[(table.corpus == "msp_podcast") & (table.partition == "unlabelled")]
    assert len(pool) == 12 and np.isnan(data.y[pool]).all()  # the pool is kept, unlabelled
    split = make_split(
        data,
        "corpus == 'iemocap'",
        "corpus == 'msp_podcast'",
        "partition",
        trial=0,
        seed=0,
        target_test="partition == 'Test1'",
        target_unlabelled="partition == 'unlabelled'",
    )
    test1 = (table.corpus == "msp_podcast") & (table.partition == "Test1")
    assert len(split.X_test) == test1.sum() and np.isfinite(split.y_test).all()
    assert len(split.X_target) == 12 and np.isfinite(split.y_source).all()


@pytest.mark.bad_input
def test_partition_refuses_a_method_that_reads_every_target_label(podcast_config, tmp_path):
    with pytest.raises(ConfigError, match="train_on_target reads every target training label"):
        parse_config({**podcast_config, "methods": {"train_on_target": {}}}, base_dir=tmp_path)


@pytest.mark.bad_input
def test_partition_queries_that_select_nothing_are_named():
    target = Target(
        np.array(["a", "b"], dtype=object),
        np.array(["x", "y"]),
        {"target_test": np.array([False, False])},
    )
    draw = Draw(ProtocolSettings("partition", target_test="split == 'none'"), Condition(), 0, 0)
    with pytest.raises(ValueError, match="target_test selects 0 labelled target row"):
        get_protocol("partition").split(target, draw)


# --- one model per attribute, on the paper's scale (DANN: one joint 3-output model, [-1, 1])


def test_separate_dimensions_train_one_model_per_attribute_on_the_papers_scale(
    podcast_config, tmp_path
):
    raw = {
        **podcast_config,
        "labels": {**podcast_config["labels"], "separate": True, "scale": [-3, 3]},
        "methods": {"source_only": {"max_epochs": 2}},
        "trials": 1,
        "output": str(tmp_path / "run"),
    }
    summary = run_experiment(parse_config(raw, base_dir=tmp_path), progress=False)
    records = read_jsonl(summary.run_dir / "results.jsonl")
    assert all(r["status"] == "ok" for r in records)
    by_pair = {r["pair"]: r for r in records}
    assert sorted(by_pair) == [
        f"corpus == 'iemocap' -> corpus == 'msp_podcast' [{d}]"
        for d in ("arousal", "dominance", "valence")
    ]
    for dimension in ("arousal", "valence", "dominance"):
        (record,) = [r for pair, r in by_pair.items() if pair.endswith(f"[{dimension}]")]
        assert record["dimension"] == dimension and "rmse" in record["metrics"]
    data = load_experiment_data(parse_config(raw, base_dir=tmp_path), progress=False)
    scored = data.y[np.isfinite(data.y).all(1)]
    assert scored.min() < -1 or scored.max() > 1  # [-3, 3], not [-1, 1]
    assert -3 <= scored.min() and scored.max() <= 3


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "labels, message",
    [
        ({"dimensions": ["arousal"], "scale": [3, -3]}, r"\[low, high\] with low < high"),
        ({"space": "four_class", "separate": True}, "separate: one model per dimension"),
    ],
)
def test_bad_label_scale_or_separate_are_named(labels, message, podcast_config, tmp_path):
    task = "regression" if "dimensions" in labels else "classification"
    with pytest.raises(ConfigError, match=message):
        parse_config(
            {**podcast_config, "task": task, "labels": labels, "methods": {"dann": {}}},
            base_dir=tmp_path,
        )


# --- the paper's test: one-tailed t-test against the baseline of the same structure ------


def _trials():
    """DANN and source-only at two depths; DANN helps the deep network only."""
    rng = np.random.default_rng(0)
    trials = []
    for depth, gain in ((1, 0.0), (2, 0.05)):
        base = 0.4 + 0.1 * depth + rng.normal(0, 0.01, 6)
        for method, values in (("source_only", base), ("dann", base + gain)):
            variant = f"{method}[hidden_sizes={[256] * depth}]"
            for trial, value in enumerate(values):
                trials.append(
                    {
                        "variant": variant,
                        "method": method,
                        "params": {"hidden_sizes": [256] * depth},
                        "pair": "a->b",
                        "trial": trial,
                        "metrics": {"ccc": float(value + 0.002 * rng.normal())},
                    }
                )
    return trials


def test_matched_one_tailed_comparison_tests_each_network_against_its_own_structure():
    matched = Comparison(test="ttest", alternative="greater", match=("hidden_sizes",))
    table = experiment_table(_trials(), "source_only", comparison=matched)
    dann = table[table.variant.str.startswith("dann")].set_index("variant")
    shallow, deep = "dann[hidden_sizes=[256]]", "dann[hidden_sizes=[256, 256]]"
    assert dann.loc[shallow, "baseline"] == "source_only[hidden_sizes=[256]]"
    assert dann.loc[deep, "baseline"] == "source_only[hidden_sizes=[256, 256]]"
    assert abs(dann.loc[shallow, "ccc_diff"]) < 0.01 and dann.loc[deep, "ccc_diff"] > 0.04
    assert bool(dann.loc[deep, "significant"]) and not bool(dann.loc[shallow, "significant"])
    # unmatched, the shallow baseline stands for every network: the defect of issue 12
    unmatched = experiment_table(_trials(), "source_only").set_index("variant")
    assert unmatched.loc[deep, "baseline"] == "source_only[hidden_sizes=[256]]"
    two_sided = experiment_table(
        _trials(), "source_only", comparison=Comparison(test="ttest", match=("hidden_sizes",))
    ).set_index("variant")
    assert dann.loc[deep, "p_value"] == pytest.approx(two_sided.loc[deep, "p_value"] / 2)


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "comparison, message",
    [
        ({"test": "anova"}, "test: 'anova' is not one of"),
        ({"alternative": "bigger"}, "alternative: 'bigger' is not one of"),
        ({"match": ["hidden_size"]}, "'hidden_size' is not a parameter of the baseline"),
        ({"tails": 1}, r"unknown key\(s\) \['tails'\]"),
    ],
)
def test_bad_comparisons_are_named(comparison, message, podcast_config, tmp_path):
    with pytest.raises(ConfigError, match=message):
        parse_config(
            {**podcast_config, "comparison": comparison, "baseline": "source_only"},
            base_dir=tmp_path,
        )


# --- MRD's decayed learning rate (MRD: lr 1e-3 without the paper's decay) ---------------


def test_mrd_decays_its_learning_rate_per_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype("float32")
    y = X[:, :1] - X[:, 1:2]
    X_target = rng.normal(size=(64, 4)).astype("float32") + 0.5
    params = dict(task="regression", hidden_sizes=(8,), regressor_width=8, max_epochs=3)
    constant = MRD(**params, random_state=0).fit(X, y, X_target=X_target)
    decayed = MRD(**params, lr_decay=0.5, random_state=0).fit(X, y, X_target=X_target)
    assert {g["lr"] for o in decayed._optimizers.values() for g in o.param_groups} == {
        decayed.lr * 0.5**2
    }
    assert {g["lr"] for o in constant._optimizers.values() for g in o.param_groups} == {1e-3}
    assert not np.allclose(constant.predict(X_target), decayed.predict(X_target))
