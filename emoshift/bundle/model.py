"""A trained model that runs on new recordings: estimator, features, normalisation, labels.

:class:`Model` is what ``emoshift train`` produces and ``emoshift predict`` runs:
:meth:`Model.predict` extracts the features of new audio files (in parallel, through the
feature cache), normalises them with the statistics of a stored domain (by default the
target domain it was adapted to), and returns one row per file. :meth:`Model.save` writes
a bundle folder (:mod:`emoshift.bundle.io`) and :func:`load` reads one back, checking
every file and setting first.

Example:
    >>> import tempfile, numpy as np
    >>> from emoshift.features import DomainNormaliser, get_extractor
    >>> from emoshift.methods import get_method
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 88)); y = np.where(X[:, 0] > 0, "anger", "neutral")
    >>> normaliser = DomainNormaliser().fit(X, ["studio"] * 60)
    >>> estimator = get_method("source_only", hidden_sizes=(8,), max_epochs=2,
    ...                        random_state=0).fit(normaliser.transform(X, ["studio"] * 60), y)
    >>> model = Model.from_parts(estimator, "source_only", "egemaps", normaliser,
    ...                          target_domain="studio")
    >>> folder = model.save(tempfile.mkdtemp() + "/model")
    >>> load(folder).labels["classes"]
    ['anger', 'neutral']
"""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from emoshift import __version__
from emoshift.bundle import manifest as mf
from emoshift.bundle.consistency import check_estimator_labels, check_finite, check_labels
from emoshift.bundle.inputs import non_utf8_name
from emoshift.bundle.io import MANIFEST, BundleError, read_bundle, write_bundle
from emoshift.bundle.state import estimator_state, restore_estimator
from emoshift.features import (
    DomainNormaliser,
    SkippedFilesWarning,
    extract_features,
)
from emoshift.features.segments import row_names
from emoshift.progress import progress as progress_bar

#: the column of a prediction table that says why a file has no prediction
ERROR_COLUMN = "error"
NON_UTF8_NAME = (
    "{}: the file name is not valid UTF-8 (shown with its bytes escaped), so no table can "
    "hold it; rename the file (e.g. `convmv -f latin1 -t utf8 --notest FILE`) and predict again"
)
"""The error of a file whose name is not UTF-8; the other files are predicted."""


@dataclass
class Model:
    """A fitted estimator with everything needed to predict on new audio files.

    Attributes:
        estimator: the fitted method (a scikit-learn style estimator).
        method: its registry name (:func:`emoshift.methods.method_names`).
        task: ``"classification"`` or ``"regression"``.
        labels: ``{"classes": [...]}`` (in the order of the probability columns) or
            ``{"dimensions": [...]}``, plus ``"space"`` (the label space, if any).
        features: the ``features`` section of the manifest (see
            :func:`emoshift.bundle.manifest.feature_section`).
        normaliser: per-domain statistics, or ``None`` when features are not normalised.
        normalisation: ``method``, ``domain_column`` and ``target_domain`` (the domain
            whose statistics new audio gets unless another is named).
        training: how the model was made (config, pair, rows, adaptations).
        device: where the checkpoint of a model on SSL features runs when it extracts
            features (the ``device`` of :func:`load`; ``None``: ``"auto"``); not saved.
    """

    estimator: BaseEstimator
    method: str
    task: str
    labels: dict
    features: dict
    normaliser: DomainNormaliser | None
    normalisation: dict
    training: dict = field(default_factory=dict)
    device: str | None = None

    @classmethod
    def from_parts(
        cls,
        estimator: BaseEstimator,
        method: str,
        feature_set: str,
        normaliser: DomainNormaliser | None,
        *,
        target_domain: str | None = None,
        domain_column: str = "corpus",
        feature_options: dict | None = None,
        dimensions: list[str] | None = None,
        label_space: str | None = None,
        training: dict | None = None,
    ) -> Model:
        """A model from a fitted estimator, its feature set and its fitted normaliser."""
        task = getattr(estimator, "task", "classification")
        if task == "classification":
            labels: dict = {"classes": np.asarray(estimator.classes_).tolist()}
        else:
            n = int(getattr(estimator, "n_outputs_", 1))
            labels = {"dimensions": list(dimensions or [f"y{i}" for i in range(n)])}
        labels["space"] = label_space
        if normaliser is not None and target_domain is not None:
            target_domain = str(target_domain)
            if target_domain not in {str(d) for d in normaliser.stats_}:
                raise ValueError(f"target_domain {target_domain!r} has no statistics")
        return cls(
            estimator=estimator,
            method=method,
            task=task,
            labels=labels,
            features=mf.feature_section(feature_set, feature_options),
            normaliser=normaliser,
            normalisation={
                "method": "none" if normaliser is None else normaliser.method,
                "domain_column": domain_column,
                "target_domain": target_domain,
            },
            training=dict(training or {}),
        )

    def __repr__(self) -> str:
        """A summary that fits on a screen: a few lines of at most :data:`REPR_WIDTH`
        characters (everything else is in the bundle's ``manifest.json``).

        Example:
            >>> print(Model("mlp", "dann", "classification", {"classes": ["anger", "calm"]},
            ...             {"set": "egemaps", "n_features": 88, "frame_level": False},
            ...             None, {"method": "none"}))
            emoshift Model: dann (classification), 2 class(es): anger, calm
              features: egemaps, 88 per file
              normalisation: none
        """
        outputs = self.labels.get("classes") or self.labels.get("dimensions") or []
        kind = "class(es)" if "classes" in self.labels else "dimension(s)"
        per = "frame" if self.features.get("frame_level") else "file"
        lines = [
            f"emoshift Model: {self.method} ({self.task}), {len(outputs)} {kind}: "
            + _listed(outputs),
            f"  features: {self.features.get('set')}, {self.features.get('n_features')} per {per}",
            f"  normalisation: {self.normalisation.get('method')}",
        ]
        if self.normaliser is not None:
            lines[-1] += (
                f" per {self.normalisation.get('domain_column')}; new audio gets "
                f"{self.normalisation.get('target_domain')!r}"
            )
            lines.append(f"  {len(self.domains())} domain(s): {_listed(self.domains())}")
        pair, rows = self.training.get("pair"), self.training.get("rows", {})
        if pair:
            name = pair.get("name") or f"{pair.get('source')} -> {pair.get('target')}"
            lines.append(
                f"  trained on {name}: {rows.get('source')} source row(s), "
                f"{rows.get('target')} target ({rows.get('labelled_target')} labelled)"
            )
        if adaptations := self.training.get("adaptations"):
            last = adaptations[-1].get("domain")
            lines.append(f"  adapted {len(adaptations)} time(s), last to {last!r}")
        return "\n".join(_clipped(line) for line in lines)

    # ------------------------------------------------------------------ saving

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the model as a bundle folder at ``path``; returns the folder."""
        params, meta, arrays = estimator_state(self.estimator)
        groups = {"estimator": arrays}
        normalisation = dict(self.normalisation)
        if self.normaliser is not None:
            settings, stats = self.normaliser.to_state()
            normalisation["settings"] = settings
            groups["normalisation"] = stats
        manifest = {
            "format": mf.FORMAT,
            "format_version": mf.FORMAT_VERSION,
            "emoshift_version": __version__,
            "libraries": mf.library_versions(),
            "method": {
                "name": self.method,
                "class": f"{type(self.estimator).__module__}.{type(self.estimator).__name__}",
                "params": params,
                "state": meta,
            },
            "task": self.task,
            "labels": self.labels,
            "features": self.features,
            "normalisation": normalisation,
            "training": self.training,
        }
        return write_bundle(path, manifest, groups, overwrite=overwrite)

    # ------------------------------------------------------------- prediction

    def domains(self) -> list[str]:
        """The domains whose normalisation statistics the model holds."""
        return [] if self.normaliser is None else [str(d) for d in self.normaliser.stats_]

    def normalise(self, raw: np.ndarray | list[np.ndarray], domain: str | None = None) -> object:
        """Raw features (a matrix, or frame arrays) normalised like the training data."""
        frame_level = self.features["frame_level"]
        if self.normaliser is None:
            return _as_inputs(raw, frame_level)
        domain = self._domain(domain)
        if not frame_level:
            values = np.asarray(raw, dtype=np.float64)
            return self.normaliser.transform(values, [domain] * len(values)).astype(np.float32)
        lengths = [len(a) for a in raw]
        frames = np.concatenate(raw).astype(np.float64)
        scaled = self.normaliser.transform(frames, [domain] * len(frames))
        bounds = np.cumsum([0, *lengths])
        return _as_inputs([scaled[a:b] for a, b in zip(bounds[:-1], bounds[1:])], True)

    def _domain(self, domain: str | None) -> str:
        domain = domain if domain is not None else self.normalisation.get("target_domain")
        if domain is None:
            raise ValueError(
                f"name the domain whose normalisation new audio gets (one of {self.domains()}), "
                "or compute one from unlabelled audio of it with 'emoshift adapt'"
            )
        if domain not in self.domains():
            raise ValueError(
                f"the model has no normalisation statistics for domain {domain!r}; it has "
                f"{self.domains()}. Compute them from unlabelled audio with 'emoshift adapt'"
            )
        return domain

    def predict_features(self, X: object) -> pd.DataFrame:
        """Predictions for normalised inputs: ``prediction`` and ``p_<class>`` columns, or
        one column per regression dimension."""
        if self.task == "regression":
            values = np.asarray(self.estimator.predict(X), dtype=np.float64)
            values = _finite(values.reshape(len(values), -1))
            return pd.DataFrame(values, columns=self.labels["dimensions"])
        frame = pd.DataFrame({"prediction": self.estimator.predict(X)})
        if _has_proba(self.estimator):
            proba = _finite(np.asarray(self.estimator.predict_proba(X)))
            for i, label in enumerate(self.labels["classes"]):
                frame[f"p_{label}"] = proba[:, i]
        return frame

    def predict(
        self,
        files: list[str | os.PathLike] | pd.DataFrame,
        *,
        domain: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        n_jobs: int | None = None,
        batch_size: int = 256,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """One row per audio file: ``file``, the prediction columns and ``error``.

        Features are extracted in parallel (``n_jobs``; ``None``: every core) and read
        from the feature cache; the network sees ``batch_size`` files at a time. A file
        that gives no features keeps its row, with empty predictions and the reason in
        ``error``; the others are predicted.

        Args:
            files: audio paths, or a corpus table with a ``file`` column (a row with
                ``start`` and ``end`` is that span, named ``<file>#t=<start>,<end>``).
            domain: whose normalisation statistics to use (default: the target domain).
        """
        if self.normaliser is not None:
            domain = self._domain(domain)
        paths = row_names(files) if isinstance(files, pd.DataFrame) else [str(f) for f in files]
        escaped = {p: name for p in paths if (name := non_utf8_name(p)) is not None}
        with warnings.catch_warnings():  # skipped files are rows of the result, with reasons
            warnings.simplefilter("ignore", SkippedFilesWarning)
            result = extract_features(
                [p for p in paths if p not in escaped],
                mf.extractor(self.features, self.device),
                cache_dir=cache_dir,
                n_jobs=n_jobs,
                on_error="skip",
                progress=progress,
            )
        raw = result.features
        raw = raw.to_numpy() if isinstance(raw, pd.DataFrame) else raw
        parts = []
        starts = range(0, len(result.files), batch_size)
        for start in progress_bar(starts, desc="predicting", enabled=progress, unit="batch"):
            inputs = self.normalise(raw[start : start + batch_size], domain)
            parts.append(self.predict_features(inputs))
        done = pd.concat(parts, ignore_index=True) if parts else self._empty_predictions()
        done.insert(0, "file", result.files)
        by_file = done.drop_duplicates("file").set_index("file")
        errors = result.errors | {name: NON_UTF8_NAME.format(name) for name in escaped.values()}
        table = by_file.reindex([escaped.get(p, p) for p in dict.fromkeys(paths)])
        table[ERROR_COLUMN] = [errors.get(p, "") for p in table.index]
        return table.reset_index(names="file")

    def _empty_predictions(self) -> pd.DataFrame:
        """The prediction columns with no rows."""
        if self.task == "regression":
            return pd.DataFrame(columns=self.labels["dimensions"], dtype=float)
        columns = ["prediction"]
        if _has_proba(self.estimator):
            columns += [f"p_{label}" for label in self.labels["classes"]]
        return pd.DataFrame(columns=columns)

    def with_domain(self, name: str, normaliser: DomainNormaliser, adaptation: dict) -> Model:
        """A copy whose target domain is ``name``, with the statistics of ``normaliser``
        (fitted on that domain) added, and ``adaptation`` noted in ``training``."""
        if self.normaliser is None:
            raise ValueError("the model uses no normalisation; there is nothing to adapt")
        merged = copy.copy(self.normaliser)
        merged.stats_ = {**self.normaliser.stats_, name: normaliser.stats_[name]}
        training = {**self.training}
        training["adaptations"] = [*training.get("adaptations", []), adaptation]
        return replace(
            self,
            normaliser=merged,
            normalisation={**self.normalisation, "target_domain": name},
            training=training,
        )


def _finite(outputs: np.ndarray) -> np.ndarray:
    """``outputs``, unless some are NaN or infinite (damaged or altered weights)."""
    bad = ~np.isfinite(outputs)
    if bad.any():
        raise ValueError(
            f"the model gives NaN or infinite outputs for {int(bad.any(axis=-1).sum())} of "
            f"{len(outputs)} input(s); its weights are damaged or altered: train it again"
        )
    return outputs


REPR_WIDTH = 100
"""The widest line of a :class:`Model`'s summary."""


def _listed(names: list, shown: int = 6) -> str:
    """The first ``shown`` names, then ``...`` when there are more."""
    return ", ".join(str(name) for name in names[:shown]) + (", ..." if len(names) > shown else "")


def _clipped(line: str) -> str:
    return line if len(line) <= REPR_WIDTH else line[: REPR_WIDTH - 3] + "..."


def _has_proba(estimator: BaseEstimator) -> bool:
    try:
        return callable(estimator.predict_proba) and getattr(estimator, "probability", True)
    except AttributeError:
        return False


def _as_inputs(values: object, frame_level: bool) -> object:
    if not frame_level:
        return np.asarray(values, dtype=np.float32)
    out = np.empty(len(values), dtype=object)
    for i, a in enumerate(values):
        out[i] = np.asarray(a, dtype=np.float32)
    return out


def load(
    path: str | os.PathLike,
    *,
    feature_set: str | None = None,
    device: str | None = "auto",
    strict: bool = True,
    ssl_model: str | os.PathLike | None = None,
) -> Model:
    """The model saved at ``path``, after checking every file and setting.

    Args:
        feature_set: raise unless the model reads this feature set.
        device: where the networks, and the checkpoint of a model on SSL features, run
            (``"auto"``: a GPU when torch sees one).
        strict: the installed feature extractor must equal the saved one (openSMILE
            version, sample rate, ...); ``False`` accepts differences that keep the
            feature columns.
        ssl_model: for a model on SSL features, the folder of its checkpoint here (by
            default the place it was trained at); one with other weights is refused.

    Raises:
        BundleError: naming the file, when a file is missing, truncated or altered, the
            format version is newer than this emoshift reads, or the features differ.
    """
    folder = Path(path)
    manifest, arrays = read_bundle(folder)
    where = str(folder / MANIFEST)
    mf.check_format(manifest, where)
    mf.check_sections(manifest, where)
    mf.locate_checkpoint(manifest["features"], where, ssl_model)
    check_labels(manifest, where)
    check_finite(arrays, str(folder))
    mf.check_features(manifest["features"], where, requested=feature_set, strict=strict)
    mf.check_libraries(manifest, where, strict=strict)
    method = manifest["method"]
    normalisation = dict(manifest["normalisation"])
    normaliser = None
    settings = normalisation.pop("settings", None)
    try:
        estimator = restore_estimator(
            method["name"],
            method["params"],
            method["state"],
            arrays.get("estimator", {}),
            device=device,
        )
        if settings is not None:
            normaliser = DomainNormaliser.from_state(settings, arrays["normalisation"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise BundleError(f"{where}: the saved model cannot be rebuilt: {error!r}") from None
    check_estimator_labels(estimator, manifest, where)
    return Model(
        estimator=estimator,
        method=method["name"],
        task=manifest["task"],
        labels=manifest["labels"],
        features=manifest["features"],
        normaliser=normaliser,
        normalisation=normalisation,
        training=manifest["training"],
        device=device,
    )
