"""Progress bars that show on a terminal and stay quiet in logs and tests.

Example:
    >>> from emoshift.progress import progress
    >>> sum(progress(range(3), desc="counting", enabled=False))
    3
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_enabled(enabled: bool | None = None) -> bool:
    """Whether to draw progress: explicit choice, else ``EMOSHIFT_PROGRESS``, else a tty."""
    if enabled is not None:
        return enabled
    env = os.environ.get("EMOSHIFT_PROGRESS")
    if env is not None:
        return env not in ("0", "false", "no", "")
    return sys.stderr.isatty()


def progress(
    iterable: Iterable[T],
    *,
    desc: str,
    total: int | None = None,
    enabled: bool | None = None,
    unit: str = "it",
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar on stderr when progress is enabled."""
    return iter(
        tqdm(
            iterable,
            desc=desc,
            total=total,
            unit=unit,
            disable=not progress_enabled(enabled),
            file=sys.stderr,
            dynamic_ncols=True,
            leave=False,
        )
    )
