"""Finding, checking, hashing and loading a self-supervised speech model checkpoint.

A checkpoint is a folder that ``transformers`` reads with ``from_pretrained``: a
``config.json`` of a wav2vec 2.0 family model (wav2vec2, HuBERT, WavLM and their
conformer / data2vec / UniSpeech relatives: a convolutional waveform encoder followed by
a Transformer), its weights (``model.safetensors``, ``pytorch_model.bin`` or shards of
either) and the ``preprocessor_config.json`` of its feature extractor (sample rate,
whether to normalise the waveform). A hub name such as ``facebook/wav2vec2-base`` is
resolved to its folder in the local Hugging Face cache only: emoshift never downloads it
(``snapshot_download(..., local_files_only=True)``).

Loading runs no code from the folder, whatever its configs say or stdin answers: the
``model_type`` and feature extractor type are read as plain JSON and checked against the
supported ones first, then transformers' own classes for that type are loaded with
``trust_remote_code=False`` (an ``auto_map`` to the folder's own Python files is never
followed), and a ``pytorch_model.bin`` goes through torch's weights-only loader, which
refuses pickled objects other than tensors.

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
import json
import multiprocessing
import os
import pickle
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

EXTRACTOR_TYPE = "Wav2Vec2FeatureExtractor"
"""The feature extractor every supported model type uses."""

NO_CODE: dict[str, bool] = {"trust_remote_code": False, "local_files_only": True}
"""What every ``from_pretrained`` call gets: never run a folder's own code, never download."""


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


def _json_file(path: Path) -> dict:
    """A checkpoint config file as a mapping; :class:`ModelError` naming it otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path}: not a readable JSON config ({error})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: holds a JSON {type(data).__name__}, not a mapping")
    return data


def checked_model_type(folder: Path) -> str:
    """The ``model_type`` of ``folder``'s configs once both name supported classes.

    Read as plain JSON before ``transformers`` sees the folder: an unsupported type, or a
    feature extractor other than ``Wav2Vec2FeatureExtractor``, is refused here, so the
    code a folder may map to (``auto_map``) is never looked up, let alone run.
    """
    model_type = _json_file(folder / "config.json").get("model_type")
    if model_type not in MODEL_TYPES:
        raise ModelError(
            f"{folder}: model type {model_type!r} is not a wav2vec 2.0 family model; "
            f"supported: {list(MODEL_TYPES)}"
        )
    extractor = _json_file(folder / "preprocessor_config.json").get(
        "feature_extractor_type", EXTRACTOR_TYPE
    )
    if extractor != EXTRACTOR_TYPE:
        raise ModelError(
            f"{folder}: preprocessor_config.json describes a {extractor}, "
            f"not the {EXTRACTOR_TYPE} of wav2vec 2.0 family models"
        )
    return model_type


def read_info(folder: str | os.PathLike) -> ModelInfo:
    """Read and check a checkpoint folder's configs (no weights loaded, no code run)."""
    folder = Path(folder)
    checkpoint_files(folder)
    model_type = checked_model_type(folder)
    transformers = require_transformers()
    try:
        config = transformers.CONFIG_MAPPING[model_type].from_pretrained(folder, **NO_CODE)
        extractor = transformers.Wav2Vec2FeatureExtractor.from_pretrained(folder, **NO_CODE)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelError(f"{folder}: transformers cannot read its configs: {error}") from None
    field, hop = _conv_geometry(list(config.conv_kernel), list(config.conv_stride))
    return ModelInfo(
        folder=str(folder),
        model_type=model_type,
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
    folder_path = Path(folder)
    config_class = transformers.CONFIG_MAPPING[checked_model_type(folder_path)]
    try:
        model = transformers.MODEL_MAPPING[config_class].from_pretrained(
            folder, weights_only=True, **NO_CODE
        )
    except pickle.UnpicklingError:
        raise ModelError(
            f"{folder}: its pytorch_model.bin holds pickled Python objects besides tensors, "
            "which emoshift refuses to load (torch's weights-only loader stopped at them); "
            "save the weights as model.safetensors (save_pretrained does by default)"
        ) from None
    except (OSError, ValueError, RuntimeError) as error:
        raise ModelError(f"{folder}: transformers cannot load the weights: {error}") from None
    return model.to(device).eval()
