"""``emoshift evaluate``'s work: score a saved model on labelled audio.

The inputs are corpus tables (``.csv`` / ``.parquet`` with a ``file`` column and the labels,
as ``emoshift corpus export`` writes them) or corpus folders read by a loader
(``corpus_format``). Each file is predicted as ``emoshift predict`` does; its reference
label is read the way the model was trained: mapped into the model's label space (e.g.
``four_class``) from the ``emotion`` column, or taken from the training config's label
column, or, for regression, the model's dimensions (on the training config's scale).
Rows without a reference label in that space are left out and counted; files that give no
features keep their row with the reason and are not scored. A row with ``start`` and
``end`` is scored on that span of its file, named ``<file>#t=<start>,<end>``.

The result holds one row per file (``file``, ``true``, the prediction columns,
``error``: the layout of a run's predictions tables, :mod:`emoshift.runfolder`, plus the
error), the metrics of :mod:`emoshift.metrics` (UAR, WA, F1; or CCC, PCC, RMSE), and
for classification the confusion matrix and each class's recall.

Example:
    >>> table = pd.DataFrame({"file": ["a", "b", "c", "d"],
    ...                       "true": ["anger", "anger", "sadness", "sadness"],
    ...                       "prediction": ["anger", "sadness", "sadness", "sadness"],
    ...                       "error": ["", "", "", ""]})
    >>> result = score_predictions(table, "classification", ["anger", "sadness"])
    >>> result.metrics["uar"], result.per_class["recall"].tolist()
    (0.75, [0.5, 1.0])
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emoshift.bundle.model import ERROR_COLUMN, Model
from emoshift.data.labels import apply_label_space
from emoshift.data.loaders import load_corpus
from emoshift.data.table import read_table
from emoshift.features.segments import row_names
from emoshift.metrics import confusion_matrix, score
from emoshift.runfolder import TRUE_COLUMN

TABLE_SUFFIXES = (".csv", ".parquet")


@dataclass
class Evaluation:
    """A model scored on labelled audio.

    Attributes:
        predictions: one row per file: ``file``, the reference (``true``, or
            ``true_<dimension>``), the prediction columns and ``error``.
        metrics: metric name -> value over the scored files.
        confusion: rows = reference class, columns = predicted class (classification).
        per_class: ``class``, ``support`` and ``recall`` per class (classification).
        notes: what was left out and why.
    """

    predictions: pd.DataFrame
    metrics: dict[str, float]
    confusion: pd.DataFrame | None = None
    per_class: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    def write(self, folder: str | os.PathLike) -> list[Path]:
        """Write ``predictions.csv``, ``metrics.csv`` and, for classification,
        ``confusion.csv`` and ``per_class.csv`` into ``folder``; returns the paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tables = {
            "predictions": self.predictions,
            "metrics": pd.DataFrame({"metric": list(self.metrics), "value": self.metrics.values()}),
            "confusion": self.confusion,
            "per_class": self.per_class,
        }
        written = []
        for name, table in tables.items():
            if table is not None:
                path = folder / f"{name}.csv"
                table.to_csv(path, index=name == "confusion")
                written.append(path)
        return written

    def summary(self) -> str:
        """The metrics, the confusion matrix and per-class recall, as text."""
        n_scored = int((self.predictions[ERROR_COLUMN] == "").sum())
        lines = [f"scored {n_scored} of {len(self.predictions)} file(s)"]
        lines += [f"  {name}: {value:.4f}" for name, value in self.metrics.items()]
        if self.confusion is not None:
            lines += ["confusion (rows: true, columns: predicted):", self.confusion.to_string()]
        if self.per_class is not None:
            lines += ["per-class recall:", self.per_class.to_string(index=False)]
        return "\n".join(lines + self.notes)


def read_labelled(
    inputs: list[str | os.PathLike], corpus_format: str | None = None
) -> pd.DataFrame:
    """The corpus tables named in ``inputs`` (tables, or folders read by the loader
    ``corpus_format``), concatenated."""
    tables = []
    for item in inputs:
        path = Path(item)
        if corpus_format is not None:
            tables.append(load_corpus(path, corpus_format))
        elif path.suffix.lower() in TABLE_SUFFIXES:
            tables.append(read_table(path))
        else:
            raise ValueError(
                f"{path}: evaluate reads labelled corpus tables (.csv or .parquet with a "
                "'file' column and the labels; 'emoshift corpus export' writes one), or a "
                "corpus folder with --format NAME (its loader)"
            )
    return pd.concat(tables, ignore_index=True)


def reference_labels(model: Model, table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``table``'s rows that have a reference in the model's label space, with the
    reference in ``true`` (or ``true_<dimension>``), and notes on the rows left out."""
    labels = model.training.get("config", {}).get("labels", {})
    if model.task == "regression":
        dimensions = model.labels["dimensions"]
        _require(table, dimensions)
        values = table[dimensions].to_numpy(dtype=np.float64)
        scale = labels.get("scale")
        if scale is not None:  # normalised [-1, 1] onto the scale the model was trained on
            values = scale[0] + (values + 1) * (scale[1] - scale[0]) / 2
        kept = np.isfinite(values).all(axis=1)
        out = table.loc[kept, ["file"]].reset_index(drop=True)
        for i, dimension in enumerate(dimensions):
            out[f"{TRUE_COLUMN}_{dimension}"] = values[kept, i]
        return out, _left_out(len(table) - int(kept.sum()), "without every dimension scored")
    space = model.labels.get("space")
    if space:
        _require(table, ["emotion"])
        mapped, report = apply_label_space(table, space, **labels.get("options", {}))
        out = mapped[["file"]].assign(**{TRUE_COLUMN: mapped["label"].astype(str)})
        return out, _left_out(report.total - len(mapped), f"with no label in {space}")
    column = labels.get("column", "emotion")
    _require(table, [column])
    known = table[column].notna() & (table[column].astype(str).str.strip() != "")
    out = table.loc[known, ["file"]].assign(**{TRUE_COLUMN: table.loc[known, column].astype(str)})
    return out.reset_index(drop=True), _left_out(int((~known).sum()), f"without {column!r}")


def _require(table: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in table]
    if missing:
        raise ValueError(
            f"the labelled table has no column(s) {missing} (its columns: {list(table.columns)}); "
            "the model reads its reference labels there"
        )


def _left_out(count: int, why: str) -> list[str]:
    return [f"left out {count} row(s) {why}"] if count else []


def score_predictions(
    table: pd.DataFrame, task: str, classes: list[str] | None = None
) -> Evaluation:
    """The metrics of a table of references and predictions (rows with an ``error`` are
    not scored); ``classes``: the model's classes, in order."""
    scored = table[table[ERROR_COLUMN] == ""]
    if len(scored) == 0:
        raise ValueError("no file gave features: nothing to score (see the error column)")
    if task == "regression":
        truth = [c for c in table if c.startswith(f"{TRUE_COLUMN}_")]
        dimensions = [c.removeprefix(f"{TRUE_COLUMN}_") for c in truth]
        metrics = score(
            scored[truth].to_numpy(float),
            scored[dimensions].to_numpy(float),
            task,
            dimensions=dimensions,
        )
        return Evaluation(table, metrics)
    true, predicted = scored[TRUE_COLUMN].astype(str), scored["prediction"].astype(str)
    labels = list(classes or []) + sorted(set(true) - set(classes or []))
    metrics = score(true, predicted, task, labels=labels)
    counts = confusion_matrix(true, predicted, labels=labels)
    support = counts.sum(axis=1)
    recall = np.divide(np.diag(counts), support, out=np.zeros(len(labels)), where=support > 0)
    confusion = pd.DataFrame(counts, index=pd.Index(labels, name="true"), columns=labels)
    per_class = pd.DataFrame({"class": labels, "support": support, "recall": recall})
    return Evaluation(table, metrics, confusion, per_class)


def evaluate_model(
    model: Model,
    inputs: list[str | os.PathLike],
    *,
    corpus_format: str | None = None,
    domain: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    batch_size: int = 256,
    progress: bool | None = None,
) -> Evaluation:
    """Predict every labelled file of ``inputs`` with ``model`` and score the predictions
    against the reference labels (see the module doc)."""
    labelled = read_labelled(inputs, corpus_format)
    labelled["file"] = row_names(labelled)  # a segment row is its span of the file
    reference, notes = reference_labels(model, labelled)
    reference = reference.drop_duplicates("file").reset_index(drop=True)
    if len(reference) == 0:
        raise ValueError(
            f"no row of the inputs has a reference label ({'; '.join(notes)}): nothing to "
            "score; name tables with the labels the model predicts"
        )
    predicted = model.predict(
        list(reference["file"]),
        domain=domain,
        cache_dir=cache_dir,
        n_jobs=n_jobs,
        batch_size=batch_size,
        progress=progress,
    )
    table = reference.merge(predicted, on="file", how="left", validate="one_to_one")
    result = score_predictions(table, model.task, model.labels.get("classes"))
    result.notes = notes
    return result
