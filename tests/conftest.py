"""Test-wide settings: torch on one thread (small networks, shared cores), no progress bars."""

from __future__ import annotations

import os

import torch

torch.set_num_threads(1)
os.environ.setdefault("EMOSHIFT_PROGRESS", "0")
