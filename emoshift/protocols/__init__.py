"""Evaluation protocols: which utterances train, tune and test, as positional indices.

Each protocol is an object (:mod:`emoshift.protocols.catalog`, found by name with
:func:`get_protocol`) that knows its settings, conditions, trials, how it cuts the
target and what model selection may see. The cuts are built from the split helpers of
:mod:`emoshift.protocols.splits`, which work on any labels and speakers.

Example:
    >>> folds = list(leave_one_speaker_out(["s1", "s2", "s1"]))
    >>> [speaker for _, _, speaker in folds]
    ['s1', 's2']
"""

from emoshift.protocols.base import Condition, Draw, Protocol, ProtocolSettings, Target, TargetSplit
from emoshift.protocols.catalog import PROTOCOLS, get_protocol
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
    "PROTOCOLS",
    "Condition",
    "Draw",
    "Protocol",
    "ProtocolSettings",
    "Target",
    "TargetSplit",
    "get_protocol",
    "TrainDevTest",
    "TrainTest",
    "few_shot_trials",
    "leave_one_speaker_out",
    "reduced_sample",
    "speaker_split",
    "target_split_10_40_50",
]
