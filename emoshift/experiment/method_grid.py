"""A method's hyper-parameter grid from its config entry, checked by name.

A list of values is a grid to expand; a list where the parameter takes a sequence (such
as ``hidden_sizes: [256, 128]``) is one value, and a list of lists is a grid of them.
"""

from __future__ import annotations

from sklearn.model_selection import ParameterGrid

from emoshift.experiment.schema import ConfigError, _suggest
from emoshift.methods import check_method_params, method_class


def _is_grid(value: object, default: object) -> bool:
    """Whether a config value lists several values to try (see the module doc)."""
    if not isinstance(value, list):
        return False
    if isinstance(default, (list, tuple)):
        return all(isinstance(v, (list, tuple)) for v in value) and len(value) > 0
    return True


def expand_method_grid(
    method: str, params: dict, where: str = "method", task: str | None = None
) -> list[dict]:
    """Every combination of a method's listed hyper-parameter values, checked by name.

    With ``task``, every combination is also checked for that task (a classification-only
    method under ``task: regression`` is an error here, not a failed trial).

    Example:
        >>> expand_method_grid("source_only", {"lr": [0.1, 0.01], "hidden_sizes": [8]})
        [{'hidden_sizes': (8,), 'lr': 0.1}, {'hidden_sizes': (8,), 'lr': 0.01}]
    """
    try:
        defaults = method_class(method)().get_params()
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None
    grid = {}
    for key, value in (params or {}).items():
        if key in ("random_state",):
            raise ConfigError(f"{where}.{key}: seeds come from config.seed and the trial index")
        if key not in defaults:
            raise ConfigError(
                f"{where}: {method} has no parameter {key!r}{_suggest(key, defaults)}"
            )
        values = value if _is_grid(value, defaults[key]) else [value]
        if isinstance(defaults[key], tuple):
            values = [tuple(v) if isinstance(v, list) else v for v in values]
        grid[key] = values
    points = list(ParameterGrid(grid)) if grid else [{}]
    if task is not None and "task" not in defaults and task != "classification":
        raise ConfigError(f"{where}: {method} does classification only, not {task}")
    for point in points:
        checked = {**point, "task": task} if task is not None and "task" in defaults else point
        try:
            check_method_params(method, checked)
        except ValueError as error:
            raise ConfigError(f"{where}: {error}") from None
    return points
