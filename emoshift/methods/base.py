"""The estimator base that every neural method shares: one ``fit``, one training loop.

Every method is a scikit-learn compatible estimator (``get_params``, ``set_params``,
``clone``) with the shared ``fit`` signature of
:class:`~emoshift.methods.estimator.DomainEstimator`. :class:`NeuralEstimator` owns
label encoding, seeding, early stopping on a development split, ``history_`` (one dict
of losses per epoch), ``predict``, ``predict_proba`` and ``transform(X, layer=i)``; input
checks live in :mod:`emoshift.methods.inputs` and batching in
:mod:`emoshift.methods.batching`. A method supplies the networks it adds
(:meth:`NeuralEstimator._build`) and one optimisation step
(:meth:`NeuralEstimator._train_step`); a method trained in phases (pre-train, then
adapt) overrides :meth:`NeuralEstimator._fit` and calls
:meth:`NeuralEstimator._train_loop` once per phase, passing that phase's ``step`` and
``batches``.

Inputs are feature matrices (``encoder="mlp"``) or variable-length frame sequences
(``encoder="cnn_gru"``, :mod:`emoshift.methods.sequence`), which stay on the CPU until
:mod:`~emoshift.methods.batching` pads them per batch. Subclasses declare their own
hyper-parameters as keyword-only arguments and pass the shared ones through
``**shared``; their constraints extend :data:`~emoshift.methods.shared_params.SHARED_CONSTRAINTS`.

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

import copy
import dataclasses
import inspect
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from emoshift.methods.batching import (
    Batch,
    BatchInputs,
    FitData,
    Inputs,
    few_shot_batches,
    map_chunks,
    pool_batches,
)
from emoshift.methods.ensemble import fit_seed_ensemble
from emoshift.methods.estimator import DomainEstimator, FitArguments
from emoshift.methods.layer_sum import LayerWeightedSum, StackedLayersEncoder, split_width
from emoshift.methods.needs import MethodNeeds
from emoshift.methods.networks import MLPEncoder, MLPHead, apply_max_norm, concordance_loss
from emoshift.methods.optim import Adam
from emoshift.methods.prediction import Predictions
from emoshift.methods.preparation import Spec, prepare
from emoshift.methods.sequence import CNNGRUEncoder
from emoshift.methods.shared_params import SHARED_CONSTRAINTS
from emoshift.methods.state import NetworkState
from emoshift.progress import progress
from emoshift.torch_device import torch_device

__all__ = ["Batch", "BatchInputs", "FitData", "Inputs", "NeuralEstimator", "concordance_loss"]


def dev_loss_improves(loss: float, best: float) -> bool:
    """Whether an epoch's development loss counts as better than the best so far (by more
    than 1e-6) for early stopping: a solo fit's and a stacked member's rule."""
    return loss < best - 1e-6


class NeuralEstimator(Predictions, NetworkState, DomainEstimator):
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
        stacked_layers: the input holds this many equally wide layer blocks (ssl
            features of several layers); > 1 reads their learnable weighted sum
            (:mod:`emoshift.methods.layer_sum`).
        conv_channels: CNN-GRU: output channels of each Conv1D layer.
        conv_kernel_sizes: CNN-GRU: kernel size of each Conv1D layer.
        conv_strides: CNN-GRU: stride of each Conv1D layer.
        gru_size: CNN-GRU: hidden size of the GRU over the convolved frames.
        second_gru_size: CNN-GRU: hidden size of the GRU over a second stream.
        fusion_sizes: CNN-GRU: linear layers after the concatenated GRU states.
        head_hidden_sizes: hidden widths of the task head before its output layer.
        head_batch_norm: batch normalisation after each hidden layer of the heads (the
            task head and, in methods that have one, the domain classifier).
        head_dropout: dropout after each hidden layer of the heads.
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
        target_sample: which unlabelled target examples (``X_target``) a fit trains on:
            ``"all"`` of them, or ``"source_size"``: a random subset as large as the
            labelled training pool (all of them when the pool is smaller), drawn once per
            fit from ``random_state``, so each trial draws its own (Abdelwahab & Busso
            2018, Sec. IV-E). The drawn positions are ``target_sample_``.
        grad_clip: clip the gradient norm at this value (``None``: no clipping).
        max_norm: cap each unit's incoming weight norm after every step (``None``: off).
        device: ``"auto"`` (CUDA when torch sees it), ``"cpu"`` or ``"cuda"``.
        random_state: seed for weights, batches and dropout; the same seed gives the
            same numbers.
        ensemble: train this many models with seeds ``random_state + i`` and average
            their probabilities or outputs (:mod:`emoshift.methods.ensemble`; 1: one model).
        verbose: show a progress bar over epochs.
    """

    #: what fit reads besides labelled source data
    needs = MethodNeeds(development_set=True)
    _parameter_constraints = SHARED_CONSTRAINTS
    _fitted_attribute = "modules_"
    #: a saved model keeps these and the networks' weights (rebuilt by :meth:`_build`)
    _saved_attributes = (
        *("classes_", "n_outputs_", "_y_ndim", "sequence_widths_", "n_features_in_"),
        *("n_epochs_", "best_epoch_", "history_"),
    )
    #: which labelled pool the training loop iterates over: "source", "target" or "both"
    train_pool = "source"
    #: early stopping uses ``eval_set`` when one is given (else a split of the pool)
    stop_on_eval_set = True

    def __init__(
        self,
        *,
        task: str = "classification",
        hidden_sizes: Sequence[int] = (256, 128),
        activation: str = "relu",
        batch_norm: bool = True,
        dropout: float = 0.2,
        input_dropout: float = 0.0,
        stacked_layers: int = 1,
        encoder: str = "mlp",
        conv_channels: Sequence[int] = (64, 128),
        conv_kernel_sizes: Sequence[int] = (10, 5),
        conv_strides: Sequence[int] = (2, 2),
        gru_size: int = 128,
        second_gru_size: int = 512,
        fusion_sizes: Sequence[int] = (128, 128),
        head_hidden_sizes: Sequence[int] = (),
        head_batch_norm: bool = False,
        head_dropout: float = 0.0,
        regression_loss: str = "mse",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 64,
        max_epochs: int = 100,
        patience: int | None = 10,
        validation_fraction: float = 0.1,
        class_balanced: bool = False,
        target_sample: str = "all",
        grad_clip: float | None = None,
        max_norm: float | None = None,
        device: str = "auto",
        random_state: int | None = None,
        ensemble: int = 1,
        verbose: bool = False,
    ) -> None:
        self.task = task
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.stacked_layers = stacked_layers
        self.encoder = encoder
        self.conv_channels = conv_channels
        self.conv_kernel_sizes = conv_kernel_sizes
        self.conv_strides = conv_strides
        self.gru_size = gru_size
        self.second_gru_size = second_gru_size
        self.fusion_sizes = fusion_sizes
        self.head_hidden_sizes = head_hidden_sizes
        self.head_batch_norm = head_batch_norm
        self.head_dropout = head_dropout
        self.regression_loss = regression_loss
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.class_balanced = class_balanced
        self.target_sample = target_sample
        self.grad_clip = grad_clip
        self.max_norm = max_norm
        self.device = device
        self.random_state = random_state
        self.ensemble = ensemble
        self.verbose = verbose

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Give a subclass ``__init__(self, *, own..., **shared)`` the merged signature
        (what ``get_params``, ``clone`` and ``help()`` read), so that no subclass repeats
        the shared parameters and their defaults."""
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

    def _fit_given(self, given: FitArguments) -> NeuralEstimator:
        vars(self).pop("stacked_", None)  # an earlier stacked fit's (fit_stacked sets it)
        if self.ensemble > 1:
            return fit_seed_ensemble(self, given)
        self._fit(self._begin_fit(given))
        self._end_fit()
        return self

    def _begin_fit(self, given: FitArguments) -> FitData:
        """What a fit does before training, alone or in a stack
        (:func:`~emoshift.methods.stacked.fit_stacked`): drop an earlier seed ensemble's
        members, check the inputs, seed, build, and cut the target subset."""
        vars(self).pop("members_", None)
        data = self._prepare(given)
        self._start_fit(data)
        return self._sample_target(data)

    def _end_fit(self) -> None:
        """What a fit does after training, alone or in a stack."""
        self.n_epochs_ = len(self.history_)
        self.modules_.eval()

    def _sample_target(self, data: FitData) -> FitData:
        """``data`` with ``X_target`` cut to the subset ``target_sample`` asks for
        (``target_sample_``: its positions in the given ``X_target``, sorted)."""
        vars(self).pop("target_sample_", None)
        if self.target_sample == "all" or data.X_target is None:
            return data
        n_target = len(data.X_target)
        size = min(len(data.X_train), n_target)
        self.target_sample_ = np.sort(self._rng.choice(n_target, size=size, replace=False))
        subset = data.X_target[self.target_sample_]
        return dataclasses.replace(data, X_target=subset)

    def _fit(self, data: FitData) -> None:
        """Train the networks built by :meth:`_build`; the default is one phase."""
        self._train_loop(data, self.max_epochs)

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
        epochs: int,
        *,
        step: Callable[[Batch], dict[str, float]] | None = None,
        batches: Callable[[FitData], Iterable[Batch]] | None = None,
        phase: str | None = None,
        patience: int | None | str = "default",
        eval_modules: Sequence[str] = (),
    ) -> None:
        """Train for up to ``epochs`` epochs, appending one record each to ``history_``.

        ``step`` is one optimisation step (default :meth:`_train_step`), ``batches`` an
        epoch's batches (default :meth:`_batches`); ``phase`` labels the records of a
        multi-phase fit (epochs keep counting; ``best_epoch_`` indexes ``history_``).
        Early stopping watches ``data.X_dev`` when there is one and ``patience`` (the
        parameter, unless given) is not ``None``, and restores the best epoch's weights.
        ``eval_modules`` stay in evaluation mode (frozen batch-norm statistics).
        """
        step = step or self._train_step
        batches = batches or self._batches
        patience = self.patience if patience == "default" else patience
        best_loss, best_state, stale = math.inf, None, 0
        first = len(self.history_)
        label = type(self).__name__ + (f" ({phase})" if phase else "")
        for epoch in progress(
            range(first, first + epochs),
            desc=f"training {label}",
            enabled=bool(self.verbose),
            unit="epoch",
        ):
            started = time.perf_counter()
            self.modules_.train()
            for name in eval_modules:
                self.modules_[name].eval()
            self._epoch_started(epoch, data)
            record = self._run_epoch(step, batches(data), epoch)
            if phase is not None:
                record["phase"] = phase
            if data.X_dev is not None:
                record["dev_loss"] = self._dev_loss(data.X_dev, data.y_dev)
            record["time_s"] = time.perf_counter() - started
            self.history_.append(record)
            if data.X_dev is None or patience is None:
                continue
            if dev_loss_improves(record["dev_loss"], best_loss):
                best_loss, stale, self.best_epoch_ = record["dev_loss"], 0, epoch
                best_state = copy.deepcopy(self.modules_.state_dict())
            else:
                stale += 1
                if stale >= patience:
                    break
        if best_state is not None:
            self.modules_.load_state_dict(best_state)

    @staticmethod
    def _run_epoch(
        step: Callable[[Batch], dict[str, float]], batches: Iterable[Batch], epoch: int
    ) -> dict[str, float]:
        """One pass of ``step`` over ``batches``; the record holds each value's mean."""
        sums: dict[str, float] = {}
        n_steps = 0
        for batch in batches:
            for key, value in step(batch).items():
                sums[key] = sums.get(key, 0.0) + float(value)
            n_steps += 1
        return {"epoch": epoch, **{k: v / max(n_steps, 1) for k, v in sums.items()}}

    def _new_networks(self) -> nn.ModuleDict:
        """The networks of :meth:`_build`, for a saved model (without training data)."""
        self.modules_ = nn.ModuleDict()
        self._build(None)
        return self.modules_

    # ----------------------------------------------------------------- inputs

    def _prepare(self, given: FitArguments) -> FitData:
        """Check the inputs, learn outputs and widths, and build the fit's data."""
        self.device_ = torch_device(self.device)
        spec = Spec(
            owner=type(self).__name__,
            task=self.task,
            encoder=self.encoder,
            train_pool=self.train_pool,
            needs=self.needs.resolve(self.get_params(deep=False)),
            validation_fraction=self.validation_fraction,
            patience=self.patience,
            random_state=self.random_state,
            stop_on_eval_set=self.stop_on_eval_set,
        )
        data, outputs = prepare(spec, self.device_, given)
        if outputs.classes is not None:
            self.classes_ = outputs.classes
        self.n_outputs_ = outputs.n_outputs
        self._y_ndim = outputs.y_ndim
        self.sequence_widths_ = outputs.sequence_widths
        self.n_features_in_ = outputs.n_features_in
        return data

    # ------------------------------------------------------------- networks

    def _make_encoder(self, n_features: int) -> nn.Module:
        """The shared encoder: an MLP over ``n_features``, or the CNN-GRU over the
        fitted sequence streams (whose first width is ``n_features``); with
        ``stacked_layers > 1`` it reads the weighted sum of the layer blocks."""
        if self.stacked_layers != 1:
            width = split_width(n_features, self.stacked_layers)
            encoder = self._make_single_encoder(width)
            return StackedLayersEncoder(LayerWeightedSum(self.stacked_layers, width), encoder)
        return self._make_single_encoder(n_features)

    def _make_single_encoder(self, n_features: int) -> nn.Module:
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

    def _make_head(
        self, n_in: int, n_out: int, hidden_sizes: Sequence[int] | None = None
    ) -> nn.Module:
        """A head of ``hidden_sizes`` (default ``head_hidden_sizes``) hidden layers with
        the heads' activation, batch norm and dropout, then a linear output layer."""
        return MLPHead(
            n_in,
            n_out,
            self.head_hidden_sizes if hidden_sizes is None else hidden_sizes,
            activation=self.activation,
            batch_norm=self.head_batch_norm,
            dropout=self.head_dropout,
        )

    def _build(self, data: FitData | None) -> None:
        """Create the networks in ``self.modules_``; the default is encoder + task head.
        ``data`` is ``None`` for a saved model: sizes come from the fitted attributes."""
        self.modules_["encoder"] = self._make_encoder(self.n_features_in_)
        self.modules_["head"] = self._make_head(
            self.modules_["encoder"].output_size, self.n_outputs_
        )

    def _make_optimizers(self) -> dict[str, Adam]:
        """One Adam over all parameters; methods with alternating updates override this."""
        return {"all": self._adam(self.modules_.parameters())}

    def _adam(self, parameters: object, lr: float | None = None) -> Adam:
        lr = self.lr if lr is None else lr
        return Adam(parameters, lr=lr, weight_decay=self.weight_decay)

    # -------------------------------------------------------------- training

    def _task_loss(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.task == "classification":
            return nn.functional.cross_entropy(outputs, target)
        if self.regression_loss == "ccc":
            return concordance_loss(outputs, target)
        return nn.functional.mse_loss(outputs, target)

    def _step(self, optimizer: Adam, loss: torch.Tensor) -> None:
        """Zero, backpropagate, clip, update, and apply the max-norm constraint."""
        optimizer.zero_grad()
        loss.backward()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(params, self.grad_clip)
        optimizer.step()
        if self.max_norm is not None:
            apply_max_norm(self.modules_, self.max_norm)

    def _batches(self, data: FitData) -> Iterator[Batch]:
        """Training-pool batches, each paired with target batches of the same size."""
        balanced = self.class_balanced and self.task == "classification"
        return pool_batches(data, self._rng, self.batch_size, self.device_, balanced=balanced)

    def _few_shot_batches(self, data: FitData) -> Iterator[Batch]:
        """Class-balanced source and labelled target batches (see
        :func:`~emoshift.methods.batching.few_shot_batches`)."""
        return few_shot_batches(data, self._rng, self.batch_size, self.device_)

    def _check_class_coverage(self, data: FitData) -> None:
        """Raise a ValueError naming the classes absent from the source or labelled target."""
        for pool, y in (
            ("the source training data", data.y_train),
            ("the labelled target examples", data.y_target_labelled),
        ):
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

    # ------------------------------------------------------------ prediction

    def _forward(self, x: BatchInputs) -> torch.Tensor:
        """Task outputs (logits or regression values) for a batch."""
        return self.modules_["head"](self.modules_["encoder"](x))

    @torch.no_grad()
    def _dev_loss(self, X: Inputs, y: torch.Tensor) -> float:
        self.modules_.eval()
        return float(self._task_loss(map_chunks(self._forward, X, self.device_), y))
