"""Label-free signals that an adapted model has transferred worse than source-only.

Each signal is computed for one fitted model on what an unsupervised protocol allows
(:class:`~emoshift.selection.scorers.SelectionData`: labelled source development rows,
unlabelled target rows); the guard (:mod:`emoshift.selection.guard`) compares the
adapted model's value with a source-only reference's. None reads a target label.

- :func:`class_balance`: how evenly the model's target predictions spread over the
  classes (a collapse onto one or two classes lowers it).
- :func:`reverse_uar`: reverse validation (Zhong et al. 2010, ECML PKDD, Sec. 3; the
  idea of Bruzzone & Marconcini 2010, TPAMI) with a fixed *linear* reverse model: a
  logistic regression learns the model's pseudo-labels on the target rows, then is
  scored on the labelled source development rows. If the target labelling is wrong in
  a way that does not match how the classes lie in the source, the reverse model
  scores lower. The reverse model is the same for every model compared, so the numbers
  are comparable across methods (the ``circular`` scorer instead refits the method).
- :func:`domain_separability`: how well a linear domain classifier tells the source
  development rows from the target rows in the model's learned representation
  (balanced accuracy of 3-fold cross-validated logistic regression; 0.5 = no
  difference). It is the proxy A-distance of Ben-David et al. (2007, NeurIPS, Sec. 4)
  up to scale; adaptation that *widens* it over source-only's failed on its own terms.
- :func:`agreement`: the share of target rows on which two models predict the same class.

Example:
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from emoshift.selection.scorers import SelectionData
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2)); y = np.where(X[:, 0] > 0, "high", "low")
    >>> model = LogisticRegression().fit(X, y)
    >>> data = SelectionData(X_dev=X, y_dev=y, X_target=X + 0.1)
    >>> reverse_uar(model, data) > 0.9
    True
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from emoshift.metrics import uar
from emoshift.selection.scorers import SelectionData

#: folds of the domain classifier's cross-validation in :func:`domain_separability`
DOMAIN_FOLDS = 3


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


def reverse_uar(model: object, data: SelectionData) -> float:
    """UAR on the source development rows of a logistic regression trained on the target
    rows with ``model``'s predictions as labels (reverse validation, linear reverse model).

    When ``model`` predicts one class for every target row, no reverse model can be
    trained; it would predict that class everywhere, so the score is that constant
    prediction's UAR (``1 / K`` for K classes on the development rows).
    """
    X_target = np.asarray(data.X_target, dtype=float)
    pseudo = np.asarray(model.predict(X_target))
    y_dev = np.asarray(data.y_dev)
    if len(np.unique(pseudo)) < 2:
        return uar(y_dev, np.full(len(y_dev), pseudo[0], dtype=pseudo.dtype))
    reverse = LogisticRegression(max_iter=1000).fit(X_target, pseudo)
    return uar(y_dev, reverse.predict(np.asarray(data.X_dev, dtype=float)))


def domain_separability(model: object, data: SelectionData, *, seed: int = 0) -> float:
    """Balanced accuracy of a linear classifier telling source development rows from
    target rows in ``model.transform``'s representation (cross-validated, seeded)."""
    source = np.asarray(model.transform(data.X_dev), dtype=float)
    target = np.asarray(model.transform(data.X_target), dtype=float)
    features = np.concatenate([source, target])
    domain = np.r_[np.zeros(len(source), int), np.ones(len(target), int)]
    folds = StratifiedKFold(DOMAIN_FOLDS, shuffle=True, random_state=seed)
    guess = cross_val_predict(LogisticRegression(max_iter=1000), features, domain, cv=folds)
    return uar(domain, guess)


def agreement(first: object, second: object, X: object) -> float:
    """Share of the rows of ``X`` on which the two fitted models predict the same class.

    Example:
        >>> class Constant:
        ...     def __init__(self, label): self.label = label
        ...     def predict(self, X): return [self.label] * len(X)
        >>> agreement(Constant("a"), Constant("a"), [[0], [1]])
        1.0
    """
    return float(np.mean(np.asarray(first.predict(X)) == np.asarray(second.predict(X))))
