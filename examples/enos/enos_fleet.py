"""A small EnOS client, as an installer's back office writes one: provision a fleet of
inverters through the device provisioning service (DPS), then read it back.

Plain HTTP with the documented recipes: an access token from the APIM token service
(``encryption = sha256(appKey + timestamp + secretKey)``), then every call signed with
``apim-signature = sha256(accessToken + sorted query k+v + raw body + apim-timestamp + secretKey)``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

TOKEN_PATH = "/apim-token-service/v2.0/token/get"
DPS_PATH = "/dps-service/v2.5/pvs/device"
CONNECT_PATH = "/connect-service/v2.1/devices"


class EnosError(RuntimeError):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"EnOS error {code}: {msg}")
        self.code = code


@dataclass
class EnosClient:
    base_url: str
    app_key: str
    secret_key: str
    org_id: str
    http: httpx.Client = field(init=False)
    _token: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url, timeout=30)

    def close(self) -> None:
        self.http.close()

    def token(self) -> str:
        if self._token is None:
            timestamp = int(time.time() * 1000)
            encryption = hashlib.sha256(
                f"{self.app_key}{timestamp}{self.secret_key}".encode()
            ).hexdigest()
            body = {"appKey": self.app_key, "encryption": encryption, "timestamp": timestamp}
            answer = self.http.post(TOKEN_PATH, json=body).json()
            if answer["status"] != 0:
                raise EnosError(answer["status"], answer["msg"])
            self._token = str(answer["data"]["accessToken"])
        return self._token

    def call(self, path: str, action: str, body: dict[str, Any] | None = None, **query: str) -> Any:
        """One signed API call; the ``data`` of the answer, or EnosError."""
        params = {"action": action, "orgId": self.org_id, **query}
        raw = json.dumps(body or {}, separators=(",", ":"))
        timestamp = str(int(time.time() * 1000))
        token = self.token()
        signed = token + "".join(k + v for k, v in sorted(params.items())) + raw
        signature = hashlib.sha256((signed + timestamp + self.secret_key).encode()).hexdigest()
        headers = {
            "apim-accesstoken": token,
            "apim-signature": signature,
            "apim-timestamp": timestamp,
            "Content-Type": "application/json;charset=UTF-8",
        }
        answer = self.http.post(path, params=params, content=raw, headers=headers).json()
        if answer["code"] != 0:
            raise EnosError(answer["code"], answer["msg"])
        return answer["data"]

    # --- the business -------------------------------------------------------------------------

    def provision_fleet(self, group_id: str, site: str, capacities: list[int]) -> list[str]:
        """Mint one serial number per inverter in the registration group, then allocate each
        with its master data (what the installer's app does on site); the serial numbers."""
        sns: list[str] = self.call(
            DPS_PATH, "create", {"groupId": group_id, "count": len(capacities), "desc": site}
        )
        for sn, capacity in zip(sns, capacities, strict=True):
            device_data = {"site": site, "capacity": capacity}
            self.call(DPS_PATH, "allocate", {"sn": sn, "deviceData": device_data})
        return sns

    def fleet(self, site: str) -> list[dict[str, Any]]:
        """The site's inverters as the operations dashboard shows them: DPS state joined with
        the device the allocation created in the connection service."""
        found = self.call(
            DPS_PATH,
            "search",
            {
                "expression": f"deviceData.site = '{site}'",
                "pagination": {"pageNo": 1, "pageSize": 1000},
            },
        )
        fleet = []
        for item in found:
            device = self.call(CONNECT_PATH, "get", assetId=item["deviceData"]["assetId"])
            fleet.append(
                {
                    "sn": item["sn"],
                    "capacity": item["deviceData"]["capacity"],
                    "status": item["status"]["currentStatus"],
                    "productKey": device["productKey"],
                    "deviceKey": device["deviceKey"],
                    "online": device["status"] == "online",
                }
            )
        return sorted(fleet, key=lambda d: d["sn"])
