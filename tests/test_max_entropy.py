"""Max-entropy adversarial training with soft labels: soft labels are class averages of
the source model's tempered probabilities, the entropy term raises the domain
classifier's posterior entropy, batches are class-balanced and domain-balanced."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.special import softmax

from emoshift.methods import get_method
from emoshift.methods.estimator import FitArguments
from emoshift.methods.max_entropy import MaxEntropySoftLabel

CLASSES = np.array(["anger", "happiness", "neutral", "sadness"])
FAST = dict(
    hidden_sizes=(16,),
    batch_size=32,
    lr=1e-2,
    pretrain_epochs=5,
    max_epochs=20,
    random_state=0,
    device="cpu",  # the tests read the networks with CPU tensors; test_cuda_path covers CUDA
)


def _domain(n_per_class: int, target: bool, seed: int, sizes=(1, 1, 1, 1)):
    """Four Gaussian classes in 6-D; the target moves each class its own way and all of
    them by +3 in the last two (emotion-free) dimensions, an easy domain cue."""
    rng = np.random.default_rng(seed)
    means = np.eye(4, 6) * 2.5
    shifts = np.array([[1.5, 0, 0, 0, 1, 0], [0, -1.5, 0, 0, 0, 1], [1, 1, 0, 0, 0, -1], [0] * 6])
    y = np.repeat(np.arange(4), [n_per_class * s for s in sizes])
    X = means[y] + rng.normal(size=(len(y), 6))
    if target:
        X += 2.0 * shifts[y]
        X[:, 4:] += 3.0
    return X.astype(np.float32), CLASSES[y]


class Recording(MaxEntropySoftLabel):
    """Keeps the source model and its training data at the start of adaptation."""

    def _train_loop(self, data, epochs, **kwargs):
        if kwargs["phase"] == "adapt":
            self.source_model_ = copy.deepcopy(self.modules_).eval()
            self.source_data_ = (data.X_train.numpy(), data.y_train.numpy())
        super()._train_loop(data, epochs, **kwargs)


def _fit(cls=MaxEntropySoftLabel, sizes=(1, 1, 1, 1), **params):
    Xs, ys = _domain(40, False, 0, sizes)
    Xt, yt = _domain(4, True, 1)
    model = cls(**{**FAST, **params})
    return model.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt)


@pytest.mark.parametrize("tau", [1.0, 2.0, 5.0])
def test_soft_labels_are_class_averages_of_tempered_source_probabilities(tau):
    model = _fit(Recording, tau=tau, max_epochs=1)
    X, y = model.source_data_
    with torch.no_grad():
        net = model.source_model_
        logits = net["head"](net["encoder"](torch.as_tensor(X))).numpy()
    tempered = softmax(logits / tau, axis=1)
    expected = np.stack([tempered[y == k].mean(0) for k in range(4)])
    np.testing.assert_allclose(model.soft_labels_, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.soft_labels_.sum(1), 1, rtol=1e-5)
    # each class's soft label puts its largest mass on the class itself
    assert (model.soft_labels_.argmax(1) == np.arange(4)).all()


def test_higher_temperature_gives_softer_labels():
    def mean_entropy(p):
        return float(-(p * np.log(p)).sum(1).mean())

    sharp, soft = _fit(tau=1.0, max_epochs=1), _fit(tau=4.0, max_epochs=1)
    assert mean_entropy(soft.soft_labels_) > mean_entropy(sharp.soft_labels_) + 0.1


def test_entropy_term_raises_the_domain_classifier_entropy():
    def last_epochs(model, key):
        adapt = [h[key] for h in model.history_ if h["phase"] == "adapt"]
        return float(np.mean(adapt[-5:]))

    plain = _fit(lambda_conf=0.0, patience=None)
    confused = _fit(lambda_conf=1.0, patience=None)
    # measured (last 5 epochs): entropy 0.44 -> 0.62 nats (ln 2 = 0.69), DC accuracy 0.85 -> 0.66
    assert last_epochs(confused, "domain_entropy") > last_epochs(plain, "domain_entropy") + 0.08
    assert last_epochs(confused, "domain_accuracy") < last_epochs(plain, "domain_accuracy") - 0.05
    # without the term, the domain classifier grows surer over training
    adapt = [h["domain_entropy"] for h in plain.history_ if h["phase"] == "adapt"]
    assert adapt[-1] < adapt[0] - 0.1


def test_batches_balance_classes_and_domains():
    model = _fit(sizes=(1, 4, 1, 2), max_epochs=1)  # an imbalanced source
    Xs, ys = _domain(40, False, 0, (1, 4, 1, 2))
    Xt, yt = _domain(4, True, 1)
    Xu, _ = _domain(10, True, 2)
    data = model._prepare(FitArguments(Xs, ys, Xu, Xt, yt))
    counts = np.zeros((2, 4))
    for batch in model._few_shot_batches(data):
        assert len(batch.x) == len(batch.x_target_labelled) == len(batch.x_target) == 32
        counts[0] += np.bincount(batch.y.numpy(), minlength=4)
        counts[1] += np.bincount(batch.y_target_labelled.numpy(), minlength=4)
    shares = counts / counts.sum(1, keepdims=True)
    np.testing.assert_allclose(shares, 0.25, atol=0.07)  # raw source shares: .12 .5 .12 .25


def test_unlabelled_target_joins_and_same_seed_same_model():
    Xs, ys = _domain(40, False, 0)
    Xt, yt = _domain(4, True, 1)
    Xu, _ = _domain(10, True, 2)
    a, b = (
        MaxEntropySoftLabel(**{**FAST, "max_epochs": 3}).fit(
            Xs, ys, X_target=Xu, X_target_labelled=Xt, y_target_labelled=yt
        )
        for _ in range(2)
    )
    np.testing.assert_array_equal(a.predict_proba(Xu), b.predict_proba(Xu))
    assert {"emotion_loss", "soft_loss", "domain_loss", "domain_accuracy"} <= set(a.history_[-1])


def test_errors_are_clear():
    Xs, ys = _domain(10, False, 0)
    with pytest.raises(ValueError, match="pass X_target_labelled and y_target_labelled"):
        MaxEntropySoftLabel(**FAST).fit(Xs, ys)
    with pytest.raises(ValueError, match="classification only"):
        MaxEntropySoftLabel(task="regression").fit(
            Xs, Xs[:, 0], X_target_labelled=Xs, y_target_labelled=Xs[:, 0]
        )
    with pytest.raises(ValueError, match="tau=0"):
        MaxEntropySoftLabel(tau=0).fit(Xs, ys, X_target_labelled=Xs, y_target_labelled=ys)
    assert isinstance(get_method("max_entropy", tau=3.0), MaxEntropySoftLabel)
