"""ANOVA-F counts chosen by inner cross-validation (issue 20: the enriched-AAE paper's
Table 1 tunes the kept code dimensions, Ds, per cell): every count is scored on folds of
the training rows only, and both the SVM baseline and the enriched AAE can use it."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from emoshift.experiment.config import parse_config
from emoshift.experiment.execute import trial_split
from emoshift.experiment.runner import prepare_run, run_experiment
from emoshift.experiment.store import read_jsonl
from emoshift.experiment.trial import run_trial
from emoshift.methods.anova_count import (
    _uar_per_count,
    _with_fixed_class_weight,
    inner_cv_count,
    kept_count,
)
from emoshift.methods.enriched_aae import EnrichedAAEClassifier
from emoshift.methods.svm import SVMClassifier
from emoshift.metrics import uar
from emoshift.report.experiment import write_experiment_report


def _informative(n: int = 80, width: int = 12, signal: int = 2, seed: int = 0):
    """``signal`` informative columns first, the rest noise."""
    rng = np.random.default_rng(seed)
    y = np.array(["high", "low"] * (n // 2))
    X = rng.normal(size=(n, width))
    X[:, :signal] += np.where(y == "high", 1.5, -1.5)[:, None]
    return X, y


class Recording:
    """A pipeline factory whose SVM records the width (the kept count) and the number of
    rows of each fit, however the pipeline around it is fitted."""

    def __init__(self) -> None:
        self.fits: list[tuple[int, int]] = []
        fits = self.fits

        class RecordingSVC(SVC):
            def fit(self, X, y, sample_weight=None):
                fits.append((X.shape[1], len(X)))
                return super().fit(X, y, sample_weight)

        self.svm = RecordingSVC

    def __call__(self, count: int):
        return make_pipeline(SelectKBest(f_classif, k=count), self.svm(kernel="linear"))


def test_every_count_is_scored_on_folds_of_the_training_rows_only():
    X, y = _informative(n=40, width=6)
    make = Recording()
    chosen = inner_cv_count(X, y, make, seed=0)
    assert sorted({count for count, _ in make.fits}) == [1, 2, 3, 4, 5, 6]
    assert len(make.fits) == 6 * 5  # five stratified folds per count
    assert all(rows == 32 for _, rows in make.fits)  # 4/5 of the 40 rows, never all
    assert 1 <= chosen <= 6


def test_noise_columns_are_left_out():
    X, y = _informative(width=12, signal=2)
    assert inner_cv_count(X, y, Recording(), seed=0) <= 4


def test_a_class_with_one_row_cannot_be_cross_validated():
    X, y = _informative(n=10)
    y[1:] = "high"
    y[0] = "low"
    with pytest.raises(ValueError, match="needs 2 training rows of every class"):
        inner_cv_count(X, y, Recording(), seed=0)


def test_kept_count_caps_at_the_width():
    assert (kept_count("all", 5), kept_count(3, 5), kept_count(9, 5)) == ("all", 3, "all")


def test_svm_baseline_keeps_the_count_the_inner_cross_validation_chose():
    X, y = _informative(width=12, signal=2)
    model = SVMClassifier(n_selected="inner_cv", random_state=0)
    model.fit(None, None, X_target_labelled=X, y_target_labelled=y)
    expected = inner_cv_count(X, y, model._pipeline, seed=0)
    assert model.n_selected_ == expected < 12
    assert model.pipeline_[1].get_support().sum() == expected
    assert model.fitted_params_ == {"n_selected": expected}  # what a trial records
    fixed = SVMClassifier(n_selected=5).fit(None, None, X_target_labelled=X, y_target_labelled=y)
    assert fixed.fitted_params_ == {}  # nothing chosen inside fit


def test_enriched_aae_tunes_the_kept_code_dimensions_on_its_training_codes():
    X, y = _informative(n=48, width=6, signal=2)
    X_out, _ = _informative(n=60, width=6, signal=2, seed=1)
    y_out = np.array(["a", "b", "c"] * 20)
    params = dict(code_size=6, hidden_sizes=(16, 16), batch_size=16, n_neighbors=3, epochs=3)
    model = EnrichedAAEClassifier(n_selected="inner_cv", random_state=0, **params)
    model.fit(X, y, X_out=X_out, y_out=y_out)
    codes = model.aae_.transform(model.scaler_.transform(X))
    expected = inner_cv_count(codes, y, lambda k: model._classifier(k, calibrated=False), seed=0)
    assert len(model.selected_dims_) == expected
    assert model.fitted_params_ == {"n_selected": expected}
    again = EnrichedAAEClassifier(n_selected="inner_cv", random_state=0, **params)
    assert again.fit(X, y, X_out=X_out, y_out=y_out).selected_dims_.tolist() == (
        model.selected_dims_.tolist()
    )


def test_each_trial_records_the_count_it_used_and_the_report_counts_them(tmp_path):
    """A run's result lines keep the inner-CV count per trial (Table 1's Ds, per fold), the
    count the trial's model used, and the report tabulates them."""
    config = {
        "name": "counts",
        "output": str(tmp_path / "run"),
        "corpora": {
            "synthetic": {
                "loader": "synthetic",
                "path": str(tmp_path / "corpus"),
                "options": {"preset": "tiny", "seed": 0},
            }
        },
        "features": {"set": "egemaps", "domain": "elicitation", "cache_dir": str(tmp_path / "c")},
        "labels": {"space": "four_class"},
        "pairs": [
            {
                "name": "p",
                "source": "elicitation == 'acted'",
                "target": "elicitation == 'spontaneous'",
            }
        ],
        "protocol": {"name": "reduced", "sizes": [1.0]},
        "methods": {"anova_svm": {"n_selected": ["inner_cv", 20]}},
        "baseline": None,
    }
    summary = run_experiment(parse_config(config, base_dir=tmp_path), progress=False)
    records = read_jsonl(summary.run_dir / "results.jsonl")
    tuned = [r for r in records if "inner_cv" in r["variant"]]
    assert tuned and all(r["status"] == "ok" for r in records)
    assert all("fitted_params" not in r for r in records if r not in tuned)
    assert all(1 <= r["fitted_params"]["n_selected"] <= 88 for r in tuned)
    data, specs = prepare_run(parse_config(config, base_dir=tmp_path), progress=False)
    by_key = {spec.key: spec for spec in specs}
    for record in tuned[:2]:  # the recorded count is the one the trial's model used
        spec = by_key[record["key"]]
        split, _ = trial_split(spec, data)
        model = run_trial(
            spec.method, spec.params, split, seed=spec.seed + spec.trial, keep_model=True
        ).model
        assert model.n_selected_ == record["fitted_params"]["n_selected"]
    report = write_experiment_report(summary.run_dir)
    table = pd.read_csv(report.tables["fitted"]["csv"])
    assert "Hyper-parameters chosen in fit" in report.markdown.read_text()
    chosen = Counter(r["fitted_params"]["n_selected"] for r in tuned)
    assert table["chosen in fit"].tolist() == [
        "; ".join(f"n_selected={n}: {c}" for n, c in sorted(chosen.items(), key=str))
    ]


@pytest.mark.parametrize("order", ["scaled_first", "selected_only", "scaled_after"])
def test_fitting_the_selection_once_scores_every_count_as_the_whole_pipeline_does(order):
    """The shortcut (scaling, F-scores and class weights fitted once per fold) gives bit
    for bit the UAR of refitting ``make(count)`` whole, with constant columns as on the
    fixture corpora; ``scaled_after`` is the enriched AAE's order (selection, scaling, a
    balanced SVM), whose weights are computed once per fold."""
    X, y = _informative(n=30, width=8)
    X[:, -3:] = 1.0
    y[:4] = "high"  # unequal classes, so that balanced weights differ from 1

    def make(count):
        select = SelectKBest(f_classif, k=count)
        if order == "scaled_after":
            return make_pipeline(select, StandardScaler(), SVC(class_weight="balanced"))
        steps = [select, SVC(kernel="linear")]
        return make_pipeline(*([StandardScaler()] if order == "scaled_first" else []), *steps)

    test = np.arange(1, 30, 3)
    train = np.setdiff1d(np.arange(30), test)
    whole = [
        uar(y[test], make(count).fit(X[train], y[train]).predict(X[test])) for count in range(1, 9)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # F is undefined on the constant columns
        assert _uar_per_count(X, y, make, train, test).tolist() == whole


def test_a_balanced_svm_keeps_its_decisions_with_the_weights_fixed_once():
    X, y = _informative(n=30, width=5)
    y[:6] = "high"
    fixed = _with_fixed_class_weight(SVC(class_weight="balanced"), y)
    assert isinstance(fixed.class_weight, dict)
    expected = SVC(class_weight="balanced").fit(X, y).decision_function(X)
    assert np.array_equal(fixed.fit(X, y).decision_function(X), expected)
    unweighted = SVC()
    assert _with_fixed_class_weight(unweighted, y) is unweighted and unweighted.class_weight is None
