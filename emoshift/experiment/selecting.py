"""Choosing a method's hyper-parameters inside one trial, without the target test rows.

A trial whose spec carries a ``selection`` (from the config's ``selection:`` block) fits
a selector instead of one model: :class:`~emoshift.selection.UnsupervisedGridSelector`
for the unsupervised scorers (a held-out source development split, or under
``split_10_40_50`` the protocol's labelled target development split for ``source_dev``),
:class:`~emoshift.selection.FewShotCVSelector` for ``few_shot_cv`` (cross-validation on
the labelled target examples, grouped by speaker). :func:`select_model` never sees the
test rows; :func:`oracle_scores`, called after the choice is made, scores every grid
point on them for the report's "oracle" column, which is not a valid choice.

Example:
    >>> import numpy as np
    >>> from emoshift.methods import get_method
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 4)); y = np.where(X[:, 0] > 0, "anger", "neutral")
    >>> model = get_method("source_only", hidden_sizes=(8,), max_epochs=3, random_state=0)
    >>> selection = {"scorer": "source_dev", "grid": [{"lr": 0.001}, {"lr": 0.01}]}
    >>> chosen, record = select_model(model, selection, X, y, {"X_target": X[:20] + 1}, seed=0)
    >>> record["scorer"], record["picked"] in [{"lr": 0.001}, {"lr": 0.01}], len(record["scores"])
    ('source_dev', True, 2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from sklearn.base import BaseEstimator

from emoshift.metrics import uar
from emoshift.selection import FewShotCVSelector, UnsupervisedGridSelector
from emoshift.selection.guard import DEFAULT_MARGINS, NegativeTransferGuard


def _number(value: float) -> float | None:
    """A score as JSON can hold it (``None`` for NaN or infinity)."""
    return float(value) if math.isfinite(value) else None


def _grid(selection: Mapping[str, object]) -> list[dict]:
    """The selection's grid points as ``ParameterGrid`` takes them (one value each)."""
    return [{k: [v] for k, v in point.items()} for point in selection["grid"]] or [{}]


def select_model(
    estimator: BaseEstimator,
    selection: Mapping[str, object],
    X: object,
    y: object,
    fit_kwargs: Mapping[str, object],
    *,
    seed: int,
    groups: object | None = None,
) -> tuple[BaseEstimator, dict]:
    """Fit the selector that ``selection`` names; returns it and its record.

    ``fit_kwargs`` are what the protocol lets the method see (see
    :func:`emoshift.experiment.trial.fit_arguments`); ``groups`` are the speakers of the
    labelled target examples (``few_shot_cv`` keeps each speaker in one fold).

    The record holds the ``scorer``, the ``picked`` parameters, every grid point's
    ``scores`` and what the scorer read (``dev_set`` or ``cv``).
    """
    scorer = str(selection["scorer"])
    keep = bool(selection.get("oracle", False))
    if scorer == "guard":
        guard = _guarded(estimator, selection, seed).fit(X, y, **fit_kwargs)
        return guard, {
            "scorer": scorer,
            "picked": {"model": guard.decision_.action},
            "scores": [],
            "guard": guard.decision_.record(),
            "dev_set": _dev_set("eval_set" in fit_kwargs, guard.dev_fraction),
        }
    if scorer == "few_shot_cv":
        if "X_target_labelled" not in fit_kwargs:
            raise ValueError("few_shot_cv needs labelled target examples; use a few-shot protocol")
        selector = FewShotCVSelector(
            estimator,
            _grid(selection),
            cv=selection.get("cv", 5),
            repeats=int(selection.get("repeats", 1)),
            rule=str(selection.get("rule", "best")),
            keep_models=keep,
            random_state=seed,
        )
        selector.fit(X, y, groups=groups, **fit_kwargs)
        read = {"cv": f"{selector.cv_} over the labelled target examples"}
        if selector.rule_ is not None:
            read["rule"] = {"name": selector.rule, **selector.rule_}
    else:
        target_dev = scorer == "source_dev" and "eval_set" in fit_kwargs
        fraction = float(selection.get("dev_fraction", 0.2))
        selector = UnsupervisedGridSelector(
            estimator,
            _grid(selection),
            scorer,
            dev_fraction=fraction,
            keep_models=keep,
            scorer_params=selection.get("scorer_params") or None,
            random_state=seed,
        )
        selector.fit(
            X,
            y,
            X_target=fit_kwargs.get("X_target"),
            eval_set=fit_kwargs["eval_set"] if target_dev else None,
        )
        read = {"dev_set": _dev_set(target_dev, fraction)}
    record = {
        "scorer": scorer,
        "picked": dict(selector.best_params_),
        "scores": [
            {"params": dict(s["params"]), "score": _number(s["score"])}
            | ({"fold_scores": s["fold_scores"]} if "fold_scores" in s else {})
            for s in selector.scores_
        ],
        **read,
    }
    return selector, record


def _guarded(
    estimator: BaseEstimator, selection: Mapping[str, object], seed: int
) -> NegativeTransferGuard:
    """``estimator`` behind the negative-transfer guard the selection sets up (unfitted);
    once fitted, its ``decision_`` says what it decided and why."""
    # a config's guard block has every margin; a hand-made selection may leave some out
    options = {k: selection.get(k, default) for k, default in DEFAULT_MARGINS.items()}
    options["on_risk"] = selection["on_risk"]
    return NegativeTransferGuard(
        estimator,
        dev_fraction=float(selection.get("dev_fraction", 0.2)),
        random_state=seed,
        **options,
    )


def _dev_set(protocol_dev: bool, fraction: float) -> str:
    """What held-out scoring read: the protocol's labelled target development split, or
    ``fraction`` of the labelled source."""
    if protocol_dev:
        return "the labelled target development split of the protocol"
    return f"{fraction:g} of the labelled source held out"


def oracle_scores(
    models: Sequence[BaseEstimator],
    grid: Sequence[Mapping[str, object]],
    X_test: object,
    y_test: object,
    labels: Sequence[object] | None = None,
) -> list[dict]:
    """Each grid point's UAR on the target *test* rows: what an oracle that reads the test
    labels would pick. For the report's marked column only; it never feeds the choice.

    Example:
        >>> import numpy as np
        >>> class Constant:
        ...     def __init__(self, label): self.label = label
        ...     def predict(self, X): return np.full(len(X), self.label)
        >>> oracle_scores([Constant("a"), Constant("b")], [{"c": 1}, {"c": 2}],
        ...               np.zeros((3, 1)), np.array(["a", "a", "b"]))
        [{'params': {'c': 1}, 'uar': 0.5}, {'params': {'c': 2}, 'uar': 0.5}]
    """
    return [
        {"params": dict(params), "uar": _number(uar(y_test, model.predict(X_test), labels=labels))}
        for model, params in zip(models, grid)
    ]
