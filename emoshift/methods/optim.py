"""Adam, as the methods use it, without ``torch.optim``'s start-up cost.

:class:`Adam` performs exactly the arithmetic of ``torch.optim.Adam`` with its default
CPU path for these settings (the single-tensor loop; no AMSGrad, no maximise,
no capturable or differentiable mode, L2 weight decay added to the gradient), operation
for operation, so every parameter ends bit for bit where ``torch.optim.Adam`` would put
it (``tests/test_optim.py`` checks this). What it leaves out is the machinery around
that loop: ``torch.optim.Optimizer`` imports ``torch._dynamo`` when the first optimizer
is built (3-6 s of a fresh process on a busy 2-core machine, before the first step)
and wraps every step in hooks, profiler records and compile checks (about a third of a
millisecond per step). Parameters without a gradient in a step are skipped, their step
count unchanged, as in torch. On CUDA the same arithmetic runs as one ``torch._foreach_*``
kernel per operation over all parameters (torch's own default there), since on a GPU a
step of a small network costs kernel launches, not arithmetic; ``foreach=True`` takes that
path on the CPU too (the same per-tensor kernels, so the same bits, with one call per
operation instead of one per parameter: a stacked fit's optimizer uses it).

Example:
    >>> import torch
    >>> weight = torch.nn.Parameter(torch.ones(2))
    >>> optimizer = Adam([weight], lr=0.1)
    >>> (weight ** 2).sum().backward()
    >>> optimizer.step()
    >>> [round(value, 4) for value in weight.detach().tolist()]  # one step of size lr
    [0.9, 0.9]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


class Adam:
    """Adam (Kingma & Ba) over parameter groups, each a dict with ``params`` and
    optionally its own ``lr``, as for ``torch.optim.Adam``.

    Args:
        params: parameters, or groups (dicts with ``params`` and optionally ``lr``).
        lr: learning rate of the groups that name none.
        betas: decay rates of the first and second moment estimates.
        eps: term added to the denominator.
        weight_decay: L2 penalty, added to the gradient (as ``torch.optim.Adam`` does).
        foreach: one ``torch._foreach_*`` call per operation over all parameters; ``None``
            (default) on CUDA only.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
    ) -> None:
        self.foreach = foreach
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        given = list(params)
        groups = given if given and isinstance(given[0], dict) else [{"params": given}]
        self.param_groups: list[dict[str, Any]] = [
            {**defaults, **group, "params": list(group["params"])} for group in groups
        ]
        self.state: dict[torch.Tensor, dict[str, Any]] = {}

    def zero_grad(self) -> None:
        """Forget every gradient (``set_to_none``, torch's default)."""
        for group in self.param_groups:
            for param in group["params"]:
                param.grad = None

    def _state_of(self, param: torch.Tensor) -> dict[str, Any]:
        """The moment estimates and step count of ``param``, created at its first step."""
        state = self.state.get(param)
        if state is None:
            state = self.state[param] = {
                "step": 0.0,
                "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(param, memory_format=torch.preserve_format),
            }
        return state

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            with_grad = [param for param in group["params"] if param.grad is not None]
            foreach = self.foreach
            if foreach is None:
                foreach = all(param.is_cuda for param in with_grad)
            if with_grad and foreach:
                self._foreach_step(group, with_grad)
            else:
                self._single_tensor_step(group, with_grad)

    def _foreach_step(self, group: dict[str, Any], params: list[torch.Tensor]) -> None:
        """The update of :meth:`_single_tensor_step`, one kernel per operation for all
        parameters that share a step count (on CUDA, or with ``foreach``)."""
        beta1, beta2 = group["betas"]
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        by_step: dict[float, list[torch.Tensor]] = {}
        for param in params:
            state = self._state_of(param)
            state["step"] += 1.0
            by_step.setdefault(state["step"], []).append(param)
        for step, same in by_step.items():
            grads = [param.grad for param in same]
            if weight_decay != 0:
                grads = torch._foreach_add(grads, same, alpha=weight_decay)
            exp_avgs = [self.state[param]["exp_avg"] for param in same]
            exp_avg_sqs = [self.state[param]["exp_avg_sq"] for param in same]
            torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
            torch._foreach_mul_(exp_avg_sqs, beta2)
            torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
            step_size = lr / (1 - beta1**step)
            bias_correction2_sqrt = (1 - beta2**step) ** 0.5
            denoms = torch._foreach_sqrt(exp_avg_sqs)
            torch._foreach_div_(denoms, bias_correction2_sqrt)
            torch._foreach_add_(denoms, eps)
            torch._foreach_addcdiv_(same, exp_avgs, denoms, value=-step_size)

    def _single_tensor_step(self, group: dict[str, Any], params: list[torch.Tensor]) -> None:
        """torch's single-tensor Adam loop, operation for operation."""
        beta1, beta2 = group["betas"]
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        for param in params:
            grad = param.grad
            state = self._state_of(param)
            state["step"] += 1.0
            step = state["step"]
            if weight_decay != 0:
                grad = grad.add(param, alpha=weight_decay)
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step_size = lr / (1 - beta1**step)
            bias_correction2_sqrt = (1 - beta2**step) ** 0.5
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)
