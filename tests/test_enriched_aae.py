"""Out-of-context enrichment (issue 6): the AAE, the kNN labels, no leaks across LOSO folds."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.feature_selection import SelectKBest
from sklearn.model_selection import LeaveOneGroupOut, cross_val_score
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from emoshift.methods import get_method
from emoshift.methods.aae import AdversarialAutoencoder
from emoshift.methods.enriched_aae import EnrichedAAEClassifier, neighbour_labels
from emoshift.protocols import leave_one_speaker_out, reduced_sample

SMALL = {"code_size": 4, "hidden_sizes": (16, 16), "batch_size": 16, "n_neighbors": 3}
OUT_CLASSES = ["out_high", "out_low", "out_mid"]


def corpora(n_speakers: int = 4, per_speaker: int = 12, n_out: int = 45, seed: int = 0):
    """In-context rows (two classes, speakers) and an out-of-context corpus whose three
    labels never occur in-context."""
    rng = np.random.default_rng(seed)
    n = n_speakers * per_speaker
    y = np.array(["anger", "neutral"] * (n // 2))
    X = rng.normal(size=(n, 6))
    X[:, 0] += np.where(y == "anger", 2.0, -2.0)
    speakers = np.repeat([f"spk{i}" for i in range(n_speakers)], per_speaker)
    y_out = np.array(OUT_CLASSES * (n_out // 3))
    X_out = rng.normal(size=(n_out, 6)) + 0.5
    X_out[:, 0] += np.select([y_out == "out_high", y_out == "out_low"], [2.0, -2.0], 0.0)
    return X, y, speakers, X_out, y_out


# ------------------------------------------------------------------ the AAE's prior


def test_adversarial_training_moves_the_code_toward_the_prior():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(5, 20))
    X = np.tanh(rng.normal(size=(300, 5)) @ W / 2) + 0.1 * rng.normal(size=(300, 20))
    X = (X - X.mean(0)) / X.std(0)
    settings = {"code_size": 4, "hidden_sizes": (32, 32), "epochs": 20, "batch_size": 32}
    aae = AdversarialAutoencoder(**settings, lr=2e-3, random_state=0).fit(X)
    unregularised = AdversarialAutoencoder(
        **settings, lr=2e-3, adversarial_weight=0.0, random_state=0
    ).fit(X)

    assert len(aae.history_) == 20
    start, end = aae.initial_code_statistics_, aae.history_[-1]
    # measured: code_kl 9.08 -> 0.23 with the adversary, 4.2 without it (seed 0)
    assert end["code_kl"] < 0.1 * start["code_kl"]
    assert end["code_kl"] < aae.history_[0]["code_kl"]
    assert end["code_cov_dev"] < start["code_cov_dev"]
    assert end["code_kl"] < 0.25 * unregularised.history_[-1]["code_kl"]
    assert end["code_cov_dev"] < 0.25 * unregularised.history_[-1]["code_cov_dev"]
    # the discriminator is fooled at the end (chance is 0.5) but not without the adversary
    assert (
        end["discriminator_accuracy"] < 0.65 < unregularised.history_[-1]["discriminator_accuracy"]
    )


# --------------------------------------------------------- kNN out-of-context labels


def test_neighbour_labels_are_the_nearest_out_of_context_codes():
    codes = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    codes_out = np.array([[5.0, 0.2], [0.1, 2.0], [3.0, 3.1], [-1.0, 0.0]])
    labels_out = np.array([[7.0], [0.0], [7.0], [0.0]])
    indices, labels = neighbour_labels(codes, codes_out, labels_out, k=2)
    assert indices.tolist() == [[0, 2], [1, 2], [2, 1]]
    assert labels.ravel().tolist() == [7.0, 3.5, 3.5]
    with pytest.raises(ValueError, match="n_neighbors=5"):
        neighbour_labels(codes, codes_out, labels_out, k=5)


def _cosine_top_k(codes: np.ndarray, codes_out: np.ndarray, k: int) -> list[set[int]]:
    a = codes / np.linalg.norm(codes, axis=1, keepdims=True)
    b = codes_out / np.linalg.norm(codes_out, axis=1, keepdims=True)
    return [set(np.argsort(-row)[:k].tolist()) for row in a @ b.T]


def test_auxiliary_labels_come_from_the_out_of_context_set_only():
    X, y, _, X_out, y_out = corpora()
    model = EnrichedAAEClassifier(**SMALL, epochs=3, random_state=0)
    model.fit(X, y, X_out=X_out, y_out=y_out)

    assert model.aux_classes_.tolist() == OUT_CLASSES  # no in-context class among them
    assert model.neighbours_.shape == (len(X), 3)
    assert model.neighbours_.min() >= 0 and model.neighbours_.max() < len(X_out)
    one_hot = (y_out[:, None] == np.array(OUT_CLASSES)).astype(float)
    np.testing.assert_array_equal(model.aux_labels_, one_hot[model.neighbours_].mean(1))
    # the neighbours are the K most cosine-similar *out-of-context* codes
    codes = model.pretrain_aae_.transform(model.scaler_.transform(X))
    codes_out = model.pretrain_aae_.transform(model.out_scaler_.transform(X_out))
    expected = _cosine_top_k(codes, codes_out, 3)
    assert [set(row) for row in model.neighbours_.tolist()] == expected
    # the enriched AAE's auxiliary head was trained on exactly these targets
    assert model.aae_.auxiliary_size_ == 3

    # numeric labels (e.g. binarised arousal/valence) with a value never seen in-context
    y_numeric = np.stack([np.where(y_out == "out_high", 7.0, 0.0), np.full(len(y_out), 7.0)], 1)
    model.fit(X, y, X_out=X_out, y_out=y_numeric)
    assert model.aux_classes_ is None
    np.testing.assert_allclose(model.aux_labels_, y_numeric[model.neighbours_].mean(1))
    assert set(np.round(model.aux_labels_[:, 0] * 3 / 7).tolist()) <= {0.0, 1.0, 2.0, 3.0}
    assert (model.aux_labels_[:, 1] == 7.0).all()


# ---------------------------------------------------------- no test-fold speaker leaks


def _loso_predictions(make_model, X, y, speakers, *, sizes, fit_params) -> None:
    """Leave-one-speaker-out with each training fold also cut to ``sizes`` (the ``reduced``
    protocol's cuts): one fresh model per fold and size, predicting the test fold."""
    for train, test, _ in leave_one_speaker_out(speakers):
        for size in sizes:
            subset = reduced_sample(train, y, size, 0)
            make_model().fit(X[subset], y[subset], **fit_params).predict(X[test])


@pytest.fixture
def fit_log(monkeypatch):
    """Every EnrichedAAEClassifier fit: its X, the X of each inner learned step, and the
    rows it was later asked to predict."""
    log: list[dict] = []

    def record_inner(cls: type, name: str) -> None:
        original = cls.fit

        def fit(self, X, *args, **kwargs):
            if log and log[-1]["open"]:
                log[-1]["inner"].append((name, np.array(X, dtype=np.float64)))
            return original(self, X, *args, **kwargs)

        monkeypatch.setattr(cls, "fit", fit)

    for cls, name in (
        (StandardScaler, "scaler"),
        (AdversarialAutoencoder, "aae"),
        (SelectKBest, "selection"),
        (SVC, "svm"),
    ):
        record_inner(cls, name)

    original_fit, original_predict = EnrichedAAEClassifier.fit, EnrichedAAEClassifier.predict

    def fit(self, X, y, **kwargs):
        entry = {"model": self, "X": np.array(X, dtype=np.float64), "inner": [], "open": True}
        entry["predicted"] = []
        log.append(entry)
        try:
            return original_fit(self, X, y, **kwargs)
        finally:
            entry["open"] = False

    def predict(self, X):
        next(e for e in log if e["model"] is self)["predicted"].append(np.array(X, float))
        return original_predict(self, X)

    monkeypatch.setattr(EnrichedAAEClassifier, "fit", fit)
    monkeypatch.setattr(EnrichedAAEClassifier, "predict", predict)
    return log


def _steps_that_saw(entry: dict) -> list[str]:
    """Names of the learned steps whose training input held any predicted (test) row, in
    whatever representation that step works on (raw, scaled, code, selected code)."""
    model = entry["model"]
    test = np.concatenate(entry["predicted"])
    scaled = model.scaler_.transform(test)
    codes = model.aae_.transform(scaled)
    views = [test, scaled, codes, model.classifier_["select"].transform(codes)]
    views.append(model.classifier_[:-1].transform(codes))
    if model.pretrain_aae_ is not None:
        views.append(model.pretrain_aae_.transform(scaled))
    seen = []
    for name, rows in [("fit X", entry["X"]), *entry["inner"]]:
        for view in views:
            if view.shape[1] != rows.shape[1]:
                continue
            distance = np.abs(view[:, None, :] - rows[None, :, :]).max(-1).min(1)
            if (distance < 1e-4).any():
                seen.append(name)
                break
    return seen


def _check_fold(entry: dict, X: np.ndarray, speakers: np.ndarray, n_out: int) -> None:
    def speakers_of(rows: np.ndarray) -> set[str]:
        distance = np.abs(rows[:, None, :] - X[None, :, :]).max(-1)
        assert (distance.min(1) == 0).all(), "fit got rows that are not the original rows"
        return set(speakers[distance.argmin(1)].tolist())

    test_speakers = speakers_of(np.concatenate(entry["predicted"]))
    assert len(test_speakers) == 1
    assert not test_speakers & speakers_of(entry["X"])
    assert _steps_that_saw(entry) == []
    n_train = len(entry["X"])
    counts = [(name, len(rows)) for name, rows in entry["inner"]]
    assert counts == [
        ("scaler", n_train),  # in-context scaler
        ("scaler", n_out),  # out-of-context scaler
        ("aae", n_train + n_out),  # plain AAE: training fold + out-of-context corpus
        ("aae", n_train),  # enriched conditional AAE: training fold only
        ("selection", n_train),
        ("scaler", n_train),  # code scaler
        ("svm", n_train),
    ]
    assert entry["model"].scaler_.n_samples_seen_ == n_train


def test_no_learned_step_sees_a_test_fold_speaker(fit_log):
    X, y, speakers, X_out, y_out = corpora()

    def make_model():
        return EnrichedAAEClassifier(**SMALL, epochs=2, random_state=0)

    _loso_predictions(
        make_model,
        X,
        y,
        speakers,
        sizes=(1.0, 0.5),
        fit_params={"X_out": X_out, "y_out": y_out},
    )
    assert len(fit_log) == 8  # 4 speakers x 2 training sizes
    for entry in fit_log:
        _check_fold(entry, X, speakers, len(X_out))
    # the reduced folds hold half of the full training fold
    assert [len(e["X"]) for e in fit_log[:2]] == [36, 18]

    # the same inside scikit-learn's cross-validation, out-of-context data as fit params
    fit_log.clear()
    # skada (imported by other tests) turns scikit-learn's metadata routing on for the
    # whole process; this check is of the plain, unrouted call
    with sklearn.config_context(enable_metadata_routing=False):
        scores = cross_val_score(
            make_model(),
            X,
            y,
            groups=speakers,
            cv=LeaveOneGroupOut(),
            params={"X_out": X_out, "y_out": y_out},
        )
    assert len(scores) == len(fit_log) == 4
    for entry in fit_log:
        _check_fold(entry, X, speakers, len(X_out))

    # control: a fit that includes the test speaker is caught at every step
    fit_log.clear()
    leaky = make_model().fit(X, y, X_out=X_out, y_out=y_out)
    leaky.predict(X[speakers == "spk0"])
    assert _steps_that_saw(fit_log[0]) == ["fit X", "scaler", "aae", "aae", "selection"] + [
        "scaler",
        "svm",
    ]


# ------------------------------------------------------------ enriched versus plain


def test_plain_aae_is_unconditional_without_auxiliary_head():
    X, y, _, X_out, y_out = corpora()
    plain = EnrichedAAEClassifier(**SMALL, epochs=10, enrich=False, random_state=0)
    plain.fit(X, y, X_out=X_out, y_out=y_out)
    assert plain.pretrain_aae_ is None and plain.aux_labels_ is None
    assert plain.neighbours_ is None and plain.out_scaler_ is None
    assert plain.aae_.condition_size_ == 0 and "auxiliary" not in plain.aae_.modules_
    assert plain.aae_.modules_["decoder"].hidden[0][0].in_features == 4
    assert "auxiliary" not in plain.history_[-1]
    assert plain.aae_.reconstruct(X).shape == X.shape

    enriched = EnrichedAAEClassifier(**SMALL, epochs=10, random_state=0)
    enriched.fit(X, y, X_out=X_out, y_out=y_out)
    aae = enriched.aae_
    assert aae.condition_size_ == 2  # one-hot anger / neutral
    assert aae.modules_["decoder"].hidden[0][0].in_features == 4 + 2
    assert aae.modules_["auxiliary"].out.out_features == 3  # the out-of-context classes
    assert enriched.pretrain_aae_.condition_size_ == 0
    assert "auxiliary" not in enriched.pretrain_aae_.modules_
    auxiliary = [record["auxiliary"] for record in enriched.history_]
    assert auxiliary[-1] < auxiliary[0]
    with pytest.raises(ValueError, match="conditioned on 2 column"):
        aae.reconstruct(enriched.scaler_.transform(X))
    one_hot = np.eye(2)[np.searchsorted(enriched.classes_, y)]
    assert aae.reconstruct(enriched.scaler_.transform(X), one_hot).shape == X.shape
    assert aae.predict_auxiliary(enriched.scaler_.transform(X)).shape == (len(X), 3)
    assert enriched.score(X, y) > 0.7  # the classes are separable in feature 0


# ---------------------------------------------- sklearn API, determinism, signature


def test_clone_params_and_determinism():
    X, y, _, X_out, y_out = corpora()
    model = get_method("enriched_aae", **SMALL, epochs=3, random_state=0)
    assert isinstance(model, EnrichedAAEClassifier)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert twin.set_params(code_size=6).code_size == 6 and model.code_size == 4

    first = model.fit(X, y, X_out=X_out, y_out=y_out)
    codes, aux, predicted = first.transform(X), first.aux_labels_, first.predict(X)
    again = clone(model).fit(X, y, X_out=X_out, y_out=y_out)
    np.testing.assert_array_equal(again.transform(X), codes)
    np.testing.assert_array_equal(again.aux_labels_, aux)
    np.testing.assert_array_equal(again.predict(X), predicted)
    other = clone(model).set_params(random_state=1).fit(X, y, X_out=X_out, y_out=y_out)
    assert not np.allclose(other.transform(X), codes)

    # the shared fit signature: out-of-context as source, in-context as labelled target
    shared = clone(model).fit(
        X_out, y_out, X_target_labelled=X, y_target_labelled=y, eval_set=(X[:4], y[:4])
    )
    np.testing.assert_array_equal(shared.transform(X), codes)
    np.testing.assert_array_equal(shared.neighbours_, first.neighbours_)


def test_n_selected_keeps_the_best_code_dimensions():
    X, y, _, X_out, y_out = corpora()
    model = EnrichedAAEClassifier(**SMALL, epochs=2, n_selected=2, random_state=0)
    model.fit(X, y, X_out=X_out, y_out=y_out)
    assert len(model.selected_dims_) == 2
    scores = model.classifier_["select"].scores_
    assert set(model.selected_dims_) == set(np.argsort(-scores)[:2])
    model.set_params(n_selected=99, enrich=False).fit(X, y)  # above code_size: all kept
    assert model.selected_dims_.tolist() == [0, 1, 2, 3]


def test_clear_errors():
    X, y, _, X_out, y_out = corpora()
    model = EnrichedAAEClassifier(**SMALL, epochs=1, random_state=0)
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict(X)
    with pytest.raises(ValueError, match="out-of-context corpus as X_out, y_out"):
        model.fit(X, y)
    with pytest.raises(ValueError, match="X_target_labelled, y_target_labelled"):
        model.fit(X_out, y_out, X_target=X, eval_set=None)  # shared form, no target labels
    with pytest.raises(ValueError, match="X_out has 5 feature columns.*has 6"):
        model.fit(X, y, X_out=X_out[:, :5], y_out=y_out)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values in 1 row"):
        model.fit(bad, y, X_out=X_out, y_out=y_out)
    bad_out = X_out.copy()
    bad_out[0, 0] = np.inf
    with pytest.raises(ValueError, match="X_out has NaN or infinite"):
        model.fit(X, y, X_out=bad_out, y_out=y_out)
    with pytest.raises(ValueError, match="X_out has 45 rows but y_out has 44"):
        model.fit(X, y, X_out=X_out, y_out=y_out[:-1])
    with pytest.raises(ValueError, match="at least two classes"):
        model.fit(X, np.full(len(X), "anger"), X_out=X_out, y_out=y_out)
    with pytest.raises(ValueError, match="not both"):
        model.fit(X, y, X_out=X_out, y_out=y_out, X_target_labelled=X, y_target_labelled=y)
    with pytest.raises(ValueError, match="n_neighbors=50 must be between 1 and the 45"):
        clone(model).set_params(n_neighbors=50).fit(X, y, X_out=X_out, y_out=y_out)
    with pytest.raises(ValueError, match="n_selected='some'"):
        clone(model).set_params(n_selected="some").fit(X, y, X_out=X_out, y_out=y_out)
    model.fit(X, y, X_out=X_out, y_out=y_out)
    with pytest.raises(ValueError, match="X has 5 feature columns"):
        model.predict(X[:, :5])
    with pytest.raises(AttributeError, match="has no attribute 'predict_proba'"):
        model.predict_proba(X)


def test_predict_proba_with_a_calibrated_svm():
    X, y, _, X_out, y_out = corpora()
    model = EnrichedAAEClassifier(**SMALL, epochs=2, probability=True, random_state=0)
    proba = model.fit(X, y, X_out=X_out, y_out=y_out).predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    assert (model.classes_[proba.argmax(1)] == model.predict(X)).mean() > 0.9


def test_unlabelled_target_rows_join_the_plain_aae_only(fit_log):
    X, y, _, X_out, y_out = corpora()
    extra = np.random.default_rng(1).normal(size=(7, 6))
    model = EnrichedAAEClassifier(**SMALL, epochs=1, random_state=0)
    model.fit(X, y, X_out=X_out, y_out=y_out, X_target=extra)
    counts = [(name, len(rows)) for name, rows in fit_log[0]["inner"]]
    assert counts[2:4] == [("aae", 48 + 45 + 7), ("aae", 48)]
    assert model.neighbours_.shape[0] == model.aux_labels_.shape[0] == 48
    plain = clone(model).set_params(enrich=False).fit(X, y, X_target=extra)
    assert [(n, len(r)) for n, r in fit_log[1]["inner"]][1] == ("aae", 48 + 7)
    assert plain.classifier_["svm"].n_features_in_ == 4
