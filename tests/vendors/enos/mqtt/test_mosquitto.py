"""Debian's mosquitto clients as a second, independent MQTT client (skipped, with the reason,
where they are absent; ``.ci/run`` installs them). The credentials follow ENOS-DEVICES.md §2,
computed here from the document's recipe."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time

import pytest

from tests.vendors.enos.helpers import HEADERS
from tests.vendors.enos.mqtt.conftest import Live
from tests.vendors.enos.mqtt.test_commands import commands_url
from tests.vendors.enos.mqtt.test_login import wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto_pub") is None or shutil.which("mosquitto_sub") is None,
    reason="mosquitto-clients is not installed (apt-get install mosquitto-clients)",
)


def credentials(pk: str, dk: str, secret: str) -> list[str]:
    ts = str(int(time.time() * 1000))
    content = f"clientId{dk}deviceKey{dk}productKey{pk}timestamp{ts}{secret}"
    return [
        "-i", f"{dk}|securemode=2,signmethod=sha256,timestamp={ts}|",
        "-u", f"{dk}&{pk}",
        # EnOS's docs write the digest in upper case; the SDK in lower case.
        "-P", hashlib.sha256(content.encode()).hexdigest().upper(),
    ]  # fmt: skip


def test_mosquitto_pub_posts_a_measure_point(live: Live) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    payload = '{"id":"1","version":"1.0","method":"thing.measurepoint.post",' \
        '"params":{"measurepoints":{"rpm":1200},"time":1796065187000}}'  # fmt: skip
    subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(live.mqtt_port), "-q", "1",
         *credentials(pk, dk, device["deviceSecret"]),
         "-t", f"/sys/{pk}/{dk}/thing/measurepoint/post", "-m", payload],
        check=True, timeout=30,
    )  # fmt: skip
    wait_for(lambda: "measurepoints" in live.device(pk, dk)["attrs"], "the measure point")
    assert live.device(pk, dk)["attrs"]["measurepoints"]["rpm"]["value"] == 1200


def test_mosquitto_pub_with_a_wrong_secret_is_refused(live: Live) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    done = subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(live.mqtt_port),
         *credentials(pk, dk, "wrong"), "-t", f"/sys/{pk}/{dk}/thing/measurepoint/post",
         "-m", "{}"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode != 0
    assert "not authorised" in (done.stderr + done.stdout).lower()


def test_mosquitto_sub_receives_a_cached_command_at_login(live: Live) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    url = commands_url("invokeService", productKey=pk, deviceKey=dk, serviceId="reboot",
                       pendingTtl="600")  # fmt: skip
    answer = live.http.post(url, json={"inputData": {"delay": 5}}, headers=HEADERS).json()
    ticket = answer["data"]["commandId"]
    done = subprocess.run(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(live.mqtt_port), "-q", "1",
         *credentials(pk, dk, device["deviceSecret"]),
         "-t", f"/sys/{pk}/{dk}/thing/service/+", "-C", "1", "-W", "20", "-v"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    topic, _, message = done.stdout.strip().partition(" ")
    assert topic == f"/sys/{pk}/{dk}/thing/service/reboot"
    assert f'"id":"{ticket}"' in message
    assert '"method":"thing.service.reboot"' in message


def test_mosquitto_pub_sees_a_login_fault_as_connack_3(live: Live) -> None:
    device = live.create_device()
    pk, dk = device["productKey"], device["deviceKey"]
    armed = live.http.post("/_emulator/faults", json={"operation": "enos.mqtt.login", "code": 3})
    assert armed.status_code == 201
    done = subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(live.mqtt_port),
         *credentials(pk, dk, device["deviceSecret"]),
         "-t", f"/sys/{pk}/{dk}/thing/measurepoint/post", "-m", "{}"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode != 0
    # libmosquitto's words for CONNACK 3: "Connection Refused: broker unavailable."
    assert "unavailable" in (done.stderr + done.stdout).lower()
