"""ANOVA-F counts chosen by inner cross-validation (issue 20: the enriched-AAE paper's
Table 1 tunes the kept code dimensions, Ds, per cell): every count is scored on folds of
the training rows only, and both the SVM baseline and the enriched AAE can use it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from emoshift.methods.anova_count import inner_cv_count, kept_count
from emoshift.methods.enriched_aae import EnrichedAAEClassifier
from emoshift.methods.svm import SVMClassifier


def _informative(n: int = 80, width: int = 12, signal: int = 2, seed: int = 0):
    """``signal`` informative columns first, the rest noise."""
    rng = np.random.default_rng(seed)
    y = np.array(["high", "low"] * (n // 2))
    X = rng.normal(size=(n, width))
    X[:, :signal] += np.where(y == "high", 1.5, -1.5)[:, None]
    return X, y


class Recording:
    """A pipeline factory that records each fit's count and number of rows."""

    def __init__(self) -> None:
        self.fits: list[tuple[int, int]] = []

    def __call__(self, count: int):
        pipeline = make_pipeline(SelectKBest(f_classif, k=count), SVC(kernel="linear"))
        original = pipeline.fit

        def fit(X, y):
            self.fits.append((count, len(X)))
            return original(X, y)

        pipeline.fit = fit
        return pipeline


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
    again = EnrichedAAEClassifier(n_selected="inner_cv", random_state=0, **params)
    assert again.fit(X, y, X_out=X_out, y_out=y_out).selected_dims_.tolist() == (
        model.selected_dims_.tolist()
    )
