"""Experiment configs bundled with the package (``emoshift/configs/*.yaml``), by name.

The demo is one of them: ``emoshift demo`` reads ``demo.yaml``, applies its command-line
options and runs it like ``emoshift run`` runs any config. The example configs of the
repository's ``configs/`` folder ship too, as ``emoshift/configs/examples`` (a link to
that folder in a checkout, copies in a wheel): :func:`example_names` lists them and
``emoshift configs copy NAME`` writes one where the user wants it.

Example:
    >>> "source_only" in bundled_config("demo")["methods"]
    True
    >>> bundled_config("nope")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no bundled config 'nope'; bundled: ['demo']
    >>> "synthetic_unsupervised" in example_names()
    True
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

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


EXAMPLES = "examples"
"""The folder of example configs inside this package."""


def example_names() -> list[str]:
    """The names of the example configs (file names without ``.yaml``), sorted."""
    folder = files(__name__) / EXAMPLES
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def example_config(name: str) -> Traversable:
    """The example config ``name`` (with or without ``.yaml``); ``FileNotFoundError``
    listing the examples when there is none of that name."""
    resource = files(__name__) / EXAMPLES / f"{name.removesuffix('.yaml')}.yaml"
    if not resource.is_file():
        raise FileNotFoundError(
            f"no example config {name!r}; examples: {', '.join(example_names())} "
            "(emoshift configs list)"
        )
    return resource
