"""Where the time of one stacked DANN step goes, against five solo steps (issue 22).

One torch thread, the DANN defaults (88 eGeMAPS-wide inputs, the 256-128 encoder, 128-unit
task head and domain classifier, batch norm, dropout 0.2/0.5, clipping 10, max-norm 4,
64 source + 64 target rows a step, 4 classes), synthetic batches (the time of a step does
not depend on the numbers). Measured, each as the median over ``--repeats`` rounds of
``--steps`` steps, the order of the rounds rotating:

- ``solo``: five DANN estimators (seeds 0-4), one ``_train_step`` each;
- ``stacked``: one stacked step of the same five (``fast`` masks, as ``emoshift run``);
- ``bare``: the floor peer, the same stacked shapes as a bare torch loop with the least
  Python and no per-member bookkeeping: ``baddbmm`` layers under autograd, one
  ``batch_norm`` call over all members' units, uniform dropout masks from one generator,
  the two losses, backward, per-member clipping and max-norm, and a ``torch._foreach``
  Adam;
- ``products_stacked`` / ``products_solo``: the matrix products alone (forward, input
  gradient and weight gradient of every linear layer), batched for five members and as
  five solo sets: the arithmetic that stacking cannot share out.

``--profile`` adds the torch profiler's self CPU time of the stacked step by operator
kind (products, the rest of the operators) against its wall time: what is left is the
Python around the operators.

Usage:
    python benchmarks/profile_stack_step.py --steps 200 --repeats 5 --profile
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from emoshift.methods.base import Batch
from emoshift.methods.dann import DANN
from emoshift.methods.stacked import new_stack
from emoshift.methods.stacked_steps import STACKED_STEPS

MEMBERS = 5
#: stack sizes of the sweep that separates per-step from per-member cost
SIZES = (1, 2, 5, 10, 20)
ROWS = 64
FEATURES = 88
CLASSES = 4
#: (in, out, rows) of every linear layer of DANN's default network: the encoder's two
#: (source and target rows), the task head's two (source rows), the domain classifier's two
LAYERS = (
    (FEATURES, 256, 2 * ROWS),
    (256, 128, 2 * ROWS),
    (128, 128, ROWS),
    (128, CLASSES, ROWS),
    (128, 128, 2 * ROWS),
    (128, 1, 2 * ROWS),
)
#: the layers followed by batch norm (all but the two outputs)
NORMED = (0, 1, 2, 4)
#: operators counted as matrix products in the profile
PRODUCTS = ("aten::addmm", "aten::mm", "aten::bmm", "aten::baddbmm", "aten::mv", "aten::addmv")


def _data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4 * ROWS, FEATURES)).astype("float32")
    y = np.array(["anger", "happiness", "neutral", "sadness"])[np.arange(4 * ROWS) % CLASSES]
    return X, y, rng.normal(size=(4 * ROWS, FEATURES)).astype("float32")


def _batch(seed: int) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    return Batch(
        x=torch.randn(ROWS, FEATURES, generator=generator),
        y=torch.randint(CLASSES, (ROWS,), generator=generator),
        x_target=torch.randn(ROWS, FEATURES, generator=generator),
    )


def _models(members: int) -> list[DANN]:
    """``members`` DANN estimators at their defaults, built (one short fit each), in
    training mode with lambda 1."""
    models = []
    X, y, X_target = _data(0)
    for seed in range(members):
        model = DANN(max_epochs=1, warmup_epochs=0, random_state=seed)
        model.fit(X, y, X_target=X_target)
        model.lambda_ = 1.0
        model.modules_.train()
        models.append(model)
    return models


def solo_round(members: int = MEMBERS) -> Callable[[], None]:
    """``members`` DANN estimators; a call is one training step of each."""
    models = _models(members)
    batches = [_batch(seed) for seed in range(members)]

    def run() -> None:
        for model, batch in zip(models, batches):
            model._train_step(batch)

    return run


def stacked_round(members: int = MEMBERS) -> Callable[[], None]:
    """One stack of ``members`` DANN estimators (``fast`` masks); a call is one step."""
    generators = [torch.Generator().manual_seed(seed) for seed in range(members)]
    stack = new_stack(_models(members), generators, "fast")
    stack.modules.train()
    stack.member_values = {"lambda_": torch.ones(members, dtype=torch.float64)}
    batches = [_batch(seed) for seed in range(members)]
    batch = Batch(
        x=torch.stack([b.x for b in batches]),
        y=torch.stack([b.y for b in batches]),
        x_target=torch.stack([b.x_target for b in batches]),
    )
    step = STACKED_STEPS[DANN].step

    def run() -> None:
        step(stack, batch)

    return run


def bare_round(members: int = MEMBERS) -> Callable[[], None]:
    """The floor peer: the stacked step's arithmetic as a bare torch loop."""
    torch.manual_seed(0)
    weights = [(torch.randn(members, o, i) * 0.05).requires_grad_() for i, o, _ in LAYERS]
    biases = [torch.zeros(members, o, requires_grad=True) for _, o, _ in LAYERS]
    widths = [LAYERS[layer][1] for layer in NORMED]
    norms = [
        (torch.ones(members, w, requires_grad=True), torch.zeros(members, w, requires_grad=True))
        for w in widths
    ]
    running = [(torch.zeros(members * w), torch.ones(members * w)) for w in widths]
    params = [*weights, *biases, *(p for pair in norms for p in pair)]
    moments = [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(members, 2 * ROWS, FEATURES)
    y = torch.randint(CLASSES, (members * ROWS,))
    is_target = torch.zeros(members, 2 * ROWS)
    is_target[:, ROWS:] = 1

    def dropout(h: torch.Tensor, p: float) -> torch.Tensor:
        keep = torch.empty_like(h).uniform_(generator=generator).lt_(1 - p)
        return h * keep.div_(1 - p)

    def block(h: torch.Tensor, layer: int, norm: int) -> torch.Tensor:
        h = torch.baddbmm(biases[layer].unsqueeze(1), h, weights[layer].transpose(1, 2))
        m, r, w = h.shape
        flat = h.transpose(0, 1).reshape(r, m * w)
        scale, shift = (p.view(-1) for p in norms[norm])
        flat = nn.functional.batch_norm(flat, *running[norm], scale, shift, True, 0.1)
        return dropout(torch.relu(flat.view(r, m, w).transpose(0, 1)), 0.5)

    def linear(h: torch.Tensor, layer: int) -> torch.Tensor:
        return torch.baddbmm(biases[layer].unsqueeze(1), h, weights[layer].transpose(1, 2))

    def run() -> None:
        features = block(block(dropout(x, 0.2), 0, 0), 1, 1)
        task = linear(block(features[:, :ROWS], 2, 2), 3)
        task_loss = nn.functional.cross_entropy(task.reshape(-1, CLASSES), y)
        domain = linear(block(features, 4, 3), 5).squeeze(2)
        domain_loss = nn.functional.binary_cross_entropy_with_logits(domain, is_target)
        for p in params:
            p.grad = None
        (task_loss + domain_loss).backward()
        with torch.no_grad():
            grads = [p.grad for p in params]
            member_norms = torch.stack(
                [torch.linalg.vector_norm(g.view(members, -1), dim=1) for g in grads]
            )
            scale = (10 / (torch.linalg.vector_norm(member_norms, dim=0) + 1e-6)).clamp(max=1)
            for g in grads:
                g.mul_(scale.view(-1, *[1] * (g.ndim - 1)))
            exp_avg, exp_avg_sq = moments
            torch._foreach_lerp_(exp_avg, grads, 0.1)
            torch._foreach_mul_(exp_avg_sq, 0.999)
            torch._foreach_addcmul_(exp_avg_sq, grads, grads, value=0.001)
            denoms = torch._foreach_sqrt(exp_avg_sq)
            torch._foreach_add_(denoms, 1e-8)
            torch._foreach_addcdiv_(params, exp_avg, denoms, value=-1e-3)
            for w in weights:
                w.copy_(torch.renorm(w.view(-1, w.shape[-1]), 2, 0, 4.0).view_as(w))

    return run


def _product_operands(members: int | None) -> list[tuple[torch.Tensor, ...]]:
    operands = []
    for n_in, n_out, rows in LAYERS:
        shape = (rows, n_in), (n_out, n_in), (rows, n_out)
        if members is not None:
            shape = tuple((members, *s) for s in shape)
        operands.append(tuple(torch.randn(*s) for s in shape))
    return operands


def products_round(members: int, stacked: bool) -> Callable[[], None]:
    """The forward, input-gradient and weight-gradient products of every layer: for five
    members as batched products, or five times as solo ones."""
    if stacked:
        operands = _product_operands(members)

        def run() -> None:
            for x, w, g in operands:
                torch.bmm(x, w.transpose(1, 2))
                torch.bmm(g, w)
                torch.bmm(g.transpose(1, 2), x)

        return run
    operands = _product_operands(None)

    def run_solo() -> None:
        for _ in range(members):
            for x, w, g in operands:
                torch.mm(x, w.t())
                torch.mm(g, w)
                torch.mm(g.t(), x)

    return run_solo


#: the CNN-GRU encoder's GRU at its defaults: 128 convolved channels in, 128 units, over
#: 71 steps (3 s of 100 Hz frames after its two stride-2 convolutions), 64 + 64 rows
GRU_SHAPE = {"steps": 71, "rows": 2 * ROWS, "inputs": 128, "units": 128}


def _stacked_gru(x: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
    """The last state of M GRUs (``nn.GRU``'s gates) over ``x`` ``(M, rows, steps,
    inputs)``, written with batched products: the input side as one product over every
    step, the recurrent side one product per step."""
    w_ih, w_hh, b_ih, b_hh = weights
    members, rows, steps, inputs = x.shape
    gates_in = torch.baddbmm(
        b_ih.unsqueeze(1), x.reshape(members, rows * steps, inputs), w_ih.transpose(1, 2)
    ).view(members, rows, steps, -1)
    state = x.new_zeros(members, rows, w_hh.shape[2])
    # unbind: its backward stacks the steps' gradients once (indexing would add each
    # into a zero tensor of every step's size)
    for gates in gates_in.unbind(2):
        gates_h = torch.baddbmm(b_hh.unsqueeze(1), state, w_hh.transpose(1, 2))
        in_r, in_z, in_n = gates.chunk(3, 2)
        h_r, h_z, h_n = gates_h.chunk(3, 2)
        reset, update = torch.sigmoid(in_r + h_r), torch.sigmoid(in_z + h_z)
        new = torch.tanh(in_n + reset * h_n)
        state = new + update * (state - new)
    return state


def gru_rounds(members: int = MEMBERS) -> tuple[dict[str, Callable[[], None]], float]:
    """Forward and backward of the CNN-GRU encoder's GRU for ``members`` members: as
    ``members`` ``nn.GRU`` calls, and as one GRU stacked with batched products (equal
    lengths, no packing: the best case for both); and the largest difference between the
    two's last states."""
    torch.manual_seed(0)
    shape = GRU_SHAPE
    grus = [nn.GRU(shape["inputs"], shape["units"], batch_first=True) for _ in range(members)]
    x = torch.randn(members, shape["rows"], shape["steps"], shape["inputs"])
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    weights = [
        torch.stack([getattr(gru, name).detach() for gru in grus]).requires_grad_()
        for name in names
    ]

    def solo() -> None:
        for gru, rows in zip(grus, x):
            gru(rows)[1].sum().backward()

    def stacked() -> None:
        _stacked_gru(x, weights).sum().backward()

    with torch.no_grad():
        theirs = torch.stack([gru(rows)[1][0] for gru, rows in zip(grus, x)])
        difference = float((_stacked_gru(x, weights) - theirs).abs().max())
    return {"gru_solo": solo, "gru_stacked": stacked}, difference


def _time(run: Callable[[], None], steps: int) -> float:
    started = time.perf_counter()
    for _ in range(steps):
        run()
    return (time.perf_counter() - started) / steps * 1e3


def profile(run: Callable[[], None], steps: int) -> dict:
    """Self CPU time per step of the products and of every other operator, in ms."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    for _ in range(10):
        run()
    started = time.perf_counter()
    with torch_profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            run()
    wall = (time.perf_counter() - started) / steps * 1e3
    products = others = 0.0
    calls = 0
    top: list[tuple[float, str]] = []
    for event in profiler.key_averages():
        if not event.key.startswith("aten::"):
            continue
        self_ms = event.self_cpu_time_total / 1e3 / steps
        calls += event.count
        top.append((self_ms, event.key))
        if event.key in PRODUCTS:
            products += self_ms
        else:
            others += self_ms
    top.sort(reverse=True)
    return {
        "profiled_wall_ms": round(wall, 3),
        "products_self_ms": round(products, 3),
        "other_operators_self_ms": round(others, 3),
        "aten_calls_per_step": round(calls / steps),
        "top_operators_ms": {name: round(ms, 3) for ms, name in top[:12]},
    }


def _medians(runs: dict[str, Callable[[], None]], steps: int, repeats: int) -> dict[str, float]:
    """Median ms per call of each run, the order rotating between repeats."""
    for run in runs.values():
        _time(run, 5)
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for repeat in range(repeats):
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            times[name].append(_time(runs[name], steps))
    return {name: statistics.median(values) for name, values in times.items()}


def five(steps: int, repeats: int) -> dict:
    """Five solo steps against one stacked step of five, the bare peer and the products."""
    medians = _medians(
        {
            "solo": solo_round(),
            "stacked": stacked_round(),
            "bare": bare_round(),
            "products_stacked": products_round(MEMBERS, stacked=True),
            "products_solo": products_round(MEMBERS, stacked=False),
        },
        steps,
        repeats,
    )
    result = {f"{name}_ms": round(ms, 2) for name, ms in medians.items()}
    for name in ("stacked", "bare", "products_stacked", "products_solo"):
        result[f"{name}_over_solo"] = round(medians[name] / medians["solo"], 3)
    return result


def sweep(steps: int, repeats: int) -> dict:
    """Step time against stack size: per step ``a + b * members``, by least squares, for
    the stacked step, the bare peer and the products; ``b / solo`` (one solo step, timed
    in the same rotation) is the ratio to solo steps that no stack size can go below."""
    runs: dict[str, Callable[[], None]] = {"solo": solo_round(1)}
    for members in SIZES:
        runs[f"stacked {members}"] = stacked_round(members)
        runs[f"bare {members}"] = bare_round(members)
        runs[f"products {members}"] = products_round(members, stacked=True)
    medians = _medians(runs, steps, repeats)
    solo_ms = medians["solo"]
    result: dict[str, object] = {"sizes": list(SIZES), "solo_step_ms": round(solo_ms, 2)}
    for kind in ("stacked", "bare", "products"):
        ms = [medians[f"{kind} {members}"] for members in SIZES]
        per_member, per_step = np.polyfit(SIZES, ms, 1)
        result[kind] = {
            "ms": [round(value, 2) for value in ms],
            "per_step_ms": round(float(per_step), 2),
            "per_member_ms": round(float(per_member), 2),
            "per_member_over_solo_step": round(float(per_member) / solo_ms, 3),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sweep", action="store_true", help="step time against stack size")
    parser.add_argument("--gru", action="store_true", help="a stacked GRU against nn.GRU calls")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()}", flush=True)
    result = five(args.steps, args.repeats)
    print(json.dumps({**result, "load": os.getloadavg()[0]}), flush=True)
    if args.sweep:
        print(json.dumps({**sweep(args.steps, args.repeats), "load": os.getloadavg()[0]}))
    if args.gru:
        runs, difference = gru_rounds()
        medians = _medians(runs, max(args.steps // 20, 2), args.repeats)
        print(
            json.dumps(
                {
                    **{f"{name}_ms": round(ms, 1) for name, ms in medians.items()},
                    "stacked_over_solo": round(medians["gru_stacked"] / medians["gru_solo"], 3),
                    "largest_state_difference": difference,
                    "load": os.getloadavg()[0],
                }
            ),
            flush=True,
        )
    if args.profile:
        for name, run in (("stacked", stacked_round()), ("solo", solo_round())):
            print(json.dumps({"profile": name, **profile(run, args.steps)}), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
