"""emoshift's Adam ends bit for bit where torch.optim.Adam does, without its start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from emoshift.methods.optim import Adam


def _network(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


def _train(optimizer_class, options: dict, *, groups: bool, steps: int = 25) -> nn.Module:
    network = _network(0)
    first, second = list(network[:3].parameters()), list(network[3].parameters())
    params = [{"params": first}, {"params": second, "lr": 3e-2}] if groups else network.parameters()
    optimizer = optimizer_class(params, **options)
    generator = torch.Generator().manual_seed(1)
    for step in range(steps):
        x = torch.randn(32, 6, generator=generator)
        y = torch.randint(0, 3, (32,), generator=generator)
        optimizer.zero_grad()
        if step % 5 == 4:  # only the first layers get gradients: the last must not move
            loss = network[:3](x).pow(2).mean()
        else:
            loss = nn.functional.cross_entropy(network(x), y)
        loss.backward()
        optimizer.step()
    return network


@pytest.mark.parametrize(
    ("options", "groups"),
    [
        ({"lr": 1e-3}, False),
        ({"lr": 1e-2, "weight_decay": 1e-3}, False),
        ({"lr": 2e-3, "betas": (0.5, 0.9)}, True),
    ],
    ids=["default", "weight-decay", "groups-and-betas"],
)
def test_same_bits_as_torch_adam(options: dict, groups: bool) -> None:
    ours = _train(Adam, options, groups=groups)
    theirs = _train(torch.optim.Adam, options, groups=groups)
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), name


def test_zero_grad_forgets_gradients() -> None:
    weight = nn.Parameter(torch.ones(3))
    optimizer = Adam([weight])
    weight.sum().backward()
    optimizer.zero_grad()
    assert weight.grad is None
    optimizer.step()  # no gradient: no update, no state
    assert torch.equal(weight.detach(), torch.ones(3)) and optimizer.state == {}


def test_a_fit_does_not_import_torch_dynamo() -> None:
    code = (
        "import sys, numpy as np\n"
        "from emoshift.methods.dann import DANN\n"
        "X = np.random.default_rng(0).normal(size=(64, 5)).astype('float32')\n"
        "DANN(hidden_sizes=(8,), max_epochs=2, warmup_epochs=1, random_state=0)"
        ".fit(X, np.arange(64) % 2, X_target=X + 1)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("options", "groups"),
    [({"lr": 1e-2, "weight_decay": 1e-3}, False), ({"lr": 2e-3, "betas": (0.5, 0.9)}, True)],
    ids=["weight-decay", "groups-and-betas"],
)
def test_the_foreach_path_gives_the_same_bits(options: dict, groups: bool) -> None:
    """``foreach=True`` (CUDA's default path, and a stacked fit's on the CPU) ends where the
    single-tensor loop does. The last layer skips every fifth step, so the parameters'
    step counts differ and the foreach path updates them in two sets with their own bias
    corrections."""
    foreach = _train(Adam, {**options, "foreach": True}, groups=groups)
    single = _train(Adam, options, groups=groups)
    theirs = _train(torch.optim.Adam, {**options, "foreach": True}, groups=groups)
    for name, a in foreach.state_dict().items():
        assert torch.equal(a, single.state_dict()[name]), name
        assert torch.equal(a, theirs.state_dict()[name]), name
