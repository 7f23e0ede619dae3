"""Every registered neural method fits and predicts on a CUDA device (where one exists).

The other method tests pin ``device="cpu"``, so that they read and compare the networks
with CPU tensors and run the same everywhere; this file checks the GPU path itself:
the fitted networks live on the GPU, predictions come back as NumPy arrays of the
trained labels, probabilities sum to one, and the same seed repeats itself on the
device. (The sequence tests in test_sequence_encoder.py run on "auto", i.e. on the GPU
where there is one.) Nothing in emoshift requires a GPU: without one these tests skip,
saying so.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from test_method_contract import CLASSES, NAMES, _domain, _fit_arguments, _model
from test_optim import _network

from emoshift.methods.optim import Adam

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device: the GPU path is checked on a GPU"
)

NEURAL = [name for name in NAMES if "device" in _model(name).get_params()]


@needs_cuda
@pytest.mark.parametrize("name", NEURAL)
def test_fit_and_predict_on_cuda(name):
    (X, y), kwargs = _fit_arguments(name)
    Xt, _ = _domain(5, 1.0, 3)
    model = _model(name, device="cuda").fit(X, y, **kwargs)
    networks = getattr(model, "aae_", model)  # the enriched AAE holds its networks in aae_
    assert networks.device_.type == "cuda"
    assert all(p.is_cuda for p in networks.modules_.parameters())
    predicted = model.predict(Xt)
    assert isinstance(predicted, np.ndarray) and set(predicted) <= set(CLASSES)
    if hasattr(model, "predict_proba"):
        np.testing.assert_allclose(model.predict_proba(Xt).sum(1), 1.0, rtol=1e-5)
    again = _model(name, device="cuda").fit(X, y, **kwargs)
    np.testing.assert_array_equal(again.predict(Xt), predicted)  # same seed, same device


def test_neural_methods_are_found():
    assert {"dann", "coral", "mrd", "fine_tune", "cada"} <= set(NEURAL)


@needs_cuda
def test_adam_on_cuda_takes_the_foreach_path_with_the_bits_of_the_single_tensor_loop():
    def train(optimizer_class) -> torch.nn.Module:
        network = _network(0).cuda()
        optimizer = optimizer_class(network.parameters(), lr=1e-2, weight_decay=1e-3)
        generator = torch.Generator().manual_seed(1)
        for _ in range(25):
            x = torch.randn(32, 6, generator=generator).cuda()
            y = torch.randint(0, 3, (32,), generator=generator).cuda()
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(network(x), y).backward()
            optimizer.step()
        return network

    forced, single = partial(Adam, foreach=True), partial(Adam, foreach=False)
    ours, forced, single = train(Adam), train(forced), train(single)
    for name, value in ours.state_dict().items():
        assert torch.equal(value, forced.state_dict()[name]), name  # Adam chose foreach
        assert torch.equal(value, single.state_dict()[name]), name
