"""Worker processes for extraction: how they start, how many, and when they cannot.

Workers are fresh processes (``forkserver`` on Unix, ``spawn`` elsewhere), never forks of
the caller (a fork of a process that already runs torch or BLAS threads can hang). Such
a worker imports the caller's main script before it runs anything, as Python's
:mod:`multiprocessing` does; a script that calls the extraction at its top level, outside
an ``if __name__ == "__main__":`` guard, would so run again in every worker, which then
tries to start workers of its own and dies (``BrokenProcessPool``).
:func:`unguarded_main_call` finds that case beforehand, so the caller can extract in its
own process instead and say why.

Example:
    >>> resolve_jobs(1), resolve_jobs(None) >= 1
    (1, True)
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import sys
from types import FrameType


def worker_context() -> multiprocessing.context.BaseContext:
    """Workers fork from a server process that imported the extraction module once
    (``forkserver``, so later pools start in milliseconds), or are spawned where there is
    no fork server; either way they inherit none of the caller's state."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["emoshift.features.extract"])
        return context
    return multiprocessing.get_context("spawn")


def resolve_jobs(n_jobs: int | None) -> int:
    """The number of worker processes for ``n_jobs`` (``None`` or ``-1``: one per CPU)."""
    if n_jobs is None or n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive number, -1 or None (all cores), not {n_jobs}")
    return n_jobs


def _is_main_guard(test: ast.expr) -> bool:
    """Whether an ``if`` test is ``__name__ == "__main__"`` (either side, maybe in an ``and``)."""
    for node in ast.walk(test):
        if isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.Eq):
            operands = [node.left, *node.comparators]
            names = {o.id for o in operands if isinstance(o, ast.Name)}
            values = {o.value for o in operands if isinstance(o, ast.Constant)}
            if "__name__" in names and "__main__" in values:
                return True
    return False


def _guarded_lines(source: str) -> list[tuple[int, int]]:
    """Line ranges of the bodies of ``if __name__ == "__main__":`` blocks at top level."""
    ranges = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and _is_main_guard(node.test) and node.body:
            ranges.append((node.body[0].lineno, node.body[-1].end_lineno or node.lineno))
    return ranges


def _main_module_frame(frame: FrameType | None) -> FrameType | None:
    """The frame running the main script's top-level code, if it is on the stack."""
    main = sys.modules.get("__main__")
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is getattr(main, "__dict__", 0):
            return frame
        frame = frame.f_back
    return None


def unguarded_main_call() -> str | None:
    """``"script.py:line"`` if this call comes from the main script's top-level code
    outside an ``if __name__ == "__main__":`` guard (workers would re-run it), else ``None``.

    Interactive sessions, notebooks, ``python -c`` and ``python -m package`` are fine:
    workers do not re-run them. A main script that cannot be read counts as unguarded.
    """
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    spec_name = getattr(getattr(main, "__spec__", None), "name", "") or ""
    if script is None or spec_name == "__main__" or spec_name.endswith(".__main__"):
        return None
    frame = _main_module_frame(sys._getframe(1))
    if frame is None:
        return None
    line = frame.f_lineno
    try:
        with open(script, encoding="utf-8") as file:
            ranges = _guarded_lines(file.read())
    except (OSError, SyntaxError, ValueError):
        return f"{script}:{line}"
    if any(first <= line <= last for first, last in ranges):
        return None
    return f"{script}:{line}"
