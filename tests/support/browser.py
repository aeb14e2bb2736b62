"""Debian's Chromium, driven by Playwright, as the browser tests use it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# No network noise of the browser's own: every request a test sees is the page's.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


def require_chromium() -> None:
    """Skip without Chromium; in CI (TIPLINE_REQUIRE_BROWSER) a missing browser fails."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("TIPLINE_REQUIRE_BROWSER"):
            pytest.fail("chromium is required (apt-get install chromium)")
        pytest.skip("chromium is not installed")
