"""The learnable weighted sum over stacked layers (``stacked_layers``) in the neural methods."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emoshift.methods import get_method
from emoshift.methods.layer_sum import LayerWeightedSum, StackedLayersEncoder


def test_weighted_sum_is_the_softmax_weighted_sum_of_the_blocks():
    layer_sum = LayerWeightedSum(3, 2)
    with torch.no_grad():
        layer_sum.logits.copy_(torch.tensor([0.0, 1.0, 2.0]))
    x = torch.arange(12.0).reshape(2, 6)
    weights = torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0)
    expected = sum(weights[i] * x[:, 2 * i : 2 * i + 2] for i in range(3))
    torch.testing.assert_close(layer_sum(x), expected)
    frames = torch.arange(24.0).reshape(2, 2, 6)  # (batch, frames, 3 layers x 2)
    torch.testing.assert_close(layer_sum(frames)[:, 1], layer_sum(frames[:, 1]))


def informative_layer_problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three 4-wide layer blocks; only block 1 tells the classes apart."""
    rng = np.random.default_rng(seed)
    y = np.repeat(["anger", "sadness"], 100)
    X = rng.normal(size=(200, 3, 4))
    X[:, 1, 0] += np.where(y == "anger", 2.0, -2.0)
    return X.reshape(200, 12).astype(np.float32), y


def test_a_method_learns_to_weight_the_informative_layer():
    X, y = informative_layer_problem()
    model = get_method(
        "source_only",
        stacked_layers=3,
        hidden_sizes=(8,),
        max_epochs=40,
        patience=None,
        lr=0.02,
        random_state=0,
    ).fit(X, y)
    encoder = model.modules_["encoder"]
    assert isinstance(encoder, StackedLayersEncoder)
    weights = encoder.layer_sum.layer_weights().detach().numpy()
    assert weights.argmax() == 1 and weights[1] > 0.4
    assert model.score(*informative_layer_problem(seed=1)) > 0.9
    assert model.transform(X).shape == (200, 8)


def test_frame_sequences_go_through_the_weighted_sum_per_frame():
    rng = np.random.default_rng(0)
    y = np.repeat(["anger", "sadness"], 12)
    X = [rng.normal(size=(int(rng.integers(20, 40)), 6)).astype(np.float32) for _ in y]
    model = get_method(
        "source_only",
        encoder="cnn_gru",
        stacked_layers=3,
        conv_channels=(4,),
        conv_kernel_sizes=(3,),
        conv_strides=(1,),
        gru_size=4,
        fusion_sizes=(4,),
        max_epochs=2,
        random_state=0,
    ).fit(X, y)
    assert model.modules_["encoder"].encoder.convs[0].in_channels == 2
    assert model.predict(X).shape == (24,)


@pytest.mark.bad_input
def test_stacked_layers_that_do_not_divide_the_input_are_named():
    X, y = informative_layer_problem()
    with pytest.raises(ValueError, match="stacked_layers=5 does not divide the 12 input"):
        get_method("source_only", stacked_layers=5, max_epochs=1).fit(X, y)
