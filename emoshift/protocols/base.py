"""What every protocol object shares: its settings, its conditions, its cut of the target.

A protocol decides which target utterances a method may see, with or without labels,
and which it is scored on. :class:`Protocol` is the interface; the protocols themselves
and their registry are in :mod:`emoshift.protocols.catalog`.

Example:
    >>> target = Target(speakers=np.array(list("aabb"), dtype=object),
    ...                 y=np.array(["x", "y", "x", "y"]))
    >>> target.classification, target.strata().tolist()
    (True, ['x', 'y', 'x', 'y'])
    >>> Condition(k=4).text(), Condition(size=0.5, fold="s1").text()
    ('k=4', 'size=0.5 fold=s1')
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd


@dataclass
class ProtocolSettings:
    """The ``protocol:`` block of an experiment config; each protocol reads some fields.

    Attributes:
        name: the protocol (a name of :data:`emoshift.protocols.PROTOCOLS`).
        target_test_fraction: share of the target held out as the test set, in (0, 1).
        k: labelled target examples per class, one condition each (``few_shot``).
        sizes: of the labelled training fold (``reduced``), each a count (an int, e.g.
            ``50``) or a fraction in (0, 1] (a float: write ``1.0`` for the whole fold).
        repetitions: trials of ``split_10_40_50`` (default: the config's ``trials``).
        speaker_independent: cut the target by speaker (else by utterance, stratified).
        exclusive: few-shot trials never share a labelled example.
        unknown_speakers: utterances of unknown speaker (a missing ``speaker``, such as
            MSP-Podcast's ``Unknown``) in a speaker split: ``"own_group"`` (each one a
            speaker of its own) or ``"raise"``.
        exclusive_runs: ``split_10_40_50`` cuts the 50 % test set once and the other half
            into ``repetitions`` disjoint labelled folds (10 % each for 5 runs); run ``r``
            labels fold ``r`` and develops on the others. Else every run cuts anew.
        dev_as_unlabelled: ``split_10_40_50`` gives the development rows to ``fit`` as
            unlabelled target data too (else only the labelled 10 % are target data).
        target_test: ``partition``: query of the target rows that form the test set
            (e.g. ``"partition == 'Test1'"``, a corpus's official test set).
        target_unlabelled: ``partition``: query of the target rows given as unlabelled
            target data (e.g. ``"partition == 'unlabelled'"``); default: every target row
            outside the test set. Rows it selects are kept without labels (regression).
        k_counts: what ``k`` counts (``few_shot``, ``target_cv``): ``"per_class"``
            (default) or ``"total"`` (``k`` examples in all, shared evenly by the classes).
        n_folds: folds of the target cross-validation (``target_cv``).
        dev_fraction: share of the training folds held out, labelled, as the development
            set for early stopping (``target_cv``); 0 holds none out.
        unsampled_as_unlabelled: ``reduced`` gives the training-fold rows outside the
            sample to ``fit`` as unlabelled target data (else the sample is all the
            target training data there is).
        target_train: ``partition``: query of labelled target rows that only methods
            reading every target label (``train_on_target``, the within-corpus upper
            bound) train on, e.g. ``"partition == 'Train'"``; the other methods never see
            them. Unset: those methods cannot run under ``partition``.
        label_folds: ``whole_target``: the methods that read every target label (the
            within-corpus upper bound) run as a speaker-independent cross-validation of
            the target in ``label_folds`` folds, each fold's rows predicted by a model
            trained on the other folds' labels, so every target row is scored by a model
            that never saw its speaker. Unset: those methods cannot run there.
    """

    name: str = "cross_domain"
    target_test_fraction: float = 0.5
    k: list[int] = field(default_factory=lambda: [2, 4, 6, 8, 10, 12])
    sizes: list[int | float] = field(default_factory=lambda: [0.25, 0.5, 1.0])
    repetitions: int | None = None
    speaker_independent: bool = True
    exclusive: bool = True
    unknown_speakers: str = "own_group"
    exclusive_runs: bool = False
    dev_as_unlabelled: bool = True
    target_test: str | None = None
    target_unlabelled: str | None = None
    k_counts: str = "per_class"
    n_folds: int = 5
    dev_fraction: float = 0.1
    unsampled_as_unlabelled: bool = True
    target_train: str | None = None
    label_folds: int | None = None

    def check(self) -> None:
        """Raise ``ValueError`` naming the first field whose value is out of range.

        Example:
            >>> ProtocolSettings(k=[2, 0]).check()
            Traceback (most recent call last):
            ...
            ValueError: k: 0 is not a positive count of labelled examples per class
        """
        if not 0 < self.target_test_fraction < 1:
            raise ValueError(
                f"target_test_fraction: {self.target_test_fraction} is not a fraction "
                "strictly between 0 and 1 (0.5 holds half the target out for testing)"
            )
        for k in self.k:
            if k < 1:
                raise ValueError(f"k: {k} is not a positive count of labelled examples per class")
        for size in self.sizes:
            if isinstance(size, int) and size < 1:
                raise ValueError(f"sizes: {size} is not a positive count of training examples")
            if isinstance(size, float) and not 0 < size <= 1:
                raise ValueError(
                    f"sizes: {size} is not a fraction in (0, 1] of the labelled training fold "
                    "(write a count as a whole number, e.g. 50)"
                )
        if self.unknown_speakers not in ("own_group", "raise"):
            raise ValueError(
                f"unknown_speakers: {self.unknown_speakers!r} is not 'own_group' or 'raise'"
            )
        if self.repetitions is not None and self.repetitions < 1:
            raise ValueError(f"repetitions: {self.repetitions} must be at least 1")
        if self.k_counts not in ("per_class", "total"):
            raise ValueError(f"k_counts: {self.k_counts!r} is not 'per_class' or 'total'")
        if self.n_folds < 2:
            raise ValueError(f"n_folds: {self.n_folds} must be at least 2 (5 is usual)")
        if self.label_folds is not None and self.label_folds < 2:
            raise ValueError(f"label_folds: {self.label_folds} must be at least 2 (5 is usual)")
        if not 0 <= self.dev_fraction < 1:
            raise ValueError(
                f"dev_fraction: {self.dev_fraction} is not a fraction in [0, 1) of the "
                "training folds (0.1 holds a tenth out for early stopping)"
            )


@dataclass(frozen=True)
class Condition:
    """One cell of a protocol's grid: ``k`` (few-shot), ``size`` and ``fold`` (LOSO)."""

    k: int | None = None
    size: int | float | None = None
    fold: str | None = None

    def text(self) -> str:
        """The set fields as ``name=value``, for progress lines and dry runs."""
        values = dataclasses.asdict(self)
        return " ".join(f"{name}={value}" for name, value in values.items() if value is not None)


@dataclass(frozen=True)
class Draw:
    """One trial's coordinates: what its cut depends on besides the target data.

    Attributes:
        settings: the protocol block of the config.
        condition: the cell of the grid (``k``, ``size``, ``fold``).
        trial: the trial index, ``0 .. n_trials - 1``.
        seed: the experiment seed.
        n_trials: trials per condition (exclusive few-shot draws share one pool).
    """

    settings: ProtocolSettings
    condition: Condition
    trial: int
    seed: int
    n_trials: int = 1


@dataclass(frozen=True)
class Target:
    """The target rows a protocol cuts: each row's speaker and label (or targets), and
    which rows each query setting selects (``selected``: setting name -> boolean mask,
    evaluated by the experiment, for protocols that cut by query)."""

    speakers: np.ndarray
    y: np.ndarray
    selected: dict[str, np.ndarray] = field(default_factory=dict)

    def selection(self, setting: str) -> np.ndarray:
        """The rows the query of ``setting`` selects; ``ValueError`` if it was not given."""
        if setting not in self.selected:
            raise ValueError(f"{setting} is not set: name the target rows it selects by a query")
        return np.asarray(self.selected[setting], dtype=bool)

    @property
    def classification(self) -> bool:
        """Whether ``y`` holds class labels (else regression targets, one row each)."""
        return self.y.dtype.kind in "OUS"

    def strata(self) -> np.ndarray | None:
        """What stratified cuts balance: the labels, or nothing for regression targets."""
        return self.y if self.classification else None

    def speaker_names(self) -> np.ndarray:
        """The speakers as text (folds are named by them); unknown ones read ``<unknown>``."""
        names = pd.Series(self.speakers, dtype=object)
        return names.map(lambda s: "<unknown>" if pd.isna(s) else str(s)).to_numpy(dtype=object)

    def labelled(self) -> np.ndarray:
        """Whether each row has its label (regression rows kept unlabelled have NaN)."""
        if self.classification:
            return np.ones(len(self.y), dtype=bool)
        return np.isfinite(np.asarray(self.y, dtype=float)).reshape(len(self.y), -1).all(1)


@dataclass(frozen=True)
class TargetSplit:
    """One trial's cut, as positions into the target rows.

    Attributes:
        train: the target training rows (``X_target``), unlabelled unless listed below.
        test: the target test rows, for scoring only.
        labelled: positions into ``train`` of the labelled examples, or ``None``.
        dev: target rows of a labelled development set (early stopping), or ``None``.
        labelled_train: target rows that methods reading every target label train on
            instead of ``train`` (``partition`` with ``target_train``), or ``None``.
        label_folds: the cross-validation fold of each ``train`` row (which are also the
            ``test`` rows) for the methods reading every target label (``whole_target``
            with ``label_folds``), or ``None``.
    """

    train: np.ndarray
    test: np.ndarray
    labelled: np.ndarray | None = None
    dev: np.ndarray | None = None
    labelled_train: np.ndarray | None = None
    label_folds: np.ndarray | None = None


class Protocol(ABC):
    """An evaluation protocol: its settings, conditions, trials, cut and model selection.

    Class attributes:
        name: the registry name used in configs and results.
        settings: the :class:`ProtocolSettings` fields it reads (besides ``name``).
        tasks: the tasks it can cut for.
        labelled_target: whether ``fit`` gets labelled target examples.
        development_set: whether ``fit`` gets a labelled target development set.
        uses_folds: whether its conditions are the target speakers (one fold each).
        unlabelled_pool: whether its target training rows may have no labels (methods
            that read every target label, such as ``train_on_target``, cannot run).
        transductive: whether its test rows are also its unlabelled target training rows
            (methods that read every target training label would learn the test labels,
            so they run only cross-validated, with ``label_folds``).
        model_selection: what model selection (early stopping, hyper-parameters) may see,
            completing the sentence "Model selection used only ...".
    """

    name: ClassVar[str]
    settings: ClassVar[tuple[str, ...]]
    tasks: ClassVar[tuple[str, ...]] = ("classification", "regression")
    labelled_target: ClassVar[bool] = False
    development_set: ClassVar[bool] = False
    uses_folds: ClassVar[bool] = False
    unlabelled_pool: ClassVar[bool] = False
    transductive: ClassVar[bool] = False
    model_selection: ClassVar[str]

    def conditions(
        self, settings: ProtocolSettings, folds: list[str] | None = None
    ) -> list[Condition]:
        """The cells of the grid; ``folds`` are the target speakers when it uses folds."""
        return [Condition()]

    def n_trials(self, settings: ProtocolSettings, trials: int) -> int:
        """Trials per condition, given the config's ``trials``."""
        return trials

    def check_target(
        self, target: Target, settings: ProtocolSettings, *, seed: int, n_trials: int
    ) -> None:
        """Raise ``ValueError`` when the target data cannot give every trial its cut.

        By default nothing is checked ahead: the cut itself raises when it cannot be made.
        """
        return None

    @abstractmethod
    def split(self, target: Target, draw: Draw) -> TargetSplit:
        """The cut of the trial that ``draw`` names."""

    def deployment(
        self, target: Target, settings: ProtocolSettings, seed: int
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(labelled, dev)`` for a model that ships (``emoshift train``): no test rows.

        Positions into the target rows of the labelled examples the protocol allows (or
        ``None``) and of its development set (or ``None``). By default a protocol that
        gives no target labels gives none here either, and one that does labels every
        target row (the leave-one-speaker-out protocols with no fold held out).
        """
        if not self.labelled_target:
            return None, None
        return np.arange(len(target.y)), None

    def __repr__(self) -> str:
        return f"<protocol {self.name}>"
