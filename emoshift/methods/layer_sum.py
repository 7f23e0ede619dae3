"""A learnable weighted sum over stacked layers of the input, as in SUPERB.

Self-supervised speech features (feature set ``ssl`` with several layers and
``combine: concat``) hold ``L`` equally wide blocks side by side, one per model layer.
With ``stacked_layers=L`` a neural method reads them through :class:`LayerWeightedSum`:
``softmax(w)``-weighted sum of the blocks, with the ``L`` weights ``w`` (starting equal)
trained with the rest of the network, so the method learns which layers to use. It
works on feature matrices (pooled features, MLP encoder) and on frame sequences (CNN-GRU
encoder: the sum is taken per frame of the first stream).

Example:
    >>> import torch
    >>> from emoshift.methods.networks import MLPEncoder
    >>> encoder = StackedLayersEncoder(LayerWeightedSum(3, 4), MLPEncoder(4, (8,)))
    >>> encoder(torch.zeros(5, 12)).shape, encoder.layer_sum.layer_weights().tolist()
    (torch.Size([5, 8]), [0.3333333432674408, 0.3333333432674408, 0.3333333432674408])
"""

from __future__ import annotations

import torch
from torch import nn

from emoshift.methods.sequence import PaddedSequences


def split_width(n_features: int, stacked_layers: int) -> int:
    """The width of one layer block, or a ValueError when the input does not divide.

    Example:
        >>> split_width(39, 13)
        3
    """
    if stacked_layers < 1:
        raise ValueError(f"stacked_layers={stacked_layers}; must be at least 1")
    if n_features % stacked_layers:
        raise ValueError(
            f"stacked_layers={stacked_layers} does not divide the {n_features} input "
            "features into equal layer blocks; set it to the number of layers the ssl "
            "features keep (features.layers with combine: concat)"
        )
    return n_features // stacked_layers


class LayerWeightedSum(nn.Module):
    """``(..., L * W) -> (..., W)``: the softmax-weighted sum of ``L`` blocks of width ``W``."""

    def __init__(self, n_layers: int, width: int) -> None:
        super().__init__()
        self.n_layers = n_layers
        self.width = width
        self.logits = nn.Parameter(torch.zeros(n_layers))

    def layer_weights(self) -> torch.Tensor:
        """The current weight of each layer (they sum to 1)."""
        return torch.softmax(self.logits, dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blocks = x.unflatten(-1, (self.n_layers, self.width))
        return torch.einsum("...lw,l->...w", blocks, self.layer_weights())


class StackedLayersEncoder(nn.Module):
    """An encoder (MLP or CNN-GRU) that reads the weighted sum of stacked layer blocks."""

    def __init__(self, layer_sum: LayerWeightedSum, encoder: nn.Module) -> None:
        super().__init__()
        self.layer_sum = layer_sum
        self.encoder = encoder
        self.output_size = encoder.output_size

    def layers_output(self, x: torch.Tensor | PaddedSequences) -> list[torch.Tensor]:
        """The wrapped encoder's shared layers on the summed input."""
        if isinstance(x, PaddedSequences):
            x = PaddedSequences((self.layer_sum(x.values[0]), *x.values[1:]), x.lengths)
        else:
            x = self.layer_sum(x)
        return self.encoder.layers_output(x)

    def forward(self, x: torch.Tensor | PaddedSequences) -> torch.Tensor:
        return self.layers_output(x)[-1]
