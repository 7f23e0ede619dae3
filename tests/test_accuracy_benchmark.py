"""The accuracy benchmark (issue 13): its configs parse and plan, its driver cuts the rows
that ``emoshift run`` cuts, and its tables pick, compare and count as computed by hand."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from problems import shifted_binary_split

import emoshift.experiment.execute as execute
from emoshift.experiment.config import load_config, parse_config
from emoshift.experiment.data import ExperimentData
from emoshift.experiment.plan import plan_trials

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "benchmarks" / "accuracy").glob("*.yaml"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


real = _script("accuracy_real")
tables = _script("accuracy_tables")
checks = _script("accuracy_checks")


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_accuracy_configs_parse_and_plan(path):
    config = load_config(path)
    assert config.name == f"accuracy-{path.stem.replace('_', '-')}"
    assert config.baseline in config.methods
    assert config.features.set == "egemaps" and config.features.normalisation == "robust_z"
    assert config.features.cache_dir is None  # the shared default cache, for every config
    assert config.trials >= 3
    specs = plan_trials(config)
    assert len({spec.key for spec in specs}) == len(specs) > 0
    assert {spec.method for spec in specs} == set(config.methods)
    for corpus in config.corpora.values():  # the real corpora in ../shared/data, never copied
        # beside the checkout, as ../shared/data/README.md places them
        written = os.path.normpath(path.parent / corpus.path)
        assert written == os.path.normpath(ROOT.parent / "shared" / "data" / corpus.loader)


def test_the_unsupervised_configs_cover_every_pair_and_the_methods_of_issue_13():
    four = load_config(ROOT / "benchmarks" / "accuracy" / "four_class.yaml")
    arousal = load_config(ROOT / "benchmarks" / "accuracy" / "arousal.yaml")
    methods = {"source_only", "dann", "coral", "mrd", "train_on_target"}
    assert set(four.methods) == set(arousal.methods) == methods
    assert all(params == {} for params in arousal.methods.values())  # every default
    assert {p.label() for p in four.pairs} == {"emodb->urdu", "urdu->emodb"}
    corpora = ("emodb", "urdu", "baved")
    single = {f"{a}->{b}" for a in corpora for b in corpora if a != b}
    labels = {p.label() for p in arousal.pairs}
    assert single <= labels and len(labels - single) == 3  # each target from the other two
    assert four.trials >= 5 and arousal.trials >= 5


def test_the_multi_source_config_reruns_the_pooled_pairs_of_arousal_on_the_same_splits():
    arousal = load_config(ROOT / "benchmarks" / "accuracy" / "arousal.yaml")
    multi = load_config(ROOT / "benchmarks" / "accuracy" / "arousal_multi_source.yaml")
    pooled = [p for p in arousal.pairs if "+" in p.label()]
    assert [(p.label(), p.source, p.target) for p in multi.pairs] == [
        (p.label(), p.source, p.target) for p in pooled
    ]
    for field in ("protocol", "features", "labels", "corpora", "seed", "trials"):
        assert getattr(multi, field) == getattr(arousal, field), field
    assert multi.methods == {
        "source_only": {}, "dann": {"multi_source": True}, "coral": {"multi_source": True}
    }  # fmt: skip


def test_the_few_shot_configs_select_the_source_weight_of_every_few_shot_method():
    names = ("few_shot_four_class", "few_shot_arousal", "few_shot_arousal_urdu")
    for name in names:
        config = load_config(ROOT / "benchmarks" / "accuracy" / f"{name}.yaml")
        assert set(config.selection) == set(config.methods)
        for method, spec in config.selection.items():
            assert spec.scorer == ["few_shot_cv"] and spec.cv == 3 and not spec.oracle
            weights = [] if method == "label_target" else [1.0, 0.5, 0.0]
            assert (spec.grid or {}).get("source_weight", []) == weights


def _tiny_config(tmp_path):
    return parse_config(
        {
            "name": "tiny",
            "corpora": {"a": {"loader": "synthetic", "path": "x"}},
            "pairs": [{"name": "s->t", "source": "domain == 's'", "target": "domain == 't'"}],
            "features": {"domain": "domain"},
            "protocol": {"name": "cross_domain", "speaker_independent": False},
            "methods": {"source_only": {"hidden_sizes": [4], "max_epochs": 1}},
            "trials": 3,
            "seed": 7,
        },
        base_dir=str(tmp_path),
    )


def _tiny_data():
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "domain": ["s"] * 40 + ["t"] * 40,
            "speaker": [f"p{i % 8}" for i in range(80)],
            "label": ["x", "y"] * 40,
            "file": [f"f{i}.wav" for i in range(80)],
        }
    )
    X = rng.normal(size=(80, 3)).astype(np.float32)
    return ExperimentData(table, X, table.label.to_numpy())


def test_the_driver_cuts_the_rows_and_seeds_that_emoshift_run_trains_on(tmp_path, monkeypatch):
    config, data = _tiny_config(tmp_path), _tiny_data()
    seen = {}

    def capture(method, params, split, *, seed, **kwargs):
        seen[(split.X_test.tobytes(), seed)] = split
        raise RuntimeError("captured")  # the trial is recorded as failed; nothing trains

    monkeypatch.setattr(execute, "run_trial", capture)
    for spec in plan_trials(config):
        execute.execute_trial(spec, data)
    driver = list(real.trial_splits(config, data))
    assert [(pair, trial) for pair, trial, _ in driver] == [("s->t", t) for t in range(3)]
    for _, trial, split in driver:
        theirs = seen[(split.X_test.tobytes(), config.seed + trial)]
        np.testing.assert_array_equal(split.X_target, theirs.X_target)
        np.testing.assert_array_equal(split.y_source, theirs.y_source)
        np.testing.assert_array_equal(split.source_domains, theirs.source_domains)
    assert len(seen) == 3  # three different test halves
    assert [t for _, t, _ in real.trial_splits(config, data, trials=2)] == [0, 1]
    assert list(real.trial_splits(config, data, pairs=["other"])) == []


def test_the_driver_cuts_each_condition_as_emoshift_run_does(tmp_path):
    """A few-shot config: the driver labels the k target rows of run's own trial (its cut
    once left k out, and few_shot refused it)."""
    config = _tiny_config(tmp_path)
    config.protocol.name, config.protocol.k = "few_shot", [2]
    ours = list(real.trial_splits(config, _tiny_data()))
    assert [(pair, trial) for pair, trial, _ in ours] == [("s->t", t) for t in range(3)]
    for spec, (_, _, split) in zip(plan_trials(config), ours):
        theirs, _ = execute.trial_split(spec, _tiny_data())
        np.testing.assert_array_equal(split.labelled, theirs.labelled)
        assert len(split.labelled) == 2 * 2  # k per class, two classes
    assert len({tuple(split.labelled) for _, _, split in ours}) == 3  # one draw per trial


def _grid():
    """Two methods x two grid values, two trials, one pair; uar and two scorers."""
    rows = []
    for trial, (a, b, c, d) in enumerate([(0.6, 0.5, 0.7, 0.4), (0.3, 0.8, 0.5, 0.5)]):
        for method, value, uar, s1, s2 in (
            ("m1", 0.1, a, 1.0, np.nan),
            ("m1", 1.0, b, 2.0, np.nan),
            ("m2", 0.1, c, 0.5, 3.0),
            ("m2", 1.0, d, 3.0, 1.0),
        ):
            rows.append(
                {"suite": "s", "config": "c", "pair": "p", "trial": trial, "method": method,
                 "value": value, "uar": uar, "score.one": s1, "score.two": s2}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_picks_take_the_highest_score_never_nan_and_the_oracle_the_best_test_uar():
    chosen = tables.picks(_grid()).set_index(["trial", "method", "scorer"])
    assert chosen.loc[(0, "m1", "one"), "value"] == 1.0  # score 2.0 > 1.0
    assert chosen.loc[(0, "m1", "one"), "uar"] == 0.5
    assert (0, "m1", "two") not in chosen.index  # every score NaN: no pick
    assert chosen.loc[(0, "m1", tables.ORACLE), "uar"] == 0.6
    assert chosen.loc[(0, "m2", "two"), "uar"] == 0.7  # score 3.0 at value 0.1
    assert chosen.loc[(0, "any", "one"), "uar"] == 0.4  # m2 at 1.0 holds the top score 3.0
    assert chosen.loc[(0, "any", "two"), "uar"] == 0.7  # NaNs of m1 never win
    assert chosen.loc[(1, "any", tables.ORACLE), "uar"] == 0.8


def test_the_selection_summary_counts_gains_collapses_and_the_distance_to_the_oracle():
    runs = pd.DataFrame(
        {"config": "c", "pair": "p", "k": None, "method": "source_only", "trial": [0, 1],
         "uar": [0.45, 0.45]}
    )  # fmt: skip
    summary = tables.selection_summary(tables.picks(_grid()), runs, "source_only")
    row = summary.set_index(["method", "scorer"]).loc[("m1", "one")]
    # picks: trial 0 -> 0.5, trial 1 -> 0.8; oracle 0.6 and 0.8
    assert row["uar"] == pytest.approx(0.65)
    assert row["gain"] == pytest.approx(0.20)
    assert row["collapses"] == 0 and row["pairs"] == 1 and row["trials"] == 2
    assert row["to_oracle"] == pytest.approx(0.05)
    collapse = summary.set_index(["method", "scorer"]).loc[("any", "one")]
    # m2 at 1.0 wins both trials on score one: 0.4 and 0.5, mean 0.45: no gain
    assert collapse["gain"] == pytest.approx(0.0)
    assert collapse["collapses"] == 0
    two = summary.set_index(["method", "scorer"]).loc[("m2", "two")]
    assert two["uar"] == pytest.approx(0.6) and two["to_oracle"] == pytest.approx(0.0)


def test_multi_source_is_compared_with_the_best_single_source_per_target():
    runs = pd.DataFrame(
        {"pair": ["a->t", "a->t", "b->t", "a+b->t"], "method": "dann",
         "uar": [0.5, 0.7, 0.65, 0.62], "trial": [0, 1, 0, 0]}
    )  # fmt: skip
    text = tables.multi_source_table(runs, ["dann"])
    assert "| t | dann | 62.0 | b | 65.0 | -3.0 |" in text


def test_the_defaults_table_pairs_trials_with_the_baseline():
    runs = pd.DataFrame(
        {"config": "c", "pair": "p", "method": ["source_only"] * 3 + ["dann"] * 3,
         "trial": [0, 1, 2] * 2, "uar": [0.4, 0.5, 0.6, 0.5, 0.6, 0.8]}
    )  # fmt: skip
    text = tables.defaults_table(runs, "source_only")
    assert "| c | p | dann | 63.3 | 15.3 | +13.3 | ttest p=" in text


def test_grid_records_round_trip_through_the_table_reader(tmp_path):
    path = tmp_path / "grid.jsonl"
    record = {"suite": "skada", "config": "c", "pair": "p", "trial": 0, "method": "DANN",
              "value": 0.1, "uar": 0.5, "scores": {"iwv": 0.2}, "errors": {}}  # fmt: skip
    path.write_text(json.dumps(record) + "\n")
    frame = tables.grid_frame([path])
    assert frame.loc[0, "score.iwv"] == 0.2 and "errors" not in frame
    assert real.done_keys(path) == {("skada", "p", 0)}


def test_skadas_domain_classifier_is_replaced_by_one_whose_output_depends_on_its_input():
    pytest.importorskip("skorch", reason="skada.deep needs skorch (the bench extra)")
    import torch

    torch.manual_seed(0)
    classifier = real.binary_domain_classifier(8).train()
    out = classifier(torch.randn(16, 8))
    assert out.shape == (16,)
    assert float(out.min()) > 0 and float(out.max()) < 1 and float(out.std()) > 0


def test_the_emoshift_suite_scores_every_grid_point_as_a_selector_with_that_scorer_would():
    from emoshift.methods import get_method
    from emoshift.selection import SCORERS, UnsupervisedGridSelector

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "high", "low")
    X_target = (rng.normal(size=(60, 4)) + [0.5, 0, 0, 0]).astype(np.float32)
    split = execute.DomainSplit(
        X_source=X, y_source=y, X_target=X_target, y_target=np.where(X_target[:, 0] > 0.5,
        "high", "low"), X_test=X_target, y_test=np.where(X_target[:, 0] > 0.5, "high", "low"),
    )  # fmt: skip
    tiny = {"hidden_sizes": (8,), "max_epochs": 11}  # DANN warms up for 10
    records = real.emoshift_trial(split, seed=3, overrides=tiny)
    grids = real.EMOSHIFT_GRIDS
    assert [(r["method"], r["value"]) for r in records] == [
        (m, v) for m, (_, values) in grids.items() for v in values
    ]
    assert all(set(r["scores"]) == set(SCORERS) and 0 <= r["uar"] <= 1 for r in records)
    train, held = real.dev_split(y, 3)
    dann = [r for r in records if r["method"] == "dann"]
    for scorer in ("dev", "entropy"):
        selector = UnsupervisedGridSelector(
            get_method("dann", **tiny), {"lambda_max": list(real.GRID)}, scorer=scorer,
            random_state=3,
        ).fit(X[train], y[train], X_target=X_target, eval_set=(X[held], y[held]))  # fmt: skip
        assert [s["score"] for s in selector.scores_] == pytest.approx(
            [r["scores"][scorer] for r in dann]
        )


def test_the_markdown_holds_the_defaults_the_grids_and_the_target_check(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lines = []
    for trial, (base, dann) in enumerate([(0.40, 0.50), (0.50, 0.56)]):
        for method, value in (("source_only", base), ("dann", dann)):
            lines.append(
                {"key": f"{method}{trial}", "status": "ok", "experiment": "c", "variant": method,
                 "method": method, "pair": "a->b", "trial": trial, "k": None,
                 "metrics": {"uar": value}}
            )  # fmt: skip
    (run / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    grid = tmp_path / "grid.jsonl"
    grid_records = [
        {"suite": "emoshift", "config": "c", "pair": "a->b", "trial": t, "method": "dann",
         "value": v, "uar": u, "scores": {"dev": d}}
        for t, v, u, d in [(0, 0.1, 0.5, 1.0), (0, 1.0, 0.6, 0.0), (1, 0.1, 0.5, 0.0),
                           (1, 1.0, 0.7, 2.0)]
    ] + [
        {"suite": "skada", "config": "c", "pair": "a->b", "trial": t, "method": "DANN",
         "value": 0.1, "uar": 0.5, "scores": {"snd": 1.0}} for t in (0, 1)
    ]  # fmt: skip
    grid.write_text("".join(json.dumps(x) + "\n" for x in grid_records))
    text = tables.markdown(
        [run], [grid], recommended=("emoshift", "dann", "dev"), few_shot="fine_tune"
    )
    assert "| c | a->b | dann | 53.0 |" in text
    # dev picks 0.5 (trial 0) and 0.7 (trial 1) against source-only 0.40 and 0.50
    assert "configuration fixed in advance: +15.0 UAR points over source-only" in text
    assert "against SKADA's best row (DANN + snd): +10.0 UAR points" in text


def _runs(rows):
    """A run frame from ``(config, pair, trial, method, uar)`` rows."""
    return pd.DataFrame(rows, columns=["config", "pair", "trial", "method", "uar"])


def test_the_recommended_check_pools_trials_for_the_test_and_averages_pairs_for_the_gain():
    rows = []
    # pair p: gains +0.10, +0.20 (mean +0.15); pair q: -0.05 on its one trial
    for trial, (base, mine) in enumerate([(0.5, 0.6), (0.4, 0.6)]):
        rows += [("c", "p", trial, "base", base), ("c", "p", trial, "m", mine)]
    rows += [("c", "q", 0, "base", 0.7), ("c", "q", 0, "m", 0.65), ("c", "q", 1, "m", 0.9)]
    check = checks.recommended_check(_runs(rows), "m", "base")
    assert check["gain"] == pytest.approx((0.15 - 0.05) / 2)  # pairs weigh the same
    assert check["worst_pair"] == pytest.approx(-0.05) and check["worst"] == "c/q"
    assert check["below"] == 1 and check["pairs"] == 2 and check["trials"] == 3  # q/1 unmatched
    assert check["test"].startswith("wilcoxon p=")  # forced, even with 3 trials
    held = checks.recommended_check(_runs(rows), "m", "base", keep={("c", "p", 1)})
    assert held["gain"] == pytest.approx(0.2) and held["trials"] == 1 and held["test"] == "n<2"
    assert checks.recommended_check(_runs(rows), "m", "base", keep=set()) == {}


def test_the_recommended_table_marks_the_trials_seen_when_the_method_was_chosen():
    rows = [("c", "p", t, m, u) for t in range(3) for m, u in (("base", 0.5), ("m", 0.6 + t / 10))]
    text = checks.recommended_markdown(_runs(rows), "m", "base", {("c", "p", 0)})
    assert "| c | p | 70.0 | 50.0 | +20.0 |" in text and "| 3 | 1 of 3 |" in text
    assert "held out (trials not seen when it was chosen): +25.0 UAR points" in text


def test_the_skada_check_compares_the_best_skada_row_on_the_trials_both_have():
    runs = _runs([("c", "p", t, "m", u) for t, u in enumerate([0.6, 0.7, 0.8])])
    chosen = pd.DataFrame(
        {"suite": "skada", "config": "c", "pair": "p", "trial": [0, 1, 0, 1, 0, 1],
         "method": ["A", "A", "B", "B", "A", "A"],
         "scorer": ["dev", "dev", "snd", "snd"] + [tables.ORACLE] * 2,
         "uar": [0.5, 0.6, 0.66, 0.62, 0.9, 0.9]}
    )  # fmt: skip
    best = checks.skada_check(runs, chosen, "m")
    assert best["row"] == "B + snd"  # 0.64 > 0.55; the oracle rows are not candidates
    assert best["trials"] == 2 and best["pairs"] == 1  # trial 2 has no SKADA row
    assert best["mine"] == pytest.approx(0.65) and best["difference"] == pytest.approx(0.01)


def test_the_multi_source_check_puts_k_way_one_domain_and_the_best_single_source_side_by_side():
    runs = _runs(
        [("a", "x->t", 0, "dann", 0.5), ("a", "x->t", 1, "dann", 0.7),
         ("a", "y->t", 0, "dann", 0.6), ("a", "y->t", 1, "dann", 0.4),
         ("a", "x+y->t", 0, "dann", 0.55)]
    )  # fmt: skip
    k_way = _runs([("k", "x+y->t", 0, "dann", 0.65)])
    check = checks.multi_source_check(runs, k_way, ["dann", "coral"])
    row = check.iloc[0]  # trial 0 only: x 0.5, y 0.6
    assert len(check) == 1 and row.best_single == "y" and row.single == pytest.approx(0.6)
    assert row.one_domain == pytest.approx(0.55) and row.k_way == pytest.approx(0.65)
    text = checks.multi_source_markdown(check)
    assert "| t | dann | 65.0 | 55.0 | y | 60.0 | +5.0 | +10.0 | 1 |" in text


def test_selection_counts_count_each_picked_source_weight():
    few = pd.DataFrame(
        {"pair": "p", "k": 10, "method": "f[select=few_shot_cv]", "trial": [0, 1, 2, 3],
         "picked": [{"source_weight": 0.0}, {"source_weight": 1.0}, {"source_weight": 0.0}, None]}
    )  # fmt: skip
    counts = checks.selection_counts(few)
    assert counts.loc[("p", 10, "f[select=few_shot_cv]"), 0.0] == 2
    assert counts.loc[("p", 10, "f[select=few_shot_cv]"), 1.0] == 1


def test_the_cv_choice_takes_the_best_cross_validation_score_ties_to_the_first_candidate():
    few = pd.DataFrame(
        {"pair": "p", "k": 10, "trial": [0, 0, 1, 1, 1],
         "method": ["a[select]", "b[select]", "a[select]", "b[select]", "c"],
         "uar": [0.6, 0.7, 0.5, 0.8, 0.9], "cv_score": [0.55, 0.65, 0.6, 0.6, np.nan],
         "picked": None}
    )  # fmt: skip
    chosen = checks.cv_choice(few, ("a[select]", "b[select]", "c"), "by cv")
    assert chosen.chosen.tolist() == ["b[select]", "a[select]"]  # trial 1: a tie, a first
    assert chosen.uar.tolist() == [0.7, 0.5] and set(chosen.method) == {"by cv"}
    assert checks.cv_choice(few, ("c",), "by cv").empty  # no cross-validation score


def test_a_selection_record_gives_the_run_frame_its_pick_and_score(tmp_path):
    scores = [
        {"params": {"source_weight": 1.0}, "score": 0.4},
        {"params": {"source_weight": 0.0}, "score": 0.6},
        {"params": {"source_weight": 0.5}, "score": None},  # NaN is stored as null
    ]
    record = {"key": "k1", "status": "ok", "experiment": "c", "variant": "f[select=few_shot_cv]",
              "method": "f", "pair": "p", "trial": 0, "k": 10, "metrics": {"uar": 0.5},
              "selection": {"scorer": "few_shot_cv", "picked": {"source_weight": 0.0},
                            "scores": scores}}  # fmt: skip
    (tmp_path / "results.jsonl").write_text(json.dumps(record) + "\n")
    row = tables.run_frame(tmp_path).iloc[0]
    assert row.picked == {"source_weight": 0.0} and row.cv_score == 0.6


def test_the_few_shot_rules_table_reads_each_rules_pick_from_the_same_trial(tmp_path):
    """One trial: one_se kept label_target (0.6), the highest score was weight 1 (test
    0.7 in the oracle column), the method at its defaults scored 0.5."""
    rules = _script("few_shot_rules")

    def line(variant: str, uar: float, selection: dict | None = None) -> dict:
        return {
            "key": variant,
            "pair": "a->b",
            "trial": 0,
            "variant": variant,
            "metrics": {"uar": uar},
            "selection": selection,
        }

    def selection(kept: bool) -> dict:
        return {
            "scores": [
                {"params": {"source_weight": 1.0}, "score": 0.9},
                {"params": {"source_weight": 0.0}, "score": 0.8},
            ],
            "oracle": [
                {"params": {"source_weight": 1.0}, "uar": 0.7},
                {"params": {"source_weight": 0.0}, "uar": 0.6},
            ],
            "rule": {"kept": kept},
        }

    records = [line("label_target", 0.6)]
    for method in ("fine_tune", "max_entropy"):
        records += [line(method, 0.5), line(f"{method}[select=few_shot_cv]", 0.6, selection(False))]
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    row = rules.table([str(path)]).splitlines()[2]
    assert row == (
        "| a->b (1) | 60.0 | +10.0 (+10.0..+10.0) | +0.0 (+0.0..+0.0) | +10.0 (+10.0..+10.0) "
        "| +0.0 (+0.0..+0.0) | -10.0 (-10.0..-10.0) | -10.0 (-10.0..-10.0) | 0/1, 0/1 |"
    )


def test_few_shot_candidates_score_each_alone_and_with_label_target_and_some_skip_the_source(
    tmp_path,
):
    candidates = _script("few_shot_candidates")
    tiny = {"hidden_sizes": (8,), "max_epochs": 12}  # DANN warms up for 10 epochs
    split = shifted_binary_split(labelled_per_class=4)
    scores = candidates.candidate_trial(split, 0, overrides=tiny)
    names = list(candidates.CANDIDATES)
    assert list(scores) == [
        "label_target",
        *(n for name in names for n in (name, f"{name}, mean with label_target")),
    ]
    assert all(0 <= s <= 1 for s in scores.values())
    # the target-only candidates read no source row: another source, the same scores
    shuffled = np.random.default_rng(1).permutation(split.y_source)
    other = dataclasses.replace(split, X_source=split.X_source + 3, y_source=shuffled)
    again = candidates.candidate_trial(other, 0, overrides=tiny)
    for name in ("label_target", "MRD, labelled target + pool", "self-training on the pool"):
        assert again[name] == scores[name]
    assert again["source-only"] != scores["source-only"]
    assert again["MRD on the source"] != scores["MRD on the source"]
    # a candidate's columns follow label_target's classes, whatever its own order
    proba = np.array([[0.9, 0.1], [0.2, 0.8]])
    turned = candidates._in_order(np.array(["b", "a"]), proba, np.array(["a", "b"]), "c")
    assert turned.tolist() == [[0.1, 0.9], [0.8, 0.2]]
    with pytest.raises(ValueError, match="c predicts classes"):
        candidates._in_order(np.array(["a", "x"]), proba, np.array(["a", "b"]), "c")
    lines = tmp_path / "c.jsonl"
    record = {"config": "c", "pair": "a->b", "trial": 0, "uar": scores}
    lines.write_text(json.dumps(record) + "\n" + json.dumps({**record, "trial": 1}) + "\n")
    table = candidates.table([lines])
    assert "| c a->b (2) | mean |" in table
    assert "| **all** |" not in table  # no task leaves its target's corpus out
    gain = 100 * (scores["source-only"] - scores["label_target"])
    assert f"| source-only | {gain:+.1f} | {gain:+.1f} |" in table


def test_few_shot_candidates_choose_for_a_corpus_on_the_tasks_without_it():
    candidates = _script("few_shot_candidates")
    gains = {
        "k10 a->b": {"label_target": 0.0, "x": 5.0, "y": 1.0},
        "k10 b->c": {"label_target": 0.0, "x": -4.0, "y": 2.0},
        "k10 d->c": {"label_target": 0.0, "x": -6.0, "y": 0.5},
    }
    # target c: chosen on a->b alone (b->c and d->c involve c); target b: on d->c alone
    assert candidates.chosen_leave_one_out(gains) == {"b": ("y", 1), "c": ("x", 1)}
    # a tie goes to label_target
    tied = {t: {**g, "x": 0.0, "y": 0.0} for t, g in gains.items()}
    assert candidates.chosen_leave_one_out(tied)["c"] == ("label_target", 1)


def test_a_record_file_resumes_from_the_pairs_and_trials_it_holds(tmp_path):
    path = tmp_path / "new" / "records.jsonl"
    assert real.done_pair_trials(path) == set() and path.parent.is_dir()
    lines = [{"pair": "a->b", "trial": 0, "method": m} for m in ("source_only", "mrd")]
    path.write_text("".join(json.dumps(x) + "\n" for x in [*lines, {"pair": "b->a", "trial": 2}]))
    assert real.done_pair_trials(path) == {("a->b", 0), ("b->a", 2)}
