"""MRD against its step-1-only ablation, on the config of ``benchmarks/mrd_synthetic.yaml``.

What a config cannot express: MRD's networks trained by step 1 alone (source regression,
no discrepancy steps), to tell what adaptation adds from what the two-regressor
architecture does by itself. The ablation is registered for this process only under the
name ``mrd_step1_only``; the config's grid runs with it through
:func:`emoshift.experiment.runner.run_experiment` (serial executor: the class lives in
this script) and the experiment report compares every variant with MRD.

Example:
    python benchmarks/mrd_ablation.py --trials 5
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from emoshift.experiment.config import load_config
from emoshift.experiment.runner import run_experiment
from emoshift.methods import REGISTRY
from emoshift.methods.base import Batch
from emoshift.methods.mrd import MRD
from emoshift.report.experiment import write_experiment_report
from emoshift.report.tables import to_markdown

CONFIG = Path(__file__).with_name("mrd_synthetic.yaml")


class MRDStep1Only(MRD):
    """MRD's networks trained by step 1 alone: the source regression loss, nothing else."""

    def _train_step(self, batch: Batch) -> dict[str, float]:
        return {"loss": self._step_source(batch)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=None, help="default: the config's")
    parser.add_argument(
        "--output", type=Path, default=None, help="run folder (default: runs/bench-mrd-ablation)"
    )
    args = parser.parse_args(argv)
    REGISTRY["mrd_step1_only"] = f"{__name__}:{MRDStep1Only.__name__}"
    config = load_config(CONFIG)
    methods = {m: p for m, p in config.methods.items() if m == "mrd"}
    methods["mrd_step1_only"] = methods["mrd"]
    config = dataclasses.replace(
        config,
        name="bench-mrd-ablation",
        output="../runs/bench-mrd-ablation",
        methods=methods,
        baseline="mrd",
        trials=args.trials or config.trials,
    )
    summary = run_experiment(config, executor="serial", run_dir=args.output)
    report = write_experiment_report(summary.run_dir)
    print(to_markdown(report.table))
    print(f"report: {report.html}")
    return 1 if summary.n_failed else 0


if __name__ == "__main__":
    sys.exit(main())
