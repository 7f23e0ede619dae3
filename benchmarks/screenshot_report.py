"""Render an HTML report in headless Chromium: check every figure, save a PNG screenshot.

Runs ``chromium --headless --dump-dom`` on the page and checks that every ``<img>`` of the
rendered DOM carries a non-empty PNG data URI that decodes to a PNG (as many as the file
holds), then ``--screenshot`` with a window tall enough for the whole page (estimated
from the embedded images' sizes). Exits 0 when the page passes, 1 when it fails, and 0
with a message when Chromium is not installed (``apt-get install chromium``).

Usage:
    python benchmarks/screenshot_report.py RUN_DIR/report/report.html [--png out.png]

Example:
    >>> page = '<img src="data:image/png;base64,iVBORw0KGgo=" alt="a"><img src="x.png">'
    >>> [(alt, ok) for alt, ok in image_checks(page)]
    [('a', True), ('', False)]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDTH = 1400
PAGE_WIDTH = 960
"""Width of the report's content column in CSS pixels (``main`` is 60rem)."""
MAX_HEIGHT = 16000
"""Tallest window Chromium is asked for; longer pages are cut at the bottom."""

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)

IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
SRC = re.compile(r'\bsrc="([^"]*)"')
ALT = re.compile(r'\balt="([^"]*)"')
DATA_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def _png_bytes(src: str) -> bytes | None:
    match = DATA_URI.fullmatch(src)
    if not match:
        return None
    try:
        data = base64.b64decode(match.group(1), validate=True)
    except binascii.Error:
        return None
    return data if data.startswith(PNG_SIGNATURE) else None


def image_checks(page: str) -> list[tuple[str, bool]]:
    """``(alt text, has a non-empty PNG data URI)`` for every ``<img>`` of ``page``."""
    checks = []
    for tag in IMG.findall(page):
        src, alt = SRC.search(tag), ALT.search(tag)
        checks.append((alt.group(1) if alt else "", bool(src and _png_bytes(src.group(1)))))
    return checks


def page_height(page: str, width: int = PAGE_WIDTH) -> int:
    """An upper estimate of the page height in CSS pixels: the embedded images scaled to
    the content width, plus room for captions, tables and text."""
    height = 1500 + 30 * page.count("<tr>") + 24 * page.count("<li>")
    for src in SRC.findall(page):
        data = _png_bytes(src)
        if data is not None and len(data) >= 24:
            png_width, png_height = struct.unpack(">II", data[16:24])
            height += round(png_height * min(1.0, width / max(png_width, 1))) + 90
    return min(height, MAX_HEIGHT)


def chromium(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run headless Chromium with a throw-away profile and the network features off."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise FileNotFoundError("chromium is not on PATH; install it: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )


def check_report(html: Path, png: Path, width: int = WIDTH) -> list[str]:
    """Dump the rendered DOM, check its images, take the screenshot; return the problems."""
    page = html.read_text(encoding="utf-8")
    expected = len(IMG.findall(page))
    url = html.resolve().as_uri()
    dom = chromium("--dump-dom", url).stdout
    checks = image_checks(dom)
    problems = [f"<img alt={alt!r} has no PNG data URI" for alt, ok in checks if not ok]
    if len(checks) != expected:
        problems.append(f"the rendered DOM has {len(checks)} <img> but the file has {expected}")
    good = sum(ok for _, ok in checks)
    print(f"{good} of {expected} images have a PNG data URI in the rendered DOM")
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    chromium(f"--window-size={width},{page_height(page)}", f"--screenshot={png.resolve()}", url)
    if not png.is_file() or not png.read_bytes().startswith(PNG_SIGNATURE):
        problems.append(f"chromium wrote no screenshot to {png}")
    else:
        print(f"screenshot: {png}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path, help="report.html to render")
    parser.add_argument("--png", type=Path, default=None, help="screenshot (default: next to it)")
    parser.add_argument("--width", type=int, default=WIDTH, help="window width in pixels")
    args = parser.parse_args(argv)
    if not args.html.is_file():
        parser.error(f"{args.html} does not exist")
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        print("skipped: chromium is not on PATH (apt-get install chromium)")
        return 0
    png = args.png or args.html.with_name("screenshot.png")
    problems = check_report(args.html, png, args.width)
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
