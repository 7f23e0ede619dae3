"""UnsupervisedGridSelector: the split, the grid, the choice, real methods, determinism."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from problems import class_shifted_domain
from sklearn.base import BaseEstimator

from emoshift.methods import get_method
from emoshift.selection import UnsupervisedGridSelector, selector


class Recorder(BaseEstimator):
    """Predicts the majority class; remembers what its fit received."""

    def __init__(self, offset: float = 0.0, max_epochs: int = 1, random_state=None):
        self.offset = offset
        self.max_epochs = max_epochs
        self.random_state = random_state

    def fit(self, X, y, *, X_target=None, eval_set=None):
        self.X_fit_, self.y_fit_ = np.asarray(X), np.asarray(y)
        self.X_target_, self.eval_set_ = X_target, eval_set
        values, counts = np.unique(self.y_fit_, return_counts=True)
        self.classes_ = values
        self.majority_ = values[counts.argmax()]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)

    def predict_proba(self, X):
        return np.tile(np.eye(len(self.classes_))[0], (len(X), 1))


def offset_scorer(estimator, data, *, best=2.0):
    """A scorer that can be checked by hand: -|offset - best|."""
    return -abs(estimator.offset - best)


@pytest.fixture
def problem():
    X = np.arange(40, dtype=float)[:, None]
    y = np.repeat(["a", "b"], [30, 10])
    return X, y, X[:5] + 100


def test_the_best_grid_point_wins_and_every_score_is_kept(problem):
    X, y, X_t = problem
    search = UnsupervisedGridSelector(Recorder(), {"offset": [0.0, 1.5, 3.0]}, offset_scorer)
    search.fit(X, y, X_target=X_t)
    # scores -|offset - 2|: -2, -0.5, -1 -> the middle point wins
    assert [s["score"] for s in search.scores_] == [-2.0, -0.5, -1.0]
    assert [s["params"] for s in search.scores_] == [{"offset": v} for v in (0.0, 1.5, 3.0)]
    assert search.best_params_ == {"offset": 1.5}
    assert search.best_score_ == -0.5 and search.best_index_ == 1
    assert search.scorer_ == "offset_scorer"
    assert search.best_estimator_.offset == 1.5
    assert search.predict(X_t).tolist() == ["a"] * 5
    assert search.classes_.tolist() == ["a", "b"]


def test_ties_go_to_the_earlier_point_and_nan_never_wins(problem):
    X, y, X_t = problem
    tied = UnsupervisedGridSelector(Recorder(), {"offset": [1.0, 3.0]}, offset_scorer)
    assert tied.fit(X, y, X_target=X_t).best_params_ == {"offset": 1.0}

    def nan_for_zero(estimator, data):
        return float("nan") if estimator.offset == 0 else -estimator.offset

    search = UnsupervisedGridSelector(Recorder(), {"offset": [0.0, 5.0]}, nan_for_zero)
    assert search.fit(X, y, X_target=X_t).best_params_ == {"offset": 5.0}
    assert np.isnan(search.scores_[0]["score"])


def test_scorer_params_reach_the_scorer(problem):
    X, y, X_t = problem
    search = UnsupervisedGridSelector(
        Recorder(), {"offset": [0.0, 1.5, 3.0]}, offset_scorer, scorer_params={"best": 3.0}
    )
    assert search.fit(X, y, X_target=X_t).best_params_ == {"offset": 3.0}


def test_the_development_split_is_stratified_seeded_and_passed_to_the_model(problem):
    X, y, X_t = problem
    search = UnsupervisedGridSelector(Recorder(), {}, "source_dev", random_state=3)
    model = search.fit(X, y, X_target=X_t).best_estimator_
    X_dev, y_dev = model.eval_set_
    # 20% of 30 a and 10 b: 6 a and 2 b held out, the other 32 trained on
    assert len(model.X_fit_) == 32 and len(X_dev) == 8
    assert sorted(y_dev.tolist()) == ["a"] * 6 + ["b"] * 2
    assert not set(model.X_fit_[:, 0]) & set(X_dev[:, 0])
    assert model.X_target_ is X_t
    again = UnsupervisedGridSelector(Recorder(), {}, "source_dev", random_state=3)
    assert again.fit(X, y, X_target=X_t).best_estimator_.eval_set_[0].tolist() == X_dev.tolist()
    other = UnsupervisedGridSelector(Recorder(), {}, "source_dev", random_state=4)
    assert other.fit(X, y, X_target=X_t).best_estimator_.eval_set_[0].tolist() != X_dev.tolist()


def test_a_given_eval_set_is_used_and_nothing_is_held_out(problem):
    X, y, X_t = problem
    dev = (X[:4] + 0.5, np.array(["a", "a", "b", "b"]))
    search = UnsupervisedGridSelector(Recorder(), {}, "source_dev").fit(
        X, y, X_target=X_t, eval_set=dev
    )
    assert len(search.best_estimator_.X_fit_) == 40
    # majority class a on dev truth a, a, b, b: recalls 1 and 0 -> UAR 0.5
    assert search.best_score_ == 0.5


def test_keep_models_keeps_every_fitted_grid_point(problem):
    X, y, X_t = problem
    grid = {"offset": [0.0, 1.5, 3.0]}
    search = UnsupervisedGridSelector(Recorder(), grid, offset_scorer, keep_models=True)
    search.fit(X, y, X_target=X_t)
    assert [m.offset for m in search.models_] == [0.0, 1.5, 3.0]
    assert search.models_[search.best_index_] is search.best_estimator_
    assert UnsupervisedGridSelector(Recorder(), grid, offset_scorer).fit(X, y).models_ == []


def test_refit_trains_the_best_point_on_every_source_row(problem):
    X, y, X_t = problem
    search = UnsupervisedGridSelector(Recorder(), {"offset": [1.0, 2.0]}, offset_scorer, refit=True)
    model = search.fit(X, y, X_target=X_t).best_estimator_
    assert model.offset == 2.0 and len(model.X_fit_) == 40 and model.eval_set_ is None


def test_epochs_become_max_epochs_grid_values(problem):
    X, y, X_t = problem
    search = UnsupervisedGridSelector(Recorder(), {"offset": [1.0]}, offset_scorer, epochs=[5, 9])
    search.fit(X, y, X_target=X_t)
    assert [s["params"] for s in search.scores_] == [
        {"max_epochs": 5, "offset": 1.0},
        {"max_epochs": 9, "offset": 1.0},
    ]


def test_an_unseeded_estimator_takes_the_selector_seed(problem):
    X, y, X_t = problem
    search = UnsupervisedGridSelector(Recorder(), {}, "source_dev", random_state=7)
    assert search.fit(X, y, X_target=X_t).best_estimator_.random_state == 7
    seeded = UnsupervisedGridSelector(Recorder(random_state=1), {}, "source_dev", random_state=7)
    assert seeded.fit(X, y, X_target=X_t).best_estimator_.random_state == 1


# ------------------------------------------------------------------ real methods


@pytest.fixture(scope="module")
def shifted():
    X_s, y_s = class_shifted_domain(50, target=False, seed=0)
    X_t, _ = class_shifted_domain(50, target=True, seed=1)
    return X_s, y_s, X_t


SMALL = dict(hidden_sizes=(16,), head_hidden_sizes=(), max_epochs=12, random_state=0)


def test_selects_dann_lambda_with_dev_on_a_shifted_problem(shifted):
    X_s, y_s, X_t = shifted
    dann = get_method("dann", warmup_epochs=3, domain_hidden_sizes=(8,), **SMALL)
    search = UnsupervisedGridSelector(dann, {"lambda_max": [0.1, 0.3, 1.0]}, "dev")
    search.fit(X_s, y_s, X_target=X_t)
    scores = [s["score"] for s in search.scores_]
    assert len(scores) == 3 and all(np.isfinite(scores))
    assert search.best_score_ == max(scores)
    assert search.best_params_ == search.scores_[scores.index(max(scores))]["params"]
    assert search.best_estimator_.lambda_max == search.best_params_["lambda_max"]
    chosen = search.best_estimator_
    assert search.predict(X_t).tolist() == chosen.predict(X_t).tolist()
    assert np.array_equal(search.predict_proba(X_t), chosen.predict_proba(X_t))
    assert np.array_equal(search.transform(X_t, layer=0), chosen.transform(X_t, layer=0))


def test_source_only_grid_is_deterministic_for_a_seed(shifted):
    X_s, y_s, X_t = shifted
    source_only = get_method("source_only", patience=None, **SMALL)

    def run(seed):
        search = UnsupervisedGridSelector(
            source_only, {"lr": [1e-3, 1e-2]}, "entropy", random_state=seed
        )
        search.fit(X_s, y_s, X_target=X_t)
        return search.scores_, search.predict_proba(X_t)

    scores, proba = run(0)
    scores_again, proba_again = run(0)
    assert scores == scores_again
    assert np.array_equal(proba, proba_again)
    assert run(1)[0] != scores  # another seed holds out other rows


@pytest.mark.parametrize("scorer", ["source_dev", "iwv", "snd", "circular"])
def test_every_named_scorer_drives_a_real_selection(scorer, shifted):
    X_s, y_s, X_t = shifted
    dann = get_method("dann", warmup_epochs=2, **{**SMALL, "max_epochs": 5})
    search = UnsupervisedGridSelector(dann, {"lambda_max": [0.1, 1.0]}, scorer)
    search.fit(X_s, y_s, X_target=X_t)
    assert search.scorer_ == scorer
    assert search.best_score_ == max(s["score"] for s in search.scores_)


# ------------------------------------------------------------------ bad input


@pytest.mark.bad_input
def test_bad_settings_are_named(problem):
    X, y, X_t = problem
    with pytest.raises(ValueError, match="did you mean 'entropy'"):
        UnsupervisedGridSelector(Recorder(), {}, "entropie").fit(X, y, X_target=X_t)
    with pytest.raises(ValueError, match="'ofset'.*no parameter"):
        UnsupervisedGridSelector(Recorder(), {"ofset": [1]}, "dev").fit(X, y, X_target=X_t)
    with pytest.raises(ValueError, match="either in param_grid or as epochs"):
        UnsupervisedGridSelector(Recorder(), {"max_epochs": [1]}, "dev", epochs=[2]).fit(X, y)
    with pytest.raises(ValueError, match="epochs sets max_epochs, which SVMClassifier lacks"):
        UnsupervisedGridSelector(get_method("svm"), {}, "dev", epochs=[2]).fit(X, y)
    with pytest.raises(ValueError, match="dev_fraction=0"):
        UnsupervisedGridSelector(Recorder(), {}, "dev", dev_fraction=0).fit(X, y)
    few = np.array(["a"] * 39 + ["b"])
    with pytest.raises(ValueError, match="stratified source development split.*eval_set"):
        UnsupervisedGridSelector(Recorder(), {}, "source_dev").fit(X, few)
    with pytest.raises(ValueError, match="'dev' reads unlabelled target rows"):
        UnsupervisedGridSelector(Recorder(), {}, "dev").fit(X, y)
    with pytest.raises(RuntimeError, match="not fitted"):
        UnsupervisedGridSelector(Recorder(), {}, "dev").predict(X)


def test_module_docstring_example_runs():
    failures, _ = doctest.testmod(selector)
    assert failures == 0
