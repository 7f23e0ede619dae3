"""Progress outside a terminal (issue 24): plain lines at a steady rate, with the count,
the time elapsed and an estimate of the time left, instead of nothing."""

from __future__ import annotations

import io

import pytest

from emoshift.progress import LineProgress, progress, progress_bar, progress_mode


def _clock(*times: float):
    """A clock that returns ``times`` in turn, then the last one for ever."""
    values = list(times)
    return lambda: values.pop(0) if len(values) > 1 else values[0]


def test_lines_come_at_most_every_interval_with_an_estimate_of_the_time_left():
    out = io.StringIO()
    # created at 0 s; 10 trials finish at 10, 20, ..., 100 s
    bar = LineProgress(
        10, "demo trials", "trial", every=30, stream=out, clock=_clock(0, *range(10, 101, 10))
    )
    with bar:
        for done in range(10):
            bar.set_postfix(failed=0 if done < 5 else 1)
            bar.update()
    assert out.getvalue().splitlines() == [
        "demo trials: 3/10 trials (30%), 30 s elapsed, about 1 min 10 s left [failed=0]",
        "demo trials: 6/10 trials (60%), 1 min 0 s elapsed, about 40 s left [failed=1]",
        "demo trials: 9/10 trials (90%), 1 min 30 s elapsed, about 10 s left [failed=1]",
        "demo trials: 10/10 trials (100%) in 1 min 40 s [failed=1]",
    ]


def test_short_work_prints_nothing_and_long_work_ends_with_a_line():
    out = io.StringIO()
    with LineProgress(3, "cache", "file", every=30, stream=out, clock=_clock(0, 1, 2, 3)) as bar:
        bar.update(3)
    assert out.getvalue() == ""
    with LineProgress(2, "features", "file", every=30, stream=out, clock=_clock(0, 5, 31)) as bar:
        bar.update()
        bar.update()  # the last step: no running line, the closing one
    assert out.getvalue() == "features: 2/2 files (100%) in 31 s\n"


def test_mode_is_lines_outside_a_terminal_unless_switched(monkeypatch):
    monkeypatch.delenv("EMOSHIFT_PROGRESS", raising=False)
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a tty: a log
    assert progress_mode() == progress_mode(True) == "lines"
    assert isinstance(progress_bar(3, desc="x"), LineProgress)
    assert progress_mode(False) == "off"
    for value, mode in (("0", "off"), ("no", "off"), ("lines", "lines"), ("1", "bar")):
        monkeypatch.setenv("EMOSHIFT_PROGRESS", value)
        assert progress_mode() == mode


def test_progress_prints_lines_to_a_log(monkeypatch, capsys):
    monkeypatch.delenv("EMOSHIFT_PROGRESS", raising=False)
    monkeypatch.setenv("EMOSHIFT_PROGRESS_EVERY", "0")
    assert list(progress(["a", "b", "c"], desc="checking audio", unit="file")) == ["a", "b", "c"]
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("checking audio: 1/3 files (33%), 0 s elapsed, about 0 s left")
    assert lines[-1].startswith("checking audio: 3/3 files (100%) in ")
    monkeypatch.setenv("EMOSHIFT_PROGRESS_EVERY", "soon")
    with pytest.raises(ValueError, match="EMOSHIFT_PROGRESS_EVERY='soon'"):
        list(progress([1], desc="x"))
