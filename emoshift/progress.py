"""Progress: a bar on a terminal, plain lines in a log, nothing when switched off.

Outside a terminal (a log file, CI, a cluster job) a bar would be invisible or a mess
of carriage returns, so long work prints a plain line instead every
:data:`LINE_SECONDS` seconds (``$EMOSHIFT_PROGRESS_EVERY`` sets another interval), e.g.
``egemaps features: 120/1072 files (11%), 45 s elapsed, about 5 min 57 s left``, and a
last line when it ends. Work shorter than the interval prints nothing.
``$EMOSHIFT_PROGRESS``: ``0`` (or ``false``, ``no``, empty) switches progress off,
``lines`` asks for lines even on a terminal, anything else for bars.

Example:
    >>> import io
    >>> sum(progress(range(3), desc="counting", enabled=False))
    3
    >>> clock = iter([0.0, 10.0, 40.0, 50.0, 50.0]).__next__
    >>> out = io.StringIO()
    >>> with LineProgress(3, "trials", "trial", every=30, stream=out, clock=clock) as bar:
    ...     for _ in range(3):
    ...         bar.update()
    >>> print(out.getvalue(), end="")
    trials: 2/3 trials (67%), 40 s elapsed, about 20 s left
    trials: 3/3 trials (100%) in 50 s
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Literal, TextIO, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

LINE_SECONDS = 30.0
"""Default seconds between two progress lines outside a terminal."""

_OFF = ("0", "false", "no", "")


def progress_mode(enabled: bool | None = None) -> Literal["bar", "lines", "off"]:
    """How to show progress: ``False``: off; ``None``: as ``$EMOSHIFT_PROGRESS`` says when
    set; otherwise a bar on a terminal (stderr is a tty) and plain lines elsewhere."""
    if enabled is False:
        return "off"
    env = os.environ.get("EMOSHIFT_PROGRESS")
    if enabled is None and env is not None:
        choice = env.strip().lower()
        return "off" if choice in _OFF else "lines" if choice == "lines" else "bar"
    return "bar" if sys.stderr.isatty() else "lines"


def line_seconds() -> float:
    """Seconds between progress lines: ``$EMOSHIFT_PROGRESS_EVERY`` or :data:`LINE_SECONDS`."""
    value = os.environ.get("EMOSHIFT_PROGRESS_EVERY")
    try:
        return max(float(value), 0.0) if value else LINE_SECONDS
    except ValueError:
        raise ValueError(
            f"EMOSHIFT_PROGRESS_EVERY={value!r}: give the seconds between progress lines, e.g. 60"
        ) from None


def duration_text(seconds: float) -> str:
    """A duration as people read it.

    Example:
        >>> duration_text(42.4), duration_text(357), duration_text(7384)
        ('42 s', '5 min 57 s', '2 h 03 min')
    """
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class LineProgress:
    """Plain progress lines for a log: the count done of ``total``, the time elapsed and
    an estimate of the time left (from the mean rate so far), at most one line every
    ``every`` seconds, and a last line on :meth:`close` once any line was printed.

    Takes the calls the runner makes on a tqdm bar (``update``, ``set_postfix``,
    ``close``, use as a context manager); ``set_postfix`` values end each line.
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str = "it",
        *,
        every: float | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.every = line_seconds() if every is None else every
        self.stream = stream
        self.clock = clock
        self.n = 0
        self.postfix = ""
        self.started = self.last_line = clock()
        self.printed = False
        self.closed = False

    def update(self, n: int = 1) -> None:
        """Count ``n`` more done; print a line if ``every`` seconds passed since the last."""
        self.n += n
        now = self.clock()
        if now - self.last_line >= self.every and not (self.total and self.n >= self.total):
            self._print(self._running(now - self.started))
            self.last_line = now
        elif self.total and self.n >= self.total and now - self.started >= self.every:
            self.printed = True  # the last line comes from close()

    def set_postfix(self, **values: object) -> None:
        """Values to end each line with, e.g. ``failed=2``."""
        self.postfix = ", ".join(f"{name}={value}" for name, value in values.items())

    def close(self) -> None:
        """The last line (count and total time), if the work printed any line."""
        if self.closed:
            return
        self.closed = True
        if self.printed:
            self._print(f"{self._count()} in {duration_text(self.clock() - self.started)}")

    def _count(self) -> str:
        units = f"{self.unit}s" if self.unit != "it" else "items"
        if not self.total:
            return f"{self.n} {units}"
        return f"{self.n}/{self.total} {units} ({100 * self.n / self.total:.0f}%)"

    def _running(self, elapsed: float) -> str:
        text = f"{self._count()}, {duration_text(elapsed)} elapsed"
        if self.total and self.n:
            text += f", about {duration_text(elapsed / self.n * (self.total - self.n))} left"
        return text

    def _print(self, text: str) -> None:
        self.printed = True
        tail = f" [{self.postfix}]" if self.postfix else ""
        print(f"{self.desc}: {text}{tail}", file=self.stream or sys.stderr, flush=True)

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(
    total: int | None,
    *,
    desc: str,
    unit: str = "it",
    enabled: bool | None = None,
    leave: bool = False,
) -> tqdm | LineProgress:
    """A progress display for ``total`` steps (see :func:`progress_mode`): a tqdm bar on
    stderr (kept on screen when done with ``leave``), :class:`LineProgress` lines, or a
    disabled bar that shows nothing."""
    mode = progress_mode(enabled)
    if mode == "lines":
        return LineProgress(total, desc, unit)
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=mode == "off",
        file=sys.stderr,
        dynamic_ncols=True,
        leave=leave,
    )


def progress(
    iterable: Iterable[T],
    *,
    desc: str,
    total: int | None = None,
    enabled: bool | None = None,
    unit: str = "it",
) -> Iterator[T]:
    """``iterable``'s items, counted on a :func:`progress_bar` as they are consumed."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with progress_bar(total, desc=desc, unit=unit, enabled=enabled) as bar:
        for item in iterable:
            yield item
            bar.update()
