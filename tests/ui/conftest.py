"""Fixtures of the dashboard's end-to-end tests: one emulator on a real socket and one
Chromium per session; each test gets a fresh browser context and its own namespace."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import pytest

from emulator.app import create_app
from emulator.config import Settings
from emulator.testing import serve_in_thread
from tests.conftest import MODE
from tests.ui import browser as chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# Expectations wait this long for what the page's polls bring.
EXPECT_TIMEOUT_MS = 10_000
POLL_MS = 300


@pytest.fixture(scope="session")
def ui_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The emulator, served over a real socket as a user runs it (a file database)."""
    db = tmp_path_factory.mktemp("ui") / "emulator.db"
    app = create_app(Settings(db=str(db), seed=4242))
    with serve_in_thread(app) as url:
        yield url


ADMIN_TOKEN = "ui-admin-token"


@pytest.fixture(scope="session")
def ui_admin_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An emulator whose control plane needs an admin token (``--admin-token``)."""
    db = tmp_path_factory.mktemp("ui-admin") / "emulator.db"
    app = create_app(Settings(db=str(db), seed=4242, admin_token=ADMIN_TOKEN))
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if MODE == "server":
        pytest.skip(
            "the dashboard tests always serve their own emulator over a socket: they run once,"
            " in the in-process pass"
        )
    reason = chromium.missing()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium.chromium_path(), args=chromium.CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Dashboard:
    """The page, and a vendor client, both in this test's namespace."""

    page: Page
    api: httpx.Client
    base_url: str
    namespace: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def open(self, route: str = "devices") -> Page:
        # Polling faster than the default 1.5 s keeps the suite quick; the code path is the same.
        self.page.goto(f"{self.base_url}/_emulator/ui?ns={self.namespace}&poll={POLL_MS}#/{route}")
        return self.page


def _console(board: Dashboard, kind: str, text: str) -> None:
    # An answered HTTP error (a 404 or 409 the page reports) is not a script error.
    if kind == "error" and not text.startswith("Failed to load resource"):
        board.errors.append(text)


@pytest.fixture
def dashboard(browser: Browser, ui_base_url: str, namespace: str) -> Iterator[Dashboard]:
    context = browser.new_context(viewport=chromium.VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    with httpx.Client(base_url=f"{ui_base_url}/ns/{namespace}", timeout=30) as api:
        board = Dashboard(page=page, api=api, base_url=ui_base_url, namespace=namespace)
        page.on("pageerror", lambda error: board.errors.append(str(error)))
        page.on("console", lambda message: _console(board, message.type, message.text))
        page.on("request", lambda request: board.requests.append(request.url))
        try:
            yield board
        finally:
            context.close()
    # A script error fails the test that caused it, whatever it asserted.
    assert board.errors == [], board.errors
