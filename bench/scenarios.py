"""The requests the benchmark sends: one scenario per documented operation, plus the baseline.

Bodies are the doc samples where they can be repeated (a DPS SN can be allocated again and
again: re-provisioning), and fresh unique keys per request where the doc's operation creates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from load import Scenario

RUN = os.urandom(3).hex()  # keys of this run never collide with an earlier run's
JSON = {"Content-Type": "application/json"}
ENOS = {**JSON, "apim-accesstoken": "bench-token-0001"}
QUECTEL_SAAS = {**JSON, "Authorization": "QJWT eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.YmVuY2g"}
QUECTEL_USER = {**JSON, "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.YmVuY2g"}
MCS = {**JSON, "Authorization": "Bearer benchmcstoken0001"}

ECHO = Scenario(
    "bare app: validate and echo", "POST", "/echo", JSON,
    body=json.dumps({"productKey": "Vu82Agp3", "timezone": "+08:00", "deviceKey": "abc"}),
)  # fmt: skip

CREATE_DEVICE = Scenario(
    "enos.connect.create_device", "POST",
    "/connect-service/v2.1/devices?action=create&orgId=oBench0000001", ENOS,
    body=json.dumps({"productKey": "BenchProd", "timezone": "+08:00", "deviceName": {"defaultValue": "bench"}}),
)  # fmt: skip

ALLOCATE = Scenario(
    "enos.dps.allocate", "POST", "/dps-service/v2.5/pvs/device?action=allocate&orgId=yourOrgId", ENOS,
    body=json.dumps({"sn": "yourSn", "deviceData": {"max_capacity": 1.0, "scale": 1}}),
)  # fmt: skip

REGISTER = Scenario(
    "mcs.register_device", "POST", "/mcs/v2/devices", MCS,
    body=json.dumps({"prodId": "a1234567890", "name": "bench device", "isTest": True}),
)  # fmt: skip


def create_batch(size: int) -> Scenario:
    """createBatch of ``size`` devices with keys unique to this run and request."""
    return Scenario(
        f"quectel.devicemgr.create_batch ({size} device{'s' if size > 1 else ''})", "POST",
        "/v2/devicemgr/r3/openapi/device/createBatch", QUECTEL_SAAS,
        body_lua=(
            "local parts = {} "
            f"for i = 1, {size} do parts[i] = '{{\"deviceKey\":\"{RUN}-{size}-' .. counter .. '-' .. i .. '\"}}' end "
            "body = '{\"productKey\":\"PK0001\",\"devices\":[' .. table.concat(parts, ',') .. ']}'"
        ),
        body_fn=lambda n: json.dumps(
            {"productKey": "PK0001", "devices": [{"deviceKey": f"{RUN}-{size}-py{n}-{i}"} for i in range(size)]}
        ),
    )  # fmt: skip


ONLINE = [f"BC{i:03d}" for i in range(1, 101)]


def batch_control(count: int) -> Scenario:
    """A property command to ``count`` online devices, acknowledged at once (qos 0)."""
    return Scenario(
        f"quectel.enduser.batch_control_device ({count} online)", "POST",
        "/v2/binding/enduserapi/batchControlDevice", QUECTEL_USER,
        body=json.dumps({
            "type": 2, "data": '[{"switch":true}]', "qos": 0,
            "deviceList": [{"productKey": "PK0001", "deviceKey": key} for key in ONLINE[:count]],
        }),
    )  # fmt: skip


BATCH_SIZE = 500
CREATE_BATCH_1 = create_batch(1)
CREATE_BATCH_500 = create_batch(BATCH_SIZE)
BATCH_CONTROL_1 = batch_control(1)
BATCH_CONTROL_100 = batch_control(100)

# Requests/s against the bare app: each operation at its smallest, at the shared concurrency.
OPERATIONS = [CREATE_DEVICE, CREATE_BATCH_1, BATCH_CONTROL_1, ALLOCATE, REGISTER]
# The batch figures: createBatch throughput in devices/s (shared concurrency), and the latency
# of one 100-device batchControlDevice (one connection, so the p50 is the request's own time).
BATCHES = [(CREATE_BATCH_500, None), (BATCH_CONTROL_100, 1)]
SCALE_SENSITIVE = (CREATE_DEVICE.name, CREATE_BATCH_500.name, BATCH_CONTROL_100.name)


def _send(client: httpx.Client, scenario: Scenario) -> httpx.Response:
    body = scenario.body_for(0)
    return client.request(
        scenario.method, scenario.path, content=body.encode(), headers=scenario.headers
    )


def available(url: str, scenario: Scenario) -> bool:
    """The operation is served and its sample succeeds (vendor errors travel at HTTP 200)."""
    with httpx.Client(base_url=url, timeout=30) as client:
        response = _send(client, scenario)
    if response.status_code == 404:
        return False
    body = response.json()
    ok = body.get("code") in (0, 200) or "deviceId" in body or "credentials" in body
    if not ok:
        raise RuntimeError(f"{scenario.name}: the sample request failed: {response.text[:300]}")
    return True


def prepare(url: str) -> None:
    """The 100 online devices that batchControlDevice commands."""
    with httpx.Client(base_url=url, timeout=30) as client:
        response = client.post(
            "/v2/devicemgr/r3/openapi/device/createBatch", headers=QUECTEL_SAAS,
            json={"productKey": "PK0001", "devices": [{"deviceKey": key} for key in ONLINE]},
        )  # fmt: skip
        if response.status_code == 404:
            return
        for key in ONLINE:
            client.post(f"/_emulator/devices/quectel/PK0001/{key}/online")


def fill_registry(db: Path, count: int, fixtures: list[Path]) -> None:
    """``count`` devices into the registry of a stopped emulator, with the fleet generator a
    user would run: half EnOS (the create-device product), half Quectel (createBatch's and
    batchControlDevice's product)."""
    half = count // 2
    common = ["--db", str(db), "--seed", "1", "--quiet"]
    for fixture in fixtures:
        common += ["--fixtures", str(fixture)]
    for vendor, product, n in (("enos", "BenchProd", half), ("quectel", "PK0001", count - half)):
        subprocess.run(
            [sys.executable, "-m", "emulator", "fleet", "--vendor", vendor, "--product", product,
             "--count", str(n), "--prefix", f"fill-{RUN}-", *common],
            check=True,
        )  # fmt: skip
