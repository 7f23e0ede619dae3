"""Which figures a report draws: per-pair figures for some pairs, panels for some variants.

A run of 20 pairs x 5 methods drew 280 t-SNE figures and 100 confusion matrices into a
37 MB page in 15 minutes (issue 24). The tables cover every pair; the per-pair figures
(curves, confusion matrices, domain-classifier accuracy, t-SNE/UMAP) are drawn for the
pairs of a :class:`FigureScope` (by default the first pair of the run), confusion
matrices and embedding panels for its variants (the baseline is always drawn beside
them), and each projection on a sample of ``points`` rows.

Example:
    >>> scope = FigureScope()
    >>> scope.chosen_pairs(["a->b", "a->c"]), scope.chosen_variants(["base", "dann"])
    (['a->b'], ['base', 'dann'])
    >>> FigureScope(pairs=("a->c",), variants=()).chosen_variants(["base", "dann"])
    []
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from emoshift.report.embeddings import MAX_POINTS

FIRST = "first"
ALL = "all"
DEFAULT_POINTS = 200
"""Rows projected per layer by default: t-SNE of 200 points takes about half the time of 400."""


@dataclass(frozen=True)
class FigureScope:
    """What the report draws.

    Attributes:
        pairs: pair names, or ``("first",)`` (the first pair of the run) or ``("all",)``;
            empty: no per-pair figure.
        variants: variant names for confusion matrices and embedding panels, or
            ``("all",)``; empty: none.
        points: rows of each stored embedding that are projected (3 to 400).
        embeddings: whether to draw t-SNE/UMAP at all.
        colour_by: corpus-table columns (e.g. ``session``, ``speaker``) that each
            projection is also drawn coloured by, one more figure per column.
    """

    pairs: tuple[str, ...] = (FIRST,)
    variants: tuple[str, ...] = (ALL,)
    points: int = DEFAULT_POINTS
    embeddings: bool = True
    colour_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 3 <= self.points <= MAX_POINTS:
            raise ValueError(
                f"embedding points must be between 3 and {MAX_POINTS} (the run stores "
                f"{MAX_POINTS} rows per trial), got {self.points}"
            )

    def chosen_pairs(self, pairs: Sequence[str]) -> list[str]:
        """The pairs of ``pairs`` (the run's, in order) that get figures."""
        if self.pairs == (FIRST,):
            return list(pairs[:1])
        return _chosen("pair", self.pairs, pairs)

    def chosen_variants(self, variants: Sequence[str]) -> list[str]:
        """The variants of ``variants`` (the run's) that get confusion matrices and panels."""
        return _chosen("variant", self.variants, variants)


def _chosen(what: str, wanted: Sequence[str], existing: Sequence[str]) -> list[str]:
    """``existing`` when ``wanted`` is ``("all",)``, else ``wanted`` in the run's order;
    ``ValueError`` naming those that the run does not have."""
    if tuple(wanted) == (ALL,):
        return list(existing)
    unknown = [name for name in wanted if name not in existing]
    if unknown:
        raise ValueError(
            f"{what}(s) {unknown} are not in this run; it has {list(existing)} (or use '{ALL}')"
        )
    return [name for name in existing if name in wanted]
