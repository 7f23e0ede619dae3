"""Running one trial spec to a results record, wherever it runs.

:func:`execute_trial` is what every executor calls (in this process, in a worker
process, or in a Ray task): it builds the trial's split, fits the method with torch
limited to one thread (so the numbers do not depend on the executor), scores it and
returns the record, its per-file test predictions (:func:`emoshift.runfolder.prediction_table`)
and embeddings for the report on trial 0. A trial that raises returns an error record
with its traceback instead.
"""

from __future__ import annotations

import dataclasses
import time
import traceback

import numpy as np
import pandas as pd

from emoshift.experiment.data import ExperimentData
from emoshift.experiment.plan import TrialSpec
from emoshift.experiment.protocols import make_split
from emoshift.experiment.trial import DomainSplit, TrialResult, run_trial, torch_threads
from emoshift.methods.inputs import concat_inputs
from emoshift.runfolder import METADATA_PREFIX, RunFolder, prediction_table

EMBEDDING_ROWS = 400


def _one_output(split: DomainSplit, column: int) -> DomainSplit:
    """``split`` with regression targets cut to the one column ``column``."""
    targets = ("y_source", "y_target", "y_test", "y_dev", "y_labelled_train")
    return dataclasses.replace(
        split,
        **{
            name: getattr(split, name)[:, [column]]
            for name in targets
            if getattr(split, name) is not None
        },
    )


def _metadata(
    table: pd.DataFrame | None, split: DomainSplit, source: np.ndarray, target: np.ndarray
) -> dict[str, np.ndarray]:
    """``meta_<column>``: the embedded rows' values, as text, of every text or whole-number
    column of the corpus table but ``file`` (speaker, session, gender, ...), so a report
    can colour the projections by any of them."""
    if table is None or split.source_rows is None or split.test_rows is None:
        return {}
    rows = np.concatenate([split.source_rows[source], split.test_rows[target]])
    kept = [
        column
        for column in table.columns
        if column != "file" and table[column].dtype.kind in "OUSbiu"
    ]
    return {
        f"{METADATA_PREFIX}{column}": table[column].iloc[rows].astype(str).to_numpy(dtype=str)
        for column in kept
    }


def _embeddings(
    model: object, split: DomainSplit, seed: int, table: pd.DataFrame | None = None
) -> dict[str, np.ndarray] | None:
    """Each shared layer's representation of up to 400 source and target test rows, with
    their domain, label and corpus-table metadata (:func:`_metadata`)."""
    transform = getattr(model, "transform", None)
    if transform is None:
        return None
    rng = np.random.default_rng(seed)
    half = EMBEDDING_ROWS // 2
    source = rng.permutation(len(split.X_source))[:half]
    target = rng.permutation(len(split.X_test))[:half]
    X = concat_inputs([split.X_source[source], split.X_test[target]])
    labels = np.concatenate([split.y_source[source], split.y_test[target]])
    if labels.ndim > 1:
        labels = labels[:, 0]
    arrays: dict[str, np.ndarray] = {
        "domain": np.r_[np.zeros(len(source), int), np.ones(len(target), int)],
        "label": labels.astype(str) if labels.dtype.kind in "OUS" else labels.astype(float),
        **_metadata(table, split, source, target),
    }
    layer = 0
    while True:
        try:
            arrays[f"layer_{layer}"] = np.asarray(transform(X, layer=layer), dtype=np.float32)
        except (ValueError, TypeError, IndexError):
            break
        layer += 1
        if layer > 8:
            break
    return arrays if layer else None


#: what running a trial gives: ``(record, embeddings or None, predictions or None, seconds)``
Outcome = tuple[dict, dict[str, np.ndarray] | None, pd.DataFrame | None, float]


def trial_record(spec: TrialSpec) -> dict:
    """The record of ``spec`` before it runs: its spec fields and empty results."""
    record = {
        key: value
        for key, value in dataclasses.asdict(spec).items()
        if key
        not in (
            "data_spec",
            "n_trials",
            "target_test_fraction",
            "speaker_independent",
            "exclusive",
            "selection",  # the spec's; the record gets what the selection chose (below)
            "protocol_options",
        )
        and (key, value) != ("dimension", None)
    }
    record.update(
        status="ok", error=None, metrics={}, labels=[], confusion=None, history=[], embeddings=None
    )
    return record


def trial_split(spec: TrialSpec, data: ExperimentData) -> tuple[DomainSplit, list[str] | None]:
    """The trial's split of ``data`` and the regression dimensions it scores (or None)."""
    split = make_split(
        data,
        spec.source,
        spec.target,
        spec.protocol,
        trial=spec.trial,
        seed=spec.seed,
        n_trials=spec.n_trials,
        target_test_fraction=spec.target_test_fraction,
        k=spec.k,
        size=spec.size,
        fold=spec.fold,
        speaker_independent=spec.speaker_independent,
        exclusive=spec.exclusive,
        domain_column=spec.data_spec.get("features", {}).get("domain"),
        **spec.protocol_options,
    )
    dimensions = spec.data_spec["labels"]["dimensions"] if spec.task == "regression" else None
    if spec.dimension is not None:  # one model per dimension: this trial's column
        split = _one_output(split, dimensions.index(spec.dimension))
        dimensions = [spec.dimension]
    return split, dimensions


def record_result(
    record: dict,
    spec: TrialSpec,
    result: TrialResult,
    split: DomainSplit,
    dimensions: list[str] | None,
    table: pd.DataFrame | None = None,
) -> tuple[dict[str, np.ndarray] | None, pd.DataFrame | None]:
    """Put ``result`` into ``record``; returns the embeddings of trial 0 (with the
    metadata ``table`` holds for the embedded rows) and the per-file test predictions
    (each None when there are none). The record names the artifacts
    only once both are made, so a failing trial never names a file that is not written."""
    record.update(
        metrics=result.metrics,
        labels=[str(label) for label in result.labels],
        confusion=None if result.confusion is None else result.confusion.tolist(),
        history=result.history,
    )
    if result.selection is not None:
        record["selection"] = result.selection
    if result.fitted_params:  # only then, so other records stay as they were
        record["fitted_params"] = result.fitted_params
    if result.domain_classifier is not None:
        record["domain_classifier"] = result.domain_classifier
    predictions = embeddings = None
    if split.test_files is not None:  # a corpus table names each row's file
        predictions = prediction_table(
            split.test_files,
            result.y_true,
            result.y_pred,
            classes=[str(c) for c in result.classes],
            proba=result.proba,
            dimensions=dimensions,
        )
    if spec.trial == 0 and result.model is not None:
        embeddings = _embeddings(result.model, split, spec.seed, table)
    if predictions is not None:
        record["predictions"] = RunFolder.predictions_name(spec.key)
    if embeddings is not None:
        record["embeddings"] = RunFolder.artifact_name(spec.key)
    return embeddings, predictions


def trial_seed(spec: TrialSpec) -> int:
    """The seed of ``spec``'s model: the config's seed plus the trial's number."""
    return spec.seed + spec.trial


@torch_threads(1)
def execute_trial(spec: TrialSpec, data: ExperimentData) -> Outcome:
    """Run one trial; returns ``(record, embeddings or None, predictions or None, seconds)``."""
    started = time.perf_counter()
    record = trial_record(spec)
    embeddings = predictions = None
    try:
        split, dimensions = trial_split(spec, data)
        result = run_trial(
            spec.method,
            spec.params,
            split,
            seed=trial_seed(spec),
            task=spec.task,
            metrics=spec.metrics,
            dimensions=dimensions,
            keep_model=spec.trial == 0,
            selection=spec.selection,
        )
        embeddings, predictions = record_result(record, spec, result, split, dimensions, data.table)
    except Exception:  # a failing trial is recorded, the others go on
        record.update(status="error", error=traceback.format_exc())
    return record, embeddings, predictions, time.perf_counter() - started
