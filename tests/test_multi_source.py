"""Multi-source training: the source rows' domains reach the methods that read them; DANN's
domain classifier becomes (K + 1)-way and Deep CORAL aligns each source domain with the
target; with one source domain both are their single-source selves, number for number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import emoshift.methods.coral as coral_module
from emoshift.experiment.data import ExperimentData
from emoshift.experiment.protocols import make_split
from emoshift.experiment.trial import DomainSplit, fit_arguments
from emoshift.methods import check_method_params, method_needs
from emoshift.methods.alignment import coral_loss, per_source_coral_loss
from emoshift.methods.coral import DeepCORAL
from emoshift.methods.dann import DANN

SMALL = dict(hidden_sizes=(8,), batch_size=16, max_epochs=3, device="cpu", random_state=0)


def _sources(n_per_domain: int = 40, n_domains: int = 3, seed: int = 0):
    """``n_domains`` source domains shifted apart, an unlabelled target, two classes."""
    rng = np.random.default_rng(seed)
    X = np.concatenate(
        [rng.normal(size=(n_per_domain, 5)) + [d, 0, 0, 0, 0] for d in range(n_domains)]
    ).astype(np.float32)
    y = np.where(X[:, 1] > 0, "anger", "neutral")
    domains = np.repeat([f"corpus{d}" for d in range(n_domains)], n_per_domain)
    X_target = (rng.normal(size=(60, 5)) + [0, 0, 2, 0, 0]).astype(np.float32)
    return X, y, domains, X_target


def _history(model):
    return [{k: v for k, v in epoch.items() if k != "time_s"} for epoch in model.history_]


def test_dann_domain_head_has_k_plus_one_outputs():
    X, y, domains, X_target = _sources(n_domains=3)
    model = DANN(multi_source=True, warmup_epochs=0, **SMALL)
    model.fit(X, y, X_target=X_target, source_domains=domains)
    assert model.domain_head_.out.out_features == 4  # 3 sources + the target
    assert model.source_domains_.tolist() == ["corpus0", "corpus1", "corpus2"]
    logits = model.domain_head_(torch.zeros(7, model.modules_["encoder"].output_size))
    assert logits.shape == (7, 4)
    assert {"domain_acc_source", "domain_acc_target"} <= set(model.history_[-1])


def test_dann_domain_loss_is_cross_entropy_over_k_plus_one_classes():
    X, y, domains, X_target = _sources(n_domains=3)
    model = DANN(multi_source=True, warmup_epochs=0, **SMALL)
    model.fit(X, y, X_target=X_target, source_domains=domains).modules_.eval()
    features = torch.randn(10, model.modules_["encoder"].output_size)
    codes = torch.tensor([0, 1, 2, 2, 1, 0])
    loss, correct = model._domain_loss(features, 6, 1.0, codes)
    logits = model.domain_head_(features)
    expected_classes = torch.tensor([0, 1, 2, 2, 1, 0, 3, 3, 3, 3])  # target is class K = 3
    assert torch.isclose(loss, nn.functional.cross_entropy(logits, expected_classes))
    assert torch.equal(correct, logits.argmax(1) == expected_classes)


@pytest.mark.parametrize("cls", [DANN, DeepCORAL])
def test_one_source_domain_is_the_single_source_method(cls):
    X, y, _, X_target = _sources(n_domains=2)
    extra = {"warmup_epochs": 0} if cls is DANN else {}
    single = cls(**SMALL, **extra).fit(X, y, X_target=X_target)
    multi = cls(multi_source=True, **SMALL, **extra)
    multi.fit(X, y, X_target=X_target, source_domains=["only"] * len(X))
    assert multi.source_domains_ is None
    assert _history(multi) == _history(single)
    np.testing.assert_array_equal(multi.predict_proba(X_target), single.predict_proba(X_target))


@pytest.mark.parametrize("cls", [DANN, DeepCORAL])
def test_source_domains_are_ignored_without_multi_source(cls):
    X, y, domains, X_target = _sources()
    extra = {"warmup_epochs": 0} if cls is DANN else {}
    plain = cls(**SMALL, **extra).fit(X, y, X_target=X_target)
    told = cls(**SMALL, **extra).fit(X, y, X_target=X_target, source_domains=domains)
    assert _history(told) == _history(plain)


def test_per_source_coral_with_one_source_equals_coral():
    rng = np.random.default_rng(0)
    source = torch.tensor(rng.normal(size=(30, 4)))
    target = torch.tensor(rng.normal(size=(20, 4)) * [1, 3, 1, 1])
    one = per_source_coral_loss(source, torch.zeros(30, dtype=torch.long), target)
    assert torch.equal(one, coral_loss(source, target))


def test_per_source_coral_averages_each_source_against_the_target():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(12, 3))
    b = rng.normal(size=(9, 3)) * [2, 1, 1]
    t = rng.normal(size=(15, 3)) * [1, 1, 3]
    source = torch.tensor(np.concatenate([a, b, rng.normal(size=(1, 3))]))
    domains = torch.tensor([0] * 12 + [1] * 9 + [2])  # domain 2: one row, left out

    def by_hand(s):
        d = s.shape[1]
        return ((np.cov(s, rowvar=False) - np.cov(t, rowvar=False)) ** 2).sum() / (4 * d * d)

    loss = per_source_coral_loss(source, domains, torch.tensor(t))
    assert float(loss) == pytest.approx((by_hand(a) + by_hand(b)) / 2)
    pooled = per_source_coral_loss(source[-2:], torch.tensor([0, 1]), torch.tensor(t))
    assert torch.equal(pooled, coral_loss(source[-2:], torch.tensor(t)))


def test_deep_coral_multi_source_aligns_per_source(monkeypatch):
    X, y, domains, X_target = _sources(n_domains=2)
    calls = []

    def spy(source, codes, target):
        calls.append(sorted(set(codes.tolist())))
        return per_source_coral_loss(source, codes, target)

    monkeypatch.setattr(coral_module, "per_source_coral_loss", spy)
    model = DeepCORAL(multi_source=True, validation_fraction=0.0, **SMALL)
    model.fit(X, y, X_target=X_target, source_domains=domains)
    assert model.source_domains_.tolist() == ["corpus0", "corpus1"]
    assert calls and all(c == [0, 1] for c in calls)  # every batch mixes both sources
    assert len(calls) == SMALL["max_epochs"] * (len(X) // SMALL["batch_size"])


def test_needs_declare_source_domains_only_with_multi_source():
    for name in ("dann", "coral"):
        assert not method_needs(name).source_domains
        assert method_needs(name, {"multi_source": True}).source_domains
    assert not method_needs("source_only").source_domains
    check_method_params("dann", {"multi_source": True})


def test_the_trial_passes_source_domains_only_to_methods_that_read_them():
    X, y, domains, X_target = _sources()
    split = DomainSplit(
        X_source=X,
        y_source=y,
        X_target=X_target,
        y_target=np.array(["anger"] * len(X_target)),
        X_test=X_target,
        y_test=np.array(["anger"] * len(X_target)),
        source_domains=domains,
    )
    passed = fit_arguments("dann", split, {"multi_source": True})["source_domains"]
    assert passed is domains
    assert "source_domains" not in fit_arguments("dann", split, {})
    assert "source_domains" not in fit_arguments("source_only", split, {})


def test_make_split_gives_the_source_rows_their_domain_column():
    table = pd.DataFrame(
        {
            "domain": ["a"] * 4 + ["b"] * 4 + ["t"] * 8,
            "speaker": list("ppqqrrss") + list("eeffgghh"),
            "label": ["x", "y"] * 8,
        }
    )
    data = ExperimentData(table, np.arange(32.0).reshape(16, 2), table.label.to_numpy())
    split = make_split(
        data,
        "domain in ['a', 'b']",
        "domain == 't'",
        "cross_domain",
        trial=0,
        seed=0,
        domain_column="domain",
    )
    assert split.source_domains.tolist() == ["a"] * 4 + ["b"] * 4
    np.testing.assert_array_equal(split.X_source, data.X[:8])
    unsplit = make_split(
        data, "domain in ['a', 'b']", "domain == 't'", "cross_domain", trial=0, seed=0
    )
    assert unsplit.source_domains is None


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("domains", "match"),
    [
        (["a", "b"], r"source_domains must hold one domain per source row \(120\)"),
        (["a", None] * 60, r"source_domains is missing for source rows \[1, 3"),
    ],
)
def test_bad_source_domains_are_named(domains, match):
    X, y, _, X_target = _sources()
    with pytest.raises(ValueError, match=match):
        DANN(multi_source=True, warmup_epochs=0, **SMALL).fit(
            X, y, X_target=X_target, source_domains=domains
        )


def test_a_saved_multi_source_dann_keeps_its_k_plus_one_head(tmp_path):
    from test_bundle_roundtrip import _assert_same_outputs, _round_trip

    X, y, domains, X_target = _sources(n_domains=3)
    model = DANN(multi_source=True, warmup_epochs=0, **SMALL)
    model.fit(X, y, X_target=X_target, source_domains=domains)
    loaded = _round_trip(model, "dann", tmp_path).estimator
    assert loaded.source_domains_.tolist() == model.source_domains_.tolist()
    assert loaded.domain_head_.out.out_features == 4
    _assert_same_outputs(model, loaded, X_target)
