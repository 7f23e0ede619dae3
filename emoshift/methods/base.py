"""The estimator base that every method shares: one ``fit`` signature, one training loop.

Every method is a scikit-learn compatible estimator (``get_params``, ``set_params``,
``clone``) whose ``fit`` takes labelled source data, and optionally unlabelled target
data, a few labelled target examples and a development set::

    fit(X, y, *, X_target=None, X_target_labelled=None, y_target_labelled=None,
        eval_set=None)

The base class owns input checking, label encoding, seeding, batching (source batches
paired with equally sized target batches), early stopping on a development split,
``history_`` (one dict of losses per epoch), ``predict``, ``predict_proba`` and
``transform(X, layer=i)``. A method supplies the networks it adds
(:meth:`NeuralEstimator._build`) and one optimisation step
(:meth:`NeuralEstimator._train_step`); methods trained in phases (pre-train, then
adapt) call :meth:`NeuralEstimator._train_loop` once per phase.

Inputs are feature matrices (the MLP encoder, ``encoder="mlp"``) or variable-length
frame sequences (the Conv1D + GRU encoder, ``encoder="cnn_gru"``; see
:mod:`emoshift.methods.sequence`). Sequence data stays on the CPU in a
:class:`~emoshift.methods.sequence.Sequences` and becomes a padded batch
(:class:`~emoshift.methods.sequence.PaddedSequences`) in :meth:`NeuralEstimator._take`;
a method that needs all of an input at once uses :meth:`NeuralEstimator._map_chunks`
rather than indexing ``data.X_*`` itself, and concatenates batch inputs with
``torch.cat`` (which padded batches support), so it works with either encoder.

Subclasses declare their own hyper-parameters as keyword-only arguments and pass the
shared ones through ``**shared``; the merged signature is what ``get_params`` sees.

Example:
    >>> import numpy as np
    >>> from emoshift.methods.baselines import SourceOnly
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 5)); y = np.where(X[:, 0] > 0, "anger", "neutral")
    >>> model = SourceOnly(hidden_sizes=(8,), max_epochs=5, random_state=0).fit(X, y)
    >>> model.predict(X[:3]).tolist() == model.predict(X[:3]).tolist()
    True
    >>> sorted(model.get_params())[:3]
    ['activation', 'batch_norm', 'batch_size']
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from torch import nn

from emoshift.methods.networks import MLPEncoder, MLPHead, apply_max_norm
from emoshift.methods.sequence import (
    CNNGRUEncoder,
    PaddedSequences,
    Sequences,
    as_sequences,
    is_sequence_input,
)
from emoshift.progress import progress

TASKS = ("classification", "regression")
REGRESSION_LOSSES = ("mse", "ccc")
ENCODERS = ("mlp", "cnn_gru")

#: what ``data.X_*`` holds: a 2-D tensor on the device, or sequences on the CPU
Inputs = torch.Tensor | Sequences
#: what a batch's ``x`` holds: a 2-D tensor or a padded batch of sequences
BatchInputs = torch.Tensor | PaddedSequences


def concordance_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - CCC averaged over output columns (Lin's concordance correlation coefficient)."""
    pred_mean, target_mean = pred.mean(0), target.mean(0)
    covariance = ((pred - pred_mean) * (target - target_mean)).mean(0)
    ccc = (
        2
        * covariance
        / (
            pred.var(0, unbiased=False)
            + target.var(0, unbiased=False)
            + (pred_mean - target_mean) ** 2
            + 1e-8
        )
    )
    return (1 - ccc).mean()


def _check_features(X: object, name: str) -> np.ndarray:
    """A finite 2-D float32 array, or a ValueError naming the argument and the bad cells."""
    columns = list(X.columns) if isinstance(X, pd.DataFrame) else None
    try:
        array = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a numeric matrix: {error}") from None
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (examples x features), got shape {array.shape}")
    if len(array) == 0:
        raise ValueError(f"{name} is empty")
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.flatnonzero(bad.any(1))
        cols = np.flatnonzero(bad.any(0))
        col_names = [columns[c] for c in cols[:5]] if columns else cols[:5].tolist()
        raise ValueError(
            f"{name} has NaN or infinite values in {len(rows)} row(s) (first {rows[:5].tolist()}) "
            f"and {len(cols)} feature column(s) (first {col_names}); impute or drop them "
            "before fitting (emoshift.features reports files whose features failed)"
        )
    return array


def _check_inputs(X: object, name: str) -> np.ndarray | Sequences:
    """A checked feature matrix, or checked :class:`Sequences` for sequence input."""
    if is_sequence_input(X):
        return as_sequences(X, name)
    return _check_features(X, name)


def _width(X: np.ndarray | Sequences) -> int | tuple[int, ...]:
    return X.widths if isinstance(X, Sequences) else X.shape[1]


@dataclass
class Batch:
    """One optimisation step's data, as tensors on the estimator's device.

    ``x``/``y`` come from the method's labelled training pool (the source for most
    methods); ``x_target`` is an equally sized batch of unlabelled target examples and
    ``x_target_labelled``/``y_target_labelled`` a batch of the labelled target examples
    (``None`` when the fit had none).
    """

    x: BatchInputs
    y: torch.Tensor
    x_target: BatchInputs | None = None
    x_target_labelled: BatchInputs | None = None
    y_target_labelled: torch.Tensor | None = None


@dataclass
class FitData:
    """The arrays a fit works on: labels and 2-D features on the device, sequences on
    the CPU (index inputs with :meth:`NeuralEstimator._take`)."""

    X_train: Inputs
    y_train: torch.Tensor
    X_source: Inputs | None
    y_source: torch.Tensor | None
    X_target: Inputs | None
    X_target_labelled: Inputs | None
    y_target_labelled: torch.Tensor | None
    X_dev: Inputs | None
    y_dev: torch.Tensor | None


class NeuralEstimator(BaseEstimator):
    """Shared parameters and training loop of every neural method.

    Args:
        task: ``"classification"`` (labels of any type) or ``"regression"`` (one or
            several continuous targets, e.g. arousal, valence, dominance).
        encoder: ``"mlp"`` for feature matrices (functionals) or ``"cnn_gru"`` for
            frame sequences (:mod:`emoshift.methods.sequence`).
        hidden_sizes: widths of the shared MLP encoder layers.
        activation: activation of the MLP encoder layers and of the heads.
        batch_norm: batch normalisation in the MLP encoder.
        dropout: dropout after each MLP encoder layer (CNN-GRU: between fusion layers).
        input_dropout: dropout on the input features (MLP).
        conv_channels: CNN-GRU: output channels of each Conv1D layer.
        conv_kernel_sizes: CNN-GRU: kernel size of each Conv1D layer.
        conv_strides: CNN-GRU: stride of each Conv1D layer.
        gru_size: CNN-GRU: hidden size of the GRU over the convolved frames.
        second_gru_size: CNN-GRU: hidden size of the GRU over a second stream.
        fusion_sizes: CNN-GRU: linear layers after the concatenated GRU states.
        head_hidden_sizes: hidden widths of the task head before its output layer.
        regression_loss: ``"mse"`` or ``"ccc"`` (1 - concordance correlation).
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        batch_size: examples per batch (per domain, for methods that pair domains).
        max_epochs: upper bound on training epochs.
        patience: epochs without improvement of the development loss before stopping;
            ``None`` trains for ``max_epochs``.
        validation_fraction: share of the labelled training pool held out as development
            set when no ``eval_set`` is passed (0 disables early stopping).
        class_balanced: draw training batches with class-balanced sampling.
        grad_clip: clip the gradient norm at this value (``None``: no clipping).
        max_norm: cap each unit's incoming weight norm after every step (``None``: off).
        device: ``"auto"`` (CUDA when torch sees it), ``"cpu"`` or ``"cuda"``.
        random_state: seed for weights, batches and dropout; the same seed gives the
            same numbers.
        verbose: show a progress bar over epochs.
    """

    #: which labelled pool the training loop iterates over: "source", "target" or "both"
    train_pool = "source"
    #: whether fit needs unlabelled target data / labelled target examples
    requires_target = False
    requires_target_labels = False

    def __init__(
        self,
        *,
        task: str = "classification",
        hidden_sizes: Sequence[int] = (256, 128),
        activation: str = "relu",
        batch_norm: bool = True,
        dropout: float = 0.2,
        input_dropout: float = 0.0,
        encoder: str = "mlp",
        conv_channels: Sequence[int] = (64, 128),
        conv_kernel_sizes: Sequence[int] = (10, 5),
        conv_strides: Sequence[int] = (2, 2),
        gru_size: int = 128,
        second_gru_size: int = 512,
        fusion_sizes: Sequence[int] = (128, 128),
        head_hidden_sizes: Sequence[int] = (),
        regression_loss: str = "mse",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 64,
        max_epochs: int = 100,
        patience: int | None = 10,
        validation_fraction: float = 0.1,
        class_balanced: bool = False,
        grad_clip: float | None = None,
        max_norm: float | None = None,
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.task = task
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.encoder = encoder
        self.conv_channels = conv_channels
        self.conv_kernel_sizes = conv_kernel_sizes
        self.conv_strides = conv_strides
        self.gru_size = gru_size
        self.second_gru_size = second_gru_size
        self.fusion_sizes = fusion_sizes
        self.head_hidden_sizes = head_hidden_sizes
        self.regression_loss = regression_loss
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.class_balanced = class_balanced
        self.grad_clip = grad_clip
        self.max_norm = max_norm
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Give a subclass ``__init__(self, *, own..., **shared)`` the merged signature."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        own = inspect.signature(init).parameters.values()
        if not any(p.kind is p.VAR_KEYWORD for p in own):
            return
        params = [p for p in own if p.kind is not p.VAR_KEYWORD]
        names = {p.name for p in params}
        inherited = inspect.signature(super(cls, cls).__init__).parameters.values()
        params += [p for p in inherited if p.name != "self" and p.name not in names]
        init.__signature__ = inspect.Signature(params)

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        X: object,
        y: object,
        *,
        X_target: object | None = None,
        X_target_labelled: object | None = None,
        y_target_labelled: object | None = None,
        eval_set: tuple[object, object] | None = None,
    ) -> NeuralEstimator:
        """Train on labelled source data and whatever target data the method uses.

        Args:
            X: source features (examples x features).
            y: source labels (classification) or targets (regression, 1 or more columns).
            X_target: unlabelled target features (for unsupervised adaptation).
            X_target_labelled: the few labelled target examples.
            y_target_labelled: their labels.
            eval_set: ``(X_dev, y_dev)`` used for early stopping instead of a split of
                the training pool; pass only data the protocol allows (never target test).
        """
        self._check_params()
        data = self._prepare(X, y, X_target, X_target_labelled, y_target_labelled, eval_set)
        self._start_fit(data)
        self._train_loop(data, self.max_epochs)
        return self._finish_fit()

    def _start_fit(self, data: FitData) -> None:
        """Seed, build the networks and optimizers, and start an empty ``history_``."""
        seed = (
            self.random_state
            if self.random_state is not None
            else int(np.random.SeedSequence().entropy % (2**31))
        )
        torch.manual_seed(seed)
        self._rng = np.random.default_rng(seed)
        self.modules_ = nn.ModuleDict()
        self._build(data)
        self.modules_.to(self.device_)
        self._optimizers = self._make_optimizers()
        self.history_: list[dict[str, float]] = []
        self.best_epoch_ = None

    def _train_loop(
        self,
        data: FitData,
        max_epochs: int,
        *,
        patience: int | None | str = "default",
        phase: str | None = None,
    ) -> None:
        """Train for up to ``max_epochs`` epochs, appending one record each to ``history_``.

        Early stopping watches ``data.X_dev`` (when there is one and ``patience`` is not
        ``None``; ``"default"`` means the ``patience`` parameter) and restores the best
        epoch's weights at the end. ``phase`` labels the records of a multi-phase fit
        (epochs keep counting across phases; ``best_epoch_`` indexes ``history_``).
        """
        patience = self.patience if patience == "default" else patience
        best_loss, best_state, stale = math.inf, None, 0
        first = len(self.history_)
        label = type(self).__name__ + (f" ({phase})" if phase else "")
        epochs = progress(
            range(first, first + max_epochs),
            desc=f"training {label}",
            enabled=bool(self.verbose),
            unit="epoch",
        )
        for epoch in epochs:
            started = time.perf_counter()
            self.modules_.train()
            self._epoch_started(epoch, data)
            sums: dict[str, float] = {}
            n_steps = 0
            for batch in self._batches(data):
                for key, value in self._train_step(batch).items():
                    sums[key] = sums.get(key, 0.0) + float(value)
                n_steps += 1
            record = {"epoch": epoch, **{k: v / max(n_steps, 1) for k, v in sums.items()}}
            if phase is not None:
                record["phase"] = phase
            record.update(self._epoch_metrics(data))
            if data.X_dev is not None:
                record["dev_loss"] = self._dev_loss(data.X_dev, data.y_dev)
            record["time_s"] = time.perf_counter() - started
            self.history_.append(record)
            if data.X_dev is None or patience is None:
                continue
            if record["dev_loss"] < best_loss - 1e-6:
                best_loss, stale, self.best_epoch_ = record["dev_loss"], 0, epoch
                best_state = copy.deepcopy(self.modules_.state_dict())
            else:
                stale += 1
                if stale >= patience:
                    break
        if best_state is not None:
            self.modules_.load_state_dict(best_state)

    def _finish_fit(self) -> NeuralEstimator:
        self.n_epochs_ = len(self.history_)
        self.modules_.eval()
        return self

    def _check_params(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task={self.task!r}; choose one of {TASKS}")
        if self.regression_loss not in REGRESSION_LOSSES:
            raise ValueError(
                f"regression_loss={self.regression_loss!r}; choose one of {REGRESSION_LOSSES}"
            )
        if self.batch_size < 2:
            raise ValueError(f"batch_size={self.batch_size} must be at least 2")
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs={self.max_epochs} must be at least 1")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction={self.validation_fraction} must be in [0, 1)")
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder={self.encoder!r}; choose one of {ENCODERS}")

    def _encode_targets(self, y: object, name: str) -> np.ndarray:
        if self.task == "classification":
            labels = np.asarray(y)
            if labels.ndim != 1:
                raise ValueError(f"{name} must be 1-D class labels for classification")
            unknown = ~np.isin(labels, self.classes_)
            if unknown.any():
                raise ValueError(
                    f"{name} holds label(s) {sorted(set(labels[unknown].tolist()))} "
                    f"not among the classes {self.classes_.tolist()}"
                )
            return np.searchsorted(self.classes_, labels)
        values = np.asarray(y, dtype=np.float32)
        values = values.reshape(len(values), -1)
        if not np.isfinite(values).all():
            rows = np.flatnonzero(~np.isfinite(values).all(1))
            raise ValueError(
                f"{name} has NaN or infinite targets in {len(rows)} row(s) "
                f"(first {rows[:5].tolist()}); drop those examples"
            )
        if values.shape[1] != self.n_outputs_:
            raise ValueError(
                f"{name} has {values.shape[1]} target columns, expected {self.n_outputs_}"
            )
        return values

    def _prepare(
        self,
        X: object,
        y: object,
        X_target: object | None,
        X_target_labelled: object | None,
        y_target_labelled: object | None,
        eval_set: tuple[object, object] | None,
    ) -> FitData:
        self.device_ = torch.device(
            ("cuda" if torch.cuda.is_available() else "cpu")
            if self.device == "auto"
            else self.device
        )
        name = type(self).__name__
        uses_source = self.train_pool in ("source", "both") or self.requires_target
        X_s = _check_inputs(X, "X (source features)") if uses_source else None
        if X_s is not None and len(np.asarray(y)) != len(X_s):
            raise ValueError(f"X has {len(X_s)} rows but y has {len(np.asarray(y))}")
        X_t = _check_inputs(X_target, "X_target") if X_target is not None else None
        if self.requires_target and X_t is None:
            raise ValueError(f"{name} adapts to unlabelled target data: pass X_target")
        X_tl = None
        if X_target_labelled is not None or y_target_labelled is not None:
            if X_target_labelled is None or y_target_labelled is None:
                raise ValueError("pass both X_target_labelled and y_target_labelled, or neither")
            X_tl = _check_inputs(X_target_labelled, "X_target_labelled")
            if len(np.asarray(y_target_labelled)) != len(X_tl):
                raise ValueError("X_target_labelled and y_target_labelled differ in length")
        if (self.requires_target_labels or self.train_pool == "target") and X_tl is None:
            raise ValueError(
                f"{name} trains on labelled target examples: pass X_target_labelled and "
                "y_target_labelled"
            )
        named = {"X": X_s, "X_target": X_t, "X_target_labelled": X_tl}
        given = [a for a in named.values() if a is not None]
        for key, a in named.items():
            if a is not None:
                self._check_input_kind(a, key)
        widths = {_width(a) for a in given}
        if len(widths) > 1:
            raise ValueError(
                f"source and target features differ in width: {sorted(widths, key=str)}"
            )

        label_sets = [np.asarray(y)] if uses_source else []
        if X_tl is not None:
            label_sets.append(np.asarray(y_target_labelled))
        if self.task == "classification":
            self.classes_ = np.unique(np.concatenate([np.asarray(s) for s in label_sets]))
            if len(self.classes_) < 2:
                raise ValueError("classification needs at least two classes in the labels")
            self.n_outputs_ = len(self.classes_)
        else:
            first = np.asarray(label_sets[0], dtype=np.float32)
            self.n_outputs_ = 1 if first.ndim == 1 else first.shape[1]
            self._y_ndim = first.ndim
        width = widths.pop()
        self.sequence_widths_ = width if isinstance(width, tuple) else None
        self.n_features_in_ = width[0] if isinstance(width, tuple) else width

        y_s = self._encode_targets(y, "y") if X_s is not None else None
        y_tl = (
            self._encode_targets(y_target_labelled, "y_target_labelled")
            if X_tl is not None
            else None
        )
        pools = {
            "source": [(X_s, y_s)],
            "target": [(X_tl, y_tl)],
            "both": [(X_s, y_s), (X_tl, y_tl)],
        }[self.train_pool]
        pools = [(a, b) for a, b in pools if a is not None]
        X_train = self._concat_inputs([a for a, _ in pools])
        y_train = np.concatenate([b for _, b in pools])

        X_dev = y_dev = None
        if eval_set is not None:
            X_dev, y_dev = self._check_eval_set(eval_set)
        elif self.validation_fraction > 0 and self.patience is not None:
            X_train, y_train, X_dev, y_dev = self._split_dev(X_train, y_train)
            if X_s is not None and self.train_pool == "source":
                X_s, y_s = X_train, y_train

        label_dtype = torch.long if self.task == "classification" else torch.float32
        return FitData(
            X_train=self._to_device(X_train),
            y_train=self._to_device(y_train, label_dtype),
            X_source=self._to_device(X_s),
            y_source=self._to_device(y_s, label_dtype),
            X_target=self._to_device(X_t),
            X_target_labelled=self._to_device(X_tl),
            y_target_labelled=self._to_device(y_tl, label_dtype),
            X_dev=self._to_device(X_dev),
            y_dev=self._to_device(y_dev, label_dtype),
        )

    def _check_eval_set(self, eval_set: tuple[object, object]) -> tuple[Inputs, np.ndarray]:
        """``(X_dev, y_dev)`` checked against the fitted width and encoded labels."""
        try:
            X_dev, y_dev = eval_set
        except (TypeError, ValueError):
            raise ValueError("eval_set must be a pair (X_dev, y_dev)") from None
        X_dev = _check_inputs(X_dev, "eval_set X")
        self._check_input_kind(X_dev, "eval_set X")
        fitted = self.sequence_widths_ or self.n_features_in_
        if _width(X_dev) != fitted:
            raise ValueError(f"eval_set X has width {_width(X_dev)}, the training data {fitted}")
        y_dev = self._encode_targets(y_dev, "eval_set y")
        if len(y_dev) != len(X_dev):
            raise ValueError("eval_set X and y differ in length")
        return X_dev, y_dev

    def _check_input_kind(self, X: np.ndarray | Sequences, name: str) -> None:
        """Feature matrices go with the MLP encoder, frame sequences with the CNN-GRU."""
        if isinstance(X, Sequences) and self.encoder != "cnn_gru":
            raise ValueError(
                f"{name} holds frame sequences, which encoder={self.encoder!r} cannot read: "
                "use encoder='cnn_gru' (or pass a 2-D feature matrix)"
            )
        if not isinstance(X, Sequences) and self.encoder == "cnn_gru":
            raise ValueError(
                f"{name} is a 2-D feature matrix, but encoder='cnn_gru' reads frame "
                "sequences: pass a list of (frames x features) arrays or Sequences, or use "
                "encoder='mlp'"
            )

    @staticmethod
    def _concat_inputs(parts: list[np.ndarray | Sequences]) -> np.ndarray | Sequences:
        if isinstance(parts[0], Sequences):
            return Sequences.concat(parts)
        return np.concatenate(parts)

    def _to_device(
        self, a: np.ndarray | Sequences | None, dtype: torch.dtype = torch.float32
    ) -> Inputs | None:
        """Arrays become tensors on the device; sequences stay on the CPU until batched."""
        if a is None or isinstance(a, Sequences):
            return a
        return torch.as_tensor(a, dtype=dtype, device=self.device_)

    def _split_dev(
        self, X: np.ndarray | Sequences, y: np.ndarray
    ) -> tuple[np.ndarray | Sequences | None, ...]:
        """Hold out ``validation_fraction`` of the training pool, stratified when possible.

        No split (``X, y, None, None``) when it would hold out fewer than two examples
        or leave fewer than two, e.g. with two labelled target examples per class.
        """
        n_dev = int(round(len(X) * self.validation_fraction))
        stratify = None
        if self.task == "classification":
            counts = np.bincount(y)
            if counts[counts > 0].min() >= 2 and n_dev >= len(np.unique(y)):
                stratify = y
        if n_dev < 2 or len(X) - n_dev < 2:
            return X, y, None, None
        seed = 0 if self.random_state is None else self.random_state
        train, dev = train_test_split(
            np.arange(len(X)), test_size=n_dev, random_state=seed, stratify=stratify
        )
        return X[train], y[train], X[dev], y[dev]

    # ------------------------------------------------------------- networks

    def _make_encoder(self, n_features: int) -> nn.Module:
        """The shared encoder: an MLP over ``n_features``, or the CNN-GRU over the
        fitted sequence streams (whose first width is ``n_features``)."""
        if self.encoder == "cnn_gru":
            return CNNGRUEncoder(
                (n_features, *self.sequence_widths_[1:]),
                conv_channels=self.conv_channels,
                conv_kernel_sizes=self.conv_kernel_sizes,
                conv_strides=self.conv_strides,
                gru_size=self.gru_size,
                second_gru_size=self.second_gru_size,
                fusion_sizes=self.fusion_sizes,
                dropout=self.dropout,
            )
        return MLPEncoder(
            n_features,
            self.hidden_sizes,
            activation=self.activation,
            batch_norm=self.batch_norm,
            dropout=self.dropout,
            input_dropout=self.input_dropout,
        )

    def _make_head(self, n_in: int, n_out: int) -> nn.Module:
        return MLPHead(n_in, n_out, self.head_hidden_sizes, activation=self.activation)

    def _build(self, data: FitData) -> None:
        """Create the networks in ``self.modules_``; the default is encoder + task head."""
        self.modules_["encoder"] = self._make_encoder(self.n_features_in_)
        self.modules_["head"] = self._make_head(
            self.modules_["encoder"].output_size, self.n_outputs_
        )

    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam over all parameters; methods with alternating updates override this."""
        return {"all": self._adam(self.modules_.parameters())}

    def _adam(self, parameters: object) -> torch.optim.Optimizer:
        return torch.optim.Adam(parameters, lr=self.lr, weight_decay=self.weight_decay)

    # -------------------------------------------------------------- training

    def _task_loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.task == "classification":
            return nn.functional.cross_entropy(outputs, target)
        if self.regression_loss == "ccc":
            return concordance_loss(outputs, target)
        return nn.functional.mse_loss(outputs, target)

    def _step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        """Zero, backpropagate, clip, update, and apply the max-norm constraint."""
        optimizer.zero_grad()
        loss.backward()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(params, self.grad_clip)
        optimizer.step()
        if self.max_norm is not None:
            apply_max_norm(self.modules_, self.max_norm)

    def _sample_indices(self, labels: torch.Tensor | None, n: int) -> np.ndarray:
        """An epoch's order over ``n`` examples: a permutation or class-balanced draws."""
        if self.class_balanced and labels is not None and self.task == "classification":
            y = labels.cpu().numpy()
            counts = np.bincount(y)
            weights = 1.0 / counts[y]
            return self._rng.choice(n, size=n, replace=True, p=weights / weights.sum())
        return self._rng.permutation(n)

    def _cycle(self, n: int, size: int, n_batches: int) -> list[np.ndarray]:
        """``n_batches`` batches of ``size`` indices from repeated permutations of ``n``."""
        needed = size * n_batches
        order = np.concatenate([self._rng.permutation(n) for _ in range(math.ceil(needed / n))])
        return [order[i * size : (i + 1) * size] for i in range(n_batches)]

    def _batches(self, data: FitData) -> Iterator[Batch]:
        """Training-pool batches, each paired with target batches of the same size."""
        take = self._take
        n = len(data.X_train)
        order = self._sample_indices(data.y_train, n)
        size = min(self.batch_size, n)
        n_batches = max(n // size, 1)
        target = (
            self._cycle(len(data.X_target), size, n_batches) if data.X_target is not None else None
        )
        labelled = None
        if data.X_target_labelled is not None:
            n_tl = len(data.X_target_labelled)
            labelled = self._cycle(n_tl, min(size, n_tl), n_batches)
        for i in range(n_batches):
            idx = order[i * size : (i + 1) * size]
            yield Batch(
                x=take(data.X_train, idx),
                y=data.y_train[idx],
                x_target=None if target is None else take(data.X_target, target[i]),
                x_target_labelled=(
                    None if labelled is None else take(data.X_target_labelled, labelled[i])
                ),
                y_target_labelled=(
                    None if labelled is None else data.y_target_labelled[labelled[i]]
                ),
            )

    def _take(self, X: Inputs, index: np.ndarray | slice) -> BatchInputs:
        """The examples of ``X`` at ``index`` as a batch on the device (sequences padded)."""
        if isinstance(X, Sequences):
            return X.pad(index, self.device_)
        return X[index]

    def _map_chunks(self, fn: object, X: Inputs, chunk_size: int = 1024) -> torch.Tensor:
        """``fn`` applied to ``X`` in chunks, concatenated in ``X``'s order.

        Sequences are processed sorted by length (chunks of 128), so little padding is
        computed; the results are put back in the original order.
        """
        if not isinstance(X, Sequences):
            return torch.cat([fn(X[i : i + chunk_size]) for i in range(0, len(X), chunk_size)])
        order = np.argsort(X.lengths(0), kind="stable")
        stacked = torch.cat([fn(self._take(X, order[i : i + 128])) for i in range(0, len(X), 128)])
        result = torch.empty_like(stacked)
        result[torch.as_tensor(order, device=result.device)] = stacked
        return result

    def _few_shot_batches(self, data: FitData) -> Iterator[Batch]:
        """Batches for supervised adaptation with few labelled target examples.

        Each batch holds ``batch_size`` source examples and as many labelled target
        examples, both drawn class-balanced with replacement (every class weighs the
        same, however few its examples), and, when the fit has unlabelled target data,
        as many unlabelled target examples. An epoch is as many batches as the source
        pool fills.
        """
        n = len(data.X_train)
        size = min(self.batch_size, n)
        n_batches = max(n // size, 1)

        def balanced_draws(labels: torch.Tensor) -> np.ndarray:
            y = labels.cpu().numpy()
            weights = 1.0 / np.bincount(y)[y]
            return self._rng.choice(len(y), size=size * n_batches, p=weights / weights.sum())

        source = balanced_draws(data.y_train)
        labelled = balanced_draws(data.y_target_labelled)
        target = None
        if data.X_target is not None:
            target = self._cycle(len(data.X_target), size, n_batches)
        for i in range(n_batches):
            idx, tl = source[i * size : (i + 1) * size], labelled[i * size : (i + 1) * size]
            yield Batch(
                x=self._take(data.X_train, idx),
                y=data.y_train[idx],
                x_target=None if target is None else self._take(data.X_target, target[i]),
                x_target_labelled=self._take(data.X_target_labelled, tl),
                y_target_labelled=data.y_target_labelled[tl],
            )

    @contextlib.contextmanager
    def _frozen(self, *names: str) -> Iterator[None]:
        """Within the block, the parameters of ``modules_[name]`` get no gradients."""
        params = [p for name in names for p in self.modules_[name].parameters()]
        states = [p.requires_grad for p in params]
        for p in params:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p, state in zip(params, states):
                p.requires_grad_(state)

    def _check_class_coverage(self, y: torch.Tensor, pool: str) -> None:
        """Raise a ValueError naming the classes of ``classes_`` absent from ``y``."""
        present = set(y.cpu().numpy().tolist())
        missing = [c for i, c in enumerate(self.classes_.tolist()) if i not in present]
        if missing:
            raise ValueError(
                f"{type(self).__name__} needs every class in {pool}; missing: {missing}"
            )

    def _epoch_started(self, epoch: int, data: FitData) -> None:
        """Hook called before each epoch (schedules such as DANN's lambda)."""

    def _train_step(self, batch: Batch) -> dict[str, float]:
        """One optimisation step on the task loss over the labelled training batch."""
        loss = self._task_loss(self._forward(batch.x), batch.y)
        self._step(self._optimizers["all"], loss)
        return {"loss": loss.item()}

    def _epoch_metrics(self, data: FitData) -> dict[str, float]:
        """Extra per-epoch measurements for ``history_`` (e.g. domain accuracy)."""
        return {}

    # ------------------------------------------------------------ prediction

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Task outputs (logits or regression values) for a batch."""
        return self.modules_["head"](self.modules_["encoder"](x))

    @torch.no_grad()
    def _dev_loss(self, X: torch.Tensor, y: torch.Tensor) -> float:
        self.modules_.eval()
        return float(self._task_loss(self._map_chunks(self._forward, X), y))

    def _check_fitted(self) -> None:
        if not hasattr(self, "modules_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit first")

    def _check_predict_inputs(self, X: object) -> Inputs:
        """``X`` checked against what the model was fitted on, ready for ``_map_chunks``."""
        self._check_fitted()
        inputs = _check_inputs(X, "X")
        self._check_input_kind(inputs, "X")
        fitted = self.sequence_widths_ or self.n_features_in_
        if _width(inputs) != fitted:
            raise ValueError(f"X has {_width(inputs)} features, the model was fitted on {fitted}")
        return self._to_device(inputs)

    @torch.no_grad()
    def _outputs(self, X: object) -> np.ndarray:
        inputs = self._check_predict_inputs(X)
        self.modules_.eval()
        return self._map_chunks(self._forward, inputs).cpu().numpy()

    def predict_proba(self, X: object) -> np.ndarray:
        """Class probabilities (classification only), columns in ``classes_`` order."""
        if self.task != "classification":
            raise AttributeError("predict_proba is for classification; use predict")
        logits = torch.as_tensor(self._outputs(X))
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X: object) -> np.ndarray:
        """Class labels, or regression values shaped like the ``y`` passed to fit."""
        outputs = self._outputs(X)
        if self.task == "classification":
            return self.classes_[outputs.argmax(1)]
        return outputs[:, 0] if self._y_ndim == 1 else outputs

    @torch.no_grad()
    def transform(self, X: object, layer: int = -1) -> np.ndarray:
        """The learned representation: the output of shared layer ``layer`` (default last)."""
        inputs = self._check_predict_inputs(X)
        self.modules_.eval()
        encoder = self.modules_["encoder"]
        n_layers = len(encoder.layers_output(self._take(inputs, slice(0, 2))))
        if not -n_layers <= layer < n_layers:
            raise ValueError(f"layer={layer}; the encoder has {n_layers} shared layers")
        return self._map_chunks(lambda x: encoder.layers_output(x)[layer], inputs).cpu().numpy()

    def score(self, X: object, y: object) -> float:
        """UAR for classification, mean CCC over target columns for regression."""
        predicted = self.predict(X)
        if self.task == "classification":
            truth = np.asarray(y)
            recalls = [np.mean(predicted[truth == c] == c) for c in np.unique(truth)]
            return float(np.mean(recalls))
        pred = torch.as_tensor(np.asarray(predicted, dtype=np.float32).reshape(len(predicted), -1))
        true = torch.as_tensor(np.asarray(y, dtype=np.float32).reshape(len(predicted), -1))
        return float(1 - concordance_loss(pred, true))
