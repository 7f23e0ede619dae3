"""Finding, checking, hashing and loading a self-supervised speech model checkpoint.

A checkpoint is a folder that ``transformers`` reads with ``from_pretrained``: a
``config.json`` of a wav2vec 2.0 family model (wav2vec2, HuBERT, WavLM and their
conformer / data2vec / UniSpeech relatives: a convolutional waveform encoder followed by
a Transformer), its weights (``model.safetensors``, ``pytorch_model.bin`` or shards of
either) and the ``preprocessor_config.json`` of its feature extractor (sample rate,
whether to normalise the waveform). A hub name such as ``facebook/wav2vec2-base`` is
resolved to its folder in the local Hugging Face cache only: emoshift never downloads it
(``snapshot_download(..., local_files_only=True)``).

The ``transformers`` package is an optional extra: ``pip install 'emoshift[ssl]'``.

Example:
    >>> import tempfile
    >>> try:
    ...     checkpoint_files(tempfile.mkdtemp())
    ... except ModelError as error:
    ...     print(str(error).split(":")[1].split(",")[0].strip())
    no config.json
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: ``config.json`` model types with the convolutional waveform encoder this module reads
MODEL_TYPES: tuple[str, ...] = (
    "wav2vec2",
    "wav2vec2-conformer",
    "hubert",
    "wavlm",
    "data2vec-audio",
    "unispeech",
    "unispeech-sat",
)

WEIGHT_PATTERNS: tuple[str, ...] = (
    "model.safetensors",
    "model-*-of-*.safetensors",
    "pytorch_model.bin",
    "pytorch_model-*-of-*.bin",
)

HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
"""What a Hugging Face hub name looks like (``org/name``); other strings are paths."""

EXTRA_HINT = "pip install 'emoshift[ssl]'"


class ModelError(ValueError):
    """A model path or name gives no usable checkpoint; the message names it and the fix."""


def require_transformers() -> Any:
    """The ``transformers`` module, or an ImportError that names the extra to install."""
    try:
        import transformers
    except ImportError as error:
        raise ImportError(
            "the 'ssl' feature set needs the transformers library, which is not installed; "
            f"install the extra with: {EXTRA_HINT}"
        ) from error
    return transformers


def resolve_model(model: str | os.PathLike) -> Path:
    """The local folder of ``model``: an existing folder, or a hub name in the HF cache."""
    text = os.path.expandvars(os.path.expanduser(os.fspath(model)))
    path = Path(text)
    if path.exists():
        if not path.is_dir():
            raise ModelError(
                f"{path}: the model must be a folder holding config.json, the weights and "
                "preprocessor_config.json (as save_pretrained writes it), not a file"
            )
        return path.resolve()
    if not HUB_NAME.fullmatch(text):
        raise ModelError(
            f"{path}: model folder does not exist; set features.model to the folder of a "
            "downloaded checkpoint (e.g. `huggingface-cli download facebook/wav2vec2-base "
            "--local-dir DIR`)"
        )
    require_transformers()
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(text, local_files_only=True))
    except Exception as error:  # noqa: BLE001 - any hub failure means the same to the user
        raise ModelError(
            f"{text}: not a local folder and not a model found in the Hugging Face cache "
            f"({type(error).__name__}); download it on a machine that can reach the hub "
            f"(`huggingface-cli download {text} --local-dir DIR`) and set features.model: DIR"
        ) from None


def checkpoint_files(folder: str | os.PathLike) -> list[Path]:
    """The files that define the model's output: config, preprocessor config, weights.

    Raises:
        ModelError: naming the folder and the missing piece.
    """
    folder = Path(folder)
    missing_hint = "; point features.model at the folder that save_pretrained wrote"
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder}: no config.json, so it holds no checkpoint{missing_hint}")
    weights = sorted({p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern)})
    if not weights:
        raise ModelError(
            f"{folder}: no weights (model.safetensors or pytorch_model.bin){missing_hint}"
        )
    if not (folder / "preprocessor_config.json").is_file():
        raise ModelError(
            f"{folder}: no preprocessor_config.json (the feature extractor's sample rate and "
            "normalisation); copy it from the model's hub page into the folder, or write "
            'one offline: python -c "from transformers import Wav2Vec2FeatureExtractor; '
            "Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True)"
            f".save_pretrained('{folder}')\" (set sampling_rate and do_normalize as the "
            "model card says: do_normalize is whether the model was trained on waveforms "
            "scaled to zero mean and unit variance)"
        )
    return [folder / "config.json", folder / "preprocessor_config.json", *weights]


@functools.cache
def weights_sha256(folder: str) -> str:
    """sha256 over the names and bytes of :func:`checkpoint_files` (once per process)."""
    from emoshift.features.cache import hash_file

    digest = hashlib.sha256()
    for path in checkpoint_files(folder):
        digest.update(f"{path.name}:{hash_file(path)}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelInfo:
    """What extraction needs to know about a checkpoint before loading its weights."""

    folder: str
    model_type: str
    n_hidden_states: int
    hidden_size: int
    sample_rate: int
    do_normalize: bool
    receptive_field: int
    stride: int


def _conv_geometry(kernels: list[int], strides: list[int]) -> tuple[int, int]:
    """Receptive field and hop, in samples, of the stacked waveform convolutions."""
    field, hop = 1, 1
    for kernel, stride in zip(kernels, strides):
        field += (kernel - 1) * hop
        hop *= stride
    return field, hop


def read_info(folder: str | os.PathLike) -> ModelInfo:
    """Read and check a checkpoint folder's configs (no weights loaded)."""
    folder = Path(folder)
    checkpoint_files(folder)
    transformers = require_transformers()
    try:
        config = transformers.AutoConfig.from_pretrained(folder)
        extractor = transformers.AutoFeatureExtractor.from_pretrained(folder)
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"{folder}: transformers cannot read its configs: {error}") from None
    if type(extractor).__name__ != "Wav2Vec2FeatureExtractor":
        raise ModelError(
            f"{folder}: preprocessor_config.json describes a {type(extractor).__name__}, "
            "not the Wav2Vec2FeatureExtractor of wav2vec 2.0 family models"
        )
    if config.model_type not in MODEL_TYPES:
        raise ModelError(
            f"{folder}: model type {config.model_type!r} is not a wav2vec 2.0 family model; "
            f"supported: {list(MODEL_TYPES)}"
        )
    field, hop = _conv_geometry(list(config.conv_kernel), list(config.conv_stride))
    return ModelInfo(
        folder=str(folder),
        model_type=config.model_type,
        n_hidden_states=int(config.num_hidden_layers) + 1,
        hidden_size=int(config.hidden_size),
        sample_rate=int(extractor.sampling_rate),
        do_normalize=bool(getattr(extractor, "do_normalize", False)),
        receptive_field=field,
        stride=hop,
    )


@functools.cache
def load_model(folder: str, device: str) -> Any:
    """The model of ``folder`` in eval mode on ``device``, loaded once per process.

    In a worker process (parallel extraction) torch gets one thread, so that workers
    share the cores instead of oversubscribing them.
    """
    transformers = require_transformers()
    import torch

    if multiprocessing.parent_process() is not None:
        torch.set_num_threads(1)
    try:
        model = transformers.AutoModel.from_pretrained(folder)
    except (OSError, ValueError, RuntimeError) as error:
        raise ModelError(f"{folder}: transformers cannot load the weights: {error}") from None
    return model.to(device).eval()
