"""Network building blocks shared by the methods: encoders, heads, gradient reversal.

Example:
    >>> import torch
    >>> encoder = MLPEncoder(10, hidden_sizes=(16, 8))
    >>> encoder(torch.zeros(4, 10)).shape
    torch.Size([4, 8])
    >>> [h.shape[1] for h in encoder.layers_output(torch.zeros(4, 10))]
    [16, 8]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "prelu": nn.PReLU,
    "selu": nn.SELU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def make_activation(name: str) -> nn.Module:
    """An activation module by name (``relu``, ``leaky_relu``, ``prelu``, ``selu`` ...)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None


def dense_block(
    n_in: int, n_out: int, *, activation: str, batch_norm: bool, dropout: float
) -> nn.Sequential:
    """Linear -> (batch norm) -> activation -> (dropout)."""
    layers: list[nn.Module] = [nn.Linear(n_in, n_out)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(n_out))
    layers.append(make_activation(activation))
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """A stack of dense blocks; each block's output is a readable shared layer.

    Args:
        n_features: input width.
        hidden_sizes: width of each shared layer (at least one).
        activation: activation name (see :data:`ACTIVATIONS`).
        batch_norm: batch normalisation after each linear layer.
        dropout: dropout after each block.
        input_dropout: dropout on the input features.
    """

    def __init__(
        self,
        n_features: int,
        hidden_sizes: Sequence[int] = (256, 128),
        *,
        activation: str = "relu",
        batch_norm: bool = True,
        dropout: float = 0.2,
        input_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not hidden_sizes:
            raise ValueError("hidden_sizes must name at least one shared layer width")
        self.input_dropout = nn.Dropout(input_dropout) if input_dropout > 0 else nn.Identity()
        sizes = [n_features, *hidden_sizes]
        self.blocks = nn.ModuleList(
            dense_block(a, b, activation=activation, batch_norm=batch_norm, dropout=dropout)
            for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.output_size = sizes[-1]

    def layers_output(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output of every shared layer, first to last."""
        outputs = []
        x = self.input_dropout(x)
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers_output(x)[-1]


class MLPHead(nn.Module):
    """Dense hidden layers followed by a linear output layer (logits or regression values)."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        hidden_sizes: Sequence[int] = (),
        *,
        activation: str = "relu",
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        sizes = [n_in, *hidden_sizes]
        self.hidden = nn.Sequential(
            *(
                dense_block(a, b, activation=activation, batch_norm=batch_norm, dropout=dropout)
                for a, b in zip(sizes[:-1], sizes[1:])
            )
        )
        self.out = nn.Linear(sizes[-1], n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(x))


class _GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:  # noqa: ANN001
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN001
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Identity in the forward pass; multiplies the gradient by ``-scale`` backward.

    Example:
        >>> x = torch.ones(3, requires_grad=True)
        >>> reverse_gradient(x, 0.5).sum().backward()
        >>> x.grad.tolist()
        [-0.5, -0.5, -0.5]
    """
    return _GradientReversal.apply(x, float(scale))


class GradientReversal(nn.Module):
    """Module form of :func:`reverse_gradient`; set ``scale`` (lambda) between steps."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return reverse_gradient(x, self.scale)


def apply_max_norm(module: nn.Module, max_norm: float) -> None:
    """Rescale each linear unit's incoming weight vector to an L2 norm of at most ``max_norm``."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                layer.weight.copy_(torch.renorm(layer.weight, p=2, dim=0, maxnorm=max_norm))


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


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Within the block, the parameters of ``modules`` get no gradients."""
    params = [p for module in modules for p in module.parameters()]
    states = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, state in zip(params, states):
            p.requires_grad_(state)
