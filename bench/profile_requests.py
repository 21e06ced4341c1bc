"""Per-request CPU time of each documented operation, in process (no HTTP server, no network).

    .venv/bin/python bench/profile_requests.py create            # one operation
    .venv/bin/python bench/profile_requests.py create --profile  # with cProfile's top functions

It drives the ASGI app directly, so the figure is the emulator's own cost per request, and it
counts CPU time (time.process_time), so other work on the machine barely moves it: the tool to
use while optimising. `make bench` measures the real server against the bare app.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from emulator.app import create_app
from emulator.config import Settings
from emulator.server import settle_heap

ROOT = Path(__file__).resolve().parent.parent
ENOS = {"apim-accesstoken": "bench-token-0001", "content-type": "application/json"}
SAAS = {
    "authorization": "QJWT eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.YmVuY2g",
    "content-type": "application/json",
}
USER = {
    "authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.YmVuY2g",
    "content-type": "application/json",
}
CASES: dict[str, tuple[str, str, str, dict[str, str], bytes | None]] = {
    "create": ("POST", "/connect-service/v2.1/devices", "action=create&orgId=oBench0000001", ENOS,
               json.dumps({"productKey": "BenchProd", "timezone": "+08:00", "deviceName": {"defaultValue": "bench"}}).encode()),
    "bogus": ("POST", "/connect-service/v2.1/devices", "action=bogus&orgId=oBench0000001", ENOS, b"{}"),
    "allocate": ("POST", "/dps-service/v2.5/pvs/device", "action=allocate&orgId=yourOrgId", ENOS,
                 json.dumps({"sn": "yourSn", "deviceData": {"max_capacity": 1.0, "scale": 1}}).encode()),
    "register": ("POST", "/mcs/v2/devices", "", {"authorization": "Bearer benchmcstoken0001", "content-type": "application/json"},
                 json.dumps({"prodId": "a1234567890", "name": "bench", "isTest": True}).encode()),
    "batch1": ("POST", "/v2/devicemgr/r3/openapi/device/createBatch", "", SAAS, None),
    "control1": ("POST", "/v2/binding/enduserapi/batchControlDevice", "", USER,
                 json.dumps({"type": 2, "data": '[{"switch":true}]', "qos": 0,
                             "deviceList": [{"productKey": "PK0001", "deviceKey": "DK00001"}]}).encode()),
    "health": ("GET", "/_emulator/health", "", {}, b""),
    "batch500": ("POST", "/v2/devicemgr/r3/openapi/device/createBatch", "", SAAS, None),
    "control100": ("POST", "/v2/binding/enduserapi/batchControlDevice", "", USER,
                   json.dumps({"type": 2, "data": '[{"switch":true}]', "qos": 0,
                               "deviceList": [{"productKey": "PK0001", "deviceKey": f"BC{i:03d}"}
                                              for i in range(100)]}).encode()),
}  # fmt: skip
BATCH_SIZES = {"batch1": 1, "batch500": 500}


def scope(method: str, path: str, query: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "",
        # A Host header as every HTTP/1.1 client sends (the control plane refuses a foreign one).
        "headers": [(b"host", b"127.0.0.1"), *((k.encode(), v.encode()) for k, v in headers.items())],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip


async def call(
    app: Any, method: str, path: str, query: str, headers: dict[str, str], body: bytes
) -> bytes:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope(method, path, query, headers), receive, send)
    return bytes(sent[-1].get("body", b""))


async def measure(app: Any, name: str, count: int, profile: bool, sort: str = "tottime") -> None:
    method, path, query, headers, fixed = CASES[name]
    serial = 0

    def body() -> bytes:
        nonlocal serial
        if fixed is not None:
            return fixed
        serial += 1
        devices = [{"deviceKey": f"k{serial}-{i}"} for i in range(BATCH_SIZES[name])]
        return json.dumps({"productKey": "PK0001", "devices": devices}).encode()

    online = {"control1": ["DK00001"], "control100": [f"BC{i:03d}" for i in range(100)]}.get(
        name, []
    )
    if online:
        devices = [{"deviceKey": key} for key in online]
        await call(app, "POST", "/v2/devicemgr/r3/openapi/device/createBatch", "", SAAS,
                   json.dumps({"productKey": "PK0001", "devices": devices}).encode())  # fmt: skip
        for key in online:
            await call(app, "POST", f"/_emulator/devices/quectel/PK0001/{key}/online", "", {}, b"")
    for _ in range(min(200, count)):  # warm-up: statement caches, imports
        await call(app, method, path, query, headers, body())
    profiler = cProfile.Profile()
    started = time.process_time()
    if profile:
        profiler.enable()
    for _ in range(count):
        answer = await call(app, method, path, query, headers, body())
    if profile:
        profiler.disable()
    per_request = (time.process_time() - started) / count
    print(f"{name}: {per_request * 1e6:.0f} us CPU per request  {answer[:80]!r}")
    if profile:
        pstats.Stats(profiler).sort_stats(sort).print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description="Per-request CPU time, in process.")
    parser.add_argument("operation", choices=sorted(CASES))
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--sort", default="tottime", help="pstats order of the profile: tottime, cumulative, ..."
    )
    parser.add_argument(
        "--db", default=None,
        help="a database URL (PostgreSQL: give it a search_path of its own); default a SQLite file",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            db=args.db or str(Path(tmp) / "profile.db"), seed=1,
            fixtures=[ROOT / "fixtures" / "default.yaml", ROOT / "bench" / "fixtures.yaml"],
        )  # fmt: skip
        app = create_app(settings)
        settle_heap()  # the collector as a served process has it (emulator/server.py)
        asyncio.run(measure(app, args.operation, args.count, args.profile, args.sort))


if __name__ == "__main__":
    main()
