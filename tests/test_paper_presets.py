"""The published presets hold the papers' settings (docs/papers.md) and run on fixture corpora.

Each defect issue 12 lists has a test here that fails on the preset as it was: the
settings are read from the preset itself, the label and split behaviour from the
preset's corpora and protocol on generated fixture trees (:mod:`paper_corpora`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from paper_corpora import FOLDERS, make_paper_corpora

from emoshift.data.labels import apply_label_space
from emoshift.data.loaders import load_corpus
from emoshift.experiment.config import expand_method_grid, load_config, parse_config
from emoshift.experiment.runner import run_experiment
from emoshift.experiment.store import read_jsonl
from emoshift.methods import method_class

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PUBLISHED = sorted(CONFIGS.glob("published_*.yaml"))


def _preset(name: str):
    return load_config(CONFIGS / f"published_{name}.yaml")


def _grid(config, method: str) -> list[dict]:
    """Every grid point of ``method`` in ``config``, defaults filled in."""
    defaults = method_class(method)().get_params()
    return [defaults | point for point in expand_method_grid(method, config.methods[method])]


def _every_point(config):
    for method in config.methods:
        for point in _grid(config, method):
            yield method, point


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    return make_paper_corpora(tmp_path_factory.mktemp("paper-corpora"))


# --- max-entropy + soft labels (docs/papers.md section 2) --------------------------------


def test_max_entropy_preset_trains_the_cnn_gru_with_the_papers_optimiser_settings():
    config = _preset("max_entropy_msp_improv")
    assert config.features.set == "logmel"
    for method, point in _every_point(config):
        assert point["encoder"] == "cnn_gru", method
        assert (point["weight_decay"], point["batch_size"]) == (0.01, 32), method


def test_max_entropy_preset_runs_are_exclusive_and_keep_dev_rows_out_of_the_target():
    protocol = _preset("max_entropy_msp_improv").protocol
    assert (protocol.name, protocol.repetitions) == ("split_10_40_50", 5)
    assert protocol.exclusive_runs and not protocol.dev_as_unlabelled
    assert not protocol.speaker_independent  # Sec. 4 cuts samples, not speakers


def test_max_entropy_preset_trains_every_network_as_the_paper_table_3():
    """128-32-10-K PReLU classifiers, lr 0.001, 100 epochs without early stopping, a
    class-weighted sampler (Sec. 4); source + target in domain-balanced batches (Sec. 4)."""
    config = _preset("max_entropy_msp_improv")
    for method, point in _every_point(config):
        assert point["head_hidden_sizes"] == (32, 10) and point["activation"] == "prelu"
        assert (point["lr"], point["max_epochs"], point["patience"]) == (1e-3, 100, None)
        assert point["class_balanced"], method
    assert all(p["domain_balanced"] for p in _grid(config, "source_target"))
    assert {p["tau"] for p in _grid(config, "max_entropy")} == {2.0}


def test_max_entropy_preset_holds_the_adversarial_only_ablation():
    soft_weights = {
        p["lambda_soft"] for p in _grid(_preset("max_entropy_msp_improv"), "max_entropy")
    }
    assert soft_weights == {1.0, 0.0}


# --- DANN to MSP-Podcast (section 1) ------------------------------------------------------


def test_dann_preset_has_each_source_separately_and_both():
    sources = {pair.source for pair in _preset("dann_msp_podcast").pairs}
    assert sources == {
        "corpus == 'iemocap'",
        "corpus == 'msp_improv'",
        "corpus in ['iemocap', 'msp_improv']",
    }


def test_dann_preset_trains_per_attribute_on_the_official_partition_and_scale():
    config = _preset("dann_msp_podcast")
    assert config.labels.separate and config.labels.scale == [-3.0, 3.0]
    assert config.protocol.name == "partition"
    assert "Test1" in config.protocol.target_test
    assert config.protocol.target_unlabelled == "partition == 'unlabelled'"
    assert config.protocol.target_train == "partition == 'Train'"  # within-corpus (Sec. IV-D)
    assert "train_on_target" in config.methods


def test_dann_preset_tests_one_tailed_against_matched_structures():
    comparison = _preset("dann_msp_podcast").comparison
    assert comparison["test"] == "ttest" and comparison["alternative"] == "greater"
    assert set(comparison["match"]) == {"hidden_sizes", "head_hidden_sizes"}
    assert comparison["pooled"]  # the figures' z-test over pooled conditions (Sec. V-B)


def test_dann_preset_uses_the_papers_learning_rate_and_batch():
    config = _preset("dann_msp_podcast")
    for method, point in _every_point(config):
        assert (point["lr"], point["batch_size"]) == (5e-4, 256), method


def test_dann_preset_regularises_and_samples_the_target_as_section_iv():
    config = _preset("dann_msp_podcast")
    assert config.features.set == "compare_2013"  # ComParE 2013 (Sec. IV-B)
    for method, point in _every_point(config):
        assert (point["input_dropout"], point["dropout"], point["head_dropout"]) == (0.2, 0.5, 0.5)
        assert point["batch_norm"] and point["head_batch_norm"], method
        assert (point["max_norm"], point["grad_clip"], point["max_epochs"]) == (4.0, 10.0, 100)
    for point in _grid(config, "dann"):
        assert point["domain_hidden_sizes"] == (256,)  # two layers of 256 (Sec. IV-C)
        assert point["target_sample"] == "source_size"  # Sec. IV-E
        assert (point["lambda_schedule"], point["warmup_epochs"]) == ("warmup", 10)


def test_dann_preset_has_a_source_only_network_of_every_dann_structure():
    config = _preset("dann_msp_podcast")

    def structures(method):
        return {(p["hidden_sizes"], p["head_hidden_sizes"]) for p in _grid(config, method)}

    assert structures("dann") == structures("source_only")
    assert len(structures("dann")) == 5  # four deep networks and the shallow one (Table II)


# --- CADA (section 3) -----------------------------------------------------------------------


def test_cada_preset_reads_fau_aibo_with_gemaps_minmax():
    config = _preset("cada_aibo_emodb")
    assert config.corpora["aibo"].loader == "fau_aibo"
    assert (config.features.set, config.features.normalisation) == ("gemaps", "minmax")


def test_cada_preset_networks_have_one_hidden_layer_of_256_relu():
    config = _preset("cada_aibo_emodb")
    for method, point in _every_point(config):
        assert point["hidden_sizes"] == (256,), method
        assert (point["activation"], point["batch_norm"]) == ("relu", False), method


def test_cada_preset_has_fine_tune_and_all_target_baselines_and_k_to_12():
    config = _preset("cada_aibo_emodb")
    assert {"fine_tune", "train_on_target", "fada", "cada"} <= set(config.methods)
    assert config.protocol.k == [2, 4, 6, 8, 10, 12] and config.trials == 20


def test_cada_preset_cross_validates_the_target_as_the_paper_and_predicts_by_the_top_category():
    config = _preset("cada_aibo_emodb")
    protocol = config.protocol
    assert (protocol.name, protocol.n_folds, protocol.dev_fraction) == ("target_cv", 5, 0.1)
    assert protocol.k_counts == "total" and not protocol.speaker_independent
    assert config.methods["cada"]["merge"] == "max"


# --- MRD (section 4) --------------------------------------------------------------------


def test_mrd_preset_networks_are_the_papers():
    config = _preset("mrd_iemocap_msp_improv")
    assert config.features.set == "is10"
    assert {"dann", "coral", "mrd", "source_only"} <= set(config.methods)
    for method, point in _every_point(config):
        assert point["regression_loss"] == "mse", method
        assert point["hidden_sizes"] == (1024,) * 4 and point["activation"] == "selu", method
    assert {p["regressor_width"] for p in _grid(config, "mrd")} == {1024}
    for method, point in _every_point(config):  # batch norm, dropout 0.5 (Sec. 3)
        assert point["batch_norm"] and point["dropout"] == 0.5, method
        assert point["head_hidden_sizes"] == (1024,) * 3 and point["head_batch_norm"], method
        assert point["lr"] in (5e-4, 5e-5) and point["max_epochs"] == 100, method
    for point in _grid(config, "mrd"):
        assert point["lr_decay"] == 1.0 and point["regressor_depths"] == (4, 5)
        assert point["regressor_batch_norm"] and point["regressor_dropout"] == 0.5


def test_mrd_preset_scores_the_whole_target_z_normalised_per_corpus():
    config = _preset("mrd_iemocap_msp_improv")
    assert config.protocol.name == "whole_target"
    assert (config.features.normalisation, config.features.domain) == ("z", "corpus")
    # the upper bound: a speaker-independent cross-validation of the target (Sec. 3)
    assert "train_on_target" in config.methods and config.protocol.label_folds == 5


# --- enriched conditional AAE (section 5) -------------------------------------------------


def test_enriched_aae_presets_cover_arousal_and_valence_on_the_in_context_loaders():
    for attribute in ("arousal", "valence"):
        config = _preset(f"enriched_aae_{attribute}")
        assert config.labels.space == f"binarised_{attribute}"
        loaders = {corpus.loader for corpus in config.corpora.values()}
        assert loaders == {"creativeit", "vam", "nnime", "iemocap"}
        assert all("dimension_range" not in c.options for c in config.corpora.values())


def test_enriched_aae_preset_tunes_the_kept_code_dimensions_on_the_training_folds():
    config = _preset("enriched_aae_arousal")
    points = _grid(config, "enriched_aae")
    assert {p["n_selected"] for p in points} == {"inner_cv"}
    assert {(p["enrich"], p["code_size"]) for p in points} == {
        (e, c) for e in (False, True) for c in (64, 10)
    }
    assert config.methods["anova_svm"]["n_selected"] == "inner_cv"


def test_enriched_aae_preset_has_each_corpus_in_the_papers_role_and_its_reduced_counts():
    config = _preset("enriched_aae_valence")
    roles = {(p.source, p.target) for p in config.pairs}
    assert roles == {
        (f"corpus == '{out}'", f"corpus == '{inside}'")
        for out in ("iemocap", "nnime")
        for inside in ("creativeit", "vam")
    }
    assert config.protocol.sizes == [500, 200, 100, 1.0]
    assert not config.protocol.unsampled_as_unlabelled


def test_enriched_aae_preset_binarises_iemocap_midpoint_high_and_keeps_creativeit_scale(corpora):
    config = _preset("enriched_aae_arousal")
    iemocap = load_corpus(corpora / FOLDERS["iemocap"], "iemocap")
    labelled, _ = apply_label_space(iemocap, config.labels.space, **config.labels.options)
    at_midpoint = labelled[iemocap.loc[labelled.index, "arousal_raw"] == 3.0]
    assert len(at_midpoint) and set(at_midpoint["label"]) == {"high"}
    creativeit = load_corpus(corpora / FOLDERS["creativeit"], "creativeit")
    labelled, _ = apply_label_space(creativeit, config.labels.space, **config.labels.options)
    assert set(labelled["label"]) == {"low", "high"}


# --- every preset on fixture corpora ------------------------------------------------------


def _reduced(path: Path, corpora: Path, out: Path, trials: int = 1) -> dict:
    """The preset with its corpora on the fixtures, ``trials`` trials and 2 epochs per
    training phase (0 warm-up); every pair and grid point is kept, and every condition
    but ``reduced``'s sizes: one count (8, what the fixture folds hold) and each fraction,
    in one trial (the enriched-AAE presets' 4 sizes x 2 repetitions x 4 pairs
    took over 10 minutes of CI time). One trial by default (a second only re-seeds the
    same code); ``split_10_40_50`` keeps 2 repetitions, the fewest its exclusive runs
    take, and ``target_cv`` one trial per fold. The presets share one feature cache next
    to ``corpora``, so each feature set is extracted once per module."""
    raw = yaml.safe_load(path.read_text().replace("$EMOSHIFT_CORPORA", str(corpora)))
    raw["output"] = str(out)
    raw["trials"] = trials
    protocol = raw.setdefault("protocol", {})
    if protocol.get("name") == "target_cv":  # every fold tested once at least
        raw["trials"] = max(trials, protocol.get("n_folds", 5))
    if protocol.get("repetitions"):
        protocol["repetitions"] = max(trials, 2)
    if protocol.get("label_folds"):  # the fixture corpora have few speakers
        protocol["label_folds"] = 2
    if protocol.get("name") == "reduced":  # the fixture folds hold a few rows: one count, 8
        fractions = [s for s in protocol["sizes"] if isinstance(s, float)]
        counts = [8] if len(fractions) < len(protocol["sizes"]) else []
        protocol["sizes"] = counts + fractions
        raw["trials"] = 1
    for method, params in raw["methods"].items():
        params = raw["methods"][method] = dict(params or {})
        for name, default in method_class(method)().get_params().items():
            if "epochs" in name and isinstance(default, int):
                params[name] = 0 if name.startswith("warmup") else 2
    raw.setdefault("features", {})["cache_dir"] = str(corpora.parent / f"{corpora.name}-features")
    return raw


def _run(raw: dict, base_dir: Path):
    summary = run_experiment(parse_config(raw, base_dir=base_dir), progress=False)
    records = read_jsonl(summary.run_dir / "results.jsonl")
    failed = [
        f"{r['variant']}: {r['error'].splitlines()[-1]}" for r in records if r["status"] == "error"
    ]
    assert not failed, failed
    assert summary.n_done == summary.n_planned > 0
    return records


@pytest.mark.slow
@pytest.mark.parametrize("path", PUBLISHED, ids=[p.stem for p in PUBLISHED])
def test_published_preset_runs_its_grid_on_fixture_corpora(path, corpora, tmp_path):
    _run(_reduced(path, corpora, tmp_path / "run"), CONFIGS)


@pytest.mark.slow
def test_cada_preset_draws_all_20_trials_of_every_k_to_12_on_fixture_emodb(corpora, tmp_path):
    raw = _reduced(CONFIGS / "published_cada_aibo_emodb.yaml", corpora, tmp_path / "run", 20)
    raw["methods"] = {"label_target": raw["methods"]["label_target"]}
    raw["baseline"] = None
    records = _run(raw, CONFIGS)
    drawn = {(r["pair"], r["k"]) for r in records}
    assert {k for _, k in drawn} == {2, 4, 6, 8, 10, 12} and len(records) == 2 * 6 * 20


@pytest.mark.bad_input
def test_binarised_midpoint_side_must_be_low_or_high():
    table = pd.DataFrame({"file": ["a", "b"], "arousal": [0.0, 0.5]})
    low, _ = apply_label_space(table, "binarised_arousal")
    high, _ = apply_label_space(table, "binarised_arousal", midpoint="high")
    assert low["label"].tolist() == ["low", "high"] and high["label"].tolist() == ["high", "high"]
    with pytest.raises(ValueError, match=r"midpoint='middle' is not one of \('low', 'high'\)"):
        apply_label_space(table, "binarised_arousal", midpoint="middle")
