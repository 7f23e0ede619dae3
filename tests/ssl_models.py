"""Tiny randomly initialised wav2vec2 / HuBERT / WavLM models for the ssl tests and
benchmark (nothing downloaded: each is built from its config class)."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers

FAMILIES = {
    "wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model),
    "hubert": (transformers.HubertConfig, transformers.HubertModel),
    "wavlm": (transformers.WavLMConfig, transformers.WavLMModel),
}
TINY = {
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "conv_dim": (8, 8),
    "conv_kernel": (10, 8),
    "conv_stride": (5, 4),
    "num_conv_pos_embeddings": 8,
    "num_conv_pos_embedding_groups": 2,
}
#: receptive field and hop of TINY's convolutions, in samples
FIELD, HOP = 10 + 7 * 5, 20


def save_tiny(folder: Path, family: str, norm: str = "group") -> Path:
    """A tiny random model of ``family`` with its feature extractor, in ``folder``."""
    config_class, model_class = FAMILIES[family]
    torch.manual_seed(0)
    stable = {"do_stable_layer_norm": True} if norm == "layer" else {}
    model = model_class(config_class(feat_extract_norm=norm, **TINY, **stable))
    model.save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(return_attention_mask=norm == "layer").save_pretrained(
        folder
    )
    return folder
