"""Evaluation protocols as index arrays: speaker splits, few-shot trials, 10/40/50, LOSO.

Every function returns *positional* indices (use ``table.iloc[idx]`` or ``X[idx]``),
sorted ascending, and is deterministic from its ``seed``: repeat a protocol by calling
it with seeds ``0 .. N-1``.

Example:
    >>> labels = ["anger", "neutral"] * 10
    >>> trials = few_shot_trials(labels, k=2, n_trials=3, seed=0)
    >>> [len(t) for t in trials]
    [4, 4, 4]
    >>> split = target_split_10_40_50(labels, seed=0)
    >>> [len(part) for part in split]
    [2, 8, 10]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

N_CANDIDATES = 256
"""Random speaker orders tried by the speaker-independent splits; the best one is kept."""


class TrainTest(NamedTuple):
    """Positional indices of a train/test split."""

    train: np.ndarray
    test: np.ndarray


class TrainDevTest(NamedTuple):
    """Positional indices of a train/dev/test split."""

    train: np.ndarray
    dev: np.ndarray
    test: np.ndarray


def _values(values: object, name: str) -> np.ndarray:
    if isinstance(values, pd.Series | pd.Index):
        values = values.to_numpy()
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per utterance), got shape {array.shape}")
    array = array.copy()
    array[pd.isna(array)] = None  # pd.NA cannot be compared; None compares unequal
    return array


def _complete(values: object, name: str) -> np.ndarray:
    array = _values(values, name)
    missing = pd.isna(array)
    if missing.any():
        raise ValueError(
            f"{name} has {int(missing.sum())} missing value(s) (first at position "
            f"{int(np.flatnonzero(missing)[0])}); drop those utterances or fill them in"
        )
    return array


UNKNOWN_SPEAKERS = ("own_group", "raise")
"""What speaker splits do with utterances of unknown speaker (a missing value, e.g.
MSP-Podcast's ``Unknown``): each becomes a group of its own, or the split raises."""


def speaker_groups(values: object, name: str, unknown: str) -> np.ndarray:
    """Speaker groups, each utterance of unknown speaker its own group (``own_group``).

    Example:
        >>> speaker_groups(["a", None, "a"], "speakers", "own_group").tolist()
        ['a', '<unknown speaker at 1>', 'a']
    """
    if unknown not in UNKNOWN_SPEAKERS:
        raise ValueError(f"unknown_speakers={unknown!r}; choose one of {UNKNOWN_SPEAKERS}")
    if unknown == "raise":
        return _complete(values, name)
    array = _values(values, name)
    for position in np.flatnonzero(pd.isna(array)):
        array[position] = f"<unknown speaker at {position}>"
    return array


def _indices(indices: object, n: int | None, name: str) -> np.ndarray:
    """Validated integer positions; ``n`` (the labels' length) bounds them when given."""
    array = np.asarray(indices)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-D array of integer positions, got {array.dtype}")
    array = array.astype(int)
    if array.size and array.min() < 0:
        raise ValueError(f"{name} holds negative positions; pass positions 0, 1, 2, ...")
    if array.size and n is not None and array.max() >= n:
        raise ValueError(f"{name} holds positions beyond {n - 1}, the last of the labels")
    if len(np.unique(array)) != len(array):
        raise ValueError(f"{name} holds duplicate positions; list each utterance once")
    return array


def _sorted_unique(values: np.ndarray) -> list[object]:
    return sorted(set(values.tolist()), key=lambda v: (str(type(v)), v))


def _codes(values: np.ndarray, names: Sequence[object]) -> np.ndarray:
    """The position of each value in ``names``, as an integer array."""
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[v] for v in values.tolist()], dtype=int)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    return int(seed)


def partition_groups(
    groups: np.ndarray, labels: np.ndarray | None, fractions: Sequence[float], seed: int
) -> list[np.ndarray]:
    """Assign whole groups (speakers) to parts sized like ``fractions``, balancing labels.

    Tries :data:`N_CANDIDATES` random group orders, cuts each where the cumulative share of
    utterances is closest to the target (every part gets at least one group), and keeps
    the candidate that first misses the fewest (part, class) pairs and then deviates least
    from the target shares, overall and per class.
    """
    names = _sorted_unique(groups)
    n_parts = len(fractions)
    if len(names) < n_parts:
        raise ValueError(
            f"a speaker-independent split into {n_parts} parts needs at least {n_parts} "
            f"speakers; found {len(names)} ({names})"
        )
    group_of = _codes(groups, names)
    sizes = np.bincount(group_of, minlength=len(names)).astype(float)
    if labels is None:
        class_counts = np.zeros((len(names), 0))
    else:
        known = np.array([v is not None for v in labels.tolist()], dtype=bool)
        classes = _sorted_unique(labels[known])
        class_of = _codes(labels[known], classes)
        class_counts = np.zeros((len(names), len(classes)))
        np.add.at(class_counts, (group_of[known], class_of), 1)
    targets = np.asarray(fractions, dtype=float)
    boundaries = np.cumsum(targets)[:-1]
    rng = np.random.default_rng(seed)

    def candidate() -> tuple[tuple[int, float], np.ndarray]:
        order = rng.permutation(len(names))
        shares = np.cumsum(sizes[order]) / sizes.sum()
        cuts: list[int] = []
        for j, boundary in enumerate(boundaries):
            low = (cuts[-1] if cuts else 0) + 1
            high = len(names) - (n_parts - 1 - j)
            options = np.arange(low, high + 1)
            cuts.append(int(options[np.argmin(np.abs(shares[options - 1] - boundary))]))
        part = np.empty(len(names), dtype=int)
        for p, chunk in enumerate(np.split(order, cuts)):
            part[chunk] = p
        per_part = np.zeros((n_parts, class_counts.shape[1]))
        np.add.at(per_part, part, class_counts)
        part_sizes = np.bincount(part, weights=sizes, minlength=n_parts)
        deviation = np.abs(part_sizes / sizes.sum() - targets).sum()
        if class_counts.shape[1]:
            class_shares = per_part / per_part.sum(axis=0, keepdims=True)
            deviation += np.abs(class_shares - targets[:, None]).sum(axis=0).mean()
        return (int((per_part == 0).sum()), float(deviation)), part

    _, best = min((candidate() for _ in range(N_CANDIDATES)), key=lambda c: c[0])
    return [np.flatnonzero(best[group_of] == p) for p in range(n_parts)]


def speaker_split(
    table: pd.DataFrame,
    test_fraction: float = 0.5,
    seed: int = 0,
    *,
    speaker_column: str = "speaker",
    label_column: str | None = "emotion",
    unknown_speakers: str = "raise",
) -> TrainTest:
    """Speaker-independent train/test split of a corpus table.

    No speaker appears in both parts. About ``test_fraction`` of the utterances go to
    test; among the speaker assignments tried, the one that puts every class of
    ``label_column`` in both parts (when the speakers allow it) with the closest class
    proportions wins. ``label_column=None`` balances sizes only; missing labels are
    ignored for balancing. A missing speaker raises, or with
    ``unknown_speakers="own_group"`` makes that utterance a group of its own.

    Example:
        >>> table = pd.DataFrame({"speaker": list("aabbccdd"), "emotion": ["x", "y"] * 4})
        >>> train, test = speaker_split(table, seed=1)
        >>> sorted(set(table.speaker.iloc[train]) & set(table.speaker.iloc[test]))
        []
        >>> len(train), len(test)
        (4, 4)
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")
    for column in (speaker_column, label_column):
        if column is not None and column not in table:
            raise ValueError(
                f"table has no column {column!r}; columns are {list(table.columns)}. "
                "Pass speaker_column/label_column (label_column=None to skip balancing)"
            )
    speakers = speaker_groups(table[speaker_column], f"column {speaker_column!r}", unknown_speakers)
    labels = None if label_column is None else _values(table[label_column], label_column)
    train, test = partition_groups(
        speakers, labels, (1 - test_fraction, test_fraction), _check_seed(seed)
    )
    return TrainTest(train, test)


def few_shot_trials(
    labels: object,
    k: int,
    n_trials: int,
    seed: int,
    exclusive: bool = True,
    pool: object | None = None,
    *,
    classes: Sequence[object] | None = None,
    k_counts: str = "per_class",
) -> list[np.ndarray]:
    """``n_trials`` sets of ``k`` labelled examples per class, for few-shot adaptation.

    ``pool`` restricts the candidates to these positions (e.g. the target training part);
    ``classes`` restricts the classes (default: every label present in ``labels``).
    With ``exclusive=True`` no utterance is used by two trials, so each class needs
    ``k * n_trials`` examples in the pool; otherwise each trial draws independently.
    ``k_counts="total"`` makes ``k`` the size of each set instead, shared as evenly as
    the classes allow (:func:`class_shares`).

    Example:
        >>> trials = few_shot_trials(["a", "b", "a", "b", "a", "b"], k=1, n_trials=3, seed=0)
        >>> sorted(np.concatenate(trials).tolist())
        [0, 1, 2, 3, 4, 5]
        >>> [len(t) for t in few_shot_trials(list("aabbcc"), 4, 2, 0, False, k_counts="total")]
        [4, 4]
    """
    array = _values(labels, "labels")
    for name, value in (("k", k), ("n_trials", n_trials)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    candidates = np.arange(len(array)) if pool is None else _indices(pool, len(array), "pool")
    wanted = _sorted_unique(array[pd.notna(array)]) if classes is None else list(classes)
    if not wanted:
        raise ValueError("labels holds no class; few-shot trials need labelled utterances")
    rng = np.random.default_rng(_check_seed(seed))
    shares = [class_shares(k, len(wanted), k_counts, rng) for _ in range(n_trials)]
    needed = int(np.sum(shares, axis=0).max()) if exclusive else int(np.max(shares))
    per_class: list[np.ndarray] = []
    for label in wanted:
        members = candidates[array[candidates] == label]
        if len(members) < needed:
            where = "the pool" if pool is not None else "labels"
            how = f"{n_trials} exclusive trials of k={k}" if exclusive else f"k={k}"
            advice = "Lower k or n_trials, or pass exclusive=False" if exclusive else "Lower k"
            raise ValueError(
                f"class {label!r} has {len(members)} example(s) in {where}; {how} need "
                f"{needed}. {advice}, or drop the class"
            )
        per_class.append(rng.permutation(members))
    starts = np.cumsum([np.zeros(len(wanted), dtype=int), *shares], axis=0)
    trials = []
    for t, counts in enumerate(shares):
        chosen = [
            order[starts[t, c] : starts[t + 1, c]]
            if exclusive
            else rng.choice(order, counts[c], replace=False)
            for c, order in enumerate(per_class)
        ]
        trials.append(np.sort(np.concatenate(chosen)))
    return trials


#: what the ``k`` of a few-shot draw counts: examples of each class, or in all
K_COUNTS = ("per_class", "total")


def class_shares(k: int, n_classes: int, k_counts: str, rng: np.random.Generator) -> np.ndarray:
    """How many examples of each class one few-shot draw takes.

    ``"per_class"``: ``k`` of each. ``"total"``: ``k`` in all, ``k // n_classes`` of each
    and one more of ``k % n_classes`` classes picked at random (``rng``); every class
    needs at least one, so ``k`` must reach the number of classes.

    Example:
        >>> class_shares(6, 2, "total", np.random.default_rng(0)).tolist()
        [3, 3]
        >>> sorted(class_shares(5, 2, "total", np.random.default_rng(0)).tolist())
        [2, 3]
    """
    if k_counts not in K_COUNTS:
        raise ValueError(f"k_counts: {k_counts!r} is not one of {list(K_COUNTS)}")
    if k_counts == "per_class":
        return np.full(n_classes, k)
    if k < n_classes:
        raise ValueError(
            f"k={k} examples in total cannot give each of the {n_classes} classes one; "
            f"use k >= {n_classes} or k_counts: per_class"
        )
    shares = np.full(n_classes, k // n_classes)
    shares[rng.choice(n_classes, k % n_classes, replace=False)] += 1
    return shares


def _stratified_10_40_50(labels: np.ndarray, seed: int) -> TrainDevTest:
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in _sorted_unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n = len(members)
        if n < 3:
            raise ValueError(
                f"class {label!r} has {n} example(s); the 10/40/50 split needs at least 3 "
                "per class (one per part). Drop or merge the class"
            )
        n_train = max(1, int(np.floor(0.1 * n + 0.5)))
        n_dev = max(1, int(np.floor(0.5 * n + 0.5)) - n_train)
        for p, chunk in enumerate(np.split(members, [n_train, n_train + n_dev])):
            parts[p].append(chunk)
    return TrainDevTest(*(np.sort(np.concatenate(chunks)) for chunks in parts))


def target_split_10_40_50(
    labels: object, seed: int, speakers: object | None = None
) -> TrainDevTest:
    """The target-domain split: 10% labelled train, 40% dev, 50% test, stratified by label.

    Without ``speakers`` each class is split 10/40/50 on its own (rounded, with at least
    one example per part, so each class needs 3). With ``speakers`` the three parts are
    speaker-disjoint and the proportions hold as closely as whole speakers allow
    (at least 3 speakers). Repeat with seeds ``0 .. N-1``.

    Example:
        >>> labels = ["pos"] * 20 + ["neg"] * 30
        >>> train, dev, test = target_split_10_40_50(labels, seed=3)
        >>> len(train), len(dev), len(test)
        (5, 20, 25)
    """
    array = _complete(labels, "labels")
    seed = _check_seed(seed)
    if speakers is None:
        return _stratified_10_40_50(array, seed)
    groups = _complete(speakers, "speakers")
    if len(groups) != len(array):
        raise ValueError(
            f"speakers has {len(groups)} values but labels has {len(array)}; "
            "pass one speaker per utterance"
        )
    return TrainDevTest(*partition_groups(groups, array, (0.1, 0.4, 0.5), seed))


def leave_one_speaker_out(speakers: object) -> Iterator[tuple[np.ndarray, np.ndarray, object]]:
    """Leave-one-speaker-out folds: ``(train_idx, test_idx, speaker)`` per speaker, sorted.

    Example:
        >>> [(tr.tolist(), te.tolist(), s) for tr, te, s in leave_one_speaker_out(list("aba"))]
        [([1], [0, 2], 'a'), ([0, 2], [1], 'b')]
    """
    array = _complete(speakers, "speakers")
    names = _sorted_unique(array)
    if len(names) < 2:
        raise ValueError(f"leave-one-speaker-out needs at least 2 speakers, found {names}")

    codes = _codes(array, names)

    def folds() -> Iterator[tuple[np.ndarray, np.ndarray, object]]:
        for i, name in enumerate(names):
            yield np.flatnonzero(codes != i), np.flatnonzero(codes == i), name

    return folds()


def reduced_sample(
    train_idx: object, labels: object | None, size: int | float, seed: int
) -> np.ndarray:
    """A stratified subset of a training fold, for reduced-sample learning curves.

    ``size`` is a count (int, 1..len(train_idx)) or a fraction (float in (0, 1]).
    ``labels`` (indexed by position, like ``train_idx``) stratifies: each class keeps its
    share within one example, and every class is present once ``size`` reaches the
    number of classes; ``None`` samples uniformly. For one seed the samples are nested,
    a smaller one is a subset of a larger one. Test folds are left untouched.

    Example:
        >>> labels = np.array(["a"] * 6 + ["b"] * 3)
        >>> subset = reduced_sample(np.arange(9), labels, size=3, seed=0)
        >>> sorted(labels[subset].tolist())
        ['a', 'a', 'b']
    """
    if labels is None:
        train = _indices(train_idx, None, "train_idx")
        fold_labels = np.zeros(len(train), dtype=object)
    else:
        array = _values(labels, "labels")
        train = _indices(train_idx, len(array), "train_idx")
        fold_labels = _complete(array[train], "labels of train_idx")
    n = len(train)
    if n == 0:
        raise ValueError("train_idx is empty; there is nothing to sample from")
    if isinstance(size, bool) or not isinstance(size, int | float | np.integer | np.floating):
        raise ValueError(f"size must be a count (int) or a fraction (float), got {size!r}")
    if isinstance(size, int | np.integer):
        if not 1 <= size <= n:
            raise ValueError(f"size={size} must be between 1 and the fold size {n}")
        count = int(size)
    else:
        if not 0 < size <= 1:
            raise ValueError(f"fractional size={size} must be in (0, 1]")
        count = max(1, int(np.floor(size * n + 0.5)))
    rng = np.random.default_rng(_check_seed(seed))
    # Rank r within a class of n_c examples gets the key r / n_c, so any prefix of the
    # key order holds each class in proportion (and one of each class first).
    keys = np.empty(n)
    for label in _sorted_unique(fold_labels):
        members = rng.permutation(np.flatnonzero(fold_labels == label))
        keys[members] = np.arange(len(members)) / len(members)
    order = np.lexsort((rng.random(n), keys))
    return np.sort(train[order[:count]])
