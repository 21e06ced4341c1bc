"""EnOS devices over MQTT under load: connections, acknowledged uplink, Invoke Service round trip.

Starts ``iot-emulator serve`` (file SQLite, one worker) on free ports, creates the devices
through the EnOS API, then, with a small asyncio MQTT 3.1.1 client of its own (one socket per
device, QoS 0, as light as a client can be, so the figures are the emulator's):

1. connects ``--devices`` devices at once (secure mode 2, the SDK's signature) and keeps them;
2. has every device post measure points for ``--seconds``, each waiting for its ``_reply``
   before the next (``--inflight`` per device), and counts the acknowledged ones per second;
   a reply that never comes is reported as lost;
3. invokes a service ``--invokes`` times through ``/connect-service/v2.1/commands`` on one device
   that answers at once, and reports the round trip p50 and p99.

Targets (issue): 3,000 acknowledged messages/s with no reply lost; p50 <= 5 ms.

    .venv/bin/python bench/mqtt.py --devices 1000 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator.testing import free_port

ORG = "o15475450989191"
PRODUCT = "Vu82Agp3"
HEADERS = {"apim-accesstoken": "bench-token"}


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(value: str) -> bytes:
    raw = value.encode()
    return len(raw).to_bytes(2, "big") + raw


def connect_packet(client_id: str, user: str, password: str) -> bytes:
    variable = _string("MQTT") + bytes([4, 0xC2]) + (60).to_bytes(2, "big")
    payload = _string(client_id) + _string(user) + _string(password)
    body = variable + payload
    return bytes([0x10]) + _remaining_length(len(body)) + body


def publish_packet(topic: str, payload: bytes) -> bytes:
    body = _string(topic) + payload
    return bytes([0x30]) + _remaining_length(len(body)) + body


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return header, await reader.readexactly(length)


def parse_publish(header: int, body: bytes) -> tuple[str, bytes]:
    size = int.from_bytes(body[:2], "big")
    topic = body[2 : 2 + size].decode()
    rest = body[2 + size :]
    if (header >> 1) & 0x03:  # QoS 1: a packet id precedes the payload
        rest = rest[2:]
    return topic, rest


class Device:
    def __init__(self, pk: str, dk: str, secret: str) -> None:
        self.pk, self.dk, self.secret = pk, dk, secret
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def connect(self, port: int) -> None:
        ts = str(int(time.time() * 1000))
        content = f"clientId{self.dk}deviceKey{self.dk}productKey{self.pk}timestamp{ts}"
        password = hashlib.sha256((content + self.secret).encode()).hexdigest()
        client_id = f"{self.dk}|securemode=2,signmethod=hmacsha256,timestamp={ts}|"
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write(connect_packet(client_id, f"{self.dk}&{self.pk}", password))
        header, body = await read_packet(self.reader)
        if header >> 4 != 2 or body[1] != 0:
            raise RuntimeError(f"CONNACK refused: {body!r}")

    async def close(self) -> None:
        self.writer.write(b"\xe0\x00")
        self.writer.close()


async def uplink(devices: list[Device], seconds: float) -> tuple[int, int]:
    """Every device posts, waits for its reply, posts again; (acknowledged, lost)."""
    acked = 0
    lost = 0
    deadline = time.monotonic() + seconds

    async def run(device: Device) -> None:
        nonlocal acked, lost
        topic = f"/sys/{device.pk}/{device.dk}/thing/measurepoint/post"
        n = 0
        while time.monotonic() < deadline:
            n += 1
            payload = json.dumps({"id": str(n), "version": "1.0",
                                  "method": "thing.measurepoint.post",
                                  "params": {"measurepoints": {"p": n}}}).encode()  # fmt: skip
            device.writer.write(publish_packet(topic, payload))
            try:
                while True:
                    header, body = await asyncio.wait_for(read_packet(device.reader), 30)
                    if header >> 4 == 3:
                        reply = json.loads(parse_publish(header, body)[1])
                        if reply["id"] == str(n) and reply["code"] == 200:
                            acked += 1
                            break
            except TimeoutError:
                lost += 1
                return

    await asyncio.gather(*(run(d) for d in devices))
    return acked, lost


async def responder(device: Device, stop: asyncio.Event) -> None:
    """Answers every service invocation at once, with its input as output."""
    while not stop.is_set():
        try:
            header, body = await asyncio.wait_for(read_packet(device.reader), 0.5)
        except TimeoutError:
            continue
        if header >> 4 != 3:
            continue
        topic, payload = parse_publish(header, body)
        if "/thing/service/" not in topic:
            continue
        request = json.loads(payload)
        if (header >> 1) & 0x03:
            packet_id = body[
                2 + int.from_bytes(body[:2], "big") : 4 + int.from_bytes(body[:2], "big")
            ]
            device.writer.write(b"\x40\x02" + packet_id)
        reply = json.dumps({"id": request["id"], "code": 200, "data": request["params"]}).encode()
        device.writer.write(publish_packet(topic + "_reply", reply))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main_async(args: argparse.Namespace, http_url: str, mqtt_port: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=http_url, timeout=60) as http:
        made: list[Device] = []
        for i in range(args.devices):
            body = {"productKey": PRODUCT, "deviceKey": f"bench{i:05d}", "timezone": "+08:00",
                    "deviceName": {"defaultValue": f"bench{i}"}}  # fmt: skip
            answer = (await http.post("/connect-service/v2.1/devices",
                                       params={"action": "create", "orgId": ORG},
                                       json=body, headers=HEADERS)).json()  # fmt: skip
            data = answer["data"]
            made.append(Device(data["productKey"], data["deviceKey"], data["deviceSecret"]))
        started = time.perf_counter()
        await asyncio.gather(*(d.connect(mqtt_port) for d in made))
        connect_s = time.perf_counter() - started
        health = (await http.get("/_emulator/health")).json()
        connections = health["listeners"][0]["connections"]

        acked, lost = await uplink(made, args.seconds)
        rate = acked / args.seconds

        target = made[0]
        stop = asyncio.Event()
        answering = asyncio.ensure_future(responder(target, stop))
        rtts: list[float] = []
        for _ in range(args.invokes):
            t0 = time.perf_counter()
            answer = (await http.post("/connect-service/v2.1/commands", params={
                "action": "invokeService", "orgId": ORG, "productKey": target.pk,
                "deviceKey": target.dk, "serviceId": "echo", "timeout": "10",
            }, json={"inputData": {"x": 1}}, headers=HEADERS)).json()  # fmt: skip
            rtts.append((time.perf_counter() - t0) * 1000)
            if answer["code"] != 0:
                raise RuntimeError(f"invokeService answered {answer}")
        stop.set()
        await answering
        await asyncio.gather(*(d.close() for d in made))
    return {
        "devices": args.devices,
        "connected": connections,
        "connect_all_s": round(connect_s, 2),
        "uplink_acked_per_s": round(rate),
        "uplink_lost": lost,
        "invoke_p50_ms": round(statistics.median(rtts), 2),
        "invoke_p99_ms": round(percentile(rtts, 0.99), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--invokes", type=int, default=300)
    args = parser.parse_args()
    http_port, mqtt_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "EMULATOR_PORT": str(http_port), "EMULATOR_MQTT_PORT": str(mqtt_port),
               "EMULATOR_DB": str(Path(tmp) / "bench.db"), "EMULATOR_LOG_LEVEL": "warning",
               "EMULATOR_ACCESS_LOG": "false", "EMULATOR_JOURNAL_SIZE": "10000"}  # fmt: skip
        server = subprocess.Popen([sys.executable, "-m", "emulator", "serve"], env=env)
        print(f"emulator pid {server.pid}", flush=True)
        url = f"http://127.0.0.1:{http_port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{url}/_emulator/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            result = asyncio.run(main_async(args, url, mqtt_port))
        finally:
            server.terminate()
            server.wait(30)
    print(json.dumps(result, indent=2))
    print(f"uplink: {result['uplink_acked_per_s']}/s acknowledged (target 3000/s), "
          f"{result['uplink_lost']} lost (target 0)")  # fmt: skip
    print(f"invoke service: p50 {result['invoke_p50_ms']} ms (target <= 5 ms), "
          f"p99 {result['invoke_p99_ms']} ms")  # fmt: skip


if __name__ == "__main__":
    main()
