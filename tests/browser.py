"""A headless Chromium for browser tests, or a clear skip when the machine has none.

Tests that look at pages (the trace viewer, the docs site's pictures) use the system's
Chromium (Debian's ``chromium`` package, installed by ``.ci/run``) driven by Playwright's
Python client. Playwright's own browser downloads are never used: the machine has no
network beyond loopback.

    from tests.browser import chromium

    def test_page(tmp_path):
        with chromium() as browser:
            page = browser.new_page()
            ...
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

# The flags keep a headless Chromium from reaching for Google's hosts, which this
# machine's closed network refuses (many at a time, slowly), and let it run as root.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The system Chromium's path, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright ``Browser``); skips the test if none."""
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the dev extra installs it
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def console_errors(page: Any) -> list[str]:
    """Start collecting a page's console errors and uncaught exceptions; returns the list."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors
