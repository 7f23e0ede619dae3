"""The adversarial autoencoder (Makhzani et al. 2016), optionally conditional, as a transformer.

An encoder ``G`` maps features to a low-dimensional code, a decoder ``F`` reconstructs the
features from the code, and a discriminator ``D`` learns to tell codes from samples of the
prior N(0, I) while ``G`` learns to fool it, so that the code distribution is pushed toward
the prior. Each batch takes two steps:

1. the discriminator step: binary cross-entropy of ``D`` on prior samples (label 1) and on
   detached codes (label 0);
2. the autoencoder step, over ``G``, ``F`` (and ``M``):
   ``MSE(F(G(x)[, c]), x) + adversarial_weight * BCE(D(G(x)), 1)
   [+ aux_weight * MSE(M(G(x)), a)]``.

Two optional inputs of :meth:`AdversarialAutoencoder.fit` turn it into the *enriched
conditional* AAE used by :class:`~emoshift.methods.enriched_aae.EnrichedAAEClassifier`:
``condition`` (one row per example, e.g. a one-hot label) is concatenated to the code at
the decoder input, ``F(G(x), c)``, and ``auxiliary`` (one row of targets per example) is
regressed from the code by a linear auxiliary head ``M``. Without them the decoder is
unconditional and there is no auxiliary head: the plain AAE.

Networks are three linear layers each with leaky ReLU between them (no batch norm, no
dropout): ``G``: features -> ``hidden_sizes`` -> code; ``F``: code [+ condition] ->
reversed ``hidden_sizes`` -> features; ``D``: code -> reversed ``hidden_sizes`` -> 1. Adam
with ``lr`` (5e-4 by default) and betas (0.5, 0.999), as usual for adversarial training.

The input should be standardised (the reconstruction is an MSE in feature units): wrap the
AAE in a pipeline after a ``StandardScaler`` to use it on raw features.

``history_`` holds one dict per epoch: mean ``reconstruction``, ``adversarial`` (the
encoder's fooling loss), ``discriminator`` loss and ``discriminator_accuracy`` over the
epoch's batches, ``auxiliary`` (only with an auxiliary head), and three measurements of how
far the code of the whole training set is from N(0, I) after the epoch (see
:func:`code_statistics`): ``code_kl``, ``code_mean_sq`` and ``code_cov_dev``.
``initial_code_statistics_`` holds the same three before the first update.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 6)).astype("float32")
    >>> aae = AdversarialAutoencoder(code_size=3, hidden_sizes=(16, 16), epochs=20,
    ...                              random_state=0).fit(X)
    >>> aae.transform(X).shape
    (200, 3)
    >>> aae.history_[-1]["code_kl"] < aae.initial_code_statistics_["code_kl"]
    True
    >>> aae.condition_size_, aae.auxiliary_size_, sorted(aae.modules_)
    (0, 0, ['decoder', 'discriminator', 'encoder'])
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from emoshift.methods.estimator import hyper_parameters
from emoshift.methods.inputs import check_features
from emoshift.methods.networks import MLPHead
from emoshift.methods.optim import Adam
from emoshift.methods.params import AT_LEAST_ONE, NON_NEGATIVE, validate_params
from emoshift.methods.shared_params import SHARED_CONSTRAINTS
from emoshift.methods.state import NetworkState
from emoshift.progress import progress
from emoshift.torch_device import torch_device

#: ridge added to the code covariance before its log-determinant in ``code_kl``
KL_RIDGE = 1e-3


def code_statistics(codes: np.ndarray) -> dict[str, float]:
    """How far a set of codes is from N(0, I), three ways.

    - ``code_kl``: KL(N(mu, S) || N(0, I)) of the Gaussian fitted to the codes,
      ``0.5 * (tr S + |mu|^2 - d - log det S)``, with :data:`KL_RIDGE` added to the
      diagonal of ``S`` so that it stays finite when there are fewer codes than dimensions;
    - ``code_mean_sq``: the mean over dimensions of ``mu_j^2``;
    - ``code_cov_dev``: the mean over cells of ``(S - I)^2``.

    All three are 0 for the prior itself (up to sampling noise).

    Example:
        >>> stats = code_statistics(np.random.default_rng(0).normal(size=(5000, 4)))
        >>> all(value < 0.01 for value in stats.values())
        True
        >>> code_statistics(np.full((10, 2), 3.0))["code_mean_sq"]
        9.0
    """
    codes = np.asarray(codes, dtype=np.float64)
    d = codes.shape[1]
    mean = codes.mean(0)
    centred = codes - mean
    cov = centred.T @ centred / max(len(codes) - 1, 1)
    _, logdet = np.linalg.slogdet(cov + KL_RIDGE * np.eye(d))
    kl = 0.5 * (np.trace(cov) + mean @ mean - d - logdet)
    return {
        "code_kl": float(kl),
        "code_mean_sq": float(np.mean(mean**2)),
        "code_cov_dev": float(np.mean((cov - np.eye(d)) ** 2)),
    }


def _optional_matrix(values: object | None, n: int, name: str) -> np.ndarray | None:
    """``None``, or a finite float32 matrix with ``n`` rows (1-D input becomes one column)."""
    if values is None:
        return None
    array = np.asarray(values, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, None]
    array = check_features(array, name)
    if len(array) != n:
        raise ValueError(f"{name} has {len(array)} rows but X has {n}")
    return array


@hyper_parameters
class AdversarialAutoencoder(NetworkState, TransformerMixin, BaseEstimator):
    """Adversarial autoencoder with a N(0, I) prior on its code; ``transform`` gives the code.

    Args:
        code_size: width of the code (e.g. 64 or 10).
        hidden_sizes: widths of the encoder's two hidden layers (reversed for the decoder
            and the discriminator).
        activation: activation between layers (see :data:`~emoshift.methods.networks.ACTIVATIONS`).
        lr: Adam learning rate of all three networks.
        epochs: passes over the training data.
        batch_size: examples per step.
        adversarial_weight: weight of the encoder's fooling loss against reconstruction.
        aux_weight: weight of the auxiliary head's squared error (when ``auxiliary`` is
            passed to :meth:`fit`).
        device: ``"auto"`` (CUDA when torch sees it), ``"cpu"`` or ``"cuda"``.
        random_state: seed of weights, batch order and prior samples; the same seed gives
            the same code on the CPU.
        verbose: show a progress bar over epochs.
    """

    _parameter_constraints = {
        **{
            name: SHARED_CONSTRAINTS[name]
            for name in ("hidden_sizes", "activation", "lr", "batch_size", "device")
        },
        **{name: SHARED_CONSTRAINTS[name] for name in ("random_state", "verbose")},
        "code_size": [AT_LEAST_ONE],
        "epochs": [AT_LEAST_ONE],
        "adversarial_weight": [NON_NEGATIVE],
        "aux_weight": [NON_NEGATIVE],
    }
    #: a saved model keeps these and the networks' weights (rebuilt by :meth:`_new_networks`)
    _saved_attributes = (
        *("n_features_in_", "condition_size_", "auxiliary_size_"),
        *("initial_code_statistics_", "history_"),
    )

    code_size: int = 10
    hidden_sizes: Sequence[int] = (256, 128)
    activation: str = "leaky_relu"
    lr: float = 5e-4
    epochs: int = 100
    batch_size: int = 64
    adversarial_weight: float = 1.0
    aux_weight: float = 1.0
    device: str = "auto"
    random_state: int | None = None
    verbose: bool = False

    def _head(self, n_in: int, n_out: int, hidden: Sequence[int]) -> nn.Module:
        return MLPHead(n_in, n_out, tuple(hidden), activation=self.activation)

    def fit(
        self,
        X: object,
        y: object = None,
        *,
        condition: object | None = None,
        auxiliary: object | None = None,
    ) -> AdversarialAutoencoder:
        """Train encoder, decoder and discriminator (and the auxiliary head) on ``X``.

        Args:
            X: standardised features (examples x features).
            y: ignored (scikit-learn convention); pass labels as ``condition``.
            condition: per-example conditioning rows for the decoder (e.g. one-hot labels).
            auxiliary: per-example targets of the auxiliary head (e.g. averaged
                out-of-context labels of the nearest neighbours).
        """
        validate_params(
            type(self).__name__, self._parameter_constraints, (), self.get_params(deep=False)
        )
        X_arr = check_features(X, "X")
        n = len(X_arr)
        cond = _optional_matrix(condition, n, "condition")
        aux = _optional_matrix(auxiliary, n, "auxiliary")
        self.device_ = torch_device(self.device)
        seed = (
            self.random_state
            if self.random_state is not None
            else int(np.random.SeedSequence().entropy % (2**31))
        )
        self.n_features_in_ = X_arr.shape[1]
        self.condition_size_ = 0 if cond is None else cond.shape[1]
        self.auxiliary_size_ = 0 if aux is None else aux.shape[1]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.modules_ = self._new_networks()
        self.modules_.to(self.device_)
        self._train(X_arr, cond, aux, seed)
        return self

    def _new_networks(self) -> nn.ModuleDict:
        """Encoder, decoder, discriminator (and the auxiliary head) for the fitted sizes."""
        hidden = tuple(int(h) for h in self.hidden_sizes)
        n_in, code = self.n_features_in_, self.code_size
        modules = nn.ModuleDict(
            {
                "encoder": self._head(n_in, code, hidden),
                "decoder": self._head(code + self.condition_size_, n_in, hidden[::-1]),
                "discriminator": self._head(code, 1, hidden[::-1]),
            }
        )
        if self.auxiliary_size_:
            modules["auxiliary"] = self._head(code, self.auxiliary_size_, ())
        return modules

    def _train(
        self, X: np.ndarray, cond: np.ndarray | None, aux: np.ndarray | None, seed: int
    ) -> None:
        def tensor(a: np.ndarray | None) -> torch.Tensor | None:
            return None if a is None else torch.as_tensor(a, device=self.device_)

        X_t, cond_t, aux_t = tensor(X), tensor(cond), tensor(aux)
        rng = np.random.default_rng(seed)
        prior = torch.Generator().manual_seed(seed)
        modules = self.modules_
        autoencoder = [
            p for name, m in modules.items() if name != "discriminator" for p in m.parameters()
        ]
        betas = (0.5, 0.999)
        optimizers = (
            Adam(autoencoder, lr=self.lr, betas=betas),
            Adam(self.modules_["discriminator"].parameters(), lr=self.lr, betas=betas),
        )
        size = min(self.batch_size, len(X))
        self.initial_code_statistics_ = code_statistics(self._encode(X_t))
        self.history_: list[dict[str, float]] = []
        epochs = progress(
            range(self.epochs),
            desc=f"training {type(self).__name__}",
            enabled=self.verbose or None,
            unit="epoch",
        )
        for epoch in epochs:
            started = time.perf_counter()
            self.modules_.train()
            sums: dict[str, float] = {}
            order = rng.permutation(len(X))
            n_steps = max(len(X) // size, 1)
            for step in range(n_steps):
                idx = torch.as_tensor(order[step * size : (step + 1) * size], device=self.device_)
                values = self._train_batch(
                    X_t[idx],
                    None if cond_t is None else cond_t[idx],
                    None if aux_t is None else aux_t[idx],
                    prior,
                    optimizers,
                )
                for key, value in values.items():
                    sums[key] = sums.get(key, 0.0) + value
            record = {"epoch": epoch, **{k: v / n_steps for k, v in sums.items()}}
            record.update(code_statistics(self._encode(X_t)))
            record["time_s"] = time.perf_counter() - started
            self.history_.append(record)
        self.modules_.eval()

    def _train_batch(
        self,
        x: torch.Tensor,
        cond: torch.Tensor | None,
        aux: torch.Tensor | None,
        prior: torch.Generator,
        optimizers: tuple[Adam, Adam],
    ) -> dict[str, float]:
        """A discriminator step, then an autoencoder step; the batch's losses."""
        modules, (opt_ae, opt_d) = self.modules_, optimizers
        bce = nn.functional.binary_cross_entropy_with_logits
        z_prior = torch.randn(len(x), self.code_size, generator=prior).to(self.device_)
        ones = torch.ones(len(x), 1, device=self.device_)
        zeros = torch.zeros(len(x), 1, device=self.device_)

        with torch.no_grad():
            z_fake = modules["encoder"](x)
        d_real, d_fake = modules["discriminator"](z_prior), modules["discriminator"](z_fake)
        loss_d = bce(d_real, ones) + bce(d_fake, zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        accuracy = 0.5 * ((d_real > 0).float().mean() + (d_fake < 0).float().mean())

        z = modules["encoder"](x)
        decoder_in = z if cond is None else torch.cat([z, cond], dim=1)
        loss_rec = nn.functional.mse_loss(modules["decoder"](decoder_in), x)
        loss_adv = bce(modules["discriminator"](z), ones)
        loss = loss_rec + self.adversarial_weight * loss_adv
        values = {
            "reconstruction": loss_rec.item(),
            "adversarial": loss_adv.item(),
            "discriminator": loss_d.item(),
            "discriminator_accuracy": accuracy.item(),
        }
        if aux is not None:
            loss_aux = nn.functional.mse_loss(modules["auxiliary"](z), aux)
            loss = loss + self.aux_weight * loss_aux
            values["auxiliary"] = loss_aux.item()
        opt_ae.zero_grad()
        loss.backward()
        opt_ae.step()
        return values

    @torch.no_grad()
    def _encode(self, X: torch.Tensor) -> np.ndarray:
        self.modules_.eval()
        encoder = self.modules_["encoder"]
        return torch.cat([encoder(X[i : i + 4096]) for i in range(0, len(X), 4096)]).cpu().numpy()

    def _checked(self, X: object) -> torch.Tensor:
        check_is_fitted(self, "modules_")
        array = check_features(X, "X")
        if array.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {array.shape[1]} features, the model was fitted on {self.n_features_in_}"
            )
        return torch.as_tensor(array, device=self.device_)

    def transform(self, X: object) -> np.ndarray:
        """The code ``G(X)`` (examples x ``code_size``)."""
        return self._encode(self._checked(X))

    @torch.no_grad()
    def reconstruct(self, X: object, condition: object | None = None) -> np.ndarray:
        """The decoder's reconstruction ``F(G(X)[, condition])`` in input units.

        A conditional AAE needs the ``condition`` rows (e.g. one-hot labels) here too.
        """
        x = self._checked(X)
        cond = _optional_matrix(condition, len(x), "condition")
        width = 0 if cond is None else cond.shape[1]
        if width != self.condition_size_:
            raise ValueError(
                f"the decoder is conditioned on {self.condition_size_} column(s); "
                f"condition has {width}"
            )
        self.modules_.eval()
        z = self.modules_["encoder"](x)
        if cond is not None:
            z = torch.cat([z, torch.as_tensor(cond, device=self.device_)], dim=1)
        return self.modules_["decoder"](z).cpu().numpy()

    @torch.no_grad()
    def predict_auxiliary(self, X: object) -> np.ndarray:
        """The auxiliary head's output ``M(G(X))`` (only when fitted with ``auxiliary``)."""
        x = self._checked(X)
        if "auxiliary" not in self.modules_:
            raise AttributeError("this AAE was fitted without auxiliary targets: no head M")
        self.modules_.eval()
        return self.modules_["auxiliary"](self.modules_["encoder"](x)).cpu().numpy()
