"""Browser tests: Playwright driving Debian's Chromium (``/usr/bin/chromium``).

The fixture installs the ``chromium`` package when it is absent (CI runs as root; ``.ci/run``
installs it too), so the tests never skip. Each test gets a fresh browser context.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = Path(os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium"))


def _ensure_chromium() -> Path:
    if not CHROMIUM.exists():
        apt = shutil.which("apt-get")
        assert apt, f"{CHROMIUM} is missing and apt-get is not available to install it"
        subprocess.run([apt, "install", "-y", "-q", "chromium"], check=True)
    assert CHROMIUM.exists(), f"{CHROMIUM} is still missing"
    return CHROMIUM


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    return _ensure_chromium()


@pytest.fixture
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium_path))
        try:
            yield browser
        finally:
            await browser.close()
