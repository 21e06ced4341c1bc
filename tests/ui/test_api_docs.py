"""``/docs`` and ``/redoc`` in a real headless Chromium with every non-loopback request
blocked: both render from the emulator's own assets, and the page tries nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest

from emulator import __version__
from tests.ui import browser as chromium
from tests.ui.browser import see

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class OfflinePage:
    page: Page
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def offline(browser: Browser) -> Iterator[OfflinePage]:
    """A page whose requests beyond loopback are aborted (and noted), as on a machine with no
    network but its own."""
    context = browser.new_context(viewport=chromium.VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    seen = OfflinePage(page)

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in LOOPBACK:
            route.continue_()
        else:
            seen.blocked.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", guard)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    try:
        yield seen
    finally:
        context.close()


def _operations(base_url: str) -> list[tuple[str, str]]:
    schema = httpx.get(f"{base_url}/openapi.json", timeout=30).json()
    return [(path, method) for path, item in schema["paths"].items() for method in item]


def test_swagger_ui_lists_every_operation_with_no_network(
    offline: OfflinePage, ui_base_url: str
) -> None:
    operations = _operations(ui_base_url)
    offline.page.goto(f"{ui_base_url}/docs")
    blocks = offline.page.locator(".opblock")
    see(blocks.first).to_be_visible()
    see(blocks).to_have_count(len(operations))
    create = offline.page.locator(".opblock-post", has_text="/connect-service/v2.1/devices")
    see(create.first).to_contain_text("Create Device")
    assert offline.blocked == []
    assert offline.errors == []


def test_redoc_renders_the_operations_with_no_network(
    offline: OfflinePage, ui_base_url: str
) -> None:
    offline.page.goto(f"{ui_base_url}/redoc")
    see(offline.page.locator("h1").first).to_have_text(f"iot-emulator ({__version__})")
    menu = offline.page.locator("[role=menuitem]")
    see(menu.filter(has_text="Create Device (action=create").first).to_be_attached()
    see(menu.filter(has_text="Allocate DPS Device").first).to_be_attached()
    see(offline.page.get_by_text("Something went wrong")).to_have_count(0)
    # The vendor's logo is refused by the page's own policy: no request leaves the machine.
    assert offline.blocked == []
    assert offline.errors == []
