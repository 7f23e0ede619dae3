"""Few-shot selection's fall-back (issue 21): the ``source_weight=0`` end of every
few-shot method's grid is ``label_target`` itself, so choosing it can never cost what
reading the source at weight 0 (fine-tuning from scratch at its own rate, CADA's and
FADA's source pairs, max-entropy's domain classifier) used to."""

from __future__ import annotations

import numpy as np
import pytest

from emoshift.methods import get_method
from emoshift.selection import FewShotCVSelector

SHARED = {"hidden_sizes": (8,), "max_epochs": 4, "random_state": 0}
EXTRA = {"fine_tune": {"fine_tune_epochs": 3}, "max_entropy": {}, "cada": {}, "fada": {}}


@pytest.fixture(scope="module")
def few_shot():
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(120, 4)).astype(np.float32)
    ys = np.where(Xs[:, 0] > 0, "anger", "sadness")
    Xt = (rng.normal(size=(12, 4)) + 1).astype(np.float32)
    yt = np.array(["anger", "sadness"] * 6)
    return Xs, ys, Xt, yt


@pytest.mark.parametrize("method", sorted(EXTRA))
def test_weight_zero_is_label_target_and_scores_as_it(method, few_shot):
    Xs, ys, Xt, yt = few_shot
    model = get_method(method, **SHARED, **EXTRA[method])
    selector = FewShotCVSelector(model, {"source_weight": [1.0, 0.0]}, cv=3, keep_models=True)
    selector.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt, X_target=Xt)
    fallback = selector.models_[1]
    assert type(fallback).__name__ == type(get_method("label_target")).__name__
    alone = get_method("label_target", **SHARED).fit(
        Xs, ys, X_target_labelled=Xt, y_target_labelled=yt, X_target=Xt
    )
    np.testing.assert_array_equal(fallback.predict_proba(Xs), alone.predict_proba(Xs))
    target_only = FewShotCVSelector(get_method("label_target", **SHARED), {}, cv=3)
    target_only.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt, X_target=Xt)
    assert selector.scores_[1]["score"] == target_only.best_score_
    # weight 1 is still the method itself
    assert type(selector.models_[0]).__name__ == type(model).__name__


def test_repeats_average_the_pooled_uar_of_several_fold_draws(few_shot):
    Xs, ys, Xt, yt = few_shot
    model = get_method("label_target", **SHARED)

    def score(repeats: int, seed: int = 0) -> float:
        selector = FewShotCVSelector(model, {}, cv=3, repeats=repeats, random_state=seed)
        return selector.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt).best_score_

    singles = [score(1, seed) for seed in range(3)]
    assert score(3) == pytest.approx(np.mean(singles))
    with pytest.raises(ValueError, match="repeats=2"):
        FewShotCVSelector(model, {}, cv="loo", repeats=2).fit(
            Xs, ys, X_target_labelled=Xt, y_target_labelled=yt
        )
