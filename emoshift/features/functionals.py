"""openSMILE functionals: one fixed-length vector per utterance.

The standard sets of the SER literature (eGeMAPSv02, GeMAPSv01b, IS10_paraling,
ComParE_2016, the INTERSPEECH 2013 ComParE set IS13_ComParE, emobase) or a user's own
openSMILE config file, computed by the ``opensmile`` package on the signal from
:func:`emoshift.features.audio.read_audio` (so resampling and mixdown are emoshift's,
identical for every set).

Example:
    >>> import numpy as np
    >>> extractor = Functionals("egemaps")
    >>> extractor.name, len(extractor.feature_names)
    ('eGeMAPSv02', 88)
    >>> t = np.arange(16000) / 16000
    >>> signal = (0.3 * np.sin(2 * np.pi * 150 * t) * np.hanning(16000)).astype(np.float32)
    >>> extractor(signal, 16000).shape
    (88,)
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import opensmile

from emoshift.features.audio import AudioError

FEATURE_SETS: dict[str, str] = {
    "eGeMAPSv02": "eGeMAPSv02",
    "GeMAPSv01b": "GeMAPSv01b",
    "IS10_paraling": "IS10",
    "ComParE_2016": "ComParE_2016",
    "IS13_ComParE": "IS13",
    "emobase": "emobase",
}
"""Canonical feature-set name -> member of ``opensmile.FeatureSet``."""

ALIASES: dict[str, str] = {
    "egemaps": "eGeMAPSv02",
    "egemapsv02": "eGeMAPSv02",
    "gemaps": "GeMAPSv01b",
    "gemapsv01b": "GeMAPSv01b",
    "is10": "IS10_paraling",
    "is10_paraling": "IS10_paraling",
    "compare": "ComParE_2016",
    "compare_2016": "ComParE_2016",
    "compare_2013": "IS13_ComParE",
    "is13": "IS13_ComParE",
    "is13_compare": "IS13_ComParE",
    "emobase": "emobase",
}
"""Case-insensitive names accepted for the standard sets."""

SHORT_NAMES: tuple[str, ...] = ("egemaps", "gemaps", "is10", "compare", "compare_2013", "emobase")
"""The short names of the standard sets, as listed in messages and ``--help``."""

_INCLUDE = re.compile(r"^\s*\\\{([^\\}][^}]*)\}", re.MULTILINE)


def resolve_feature_set(name: str) -> str:
    """The canonical name of a standard feature set, accepting the aliases in :data:`ALIASES`.

    Example:
        >>> resolve_feature_set("compare")
        'ComParE_2016'
    """
    canonical = ALIASES.get(name.lower())
    if canonical is None:
        raise ValueError(
            f"unknown openSMILE feature set {name!r}; valid names are "
            f"{list(dict.fromkeys((*SHORT_NAMES, *FEATURE_SETS)))} (any case), "
            "or the path of an openSMILE config file ending in .conf"
        )
    member = FEATURE_SETS[canonical]
    if member not in opensmile.FeatureSet.__members__:
        raise ValueError(
            f"feature set {canonical!r} needs opensmile.FeatureSet.{member}, which "
            f"opensmile {opensmile.__version__} lacks; upgrade opensmile or pass the set's "
            "config file path instead"
        )
    return canonical


def _config_digest(path: Path) -> str:
    """sha256 over a config file and, recursively, every file it includes with ``\\{...}``."""
    digest = hashlib.sha256()
    seen: set[Path] = set()

    def add(file: Path) -> None:
        file = file.resolve()
        if file in seen:
            return
        seen.add(file)
        text = file.read_bytes()
        digest.update(str(len(text)).encode() + b":" + text)
        for include in _INCLUDE.findall(text.decode("utf-8", errors="replace")):
            included = file.parent / include.strip()
            if included.is_file():
                add(included)

    add(path)
    return digest.hexdigest()


@functools.cache
def _smile(feature_set: str, feature_level: str) -> opensmile.Smile:
    """One ``opensmile.Smile`` per process and configuration, created on first use."""
    if feature_set in FEATURE_SETS:
        feature_set = getattr(opensmile.FeatureSet, FEATURE_SETS[feature_set])
    return opensmile.Smile(feature_set=feature_set, feature_level=feature_level)


class Functionals:
    """An openSMILE functionals extractor: ``signal -> 1-D float32 vector``.

    Args:
        feature_set: a standard set name (see :data:`ALIASES`) or the path of an
            openSMILE config file (``*.conf``) written for the ``opensmile`` package
            (external source and sink, as in the package's own configs).
        sample_rate: the rate the signal must have (``read_audio(path, sample_rate)``).
        feature_level: the sink level of a custom config; the standard sets use ``func``.

    Example:
        >>> Functionals("gemaps").config()["feature_set"]
        'GeMAPSv01b'
    """

    frame_level = False

    def __init__(
        self,
        feature_set: str | os.PathLike = "eGeMAPSv02",
        *,
        sample_rate: int = 16000,
        feature_level: str = "func",
    ) -> None:
        self.sample_rate = int(sample_rate)
        self.feature_level = feature_level
        text = os.fspath(feature_set)
        if text.endswith(".conf"):
            path = Path(text).expanduser().resolve()
            if not path.is_file():
                raise ValueError(f"openSMILE config file {path} does not exist")
            self.feature_set = str(path)
            self.name = f"config:{path.stem}"
            self._config_sha256: str | None = _config_digest(path)
        else:
            self.feature_set = resolve_feature_set(text)
            self.name = self.feature_set
            self._config_sha256 = None

    def __repr__(self) -> str:
        return f"Functionals({self.feature_set!r}, sample_rate={self.sample_rate})"

    def config(self) -> dict[str, Any]:
        """A JSON-able description of everything that determines the output."""
        config: dict[str, Any] = {
            "kind": "opensmile-functionals",
            "feature_set": self.feature_set,
            "feature_level": self.feature_level,
            "sample_rate": self.sample_rate,
            "opensmile": opensmile.__version__,
        }
        if self._config_sha256 is not None:
            config["config_sha256"] = self._config_sha256
        return config

    @property
    def feature_names(self) -> list[str]:
        """The names of the vector's elements, in order."""
        return list(_smile(self.feature_set, self.feature_level).feature_names)

    def __call__(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        """The functionals of a mono signal as a 1-D float32 vector.

        Raises ``ValueError`` for a signal at the wrong rate and :class:`AudioError` when
        openSMILE returns NaN (the signal is too short for the feature set).
        """
        if sample_rate != self.sample_rate:
            raise ValueError(
                f"{self.name} expects signals at {self.sample_rate} Hz, got {sample_rate} Hz; "
                f"read the file with read_audio(path, sample_rate={self.sample_rate})"
            )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Segment too short")
            frame = _smile(self.feature_set, self.feature_level).process_signal(
                np.asarray(signal, dtype=np.float32), sample_rate
            )
        values = frame.to_numpy(dtype=np.float32).reshape(-1)
        missing = int(np.count_nonzero(~np.isfinite(values)))
        if missing:
            raise AudioError(
                f"openSMILE {self.name} returned NaN for {missing} of {values.size} features "
                f"on a {len(signal) / sample_rate:.3f} s signal; the utterance is too short "
                "for this feature set. Drop it or use longer segments"
            )
        return values
