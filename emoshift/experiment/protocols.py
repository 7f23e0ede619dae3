"""From a protocol and a trial's coordinates to the :class:`DomainSplit` it trains on.

The split of a trial depends only on the data, the pair, the protocol, its condition
(``k`` or ``size``), the trial index and the experiment seed: every method of a trial
sees the same split, so comparisons between methods are paired.

- ``cross_domain``: target speakers split in two (``target_test_fraction``); the
  training half is unlabelled target data, the other half the test set. Each trial
  draws its own speaker split.
- ``few_shot``: one speaker split of the target (seed of the experiment) into a pool and a
  test set; trial ``t`` labels ``k`` pool examples per class, exclusive across trials
  (``exclusive=False`` lets trials share examples when the pool is too small).

``speaker_independent=False`` splits target utterances (stratified by class) instead of
speakers, for corpora whose speakers each hold one emotion.
- ``split_10_40_50``: the target cut into 10% labelled training, 40% labelled development
  (used for early stopping) and 50% test, stratified; one cut per trial.
- ``loso``: one target speaker is the test fold (``fold``), the other target speakers are
  labelled training data; the source is labelled out-of-domain data.
- ``reduced``: ``loso`` with the labelled target training data cut to ``size`` (a count
  or a fraction), stratified; the test folds stay the same.

Example:
    >>> import numpy as np, pandas as pd
    >>> from sklearn.model_selection import train_test_split

from emoshift.experiment.data import ExperimentData
    >>> table = pd.DataFrame({"domain": ["s"] * 8 + ["t"] * 8,
    ...                       "speaker": list("aabbccdd") + list("eeffgghh"),
    ...                       "label": ["x", "y"] * 8})
    >>> data = ExperimentData(table, np.arange(32.0).reshape(16, 2), table.label.to_numpy())
    >>> split = make_split(data, "domain == 's'", "domain == 't'", "cross_domain",
    ...                    trial=0, seed=0)
    >>> len(split.X_source), len(split.X_target) + len(split.X_test)
    (8, 8)
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from emoshift.experiment.data import ExperimentData
from emoshift.experiment.trial import DomainSplit
from emoshift.protocols.splits import (
    few_shot_trials,
    reduced_sample,
    speaker_split,
    target_split_10_40_50,
)


def target_speakers(data: ExperimentData, target_query: str) -> list[str]:
    """The target speakers, sorted: the folds of ``loso`` and ``reduced``."""
    rows = data.rows(target_query)
    return sorted(data.table["speaker"].iloc[rows].astype(str).unique())


def _split(
    data: ExperimentData,
    source: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    labelled: np.ndarray | None = None,
    dev: np.ndarray | None = None,
) -> DomainSplit:
    return DomainSplit(
        X_source=data.X[source],
        y_source=data.y[source],
        X_target=data.X[train],
        y_target=data.y[train],
        X_test=data.X[test],
        y_test=data.y[test],
        labelled=labelled,
        X_dev=None if dev is None else data.X[dev],
        y_dev=None if dev is None else data.y[dev],
    )


def make_split(
    data: ExperimentData,
    source_query: str,
    target_query: str,
    protocol: str,
    *,
    trial: int,
    seed: int,
    n_trials: int = 1,
    target_test_fraction: float = 0.5,
    k: int | None = None,
    size: float | None = None,
    fold: str | None = None,
    speaker_independent: bool = True,
    exclusive: bool = True,
) -> DomainSplit:
    """The split that trial ``trial`` of ``protocol`` trains and tests on."""
    source = data.rows(source_query)
    target = data.rows(target_query)
    overlap = np.intersect1d(source, target)
    if len(overlap):
        raise ValueError(
            f"source query {source_query!r} and target query {target_query!r} share "
            f"{len(overlap)} rows; a domain pair must not overlap"
        )
    table = data.table.iloc[target]
    label_column = "label" if "label" in table else None
    classification = data.y.dtype.kind in "OUS"

    def halves(split_seed: int) -> tuple[np.ndarray, np.ndarray]:
        if speaker_independent:
            parts = speaker_split(
                table, target_test_fraction, split_seed, label_column=label_column
            )
            return target[parts.train], target[parts.test]
        stratify = data.y[target] if classification else None
        train, test = train_test_split(
            target, test_size=target_test_fraction, random_state=split_seed, stratify=stratify
        )
        return np.sort(train), np.sort(test)

    if protocol == "cross_domain":
        train, test = halves(seed + trial)
        return _split(data, source, train, test)
    if protocol == "few_shot":
        if k is None:
            raise ValueError("few_shot needs k (labelled target examples per class)")
        pool, test = halves(seed)
        chosen = few_shot_trials(data.y[pool], k, n_trials, seed, exclusive=exclusive)[trial]
        return _split(data, source, pool, test, labelled=chosen)
    if protocol == "split_10_40_50":
        speakers = table["speaker"].astype(str).to_numpy() if speaker_independent else None
        parts = target_split_10_40_50(data.y[target], seed + trial, speakers=speakers)
        train = target[np.concatenate([parts.train, parts.dev])]
        labelled = np.arange(len(parts.train))
        return _split(
            data, source, train, target[parts.test], labelled=labelled, dev=target[parts.dev]
        )
    if protocol in ("loso", "reduced"):
        if fold is None:
            raise ValueError(f"{protocol} needs fold (the test speaker)")
        speakers = table["speaker"].astype(str).to_numpy()
        if fold not in set(speakers):
            raise ValueError(f"fold {fold!r} is not a target speaker")
        train = target[speakers != fold]
        test = target[speakers == fold]
        labelled = np.arange(len(train))
        if protocol == "reduced":
            if size is None:
                raise ValueError("reduced needs size (a count or a fraction of the fold)")
            labels = data.y[train] if classification else None
            labelled = reduced_sample(labelled, labels, size, seed + trial)
        return _split(data, source, train, test, labelled=labelled)
    raise ValueError(f"unknown protocol {protocol!r}")
