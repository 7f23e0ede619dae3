"""A guard against negative transfer: keep source-only where adapting looks harmful.

Adaptation sometimes moves a model to a worse place on the target than no adaptation.
The failures seen on new corpora share a symptom that needs no target label: the adapted
model's predictions on the target pile up on one or two classes, far more than the
source-only model's do. :func:`guard_decision` compares an adapted model with a
source-only *reference* trained on the same source rows, on what an unsupervised
protocol allows (:class:`~emoshift.selection.scorers.SelectionData`: labelled source
development rows, unlabelled target rows), by two signals:

- **collapse**: the *class balance* of each model's predictions on the unlabelled
  target rows (:func:`class_balance`, the entropy of the predicted-class histogram
  divided by ``log K``: 1 when every class is predicted equally often, 0 when one class
  takes every row). The adapted model is flagged when its balance is below the
  reference's by more than ``balance_margin``. Comparing with the reference, not with a
  fixed level, lets a target whose classes really are unequal pass.
- **source damage**: the UAR of each model on the source development rows. The adapted
  model is flagged when it is below the reference's by more than ``source_margin``:
  adaptation has bought its alignment by forgetting the emotion task.

A flagged model is replaced by the reference (``on_risk="fallback"``) or averaged with it
(``on_risk="combine"``: the mean of both models' class probabilities); an unflagged one is
kept. :class:`NegativeTransferGuard` wraps any unsupervised method with it: it fits the
method and the reference, decides, and predicts with what it decided. Nothing here reads
a target label.

Example:
    >>> import numpy as np
    >>> class Constant:
    ...     classes_ = np.array(["a", "b"])
    ...     def __init__(self, share): self.share = share
    ...     def predict(self, X):
    ...         return np.where(np.arange(len(X)) < self.share * len(X), "a", "b")
    >>> data = SelectionData(X_dev=np.zeros((4, 1)), y_dev=np.array(["a", "a", "b", "b"]),
    ...                      X_target=np.zeros((10, 1)))
    >>> guard_decision(Constant(0.9), Constant(0.5), data).action
    'fallback'
    >>> guard_decision(Constant(0.5), Constant(0.5), data).action
    'keep'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import train_test_split

from emoshift.metrics import uar
from emoshift.selection.grid import baseline_like
from emoshift.selection.scorers import SelectionData

#: what a flagged adapted model becomes: the reference alone, or the mean of both
ON_RISK = ("fallback", "combine")


def class_balance(predictions: object, classes: object) -> float:
    """Entropy of the predicted-class histogram over ``classes``, divided by ``log K``.

    1.0 when every class is predicted equally often, 0.0 when one class takes every row.

    Example:
        >>> class_balance(["a", "b", "a", "b"], ["a", "b"]), class_balance(["a"] * 4, ["a", "b"])
        (1.0, 0.0)
    """
    classes = list(classes)
    if len(classes) < 2:
        raise ValueError(f"class balance needs at least two classes, got {classes}")
    predicted = np.asarray(predictions).tolist()
    counts = np.array([predicted.count(c) for c in classes], dtype=float)
    if counts.sum() == 0:
        raise ValueError("class balance of no predictions: the target has no rows")
    share = counts[counts > 0] / counts.sum()
    return float((share * np.log(1 / share)).sum() / np.log(len(classes)))


@dataclass(frozen=True)
class GuardDecision:
    """What the guard decided for one trial, and the numbers it decided on.

    Attributes:
        action: ``"keep"`` (the adapted model), ``"fallback"`` (the source-only
            reference) or ``"combine"`` (the mean of both models' probabilities).
        reason: one sentence saying why, with the numbers.
        adapted_balance, reference_balance: :func:`class_balance` of each model's
            predictions on the unlabelled target rows.
        adapted_source_uar, reference_source_uar: each model's UAR on the source
            development rows.
        top_class, top_share: the class the adapted model predicts most on the target,
            and its share of the target rows.
    """

    action: str
    reason: str
    adapted_balance: float
    reference_balance: float
    adapted_source_uar: float
    reference_source_uar: float
    top_class: str
    top_share: float

    def record(self) -> dict:
        """The decision as a JSON-ready dict (for results and reports)."""
        return asdict(self)


def guard_decision(
    adapted: object,
    reference: object,
    data: SelectionData,
    *,
    balance_margin: float = 0.1,
    source_margin: float = 0.1,
    on_risk: str = "fallback",
) -> GuardDecision:
    """Keep ``adapted``, or fall back to / combine with ``reference``, without target labels.

    Args:
        adapted: the fitted adapted classifier (``predict``, ``classes_``).
        reference: the fitted source-only classifier trained on the same source rows.
        data: source development rows (labelled) and unlabelled target rows.
        balance_margin: how far the adapted model's class balance on the target may fall
            below the reference's before it is flagged (collapse).
        source_margin: how far its source development UAR may fall below the
            reference's before it is flagged (source damage).
        on_risk: what a flagged model becomes, one of :data:`ON_RISK`.
    """
    if on_risk not in ON_RISK:
        raise ValueError(f"on_risk={on_risk!r}; choose one of {list(ON_RISK)}")
    if data.X_target is None:
        raise ValueError("the guard reads unlabelled target rows: pass X_target")
    classes = list(adapted.classes_)
    target_adapted = np.asarray(adapted.predict(data.X_target))
    balance = class_balance(target_adapted, classes)
    reference_balance = class_balance(reference.predict(data.X_target), classes)
    source = uar(data.y_dev, adapted.predict(data.X_dev))
    reference_source = uar(data.y_dev, reference.predict(data.X_dev))
    shares = [float(np.mean(target_adapted == c)) for c in classes]
    top = int(np.argmax(shares))
    reasons = []
    if balance < reference_balance - balance_margin:
        reasons.append(
            f"collapse: the adapted model predicts {shares[top]:.0%} of the target as "
            f"{classes[top]} (class balance {balance:.2f} against source-only's "
            f"{reference_balance:.2f}, margin {balance_margin:g})"
        )
    if source < reference_source - source_margin:
        reasons.append(
            f"source damage: source development UAR {source:.1%} against source-only's "
            f"{reference_source:.1%} (margin {source_margin:g})"
        )
    action = on_risk if reasons else "keep"
    reason = "; ".join(reasons) or (
        f"no sign of harm: class balance {balance:.2f} (source-only {reference_balance:.2f}), "
        f"source development UAR {source:.1%} (source-only {reference_source:.1%})"
    )
    return GuardDecision(
        action=action,
        reason=reason,
        adapted_balance=balance,
        reference_balance=reference_balance,
        adapted_source_uar=source,
        reference_source_uar=reference_source,
        top_class=str(classes[top]),
        top_share=shares[top],
    )


class NegativeTransferGuard(BaseEstimator):
    """Any unsupervised method, kept only where :func:`guard_decision` sees no harm.

    ``fit`` holds out ``dev_fraction`` of the source rows (stratified, seeded) unless
    ``eval_set`` gives development rows, fits ``estimator`` (adapting to ``X_target``) and
    ``reference`` (source-only) on the rest, and decides. Both models see the same rows
    and, when unseeded, the guard's seed.

    Args:
        estimator: an unfitted unsupervised emoshift method (e.g. ``get_method("mrd")``).
        reference: the unfitted source-only model; ``None`` builds ``source_only`` with
            the estimator's shared network and training settings.
        balance_margin, source_margin, on_risk: see :func:`guard_decision`.
        dev_fraction: share of the source rows held out when no ``eval_set`` is given.
        random_state: seed of the development split (and of unseeded models).

    Attributes:
        adapted_, reference_: the two fitted models.
        decision_: the :class:`GuardDecision`.
        classes_: the class labels.
    """

    def __init__(
        self,
        estimator: BaseEstimator,
        reference: BaseEstimator | None = None,
        *,
        balance_margin: float = 0.1,
        source_margin: float = 0.1,
        on_risk: str = "fallback",
        dev_fraction: float = 0.2,
        random_state: int = 0,
    ) -> None:
        self.estimator = estimator
        self.reference = reference
        self.balance_margin = balance_margin
        self.source_margin = source_margin
        self.on_risk = on_risk
        self.dev_fraction = dev_fraction
        self.random_state = random_state

    def _seeded(self, model: BaseEstimator) -> BaseEstimator:
        model = clone(model)
        if model.get_params().get("random_state", 0) is None:
            model.set_params(random_state=self.random_state)
        return model

    def _reference(self) -> BaseEstimator:
        if self.reference is not None:
            return self._seeded(self.reference)
        return self._seeded(baseline_like("source_only", self.estimator))

    def _split(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        if not 0 < self.dev_fraction < 1:
            raise ValueError(f"dev_fraction={self.dev_fraction} must be in (0, 1)")
        train, held = train_test_split(
            np.arange(len(y)),
            test_size=self.dev_fraction,
            random_state=self.random_state,
            stratify=y,
        )
        return X[train], y[train], X[held], y[held]

    def fit(
        self,
        X: object,
        y: object,
        *,
        X_target: object | None = None,
        eval_set: tuple[object, object] | None = None,
        **fit_params: object,
    ) -> NegativeTransferGuard:
        """Fit the adapted model and the reference, then decide which to predict with.

        ``fit_params`` (e.g. ``source_domains``) go to the adapted model only.
        """
        if X_target is None:
            raise ValueError("the guard wraps an unsupervised method: pass X_target")
        X, y = np.asarray(X), np.asarray(y)
        if eval_set is None:
            X_train, y_train, X_dev, y_dev = self._split(X, y)
        else:
            X_train, y_train, (X_dev, y_dev) = X, y, eval_set
        self.adapted_ = self._seeded(self.estimator).fit(
            X_train, y_train, X_target=X_target, eval_set=(X_dev, y_dev), **fit_params
        )
        self.reference_ = self._reference().fit(X_train, y_train, eval_set=(X_dev, y_dev))
        data = SelectionData(X_dev=X_dev, y_dev=y_dev, X_target=X_target, X_train=X_train)
        self.decision_ = guard_decision(
            self.adapted_,
            self.reference_,
            data,
            balance_margin=self.balance_margin,
            source_margin=self.source_margin,
            on_risk=self.on_risk,
        )
        self.classes_ = self.adapted_.classes_
        return self

    def _fitted(self) -> GuardDecision:
        if not hasattr(self, "decision_"):
            raise RuntimeError("NegativeTransferGuard is not fitted yet: call fit first")
        return self.decision_

    def predict_proba(self, X: object) -> np.ndarray:
        """Class probabilities of what the guard decided (kept, fallen back, or combined)."""
        action = self._fitted().action
        if action == "keep":
            return self.adapted_.predict_proba(X)
        if action == "fallback":
            return self.reference_.predict_proba(X)
        return (self.adapted_.predict_proba(X) + self.reference_.predict_proba(X)) / 2

    def predict(self, X: object) -> np.ndarray:
        """Labels of what the guard decided."""
        action = self._fitted().action
        if action == "keep":
            return self.adapted_.predict(X)
        if action == "fallback":
            return self.reference_.predict(X)
        return np.asarray(self.classes_)[np.argmax(self.predict_proba(X), axis=1)]

    def transform(self, X: object, **options: object) -> np.ndarray:
        """The learned representation of the model predicted with (the adapted one when
        combined)."""
        model = self.reference_ if self._fitted().action == "fallback" else self.adapted_
        return model.transform(X, **options)

    def score(self, X: object, y: object) -> float:
        """UAR of :meth:`predict`."""
        return uar(y, self.predict(X))
