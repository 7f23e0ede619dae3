"""Hyper-parameter constraints, declared once per estimator class in scikit-learn's style.

Each class lists, in ``_parameter_constraints``, what every hyper-parameter may be
(scikit-learn's :mod:`sklearn.utils._param_validation` objects: ``Interval``,
``StrOptions``, ``None``, ``"boolean"`` ..., plus :class:`Widths` for layer-width
tuples) and, in ``_parameter_rules``, the rules that tie several parameters together
(:class:`Rule`). :func:`validate_params` checks both; ``fit`` calls it, and so does the
config check (:func:`emoshift.methods.check_method_params`) for every grid point, so a
bad value is named before any training starts.

Example:
    >>> from numbers import Real
    >>> constraints = {"lr": [Interval(Real, 0, None, closed="neither")]}
    >>> validate_params("Demo", constraints, (), {"lr": "fast"})
    Traceback (most recent call last):
    ...
    ValueError: Demo: lr='fast' is not allowed; lr must be a float in the range (0.0, inf)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real

from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    _Constraint,
    make_constraint,
)

__all__ = [
    "Interval",
    "StrOptions",
    "Integral",
    "Real",
    "Rule",
    "Widths",
    "POSITIVE",
    "NON_NEGATIVE",
    "FRACTION",
    "AT_LEAST_ONE",
    "SEED",
    "DEVICE",
    "DeviceName",
    "Only",
    "validate_params",
]


class Widths(_Constraint):
    """A tuple or list of positive ints (layer widths), of a length within bounds.

    Example:
        >>> Widths(min_len=1).is_satisfied_by((256, 128)), Widths(min_len=1).is_satisfied_by(())
        (True, False)
    """

    def __init__(self, min_len: int = 0, max_len: int | None = None) -> None:
        super().__init__()
        self.min_len, self.max_len = min_len, max_len

    def is_satisfied_by(self, val: object) -> bool:
        if not isinstance(val, tuple | list):
            return False
        if len(val) < self.min_len or (self.max_len is not None and len(val) > self.max_len):
            return False
        return all(isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in val)

    def __str__(self) -> str:
        if self.max_len == self.min_len:
            count = f"exactly {self.min_len}"
        elif self.max_len is None:
            count = f"at least {self.min_len}"
        else:
            count = f"{self.min_len} to {self.max_len}"
        return f"a list of {count} positive int(s)"


class Only(_Constraint):
    """One allowed value, with the reason there is no other.

    Example:
        >>> str(Only("classification", "soft labels are class averages"))
        "'classification' (classification only: soft labels are class averages)"
    """

    def __init__(self, value: object, why: str) -> None:
        super().__init__()
        self.value, self.why = value, why

    def is_satisfied_by(self, val: object) -> bool:
        return val == self.value

    def __str__(self) -> str:
        return f"{self.value!r} ({self.value} only: {self.why})"


class DeviceName(_Constraint):
    """``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (a torch device)."""

    def is_satisfied_by(self, val: object) -> bool:
        if not isinstance(val, str):
            return False
        return val in ("auto", "cpu", "cuda") or bool(re.fullmatch(r"cuda:\d+", val))

    def __str__(self) -> str:
        return "'auto', 'cpu', 'cuda' or 'cuda:N'"


@dataclass(frozen=True)
class Rule:
    """A rule over several hyper-parameters.

    Attributes:
        names: the parameters it reads (named in the error).
        holds: ``holds(params)`` is true when the combination is allowed.
        allowed: what is allowed, in words (e.g. ``"warmup_epochs < max_epochs"``).
    """

    names: tuple[str, ...]
    holds: Callable[[Mapping[str, object]], bool]
    allowed: str


def _made(constraint: object) -> _Constraint:
    """A constraint object (scikit-learn's ``make_constraint`` refuses new kinds)."""
    return constraint if isinstance(constraint, _Constraint) else make_constraint(constraint)


def _satisfies(value: object, constraint: object) -> bool:
    made = _made(constraint)
    if isinstance(value, bool) and isinstance(made, Interval):
        return False  # True is an int to Python, never a width, rate or count here
    return made.is_satisfied_by(value)


def validate_params(
    owner: str,
    constraints: Mapping[str, Sequence[object]],
    rules: Sequence[Rule],
    params: Mapping[str, object],
) -> None:
    """Raise ``ValueError`` naming ``owner``, the parameter, its value and what is allowed.

    ``params`` must hold every parameter the ``rules`` read (pass all of them, defaults
    included); parameters without a constraint are not checked.
    """
    for name, value in params.items():
        allowed = constraints.get(name)
        if allowed is None or any(_satisfies(value, c) for c in allowed):
            continue
        options = " or ".join(str(_made(c)) for c in allowed)
        raise ValueError(f"{owner}: {name}={value!r} is not allowed; {name} must be {options}")
    for rule in rules:
        if not rule.holds(params):
            values = ", ".join(f"{n}={params[n]!r}" for n in rule.names)
            raise ValueError(f"{owner}: {values} is not allowed; it needs {rule.allowed}")


#: common constraints
POSITIVE = Interval(Real, 0, None, closed="neither")
NON_NEGATIVE = Interval(Real, 0, None, closed="left")
FRACTION = Interval(Real, 0, 1, closed="left")
AT_LEAST_ONE = Interval(Integral, 1, None, closed="left")
DEVICE = DeviceName()
SEED = Interval(Integral, 0, 2**32 - 1, closed="both")
