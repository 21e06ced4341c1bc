"""Take the dashboard's screenshots of docs/dashboard.md: ``python -m tests.ui.screenshots [DIR]``.

Serves a fresh emulator on a free port, fills a ``demo`` namespace through the vendor APIs
(:func:`tests.ui.scenario.populate`), and saves one PNG per page in ``DIR`` (default
``docs/``), at a laptop's 1440x900.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from emulator.app import create_app
from emulator.config import Settings
from emulator.testing import serve_in_thread
from tests.ui import browser as chromium
from tests.ui import scenario

NAMESPACE = "demo"
# (file name, route, what to click before the shot)
SHOTS = [
    ("dashboard-devices.png", "devices", None),
    ("dashboard-device-commands.png", "devices/quectel/PK0001/DK00002", None),
    ("dashboard-commands.png", "commands", None),
    ("dashboard-dps.png", "dps", None),
    ("dashboard-journal.png", "journal", '[data-operation="quectel.enduser.batch_control_device"]'),
    ("dashboard-faults.png", "faults", None),
    ("dashboard-clock-and-state.png", "control", None),
]


def main(out: Path) -> None:
    reason = chromium.missing()
    if reason is not None:
        raise SystemExit(reason)
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(db=str(Path(tmp) / "emulator.db"), seed=7))
        with serve_in_thread(app) as base, sync_playwright() as playwright:
            with scenario.namespace_client(base, NAMESPACE) as client:
                scenario.populate(client)
            browser = playwright.chromium.launch(
                executable_path=chromium.chromium_path(), args=chromium.CHROMIUM_ARGS
            )
            page = browser.new_page(viewport=chromium.VIEWPORT)  # type: ignore[arg-type]
            for name, route, click in SHOTS:
                page.goto(f"{base}/_emulator/ui?ns={NAMESPACE}#/{route}")
                page.wait_for_selector("main tbody tr")
                if click:
                    page.locator(click).first.click()
                # Two polls: every table and drawer has its data.
                page.wait_for_timeout(1600)
                page.screenshot(path=str(out / name))
                print(out / name)  # noqa: T201
            browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs"))
