"""Model selection without target labels: unsupervised scorers and a per-trial selector.

- :mod:`emoshift.selection.formulas`: each scorer's arithmetic on plain arrays.
- :mod:`emoshift.selection.scorers`: the scorers by name (:data:`SCORERS`: source
  development UAR, IWV, DEV, SND, circular validation, prediction entropy), each
  higher-is-better, reading only source development rows and unlabelled target rows.
- :mod:`emoshift.selection.selector`: :class:`UnsupervisedGridSelector`, a grid search
  inside one trial scored by one of them.

Example:
    >>> from emoshift.selection import SCORERS, get_scorer
    >>> get_scorer("snd") is SCORERS["snd"]
    True
"""

from __future__ import annotations

from emoshift.selection.scorers import SCORERS, Scorer, SelectionData, get_scorer
from emoshift.selection.selector import UnsupervisedGridSelector

__all__ = ["SCORERS", "Scorer", "SelectionData", "UnsupervisedGridSelector", "get_scorer"]
