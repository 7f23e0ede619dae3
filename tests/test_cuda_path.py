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

import numpy as np
import pytest
import torch
from test_method_contract import CLASSES, NAMES, _domain, _fit_arguments, _model

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device: the GPU path is checked on a GPU"
)

NEURAL = [name for name in NAMES if "device" in _model(name).get_params()]


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
