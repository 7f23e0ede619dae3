"""A small saved model, voice-like clips and a killable emoshift process, for the bundle
hardening tests (issue 23)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from safetensors.numpy import load_file, save_file

import emoshift
from emoshift.bundle import Model
from emoshift.features import DomainNormaliser
from emoshift.methods import get_method

RATE = 16000


def small_model(folder: Path) -> Path:
    """A source-only model on eGeMAPS features (random training rows, two domains whose
    every feature varies) saved at ``folder``; returns the folder."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 88)) * 3 + 1
    domains = ["studio"] * 40 + ["phone"] * 40
    y = np.array(["anger", "happiness", "neutral", "sadness"])[np.arange(80) % 4]
    normaliser = DomainNormaliser().fit(X, domains)
    estimator = get_method(
        "source_only", hidden_sizes=(8,), max_epochs=2, random_state=0, device="cpu"
    ).fit(normaliser.transform(X, domains).astype(np.float32), y)
    model = Model.from_parts(
        estimator, "source_only", "egemaps", normaliser, target_domain="studio"
    )
    return model.save(folder)


def voice(seconds: float, f0: float, amplitude: float, seed: int) -> np.ndarray:
    """A voiced sound with vibrato, a pause and a noise burst (varied per ``seed``)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(RATE * seconds)) / RATE
    pitch = f0 * (1 + 0.06 * np.sin(2 * np.pi * (3 + 3 * rng.random()) * t))
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    signal_ = sum(np.sin(k * phase) / k for k in range(1, 8)) * amplitude * np.hanning(t.size)
    gap = slice(int(t.size * rng.uniform(0.3, 0.5)), int(t.size * rng.uniform(0.55, 0.7)))
    signal_[gap] = amplitude * rng.uniform(0.05, 0.3) * rng.normal(size=gap.stop - gap.start)
    return (signal_ + 0.01 * amplitude * rng.normal(size=t.size)).astype(np.float32)


def voice_clips(folder: Path, n: int = 12) -> Path:
    """``n`` different voice-like clips in ``folder``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        clip = voice(1.0 + 0.1 * i, 90 + 17 * i, 0.1 + 0.07 * (i % 5), i)
        sf.write(folder / f"v{i:02d}.wav", clip, RATE)
    return folder


def reseal(bundle: Path) -> None:
    """Recompute the manifest's file table and SHA256SUMS after editing a bundle's files,
    as someone who alters a bundle would."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    for name in manifest["files"]:
        data = (bundle / name).read_bytes()
        manifest["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    names = ["manifest.json", *manifest["files"]]
    lines = [f"{hashlib.sha256((bundle / n).read_bytes()).hexdigest()}  {n}" for n in names]
    (bundle / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def edit_arrays(bundle: Path, group: str, change) -> None:
    """Change the arrays of ``<group>.safetensors`` with ``change(arrays)`` and reseal."""
    path = bundle / f"{group}.safetensors"
    arrays = dict(load_file(str(path)))
    change(arrays)
    save_file(arrays, str(path))
    reseal(bundle)


def environment(**extra: str) -> dict[str, str]:
    """The environment of a child emoshift process that imports this checkout."""
    root = str(Path(emoshift.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "EMOSHIFT_PROGRESS": "0", **extra}


def kill_at(
    step: str, args: list[str], marker: Path, while_paused=None, timeout: float = 240.0
) -> None:
    """Run ``python args...`` until it pauses at ``step`` (see
    :func:`emoshift.bundle.replace.pause_point`), call ``while_paused()``, then kill the
    process with SIGKILL."""
    env = environment(EMOSHIFT_TEST_PAUSE=f"{step}:{marker}")
    process = subprocess.Popen([sys.executable, *args], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None:
            raise AssertionError(f"the process ended before {step}: {process.stderr.read()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the process never reached {step}")
        time.sleep(0.05)
    try:
        if while_paused is not None:
            while_paused()
    finally:
        process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
