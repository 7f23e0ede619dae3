"""Model selection without target labels: unsupervised scorers and a per-trial selector.

- :mod:`emoshift.selection.formulas`: each scorer's arithmetic on plain arrays.
- :mod:`emoshift.selection.scorers`: the scorers by name (:data:`SCORERS`: source
  development UAR, IWV, DEV, SND, circular validation, prediction entropy), each
  higher-is-better, reading only source development rows and unlabelled target rows.
- :mod:`emoshift.selection.grid`: :class:`GridSelector`, what the two selectors share.
- :mod:`emoshift.selection.selector`: :class:`UnsupervisedGridSelector`, a grid search
  inside one trial scored by one of them.
- :mod:`emoshift.selection.few_shot`: :class:`FewShotCVSelector`, a grid search by
  cross-validation on the k labelled target examples of a few-shot protocol (its
  ``source_weight=0`` point is ``label_target`` itself).
- :mod:`emoshift.selection.transfer_signals`: label-free signals of negative transfer
  (class balance of the target predictions, reverse validation with a linear reverse
  model, domain separability of the learned representation, agreement of two models).
- :mod:`emoshift.selection.guard`: :class:`NegativeTransferGuard`, any unsupervised
  method kept only where none of those signals, against a source-only model, rises past
  its margin (:func:`guard_decision`), else source-only.

Example:
    >>> from emoshift.selection import SCORERS, get_scorer
    >>> get_scorer("snd") is SCORERS["snd"]
    True
"""

from __future__ import annotations

from emoshift.selection.few_shot import FewShotCVSelector, few_shot_folds
from emoshift.selection.guard import GuardDecision, NegativeTransferGuard, guard_decision
from emoshift.selection.scorers import SCORERS, Scorer, SelectionData, get_scorer
from emoshift.selection.selector import UnsupervisedGridSelector

__all__ = [
    "SCORERS",
    "FewShotCVSelector",
    "GuardDecision",
    "NegativeTransferGuard",
    "Scorer",
    "SelectionData",
    "UnsupervisedGridSelector",
    "few_shot_folds",
    "get_scorer",
    "guard_decision",
]
