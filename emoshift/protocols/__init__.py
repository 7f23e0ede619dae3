"""Evaluation protocols: which utterances train, tune and test, as positional indices.

Cross-corpus (train on one domain, test on another) needs no helper beyond
:func:`emoshift.data.table.select_domain`; the functions here cover the splits inside a
domain. See :mod:`emoshift.protocols.splits`.

Example:
    >>> folds = list(leave_one_speaker_out(["s1", "s2", "s1"]))
    >>> [speaker for _, _, speaker in folds]
    ['s1', 's2']
"""

from emoshift.protocols.splits import (
    TrainDevTest,
    TrainTest,
    few_shot_trials,
    leave_one_speaker_out,
    reduced_sample,
    speaker_split,
    target_split_10_40_50,
)

__all__ = [
    "TrainDevTest",
    "TrainTest",
    "few_shot_trials",
    "leave_one_speaker_out",
    "reduced_sample",
    "speaker_split",
    "target_split_10_40_50",
]
