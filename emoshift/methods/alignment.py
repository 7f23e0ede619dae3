"""How well two domains' representations are aligned: covariance distance, domain accuracy.

- :func:`coral_loss` is the CORAL distance between source and target feature covariances
  on tensors (differentiable; Deep CORAL's adaptation loss).
- :func:`per_source_coral_loss` averages it over several source domains, each aligned
  with the target on its own (multi-source Deep CORAL).
- :func:`coral_distance` is the same number for NumPy arrays (e.g. ``transform`` outputs).
- :func:`domain_classifier_accuracy` fits a *fresh* logistic regression that tells source
  from target on one half of the examples and reports its balanced accuracy on the other
  half: 0.5 means the representation hides the domain, 1.0 that it is linearly separable.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> source = rng.normal(size=(200, 4))
    >>> round(domain_classifier_accuracy(source, source + 5.0), 2)
    1.0
    >>> domain_classifier_accuracy(source, rng.normal(size=(200, 4))) < 0.65
    True
    >>> coral_distance(source, 3 * source) > 10 * coral_distance(source, rng.normal(size=(200, 4)))
    True
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def _covariance(features: torch.Tensor) -> torch.Tensor:
    centred = features - features.mean(0, keepdim=True)
    return centred.T @ centred / (len(features) - 1)


def coral_loss(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CORAL distance ``||C_s - C_t||_F^2 / (4 d^2)`` (Sun & Saenko 2016).

    ``C_s`` and ``C_t`` are the unbiased covariance matrices of the source and target
    features (examples x d); each side needs at least two examples.

    Example:
        >>> x = torch.randn(50, 3)
        >>> float(coral_loss(x, x))
        0.0
    """
    if source.ndim != 2 or target.ndim != 2 or source.shape[1] != target.shape[1]:
        raise ValueError(
            f"coral_loss needs two (examples x d) matrices of equal d, got "
            f"{tuple(source.shape)} and {tuple(target.shape)}"
        )
    if len(source) < 2 or len(target) < 2:
        raise ValueError("coral_loss needs at least two examples per domain")
    d = source.shape[1]
    return ((_covariance(source) - _covariance(target)) ** 2).sum() / (4 * d * d)


def per_source_coral_loss(
    source: torch.Tensor, domains: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """The mean over source domains of :func:`coral_loss` (that domain's rows, target).

    ``domains`` holds each source row's domain code. A domain with fewer than two rows
    (no covariance) is left out of the mean; when every domain has fewer than two rows,
    the pooled source is aligned instead. With one domain it is :func:`coral_loss`.

    Example:
        >>> x, t = torch.randn(40, 3), torch.randn(30, 3)
        >>> one = per_source_coral_loss(x, torch.zeros(40, dtype=torch.long), t)
        >>> bool(torch.isclose(one, coral_loss(x, t)))
        True
    """
    if domains.shape != (len(source),):
        raise ValueError(
            f"per_source_coral_loss needs one domain code per source row ({len(source)}), "
            f"got shape {tuple(domains.shape)}"
        )
    codes, counts = torch.unique(domains, return_counts=True)
    losses = [
        coral_loss(source[domains == code], target)
        for code, count in zip(codes.tolist(), counts.tolist(), strict=True)
        if count >= 2
    ]
    if not losses:
        return coral_loss(source, target)
    return torch.stack(losses).mean()


def coral_distance(source: object, target: object, *, standardise: bool = False) -> float:
    """:func:`coral_loss` of two NumPy matrices (computed in float64).

    With ``standardise``, both matrices are first divided by the standard deviation of all
    their entries pooled, so that a representation cannot look aligned merely by shrinking.
    """
    source, target = np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if standardise:
        scale = np.concatenate([source.ravel(), target.ravel()]).std()
        if scale > 0:
            source, target = source / scale, target / scale
    return float(coral_loss(torch.as_tensor(source), torch.as_tensor(target)))


def domain_classifier_accuracy(source: object, target: object, *, random_state: int = 0) -> float:
    """Held-out balanced accuracy of a fresh linear classifier telling source from target.

    The examples of both domains are split in halves, stratified by domain; a standardised
    logistic regression is fitted on one half and scored on the other. Balanced accuracy
    keeps chance at 0.5 when the domains differ in size.

    Args:
        source: source representations (examples x d).
        target: target representations (examples x d).
        random_state: seed of the split.
    """
    source, target = np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if source.ndim != 2 or target.ndim != 2 or source.shape[1] != target.shape[1]:
        raise ValueError(
            "domain_classifier_accuracy needs two (examples x d) matrices of equal d, got "
            f"{source.shape} and {target.shape}"
        )
    if min(len(source), len(target)) < 4:
        raise ValueError("domain_classifier_accuracy needs at least four examples per domain")
    features = np.concatenate([source, target])
    domain = np.r_[np.zeros(len(source), dtype=int), np.ones(len(target), dtype=int)]
    x_fit, x_test, d_fit, d_test = train_test_split(
        features, domain, test_size=0.5, stratify=domain, random_state=random_state
    )
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    classifier.fit(x_fit, d_fit)
    return float(balanced_accuracy_score(d_test, classifier.predict(x_test)))
