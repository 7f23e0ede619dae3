"""How well a fresh linear probe tells source from target on each model's representation.

What a config cannot measure: for every variant of a run folder (``emoshift run``, e.g.
``benchmarks/unsupervised_synthetic.yaml``), the held-out balanced accuracy of a
standardised logistic regression telling source from target-test examples
(:func:`emoshift.methods.alignment.domain_classifier_accuracy`; 0.5 is chance) on each
shared layer the run stored (``artifacts/``: trial 0 of each variant, pair and condition,
up to 200 source and 200 target test examples). Adaptation that aligns the domains brings
it towards 0.5. Printed as a Markdown table beside the run's UAR/CCC.

Example:
    python benchmarks/domain_probe.py runs/bench-unsupervised-synthetic
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from emoshift.methods.alignment import domain_classifier_accuracy
from emoshift.report.embeddings import load_embeddings
from emoshift.report.experiment import read_run
from emoshift.report.tables import to_markdown


def probe_table(run_dir: Path) -> pd.DataFrame:
    """One row per variant, pair, condition and stored layer: the probe's accuracy."""
    rows = []
    for trial in read_run(run_dir).trials:
        if not trial.get("embeddings"):
            continue
        stored = load_embeddings(run_dir / trial["embeddings"])
        for layer, values in stored.layers.items():
            source, target = values[stored.domain == 0], values[stored.domain == 1]
            rows.append(
                {
                    "variant": trial["variant"],
                    "pair": trial["pair"],
                    **{c: trial[c] for c in ("k", "size", "fold") if trial.get(c) is not None},
                    "trial": trial["trial"],
                    "layer": layer,
                    "domain_acc": domain_classifier_accuracy(source, target),
                }
            )
    if not rows:
        raise ValueError(f"{run_dir}: no trial stored embeddings (artifacts/)")
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a folder written by 'emoshift run'")
    args = parser.parse_args(argv)
    print(to_markdown(probe_table(args.run_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
