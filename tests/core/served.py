"""An emulator on a SQLite file, served in process, whose COMMITs are counted: the group
commit and checkpoint tests' (``served`` in conftest.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from emulator.app import create_app
from emulator.config import Settings
from emulator.core.context import Emulator
from tests.control.helpers import create_body
from tests.vendors.enos.helpers import HEADERS, devices_url


class Served:
    def __init__(self, db: Path) -> None:
        self.db = db
        self.app = create_app(Settings(db=str(db), seed=1))
        self.emulator: Emulator = self.app.state.emulator
        self.commits = 0
        event.listen(self.emulator.engine, "commit", self._count)

    def _count(self, _conn: Any) -> None:
        self.commits += 1

    def committed_keys(self) -> set[str]:
        """The EnOS device keys another connection sees (committed only)."""
        with sqlite3.connect(self.db) as conn:
            rows = conn.execute("SELECT device_key FROM devices WHERE vendor = 'enos'")
            return {row[0] for row in rows}

    def creates(self, *keys: str, app: Any = None) -> list[dict[str, Any]]:
        """Creates sent at once; their handlers run in one loop turn."""

        async def run() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=app or self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as c:
                return await asyncio.gather(
                    *(
                        c.post(devices_url("create"), json=create_body(k), headers=HEADERS)
                        for k in keys
                    )
                )

        return [r.json() for r in asyncio.run(run())]
