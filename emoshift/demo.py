"""``emoshift demo``: the bundled demo config, run like any experiment.

The demo is not a pipeline of its own. ``emoshift/configs/demo.yaml`` is an experiment
config: the embedded synthetic corpus (acted source domain, spontaneous target domain),
eGeMAPS functionals normalised per domain, the ``cross_domain`` protocol (each trial
splits the target speakers into an unlabelled training half and a test half), the
baselines and the unsupervised adaptation methods over a few seeded trials.
:func:`demo_config` reads it and applies the demo's options; :func:`run_demo` runs it
with :func:`~emoshift.experiment.runner.run_experiment` into the output folder (which is
the run folder: ``results.jsonl``, ``plan.json``, ``config.yaml``) and writes the
experiment report (:func:`~emoshift.report.experiment.write_experiment_report`) to
``OUT/report``. Running it again resumes: finished trials are not recomputed.

Everything here is synthetic speech: the numbers say how the methods behave on a
controlled domain gap, not how they do on real corpora.

Example:
    >>> import tempfile
    >>> result = run_demo(tempfile.mkdtemp(), preset="tiny", n_trials=1, max_epochs=2,
    ...                   methods=("source_only",), progress=False)
    >>> result.report.table["variant"].tolist(), result.run.n_done
    (['source_only'], 1)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from emoshift.configs import bundled_config
from emoshift.experiment.config import ExperimentConfig, parse_config
from emoshift.experiment.runner import RunSummary, run_experiment
from emoshift.features.cache import CACHE_VARIABLE
from emoshift.methods import method_class
from emoshift.report.experiment import ExperimentReport, write_experiment_report

DEMO_CONFIG = "demo"
"""The name of the bundled config the demo runs (``emoshift/configs/demo.yaml``)."""

CORPUS = "synthetic"
"""The corpus entry of the demo config that ``preset`` and ``seed`` edit."""


@dataclass
class DemoResult:
    """What the demo ran (``config``), what the run did (``run``) and its ``report``."""

    config: ExperimentConfig
    run: RunSummary
    report: ExperimentReport


def _methods(
    configured: dict[str, dict], methods: Sequence[str] | None, max_epochs: int | None
) -> dict[str, dict]:
    """The demo's methods with their parameters: those of the config, or ``methods`` (a
    method the config does not list gets its defaults), with the epoch budget set on
    every method that has one."""
    chosen = {m: dict(configured.get(m) or {}) for m in (methods or configured)}
    for name, params in chosen.items():
        if max_epochs is not None and "max_epochs" in method_class(name)().get_params():
            params["max_epochs"] = max_epochs
    return chosen


def demo_config(
    out_dir: str | os.PathLike = "emoshift-demo",
    *,
    preset: str | None = None,
    seed: int | None = None,
    n_trials: int | None = None,
    methods: Sequence[str] | None = None,
    max_epochs: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int | None = None,
) -> ExperimentConfig:
    """The bundled demo config with the given options applied (``None`` keeps the config's).

    Args:
        out_dir: the run folder; the corpus (``corpus/``) and feature cache (``cache/``)
            go inside it.
        preset: synthetic corpus size (``demo``, or ``tiny`` for a smoke test).
        seed: seed of the corpus and of the trials (trial ``t`` trains with ``seed + t``).
        n_trials: seeded trials per method (each draws its own target speaker split).
        methods: registered method names; the baseline ``source_only`` is compared with
            the others when it is among them.
        max_epochs: epoch budget of each model; each method keeps its own early-stopping
            default (e.g. DANN trains the whole budget so that lambda completes its ramp).
        cache_dir: feature cache (default ``$EMOSHIFT_CACHE`` when set, else
            ``out_dir/cache``).
        n_jobs: feature extraction processes (default: one per CPU).

    Raises :class:`~emoshift.experiment.config.ConfigError` (a ``ValueError``) for an
    unknown method or a bad value, naming it.

    Example:
        >>> config = demo_config("out", n_trials=1, methods=["dann"], max_epochs=20)
        >>> config.trials, config.methods, config.baseline
        (1, {'dann': {'max_epochs': 20}}, None)
    """
    data = bundled_config(DEMO_CONFIG)
    corpus = data["corpora"][CORPUS].setdefault("options", {})
    if preset is not None:
        corpus["preset"] = preset
    if seed is not None:
        corpus["seed"] = data["seed"] = seed
    if n_trials is not None:
        data["trials"] = n_trials
    data["methods"] = _methods(data["methods"], methods, max_epochs)
    if data.get("baseline") not in data["methods"]:
        data["baseline"] = None
    cache_dir = cache_dir if cache_dir is not None else os.environ.get(CACHE_VARIABLE) or None
    if cache_dir is not None:
        data["features"]["cache_dir"] = str(Path(cache_dir).expanduser().resolve())
    if n_jobs is not None:
        data["features"]["jobs"] = n_jobs
    return parse_config(data, base_dir=Path(out_dir).resolve())


def run_demo(
    out_dir: str | os.PathLike = "emoshift-demo",
    *,
    progress: bool | None = None,
    **options: object,
) -> DemoResult:
    """Run the demo config (:func:`demo_config` with ``options``) into ``out_dir`` and
    write its report to ``out_dir/report``; ``progress`` draws progress bars (``None``:
    on a terminal only)."""
    config = demo_config(out_dir, **options)
    run = run_experiment(config, progress=progress)
    return DemoResult(config, run, write_experiment_report(run.run_dir))
