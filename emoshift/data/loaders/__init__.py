"""Corpus loaders: one module per corpus, each reading the corpus as its owner ships it.

:data:`LOADERS` maps a format name to its loader; :func:`load_corpus` dispatches to it.
Every loader takes the directory the user points to (the generic ``csv`` loader: the
CSV/TSV file) and keyword options, and returns a validated corpus table
(:mod:`emoshift.data.table`) with the corpus's own labels as extra columns. Common
options: ``strict`` (raise :class:`CorpusFormatError` at the first problem instead of
warning), ``duration`` (read file headers for duration and sample rate, default on) and
``report`` (a :class:`LoadReport` that collects the problems).

Example:
    >>> from emoshift.data.loaders.base import example_corpus
    >>> root = example_corpus({"wav/08b02Ta.wav": 16000})
    >>> table = load_corpus(root, "emodb")
    >>> table.loc[0, ["speaker", "gender", "emotion"]].tolist()
    ['emodb_08', 'female', 'sadness']
    >>> sorted(LOADERS)[:4]
    ['baved', 'creativeit', 'cremad', 'csv']
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable

import pandas as pd

from emoshift.data.loaders import (
    baved,
    creativeit,
    cremad,
    csv_table,
    emodb,
    fau_aibo,
    iemocap,
    msp_improv,
    msp_podcast,
    nnime,
    ravdess,
    savee,
    tess,
    urdu,
    vam,
)
from emoshift.data.loaders.base import CorpusFormatError, CorpusWarning, LoadOptions, LoadReport

LOADERS: dict[str, Callable[..., pd.DataFrame]] = {
    "emodb": emodb.load,
    "ravdess": ravdess.load,
    "cremad": cremad.load,
    "tess": tess.load,
    "savee": savee.load,
    "iemocap": iemocap.load,
    "msp_improv": msp_improv.load,
    "msp_podcast": msp_podcast.load,
    "urdu": urdu.load,
    "baved": baved.load,
    "fau_aibo": fau_aibo.load,
    "creativeit": creativeit.load,
    "vam": vam.load,
    "nnime": nnime.load,
    "csv": csv_table.load,
}
"""Format name -> loader ``load(path, **options) -> corpus table``."""

ALIASES: dict[str, str] = {
    "crema_d": "cremad",
    "tsv": "csv",
    "emo_db": "emodb",
    "aibo": "fau_aibo",
    "fau_aibo_emotion_corpus": "fau_aibo",
    "creative_it": "creativeit",
    "usc_creativeit": "creativeit",
    "vera_am_mittag": "vam",
}
"""Other spellings accepted by :func:`load_corpus` (after lower-casing, ``-`` -> ``_``)."""


def format_name(name: str) -> str:
    """The registry key for a format name; ``ValueError`` listing the formats if unknown.

    >>> format_name("MSP-Podcast"), format_name("crema-d")
    ('msp_podcast', 'cremad')
    """
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in LOADERS:
        raise ValueError(f"unknown corpus format {name!r}; known formats: {', '.join(LOADERS)}")
    return key


def loader_option_names(loader: Callable[..., pd.DataFrame]) -> list[str]:
    """The keyword options ``loader`` takes: its own, then those of :class:`LoadOptions`
    when it passes ``**options`` on.

    >>> loader_option_names(LOADERS["ravdess"])
    ['include_song', 'strict', 'duration', 'report']
    """
    own, shared = [], []
    for name, parameter in list(inspect.signature(loader).parameters.items())[1:]:
        if parameter.kind is parameter.VAR_KEYWORD:
            shared = list(LoadOptions.__annotations__)
        else:
            own.append(name)
    return own + shared


def load_corpus(path: str | os.PathLike, format: str, **options: object) -> pd.DataFrame:
    """Load the corpus at ``path`` with the loader registered as ``format``.

    ``options`` go to the loader (see each module: e.g. ``include_song`` for RAVDESS,
    ``labels`` for the MSP corpora, VAM and FAU Aibo, ``columns`` and ``label_map`` for ``csv``).
    An option the loader does not take is a ``ValueError`` that lists the ones it takes.

    >>> load_corpus("corpus", "emodb", lables="x")
    Traceback (most recent call last):
    ...
    ValueError: emodb loader: unknown option 'lables'; its options are: strict, duration, report
    """
    key = format_name(format)
    loader = LOADERS[key]
    accepted = loader_option_names(loader)
    unknown = [name for name in options if name not in accepted]
    if unknown:
        raise ValueError(
            f"{key} loader: unknown option{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))}; its options are: {', '.join(accepted)}"
        )
    return loader(path, **options)


__all__ = [
    "ALIASES",
    "LOADERS",
    "CorpusFormatError",
    "CorpusWarning",
    "LoadReport",
    "format_name",
    "load_corpus",
]
