"""A method's hyper-parameter grid from its config entry, checked by name.

A list of values is a grid to expand; a list where the parameter takes a sequence (such
as ``hidden_sizes: [256, 128]``) is one value, and a list of lists is a grid of them.
A method's ``variants:`` lists grids to run one after the other instead of their product
(e.g. a paper's four deep networks and one shallow one): each entry is expanded with the
method's other parameters, which it may not set again.
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


VARIANTS = "variants"
"""The method key that lists grids run one after another (see the module doc)."""


def expand_method_grid(
    method: str, params: dict, where: str = "method", task: str | None = None
) -> list[dict]:
    """Every combination of a method's listed hyper-parameter values, checked by name;
    with ``variants``, the points of each variant's grid in turn (duplicates refused).

    With ``task``, every combination is also checked for that task (a classification-only
    method under ``task: regression`` is an error here, not a failed trial).

    Example:
        >>> expand_method_grid("source_only", {"lr": [0.1, 0.01], "hidden_sizes": [8]})
        [{'hidden_sizes': (8,), 'lr': 0.1}, {'hidden_sizes': (8,), 'lr': 0.01}]
        >>> expand_method_grid("source_only", {"lr": 0.1, "variants": [
        ...     {"hidden_sizes": [[8], [8, 8]], "head_hidden_sizes": [8]},
        ...     {"hidden_sizes": [8], "head_hidden_sizes": []}]})  # doctest: +NORMALIZE_WHITESPACE
        [{'head_hidden_sizes': (8,), 'hidden_sizes': (8,), 'lr': 0.1},
         {'head_hidden_sizes': (8,), 'hidden_sizes': (8, 8), 'lr': 0.1},
         {'head_hidden_sizes': (), 'hidden_sizes': (8,), 'lr': 0.1}]
    """
    params = dict(params or {})
    variants = params.pop(VARIANTS, None)
    if variants is None:
        return _expand_grid(method, params, where, task)
    if (
        not isinstance(variants, list)
        or not variants
        or not all(isinstance(v, dict) for v in variants)
    ):
        raise ConfigError(
            f"{where}.{VARIANTS}: a list of parameter mappings (each a grid), not {variants!r}"
        )
    points: list[dict] = []
    for i, variant in enumerate(variants):
        here = f"{where}.{VARIANTS}[{i}]"
        again = sorted(set(variant) & set(params))
        if again:
            raise ConfigError(
                f"{here}: {again} also set outside {VARIANTS}; set each parameter once"
            )
        for point in _expand_grid(method, {**params, **variant}, here, task):
            if point in points:
                raise ConfigError(f"{here}: {point} is already an earlier variant's point")
            points.append(point)
    return points


def _expand_grid(method: str, params: dict, where: str, task: str | None) -> list[dict]:
    """Every combination of one grid's listed values, checked (:func:`expand_method_grid`)."""
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
