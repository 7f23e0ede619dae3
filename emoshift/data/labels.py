"""Shared label spaces: cross-corpus work needs source and target to mean the same classes.

A label space maps each row of a corpus table to one class of an experiment's label set,
or drops the row. :func:`apply_label_space` adds the class as a ``label`` column, drops
the rows with no place in the space and returns a :class:`LabelSpaceReport` counting
what was dropped per original label. The spaces (:data:`LABEL_SPACES`):

``four_class``
    anger, happiness, sadness, neutral. Options: ``calm`` ("drop" or "neutral": what
    RAVDESS's calm becomes) and ``excitement`` ("drop" or "happiness": IEMOCAP's
    excitement, which the common 4-class IEMOCAP setting merges into happiness). Both
    default to "drop", so nothing is merged unless asked for.
``binary_valence``
    negative (anger, sadness, fear, disgust, boredom) versus positive (happiness,
    neutral): the EmoDB versus Aibo setting. Rows of a corpus labelled with the two
    classes directly (FAU Aibo's NEG/IDL, the ``valence_class`` column) take them. Option
    ``extra``: more ``{emotion: "negative"|"positive"}`` entries (e.g. ``{"calm": "positive"}``).
``binary_arousal``
    low (sadness, boredom) versus high (anger, happiness, fear) arousal from the
    categories, the cross-corpus arousal setting of EmoDB and URDU; rows of corpora
    labelled with arousal levels instead (BAVED's ``arousal_level``) take their level:
    low -> low, high -> high, normal is dropped. Option ``extra``: more
    ``{emotion: "low"|"high"}`` entries (e.g. ``{"surprise": "high"}``).
``arousal_level``
    the three ordered levels low, normal, high of a corpus labelled with them (the
    ``arousal_level`` column, e.g. BAVED); rows without a level are dropped. Option
    ``extra``: ``{emotion: "low"|"normal"|"high"}`` entries that give categorically
    labelled corpora (EmoDB, URDU) a level, e.g. ``{"neutral": "normal"}``.
``binarised_arousal`` / ``binarised_valence``
    low/high arousal and negative/positive valence from the normalised dimensional
    scores: above ``threshold`` (default 0, the scale's midpoint) is high / positive.
    Option ``midpoint`` ("low", the default, or "high") names the side of a score exactly
    at the threshold: IEMOCAP's 3.0 on its 1-5 scale is 0.0 normalised. A mapping
    ``{corpus: side}`` sets the side per value of the ``corpus`` column (corpora it does
    not name: "low"), for papers that cut each corpus its own way. Rows without a score
    are dropped.
``shared``
    the categories of this table shared with ``other`` (another corpus table):
    ``how="intersection"`` (default) keeps the emotions both hold, ``"union"`` those
    either holds.
``categories``
    an explicit list ``keep=[...]`` of emotions, each its own class.

Example:
    >>> import pandas as pd
    >>> table = pd.DataFrame({"file": ["a", "b", "c", "d"],
    ...                       "emotion": ["anger", "calm", "boredom", "neutral"]})
    >>> labelled, report = apply_label_space(table, "four_class", calm="neutral")
    >>> labelled["label"].tolist(), report.dropped
    (['anger', 'neutral', 'neutral'], {'boredom': 1})
    >>> print(report)
    label space four_class: kept 3 of 4 rows in 2 of 4 classes
      anger       1
      neutral     2
    dropped 1 row(s):
      boredom     1
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from emoshift.data.table import EMOTIONS

FOUR_CLASS: tuple[str, ...] = ("anger", "happiness", "sadness", "neutral")
"""The classes of the ``four_class`` space, in order."""
BINARY_VALENCE: dict[str, str] = {
    "anger": "negative",
    "sadness": "negative",
    "fear": "negative",
    "disgust": "negative",
    "boredom": "negative",
    "happiness": "positive",
    "neutral": "positive",
}
"""Emotion -> class of the ``binary_valence`` space."""
BINARY_AROUSAL: dict[str, str] = {
    "anger": "high",
    "happiness": "high",
    "fear": "high",
    "sadness": "low",
    "boredom": "low",
}
"""Emotion -> class of the ``binary_arousal`` space."""
AROUSAL_LEVELS: tuple[str, ...] = ("low", "normal", "high")
"""The ordered values of an ``arousal_level`` column (BAVED's levels 0, 1, 2)."""
CLASS_COLUMNS: dict[str, str] = {
    "binary_arousal": "arousal_level",
    "arousal_level": "arousal_level",
    "binary_valence": "valence_class",
}
"""Space -> the column of corpora labelled in that space's terms directly (BAVED's
arousal levels, FAU Aibo's NEG/IDL). Where it holds a value, it is the row's category,
counted as ``"<column> <value>"``; elsewhere the emotion is."""
LABEL_SPACES: dict[str, str] = {
    "four_class": "anger, happiness, sadness, neutral (options calm=, excitement=)",
    "binary_valence": "negative vs positive emotions (option extra=)",
    "binary_arousal": "low vs high arousal emotions, or arousal levels (option extra=)",
    "arousal_level": "low, normal, high arousal levels (the arousal_level column; extra=)",
    "binarised_arousal": "low/high from the normalised arousal (options threshold=, midpoint=)",
    "binarised_valence": "negative/positive from the normalised valence (threshold=, midpoint=)",
    "shared": "emotions shared with another table (options other=, how=)",
    "categories": "an explicit list of emotions (option keep=)",
}
"""The label spaces :func:`apply_label_space` knows, with their options."""
MISSING = "<missing>"
"""The key under which rows without the source value are counted as dropped."""


@dataclass
class LabelSpaceReport:
    """What :func:`apply_label_space` kept and dropped; ``print`` it for a summary."""

    space: str
    labels: tuple[str, ...]
    total: int
    counts: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def kept(self) -> int:
        """Number of rows that received a label."""
        return sum(self.counts.values())

    @property
    def n_dropped(self) -> int:
        """Number of rows dropped."""
        return sum(self.dropped.values())

    def __str__(self) -> str:
        width = max(map(len, [*self.labels, *self.dropped, "label"])) + 2
        present = sum(1 for label in self.labels if self.counts.get(label))
        lines = [
            f"label space {self.space}: kept {self.kept} of {self.total} rows in "
            f"{present} of {len(self.labels)} classes"
        ]
        lines += [f"  {k:<{width}} {v}" for k, v in self.counts.items()]
        if self.dropped:
            lines.append(f"dropped {self.n_dropped} row(s):")
            lines += [f"  {k:<{width}} {v}" for k, v in self.dropped.items()]
        return "\n".join(lines)


def _choice(name: str, value: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {allowed}")
    return value


def _high_at_midpoint(table: pd.DataFrame, midpoint: object) -> pd.Series:
    """Whether a score exactly at the threshold is high, per row: option ``midpoint`` is
    one side for every row or a mapping ``{corpus: side}`` (unnamed corpora: low)."""
    sides = ("low", "high")
    if not isinstance(midpoint, dict):
        side = _choice("midpoint", midpoint, sides)
        return pd.Series(side == "high", index=table.index)
    for corpus, side in midpoint.items():
        _choice(f"midpoint[{corpus!r}]", side, sides)
    if "corpus" not in table.columns:
        raise ValueError("midpoint per corpus needs the table's corpus column")
    high = [corpus for corpus, side in midpoint.items() if side == "high"]
    return table["corpus"].isin(high)


def _in_order(labels: Iterable[str]) -> tuple[str, ...]:
    """Emotions in the order of :data:`EMOTIONS`, unknown ones after, alphabetically."""
    labels = set(labels)
    known = [e for e in EMOTIONS if e in labels]
    return (*known, *sorted(labels - set(known)))


def shared_categories(
    source: pd.DataFrame, target: pd.DataFrame, how: str = "intersection"
) -> tuple[str, ...]:
    """The emotions held by both tables (``how="intersection"``) or by either (``"union"``).

    >>> a = pd.DataFrame({"emotion": ["anger", "boredom", "neutral"]})
    >>> b = pd.DataFrame({"emotion": ["neutral", "anger", "happiness"]})
    >>> shared_categories(a, b), shared_categories(a, b, "union")
    (('anger', 'neutral'), ('anger', 'happiness', 'neutral', 'boredom'))
    """
    _choice("how", how, ("intersection", "union"))
    first, second = (set(t["emotion"].dropna()) for t in (source, target))
    return _in_order(first & second if how == "intersection" else first | second)


def _categorical(
    space: str, options: dict, table: pd.DataFrame
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Emotion -> class mapping and ordered classes of a categorical space.

    The options this space understands are popped from ``options``.
    """
    if space == "four_class":
        mapping = {emotion: emotion for emotion in FOUR_CLASS}
        if _choice("calm", options.pop("calm", "drop"), ("drop", "neutral")) == "neutral":
            mapping["calm"] = "neutral"
        excitement = options.pop("excitement", "drop")
        if _choice("excitement", excitement, ("drop", "happiness")) == "happiness":
            mapping["excitement"] = "happiness"
        return mapping, FOUR_CLASS
    if space == "binary_valence":
        mapping = dict(BINARY_VALENCE)
        for emotion, side in dict(options.pop("extra", {})).items():
            mapping[emotion] = _choice(f"extra[{emotion!r}]", side, ("negative", "positive"))
        mapping |= {f"valence_class {side}": side for side in ("negative", "positive")}
        return mapping, ("negative", "positive")
    if space == "binary_arousal":
        mapping = dict(BINARY_AROUSAL)
        for emotion, side in dict(options.pop("extra", {})).items():
            mapping[emotion] = _choice(f"extra[{emotion!r}]", side, ("low", "high"))
        mapping |= {"arousal_level low": "low", "arousal_level high": "high"}
        return mapping, ("low", "high")
    if space == "arousal_level":
        mapping = {f"arousal_level {level}": level for level in AROUSAL_LEVELS}
        for emotion, level in dict(options.pop("extra", {})).items():
            mapping[emotion] = _choice(f"extra[{emotion!r}]", level, AROUSAL_LEVELS)
        return mapping, AROUSAL_LEVELS
    if space == "shared":
        if "other" not in options:
            raise ValueError("label space 'shared' needs other=<the other corpus table>")
        other = options.pop("other")
        keep = shared_categories(table, other, options.pop("how", "intersection"))
        return {emotion: emotion for emotion in keep}, keep
    if "keep" not in options:
        raise ValueError("label space 'categories' needs keep=[emotions to keep]")
    keep = tuple(options.pop("keep"))
    return {emotion: emotion for emotion in keep}, keep


def _category(table: pd.DataFrame, space: str) -> pd.Series:
    """Each row's category: ``"<column> <value>"`` of the space's class column
    (:data:`CLASS_COLUMNS`) where it holds one, else the emotion, else missing."""
    source = table["emotion"].astype("string")
    column = CLASS_COLUMNS.get(space)
    if column in table:
        classes = table[column].astype("string")
        source = (f"{column} " + classes).fillna(source)
    return source.fillna(MISSING)


def apply_label_space(
    table: pd.DataFrame, space: str, **options: object
) -> tuple[pd.DataFrame, LabelSpaceReport]:
    """Label ``table`` in ``space``; rows with no place there are dropped and counted.

    Returns a copy of the kept rows with a ``label`` column (other columns unchanged,
    index reset) and the :class:`LabelSpaceReport`. The options are those listed per
    space in the module docstring; an unknown space or option raises ``ValueError``.
    """
    if space not in LABEL_SPACES:
        raise ValueError(f"unknown label space {space!r}; known: {', '.join(LABEL_SPACES)}")
    options = dict(options)
    if space in ("binarised_arousal", "binarised_valence"):
        dimension = space.removeprefix("binarised_")
        threshold = float(options.pop("threshold", 0.0))
        high_at_midpoint = _high_at_midpoint(table, options.pop("midpoint", "low"))
        names = ("low", "high") if dimension == "arousal" else ("negative", "positive")
        scores = pd.to_numeric(table[dimension], errors="coerce")
        above = (scores > threshold) | (high_at_midpoint & (scores == threshold))
        labels = pd.Series(pd.NA, index=table.index, dtype="string")
        labels[scores.notna()] = [names[int(a)] for a in above[scores.notna()]]
        source = scores.map(lambda s: f"{MISSING} {dimension}" if pd.isna(s) else "scored")
        ordered = names
    else:
        mapping, ordered = _categorical(space, options, table)
        source = _category(table, space)
        labels = source.map(lambda e: mapping.get(e, pd.NA)).astype("string")
    if options:
        raise ValueError(f"label space {space!r} takes no option(s) {sorted(options)}")
    keep = labels.notna().to_numpy()
    result = table.loc[keep].copy()
    result["label"] = labels[keep].to_numpy()
    counts = result["label"].value_counts()
    dropped = source[~keep].value_counts()
    report = LabelSpaceReport(
        space=space,
        labels=tuple(ordered),
        total=len(table),
        counts={label: int(counts[label]) for label in ordered if label in counts},
        dropped={str(k): int(v) for k, v in dropped.items()},
    )
    return result.reset_index(drop=True), report
