"""Several equally shaped networks as one: parameters with a leading member dimension.

:func:`stack_networks` turns the networks of M estimators (the same MLP structure, each
built and initialised by its own seed) into one network whose linear layers hold an
``(M, out, in)`` weight and run as one batched matrix product (``torch.baddbmm``, with
the gradients in the orientation ``nn.Linear`` computes them), whose batch-norm layers
normalise each member's batch on its own statistics (in one ``batch_norm`` call when a
member's width is a multiple of :data:`_LANES`, else one call per member; either way its
solo layer's numbers, bit for bit), and whose dropout layers draw each member's mask from
that member's own generator, in the order its solo network would (:data:`MASKS`: with
``exact`` the solo fit's very masks, with ``fast`` cheaper ones). Inputs and outputs carry
the member dimension first: ``(M, batch, features)``. Containers keep their children's
names, so member ``m`` of any tensor of :meth:`~torch.nn.Module.state_dict` is that
member's own state (:func:`member_state`).

Only parameter-free layers, ``nn.Linear``, ``nn.BatchNorm1d`` and ``nn.Dropout`` inside
the MLP encoder and heads stack; anything else (the CNN-GRU encoder, PReLU, a layer-sum)
raises :class:`NotStackable`, naming the layer.

Example:
    >>> import torch
    >>> from emoshift.methods.networks import MLPEncoder
    >>> nets = []
    >>> for seed in (0, 1):
    ...     _ = torch.manual_seed(seed)
    ...     nets.append(MLPEncoder(4, (3,), dropout=0.0).eval())
    >>> stacked = stack_networks(nets, [torch.Generator(), torch.Generator()]).eval()
    >>> x = torch.randn(2, 5, 4)
    >>> bool(torch.allclose(stacked(x)[1], nets[1](x[1]), atol=1e-6))
    True
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from emoshift.methods.networks import ACTIVATIONS, MLPEncoder, MLPHead

#: containers whose children stack one by one (their forward works on 3-D inputs)
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict, MLPEncoder, MLPHead)
#: parameter-free layers that act elementwise, shared by all members as they are
_ELEMENTWISE = tuple(kind for kind in ACTIVATIONS.values() if kind is not nn.PReLU) + (nn.Identity,)
#: batch norm runs as one call for all members when a member's width is a multiple of this
#: (the widest CPU vector, in floats: no vector of the kernel then holds units of two
#: members), else member by member
_LANES = 16
#: how stacked dropout draws a member's masks: ``exact`` as ``nn.Dropout`` does
#: (``bernoulli_``, the masks of the member's solo fit), ``fast`` from 16-bit fields of
#: 64-bit draws (other masks, the keep probability within 2**-17 of the solo fit's, at
#: about a third of the cost of ``bernoulli_``: :func:`_fast_keep`)
MASKS = ("exact", "fast")


class NotStackable(ValueError):
    """These estimators cannot train as one stack (the message says why)."""


class _BatchedLinear(torch.autograd.Function):
    """``x @ weight^T + bias`` per member (a one-unit layer member by member, as
    ``nn.Linear``'s matrix-vector product), with the gradients ``nn.Linear`` computes:
    the weight's as ``grad^T @ x`` (the autograd of ``baddbmm`` with a transposed weight
    computes ``x^T @ grad``, whose rounding differs for some shapes) and the bias's as a
    sum over each member's rows."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        ctx.save_for_backward(x, weight)
        if weight.shape[1] == 1:  # batched, a one-unit layer's products add in another order
            return torch.stack([torch.addmm(b, m, w.t()) for b, m, w in zip(bias, x, weight)])
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # noqa: ANN001
        x, weight = ctx.saved_tensors
        needs_x, needs_weight, needs_bias = ctx.needs_input_grad
        return (
            torch.bmm(grad, weight) if needs_x else None,
            torch.bmm(grad.transpose(1, 2), x) if needs_weight else None,
            # member by member: one sum over (members, rows, out) adds in an order that
            # depends on the number of members
            torch.stack([member.sum(0) for member in grad]) if needs_bias else None,
        )


class StackedLinear(nn.Module):
    """M linear layers: ``weight`` is ``(M, out, in)``, ``bias`` ``(M, out)``."""

    def __init__(self, layers: Sequence[nn.Linear]) -> None:
        super().__init__()
        if any(layer.bias is None for layer in layers):
            raise NotStackable("a linear layer without bias does not stack")
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _BatchedLinear.apply(x.contiguous(), self.weight, self.bias)


class StackedBatchNorm1d(nn.BatchNorm1d):
    """M batch-norm layers: each member's units are channels of one ``batch_norm`` call
    where a member's width is a multiple of :data:`_LANES`, else one call per member.

    A subclass of ``nn.BatchNorm1d``, so that code which freezes running statistics
    (``track_running_stats``) treats it as any batch-norm layer.
    """

    def __init__(self, norms: Sequence[nn.BatchNorm1d]) -> None:
        first = norms[0]
        if not (first.affine and first.track_running_stats):
            raise NotStackable("batch norm stacks only with affine=True and running statistics")
        super().__init__(first.num_features, first.eps, first.momentum)
        self.weight = nn.Parameter(torch.stack([n.weight.detach() for n in norms]))
        self.bias = nn.Parameter(torch.stack([n.bias.detach() for n in norms]))
        self.running_mean = torch.stack([n.running_mean for n in norms])
        self.running_var = torch.stack([n.running_var for n in norms])
        self.num_batches_tracked = torch.stack([n.num_batches_tracked for n in norms])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
        members, rows, width = x.shape
        use_running = not self.training or self.track_running_stats
        if width % _LANES:
            return self._member_by_member(x, use_running)
        # one call, each member's units as channels (members x width)
        out = nn.functional.batch_norm(
            x.transpose(0, 1).reshape(rows, members * width),
            self.running_mean.view(-1) if use_running else None,
            self.running_var.view(-1) if use_running else None,
            self.weight.reshape(-1),
            self.bias.reshape(-1),
            self.training,
            self.momentum,
            self.eps,
        )
        return out.view(rows, members, width).transpose(0, 1).contiguous()

    def _member_by_member(self, x: torch.Tensor, use_running: bool) -> torch.Tensor:
        """One ``batch_norm`` call per member: at a width that is not a multiple of
        :data:`_LANES` one call for all members (padded or not) rounds a member's input
        gradient unlike its solo layer (the kernel's vector tail falls elsewhere)."""
        return torch.stack(
            [
                nn.functional.batch_norm(
                    x[m],
                    self.running_mean[m] if use_running else None,
                    self.running_var[m] if use_running else None,
                    self.weight[m],
                    self.bias[m],
                    self.training,
                    self.momentum,
                    self.eps,
                )
                for m in range(len(x))
            ]
        )


def _fast_keep(shape: torch.Size, keep: float, generators: list[torch.Generator]) -> torch.Tensor:
    """``fast`` masks: member ``m`` keeps a unit when a 16-bit field of a 64-bit draw from
    ``generators[m]`` (four fields a draw) falls below ``keep`` of its range, so the keep
    probability is ``keep`` rounded to a multiple of 2**-16 (0.8 -> 0.800003, 0.5
    exactly). A quarter of the draws of one uniform number per unit, which cost most of
    a mask."""
    members, per_member = shape[0], shape[1:].numel()
    draws = -(-per_member // 4)
    bits = torch.empty(members, draws, dtype=torch.int64)
    for member, generator in enumerate(generators):
        bits[member].random_(-(2**63), None, generator=generator)  # all 64 bits
    fields = bits.view(torch.int16)  # each uniform on [-2**15, 2**15)
    below = fields < round(keep * 2**16) - 2**15
    return below[:, :per_member].reshape(shape)


class StackedDropout(nn.Dropout):
    """Dropout whose member ``m`` draws its mask from ``generators[m]``: with ``masks``
    ``exact`` as ``nn.Dropout`` draws from torch's default generator
    (``bernoulli_(1 - p)``), with ``fast`` from 16-bit fields of 64-bit draws
    (:func:`_fast_keep`); kept units are scaled by ``1 / (1 - p)``. A subclass of
    ``nn.Dropout``, so evaluation switches find it."""

    def __init__(self, p: float, generators: list[torch.Generator], masks: str) -> None:
        super().__init__(p)
        self.generators = generators
        self.masks = masks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = 1 - self.p
        if self.masks == "fast":
            noise = _fast_keep(x.shape, keep, self.generators).to(x.dtype)
        else:
            noise = torch.empty_like(x)
            for member, generator in enumerate(self.generators):
                noise[member].bernoulli_(keep, generator=generator)
        return x * noise.div_(keep)


def stack_networks(
    networks: Sequence[nn.Module], generators: list[torch.Generator], masks: str = "exact"
) -> nn.Module:
    """One network holding ``networks`` (same structure and shapes) as members.

    ``generators`` (one per member, shared by every dropout layer of the result) give each
    member's dropout masks, drawn as ``masks`` says (:data:`MASKS`); :func:`keep_members`
    shrinks the list with the stack.
    """
    if masks not in MASKS:
        raise ValueError(f"masks={masks!r}; choose one of {list(MASKS)}")
    first = networks[0]
    if any(type(network) is not type(first) for network in networks):
        raise NotStackable("the members' networks differ in structure")
    shapes = {tuple((n, tuple(p.shape)) for n, p in net.named_parameters()) for net in networks}
    if len(shapes) != 1:
        raise NotStackable("the members' networks differ in shape")
    if isinstance(first, nn.Linear):
        return StackedLinear(networks)
    if isinstance(first, nn.BatchNorm1d):
        return StackedBatchNorm1d(networks)
    if isinstance(first, nn.Dropout):
        return StackedDropout(first.p, generators, masks)
    if isinstance(first, _ELEMENTWISE):
        return copy.deepcopy(first)
    if not isinstance(first, _CONTAINERS):
        raise NotStackable(f"{type(first).__name__} layers do not stack (MLP layers only)")
    stacked = copy.copy(first)
    stacked._parameters, stacked._buffers = {}, {}
    stacked._modules = {
        name: stack_networks([net._modules[name] for net in networks], generators, masks)
        for name in first._modules
    }
    return stacked


def member_state(stacked: nn.Module, member: int) -> dict[str, torch.Tensor]:
    """A copy of member ``member``'s state, loadable into its solo network."""
    return {name: value[member].clone() for name, value in stacked.state_dict().items()}


def keep_members(stacked: nn.Module, optimizers: Iterable[object], kept: Sequence[int]) -> None:
    """Cut the stack down to the members at positions ``kept`` (in place): parameters,
    their gradients and optimizer moments, batch-norm statistics and dropout generators."""
    index = torch.as_tensor(list(kept), dtype=torch.long)
    for optimizer in optimizers:
        for state in optimizer.state.values():
            for name in ("exp_avg", "exp_avg_sq"):
                state[name] = state[name].index_select(0, index)
    lists: dict[int, list[torch.Generator]] = {}
    for module in stacked.modules():
        for param in module._parameters.values():
            param.data = param.data.index_select(0, index)
            param.grad = None
        for name, buffer in module._buffers.items():
            module._buffers[name] = buffer.index_select(0, index)
        if isinstance(module, StackedDropout):
            lists[id(module.generators)] = module.generators
    for generators in lists.values():
        generators[:] = [generators[i] for i in kept]


def clip_member_gradients(params: Sequence[torch.Tensor], max_norm: float) -> None:
    """``clip_grad_norm_`` for each member on its own: each member's gradient (over all
    ``params``) is scaled to a norm of at most ``max_norm``."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    # per member, the norms of its gradients and their norm, as clip_grad_norm_ takes them
    norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads])
    scale = (max_norm / (torch.linalg.vector_norm(norms, dim=0) + 1e-6)).clamp(max=1.0)
    for grad in grads:
        grad.mul_(scale.view(-1, *[1] * (grad.ndim - 1)))


def apply_member_max_norm(stacked: nn.Module, max_norm: float) -> None:
    """:func:`~emoshift.methods.networks.apply_max_norm` for every member's linear units."""
    with torch.no_grad():
        for layer in stacked.modules():
            if isinstance(layer, StackedLinear):
                weight = layer.weight
                flat = weight.reshape(-1, weight.shape[-1])
                weight.copy_(torch.renorm(flat, p=2, dim=0, maxnorm=max_norm).view_as(weight))
