"""Headless Chromium for looking at the outputs as a person would: the rendered DOM of a page
after its scripts ran, screenshots (PNG) and printing to PDF.

Chromium is Debian's ``chromium`` package (not a browser downloaded at run time). Pages are
loaded from ``file://`` with background networking off; a page that asks the network for
something (map tiles) simply does not get it, and the virtual time budget lets it finish.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Milliseconds of virtual time the page gets to run its scripts before the DOM or screenshot.
VIRTUAL_TIME_BUDGET_MS = 5000
TIMEOUT_S = 120


def find_chromium() -> str | None:
    """The path of a Chromium binary (``$CHROMIUM`` first), or None."""
    explicit = os.environ.get("CHROMIUM")
    if explicit and shutil.which(explicit):
        return shutil.which(explicit)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(page: Path, extra: list[str], chromium: str | None) -> subprocess.CompletedProcess[str]:
    binary = chromium or find_chromium()
    if binary is None:
        raise FileNotFoundError("no Chromium binary found (install Debian's chromium package)")
    with tempfile.TemporaryDirectory(prefix="kst-chromium-") as profile:
        command = [
            binary,
            "--headless",
            "--no-sandbox",  # runs as root in CI
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
            *extra,
            Path(page).resolve().as_uri(),
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    if result.returncode != 0:
        raise RuntimeError(f"chromium failed ({result.returncode}): {result.stderr[-2000:]}")
    return result


def dump_dom(page: str | Path, *, chromium: str | None = None) -> str:
    """The page's DOM as HTML after its scripts ran."""
    return _run(Path(page), ["--dump-dom"], chromium).stdout


def screenshot(
    page: str | Path,
    png: str | Path,
    *,
    size: tuple[int, int] = (1200, 900),
    chromium: str | None = None,
) -> Path:
    """Write a PNG screenshot of ``page`` at ``size`` (width, height in pixels); returns it."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(Path(page), [f"--screenshot={png}", f"--window-size={size[0]},{size[1]}"], chromium)
    if not png.exists():
        raise RuntimeError(f"chromium wrote no screenshot to {png}")
    return png


def print_pdf(page: str | Path, pdf: str | Path, *, chromium: str | None = None) -> Path:
    """Print ``page`` to ``pdf`` as Chromium prints it (A4 from the page's print CSS, no header
    or footer of the browser's own); returns the PDF's path."""
    pdf = Path(pdf).resolve()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    _run(Path(page), [f"--print-to-pdf={pdf}", "--no-pdf-header-footer"], chromium)
    if not pdf.exists():
        raise RuntimeError(f"chromium wrote no PDF to {pdf}")
    return pdf
