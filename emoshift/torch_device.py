"""The torch device a ``device`` setting names, checked against what torch can use.

``"auto"`` is CUDA when torch sees a GPU, else the CPU. Naming ``cuda`` where torch has
no CUDA (a CPU-only build, no driver, no visible GPU) is a ``ValueError`` that says so
and what to use instead, before any model is built or file read, rather than torch's
assertion deep inside the first tensor move.

Example:
    >>> torch_device("cpu")
    device(type='cpu')
    >>> torch_device("tpu")
    Traceback (most recent call last):
    ...
    ValueError: device 'tpu': not a torch device; use --device cpu or auto (device: cpu in a config)
"""

from __future__ import annotations

import torch

FIX = "use --device cpu or auto (device: cpu in a config)"


def torch_device(name: str) -> torch.device:
    """The checked torch device of ``name`` (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"device {name!r}: not a torch device; {FIX}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        reason = (
            "this torch is built without CUDA"
            if torch.version.cuda is None
            else "torch sees no CUDA GPU (no driver, or CUDA_VISIBLE_DEVICES hides it)"
        )
        raise ValueError(f"device {name!r}: {reason}; {FIX}")
    count = torch.cuda.device_count() if device.type == "cuda" else 0
    if device.type == "cuda" and device.index is not None and device.index >= count:
        raise ValueError(
            f"device {name!r}: torch sees {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}; "
            "name one of them, or cuda"
        )
    return device
