"""FADA: the four pair groups hold the right class/domain relations, the DCD learns
them with the encoder frozen, and step 3 makes the encoder confuse G2 with G1."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from problems import CLASSES
from problems import class_shifted_domain as _domain

from emoshift.methods import get_method
from emoshift.methods.fada import FADA, GROUPS, make_pairs

FAST = dict(
    device="cpu",  # the test reads the networks with CPU tensors; test_cuda_path covers CUDA
    hidden_sizes=(16,),
    batch_size=32,
    lr=1e-2,
    pretrain_epochs=10,
    dcd_epochs=10,
    max_epochs=15,
    patience=None,
    random_state=0,
)


class Recording(FADA):
    """Keeps the networks as they are at the start of each phase."""

    def _train_loop(self, data, epochs, **kwargs):
        self.snapshots_ = getattr(self, "snapshots_", {})
        self.snapshots_[kwargs["phase"]] = copy.deepcopy(self.modules_).eval()
        super()._train_loop(data, epochs, **kwargs)


def _fit(**params):
    Xs, ys = _domain(40, False, 0)
    Xt, yt = _domain(4, True, 1)
    model = Recording(**{**FAST, **params})
    return model.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt), (Xs, ys, Xt, yt)


def test_pair_groups_have_the_right_class_and_domain_relations():
    rng = np.random.default_rng(0)
    ys = np.repeat([0, 1, 2], [30, 5, 1])  # imbalanced, one class with a single example
    yt = np.array([0, 1, 2, 2])
    groups = make_pairs(ys, yt, 300, rng)
    assert len(groups) == len(GROUPS) == 4
    for (anchors, partners), (_, partner_domain, same) in zip(groups, GROUPS):
        assert len(anchors) == len(partners) == 300
        partner_y = ys[partners] if partner_domain == "source" else yt[partners]
        assert ((ys[anchors] == partner_y) == same).all()
        # anchors are class-balanced (raw source shares: .83 .14 .03)
        np.testing.assert_allclose(np.bincount(ys[anchors]) / 300, 1 / 3, atol=0.08)
    anchors, partners = groups[0]
    assert (anchors != partners)[ys[anchors] != 2].all()  # G1 partners differ from anchors
    assert partners.max() < len(ys) and groups[1][1].max() < len(yt)
    with pytest.raises(ValueError, match=r"target examples of every class; missing \[2\]"):
        make_pairs(ys, np.array([0, 1]), 5, rng)


def _group_predictions(modules, dcd, Xs, ys, Xt, yt) -> list[np.ndarray]:
    """The DCD's group for 500 fresh pairs of each group."""
    groups = make_pairs(
        np.searchsorted(CLASSES, ys), np.searchsorted(CLASSES, yt), 500, np.random.default_rng(9)
    )
    encode = modules["encoder"]
    out = []
    with torch.no_grad():
        for (a, b), (_, partner_domain, _) in zip(groups, GROUPS):
            partner = Xs[b] if partner_domain == "source" else Xt[b]
            pair = torch.cat([encode(torch.as_tensor(Xs[a])), encode(torch.as_tensor(partner))], 1)
            out.append(dcd(pair).argmax(1).numpy())
    return out


def test_dcd_learns_the_groups_on_a_frozen_encoder():
    model, _ = _fit(max_epochs=1)
    before, after = model.snapshots_["dcd"], model.snapshots_["adapt"]
    for key, value in before["encoder"].state_dict().items():
        assert torch.equal(value, after["encoder"].state_dict()[key]), key
    dcd = [h for h in model.history_ if h["phase"] == "dcd"]
    assert dcd[-1]["dcd_loss"] < dcd[0]["dcd_loss"]
    assert dcd[-1]["dcd_accuracy"] > 0.7  # chance 0.25; measured 0.84


def test_step3_makes_the_encoder_confuse_g2_with_g1():
    model, data = _fit()
    step2 = model.snapshots_["adapt"]  # encoder and DCD at the end of step 2
    before = _group_predictions(step2, step2["dcd"], *data)
    after = _group_predictions(model.modules_, step2["dcd"], *data)
    g2_as_g1 = [(p[1] == 0).mean() for p in (before, after)]
    g4_as_g3 = [(p[3] == 2).mean() for p in (before, after)]
    # measured: G2 pairs taken for G1 by the step-2 DCD 5% -> 85%; G4 for G3 10% -> 86%
    assert g2_as_g1[1] > g2_as_g1[0] + 0.4, g2_as_g1
    assert g4_as_g3[1] > g4_as_g3[0] + 0.4, g4_as_g3
    # the same-class vs different-class distinction survives
    assert (after[0] <= 1).mean() > 0.7 and (after[2] >= 2).mean() > 0.7
    assert model.score(*_domain(50, True, 3)) > 0.8


def test_same_seed_same_model():
    (a, _), (b, _) = _fit(max_epochs=2), _fit(max_epochs=2)
    Xt, _ = _domain(5, True, 3)
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    assert [h["phase"] for h in a.history_] == ["pretrain"] * 10 + ["dcd"] * 10 + ["adapt"] * 2


def test_errors_are_clear():
    Xs, ys = _domain(10, False, 0)
    Xt, yt = _domain(2, True, 1)
    with pytest.raises(ValueError, match="pass X_target_labelled and y_target_labelled"):
        FADA(**FAST).fit(Xs, ys)
    keep = yt != "happiness"
    with pytest.raises(ValueError, match=r"labelled target examples; missing: \['happiness'\]"):
        FADA(**FAST).fit(Xs, ys, X_target_labelled=Xt[keep], y_target_labelled=yt[keep])
    with pytest.raises(ValueError, match="classification only"):
        FADA(task="regression").fit(Xs, Xs[:, 0], X_target_labelled=Xt, y_target_labelled=Xt[:, 0])
    assert isinstance(get_method("fada", gamma=0.5), FADA)
