"""Features for speech emotion recognition: openSMILE functionals, log-Mel frames, a
content-addressed cache, parallel extraction and per-domain normalisation.

Example:
    >>> from emoshift.features import get_extractor, normalise_per_domain
    >>> get_extractor("egemaps").name
    'eGeMAPSv02'
"""

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
    SkippedFilesWarning,
    extract_features,
    get_extractor,
)
from emoshift.features.functionals import FEATURE_SETS, Functionals
from emoshift.features.logmel import LogMel, n_frames
from emoshift.features.normalise import DomainNormaliser, DomainStats, normalise_per_domain

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
    "SkippedFilesWarning",
    "default_cache_dir",
    "extract_features",
    "get_extractor",
    "hash_config",
    "hash_file",
    "n_frames",
    "normalise_per_domain",
    "read_audio",
]
