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


def _scripted(model, per_fold: dict[float, list[float]], grid: list[float], rule: str):
    """A selector whose cross-validation returns ``per_fold[source_weight]`` (one draw of
    three folds; the pooled score is their mean), so the rule is checked on known numbers."""
    selector = FewShotCVSelector(model, {"source_weight": grid}, cv=3, rule=rule)

    def cv_score(params, folds, *_):
        scores = per_fold[params["source_weight"]]
        return float(np.mean(scores)), scores

    selector._cv_score = cv_score
    return selector


@pytest.mark.parametrize(
    ("weight_one", "picked_by_one_se"),
    [
        ([0.9, 0.9, 0.9], 1.0),  # 0.4 better in every fold: a gain far above its noise
        ([1.0, 0.4, 0.9], 0.0),  # 0.067 better on average, differences 0.4, -0.3, 0.1
    ],
)
def test_one_se_keeps_the_fall_back_unless_the_gain_exceeds_one_standard_error(
    few_shot, weight_one, picked_by_one_se
):
    Xs, ys, Xt, yt = few_shot
    model = get_method("fine_tune", **SHARED, **EXTRA["fine_tune"])
    fall_back = [0.6, 0.7, 0.8] if picked_by_one_se == 0.0 else [0.5, 0.5, 0.5]
    per_fold = {1.0: weight_one, 0.0: fall_back}
    fitted = {}
    for rule in ("best", "one_se"):
        selector = _scripted(model, per_fold, [1.0, 0.0], rule)
        fitted[rule] = selector.fit(Xs, ys, X_target_labelled=Xt, y_target_labelled=yt)
    assert fitted["best"].best_params_ == {"source_weight": 1.0}  # the higher mean
    one_se = fitted["one_se"]
    assert one_se.best_params_ == {"source_weight": picked_by_one_se}
    differences = np.subtract(weight_one, per_fold[0.0])
    assert one_se.rule_["se"] == pytest.approx(np.std(differences, ddof=1) / np.sqrt(3))
    assert one_se.rule_["kept"] == (picked_by_one_se == 1.0)
    if picked_by_one_se == 0.0:
        assert type(one_se.best_estimator_) is type(get_method("label_target"))


def test_one_se_needs_the_weight_zero_point_and_a_known_rule(few_shot):
    Xs, ys, Xt, yt = few_shot
    model = get_method("fine_tune", **SHARED, **EXTRA["fine_tune"])
    with pytest.raises(ValueError, match="add 0.0 to the grid's source_weight"):
        FewShotCVSelector(model, {"source_weight": [1.0, 0.5]}, cv=3, rule="one_se").fit(
            Xs, ys, X_target_labelled=Xt, y_target_labelled=yt
        )
    with pytest.raises(ValueError, match="rule='median'"):
        FewShotCVSelector(model, {"source_weight": [1.0, 0.0]}, cv=3, rule="median").fit(
            Xs, ys, X_target_labelled=Xt, y_target_labelled=yt
        )
