"""The report of an experiment run folder: tables, significance, figures and one HTML page.

``emoshift run`` writes a run folder: ``results.jsonl`` (one line per finished trial,
append-only; when a trial is re-run the last line for its key counts), ``config.yaml``
and ``artifacts/<key>.npz`` (representations of each shared layer for trial 0 of each
variant, pair and condition). :func:`write_experiment_report` turns it into
``report/results.{md,csv,json}`` (one row per variant x pair x condition: mean and std
of every metric over trials, and a paired test against the config's baseline) and a
self-contained ``report/report.html`` (plus ``report.md``) with the table, the metric
against the number of labelled target examples, confusion matrices, domain-classifier
accuracy over epochs, t-SNE (and UMAP when installed) of each shared layer for the
baseline and each adapted model side by side, the failed trials, and how models were
selected.

Example:
    >>> import json, tempfile, pathlib
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> lines = [{"key": f"{m}{t}", "status": "ok", "method": m, "variant": m,
    ...           "pair": "acted->spontaneous", "protocol": "cross_domain", "trial": t,
    ...           "metrics": {"uar": 0.5 + 0.1 * (m == "dann") + 0.01 * t * t}}
    ...          for m in ("source_only", "dann") for t in range(3)]
    >>> _ = (run / "results.jsonl").write_text("".join(json.dumps(x) + "\\n" for x in lines))
    >>> _ = (run / "config.yaml").write_text("name: demo\\nbaseline: source_only\\n")
    >>> report = write_experiment_report(run)
    >>> report.table[["variant", "n_trials", "uar_mean", "uar_diff"]].round(3).values.tolist()
    [['source_only', 3, 0.517, <NA>], ['dann', 3, 0.617, 0.1]]
    >>> report.html.relative_to(run).as_posix()
    'report/report.html'
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from emoshift.metrics import METRICS
from emoshift.report.embeddings import (
    MAX_POINTS,
    PROJECTION_NAMES,
    Embeddings,
    load_embeddings,
    project,
    projection_methods,
)
from emoshift.report.figures import (
    confusion_matrix_figure,
    domain_accuracy_figure,
    embedding_scatter_figure,
    metric_curve_figure,
)
from emoshift.report.html import write_report
from emoshift.report.stats import WILCOXON_MIN_N, paired_test
from emoshift.report.tables import results_table, write_tables

RESULTS_FILE = "results.jsonl"
CONFIG_FILE = "config.yaml"
PLAN_FILE = "plan.json"

CONDITIONS = ("k", "size")
"""Keys of a result that make a condition of the protocol (a cell of the table)."""

CONDITION_AXES = {
    "k": "labelled target examples per class (k)",
    "size": "fraction of the training sample (size)",
}

PRIMARY_METRICS = ("uar", "ccc")
"""The metric that curves and tests use: the first of these present, else the first."""

MODEL_SELECTION = {
    "cross_domain": "a source development split",
    "few_shot": "labelled source data and the k labelled target examples; never target test data",
    "split_10_40_50": "the 40% labelled target development split",
    "loso": "the training folds",
    "reduced": "the training folds",
}
"""What each protocol lets model selection (early stopping, hyper-parameters) see."""

ALPHA = 0.05

TEST_COLUMNS = ("baseline", "n_matched", "test", "p_value", "significant")
"""Columns of the paired test in :func:`experiment_table`, besides ``<metric>_diff``."""

REQUIRED_KEYS = {
    "ok": ("variant", "method", "pair", "trial", "metrics"),
    "error": ("variant", "method", "pair", "trial"),
}


@dataclass
class RunResults:
    """A run folder read back: finished ``trials`` and ``failures`` (the last line per
    trial key; lines that a re-run replaced are dropped), the parsed ``config`` (empty
    when ``config.yaml`` is absent) and the keys that had several lines (``rerun``)."""

    run_dir: Path
    trials: list[dict]
    failures: list[dict]
    config: dict
    rerun: list[str] = field(default_factory=list)


@dataclass
class ExperimentReport:
    """What :func:`write_experiment_report` wrote: the results ``table`` (one row per
    variant x pair x condition), the ``failures`` table, the ``html`` and ``markdown``
    pages, the ``tables`` files (``md``, ``csv``, ``json``), the ``figures`` (caption ->
    PNG path) and the ``notes`` shown on the page."""

    table: pd.DataFrame
    failures: pd.DataFrame
    html: Path
    markdown: Path
    tables: dict[str, Path]
    figures: dict[str, Path]
    notes: list[str]


def read_run(run_dir: str | os.PathLike) -> RunResults:
    """Read ``results.jsonl`` (last line per key wins) and ``config.yaml`` of a run.

    When the run folder has ``plan.json`` (the trial keys of the config last run there),
    only those trials are read, so results of an earlier config in the same folder do not
    mix in. A torn last line (a killed run) is skipped.

    Raises ``FileNotFoundError`` when the folder or its results file is missing and
    ``ValueError`` when the file is empty or a line is not a valid result.
    """
    directory = Path(run_dir)
    results_path = directory / RESULTS_FILE
    if not results_path.is_file():
        raise FileNotFoundError(
            f"{results_path} does not exist; pass the folder that 'emoshift run' wrote "
            "(it holds results.jsonl and config.yaml)"
        )
    latest: dict[str, dict] = {}
    rerun: list[str] = []
    lines = results_path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if number == len(lines):  # torn by a killed run; the runner redoes that trial
                continue
            raise ValueError(f"{results_path}, line {number}: not valid JSON ({error})") from None
        if not isinstance(record, dict) or not {"key", "status"} <= record.keys():
            raise ValueError(
                f"{results_path}, line {number}: a result must be a JSON object with "
                "'key' and 'status'"
            )
        if record["status"] not in ("ok", "error"):
            raise ValueError(
                f"{results_path}, line {number}: status {record['status']!r} is neither "
                "'ok' nor 'error'"
            )
        required = REQUIRED_KEYS[record["status"]]
        missing = [k for k in required if k not in record]
        if missing or (record["status"] == "ok" and not record["metrics"]):
            raise ValueError(
                f"{results_path}, line {number}: trial {record['key']} lacks "
                f"{missing or ['metrics']}; a {record['status']!r} result needs {list(required)}"
            )
        if record["key"] in latest and record["key"] not in rerun:
            rerun.append(record["key"])
        latest.pop(record["key"], None)
        latest[record["key"]] = record
    if not latest:
        raise ValueError(f"{results_path} is empty; no trial has finished yet")
    plan_path = directory / PLAN_FILE
    if plan_path.is_file():  # results of an earlier config in the same folder stay out
        planned = set(json.loads(plan_path.read_text(encoding="utf-8")))
        latest = {key: record for key, record in latest.items() if key in planned}
        rerun = [key for key in rerun if key in planned]
        if not latest:
            raise ValueError(
                f"{results_path} holds no finished trial of the plan in {plan_path} yet"
            )
    config_path = directory / CONFIG_FILE
    config = (
        yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    )
    if not isinstance(config, dict):
        raise ValueError(f"{config_path} must hold a YAML mapping (name, baseline, ...)")
    records = list(latest.values())
    return RunResults(
        run_dir=directory,
        trials=[r for r in records if r["status"] == "ok"],
        failures=[r for r in records if r["status"] == "error"],
        config=config,
        rerun=rerun,
    )


def model_selection_note(protocol: str) -> str:
    """The sentence that states what model selection saw under ``protocol``.

    Example:
        >>> model_selection_note("split_10_40_50")
        'Model selection used only the 40% labelled target development split.'
    """
    if protocol not in MODEL_SELECTION:
        raise ValueError(f"unknown protocol {protocol!r}; known protocols: {list(MODEL_SELECTION)}")
    return f"Model selection used only {MODEL_SELECTION[protocol]}."


def condition_columns(trials: Sequence[Mapping[str, object]]) -> list[str]:
    """The condition keys (``k``, ``size``) that some trial sets, in :data:`CONDITIONS` order."""
    return [c for c in CONDITIONS if any(t.get(c) is not None for t in trials)]


def metric_names(
    trials: Sequence[Mapping[str, object]], preferred: Sequence[str] = ()
) -> list[str]:
    """The metrics the trials recorded: those in ``preferred`` (the config's ``metrics``)
    first in that order, then the registered ones in registry order, each followed by
    its per-dimension scores (``ccc``, ``ccc_arousal``, ...), then any others by name.

    Example:
        >>> metric_names([{"metrics": {"f1": 0.5, "uar": 0.6, "wa": 0.6}}])
        ['uar', 'wa', 'f1']
        >>> metric_names([{"metrics": {"ccc_valence": 0.2, "rmse": 0.3, "ccc": 0.4}}], ["rmse"])
        ['rmse', 'ccc', 'ccc_valence']
    """
    order = list(dict.fromkeys([*preferred, *METRICS]))
    names = {name for t in trials for name in t["metrics"]}

    def rank(name: str) -> tuple:
        base = name.split("_", 1)[0]
        return (order.index(base) if base in order else len(order), name != base, name)

    return sorted(names, key=rank)


def primary_metric(trials: Sequence[Mapping[str, object]]) -> str:
    """UAR for classification, CCC for regression, else the first metric recorded."""
    names = metric_names(trials)
    return next((m for m in PRIMARY_METRICS if m in names), names[0])


def baseline_variant(trials: Sequence[Mapping[str, object]], baseline: str | None) -> str | None:
    """The variant that stands for the ``baseline`` method: the one named like the method
    (its default parameters) when there is one, else its first variant; ``None`` when the
    baseline is unset or has no finished trial."""
    variants = list(dict.fromkeys(t["variant"] for t in trials if t["method"] == baseline))
    if not variants:
        return None
    return baseline if baseline in variants else variants[0]


def _replicate(trial: Mapping[str, object]) -> object:
    """What pairs a trial with the baseline's inside a cell: the trial, and the LOSO fold."""
    return trial["trial"] if trial.get("fold") is None else f"{trial['fold']}/{trial['trial']}"


def _condition_key(trial: Mapping[str, object]) -> tuple:
    """Sorts conditions ascending (k, then size), an unset one first."""
    return tuple((trial.get(c) is not None, trial.get(c) or 0) for c in CONDITIONS)


def _order(trials: Sequence[Mapping[str, object]], first: str | None) -> list[dict]:
    """Trials sorted by pair (first appearance), condition (ascending) and variant (the
    baseline first, then first appearance), then trial."""
    pairs = list(dict.fromkeys(t["pair"] for t in trials))
    variants = list(dict.fromkeys(t["variant"] for t in trials))
    if first in variants:
        variants.remove(first)
        variants.insert(0, first)

    def key(trial: Mapping[str, object]) -> tuple:
        pair, variant = pairs.index(trial["pair"]), variants.index(trial["variant"])
        return (pair, _condition_key(trial), variant, str(_replicate(trial)))

    return sorted(trials, key=key)


def experiment_table(
    trials: Sequence[Mapping[str, object]],
    baseline: str | None = None,
    *,
    metrics: Sequence[str] = (),
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """One row per pair x condition x variant: ``n_trials``, ``<metric>_mean`` and
    ``<metric>_std`` of every metric, and, when ``baseline`` (a method name) has results,
    a paired test of the primary metric against its variant in the same pair and
    condition over matched trials: ``baseline``, ``<metric>_diff`` (mean of variant -
    baseline), ``n_matched``, ``test``, ``p_value`` and ``significant`` (p < alpha).
    Cells with fewer than two matched trials are left untested (empty). Metric columns
    follow ``metrics`` (the config's list), see :func:`metric_names`.

    Example:
        >>> trials = [{"variant": v, "method": v, "pair": "a->b", "trial": t,
        ...            "metrics": {"uar": u}} for v, us in (("base", [0.5, 0.6, 0.55]),
        ...            ("dann", [0.6, 0.7, 0.6])) for t, u in enumerate(us)]
        >>> row = experiment_table(trials, "base").iloc[1]
        >>> row["variant"], round(float(row["uar_diff"]), 3), row["test"], bool(row["significant"])
        ('dann', 0.083, 'ttest', True)
    """
    if not trials:
        raise ValueError("no finished trial to tabulate")
    reference = baseline_variant(trials, baseline)
    ordered = _order(trials, reference)
    conditions = condition_columns(ordered)
    by = ["pair", *conditions, "variant"]
    rows = [
        {
            **{key: t.get(key) for key in by},
            "replicate": _replicate(t),
            **{name: float(value) for name, value in t["metrics"].items()},
        }
        for t in ordered
    ]
    table = results_table(rows, metric_names(ordered, metrics), by=by, trial_key="replicate")
    if "k" in table:
        table["k"] = table["k"].astype("Int64")
    if "size" in table:
        table["size"] = table["size"].astype("Float64")
    if reference is None:
        return table
    metric = primary_metric(ordered)
    values: dict[tuple, dict[object, float]] = {}
    for row in rows:
        cell = tuple(row[key] for key in by)
        values.setdefault(cell, {})[row["replicate"]] = row[metric]
    dtypes = {
        "baseline": "string",
        f"{metric}_diff": "Float64",
        "n_matched": "Int64",
        "test": "string",
        "p_value": "Float64",
        "significant": "boolean",
    }
    tests = []
    for cell in table[by].itertuples(index=False, name=None):
        cell = tuple(None if pd.isna(v) else v for v in cell)
        variant_values = values[cell]
        base_values = values.get((*cell[:-1], reference), {})
        shared = [r for r in variant_values if r in base_values]
        test = dict.fromkeys(dtypes)
        tests.append(test)
        if cell[-1] == reference:
            continue
        test["baseline"] = reference
        if len(shared) >= 2:
            outcome = paired_test(
                [variant_values[r] for r in shared], [base_values[r] for r in shared], alpha=alpha
            )
            test[f"{metric}_diff"] = outcome["mean_difference"]
            test["n_matched"] = outcome["n"]
            test["test"] = outcome["test"]
            test["p_value"] = outcome["p_value"]
            test["significant"] = outcome["significant"]
    tested = pd.DataFrame(tests, columns=list(dtypes), index=table.index).astype(dtypes)
    return pd.concat([table, tested], axis=1)


def failures_table(failures: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """One row per failed trial: where it ran, its key prefix and the error's last line.

    Example:
        >>> failure = {"key": "ab12cd34ef56aa", "variant": "dann", "pair": "a->b", "trial": 3,
        ...            "seed": 7, "error": "Traceback ...\\nValueError: NaN loss"}
        >>> failures_table([failure]).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
        [{'variant': 'dann', 'pair': 'a->b', 'trial': 3, 'seed': 7, 'key': 'ab12cd34ef56',
          'error': 'ValueError: NaN loss'}]
    """
    conditions = condition_columns(failures)
    rows = []
    for failure in failures:
        lines = [line for line in str(failure.get("error") or "").splitlines() if line.strip()]
        rows.append(
            {
                "variant": failure["variant"],
                "pair": failure["pair"],
                **{c: failure.get(c) for c in conditions},
                "trial": failure["trial"],
                "seed": failure.get("seed"),
                "key": str(failure["key"])[:12],
                "error": lines[-1].strip() if lines else "(no error text recorded)",
            }
        )
    columns = ["variant", "pair", *conditions, "trial", "seed", "key", "error"]
    table = pd.DataFrame(rows, columns=columns)
    if "k" in table:
        table["k"] = table["k"].astype("Int64")
    return table


def _condition_text(trial: Mapping[str, object], conditions: Sequence[str]) -> str:
    return ", ".join(f"{c} = {trial.get(c)}" for c in conditions if trial.get(c) is not None)


class _Figures:
    """Collects figures by section; file names are numbered so they never collide, and
    the numbered figures of an earlier report in the same folder are removed first."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.groups: dict[str, dict[str, Path]] = {}
        for stale in directory.glob("[0-9][0-9][0-9]_*.png"):  # from an earlier report
            stale.unlink()

    def path(self, stem: str) -> Path:
        count = sum(len(group) for group in self.groups.values())
        slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:60]
        return self.directory / f"{count + 1:03d}_{slug}.png"

    def add(self, section: str, caption: str, path: Path) -> None:
        self.groups.setdefault(section, {})[caption] = path


def _first_condition(trials: Sequence[Mapping[str, object]], pair: str) -> list[dict]:
    """The trials of ``pair`` in its first condition (smallest k or size)."""
    in_pair = [t for t in trials if t["pair"] == pair]
    first = min(_condition_key(t) for t in in_pair)
    return [t for t in in_pair if _condition_key(t) == first]


def _curve_figures(
    trials: Sequence[dict], metric: str, axis: str, figures: _Figures, section: str
) -> None:
    for pair in dict.fromkeys(t["pair"] for t in trials):
        curves: dict[str, dict[float, list[float]]] = {}
        for t in trials:
            if t["pair"] == pair and t.get(axis) is not None:
                points = curves.setdefault(t["variant"], {})
                points.setdefault(t[axis], []).append(float(t["metrics"][metric]))
        caption = (
            f"{metric.upper()} on target test data against the {CONDITION_AXES[axis]}, "
            f"{pair}: mean ± std over trials"
        )
        path = metric_curve_figure(
            curves,
            figures.path(f"curve {pair}"),
            xlabel=CONDITION_AXES[axis],
            ylabel=metric.upper(),
            title=pair,
        )
        figures.add(section, caption, path)


def _confusion_figures(
    trials: Sequence[dict], conditions: Sequence[str], figures: _Figures, section: str
) -> None:
    for pair in dict.fromkeys(t["pair"] for t in trials):
        chosen = [t for t in _first_condition(trials, pair) if t.get("confusion") is not None]
        for variant in dict.fromkeys(t["variant"] for t in chosen):
            members = [t for t in chosen if t["variant"] == variant]
            labels = members[0].get("labels")
            if any(t.get("labels") != labels for t in members) or not labels:
                raise ValueError(
                    f"{variant}, {pair}: trials disagree on the confusion matrix labels "
                    f"({sorted({str(t.get('labels')) for t in members})}); every trial of a "
                    "cell must use the same label list"
                )
            total = np.sum([np.asarray(t["confusion"]) for t in members], axis=0)
            where = ", ".join(filter(None, [pair, _condition_text(members[0], conditions)]))
            caption = (
                f"Confusion matrix of {variant}, {where}: target test counts summed over "
                f"{len(members)} trial(s)"
            )
            path = confusion_matrix_figure(
                total, labels, figures.path(f"confusion {variant} {pair}"), title=variant
            )
            figures.add(section, caption, path)


def _domain_figures(
    trials: Sequence[dict], conditions: Sequence[str], figures: _Figures, section: str
) -> None:
    for pair in dict.fromkeys(t["pair"] for t in trials):
        chosen = _first_condition(trials, pair)
        histories: dict[str, list] = {}
        for t in chosen:
            if any("domain_acc" in key for entry in t.get("history") or [] for key in entry):
                histories.setdefault(t["variant"], []).append(t["history"])
        if not histories:
            continue
        where = ", ".join(filter(None, [pair, _condition_text(chosen[0], conditions)]))
        caption = (
            f"Domain-classifier accuracy over epochs, {where}: mean ± std over trials "
            "(0.5 = chance for two domains)"
        )
        path = domain_accuracy_figure(histories, figures.path(f"domain {pair}"), title=pair)
        figures.add(section, caption, path)


def _embedding_figures(
    trials: Sequence[dict],
    run_dir: Path,
    reference: str | None,
    conditions: Sequence[str],
    figures: _Figures,
    notes: list[str],
) -> None:
    """Per pair (first condition with artifacts): each adapted variant beside the baseline,
    one figure per shared layer and projection."""
    classification = trials[0].get("task", "classification") == "classification"
    label_name = "emotion" if classification else "label (first dimension)"
    loaded: dict[str, Embeddings] = {}
    projected: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    missing: list[str] = []

    def load(trial: Mapping[str, object]) -> Embeddings | None:
        relative = str(trial["embeddings"])
        if relative not in loaded:
            try:
                loaded[relative] = load_embeddings(run_dir / relative)
            except FileNotFoundError:
                missing.append(relative)
                return None
        return loaded[relative]

    def points(relative: str, layer: str, method: str) -> tuple:
        if (relative, layer, method) not in projected:
            stored = loaded[relative]
            rows = np.arange(len(stored.domain))
            if len(rows) > MAX_POINTS:
                rows = np.sort(np.random.default_rng(0).choice(rows, MAX_POINTS, replace=False))
            projected[relative, layer, method] = (
                project(stored.layers[layer][rows], method),
                stored.domain[rows],
                stored.label[rows],
            )
        return projected[relative, layer, method]

    with_artifacts = [t for t in trials if t.get("embeddings")]
    for pair in dict.fromkeys(t["pair"] for t in with_artifacts):
        chosen = _first_condition(with_artifacts, pair)
        first_trial: dict[str, dict] = {}
        for t in sorted(chosen, key=lambda t: t["trial"]):
            if t["variant"] not in first_trial and load(t) is not None:
                first_trial[t["variant"]] = t
        base = first_trial.get(reference) if reference else None
        others = [v for v in first_trial if v != reference]
        panels = [[reference, v] if base else [v] for v in others] or (
            [[reference]] if base else []
        )
        where = ", ".join(filter(None, [pair, _condition_text(chosen[0], conditions)]))
        for models in panels:
            artifacts = {v: str(first_trial[v]["embeddings"]) for v in models}
            layers = list(dict.fromkeys(n for a in artifacts.values() for n in loaded[a].layers))
            for method in projection_methods():
                name = PROJECTION_NAMES[method]
                for layer in layers:
                    caption = (
                        f"{name} of {layer} ({' vs '.join(artifacts)}), {where}: source and "
                        f"target test examples of trial {first_trial[models[-1]]['trial']}, "
                        f"coloured by domain (top) and {label_name} (bottom)"
                    )
                    path = embedding_scatter_figure(
                        {
                            v: points(a, layer, method) if layer in loaded[a].layers else None
                            for v, a in artifacts.items()
                        },
                        figures.path(f"{method} {models[-1]} {pair} {layer}"),
                        projection=name,
                        label_name=label_name,
                        title=f"{layer}, {pair}",
                    )
                    figures.add(f"Representations ({name})", caption, path)
    if missing:
        notes.append(f"Embedding files listed in results.jsonl but missing: {', '.join(missing)}.")


def _analyse(
    results: RunResults, baseline: str | None, figures: _Figures
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], list[str]]:
    """The results table, the baseline-comparison table and the notes of the finished
    trials; draws their figures into ``figures``."""
    trials = results.trials
    table = experiment_table(trials, baseline, metrics=results.config.get("metrics") or ())
    reference = baseline_variant(trials, baseline)
    ordered = _order(trials, reference)
    metric = primary_metric(trials)
    conditions = condition_columns(trials)
    sections: dict[str, pd.DataFrame] = {}
    notes = ["Scores on target test data: mean ± sample standard deviation over trials."]
    if reference is not None:
        tested = table[table["baseline"].notna()]
        columns = ["n_matched", f"{metric}_diff", "test", "p_value", "significant"]
        title = f"Against the baseline {reference} ({metric.upper()})"
        sections[title] = tested[["pair", *conditions, "variant", *columns]]
        notes.append(
            f"Each variant is compared with the baseline {reference} on {metric.upper()} "
            "over trials matched by pair, condition and trial (and LOSO fold): Wilcoxon "
            f"signed-rank test from {WILCOXON_MIN_N} matched trials, paired t-test below "
            f"that, two-sided; significant means p < {ALPHA}; {metric}_diff = variant - "
            "baseline. results.csv and results.json hold both tables in one."
        )
        untested = int(tested["p_value"].isna().sum())
        if untested:
            notes.append(
                f"{untested} comparison(s) share fewer than 2 matched trials with the "
                "baseline and are not tested (empty cells)."
            )
    elif baseline:
        notes.append(f"The baseline {baseline} has no finished trial: nothing was tested.")
    else:
        notes.append("The config names no baseline: no significance tests.")
    axis = next((c for c in conditions if len({t.get(c) for t in trials}) > 1), None)
    if axis is not None:
        _curve_figures(ordered, metric, axis, figures, f"{metric.upper()} against {axis}")
    _confusion_figures(ordered, conditions, figures, "Confusion matrices")
    _domain_figures(ordered, conditions, figures, "Domain-classifier accuracy")
    _embedding_figures(ordered, results.run_dir, reference, conditions, figures, notes)
    if any(t.get("embeddings") for t in trials):
        notes.append(
            "t-SNE: each model's layer projected on its own (PCA initialisation, "
            "perplexity min(30, (n - 1) / 3), random_state 0), so axes are not comparable "
            "between panels; only the grouping of points is."
        )
        if "umap" not in projection_methods():
            notes.append(
                "UMAP skipped: umap-learn is not installed (pip install 'emoshift[umap]')."
            )
    return table, sections, notes


def write_experiment_report(
    run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None
) -> ExperimentReport:
    """Write the report of a run folder into ``out_dir`` (default ``RUN_DIR/report``).

    Files: ``results.md``, ``results.csv``, ``results.json`` (see
    :func:`experiment_table`), ``report.md``, ``report.html`` (self-contained) and
    ``figures/*.png``. Raises ``FileNotFoundError`` / ``ValueError`` when the run folder
    has no (valid) results.
    """
    results = read_run(run_dir)
    out = Path(out_dir) if out_dir is not None else results.run_dir / "report"
    config = results.config
    first = (results.trials + results.failures)[0]
    protocol = config.get("protocol")
    protocol = (protocol.get("name") if isinstance(protocol, dict) else protocol) or first.get(
        "protocol", "cross_domain"
    )
    baseline = config.get("baseline")
    figures = _Figures(out / "figures")
    if results.trials:
        table, sections, notes = _analyse(results, baseline, figures)
    else:
        table, sections = pd.DataFrame({"variant": [], "pair": [], "n_trials": []}), {}
        notes = ["Every trial failed: there is nothing to score."]
    failures = failures_table(results.failures)
    if results.failures:
        sections["Failed trials"] = failures
    else:
        notes.append("No trial failed.")
    if results.rerun:
        notes.append(
            f"{len(results.rerun)} trial(s) appear more than once in results.jsonl "
            "(re-run); only the last line of each counts."
        )
    intro = [
        f"{len(results.trials)} finished trial(s), {len(results.failures)} failed; "
        f"task: {first.get('task', config.get('task', 'classification'))}; "
        f"protocol: {protocol}; baseline: {baseline or 'none'}.",
        model_selection_note(protocol),
    ]
    corpora = config.get("corpora") or {}
    if any(isinstance(c, dict) and c.get("loader") == "synthetic" for c in corpora.values()):
        intro.append("Data: the synthetic corpus (emoshift.data.synthetic), not recorded speech.")
    paths = write_tables(table, out, stem="results")
    scores = table.drop(columns=[c for c in table if c in TEST_COLUMNS or c.endswith("_diff")])
    name = config.get("name") or first.get("experiment") or results.run_dir.name
    markdown, html = write_report(
        out,
        f"Experiment {name}",
        scores,
        {},
        notes,
        tables=sections,
        intro=intro,
        figure_groups=figures.groups,
    )
    return ExperimentReport(
        table=table,
        failures=failures,
        html=html,
        markdown=markdown,
        tables=paths,
        figures={c: p for group in figures.groups.values() for c, p in group.items()},
        notes=notes,
    )
