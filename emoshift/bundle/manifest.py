"""The manifest of a model bundle: what the model is, what it reads, how it was trained.

``manifest.json`` holds (besides the ``files`` table that :mod:`emoshift.bundle.io` adds):

- ``format`` (``"emoshift-model"``), ``format_version`` and ``emoshift_version``;
- ``method``: registry name, estimator class, hyper-parameters and fitted state
  (the arrays live in ``estimator.safetensors``);
- ``task`` and ``labels``: the class order (classification) or the target dimensions;
- ``features``: the feature set, the extractor's full configuration (openSMILE version,
  sample rate, ...), the number of features and a sha256 of their names; for SSL
  features the ``checkpoint``'s identity (architecture, weights sha256), so that a
  bundle moved to another machine is pointed at its checkpoint's new place
  (:func:`locate_checkpoint`) and refuses any other checkpoint;
- ``normalisation``: method, settings, the domains whose statistics are stored (arrays in
  ``normalisation.safetensors``), the domain column and the domain that new audio is
  normalised with by default;
- ``training``: the experiment config, the pair, the rows used, and later adaptations.

Example:
    >>> check_format({"format": FORMAT, "format_version": FORMAT_VERSION}, "m.json")
    >>> try:
    ...     check_format({"format": FORMAT, "format_version": 99}, "m.json")
    ... except BundleError as error:
    ...     print(str(error)[:50])
    m.json: format version 99 is newer than this emosh
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping

from emoshift.bundle.io import BundleError
from emoshift.features.extract import Extractor, get_extractor
from emoshift.features.ssl import RUNTIME_OPTIONS
from emoshift.features.ssl_model import ModelError, resolve_model, weights_sha256

FORMAT = "emoshift-model"
#: the bundle layout this code writes; it reads this and every older version
FORMAT_VERSION = 1
SECTIONS = ("method", "task", "labels", "features", "normalisation", "training")


def names_sha256(names: list[str]) -> str:
    """sha256 of feature names, one per line: the columns a model expects, in order."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def feature_section(feature_set: str, options: Mapping | None = None) -> dict:
    """The ``features`` section for the extractor of ``feature_set`` with ``options``
    (e.g. the ``ssl`` model folder and layers; see :func:`extractor`). Options that only
    say where the extractor runs (``device``, ``batch_size``) are not kept."""
    options = {k: v for k, v in dict(options or {}).items() if k not in RUNTIME_OPTIONS}
    extractor = get_extractor(feature_set, **options)
    names = list(extractor.feature_names)
    section = {
        "set": feature_set,
        "options": options,
        "name": extractor.name,
        "frame_level": bool(extractor.frame_level),
        "sample_rate": int(extractor.sample_rate),
        "extractor": extractor.config(),
        "n_features": len(names),
        "names_sha256": names_sha256(names),
    }
    if hasattr(extractor, "checkpoint"):
        section["checkpoint"] = extractor.checkpoint()
    return section


def locate_checkpoint(section: dict, where: str, ssl_model: str | os.PathLike | None) -> None:
    """Point an SSL ``features`` section at its checkpoint: ``ssl_model`` when given, else
    the place it was trained at; raise :class:`BundleError` when that holds no checkpoint
    or one whose weights differ from the model's (``section`` is updated in place)."""
    if section["set"] != "ssl":
        if ssl_model is not None:
            raise BundleError(
                f"{where}: the model reads {section['name']} features, not ssl; it needs no "
                "checkpoint (drop ssl_model / --ssl-model)"
            )
        return
    saved = section["extractor"]
    missing = [key for key in ("model_type", "weights_sha256") if key not in saved]
    if missing:
        raise BundleError(
            f"{where}: features.extractor of ssl features at {section['options'].get('model')} "
            f"lacks {', '.join(missing)}, the checkpoint's identity; the bundle was altered or "
            "saved by an older emoshift: train it again"
        )
    identity = f"a {saved['model_type']} checkpoint with weights sha256 {saved['weights_sha256']}"
    folder = ssl_model if ssl_model is not None else section["options"].get("model")
    try:
        found = weights_sha256(str(resolve_model(folder)))
    except ModelError as error:
        raise BundleError(
            f"{where}: the model reads features of {identity}, last at "
            f"{section['options'].get('model')}; {error}. Pass its folder on this machine "
            "(--ssl-model PATH, or ssl_model=PATH)"
        ) from None
    if found != saved["weights_sha256"]:
        raise BundleError(
            f"{where}: the checkpoint at {folder} has weights sha256 {found}, but the model "
            f"was trained on {identity}; point --ssl-model (ssl_model=) at that checkpoint"
        )
    section["options"] = {**section["options"], "model": str(resolve_model(folder))}


def extractor(section: Mapping, device: str | None = None) -> Extractor:
    """The feature extractor a ``features`` section describes; ``device`` (if given) is
    where an SSL checkpoint runs (``None``: its default, ``"auto"``)."""
    options = dict(section.get("options", {}))
    if device is not None and section["set"] == "ssl":
        options["device"] = device
    return get_extractor(section["set"], **options)


def library_versions() -> dict[str, str]:
    """The versions of the libraries that a saved estimator's state depends on."""
    import sklearn  # noqa: PLC0415
    import torch  # noqa: PLC0415

    return {"scikit-learn": sklearn.__version__, "torch": torch.__version__}


def check_libraries(manifest: Mapping, where: str, *, strict: bool = True) -> None:
    """With ``strict``, a state holding scikit-learn objects (an SVM, a scaler) must be
    loaded by the scikit-learn version that saved it: their arrays are its own."""
    saved = manifest.get("libraries", {}).get("scikit-learn")
    current = library_versions()["scikit-learn"]
    holds_sklearn = '"__object__"' in json.dumps(manifest["method"].get("state", {}))
    if strict and holds_sklearn and saved != current:
        raise BundleError(
            f"{where}: the model holds scikit-learn objects saved by scikit-learn {saved}, "
            f"this is {current}; install {saved}, or pass strict=False "
            "(--allow-version-change) to try anyway"
        )


def check_format(manifest: Mapping, where: str) -> None:
    """Raise :class:`BundleError` unless ``manifest`` is a bundle this code can read."""
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{where}: not an emoshift model manifest (format is not {FORMAT!r})")
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BundleError(f"{where}: format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise BundleError(
            f"{where}: format version {version} is newer than this emoshift reads "
            f"({FORMAT_VERSION}); upgrade emoshift to load this bundle"
        )


def check_sections(manifest: Mapping, where: str) -> None:
    """Raise :class:`BundleError` naming the first section that is missing."""
    for section in SECTIONS:
        if section not in manifest:
            raise BundleError(f"{where}: the manifest has no {section!r} section")


def check_features(
    section: Mapping, where: str, *, requested: str | None = None, strict: bool = True
) -> Extractor:
    """The extractor that gives this model's features, checked against the bundle.

    ``requested`` (a feature-set name) must name the bundle's set. With ``strict``, every
    setting of the installed extractor (openSMILE version, sample rate, ...) must equal
    the saved one; otherwise differences other than the feature names are accepted.
    """
    if requested is not None and requested.lower() != str(section["set"]).lower():
        other = get_extractor(requested).name if requested.lower() != "ssl" else requested
        if other != section["name"]:
            raise BundleError(
                f"{where}: the model reads {section['name']} features, not {other} "
                f"(requested {requested!r}); use a bundle trained on that feature set"
            )
    try:
        installed = extractor(section)
    except (ValueError, OSError) as error:
        raise BundleError(
            f"{where}: the model's feature extractor cannot be made: {error}"
        ) from None
    if names_sha256(list(installed.feature_names)) != section["names_sha256"]:
        raise BundleError(
            f"{where}: the installed {installed.name} extractor gives other feature columns "
            "than the model was trained on; install the versions in the manifest"
        )
    saved, current = section["extractor"], installed.config()
    changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if changed and strict:
        detail = ", ".join(f"{k}: saved {saved.get(k)!r}, here {current.get(k)!r}" for k in changed)
        raise BundleError(
            f"{where}: the feature extractor differs from the one the model was trained "
            f"with ({detail}); install the saved versions, or pass strict=False "
            "(--allow-version-change) to accept features that may differ"
        )
    return installed
