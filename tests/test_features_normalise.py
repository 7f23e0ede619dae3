"""Per-domain normalisation: robust z-score against a direct computation, min-max, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from emoshift.features import DomainNormaliser, normalise_per_domain


def direct_robust_z(column: np.ndarray) -> np.ndarray:
    """The robust z-score of one feature in one domain, written out plainly."""
    low, high = np.quantile(column, [0.05, 0.95])
    inside = column[(column >= low) & (column <= high)]
    mean, std = inside.mean(), inside.std()
    if std == 0:
        return np.zeros_like(column)
    z = (column - mean) / std
    z[np.abs(z) > 10] = 0.0
    return z


@pytest.fixture
def matrix() -> tuple[np.ndarray, np.ndarray]:
    """Two domains with different scales, an extreme outlier and a constant feature."""
    rng = np.random.default_rng(7)
    a = np.column_stack([rng.normal(0, 1, 40), rng.normal(5, 2, 40), np.full(40, 3.0)])
    b = np.column_stack([rng.normal(100, 10, 30), rng.normal(-5, 0.5, 30), np.full(30, -1.0)])
    a[3, 0] = 1e4  # far beyond 10 sd of domain a
    X = np.vstack([a, b])
    domains = np.array(["a"] * 40 + ["b"] * 30)
    return X, domains


def test_robust_z_matches_direct_computation(matrix) -> None:
    X, domains = matrix
    z = normalise_per_domain(X, domains)
    expected = np.empty_like(X)
    for domain in ("a", "b"):
        rows = domains == domain
        for j in range(X.shape[1]):
            expected[rows, j] = direct_robust_z(X[rows, j])
    np.testing.assert_allclose(z, expected, rtol=1e-10, atol=1e-12)
    assert z[3, 0] == 0.0
    assert np.all(z[:, 2] == 0.0)
    assert np.abs(z).max() <= 10


def test_robust_z_on_a_wide_matrix_matches_direct_computation() -> None:
    X = np.random.default_rng(3).lognormal(size=(25, 600))
    z = normalise_per_domain(X, None)
    expected = np.column_stack([direct_robust_z(X[:, j]) for j in range(X.shape[1])])
    np.testing.assert_allclose(z, expected, rtol=1e-10, atol=1e-12)


def test_robust_z_hand_made_values() -> None:
    X = np.array([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [7.0], [8.0], [9.0], [1000.0]])
    z = normalise_per_domain(X, None)
    low, high = np.quantile(X[:, 0], [0.05, 0.95])
    inside = X[(X[:, 0] >= low) & (X[:, 0] <= high), 0]
    np.testing.assert_array_equal(inside, np.arange(2.0, 10.0))
    np.testing.assert_allclose(z[1:9, 0], (X[1:9, 0] - 5.5) / np.std(np.arange(2.0, 10.0)))
    assert z[9, 0] == 0.0


def test_minmax_maps_each_domain_to_minus_one_one(matrix) -> None:
    X, domains = matrix
    scaled = normalise_per_domain(X, domains, method="minmax")
    for domain in ("a", "b"):
        rows = scaled[domains == domain][:, :2]
        np.testing.assert_allclose(rows.min(axis=0), -1.0)
        np.testing.assert_allclose(rows.max(axis=0), 1.0)
    assert np.all(scaled[:, 2] == 0.0)


def test_dataframes_keep_index_and_columns(matrix) -> None:
    X, domains = matrix
    frame = pd.DataFrame(X, columns=["F0", "loudness", "const"], index=[f"u{i}" for i in range(70)])
    out = normalise_per_domain(frame, pd.Series(domains), method="robust_z")
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(frame.columns) and list(out.index) == list(frame.index)
    np.testing.assert_allclose(out.to_numpy(), normalise_per_domain(X, domains))


def test_transformer_applies_fitted_statistics_to_new_rows(matrix) -> None:
    X, domains = matrix
    normaliser = DomainNormaliser().fit(X, domains)
    assert set(normaliser.stats_) == {"a", "b"}
    assert normaliser.stats_["a"].n_rows == 40
    stats = normaliser.stats_["b"]
    new = X[domains == "b"][:5] + 1.0
    expected = (new - stats.loc) / np.where(stats.scale == 0, 1, stats.scale)
    expected[:, stats.scale == 0] = 0.0
    np.testing.assert_allclose(normaliser.transform(new, ["b"] * 5), expected)
    assert clone(normaliser).get_params() == {
        "method": "robust_z",
        "quantiles": (0.05, 0.95),
        "outlier_sd": 10.0,
    }


def test_unfitted_domain_raises_clear_error(matrix) -> None:
    X, domains = matrix
    normaliser = DomainNormaliser().fit(X, domains)
    with pytest.raises(
        ValueError, match=r"domain 'c' was not fitted; fitted domains are \['a', 'b'\]"
    ):
        normaliser.transform(X[:2], ["a", "c"])
    with pytest.raises(ValueError, match="not fitted yet"):
        DomainNormaliser().transform(X, domains)


def test_nan_and_inf_are_named_by_column_and_row() -> None:
    frame = pd.DataFrame(
        {"F0": [1.0, np.nan, 3.0], "jitter": [0.1, 0.2, 0.3], "hnr": [1.0, 2.0, np.inf]},
        index=["utt1", "utt2", "utt3"],
    )
    with pytest.raises(ValueError) as info:
        normalise_per_domain(frame, ["x"] * 3)
    message = str(info.value)
    assert "['F0', 'hnr']" in message and "['utt2', 'utt3']" in message
    assert "jitter" not in message and "dropna" in message and "impute" in message
    with pytest.raises(ValueError, match=r"column 1"):
        normalise_per_domain(np.array([[1.0, np.nan]]), None)


def test_argument_errors(matrix) -> None:
    X, domains = matrix
    with pytest.raises(ValueError, match="one label per row"):
        normalise_per_domain(X, domains[:-1])
    with pytest.raises(ValueError, match="domain labels are missing for rows \\[1\\]"):
        normalise_per_domain(X[:3], ["a", None, "a"])
    with pytest.raises(ValueError, match="method must be one of"):
        normalise_per_domain(X, domains, method="zscore")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    normaliser = DomainNormaliser().fit(frame, domains)
    with pytest.raises(ValueError, match="columns differ"):
        normaliser.transform(frame[["b", "a", "c"]], domains)
