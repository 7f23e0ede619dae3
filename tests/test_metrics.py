"""Metrics against their textbook formulas written out with numpy."""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import emoshift.metrics
import emoshift.metrics.classification
import emoshift.metrics.regression
from emoshift.metrics import (
    METRICS,
    ccc,
    confusion_matrix,
    get_metric,
    macro_f1,
    pcc,
    rmse,
    score,
    uar,
    weighted_accuracy,
)

LABELS = ["anger", "happiness", "neutral", "sadness"]


def random_labels(seed: int, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.choice(LABELS, size=n)
    pred = np.where(rng.random(n) < 0.6, true, rng.choice(LABELS, size=n))
    return true, pred


# --- textbook formulas -------------------------------------------------------------------


def textbook_recalls(true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {c: np.sum((true == c) & (pred == c)) / np.sum(true == c) for c in np.unique(true)}


def textbook_f1(true: np.ndarray, pred: np.ndarray, c: str) -> float:
    tp = np.sum((true == c) & (pred == c))
    fp = np.sum((true != c) & (pred == c))
    fn = np.sum((true == c) & (pred != c))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def textbook_ccc(x: np.ndarray, y: np.ndarray) -> float:
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def textbook_pcc(x: np.ndarray, y: np.ndarray) -> float:
    dx, dy = x - x.mean(), y - y.mean()
    return np.sum(dx * dy) / np.sqrt(np.sum(dx**2) * np.sum(dy**2))


# --- classification ----------------------------------------------------------------------


def test_uar_is_bit_for_bit_scikit_learns_macro_recall_over_the_reference_classes():
    """uar counts with numpy (it runs thousands of times per inner-CV count choice);
    its floats must equal recall_score's exactly, or a chosen count could change."""
    rng = np.random.default_rng(0)
    for _ in range(500):
        n, k = int(rng.integers(1, 40)), int(rng.integers(1, 6))
        true, pred = rng.integers(0, k, n), rng.integers(0, k + 1, n)
        present = np.unique(true)
        expected = skm.recall_score(true, pred, labels=present, average="macro", zero_division=0)
        assert uar(true, pred) == float(expected)
        assert uar(true.astype(str), pred.astype(str)) == float(expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uar_wa_f1_match_formulas(seed):
    true, pred = random_labels(seed)
    assert uar(true, pred) == pytest.approx(np.mean(list(textbook_recalls(true, pred).values())))
    assert weighted_accuracy(true, pred) == pytest.approx(np.mean(true == pred))
    classes = np.union1d(true, pred)
    assert macro_f1(true, pred) == pytest.approx(
        np.mean([textbook_f1(true, pred, c) for c in classes])
    )


def test_class_never_predicted_counts_with_recall_zero():
    true = np.array(["anger"] * 4 + ["sadness"] * 2 + ["neutral"] * 4)
    pred = np.array(["anger"] * 4 + ["neutral"] * 2 + ["neutral"] * 4)
    assert uar(true, pred) == pytest.approx((1 + 0 + 1) / 3)
    f1_neutral = 2 * (4 / 6) * 1 / (4 / 6 + 1)
    assert macro_f1(true, pred) == pytest.approx((1 + 0 + f1_neutral) / 3)


def test_uar_ignores_classes_absent_from_reference():
    # "sadness" is predicted but has no reference example: recall is undefined, it is skipped
    true = ["anger", "anger", "neutral", "neutral"]
    pred = ["anger", "sadness", "neutral", "neutral"]
    assert uar(true, pred) == pytest.approx((0.5 + 1.0) / 2)
    assert uar(true, pred, labels=LABELS) == pytest.approx(0.75)
    # F1 of sadness is 0 (precision 0) and counts; happiness is in neither input and is skipped
    f1_anger = 2 * 1 * 0.5 / 1.5
    assert macro_f1(true, pred, labels=LABELS) == pytest.approx((f1_anger + 1 + 0) / 3)


def test_integer_labels_and_pandas_input():
    true = pd.Series([0, 1, 2, 2, 1], dtype="int64")
    pred = [0, 1, 1, 2, 1]
    assert uar(true, pred) == pytest.approx((1 + 1 + 0.5) / 3)
    strings = pd.Series(["a", "b", "b"], dtype="string")
    assert weighted_accuracy(strings, ["a", "a", "b"]) == pytest.approx(2 / 3)


def test_confusion_matrix_fixed_order_and_normalisation():
    true, pred = random_labels(3)
    order = ["sadness", "neutral", "happiness", "anger"]
    counts = confusion_matrix(true, pred, labels=order)
    expected = np.array([[np.sum((true == a) & (pred == b)) for b in order] for a in order])
    np.testing.assert_array_equal(counts, expected)
    normalised = confusion_matrix(true, pred, labels=order, normalize=True)
    np.testing.assert_allclose(normalised, expected / expected.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(np.diag(normalised).mean(), uar(true, pred))


def test_confusion_matrix_empty_row_stays_zero():
    matrix = confusion_matrix(["a", "a"], ["a", "b"], labels=["a", "b", "c"], normalize=True)
    np.testing.assert_allclose(matrix, [[0.5, 0.5, 0], [0, 0, 0], [0, 0, 0]])


def test_default_confusion_order_is_sorted_union():
    matrix = confusion_matrix(["b", "a"], ["c", "a"])
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 0, 1], [0, 0, 0]])


@pytest.mark.parametrize("function", [uar, weighted_accuracy, macro_f1, confusion_matrix])
def test_classification_errors(function):
    with pytest.raises(ValueError, match="y_true has 3 values but y_pred has 2"):
        function(["a", "b", "a"], ["a", "b"])
    with pytest.raises(ValueError, match="empty"):
        function([], [])
    with pytest.raises(ValueError, match="y_pred has 1 missing label"):
        function(["a", "b"], ["a", None])
    with pytest.raises(ValueError, match=r"y_pred holds label\(s\) \['z'\]"):
        function(["a", "b"], ["a", "z"], labels=["a", "b"])


# --- regression --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_metrics_match_formulas(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=100)
    y = 0.7 * x + 0.3 + rng.normal(scale=0.5, size=100)
    assert ccc(x, y) == pytest.approx(textbook_ccc(x, y))
    assert pcc(x, y) == pytest.approx(textbook_pcc(x, y))
    assert rmse(x, y) == pytest.approx(np.sqrt(np.mean((x - y) ** 2)))


def test_ccc_penalises_bias_where_pcc_does_not():
    x = np.linspace(-1, 1, 50)
    assert pcc(x, x + 1) == pytest.approx(1.0)
    assert ccc(x, x + 1) == pytest.approx(textbook_ccc(x, x + 1))
    assert ccc(x, x + 1) < 0.5


def test_multioutput_per_dimension_and_mean():
    rng = np.random.default_rng(4)
    true = rng.normal(size=(60, 3))
    pred = true + rng.normal(scale=[0.2, 0.5, 1.0], size=(60, 3))
    for function, formula in [
        (ccc, textbook_ccc),
        (pcc, textbook_pcc),
        (rmse, lambda a, b: np.sqrt(np.mean((a - b) ** 2))),
    ]:
        per_dim = function(true, pred, multioutput="raw_values")
        expected = [formula(true[:, d], pred[:, d]) for d in range(3)]
        np.testing.assert_allclose(per_dim, expected)
        assert function(true, pred) == pytest.approx(np.mean(expected))


def test_constant_predictions_documented_behaviour():
    x = np.array([0.1, 0.5, 0.9, 0.3])
    constant = np.full(4, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ccc(x, constant) == 0.0  # covariance 0, denominator > 0
        assert np.isnan(ccc(constant, constant))  # 0/0, even though they agree
        assert np.isnan(pcc(x, constant))  # undefined correlation
        assert np.isnan(pcc(constant, x))
        assert np.isnan(ccc([1.0], [1.0]))
        assert rmse(constant, constant) == 0.0


def test_regression_errors():
    with pytest.raises(ValueError, match="y_true has 3 values but y_pred has 2"):
        ccc([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        pcc(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="y_pred has 1 NaN"):
        rmse([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match="multioutput"):
        ccc([1.0, 2.0], [1.0, 2.0], multioutput="variance_weighted")


# --- registry and score ------------------------------------------------------------------


def test_registry_names_and_directions():
    assert set(METRICS) == {"uar", "wa", "f1", "ccc", "pcc", "rmse"}
    assert all("_" not in name for name in METRICS)
    assert get_metric("rmse").greater_is_better is False
    with pytest.raises(KeyError, match="known metrics"):
        get_metric("accuracy")


def test_score_classification_defaults_and_labels():
    true, pred = random_labels(5)
    result = score(true, pred, "classification", labels=LABELS)
    assert result == {
        "uar": pytest.approx(uar(true, pred)),
        "wa": pytest.approx(weighted_accuracy(true, pred)),
        "f1": pytest.approx(macro_f1(true, pred)),
    }


def test_score_regression_dimensions():
    rng = np.random.default_rng(6)
    true = rng.normal(size=(40, 2))
    pred = true + rng.normal(size=(40, 2))
    result = score(true, pred, "regression", dimensions=["arousal", "valence"])
    assert result["ccc_arousal"] == pytest.approx(textbook_ccc(true[:, 0], pred[:, 0]))
    assert result["ccc"] == pytest.approx((result["ccc_arousal"] + result["ccc_valence"]) / 2)
    assert set(result) == {
        f"{m}{s}" for m in ("ccc", "pcc", "rmse") for s in ("", "_arousal", "_valence")
    }
    unnamed = score(true, pred, "regression", ["pcc"])
    assert set(unnamed) == {"pcc", "pcc_0", "pcc_1"}
    assert set(score(true[:, 0], pred[:, 0], "regression")) == {"ccc", "pcc", "rmse"}


def test_score_errors():
    with pytest.raises(ValueError, match="task='ranking'"):
        score([1], [1], "ranking")
    with pytest.raises(ValueError, match="'ccc' is a regression metric"):
        score(["a"], ["a"], "classification", ["ccc"])
    with pytest.raises(ValueError, match="dimensions"):
        score(np.zeros((3, 2)), np.zeros((3, 2)), "regression", ["rmse"], dimensions=["a"])
    with pytest.raises(ValueError, match="labels only applies"):
        score([1.0, 2.0], [1.0, 2.0], "regression", labels=["a"])


@pytest.mark.parametrize(
    "module", [emoshift.metrics, emoshift.metrics.classification, emoshift.metrics.regression]
)
def test_docstring_examples(module):
    failures, _ = doctest.testmod(module)
    assert failures == 0
