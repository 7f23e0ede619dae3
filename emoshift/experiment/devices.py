"""The torch devices a config names, checked on this machine before a run reads any data.

``methods.<name>.device`` (each grid point) and ``features.device`` (SSL features) pass
when the config is parsed whenever they are device names; whether torch can use them
depends on the machine, so :func:`check_devices` asks torch where a run, a dry run or
``train`` starts. A device it cannot use (``cuda`` without CUDA, ``cuda:3`` on a machine
with one GPU) is then one :class:`~emoshift.experiment.schema.ConfigError` that names the
field, instead of the same failure in every trial.

Example:
    >>> from emoshift.experiment.config import parse_config
    >>> config = parse_config({
    ...     "name": "demo", "corpora": {"synth": {"loader": "synthetic", "path": "corpus"}},
    ...     "pairs": [{"source": "elicitation == 'acted'",
    ...                "target": "elicitation == 'spontaneous'"}],
    ...     "methods": {"source_only": {"device": ["cpu", "cuda:99"]}},
    ... })
    >>> try:
    ...     check_devices(config)
    ... except ConfigError as error:
    ...     print(str(error)[:52])
    config.methods.source_only.device: device 'cuda:99':
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emoshift.experiment.method_grid import expand_method_grid
from emoshift.experiment.schema import ConfigError
from emoshift.torch_device import torch_device

if TYPE_CHECKING:
    from emoshift.experiment.config import ExperimentConfig


def named_devices(config: ExperimentConfig) -> list[tuple[str, str]]:
    """``(field, device)`` of every device the config names, in config order."""
    named = []
    if config.features.device is not None:
        named.append(("config.features.device", config.features.device))
    for method, params in config.methods.items():
        where = f"config.methods.{method}"
        for point in expand_method_grid(method, params or {}, where):
            if "device" in point:
                named.append((f"{where}.device", point["device"]))
    return named


def check_devices(config: ExperimentConfig) -> None:
    """Raise :class:`ConfigError`, naming the field, for a device torch cannot use here."""
    for where, device in named_devices(config):
        try:
            torch_device(device)
        except ValueError as error:
            raise ConfigError(f"{where}: {error}") from None
