"""The report's account of model selection inside trials: which scorer picked what.

A trial run with a ``selection:`` block records ``selection: {scorer, picked, scores}``
(see :mod:`emoshift.experiment.selecting`), and with ``oracle: true`` also ``oracle``:
each grid point's UAR on the target *test* rows. :func:`selection_table` has one row per
pair x condition x selected variant: the scorer, how often it picked each grid point and,
only when the oracle was recorded, how often the oracle would have picked each point (in
a column headed :data:`ORACLE_HEADER`, as it reads the test labels) and the mean distance
of the scorer's pick from the oracle's, in UAR points.

A method that chooses a hyper-parameter inside ``fit`` from its training rows (``n_selected:
inner_cv``: the ANOVA-F count) records the choice as ``fitted_params``;
:func:`fitted_table` counts the trials per chosen value, like the ``Ds`` the enriched-AAE
paper prints next to each cell of its Table 1.

Example:
    >>> pick = {"lambda_max": 0.3}
    >>> trials = [{"variant": "dann[select=snd]", "pair": "a->b", "trial": t,
    ...            "selection": {"scorer": "snd", "picked": pick, "scores": []}}
    ...           for t in range(2)]
    >>> selection_table(trials)[["variant", "scorer", "picked"]].values.tolist()
    [['dann[select=snd]', 'snd', 'lambda_max=0.3: 2']]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import pandas as pd

from emoshift.report.trial_tables import cells_recording

ORACLE_HEADER = "oracle (reads target test labels; not a valid choice)"
DISTANCE_HEADER = "distance to oracle (UAR points)"
GUARD_HEADER = "why (guard)"
FITTED_HEADER = "chosen in fit"


def _why(trial: Mapping[str, object]) -> str:
    """The kinds of reason a guard decision gave (``collapse``, ``source damage``,
    ``reverse drop``, ``wider gap``, or ``no sign of harm``), from its reason sentence."""
    return " + ".join(
        part.split(":")[0] for part in trial["selection"]["guard"]["reason"].split("; ")
    )


def _text(params: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "(default)"


def _counts(choices: Sequence[Mapping[str, object]]) -> str:
    counted = Counter(_text(c) for c in choices)
    return "; ".join(f"{text}: {n}" for text, n in sorted(counted.items()))


def _oracle_pick(trial: Mapping[str, object]) -> tuple[Mapping[str, object], float, float]:
    """The oracle's grid point, its test UAR and the test UAR of the scorer's pick."""
    oracle = [o for o in trial["selection"]["oracle"] if o["uar"] is not None]
    best = max(oracle, key=lambda o: o["uar"])  # ties: the first point, as the selector
    picked = next(o["uar"] for o in oracle if o["params"] == trial["selection"]["picked"])
    return best["params"], best["uar"], picked


def selection_table(trials: Sequence[Mapping[str, object]]) -> pd.DataFrame | None:
    """One row per pair x condition x variant that selected its hyper-parameters, or
    ``None`` when no trial did."""
    cells = cells_recording(trials, "selection")
    if not cells:
        return None
    rows = []
    for row, group in cells:
        row["scorer"] = group[0]["selection"]["scorer"]
        row["n_trials"] = len(group)
        row["picked"] = _counts([t["selection"]["picked"] for t in group])
        if group[0]["selection"].get("guard"):
            row[GUARD_HEADER] = "; ".join(
                f"{why}: {n}" for why, n in sorted(Counter(_why(t) for t in group).items())
            )
        with_oracle = [t for t in group if t["selection"].get("oracle")]
        if with_oracle:
            picks = [_oracle_pick(t) for t in with_oracle]
            row[ORACLE_HEADER] = _counts([p[0] for p in picks])
            row[DISTANCE_HEADER] = 100 * sum(b - p for _, b, p in picks) / len(picks)
        rows.append(row)
    return pd.DataFrame(rows)


def fitted_table(trials: Sequence[Mapping[str, object]]) -> pd.DataFrame | None:
    """One row per pair x condition x variant whose trials chose hyper-parameters inside
    ``fit`` (``fitted_params``): how many trials chose each value; ``None`` when none did.

    Example:
        >>> trials = [{"variant": "svm", "pair": "a->b", "trial": t,
        ...            "fitted_params": {"n_selected": n}} for t, n in enumerate((8, 8, 3))]
        >>> fitted_table(trials)["chosen in fit"].tolist()
        ['n_selected=3: 1; n_selected=8: 2']
    """
    cells = cells_recording(trials, "fitted_params")
    if not cells:
        return None
    rows = [
        row | {"n_trials": len(group), FITTED_HEADER: _counts([t["fitted_params"] for t in group])}
        for row, group in cells
    ]
    return pd.DataFrame(rows)


FITTED_NOTE = (
    "Chosen in fit: hyper-parameters a method chose from its own training rows inside each "
    "trial (n_selected: inner_cv, the ANOVA-F count with the best cross-validated UAR on "
    "the training fold), with the number of trials that chose each value; results.jsonl "
    "holds each trial's choice as fitted_params."
)


def selection_notes(table: pd.DataFrame) -> list[str]:
    """What the selection table shows, in words."""
    notes = [
        "Model selection inside trials: each selected variant chose its hyper-parameters "
        "per trial with the scorer named, without target test data; 'picked' counts the "
        "trials that chose each grid point."
    ]
    if GUARD_HEADER in table:
        notes.append(
            "Variants marked [guard] fitted the method and a source-only model per trial and "
            "kept the adapted one unless one of its label-free signals rose: its target "
            "predictions collapsed onto few classes, its source development UAR dropped, a "
            "linear model trained on its target labels scored lower on the source (reverse "
            "validation), or its representation set target and source further apart (no "
            f"target label read); '{GUARD_HEADER}' "
            "counts the trials by the reason it gave, and results.jsonl holds each reason."
        )
    if ORACLE_HEADER in table:
        notes.append(
            f"The column '{ORACLE_HEADER}' shows what choosing by target-test UAR would "
            "have picked; it is there only to measure the scorers, and "
            f"'{DISTANCE_HEADER}' is the mean test UAR lost by the scorer's pick against it."
        )
    return notes
