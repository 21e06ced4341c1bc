"""Both sides of an EnOS installation, each written with the vendor's official library:

- the back office (:class:`BackOffice`) calls the EnOS API through ``enos-poseidon``: create a
  device, read its status, invoke its services, allocate an SN through DPS;
- the inverter (:class:`Inverter`) runs ``enos-mqtt-sdk-python``: it logs in with its
  ``deviceSecret``, reports measure points and answers the ``set_power`` service.

Neither knows it talks to an emulator: the back office gets a base URL, the inverter a
``tcp://host:port``.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import poseidon.poseidon as poseidon
from enos.core.MqttClient import MqttClient
from enos.message.downstream.tsl.ServiceInvocationCommand import ServiceInvocationCommand
from enos.message.downstream.tsl.ServiceInvocationReply import ServiceInvocationReply
from enos.message.upstream.tsl.MeasurepointPostRequest import MeasurepointPostRequest


@dataclass
class BackOffice:
    base_url: str
    access_key: str
    secret_key: str
    org_id: str

    def call(self, path: str, query: dict[str, str], body: dict[str, Any] | None = None) -> Any:
        url = f"{self.base_url}{path}?{urlencode({'orgId': self.org_id, **query})}"
        answer = poseidon.urlopen(self.access_key, self.secret_key, url, data=body or {})
        if not isinstance(answer, dict) or answer.get("code") != 0:
            raise RuntimeError(f"EnOS answered {answer!r}")
        return answer["data"]

    def create_device(self, product_key: str, name: str) -> dict[str, Any]:
        body = {"productKey": product_key, "timezone": "+08:00",
                "deviceName": {"defaultValue": name}}  # fmt: skip
        data: dict[str, Any] = self.call("/connect-service/v2.1/devices", {"action": "create"},
                                         body)  # fmt: skip
        return data

    def device(self, asset_id: str) -> dict[str, Any]:
        query = {"action": "get", "assetId": asset_id}
        data: dict[str, Any] = self.call("/connect-service/v2.1/devices", query)
        return data

    def set_power(self, asset_id: str, kw: float, pending_ttl: int = 0) -> dict[str, Any]:
        query = {"action": "invokeService", "assetId": asset_id, "serviceId": "set_power",
                 "pendingTtl": str(pending_ttl), "timeout": "10"}  # fmt: skip
        data: dict[str, Any] = self.call("/connect-service/v2.1/commands", query,
                                         {"inputData": {"kw": kw}})  # fmt: skip
        return data

    def allocate(self, sn: str) -> dict[str, Any]:
        data: dict[str, Any] = self.call("/dps-service/v2.5/pvs/device", {"action": "allocate"},
                                         {"sn": sn})  # fmt: skip
        return data

    def provisioning(self, sn: str) -> dict[str, Any]:
        data: dict[str, Any] = self.call("/dps-service/v2.5/pvs/device",
                                         {"action": "get", "sn": sn})  # fmt: skip
        return data


@dataclass
class Inverter:
    url: str
    product_key: str
    device_key: str
    secret: str
    power_kw: float = 0.0
    commands: list[float] = field(default_factory=list)
    commanded: threading.Event = field(default_factory=threading.Event)
    client: MqttClient | None = None

    def start(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's paho 1.x API
            self.client = MqttClient(self.url, self.product_key, self.device_key, self.secret)
            self.client.register_arrived_message_handler(
                ServiceInvocationCommand.get_class(), self._on_service
            )
            self.client.connect()

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def report(self, **points: float) -> bool:
        assert self.client is not None
        builder = MeasurepointPostRequest.builder()
        for name, value in points.items():
            builder.add_measurepoint(name, value)
        return bool(self.client.publish(builder.build()).is_success())

    def _on_service(self, message: Any, args: list[str]) -> Any:
        kw = float(message.get_params()["kw"])
        self.power_kw = kw
        self.commands.append(kw)
        self.commanded.set()
        return (
            ServiceInvocationReply.builder().add_output_data("appliedKw", kw)
            .set_code(200).build()
        )  # fmt: skip
