"""Experiment configs bundled with the package (``emoshift/configs/*.yaml``), by name.

The demo is one of them: ``emoshift demo`` reads ``demo.yaml``, applies its command-line
options and runs it like ``emoshift run`` runs any config.

Example:
    >>> "source_only" in bundled_config("demo")["methods"]
    True
    >>> bundled_config("nope")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no bundled config 'nope'; bundled: ['demo']
"""

from __future__ import annotations

from importlib.resources import files

from emoshift.safe_yaml import load_yaml


def bundled_names() -> list[str]:
    """The names of the bundled configs (file names without ``.yaml``), sorted."""
    folder = files(__name__)
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def bundled_config(name: str) -> dict:
    """The bundled config ``name`` as a mapping, ready for
    :func:`emoshift.experiment.config.parse_config` (after any edits)."""
    resource = files(__name__) / f"{name}.yaml"
    if not resource.is_file():
        raise FileNotFoundError(f"no bundled config {name!r}; bundled: {bundled_names()}")
    data = load_yaml(resource.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"bundled config {name!r} must hold a YAML mapping")
    return data
