"""Training cost of emoshift's DANN and Deep CORAL against SKADA's, on the same data.

Both toolkits train the same network (emoshift's MLP encoder 88 -> 256 -> 128 with batch
norm, ReLU and dropout, an emotion head with one hidden layer of 128, and for DANN a
domain classifier with one hidden layer of 128 behind a gradient reversal layer), with
Adam at 1e-3, ``--batch`` source plus ``--batch`` target rows per step, the same number
of epochs, one torch thread, no validation split, a constant adversarial weight of 1
and no gradient clipping or max-norm (SKADA has neither). The data are eGeMAPS-sized
synthetic features (88 columns, 4 classes) with a domain shift: the target is a
rotated, rescaled and shifted copy of the source's class structure. Each measurement
runs in a fresh subprocess, which reports the fit's wall time, the process's peak
resident memory during the fit (Linux ``VmHWM``, reset after the data are made) and its
growth over the memory before the fit, and the UAR on the target rows (whose labels
neither toolkit sees).

Usage:
    python benchmarks/bench_training.py --epochs 30 --repeats 3
    python benchmarks/bench_training.py --one emoshift dann --epochs 30   # one measurement
    python benchmarks/bench_training.py --profile emoshift dann --epochs 5  # cProfile
    python benchmarks/bench_training.py --device cuda --warm   # on a GPU (nothing needs one)

SKADA's deep methods need ``skada`` and ``skorch`` (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

N_FEATURES = 88
N_CLASSES = 4
HIDDEN = (256, 128)
HEAD_HIDDEN = (128,)
DOMAIN_HIDDEN = (128,)


def make_data(
    n_source: int, n_target: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source features and labels, target features and labels (float32, int64)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 0.2, size=(N_CLASSES, N_FEATURES))
    rotation, _ = np.linalg.qr(rng.normal(size=(N_FEATURES, N_FEATURES)))
    blend = 0.5 * np.eye(N_FEATURES) + 0.5 * rotation
    scale = rng.uniform(0.5, 2.0, N_FEATURES)
    shift = rng.normal(0, 1.0, N_FEATURES)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, N_CLASSES, n)
        return means[y] + rng.normal(0, 1.0, size=(n, N_FEATURES)), y

    xs, ys = sample(n_source)
    xt, yt = sample(n_target)
    xt = (xt @ blend) * scale + shift
    return xs.astype(np.float32), ys, xt.astype(np.float32), yt


def uar(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted average recall over the classes present in ``y_true``."""
    classes = np.unique(y_true)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def emoshift_model(method: str, epochs: int, batch: int, seed: int, device: str = "cpu"):
    from emoshift.methods.coral import DeepCORAL
    from emoshift.methods.dann import DANN

    shared = dict(
        hidden_sizes=HIDDEN,
        head_hidden_sizes=HEAD_HIDDEN,
        batch_norm=True,
        dropout=0.5,
        input_dropout=0.2,
        batch_size=batch,
        max_epochs=epochs,
        patience=None,
        validation_fraction=0.0,
        grad_clip=None,
        max_norm=None,
        device=device,
        random_state=seed,
    )
    if method == "dann":
        return DANN(lambda_schedule="constant", domain_hidden_sizes=DOMAIN_HIDDEN, **shared)
    return DeepCORAL(coral_weight=1.0, **shared)


def skada_model(method: str, epochs: int, batch: int, seed: int, device: str = "cpu"):
    import torch
    from skada.deep import DANN, DeepCoral
    from torch import nn

    from emoshift.methods.networks import MLPEncoder, MLPHead, reverse_gradient

    torch.manual_seed(seed)

    class DomainClassifier(nn.Module):
        """Gradient reversal, then the same domain head as emoshift's, as a probability."""

        def __init__(self) -> None:
            super().__init__()
            self.head = MLPHead(HIDDEN[-1], 1, DOMAIN_HIDDEN)

        def forward(self, x, sample_weight=None):  # noqa: ANN001
            return torch.sigmoid(self.head(reverse_gradient(x, 1.0))).squeeze(1)

    class Network(nn.Module):
        """emoshift's encoder and emotion head, with the call signature SKADA uses."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = MLPEncoder(N_FEATURES, HIDDEN, dropout=0.5, input_dropout=0.2)
            self.head = MLPHead(HIDDEN[-1], N_CLASSES, HEAD_HIDDEN)

        def forward(self, x, sample_weight=None):  # noqa: ANN001
            return self.head(self.encoder(x))

    network = Network()
    common = dict(
        optimizer=torch.optim.Adam,
        lr=1e-3,
        batch_size=batch,
        max_epochs=epochs,
        train_split=None,
        verbose=0,
        device=device,
    )
    if method == "dann":
        return DANN(network, "encoder", reg=1.0, domain_classifier=DomainClassifier(), **common)
    return DeepCoral(network, "encoder", reg=1.0, **common)


class TorchLoop:
    """The floor: a bare PyTorch loop doing a fit's arithmetic and nothing else.

    The same network and loss as the two toolkits (encoder, emotion head, and the
    domain head behind gradient reversal for DANN or the CORAL loss), ``torch.optim.Adam``
    at 1e-3, ``batch`` source and ``batch`` target rows per step drawn by a shuffled
    index from tensors already on the device; no validation, logging, early stopping or
    input checks. What a toolkit spends beyond this is its own overhead.
    """

    def __init__(self, method: str, epochs: int, batch: int, seed: int, device: str) -> None:
        self.method, self.epochs, self.batch, self.seed = method, epochs, batch, seed
        self.device = torch_device(device)

    def fit(self, xs: np.ndarray, ys: np.ndarray, X_target: np.ndarray) -> TorchLoop:
        import torch
        from torch import nn

        from emoshift.methods.alignment import coral_loss
        from emoshift.methods.networks import MLPEncoder, MLPHead, reverse_gradient

        torch.manual_seed(self.seed)
        self.encoder = MLPEncoder(N_FEATURES, HIDDEN, dropout=0.5, input_dropout=0.2)
        self.head = MLPHead(HIDDEN[-1], N_CLASSES, HEAD_HIDDEN)
        domain = MLPHead(HIDDEN[-1], 1, DOMAIN_HIDDEN)
        modules = nn.ModuleList([self.encoder, self.head, domain]).to(self.device)
        optimizer = torch.optim.Adam(modules.parameters(), lr=1e-3)
        x, y = torch.as_tensor(xs, device=self.device), torch.as_tensor(ys, device=self.device)
        xt = torch.as_tensor(X_target, device=self.device)
        is_target = torch.cat([torch.zeros(self.batch), torch.ones(self.batch)]).to(self.device)
        modules.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(x))
            for i in range(0, len(x) - self.batch + 1, self.batch):
                idx = order[i : i + self.batch].to(self.device)
                idx_t = torch.randint(len(xt), (self.batch,)).to(self.device)
                features = self.encoder(torch.cat([x[idx], xt[idx_t]]))
                loss = nn.functional.cross_entropy(self.head(features[: self.batch]), y[idx])
                if self.method == "dann":
                    logits = domain(reverse_gradient(features, 1.0)).squeeze(1)
                    loss = loss + nn.functional.binary_cross_entropy_with_logits(logits, is_target)
                else:
                    loss = loss + coral_loss(features[: self.batch], features[self.batch :])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        modules.eval()
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            logits = self.head(self.encoder(torch.as_tensor(X, device=self.device)))
        return logits.argmax(1).cpu().numpy()


def torch_device(name: str):
    """``name`` as a ``torch.device``, with a clear error when CUDA is asked for and absent."""
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device here")
    return torch.device(name)


def torch_model(method: str, epochs: int, batch: int, seed: int, device: str = "cpu"):
    return TorchLoop(method, epochs, batch, seed, device)


BUILDERS = {"emoshift": emoshift_model, "skada": skada_model, "torch": torch_model}


def _status_mib(field: str) -> float | None:
    """A ``VmRSS``/``VmHWM`` line of ``/proc/self/status`` in MiB (``None`` off Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> float:
    """Reset the peak resident memory to the current one (Linux: ``clear_refs`` 5), so
    the peak read after the fit is the fit's own, not the data generation's; return the
    current resident memory in MiB."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        pass
    current = _status_mib("VmRSS")
    return current if current is not None else _peak_rss()


def _peak_rss() -> float:
    """Peak resident memory in MiB since the last reset (``ru_maxrss`` where no /proc)."""
    peak = _status_mib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fit(toolkit: str, model, data: tuple) -> float:
    """Seconds to fit ``model`` on ``(xs, ys, xt, yt)`` (target labels are not used)."""
    import torch

    xs, ys, xt, _ = data
    start = time.perf_counter()
    if toolkit != "skada":
        model.fit(xs, ys, X_target=xt)
    else:
        x = np.concatenate([xs, xt])
        y = np.concatenate([ys, np.full(len(xt), -1)])
        domain = np.concatenate([np.ones(len(xs), int), -np.ones(len(xt), int)])
        model.fit(x, y, sample_domain=domain)
    if torch.cuda.is_available():
        torch.cuda.synchronize()  # device work is asynchronous: stop the clock after it
    return time.perf_counter() - start


def measure(toolkit: str, method: str, args: argparse.Namespace) -> dict:
    """Fit once in this process; wall time, memory and target UAR.

    With ``args.warm`` a small fit (2 epochs, 256 rows a domain) runs first, untimed, so
    the time is the fit's own and not the process's one-off start (imports, torch's
    first optimizer builds ``torch._dynamo``, a few seconds).
    """
    import torch

    torch.set_num_threads(1)
    device = getattr(args, "device", "cpu")  # checked by main() in every process

    def build(epochs: int):
        return BUILDERS[toolkit](method, epochs, args.batch, args.seed, device)

    if getattr(args, "warm", False):
        _fit(toolkit, build(2), make_data(256, 256, args.seed))
    data = make_data(args.source, args.target, seed=args.seed)
    model = build(args.epochs)  # imports the toolkit
    before_mib = _reset_peak_rss()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds = _fit(toolkit, model, data)
    xt, yt = data[2], data[3]
    peak_mib = _peak_rss()
    if toolkit != "skada":
        predicted = model.predict(xt)
    elif device == "cuda":  # SKADA 0.6.0's predict hands a CUDA tensor to check_array
        predicted = None
    else:
        predicted = model.predict(xt, sample_domain=-np.ones(len(xt), int))
    return {
        "toolkit": toolkit,
        "method": method,
        "seconds": seconds,
        "peak_mib": peak_mib,
        "fit_growth_mib": peak_mib - before_mib,
        "device": device,
        "cuda_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None,
        "target_uar": None if predicted is None else uar(yt, np.asarray(predicted)),
    }


def run_one(toolkit: str, method: str, args: argparse.Namespace) -> dict | None:
    """One measurement in a fresh Python process (so peak memory is this fit's own);
    ``None``, with the child's error printed, when it fails."""
    command = [
        sys.executable,
        __file__,
        "--one",
        toolkit,
        method,
        *("--epochs", str(args.epochs), "--batch", str(args.batch), "--seed", str(args.seed)),
        *("--source", str(args.source), "--target", str(args.target)),
        *(["--warm"] if getattr(args, "warm", False) else []),
        *("--device", getattr(args, "device", "cpu")),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{toolkit} {method} failed:\n{done.stderr[-3000:]}", file=sys.stderr, flush=True)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median_uar(runs: list[dict]) -> str:
    """The median target UAR of ``runs``, or ``n/a`` where the toolkit could not predict."""
    scores = [r["target_uar"] for r in runs if r["target_uar"] is not None]
    return f"{statistics.median(scores):.3f}" if scores else "n/a"


def compare(args: argparse.Namespace) -> None:
    """Alternate the toolkits ``--repeats`` times per method; print medians and ratios.

    With ``--json FILE`` every single measurement is also appended to FILE as a line.
    """
    print(
        f"{args.source} source + {args.target} target rows, {N_FEATURES} features, "
        f"{args.epochs} epochs, batch {args.batch}+{args.batch}, "
        f"{'warm' if args.warm else 'fresh'} process per fit, device {args.device}; load "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'method':<8} {'toolkit':<9} {'median s':>9} {'runs s':>24} {'peak MiB':>9} "
        f"{'fit +MiB':>9} {'GPU MiB':>8} {'UAR':>6}"
    )
    for method in args.methods:
        results: dict[str, list[dict]] = {toolkit: [] for toolkit in args.toolkits}
        for _ in range(args.repeats):
            for toolkit in results:
                result = run_one(toolkit, method, args)
                if result is None:
                    continue
                results[toolkit].append(result)
                if args.json:
                    with open(args.json, "a", encoding="utf-8") as out:
                        out.write(json.dumps(result) + "\n")
        medians = {}
        for toolkit, runs in results.items():
            if not runs:
                print(f"{method:<8} {toolkit:<9} failed (see above)")
                continue
            medians[toolkit] = statistics.median(r["seconds"] for r in runs)
            times = ", ".join(f"{r['seconds']:.1f}" for r in runs)
            gpu = max((r["cuda_peak_mib"] or 0.0) for r in runs)
            print(
                f"{method:<8} {toolkit:<9} {medians[toolkit]:>9.2f} {times:>24} "
                f"{max(r['peak_mib'] for r in runs):>9.0f} "
                f"{max(r['fit_growth_mib'] for r in runs):>9.1f} {gpu:>8.1f} "
                f"{_median_uar(runs):>6}",
                flush=True,
            )
        for peer in ("skada", "torch"):
            if "emoshift" in medians and peer in medians:
                ratio = medians["emoshift"] / medians[peer]
                print(f"{method:<8} emoshift / {peer} wall time: {ratio:.2f}", flush=True)
    print(f"load after: {os.getloadavg()[0]:.1f}")


def profile(toolkit: str, method: str, args: argparse.Namespace) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    result = measure(toolkit, method, args)
    profiler.disable()
    print(json.dumps(result))
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs=2, metavar=("TOOLKIT", "METHOD"))
    parser.add_argument("--profile", nargs=2, metavar=("TOOLKIT", "METHOD"))
    parser.add_argument("--methods", nargs="+", default=["dann", "coral"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--source", type=int, default=3000)
    parser.add_argument("--target", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--warm", action="store_true", help="time the fit in a warmed-up process (see measure)"
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--toolkits",
        nargs="+",
        choices=sorted(BUILDERS),
        default=["emoshift", "skada", "torch"],
        help="torch: a bare PyTorch loop doing the same arithmetic (the floor)",
    )
    parser.add_argument("--json", help="append every measurement to this file as a line")
    args = parser.parse_args()
    torch_device(args.device)  # a clear error, not a child's traceback, when CUDA is absent
    if args.one:
        print(json.dumps(measure(*args.one, args)))
    elif args.profile:
        profile(*args.profile, args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
