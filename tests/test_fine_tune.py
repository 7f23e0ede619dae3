"""Fine-tuning (head-only freezes the encoder, early stopping only on the passed
eval_set) and label-target with a few labelled examples per class."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from problems import class_shifted_domain as _domain
from sklearn.base import clone

from emoshift.methods import get_method
from emoshift.methods.baselines import SourceOnly, TargetOnly
from emoshift.methods.fine_tune import FineTune

# device: the tests read the networks with CPU tensors; test_cuda_path covers CUDA
FAST = dict(hidden_sizes=(16,), batch_size=32, lr=1e-2, max_epochs=15, random_state=0, device="cpu")


class Recording(FineTune):
    """Keeps the weights at the start of the fine-tune phase and what each phase saw."""

    def _train_loop(self, data, epochs, **kwargs):
        if kwargs["phase"] == "fine_tune":
            self.pretrained_ = copy.deepcopy(self.modules_.state_dict())
            self.tune_pool_ = (data.X_train.clone(), data.X_dev)
            encoder = self.modules_["encoder"].parameters()
            self.encoder_trainable_ = [p.requires_grad for p in encoder]
        super()._train_loop(data, epochs, **kwargs)


def _states_equal(a: dict, b: dict, prefix: str) -> bool:
    keys = [k for k in a if k.startswith(prefix)]
    return bool(keys) and all(torch.equal(a[k], b[k]) for k in keys)


def test_head_only_leaves_the_encoder_unchanged_and_all_changes_it():
    Xs, ys = _domain(40, False, 0)
    Xt, yt = _domain(3, True, 1)
    head = Recording(tune="head", fine_tune_epochs=10, **FAST)
    head.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt)
    final = head.modules_.state_dict()
    assert _states_equal(head.pretrained_, final, "encoder.")  # weights and BN statistics
    assert not _states_equal(head.pretrained_, final, "head.")
    # the frozen encoder gets no gradients at all (on CUDA a recurrent encoder in
    # evaluation mode cannot be backpropagated through), and is trainable again after
    assert head.encoder_trainable_ and not any(head.encoder_trainable_)
    assert all(p.requires_grad for p in head.modules_.parameters())
    whole = Recording(tune="all", fine_tune_epochs=10, **FAST)
    whole.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt)
    assert all(whole.encoder_trainable_)
    changed = [k for k in whole.pretrained_ if k.startswith("encoder.") and k.endswith("weight")]
    assert changed and all(
        not torch.equal(whole.pretrained_[k], whole.modules_.state_dict()[k]) for k in changed
    )


def test_early_stopping_uses_only_the_passed_eval_set():
    Xs, ys = _domain(40, False, 0)
    Xt, yt = _domain(3, True, 1)
    Xd, yd = _domain(10, True, 2)
    model = Recording(fine_tune_epochs=40, patience=3, **FAST)
    model.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt, eval_set=(Xd, yd))
    pool, dev = model.tune_pool_
    # every labelled target example trains; the dev data is exactly the eval_set
    assert len(pool) == len(Xt) and torch.equal(dev, torch.as_tensor(Xd))
    tune = [h for h in model.history_ if h["phase"] == "fine_tune"]
    assert all("dev_loss" in h for h in tune)
    best = min(h["dev_loss"] for h in tune)
    assert model.history_[model.best_epoch_]["dev_loss"] == best
    proba = torch.as_tensor(model.predict_proba(Xd))
    dev_loss = torch.nn.functional.nll_loss(
        proba.log(), torch.as_tensor(np.searchsorted(model.classes_, yd))
    )
    assert float(dev_loss) == pytest.approx(best, rel=1e-4)  # the best epoch was restored
    # without an eval_set: exactly fine_tune_epochs epochs, no dev loss in the phase
    plain = Recording(fine_tune_epochs=7, **FAST)
    plain.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt)
    tune = [h for h in plain.history_ if h["phase"] == "fine_tune"]
    assert len(tune) == 7 and not any("dev_loss" in h for h in tune)
    assert plain.tune_pool_[1] is None


def test_fine_tuning_recovers_target_accuracy_and_is_deterministic():
    Xs, ys = _domain(40, False, 0)
    Xt, yt = _domain(4, True, 1)
    Xtest, ytest = _domain(50, True, 3)
    source_only = SourceOnly(**FAST).fit(Xs, ys).score(Xtest, ytest)
    model = FineTune(fine_tune_epochs=30, **FAST)
    tuned = model.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt).score(Xtest, ytest)
    assert tuned > source_only + 0.1, (source_only, tuned)
    twin = clone(model).fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt)
    np.testing.assert_array_equal(twin.predict_proba(Xtest), model.predict_proba(Xtest))


def test_regression_is_supported():
    Xs, _ = _domain(40, False, 0)
    Xt, _ = _domain(3, True, 1)
    model = FineTune(task="regression", fine_tune_epochs=5, **FAST)
    model.fit(Xs, Xs[:, 0] - Xs[:, 1], X_target_labelled=Xt, y_target_labelled=Xt[:, 0])
    assert model.predict(Xt).shape == (len(Xt),)


def test_errors_are_clear():
    Xs, ys = _domain(10, False, 0)
    with pytest.raises(ValueError, match="pass X_target_labelled and y_target_labelled"):
        FineTune(**FAST).fit(Xs, ys)
    with pytest.raises(ValueError, match="tune='encoder'"):
        FineTune(tune="encoder", **FAST).fit(Xs, ys, X_target_labelled=Xs, y_target_labelled=ys)
    assert isinstance(get_method("fine_tune", tune="head"), FineTune)


@pytest.mark.parametrize("k", [2, 3, 4, 12])
def test_label_target_trains_on_a_few_examples_per_class(k):
    Xt, yt = _domain(k, True, 1)
    Xtest, ytest = _domain(30, True, 3)
    model = TargetOnly(**FAST).fit(None, None, X_target_labelled=Xt, y_target_labelled=yt)
    dev = "dev_loss" in model.history_[0]
    assert dev == (k >= 4)  # no dev split below two held-out examples
    assert model.score(Xtest, ytest) > 0.5  # chance is 0.25
