"""CADA: 2K domain-class categories, stage 2 updates the encoder only, class-wise
alignment measured in the encoder's representation, merged predictions, errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from problems import CLASSES
from problems import class_shifted_domain as _domain

from emoshift.methods import get_method
from emoshift.methods.baselines import SourceOnly
from emoshift.methods.cada import CADA
from emoshift.methods.estimator import FitArguments

# device: the tests read the networks with CPU tensors; test_cuda_path covers CUDA
FAST = dict(hidden_sizes=(16,), batch_size=32, lr=1e-2, max_epochs=15, random_state=0, device="cpu")


def _class_gap(Zs, ys, Zt, yt) -> float:
    """Mean distance between the source and target centroids of each class, divided by
    the overall spread (RMS distance of all points to their mean)."""
    Z = np.concatenate([Zs, Zt])
    spread = np.sqrt(((Z - Z.mean(0)) ** 2).sum(1).mean())
    gaps = [np.linalg.norm(Zs[ys == c].mean(0) - Zt[yt == c].mean(0)) for c in CLASSES]
    return float(np.mean(gaps) / spread)


class Recording(CADA):
    """Keeps a copy of the encoder as initialised, before any update."""

    def _epoch_started(self, epoch, data):
        if epoch == 0:
            self.initial_encoder_ = copy.deepcopy(self.modules_["encoder"]).eval()
        super()._epoch_started(epoch, data)


def _fit(**params):
    Xs, ys = _domain(40, False, 0)
    Xt, yt = _domain(4, True, 1)
    return Recording(**{**FAST, **params}).fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt)


def test_stage2_updates_the_encoder_only():
    model = _fit(max_epochs=1)
    Xs, ys = _domain(40, False, 0)
    Xt, yt = _domain(4, True, 1)
    data = model._prepare(FitArguments(Xs, ys, None, Xt, yt))
    batch = next(model._few_shot_batches(data))
    model.modules_.train()
    model.modules_.zero_grad(set_to_none=True)
    head = copy.deepcopy(model.modules_["head"].state_dict())
    encoder = copy.deepcopy(model.modules_["encoder"].state_dict())
    model._stage2_step(batch)
    assert all(p.grad is None for p in model.modules_["head"].parameters())
    assert all(torch.equal(v, model.modules_["head"].state_dict()[k]) for k, v in head.items())
    assert all(p.grad is not None for p in model.modules_["encoder"].parameters())
    moved = model.modules_["encoder"].state_dict()
    assert not torch.equal(encoder["blocks.0.0.weight"], moved["blocks.0.0.weight"])
    assert all(p.requires_grad for p in model.modules_["head"].parameters())  # restored


def test_stage2_labels_swap_the_domain_of_each_class():
    model = _fit(max_epochs=1)
    Xs, ys = _domain(40, False, 0)
    Xt, yt = _domain(4, True, 1)
    batch = next(model._few_shot_batches(model._prepare(FitArguments(Xs, ys, None, Xt, yt))))
    _, true, swapped = model._stage_inputs(batch)
    n, k = len(batch.y), len(CLASSES)
    assert torch.equal(true[:n], batch.y) and torch.equal(true[n:], batch.y_target_labelled + k)
    assert torch.equal(swapped[:n], batch.y + k) and torch.equal(swapped[n:], true[n:] - k)


def test_target_classes_move_towards_their_source_classes():
    model = _fit()
    source_only = SourceOnly(**FAST).fit(*_domain(40, False, 0))
    Xs, ys = _domain(50, False, 5)  # held-out examples of both domains
    Xt, yt = _domain(50, True, 3)
    with torch.no_grad():
        initial = [model.initial_encoder_(torch.as_tensor(X)).numpy() for X in (Xs, Xt)]
    before = _class_gap(initial[0], ys, initial[1], yt)
    after = _class_gap(model.transform(Xs), ys, model.transform(Xt), yt)
    baseline = _class_gap(source_only.transform(Xs), ys, source_only.transform(Xt), yt)
    # measured: before 0.72, source-only 0.66, CADA 0.41
    assert after < 0.8 * before and after < 0.8 * baseline, (before, baseline, after)
    assert model.score(Xt, yt) > source_only.score(Xt, yt) + 0.1


def test_prediction_merges_the_two_categories_of_each_class():
    model = _fit(max_epochs=2)
    Xt, _ = _domain(5, True, 3)
    with torch.no_grad():
        logits = model._category_logits(torch.as_tensor(Xt))
    p = torch.softmax(logits, 1).numpy()
    np.testing.assert_allclose(model.predict_proba(Xt), p[:, :4] + p[:, 4:], rtol=1e-5)
    assert {"stage1_loss", "stage2_loss", "domain_accuracy"} <= set(model.history_[0])


def test_max_merge_predicts_the_class_of_the_top_one_of_the_2k_categories():
    model = _fit(max_epochs=2, merge="max")
    Xt, _ = _domain(5, True, 3)
    out = [m for m in model.modules_["head"].modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():  # a case where the two rules disagree: class 0's mass split
        out.weight.zero_()  # over its two categories, class 1's in one
        out.bias.copy_(torch.tensor([1.0, -9, -9, -9, 1.0, 1.5, -9, -9]))
    assert set(model.predict(Xt)) == {model.classes_[1]}  # top category: d6, class 1
    model.set_params(merge="sum")  # P(class 0) = 2e / (2e + e^1.5) > P(class 1)
    assert set(model.predict(Xt)) == {model.classes_[0]}


def test_same_seed_same_model():
    a, b = _fit(max_epochs=3), _fit(max_epochs=3)
    Xt, _ = _domain(5, True, 3)
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))


def test_errors_are_clear():
    Xs, ys = _domain(10, False, 0)
    Xt, yt = _domain(2, True, 1)
    with pytest.raises(ValueError, match="pass X_target_labelled and y_target_labelled"):
        CADA(**FAST).fit(Xs, ys)
    keep = yt != "neutral"
    with pytest.raises(ValueError, match=r"labelled target examples; missing: \['neutral'\]"):
        CADA(**FAST).fit(Xs, ys, X_target_labelled=Xt[keep], y_target_labelled=yt[keep])
    with pytest.raises(ValueError, match="classification only"):
        CADA(task="regression").fit(Xs, Xs[:, 0], X_target_labelled=Xt, y_target_labelled=Xt[:, 0])
    assert isinstance(get_method("cada"), CADA)
