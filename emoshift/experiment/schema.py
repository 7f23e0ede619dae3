"""The typed schema of experiment configs: values checked against dataclass type hints.

An unknown or misspelled key is an error that names the key, where it is, and the nearest
valid key; a value of the wrong type names the field and what it expected.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Point:
    ...     x: float
    ...     label: str = "a"
    >>> _build(Point, {"x": 1}, "point")
    Point(x=1.0, label='a')
    >>> try:
    ...     _build(Point, {"x": 1, "lable": "b"}, "point")
    ... except ConfigError as error:
    ...     print(error)
    point: unknown key 'lable'; did you mean 'label'?
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing


class ConfigError(ValueError):
    """The config breaks the schema; the message says where and how to fix it."""


def _suggest(key: str, valid: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else f"; valid keys: {sorted(valid)}"


def _check_type(value: object, hint: object, where: str) -> object:
    """Check (and lightly coerce) ``value`` against a type hint of the schema."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_type(value, option, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0])
    if origin is list:
        if not isinstance(value, list):
            value = [value]
        (item,) = typing.get_args(hint)
        return [_check_type(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        _, item = typing.get_args(hint)
        return {str(k): _check_type(v, item, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (
        not isinstance(value, hint) or (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def _build(cls: type, data: object, where: str) -> object:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of {cls.__name__} keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise ConfigError(f"{where}: unknown key {key!r}{_suggest(str(key), fields)}")
    kwargs = {}
    for name, spec in fields.items():
        if name in data:
            kwargs[name] = _check_type(data[name], hints[name], f"{where}.{name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing required key {name!r}")
    return cls(**kwargs)


def _check_choice(value: object, choices: tuple, where: str) -> None:
    if value not in choices:
        raise ConfigError(
            f"{where}: {value!r} is not one of {list(choices)}{_suggest(str(value), choices)}"
        )
