"""The report's table of the trained domain classifiers: do they still tell the domains apart?

A trial of a method with a domain classifier (DANN, max-entropy) records
``domain_classifier: {target_test, source, balanced}`` (see
:func:`emoshift.experiment.trial.domain_detection`): the share of target test rows the
fitted classifier takes for target data, as Abdelwahab & Busso's Table III reports it,
the share of source training rows it takes for source data, and their mean.
:func:`domain_classifier_table` averages them per pair x condition x variant, in %.

Example:
    >>> trials = [{"variant": "dann", "pair": "a->b", "trial": t,
    ...            "domain_classifier": {"target_test": v, "source": 0.5, "balanced": 0.5}}
    ...           for t, v in enumerate((0.6, 0.8))]
    >>> domain_classifier_table(trials)[TARGET_HEADER].tolist()
    ['70.0 ± 14.1']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from emoshift.report.trial_tables import cells_recording

TARGET_HEADER = "target test rows taken for target (%)"
SOURCE_HEADER = "source training rows taken for source (%)"
BALANCED_HEADER = "balanced accuracy (%)"
_HEADERS = {"target_test": TARGET_HEADER, "source": SOURCE_HEADER, "balanced": BALANCED_HEADER}


def _mean_std(values: Sequence[float]) -> str:
    percent = 100 * np.asarray(values, dtype=float)
    if len(percent) < 2:
        return f"{percent.mean():.1f}"
    return f"{percent.mean():.1f} ± {percent.std(ddof=1):.1f}"


def domain_classifier_table(trials: Sequence[Mapping[str, object]]) -> pd.DataFrame | None:
    """One row per pair x condition x variant whose trials recorded their domain
    classifier's accuracies (mean ± sample standard deviation over trials, in %), or
    ``None`` when none did."""
    cells = cells_recording(trials, "domain_classifier")
    if not cells:
        return None
    rows = []
    for row, group in cells:
        row["n_trials"] = len(group)
        for name, header in _HEADERS.items():
            row[header] = _mean_std([t["domain_classifier"][name] for t in group])
        rows.append(row)
    return pd.DataFrame(rows)


DOMAIN_CLASSIFIER_NOTE = (
    "Domain classifier: for the methods that train one, the fitted classifier's share of "
    "target test rows it takes for target data (the accuracy Abdelwahab & Busso's Table III "
    "reports), of the source training rows it takes for source data, and their mean (50 %: "
    "the domains no longer told apart), mean ± standard deviation over trials; results.jsonl "
    "holds each trial's as domain_classifier. The test rows' labels are not read."
)
