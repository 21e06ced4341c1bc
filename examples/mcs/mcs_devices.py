"""A small MediaTek Cloud Sandbox (MCS) client, as a sensor vendor's provisioning tool writes
one: log in with OAuth, register devices, read them back.

Plain HTTP with the documented recipes: ``POST /oauth/login/thirdparty`` with
``Authorization: Basic base64(appKey:appSecret)`` and the developer's email and password (a
form) gives an access token, sent as ``Authorization: Bearer <token>``; it lives an hour, so the
client logs in again when the API answers 401.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

LOGIN_PATH = "/oauth/login/thirdparty"
DEVICES_PATH = "/mcs/v2/devices"


class McsError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        results = body.get("results", {}) if isinstance(body, dict) else {}
        super().__init__(f"MCS error {status}: {results.get('description', body)}")
        self.status = status
        self.code = results.get("code")


class McsClient:
    def __init__(self, base_url: str, app_key: str, app_secret: str, email: str, password: str):
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self._basic = base64.b64encode(f"{app_key}:{app_secret}".encode()).decode()
        self._email = email
        self._password = password
        self._token: str | None = None
        self.logins = 0

    def close(self) -> None:
        self.http.close()

    def login(self) -> str:
        response = self.http.post(
            LOGIN_PATH,
            headers={"Authorization": f"Basic {self._basic}"},
            data={"email": self._email, "password": self._password},
        )
        if response.status_code != 200:
            raise McsError(response.status_code, response.json())
        self.logins += 1
        self._token = str(response.json()["access_token"])
        return self._token

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in range(2):
            token = self._token or self.login()
            response = self.http.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
            if response.status_code == 401 and attempt == 0:
                self._token = None  # expired: log in again once
                continue
            if response.status_code != 200:
                raise McsError(response.status_code, response.json())
            return response.json()
        raise AssertionError("unreachable")

    def register(
        self, prod_id: str, names: list[str], serials: list[str] | None = None, test: bool = False
    ) -> list[dict[str, str]]:
        """Register devices in one request (all or nothing); their ``deviceId``/``deviceKey``."""
        devices: list[dict[str, Any]] = []
        for index, name in enumerate(names):
            device: dict[str, Any] = {"prodId": prod_id, "name": name, "isTest": test}
            if serials is not None:
                device["serial"] = serials[index]
            devices.append(device)
        answer = self._request("POST", DEVICES_PATH, json={"devices": devices})
        credentials: list[dict[str, str]] = answer["credentials"]
        return credentials

    def devices(self, device_ids: list[str]) -> list[dict[str, Any]]:
        answer = self._request("GET", f"{DEVICES_PATH}/{','.join(device_ids)}")
        results: list[dict[str, Any]] = answer["results"]
        return results
