"""Finding and launching the browser the end-to-end tests drive.

Playwright for Python drives Debian's ``chromium`` (``apt-get install chromium``) through
``executable_path``: it cannot download a browser build of its own here. ``EMULATOR_UI_CHROMIUM``
names another Chromium binary.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page
    from playwright.sync_api._generated import LocatorAssertions, PageAssertions

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A laptop screen: the size docs/dashboard.md's screenshots are taken at too.
VIEWPORT = {"width": 1440, "height": 900}


def chromium_path() -> str | None:
    named = os.environ.get("EMULATOR_UI_CHROMIUM")
    if named:
        return named if os.access(named, os.X_OK) else None
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def missing() -> str | None:
    """Why the end-to-end tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return "no Chromium binary: apt-get install chromium (or set EMULATOR_UI_CHROMIUM)"
    return None


def see(locator: Locator) -> LocatorAssertions:
    """Playwright's ``expect`` on a locator (imported late: Playwright may be absent)."""
    from playwright.sync_api import expect

    return expect(locator)


def see_page(page: Page) -> PageAssertions:
    from playwright.sync_api import expect

    return expect(page)
