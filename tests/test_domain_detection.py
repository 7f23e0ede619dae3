"""The fitted domain classifier measured after training (Abdelwahab & Busso, Table III:
its accuracy in detecting the target test rows): what a trial records for DANN and
max-entropy, and the report's table of it (issue 20)."""

from __future__ import annotations

import numpy as np
import torch
from test_dann import TINY, _two_domains

from emoshift.experiment.trial import DomainSplit, run_trial
from emoshift.methods.baselines import SourceOnly
from emoshift.methods.dann import DANN
from emoshift.methods.max_entropy import MaxEntropySoftLabel
from emoshift.report.domain_tables import (
    BALANCED_HEADER,
    TARGET_HEADER,
    domain_classifier_table,
)

PLAIN_TINY = {k: v for k, v in TINY.items() if k != "domain_hidden_sizes"}


def _split(shift: float) -> DomainSplit:
    Xs, ys, Xt, yt = _two_domains(160, 0, shift=shift)
    return DomainSplit(
        X_source=Xs, y_source=ys, X_target=Xt[:80], y_target=yt[:80], X_test=Xt[80:], y_test=yt[80:]
    )


def test_predict_domain_reads_the_domain_classifier_target_side():
    split = _split(5.0)
    dann = DANN(**TINY, max_epochs=3, lambda_schedule="constant")
    dann.fit(split.X_source, split.y_source, X_target=split.X_target)
    with torch.no_grad():
        dann.modules_.eval()
        features = dann.modules_["encoder"](torch.as_tensor(split.X_test))
        logit = dann.domain_head_(features)[:, 0].numpy()
    assert np.array_equal(dann.predict_domain(split.X_test), (logit > 0).astype(int))
    labelled = np.arange(8)
    me = MaxEntropySoftLabel(**PLAIN_TINY, max_epochs=2, pretrain_epochs=1).fit(
        split.X_source,
        split.y_source,
        X_target=split.X_target,
        X_target_labelled=split.X_target[labelled],
        y_target_labelled=split.y_target[labelled],
    )
    with torch.no_grad():
        me.modules_.eval()
        logits = me.modules_["domain"](me.modules_["encoder"](torch.as_tensor(split.X_test)))
    assert np.array_equal(me.predict_domain(split.X_test), logits.argmax(1).numpy())
    source_only = SourceOnly(**PLAIN_TINY, max_epochs=1).fit(split.X_source, split.y_source)
    assert not hasattr(source_only, "domain_classifier_")


def test_a_trial_records_how_well_its_domain_classifier_tells_the_domains_apart():
    params = {k: v for k, v in TINY.items() if k != "random_state"}
    # lambda 0 but for the last epoch: the classifier learns the (separable) domains unopposed
    unopposed = {**params, "max_epochs": 8, "warmup_epochs": 7, "domain_lr": 1e-2}
    separable = run_trial("dann", unopposed, _split(5.0), seed=0).domain_classifier
    assert separable["target_test"] > 0.9 and separable["source"] > 0.9
    assert separable["balanced"] == (separable["target_test"] + separable["source"]) / 2
    # the same domains, unshifted: nothing to tell apart, near chance
    same = run_trial("dann", unopposed, _split(0.0), seed=0).domain_classifier
    assert abs(same["balanced"] - 0.5) < 0.15
    # a method without a domain classifier records none
    plain = {k: v for k, v in PLAIN_TINY.items() if k != "random_state"}
    source_only = run_trial("source_only", {**plain, "max_epochs": 2}, _split(5.0), seed=0)
    assert source_only.domain_classifier is None


def test_the_report_table_averages_the_recorded_accuracies_per_variant():
    trials = [
        {
            "variant": "dann",
            "pair": "a->b",
            "trial": t,
            "domain_classifier": {"target_test": v, "source": 0.9, "balanced": (v + 0.9) / 2},
        }
        for t, v in enumerate((0.6, 0.7))
    ] + [{"variant": "source_only", "pair": "a->b", "trial": 0}]
    table = domain_classifier_table(trials)
    assert table["variant"].tolist() == ["dann"]
    assert table[TARGET_HEADER].tolist() == ["65.0 ± 7.1"]
    assert table[BALANCED_HEADER].tolist() == ["77.5 ± 3.5"]
    assert domain_classifier_table(trials[2:]) is None
