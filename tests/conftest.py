"""Test-wide settings: torch on one thread (small networks, shared cores), no progress bars,
and the count of the bad-input suite (tests marked ``bad_input``, issue 11) at the end."""

from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("EMOSHIFT_PROGRESS", "0")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print "bad-input cases: N passed of M" when the run held any ``bad_input`` test."""
    reports = [
        report
        for outcome in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
        for report in terminalreporter.stats.get(outcome, [])
        if getattr(report, "when", "call") in ("call", "setup")
        and "bad_input" in getattr(report, "keywords", {})
    ]
    cases: dict[str, bool] = {}
    for report in reports:
        passed = report.passed and report.when == "call"
        cases[report.nodeid] = cases.get(report.nodeid, False) or passed
    if cases:
        passed = sum(cases.values())
        terminalreporter.write_line(f"bad-input cases: {passed} passed of {len(cases)}")
