"""Features for speech emotion recognition: openSMILE functionals, log-Mel frames,
self-supervised model layers (``ssl``, an optional extra), a content-addressed cache,
parallel extraction and per-domain normalisation.

The names below are imported from their modules on first use, so that extraction
worker processes do not pay for importing scikit-learn (:mod:`.normalise`).

Example:
    >>> from emoshift.features import get_extractor, normalise_per_domain
    >>> get_extractor("egemaps").name
    'eGeMAPSv02'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "AudioError": "audio",
    "SILENCE_PEAK": "audio",
    "read_audio": "audio",
    "FEATURE_FORMAT_VERSION": "cache",
    "FeatureCache": "cache",
    "default_cache_dir": "cache",
    "hash_config": "cache",
    "hash_file": "cache",
    "EXTRACTOR_NAMES": "extract",
    "Extractor": "extract",
    "FeatureResult": "extract",
    "ScriptWithoutMainGuardWarning": "extract",
    "SkippedFilesWarning": "extract",
    "extract_features": "extract",
    "get_extractor": "extract",
    "FEATURE_SETS": "functionals",
    "Functionals": "functionals",
    "LogMel": "logmel",
    "mel_filters": "logmel",
    "n_frames": "logmel",
    "SSLFeatures": "ssl",
    "ModelError": "ssl_model",
    "DomainNormaliser": "normalise",
    "DomainStats": "normalise",
    "normalise_per_domain": "normalise",
    "normalise_per_speaker": "normalise",
}

__all__ = [
    "EXTRACTOR_NAMES",
    "FEATURE_FORMAT_VERSION",
    "FEATURE_SETS",
    "SILENCE_PEAK",
    "AudioError",
    "DomainNormaliser",
    "DomainStats",
    "Extractor",
    "FeatureCache",
    "FeatureResult",
    "Functionals",
    "LogMel",
    "ModelError",
    "SSLFeatures",
    "ScriptWithoutMainGuardWarning",
    "SkippedFilesWarning",
    "default_cache_dir",
    "extract_features",
    "get_extractor",
    "hash_config",
    "hash_file",
    "mel_filters",
    "n_frames",
    "normalise_per_domain",
    "normalise_per_speaker",
    "read_audio",
]

if TYPE_CHECKING:
    from emoshift.features.audio import SILENCE_PEAK, AudioError, read_audio
    from emoshift.features.cache import (
        FEATURE_FORMAT_VERSION,
        FeatureCache,
        default_cache_dir,
        hash_config,
        hash_file,
    )
    from emoshift.features.extract import (
        EXTRACTOR_NAMES,
        Extractor,
        FeatureResult,
        ScriptWithoutMainGuardWarning,
        SkippedFilesWarning,
        extract_features,
        get_extractor,
    )
    from emoshift.features.functionals import FEATURE_SETS, Functionals
    from emoshift.features.logmel import LogMel, mel_filters, n_frames
    from emoshift.features.normalise import (
        DomainNormaliser,
        DomainStats,
        normalise_per_domain,
        normalise_per_speaker,
    )
    from emoshift.features.ssl import SSLFeatures
    from emoshift.features.ssl_model import ModelError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emoshift.features' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"emoshift.features.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
