"""The protocols emoshift runs, one class each, and their registry :data:`PROTOCOLS`.

- ``cross_domain``: the target split in two (``target_test_fraction``, by speaker unless
  ``speaker_independent=False``); the training part is unlabelled target data, the other
  the test set. Each trial draws its own split.
- ``few_shot``: one split of the target (experiment seed) into a pool and a test set;
  trial ``t`` labels ``k`` pool examples per class (or ``k`` in all with
  ``k_counts="total"``), exclusive across trials unless ``exclusive=False``.
- ``target_cv``: ``n_folds``-fold cross-validation of the target (stratified folds of
  utterances, or of speakers with ``speaker_independent``); trial ``t`` tests fold
  ``t mod n_folds``, holds ``dev_fraction`` of the other folds out as a labelled
  development set and labels ``k`` examples (per class, or in all) of the rest.
- ``split_10_40_50``: the target cut into 10% labelled training, 40% labelled development
  (early stopping) and 50% test, by speaker or stratified by class; one cut per trial.
  Regression targets are not stratified (as in every protocol here).
- ``loso``: one target speaker is the test fold, the other target speakers are labelled
  training data; the source is labelled out-of-domain data.
- ``reduced``: ``loso`` with the labelled target training data cut to ``size`` (a
  count or a fraction, stratified); the test folds stay the same. The rest of the
  training fold is unlabelled target data unless ``unsampled_as_unlabelled=False``.
- ``partition``: a corpus's own partition: the target rows ``target_test`` selects are the
  test set, those ``target_unlabelled`` selects (default: the others) unlabelled target
  data; the same cut in every trial (e.g. MSP-Podcast's test set and unlabelled pool).
  With ``target_train``, the labelled rows it selects are the training set of the methods
  that read every target label (a within-corpus upper bound on the official train set).
- ``whole_target``: every target row is unlabelled training data and every target row is
  scored (transductive unsupervised adaptation, as Chao et al. 2019 evaluate MRD); no
  method may read a target label, so ``train_on_target`` is refused, unless
  ``label_folds`` makes it a speaker-independent cross-validation of the target whose
  folds' predictions together score every target row (the paper's upper bound).

Speaker splits make each utterance of unknown speaker a speaker of its own
(``unknown_speakers="own_group"``) or raise (``"raise"``).

Adding a protocol: subclass :class:`~emoshift.protocols.base.Protocol` here and list an
instance in :data:`PROTOCOLS`; configs, plans, runs and reports find it by name.

Example:
    >>> import numpy as np
    >>> target = Target(speakers=np.array(list("aabbccdd"), dtype=object),
    ...                 y=np.array(["x", "y"] * 4))
    >>> protocol = get_protocol("loso")
    >>> protocol.labelled_target, protocol.model_selection
    (True, 'the training folds')
    >>> draw = Draw(ProtocolSettings("loso"), Condition(fold="b"), trial=0, seed=0)
    >>> cut = protocol.split(target, draw)
    >>> cut.train.tolist(), cut.test.tolist()
    ([0, 1, 4, 5, 6, 7], [2, 3])
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from emoshift.protocols.base import (
    Condition,
    Draw,
    Protocol,
    ProtocolSettings,
    Target,
    TargetSplit,
)
from emoshift.protocols.splits import (
    TrainTest,
    few_shot_trials,
    partition_groups,
    reduced_sample,
    speaker_groups,
    speaker_split,
    target_split_10_40_50,
)


def _halves(target: Target, settings: ProtocolSettings, seed: int) -> TrainTest:
    """The target cut in a training and a test part (by speaker unless told otherwise)."""
    strata = target.strata()
    if settings.speaker_independent:
        table = pd.DataFrame({"speaker": target.speakers, "label": strata})
        label_column = None if strata is None else "label"
        return speaker_split(
            table,
            settings.target_test_fraction,
            seed,
            label_column=label_column,
            unknown_speakers=settings.unknown_speakers,
        )
    train, test = train_test_split(
        np.arange(len(target.y)),
        test_size=settings.target_test_fraction,
        random_state=seed,
        stratify=strata,
    )
    return TrainTest(np.sort(train), np.sort(test))


class CrossDomain(Protocol):
    """Unlabelled target training data; a fresh speaker split per trial."""

    name = "cross_domain"
    settings = ("target_test_fraction", "speaker_independent", "unknown_speakers")
    model_selection = "a source development split"

    def split(self, target: Target, draw: Draw) -> TargetSplit:
        train, test = _halves(target, draw.settings, draw.seed + draw.trial)
        return TargetSplit(train, test)


class _LabelsK(Protocol):
    """A protocol whose conditions are the counts ``k`` of labelled target examples."""

    tasks = ("classification",)
    labelled_target = True

    def conditions(
        self, settings: ProtocolSettings, folds: list[str] | None = None
    ) -> list[Condition]:
        return [Condition(k=k) for k in settings.k]


def _k_too_large(labels: np.ndarray, settings: ProtocolSettings, draws: int) -> int | None:
    """The first ``k`` whose ``draws`` draws need more of some class than ``labels`` hold."""
    classes, counts = np.unique(labels, return_counts=True)
    for k in settings.k:
        if counts.min() < _most_per_class(k, len(classes), settings) * draws:
            return k
    return None


class FewShot(_LabelsK):
    """``k`` labelled target examples per class from a fixed pool, per trial."""

    name = "few_shot"
    settings = (
        "k",
        "k_counts",
        "target_test_fraction",
        "speaker_independent",
        "exclusive",
        "unknown_speakers",
    )
    model_selection = (
        "labelled source data and the k labelled target examples; never target test data"
    )

    def check_target(
        self, target: Target, settings: ProtocolSettings, *, seed: int, n_trials: int
    ) -> None:
        pool = target.y[_halves(target, settings, seed).train]
        draws = n_trials if settings.exclusive else 1
        k = _k_too_large(pool, settings, draws)
        if k is None:
            return
        classes, counts = np.unique(pool, return_counts=True)
        per_class = ", ".join(f"{c}: {n}" for c, n in zip(classes.tolist(), counts.tolist()))
        needed = _most_per_class(k, len(classes), settings) * draws
        how = f"{n_trials} exclusive trials need" if settings.exclusive else "a trial needs"
        raise ValueError(
            f"k={k} is too large for the labelled target pool ({per_class} example(s) "
            f"per class): {how} {needed} per class. Lower k or the trials, set "
            "exclusive: false, or lower target_test_fraction"
        )

    def split(self, target: Target, draw: Draw) -> TargetSplit:
        k = draw.condition.k
        if k is None:
            raise ValueError("few_shot needs k (labelled target examples per class)")
        pool, test = _halves(target, draw.settings, draw.seed)
        settings = draw.settings
        chosen = few_shot_trials(
            target.y[pool],
            k,
            draw.n_trials,
            draw.seed,
            exclusive=settings.exclusive,
            k_counts=settings.k_counts,
        )
        return TargetSplit(pool, test, labelled=chosen[draw.trial])

    def deployment(
        self, target: Target, settings: ProtocolSettings, seed: int
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The largest ``k`` (per class or in all), drawn from every target row."""
        chosen = few_shot_trials(
            target.y,
            max(settings.k),
            1,
            seed,
            exclusive=settings.exclusive,
            k_counts=settings.k_counts,
        )
        return np.asarray(chosen[0]), None


def _most_per_class(k: int, n_classes: int, settings: ProtocolSettings) -> int:
    """The most examples of one class a draw of ``k`` takes (``settings.k_counts``)."""
    return k if settings.k_counts == "per_class" else -(-k // max(n_classes, 1))


class TargetCV(_LabelsK):
    """``n_folds``-fold cross-validation of the target with ``k`` labelled examples.

    Trial ``t`` tests fold ``t mod n_folds`` (so ``trials`` should be a multiple of
    ``n_folds``); the other folds, less a ``dev_fraction`` held out as a labelled
    development set (the same for every trial of a fold), are the target training rows,
    of which ``k`` examples (``k_counts``) are labelled, drawn anew per trial. Methods
    that read every target label (``train_on_target``) train on all training rows.
    Folds are stratified over utterances (speaker-dependent, the default here) or, with
    ``speaker_independent``, made of whole speakers.
    """

    name = "target_cv"
    settings = (
        "k",
        "k_counts",
        "n_folds",
        "dev_fraction",
        "speaker_independent",
        "unknown_speakers",
    )
    development_set = True
    model_selection = (
        "the labelled development part of the training folds and the k labelled examples; "
        "never the test fold"
    )

    def check_target(
        self, target: Target, settings: ProtocolSettings, *, seed: int, n_trials: int
    ) -> None:
        if n_trials < settings.n_folds:
            raise ValueError(
                f"target_cv tests fold t mod {settings.n_folds} in trial t: {n_trials} "
                f"trial(s) leave folds untested; set trials to a multiple of n_folds"
            )
        for fold in range(settings.n_folds):
            train, _ = self._fold(target, settings, seed, fold)
            k = _k_too_large(target.y[train], settings, draws=1)
            if k is not None:
                classes, counts = np.unique(target.y[train], return_counts=True)
                raise ValueError(
                    f"k={k} is too large for the training rows of fold {fold + 1} "
                    f"({dict(zip(classes.tolist(), counts.tolist()))}); lower k"
                )

    def _folds(self, target: Target, settings: ProtocolSettings, seed: int) -> list[np.ndarray]:
        """The target rows in ``n_folds`` stratified folds (of speakers, if asked)."""
        strata = target.y
        if settings.speaker_independent:
            speakers = _speaker_groups(target, settings)
            return partition_groups(
                speakers, strata, [1 / settings.n_folds] * settings.n_folds, seed
            )
        folds = StratifiedKFold(settings.n_folds, shuffle=True, random_state=seed)
        return [np.sort(test) for _, test in folds.split(strata, strata)]

    def _fold(
        self, target: Target, settings: ProtocolSettings, seed: int, fold: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Fold ``fold``'s training rows and development rows (``None`` if none)."""
        folds = self._folds(target, settings, seed)
        rest = np.sort(np.concatenate([f for i, f in enumerate(folds) if i != fold]))
        if settings.dev_fraction == 0:
            return rest, None
        train, dev = train_test_split(
            rest,
            test_size=settings.dev_fraction,
            random_state=seed + fold,
            stratify=target.y[rest],
        )
        return np.sort(train), np.sort(dev)

    def split(self, target: Target, draw: Draw) -> TargetSplit:
        settings = draw.settings
        if draw.condition.k is None:
            raise ValueError("target_cv needs k (labelled target examples)")
        fold = draw.trial % settings.n_folds
        test = self._folds(target, settings, draw.seed)[fold]
        train, dev = self._fold(target, settings, draw.seed, fold)
        labelled = few_shot_trials(
            target.y[train],
            draw.condition.k,
            1,
            draw.seed + draw.trial,
            exclusive=False,
            k_counts=settings.k_counts,
        )[0]
        return TargetSplit(train, test, labelled=labelled, dev=dev)

    def deployment(
        self, target: Target, settings: ProtocolSettings, seed: int
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The largest ``k`` (per class or in all), drawn from every target row."""
        chosen = few_shot_trials(
            target.y, max(settings.k), 1, seed, exclusive=False, k_counts=settings.k_counts
        )
        return np.asarray(chosen[0]), None


class Split104050(Protocol):
    """10% labelled target training, 40% labelled development, 50% test, per trial."""

    name = "split_10_40_50"
    settings = (
        "repetitions",
        "speaker_independent",
        "unknown_speakers",
        "exclusive_runs",
        "dev_as_unlabelled",
    )
    labelled_target = True
    development_set = True
    model_selection = "the 40% labelled target development split"

    def n_trials(self, settings: ProtocolSettings, trials: int) -> int:
        return settings.repetitions or trials

    def _strata_speakers(
        self, target: Target, settings: ProtocolSettings
    ) -> tuple[np.ndarray, np.ndarray | None]:
        strata = target.strata()
        if strata is None:  # regression: one stratum, the cut is by size only
            strata = np.full(len(target.y), "all", dtype=object)
        speakers = _speaker_groups(target, settings) if settings.speaker_independent else None
        return strata, speakers

    def _parts(self, target: Target, settings: ProtocolSettings, seed: int) -> object:
        strata, speakers = self._strata_speakers(target, settings)
        return target_split_10_40_50(strata, seed, speakers=speakers)

    def deployment(
        self, target: Target, settings: ProtocolSettings, seed: int
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The 40% development part stays the early-stopping set; the rest is labelled."""
        parts = self._parts(target, settings, seed)
        return np.sort(np.concatenate([parts.train, parts.test])), np.sort(parts.dev)

    def split(self, target: Target, draw: Draw) -> TargetSplit:
        settings = draw.settings
        if settings.exclusive_runs:
            labelled, dev, test = _exclusive_run(*self._strata_speakers(target, settings), draw)
        else:
            labelled, dev, test = self._parts(target, settings, draw.seed + draw.trial)
        train = np.concatenate([labelled, dev]) if settings.dev_as_unlabelled else labelled
        return TargetSplit(train=train, test=test, labelled=np.arange(len(labelled)), dev=dev)


def _speaker_groups(target: Target, settings: ProtocolSettings) -> np.ndarray:
    """The target speakers as text, unknown ones as ``settings.unknown_speakers`` says."""
    groups = speaker_groups(target.speakers, "target speakers", settings.unknown_speakers)
    return pd.Series(groups, dtype=object).astype(str).to_numpy()


def _exclusive_run(
    strata: np.ndarray, speakers: np.ndarray | None, draw: Draw
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run ``draw.trial`` of exclusive 10/40/50 runs: one 50 % test cut (experiment seed)
    and the other half in ``n_trials`` disjoint folds (stratified, or by speaker); the
    run labels its fold and develops on the others. Five runs give 10 / 40 / 50 %."""
    n_runs = draw.n_trials
    if n_runs < 2:
        raise ValueError("exclusive_runs needs at least 2 runs (repetitions)")
    rows = np.arange(len(strata))
    if speakers is None:
        rest, test = train_test_split(rows, test_size=0.5, random_state=draw.seed, stratify=strata)
        folds = StratifiedKFold(n_runs, shuffle=True, random_state=draw.seed)
        parts = [rest[fold] for _, fold in folds.split(rest, strata[rest])]
    else:
        rest, test = speaker_split(
            pd.DataFrame({"speaker": speakers, "label": strata}),
            0.5,
            draw.seed,
            label_column="label",
        )
        groups = partition_groups(speakers[rest], strata[rest], [1 / n_runs] * n_runs, draw.seed)
        parts = [rest[fold] for fold in groups]
    labelled = np.sort(parts[draw.trial])
    dev = np.sort(np.concatenate([p for i, p in enumerate(parts) if i != draw.trial]))
    return labelled, dev, np.sort(test)


class LeaveOneSpeakerOut(Protocol):
    """Each target speaker is a test fold; the other target speakers are labelled."""

    name = "loso"
    settings: tuple[str, ...] = ()
    labelled_target = True
    uses_folds = True
    model_selection = "the training folds"

    def n_trials(self, settings: ProtocolSettings, trials: int) -> int:
        return 1

    def fold_sizes(self, settings: ProtocolSettings) -> list[float | None]:
        """The ``size`` of each fold's conditions (``None``: the whole fold)."""
        return [None]

    def conditions(
        self, settings: ProtocolSettings, folds: list[str] | None = None
    ) -> list[Condition]:
        if folds is None:
            raise ValueError(f"protocol {self.name} needs the target speakers (its folds)")
        return [Condition(size=s, fold=f) for s in self.fold_sizes(settings) for f in folds]

    def split(self, target: Target, draw: Draw) -> TargetSplit:
        fold = draw.condition.fold
        if fold is None:
            raise ValueError(f"{self.name} needs fold (the test speaker)")
        speakers = target.speaker_names()
        if fold not in set(speakers):
            raise ValueError(f"fold {fold!r} is not a target speaker")
        train = np.flatnonzero(speakers != fold)
        test = np.flatnonzero(speakers == fold)
        return TargetSplit(train, test, labelled=self._labelled(target, train, draw))

    def _labelled(self, target: Target, train: np.ndarray, draw: Draw) -> np.ndarray:
        """Positions into ``train`` of the labelled examples: all of them."""
        return np.arange(len(train))


class Reduced(LeaveOneSpeakerOut):
    """LOSO with the labelled training fold cut to ``size`` (a count or a fraction),
    stratified."""

    name = "reduced"
    settings = ("sizes", "unsampled_as_unlabelled")

    def split(self, target: Target, draw: Draw) -> TargetSplit:
        cut = super().split(target, draw)
        if draw.settings.unsampled_as_unlabelled or cut.labelled is None:
            return cut
        return TargetSplit(cut.train[cut.labelled], cut.test, np.arange(len(cut.labelled)))

    def fold_sizes(self, settings: ProtocolSettings) -> list[float | None]:
        return list(settings.sizes)

    def deployment(
        self, target: Target, settings: ProtocolSettings, seed: int
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The largest ``size`` of every target row, stratified."""
        everything = np.arange(len(target.y))
        labels = target.y if target.classification else None
        return reduced_sample(everything, labels, max(settings.sizes), seed), None

    def _labelled(self, target: Target, train: np.ndarray, draw: Draw) -> np.ndarray:
        """A stratified sample of ``size`` of the training fold (one per trial seed)."""
        size = draw.condition.size
        if size is None:
            raise ValueError("reduced needs size (a count or a fraction of the training fold)")
        labels = target.y[train] if target.classification else None
        return reduced_sample(np.arange(len(train)), labels, size, draw.seed + draw.trial)


class Partition(Protocol):
    """A corpus's own partition: test set and unlabelled pool named by queries."""

    name = "partition"
    settings = ("target_test", "target_unlabelled", "target_train")
    unlabelled_pool = True
    model_selection = "a source development split"

    def check_target(
        self, target: Target, settings: ProtocolSettings, *, seed: int, n_trials: int
    ) -> None:
        self.split(target, Draw(settings, Condition(), 0, seed, n_trials))

    def deployment(
        self, target: Target, settings: ProtocolSettings, seed: int
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        return None, None  # the target rows are unlabelled training data

    def split(self, target: Target, draw: Draw) -> TargetSplit:
        test = np.flatnonzero(target.selection("target_test") & target.labelled())
        if draw.settings.target_unlabelled is None:
            train = np.setdiff1d(np.arange(len(target.y)), test)
        else:
            train = np.flatnonzero(target.selection("target_unlabelled"))
        overlap = np.intersect1d(train, test)
        if len(test) == 0 or len(train) == 0 or len(overlap):
            raise ValueError(
                f"partition: target_test selects {len(test)} labelled target row(s) and "
                f"target_unlabelled {len(train)}, {len(overlap)} of them in both; each must "
                "select some target rows and none in common"
            )
        if draw.settings.target_train is None:
            return TargetSplit(train, test)
        labelled = np.flatnonzero(target.selection("target_train") & target.labelled())
        if len(labelled) == 0 or len(np.intersect1d(labelled, test)):
            raise ValueError(
                f"partition: target_train selects {len(labelled)} labelled target row(s), "
                f"{len(np.intersect1d(labelled, test))} of them in the test set; it must "
                "select labelled rows outside the test set"
            )
        return TargetSplit(train, test, labelled_train=labelled)


class WholeTarget(Protocol):
    """Every target row unlabelled for training and scored for testing (transductive).

    With ``label_folds``, the target speakers are also cut into that many folds
    (balancing classes, a new cut per trial) for the methods that read every target label:
    each fold is predicted by a model trained on the others.
    """

    name = "whole_target"
    settings: tuple[str, ...] = ("label_folds", "unknown_speakers")
    transductive = True
    model_selection = (
        "a source development split (the cross-validated upper bound: its training folds)"
    )

    def check_target(
        self, target: Target, settings: ProtocolSettings, *, seed: int, n_trials: int
    ) -> None:
        if settings.label_folds is None:
            return
        speakers = len(set(_speaker_groups(target, settings).tolist()))
        if speakers < settings.label_folds:
            raise ValueError(
                f"label_folds: {settings.label_folds} speaker folds need as many target "
                f"speakers; the target has {speakers}; lower label_folds"
            )

    def split(self, target: Target, draw: Draw) -> TargetSplit:
        everything = np.arange(len(target.y))
        n_folds = draw.settings.label_folds
        if n_folds is None:
            return TargetSplit(train=everything, test=everything.copy())
        folds = partition_groups(
            _speaker_groups(target, draw.settings),
            target.strata(),
            [1 / n_folds] * n_folds,
            draw.seed + draw.trial,
        )
        label_folds = np.empty(len(everything), dtype=int)
        for fold, rows in enumerate(folds):
            label_folds[rows] = fold
        return TargetSplit(train=everything, test=everything.copy(), label_folds=label_folds)


PROTOCOLS: dict[str, Protocol] = {
    protocol.name: protocol
    for protocol in (
        CrossDomain(),
        FewShot(),
        TargetCV(),
        Split104050(),
        LeaveOneSpeakerOut(),
        Reduced(),
        Partition(),
        WholeTarget(),
    )
}
"""Every protocol by name."""


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; ``ValueError`` names the nearest known one.

    Example:
        >>> get_protocol("split_10_40_50").development_set
        True
    """
    if name not in PROTOCOLS:
        close = difflib.get_close_matches(name, PROTOCOLS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown protocol {name!r}{hint} Known: {list(PROTOCOLS)}")
    return PROTOCOLS[name]
