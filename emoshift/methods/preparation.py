"""From the arguments of ``fit`` to the data a neural fit trains on.

:func:`prepare` checks the inputs against what the method needs (its
:class:`~emoshift.methods.needs.MethodNeeds`), learns the outputs (classes or target
columns) and input widths, encodes the labels, pools the labelled training rows and
holds out a development split, and returns the :class:`~emoshift.methods.batching.FitData`
with the :class:`Outputs` the estimator keeps for prediction.

Example:
    >>> import numpy as np
    >>> from emoshift.methods.estimator import FitArguments
    >>> from emoshift.methods.needs import MethodNeeds
    >>> spec = Spec("Demo", "classification", "mlp", "source", MethodNeeds(), 0.0, None, 0)
    >>> X = np.zeros((4, 3)); y = ["a", "b", "a", "b"]
    >>> data, outputs = prepare(spec, "cpu", FitArguments(X, y))
    >>> outputs.classes.tolist(), outputs.n_features_in, data.y_train.tolist()
    (['a', 'b'], 3, [0, 1, 0, 1])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from emoshift.methods.batching import FitData, Inputs
from emoshift.methods.estimator import FitArguments
from emoshift.methods.inputs import (
    check_input_kind,
    check_inputs,
    check_labels,
    check_width,
    concat_inputs,
    width,
)
from emoshift.methods.needs import MethodNeeds
from emoshift.methods.sequence import Sequences

Array = np.ndarray | Sequences


@dataclass(frozen=True)
class Spec:
    """The estimator settings that preparing a fit reads."""

    owner: str
    task: str
    encoder: str
    train_pool: str
    needs: MethodNeeds
    validation_fraction: float
    patience: int | None
    random_state: int | None
    stop_on_eval_set: bool = True


@dataclass(frozen=True)
class Outputs:
    """What a fit learns about its outputs and inputs.

    Attributes:
        classes: sorted class labels (classification) or ``None``.
        n_outputs: classes, or target columns.
        y_ndim: dimensions of the regression ``y`` (1 or 2; 1 for classification).
        n_features_in: features per example (of the first stream, for sequences).
        sequence_widths: every sequence stream's width, or ``None`` for matrices.
    """

    classes: np.ndarray | None
    n_outputs: int
    y_ndim: int
    n_features_in: int
    sequence_widths: tuple[int, ...] | None

    @property
    def fitted_width(self) -> int | tuple[int, ...]:
        return self.sequence_widths or self.n_features_in


def prepare(spec: Spec, device: torch.device | str, given: FitArguments) -> tuple[FitData, Outputs]:
    """The fit's data on ``device`` and the learned outputs, or a ValueError naming the input."""
    X_s, X_t, X_tl = check_fit_inputs(spec, given)
    y, y_target_labelled = given.y, given.y_target_labelled
    outputs = learn_outputs(
        spec.task,
        y if X_s is not None else None,
        y_target_labelled if X_tl is not None else None,
        width(next(a for a in (X_s, X_t, X_tl) if a is not None)),
    )
    y_s = encode_targets(y, "y", spec.task, outputs) if X_s is not None else None
    y_tl = None
    if X_tl is not None:
        y_tl = encode_targets(y_target_labelled, "y_target_labelled", spec.task, outputs)
    pools = {"source": [(X_s, y_s)], "target": [(X_tl, y_tl)]}
    pools["both"] = pools["source"] + pools["target"]
    pools = [(a, b) for a, b in pools[spec.train_pool] if a is not None]
    X_train = concat_inputs([a for a, _ in pools])
    y_train = np.concatenate([b for _, b in pools])
    eval_set = given.eval_set
    checked_eval = None if eval_set is None else check_eval_set(eval_set, spec, outputs)
    domains, domain_names = source_domain_codes(spec, given, X_s)
    X_dev = y_dev = None
    if checked_eval is not None and spec.stop_on_eval_set:
        X_dev, y_dev = checked_eval
    elif spec.validation_fraction > 0 and spec.patience is not None:
        split = dev_indices(spec, y_train)
        if split is not None:
            train, dev = split
            X_train, X_dev = X_train[train], X_train[dev]
            y_train, y_dev = y_train[train], y_train[dev]
            domains = None if domains is None else domains[train]

    label_dtype = torch.long if spec.task == "classification" else torch.float32

    def on(a: Array | None, dtype: torch.dtype = torch.float32) -> Inputs | None:
        return on_device(a, device, dtype)

    data = FitData(
        X_train=on(X_train),
        y_train=on(y_train, label_dtype),
        X_target=on(X_t),
        X_target_labelled=on(X_tl),
        y_target_labelled=on(y_tl, label_dtype),
        X_dev=on(X_dev),
        y_dev=on(y_dev, label_dtype),
        eval_set=(
            None
            if checked_eval is None
            else (on(checked_eval[0]), on(checked_eval[1], label_dtype))
        ),
        source_domains=None if domains is None else on(domains, torch.long),
        source_domain_names=domain_names,
    )
    return data, outputs


def source_domain_codes(
    spec: Spec, given: FitArguments, X_s: Array | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The source rows' domain codes and names, when the method reads them and they
    name several domains (``None, None`` otherwise: one source domain, so a multi-source
    method fits exactly as its single-source self)."""
    if not spec.needs.source_domains or given.source_domains is None:
        return None, None
    if spec.train_pool != "source" or X_s is None:
        raise ValueError(
            f"{spec.owner} trains on the {spec.train_pool} pool; source_domains label "
            "source rows only"
        )
    codes, names = encode_source_domains(given.source_domains, len(X_s))
    return (codes, names) if len(names) > 1 else (None, None)


def on_device(
    a: Array | None, device: torch.device | str, dtype: torch.dtype = torch.float32
) -> Inputs | None:
    """Arrays become tensors on the device; sequences stay on the CPU until batched."""
    if a is None or isinstance(a, Sequences):
        return a
    return torch.as_tensor(a, dtype=dtype, device=device)


def check_fit_inputs(spec: Spec, given: FitArguments) -> tuple[Array | None, ...]:
    """The checked source, unlabelled target and labelled target inputs (or None)."""
    needs = spec.needs
    X, y, X_target = given.X, given.y, given.X_target
    X_target_labelled, y_target_labelled = given.X_target_labelled, given.y_target_labelled
    uses_source = spec.train_pool in ("source", "both") or needs.unlabelled_target
    X_s = check_inputs(X, "X (source features)") if uses_source else None
    if X_s is not None:
        check_targets(y, "y", len(X_s), spec.task)
    X_t = check_inputs(X_target, "X_target") if X_target is not None else None
    if needs.unlabelled_target and X_t is None:
        raise ValueError(f"{spec.owner} adapts to unlabelled target data: pass X_target")
    X_tl = None
    if X_target_labelled is not None or y_target_labelled is not None:
        if X_target_labelled is None or y_target_labelled is None:
            raise ValueError("pass both X_target_labelled and y_target_labelled, or neither")
        X_tl = check_inputs(X_target_labelled, "X_target_labelled")
        check_targets(y_target_labelled, "y_target_labelled", len(X_tl), spec.task)
    if (needs.labelled_target or spec.train_pool == "target") and X_tl is None:
        raise ValueError(
            f"{spec.owner} trains on labelled target examples: pass X_target_labelled and "
            "y_target_labelled"
        )
    named = {"X": X_s, "X_target": X_t, "X_target_labelled": X_tl}
    for key, a in named.items():
        if a is not None:
            check_input_kind(a, spec.encoder, key)
    widths = {width(a) for a in named.values() if a is not None}
    if len(widths) > 1:
        raise ValueError(f"source and target features differ in width: {sorted(widths, key=str)}")
    return X_s, X_t, X_tl


def check_targets(y: object, name: str, n_rows: int, task: str) -> None:
    """Class labels of one type with none missing, or targets of the right length."""
    if task == "classification":
        check_labels(y, name, n_rows)
    elif y is None or len(np.asarray(y)) != n_rows:
        given = "None" if y is None else f"{len(np.asarray(y))} rows"
        raise ValueError(f"{name} has {given} for {n_rows} feature rows")


def learn_outputs(
    task: str, y: object | None, y_target_labelled: object | None, fitted: int | tuple[int, ...]
) -> Outputs:
    """Classes or target columns from the labels, and the input widths."""
    label_sets = [np.asarray(s) for s in (y, y_target_labelled) if s is not None]
    classes, y_ndim = None, 1
    if task == "classification":
        classes = np.unique(np.concatenate(label_sets))
        if len(classes) < 2:
            raise ValueError("classification needs at least two classes in the labels")
        n_outputs = len(classes)
    else:
        first = np.asarray(label_sets[0], dtype=np.float32)
        n_outputs = 1 if first.ndim == 1 else first.shape[1]
        y_ndim = first.ndim
    sequences = isinstance(fitted, tuple)
    return Outputs(
        classes=classes,
        n_outputs=n_outputs,
        y_ndim=y_ndim,
        n_features_in=fitted[0] if sequences else fitted,
        sequence_widths=fitted if sequences else None,
    )


def check_eval_set(
    eval_set: tuple[object, object], spec: Spec, outputs: Outputs
) -> tuple[Array, np.ndarray]:
    """``(X_dev, y_dev)`` checked against the fitted width, with encoded labels."""
    try:
        X_dev, y_dev = eval_set
    except (TypeError, ValueError):
        raise ValueError("eval_set must be a pair (X_dev, y_dev)") from None
    X_dev = check_inputs(X_dev, "eval_set X")
    check_input_kind(X_dev, spec.encoder, "eval_set X")
    check_width(X_dev, outputs.fitted_width, "eval_set X")
    y_dev = encode_targets(y_dev, "eval_set y", spec.task, outputs)
    if len(y_dev) != len(X_dev):
        raise ValueError("eval_set X and y differ in length")
    return X_dev, y_dev


def encode_targets(y: object, name: str, task: str, outputs: Outputs) -> np.ndarray:
    """Class codes (indices into ``outputs.classes``) or a float32 target matrix."""
    if task == "classification":
        labels = check_labels(y, name)
        unknown = ~np.isin(labels, outputs.classes)
        if unknown.any():
            raise ValueError(
                f"{name} holds label(s) {sorted(set(labels[unknown].tolist()))} "
                f"not among the classes {outputs.classes.tolist()}"
            )
        return np.searchsorted(outputs.classes, labels)
    try:
        values = np.asarray(y, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must hold numeric targets: {error}") from None
    values = values.reshape(len(values), -1)
    if not np.isfinite(values).all():
        rows = np.flatnonzero(~np.isfinite(values).all(1))
        raise ValueError(
            f"{name} has NaN or infinite targets in {len(rows)} row(s) "
            f"(first {rows[:5].tolist()}); drop those examples"
        )
    if values.shape[1] != outputs.n_outputs:
        raise ValueError(
            f"{name} has {values.shape[1]} target columns, expected {outputs.n_outputs}"
        )
    return values


def dev_indices(spec: Spec, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions to train on and to hold out (``validation_fraction`` of the training
    pool), stratified when possible.

    ``None`` (no split) when it would hold out fewer than two examples or leave fewer
    than two, e.g. with two labelled target examples per class.
    """
    n_dev = int(round(len(y) * spec.validation_fraction))
    stratify = None
    if spec.task == "classification":
        counts = np.bincount(y)
        if counts[counts > 0].min() >= 2 and n_dev >= len(np.unique(y)):
            stratify = y
    if n_dev < 2 or len(y) - n_dev < 2:
        return None
    seed = 0 if spec.random_state is None else spec.random_state
    train, dev = train_test_split(
        np.arange(len(y)), test_size=n_dev, random_state=seed, stratify=stratify
    )
    return train, dev


def encode_source_domains(source_domains: object, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, names)``: each source row's domain as an index into the sorted names.

    Example:
        >>> codes, names = encode_source_domains(["b", "a", "b"], 3)
        >>> codes.tolist(), names.tolist()
        ([1, 0, 1], ['a', 'b'])
    """
    values = np.asarray(source_domains, dtype=object)
    if values.shape != (n_rows,):
        raise ValueError(
            f"source_domains must hold one domain per source row ({n_rows}), got shape "
            f"{values.shape}"
        )
    missing = np.flatnonzero(pd.isna(values))
    if len(missing):
        raise ValueError(
            f"source_domains is missing for source rows {missing[:10].tolist()}; give every "
            "source row its domain (e.g. its corpus)"
        )
    names, codes = np.unique(values.astype(str), return_inverse=True)
    return codes.astype(np.int64), names
