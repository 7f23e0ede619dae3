"""One trial: fit a method on a domain split and score it on the target test rows.

A :class:`DomainSplit` holds what a protocol allows a method to see: labelled source
data, target training rows (unlabelled, except for the methods that the protocol lets
read target labels), the few labelled target examples when there are any, and the
target test rows that only scoring reads.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 4)); y = np.where(X[:, 0] > 0, "anger", "neutral")
    >>> split = DomainSplit(X_source=X[:60], y_source=y[:60], X_target=X[60:90],
    ...                     y_target=y[60:90], X_test=X[90:], y_test=y[90:])
    >>> result = run_trial("source_only", {"hidden_sizes": (8,), "max_epochs": 5}, split,
    ...                    seed=0)
    >>> sorted(result.metrics)
    ['f1', 'uar', 'wa']
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from emoshift.experiment.cross_fit import CrossFitted
from emoshift.experiment.selecting import oracle_scores, select_model
from emoshift.methods import get_method, method_class, method_needs
from emoshift.metrics import confusion_matrix, score

#: ``history_`` entries that measure wall-clock time: left out of trial results so that
#: the same trial gives the same record wherever it runs (``fit_seconds`` keeps the time)
WALL_CLOCK_KEYS = ("time_s",)


@contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run the block with torch limited to ``n`` threads, then restore the setting.

    Trials train small networks: one thread each is faster than two threads fighting
    over two cores, and it makes the numbers independent of the executor.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class DomainSplit:
    """The data of one trial, as a protocol cut it.

    Attributes:
        X_source, y_source: labelled source data.
        X_target, y_target: the target training rows; ``y_target`` is read only by
            methods that need all target labels (:func:`emoshift.methods.method_needs`).
        X_test, y_test: target test rows, used for scoring only.
        labelled: indices into ``X_target`` of the few labelled target examples (few-shot
            protocols), or ``None``.
        X_dev, y_dev: a development set the protocol allows for early stopping, or None.
        target_speakers: the speaker of each ``X_target`` row, or ``None`` (few-shot
            selection keeps a speaker's labelled examples in one fold).
        source_domains: each source row's domain (e.g. its corpus), passed to the
            methods that read it (multi-source training), or ``None``.
        test_files: the audio file of each test row (for the predictions table), or
            ``None``.
        X_labelled_train, y_labelled_train: what methods reading every target label
            train on instead of ``X_target``/``y_target`` (``partition`` with
            ``target_train``), or ``None``.
        source_rows, test_rows: the corpus-table rows of ``X_source`` and ``X_test``
            (positions into the experiment's table), for what a run stores beside the
            scores (each embedded row's metadata), or ``None``.
        label_folds: the fold of each ``X_target`` row, which are also the ``X_test``
            rows (``whole_target`` with ``label_folds``): methods reading every target
            label are cross-validated over them (:func:`cross_validated`), or ``None``.
    """

    X_source: np.ndarray
    y_source: np.ndarray
    X_target: np.ndarray
    y_target: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    labelled: np.ndarray | None = None
    X_dev: np.ndarray | None = None
    y_dev: np.ndarray | None = None
    target_speakers: np.ndarray | None = None
    source_domains: np.ndarray | None = None
    test_files: np.ndarray | None = None
    X_labelled_train: np.ndarray | None = None
    y_labelled_train: np.ndarray | None = None
    label_folds: np.ndarray | None = None
    source_rows: np.ndarray | None = None
    test_rows: np.ndarray | None = None


@dataclass
class TrialResult:
    """Scores and by-products of one trial."""

    method: str
    metrics: dict[str, float]
    y_true: np.ndarray
    y_pred: np.ndarray
    confusion: np.ndarray | None
    labels: list
    history: list[dict[str, float]] = field(default_factory=list)
    fit_seconds: float = 0.0
    model: object = None
    selection: dict | None = None
    proba: np.ndarray | None = None
    """Class probabilities of the test rows (columns: ``classes``), when the model gives them."""
    classes: list = field(default_factory=list)
    fitted_params: dict = field(default_factory=dict)
    """Hyper-parameters the method chose inside ``fit`` from its training rows (its
    ``fitted_params_``, e.g. the ANOVA-F count of ``n_selected: inner_cv``)."""
    domain_classifier: dict | None = None
    """For a method with a domain classifier, how well the fitted one tells the domains
    apart (:func:`domain_detection`), else ``None``."""


def fit_arguments(
    method: str, split: DomainSplit, params: dict[str, object] | None = None
) -> dict[str, object]:
    """The ``fit`` keyword arguments the protocol lets ``method`` (with ``params``) see."""
    kwargs: dict[str, object] = {"X_target": split.X_target}
    if split.X_dev is not None:
        kwargs["eval_set"] = (split.X_dev, split.y_dev)
    needs = method_needs(method, params)
    if needs.source_domains and split.source_domains is not None:
        kwargs["source_domains"] = split.source_domains
    if needs.all_target_labels and split.X_labelled_train is not None:
        kwargs["X_target_labelled"] = split.X_labelled_train
        kwargs["y_target_labelled"] = split.y_labelled_train
    elif needs.all_target_labels:
        kwargs["X_target_labelled"] = split.X_target
        kwargs["y_target_labelled"] = split.y_target
    elif split.labelled is not None:
        kwargs["X_target_labelled"] = split.X_target[split.labelled]
        kwargs["y_target_labelled"] = split.y_target[split.labelled]
    elif needs.labelled_target:
        raise ValueError(
            f"method {method!r} needs labelled target examples; use a few-shot protocol "
            "(k labelled target examples per class) or the 10/40/50 target split"
        )
    return kwargs


def run_trial(
    method: str,
    params: dict[str, object],
    split: DomainSplit,
    *,
    seed: int,
    task: str = "classification",
    metrics: list[str] | None = None,
    dimensions: list[str] | None = None,
    keep_model: bool = False,
    selection: dict | None = None,
) -> TrialResult:
    """Fit ``method`` with ``params`` on ``split`` (seeded) and score it on the test rows.

    ``dimensions`` names the regression targets (e.g. arousal, valence) in the metrics.
    ``selection`` (a trial spec's, see :mod:`emoshift.experiment.selecting`) chooses
    among hyper-parameters first, without the test rows; the result's ``selection``
    records the choice (and, when asked, each choice's test score as an oracle).
    """
    model = trial_model(method, params, seed=seed, task=task)
    started = time.perf_counter()
    kwargs = fit_arguments(method, split, params)
    chosen = None
    if split.label_folds is not None and method_needs(method, params).all_target_labels:
        if selection is not None:
            raise ValueError(
                f"method {method!r} runs cross-validated over label_folds and cannot also "
                f"select its hyper-parameters (selection.{method}); drop one of the two"
            )
        model = cross_validated(method, params, split, seed=seed, task=task)
    elif selection is None:
        model.fit(split.X_source, split.y_source, **kwargs)
    else:
        chosen, record = select_model(
            model,
            selection,
            split.X_source,
            split.y_source,
            kwargs,
            seed=seed,
            groups=_labelled_speakers(split, kwargs),
        )
        model = getattr(chosen, "best_estimator_", chosen)  # the guard predicts itself
    fit_seconds = time.perf_counter() - started
    result = score_trial(
        method,
        model,
        split,
        task=task,
        metrics=metrics,
        dimensions=dimensions,
        keep_model=keep_model,
        fit_seconds=fit_seconds,
    )
    if chosen is not None:
        if selection.get("oracle"):  # after the choice, for the report only
            grid = [s["params"] for s in chosen.scores_]
            record["oracle"] = oracle_scores(
                chosen.models_, grid, split.X_test, split.y_test, result.labels
            )
        result.selection = record
    return result


def cross_validated(
    method: str, params: dict[str, object], split: DomainSplit, *, seed: int, task: str
) -> CrossFitted:
    """``method`` fitted once per fold of ``split.label_folds``, each on the target rows
    of the other folds (their labels included), as one predictor of the test rows."""
    models = []
    for fold in range(int(split.label_folds.max()) + 1):
        kept = split.label_folds != fold
        fold_split = replace(
            split,
            X_target=split.X_target[kept],
            y_target=split.y_target[kept],
            target_speakers=(
                None if split.target_speakers is None else split.target_speakers[kept]
            ),
            X_labelled_train=None,
            y_labelled_train=None,
            label_folds=None,
        )
        model = trial_model(method, params, seed=seed, task=task)
        model.fit(split.X_source, split.y_source, **fit_arguments(method, fold_split, params))
        models.append(model)
    return CrossFitted(models, split.label_folds)


def trial_model(method: str, params: dict[str, object], *, seed: int, task: str) -> object:
    """The unfitted estimator of a trial: ``method`` with ``params``, ``task`` and ``seed``."""
    accepted = method_class(method)().get_params()
    if "task" in accepted:
        params = {"task": task, **params}
    elif task != "classification":
        raise ValueError(f"method {method!r} does classification only, not {task}")
    return get_method(method, **{**params, "random_state": seed})


def score_trial(
    method: str,
    model: object,
    split: DomainSplit,
    *,
    task: str,
    metrics: list[str] | None,
    dimensions: list[str] | None,
    keep_model: bool,
    fit_seconds: float,
) -> TrialResult:
    """Score a fitted ``model`` on the split's target test rows."""
    predicted = model.predict(split.X_test)
    labels: list = []
    confusion = None
    proba, classes = None, []
    if task == "classification":
        if _gives_probabilities(model):
            proba, classes = model.predict_proba(split.X_test), list(model.classes_)
        labels = sorted(set(np.asarray(split.y_source).tolist()) | set(split.y_test.tolist()))
        confusion = confusion_matrix(split.y_test, predicted, labels=labels)
        values = score(split.y_test, predicted, task, metrics, labels=labels)
    else:
        values = score(split.y_test, predicted, task, metrics, dimensions=dimensions)
    return TrialResult(
        method=method,
        metrics=values,
        y_true=np.asarray(split.y_test),
        y_pred=np.asarray(predicted),
        confusion=confusion,
        labels=labels,
        history=[
            {k: v for k, v in epoch.items() if k not in WALL_CLOCK_KEYS}
            for epoch in getattr(model, "history_", [])
        ],
        fit_seconds=fit_seconds,
        model=model if keep_model else None,
        proba=proba,
        classes=classes,
        fitted_params=dict(getattr(model, "fitted_params_", {})),
        domain_classifier=domain_detection(model, split),
    )


def domain_detection(model: object, split: DomainSplit) -> dict[str, float] | None:
    """The fitted domain classifier's accuracy on the target test rows (the share it takes
    for target data, as Abdelwahab & Busso's Table III reports it), on the labelled source
    training rows (the share it takes for source data) and their mean, the balanced
    accuracy; ``None`` for a model without a domain classifier. Near 0.5 balanced, the
    classifier no longer tells the domains apart."""
    if not hasattr(model, "domain_classifier_"):
        return None
    target = float(np.mean(model.predict_domain(split.X_test) == 1))
    source = float(np.mean(model.predict_domain(split.X_source) == 0))
    return {"target_test": target, "source": source, "balanced": (target + source) / 2}


def _gives_probabilities(model: object) -> bool:
    """Whether ``model.predict_proba`` answers (an SVM fitted without ``probability``
    does not)."""
    return callable(getattr(model, "predict_proba", None)) and getattr(model, "probability", True)


def _labelled_speakers(split: DomainSplit, kwargs: dict[str, object]) -> np.ndarray | None:
    """The speakers of the labelled target examples that ``kwargs`` pass, when known."""
    if split.target_speakers is None or "X_target_labelled" not in kwargs:
        return None
    if kwargs["X_target_labelled"] is split.X_target:  # every target label (upper bound)
        return split.target_speakers
    return None if split.labelled is None else split.target_speakers[split.labelled]
