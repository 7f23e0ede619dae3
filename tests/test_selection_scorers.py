"""Unsupervised selection scorers: hand-computed cases, agreement with SKADA, real models."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from problems import class_shifted_domain
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from emoshift.methods import get_method
from emoshift.selection import SCORERS, SelectionData, formulas, get_scorer, scorers
from emoshift.selection.formulas import (
    cross_entropy,
    density_ratio,
    dev_risk,
    mean_entropy,
    soft_neighbourhood_density,
    weighted_accuracy,
    weighted_uar,
)


def softmax_entropy(logits: list[float]) -> float:
    """H(softmax(z)) = log Z - sum_j q_j z_j, written out for the hand-computed SND rows."""
    z = sum(math.exp(v) for v in logits)
    return math.log(z) - sum(math.exp(v) / z * v for v in logits)


class FixedProba(BaseEstimator):
    """A 'fitted model' whose probabilities are looked up by the row id in column 0."""

    def __init__(self, table: np.ndarray | None = None, classes: tuple = ("a", "b")):
        self.table = table
        self.classes = classes

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.table)[np.asarray(X)[:, 0].astype(int)]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


class FixedDomain(BaseEstimator):
    """A 'domain classifier' whose P(target | x) is column 1 of x; fit learns nothing."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> FixedDomain:
        self.classes_ = np.array([0.0, 1.0])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = np.asarray(X)[:, 1]
        return np.c_[1 - p, p]


class Centroids(BaseEstimator):
    """Nearest class mean on one feature, with emoshift's fit signature."""

    def fit(self, X, y, *, X_target=None, eval_set=None) -> Centroids:
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.means_ = np.array([np.asarray(X)[y == c, 0].mean() for c in self.classes_])
        self.seen_target_ = None if X_target is None else np.asarray(X_target)
        return self

    def predict(self, X) -> np.ndarray:
        distance = np.abs(np.asarray(X)[:, :1] - self.means_[None, :])
        return self.classes_[distance.argmin(1)]


class LogRegDA(LogisticRegression):
    """Logistic regression with emoshift's fit signature (target data unused)."""

    def fit(self, X, y, *, X_target=None, eval_set=None, sample_weight=None):
        return super().fit(X, y, sample_weight=sample_weight)


class WithClasses:
    """A SKADA pipeline seen through the ``classes_`` that DEV reads (it has none)."""

    def __init__(self, pipe: object):
        self.classes_ = np.arange(3)
        self.predict_proba = pipe.predict_proba


# ------------------------------------------------------------------ formulas by hand


def test_density_ratio_by_hand():
    # w = n_s / n_t * p / (1 - p) = 20/10 * 0.5/0.5 = 2 and 2 * 0.8/0.2 = 8
    assert density_ratio([0.5, 0.8], 20, 10) == pytest.approx([2.0, 8.0])


def test_weighted_uar_by_hand():
    # class a: rows 0 (right, w 1) and 1 (wrong, w 3) -> recall 1/4; class b: rows 2, 3
    # both right -> recall 1; UAR = (0.25 + 1) / 2 = 0.625 (unweighted it would be 0.75)
    y, pred, w = ["a", "a", "b", "b"], ["a", "b", "b", "b"], [1, 3, 2, 2]
    assert weighted_uar(y, pred, w) == 0.625
    assert weighted_uar(y, pred, w) == balanced_accuracy_score(y, pred, sample_weight=w)


def test_weighted_accuracy_by_hand():
    # right rows 0 (w 1) and 2 (w 2): 3 / (1 + 1 + 2) = 0.75
    assert weighted_accuracy([0, 0, 1], [0, 1, 1], [1, 1, 2]) == 0.75


def test_cross_entropy_by_hand():
    # -log 0.5 = log 2 and -log 0.75 = log(4/3)
    losses = cross_entropy([[0.5, 0.5], [0.25, 0.75]], [0, 1])
    assert losses == pytest.approx([math.log(2), math.log(4 / 3)])


def test_dev_risk_by_hand():
    # L = w * l = [1, 2, 12], mean 5; mean(w) = 2
    # deviations: w [-1, -1, 2], L [-4, -3, 7]; Cov = (4 + 3 + 14) / 2 = 10.5
    # Var(w) = (1 + 1 + 4) / 2 = 3; eta = -10.5 / 3 = -3.5
    # risk = 5 + (-3.5)(2) - (-3.5) = 1.5
    assert dev_risk([1.0, 2.0, 3.0], [1.0, 1.0, 4.0]) == pytest.approx(1.5)
    # constant weights: Var(w) = 0 -> eta = 0 -> risk = mean(w * l) = 2 * 2 = 4
    assert dev_risk([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]) == 4.0
    # mean(w) = 1 -> the control variate adds nothing: mean(w l) = (0.5 + 2 + 4.5) / 3
    assert dev_risk([1.0, 2.0, 3.0], [0.5, 1.0, 1.5]) == pytest.approx(7 / 3)


def test_mean_entropy_by_hand():
    # H([1, 0]) = 0 (0 log 0 = 0), H([0.5, 0.5]) = log 2; mean = log(2) / 2
    assert mean_entropy([[1.0, 0.0], [0.5, 0.5]]) == pytest.approx(math.log(2) / 2)


def test_soft_neighbourhood_density_by_hand():
    # rows (already unit length) f = [1,0], [1,0], [0,1]; T = 1: f f^T = [[1,1,0],[1,1,0],
    # [0,0,1]], diagonal replaced by -1/T = -1:
    #   row 0: [-1, 1, 0]   row 1: [1, -1, 0]   row 2: [0, 0, -1]
    # SND = mean of the entropies of the softmax of each row
    expected = (2 * softmax_entropy([-1, 1, 0]) + softmax_entropy([0, 0, -1])) / 3
    proba = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    assert soft_neighbourhood_density(proba, temperature=1.0) == pytest.approx(expected)
    # T = 0.5 doubles every similarity; unnormalised rows give the same cosine
    expected_half = (2 * softmax_entropy([-2, 2, 0]) + softmax_entropy([0, 0, -2])) / 3
    scaled = [[0.5, 0.0], [2.0, 0.0], [0.0, 3.0]]
    assert soft_neighbourhood_density(scaled, temperature=0.5) == pytest.approx(expected_half)


# ------------------------------------------------------------------ scorers by hand


def test_source_dev_is_uar_on_the_development_rows():
    # predictions a, b, b, b for truth a, a, b, b: recalls 1/2 and 1 -> 0.75
    model = FixedProba(np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.1, 0.9]]))
    data = SelectionData(X_dev=np.arange(4)[:, None], y_dev=["a", "a", "b", "b"])
    assert scorers.source_dev(model, data) == 0.75


def test_iwv_weighs_development_rows_by_the_domain_classifier():
    # X_dev columns: row id, P(target | x) the fixed domain classifier returns.
    # X_train unknown -> the classifier is "fitted" on the 4 dev rows against 2 target
    # rows: w = 4/2 * p/(1-p) = 2, 6, 2, 2. Predictions a, b, b, b for truth a, a, b, b:
    # recall a = 2 / (2 + 6) = 0.25, recall b = 1 -> IWV UAR 0.625;
    # accuracy form = (2 + 2 + 2) / 12 = 0.5
    model = FixedProba(np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.1, 0.9]]))
    X_dev = np.array([[0, 0.5], [1, 0.75], [2, 0.5], [3, 0.5]])
    data = SelectionData(X_dev, ["a", "a", "b", "b"], X_target=np.zeros((2, 2)))
    assert scorers.iwv(model, data, domain_classifier=FixedDomain()) == pytest.approx(0.625)
    accuracy = scorers.iwv(model, data, metric="accuracy", domain_classifier=FixedDomain())
    assert accuracy == pytest.approx(0.5)


def test_dev_is_the_negated_control_variate_risk():
    # probabilities of the true class e^-1, e^-2, e^-3 -> cross-entropies 1, 2, 3;
    # P(target | x) = 0.5, 0.5, 0.8 with 3 dev rows against 3 target rows -> w = 1, 1, 4;
    # risk 1.5 as in test_dev_risk_by_hand, so the score is -1.5
    e1, e2, e3 = math.exp(-1), math.exp(-2), math.exp(-3)
    model = FixedProba(np.array([[e1, 1 - e1], [e2, 1 - e2], [1 - e3, e3]]))
    X_dev = np.array([[0, 0.5], [1, 0.5], [2, 0.8]])
    data = SelectionData(X_dev, ["a", "a", "b"], X_target=np.zeros((3, 2)))
    assert scorers.dev(model, data, domain_classifier=FixedDomain()) == pytest.approx(-1.5)


def test_entropy_and_snd_read_only_the_target_rows():
    # target rows: [1, 0] and [0.5, 0.5] -> mean entropy log(2)/2, score -log(2)/2
    model = FixedProba(np.array([[1.0, 0.0], [0.5, 0.5]]))
    data = SelectionData(X_dev=None, y_dev=None, X_target=np.array([[0], [1]]))
    assert scorers.entropy(model, data) == pytest.approx(-math.log(2) / 2)
    # SND, T = 1: f = [1, 0], [1, 1]/sqrt(2); f0.f1 = 1/sqrt(2); rows [-1, 1/sqrt 2] twice
    expected = softmax_entropy([-1, 1 / math.sqrt(2)])
    assert scorers.snd(model, data, temperature=1.0) == pytest.approx(expected)


def test_circular_trains_a_reverse_model_on_target_pseudo_labels():
    # forward: class means a = 0, b = 10 (boundary 5); target 2, 3, 4, 6 -> a, a, a, b.
    # reverse: means a = 3, b = 6 (boundary 4.5) on dev 0, 4.8, 4.2, 10 (truth a, a, b, b)
    # -> a, b, a, b: recalls 1/2 and 1/2 -> 0.5 (the forward model's source UAR is 0.75)
    forward = Centroids().fit(np.array([[0.0], [10.0]]), ["a", "b"])
    X_train = np.array([[0.0], [10.0]])
    data = SelectionData(
        X_dev=np.array([[0.0], [4.8], [4.2], [10.0]]),
        y_dev=np.array(["a", "a", "b", "b"]),
        X_target=np.array([[2.0], [3.0], [4.0], [6.0]]),
        X_train=X_train,
    )
    assert scorers.source_dev(forward, data) == 0.75
    assert scorers.circular(forward, data) == 0.5


def test_circular_with_one_pseudo_class_scores_the_constant_prediction():
    # target 1, 2 -> both a; predicting a everywhere: recall a = 1, b = 0 -> 0.5
    forward = Centroids().fit(np.array([[0.0], [10.0]]), ["a", "b"])
    data = SelectionData(
        np.array([[0.0], [1.0], [9.0], [10.0]]), ["a", "a", "b", "b"], np.array([[1.0], [2.0]])
    )
    assert scorers.circular(forward, data) == 0.5


# ------------------------------------------------------------------ agreement with SKADA


@pytest.fixture(scope="module")
def skada_problem():
    pytest.importorskip("skada")
    from skada import make_da_pipeline
    from skada.utils import source_target_merge

    rng = np.random.default_rng(0)
    X_s = rng.normal(size=(90, 3))
    y_s = np.digitize(X_s[:, 0] + 0.3 * X_s[:, 1], [-0.5, 0.5])
    X_t = rng.normal(size=(60, 3)) + [0.6, -0.3, 0.2]
    X, y, domain = source_target_merge(X_s, X_t, y_s, np.full(60, -1))
    model = LogisticRegression().set_score_request(sample_weight=True)
    pipe = make_da_pipeline(model).fit(X, y, sample_domain=domain)
    return pipe, X, y, domain, X_s, y_s, X_t


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_entropy_matches_skada_times_the_number_of_classes(skada_problem):
    from skada.metrics import PredictionEntropyScorer

    pipe, X, y, domain, X_s, y_s, X_t = skada_problem
    theirs = PredictionEntropyScorer()(pipe, X, y, sample_domain=domain)
    ours = scorers.entropy(pipe, SelectionData(X_s, y_s, X_t))
    # SKADA averages -p log p over rows and the 3 classes and uses log(p + 1e-7)
    assert ours == pytest.approx(3 * theirs, rel=1e-5)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_snd_matches_skada(skada_problem):
    from skada.metrics import SoftNeighborhoodDensity

    pipe, X, y, domain, X_s, y_s, X_t = skada_problem
    theirs = SoftNeighborhoodDensity()(pipe, X, y, sample_domain=domain)
    assert scorers.snd(pipe, SelectionData(X_s, y_s, X_t)) == pytest.approx(theirs, rel=1e-9)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_dev_matches_skada_on_the_same_split(skada_problem):
    from skada.metrics import DeepEmbeddedValidation

    pipe, X, y, domain, X_s, y_s, X_t = skada_problem
    # SKADA splits the source 67/33 with a RandomState(0); the same call gives its split.
    # Its domain classifier labels source 1 and target 0; ours the other way round, which
    # flips the logistic regression's sign and gives the same posteriors.
    X_train, X_val, _, y_val = train_test_split(
        X_s, y_s, test_size=0.33, random_state=np.random.RandomState(0)
    )
    data = SelectionData(X_val, y_val, X_t, X_train=X_train)
    ours = scorers.dev(WithClasses(pipe), data, domain_classifier=LogisticRegression())

    # SKADA 0.6.0 multiplies its (n, 1) weights by its default loss's (n,) errors, which
    # broadcasts to an (n, n) matrix: its mean is mean(w) * mean(l) and its "Cov(L, w)"
    # is taken between two columns of that matrix. Given the loss as a column, SKADA
    # computes You et al.'s estimator, and agrees with ours.
    def column_loss(y_true, proba):
        return cross_entropy(proba, y_true)[:, None]

    theirs = DeepEmbeddedValidation(random_state=0, loss_func=column_loss)
    assert ours == pytest.approx(theirs(pipe, X, y, sample_domain=domain), rel=1e-6)
    default = DeepEmbeddedValidation(random_state=0)(pipe, X, y, sample_domain=domain)
    assert abs(default - ours) > 0.01


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_iwv_formula_matches_skada_given_its_kernel_density_weights(skada_problem):
    import sklearn
    from skada.metrics import ImportanceWeightedScorer
    from sklearn.neighbors import KernelDensity

    pipe, X, y, domain, X_s, y_s, X_t = skada_problem
    with sklearn.config_context(enable_metadata_routing=True):
        theirs = ImportanceWeightedScorer()(pipe, X, y, sample_domain=domain)
    # SKADA's ratio: kernel densities of target and source, evaluated at the source rows
    log_t = KernelDensity().fit(X_t).score_samples(X_s)
    log_s = KernelDensity().fit(X_s).score_samples(X_s)
    weights = np.exp(log_t - log_s)
    assert weighted_accuracy(y_s, pipe.predict(X_s), weights) == pytest.approx(theirs)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_circular_matches_skada(skada_problem):
    from skada.metrics import CircularValidation

    pipe, X, y, domain, X_s, y_s, X_t = skada_problem
    theirs = CircularValidation()(pipe, X, y, sample_domain=domain)
    forward = LogRegDA().fit(X_s, y_s)
    ours = scorers.circular(forward, SelectionData(X_s, y_s, X_t))
    assert ours == pytest.approx(theirs)


# ------------------------------------------------------------------ real emoshift models


@pytest.fixture(scope="module")
def fitted_models():
    X_s, y_s = class_shifted_domain(40, target=False, seed=0)
    X_dev, y_dev = class_shifted_domain(15, target=False, seed=1)
    X_t, _ = class_shifted_domain(40, target=True, seed=2)
    small = dict(hidden_sizes=(16,), head_hidden_sizes=(), max_epochs=15, random_state=0)
    source_only = get_method("source_only", patience=None, **small).fit(X_s, y_s)
    dann = get_method("dann", warmup_epochs=3, **small).fit(X_s, y_s, X_target=X_t)
    return {"source_only": source_only, "dann": dann}, SelectionData(X_dev, y_dev, X_t, X_s)


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_every_scorer_scores_real_models_deterministically(name, fitted_models):
    models, data = fitted_models
    for model in models.values():
        first = get_scorer(name)(model, data)
        assert np.isfinite(first)
        assert get_scorer(name)(model, data) == first


def test_importance_weights_are_near_one_without_shift():
    # source and "target" drawn from one distribution: p_T / p_S = 1 everywhere, so a
    # well-specified domain classifier's ratios stay close to 1
    X_s, _ = class_shifted_domain(200, target=False, seed=3)
    X_t, _ = class_shifted_domain(200, target=False, seed=4)
    weights = scorers.importance_weights(X_s, X_t, X_s)
    assert abs(weights.mean() - 1) < 0.05
    assert np.percentile(weights, 95) < 1.5


def test_importance_weights_favour_source_rows_that_look_like_the_target():
    X_s, _ = class_shifted_domain(100, target=False, seed=3)
    X_t, _ = class_shifted_domain(100, target=True, seed=4)
    near = np.array([[4.0, 0, 0, 0, 2, 0]])  # class 0 moved as the target moves it
    far = np.array([[1.0, 0, 0, 0, -2, 0]])  # moved the other way
    weights = scorers.importance_weights(X_s, X_t, np.r_[near, far])
    assert weights[0] > 1 > weights[1]


# ------------------------------------------------------------------ bad input


@pytest.mark.bad_input
def test_unknown_scorer_names_the_nearest():
    with pytest.raises(ValueError, match="did you mean 'dev'"):
        get_scorer("dve")
    with pytest.raises(ValueError, match="did you mean 'circular'"):
        get_scorer("circullar")


@pytest.mark.bad_input
def test_scorers_say_what_they_need(fitted_models):
    models, data = fitted_models
    svm = get_method("svm", pool="source").fit(data.X_dev, data.y_dev)
    with pytest.raises(ValueError, match="'snd' needs predict_proba\\(\\) but SVMClassifier"):
        scorers.snd(svm, data)
    assert scorers.circular(svm, data) > 0.25  # predict() is enough for circular
    regression = get_method("source_only", task="regression", hidden_sizes=(4,), max_epochs=1)
    regression.fit(data.X_dev, np.arange(len(data.X_dev), dtype=float))
    with pytest.raises(ValueError, match="'dev' is for classification"):
        scorers.dev(regression, data)
    no_target = SelectionData(data.X_dev, data.y_dev)
    with pytest.raises(ValueError, match="'entropy' reads unlabelled target rows"):
        scorers.entropy(models["dann"], no_target)
    with pytest.raises(ValueError, match="metric='f1'"):
        scorers.iwv(models["dann"], data, metric="f1")
    with pytest.raises(ValueError, match="labels \\['surprise'\\]"):
        scorers.dev(models["dann"], SelectionData(data.X_dev[:1], ["surprise"], data.X_target))


def test_module_docstring_examples_run():
    for module in (formulas, scorers):
        failures, _ = doctest.testmod(module)
        assert failures == 0, module.__name__
