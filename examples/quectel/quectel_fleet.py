"""A small Quectel client, as a smart-plug maker writes one: register a production batch of
devices through the Developer Center (device manager), then switch them from the end-user
(App) API, with the command cached for the devices that are not connected yet.

Plain HTTP with the documented recipes:

- device manager: ``accessKeyLogin`` with ``username`` =
  ``ver=1&auth_mode=accessKey&sign_method=sha256&access_key=<AK>&timestamp=<ms>`` and
  ``password = sha256hex(username + AccessSecret)``; the token goes in ``Authorization``;
- end user: ``emailPwdLogin`` with ``pwd = base64(AES-128-CBC(password))`` (key and IV from
  ``md5(random)``) and ``signature = sha256hex(email + pwd + random + userDomainSecret)``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
import time
from typing import Any

import httpx
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad

LOGIN_PATH = "/v2/quecauth/accessKeyAuthrize/accessKeyLogin"
CREATE_BATCH_PATH = "/v2/devicemgr/r3/openapi/device/createBatch"
EMAIL_LOGIN_PATH = "/v2/enduser/enduserapi/emailPwdLogin"
BATCH_CONTROL_PATH = "/v2/binding/enduserapi/batchControlDevice"
# createBatch takes 500 devices per call; batchControlDevice's list is shorter (100 here).
CREATE_BATCH_SIZE = 500
CONTROL_BATCH_SIZE = 100


class QuectelError(RuntimeError):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"Quectel error {code}: {msg}")
        self.code = code


def _check(answer: dict[str, Any]) -> Any:
    if answer.get("code") != 200:
        raise QuectelError(int(answer.get("code", 0)), str(answer.get("msg")))
    return answer.get("data")


class DeviceManager:
    """The Developer Center OpenAPI: the factory registers what it produced."""

    def __init__(self, base_url: str, access_key: str, access_secret: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.access_key = access_key
        self.access_secret = access_secret
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    def token(self) -> str:
        if self._token is None:
            username = (
                "ver=1&auth_mode=accessKey&sign_method=sha256"
                f"&access_key={self.access_key}&timestamp={int(time.time() * 1000)}"
            )
            password = hashlib.sha256((username + self.access_secret).encode()).hexdigest()
            params = {"grant_type": "password", "username": username, "password": password}
            answer = self.http.get(LOGIN_PATH, params=params).json()
            _check(answer)
            self._token = str(answer["access_token"])
        return self._token

    def register_batch(self, product_key: str, device_keys: list[str]) -> dict[str, str]:
        """Register devices 500 at a time; their secrets by deviceKey (to flash them)."""
        secrets_by_key: dict[str, str] = {}
        for start in range(0, len(device_keys), CREATE_BATCH_SIZE):
            chunk = device_keys[start : start + CREATE_BATCH_SIZE]
            body = {"productKey": product_key, "devices": [{"deviceKey": dk} for dk in chunk]}
            answer = self.http.post(
                CREATE_BATCH_PATH, json=body, headers={"Authorization": self.token()}
            ).json()
            data = _check(answer)
            if data["failureList"]:
                failed = [(f["data"]["deviceKey"], f["msg"]) for f in data["failureList"]]
                raise QuectelError(200, f"devices not registered: {failed}")
            for entry in data["successList"]:
                secrets_by_key[entry["data"]["deviceKey"]] = entry["data"]["deviceSecret"]
        return secrets_by_key


class EndUserApp:
    """The end-user (App) OpenAPI: what the maker's mobile app calls for its user."""

    def __init__(self, base_url: str, user_domain: str, user_domain_secret: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.user_domain = user_domain
        self.user_domain_secret = user_domain_secret
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    def login(self, email: str, password: str) -> None:
        random = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
        key = hashlib.md5(random.encode()).hexdigest().upper()[8:24]
        iv = key[8:16] + key[0:8]
        cipher = AES.new(key.encode(), AES.MODE_CBC, iv.encode())
        pwd = base64.b64encode(cipher.encrypt(pad(password.encode(), 16))).decode()
        signature = hashlib.sha256(
            (email + pwd + random + self.user_domain_secret).encode()
        ).hexdigest()
        form = {
            "email": email,
            "pwd": pwd,
            "random": random,
            "userDomain": self.user_domain,
            "signature": signature,
        }
        data = _check(self.http.post(EMAIL_LOGIN_PATH, data=form).json())
        self._token = str(data["accessToken"]["token"])

    def switch_on(
        self, product_key: str, device_keys: list[str], cache_seconds: int
    ) -> dict[str, str]:
        """Send ``switch: true`` to every device, cached for the offline ones (``isCache``
        1); the command ticket by deviceKey. Raises if any device was refused."""
        if self._token is None:
            raise RuntimeError("login first")
        tickets: dict[str, str] = {}
        for start in range(0, len(device_keys), CONTROL_BATCH_SIZE):
            chunk = device_keys[start : start + CONTROL_BATCH_SIZE]
            body = {
                "type": 2,
                "data": json.dumps([{"switch": True}]),
                "dataFormat": 0,
                "isCache": 1,
                "cacheTime": cache_seconds,
                "isCover": 1,
                "qos": 1,
                "deviceList": [{"productKey": product_key, "deviceKey": dk} for dk in chunk],
            }
            answer = self.http.post(
                BATCH_CONTROL_PATH, json=body, headers={"Authorization": self._token}
            ).json()
            data = _check(answer)
            if data["failureList"]:
                failed = [(f["data"]["deviceKey"], f["msg"]) for f in data["failureList"]]
                raise QuectelError(200, f"command refused: {failed}")
            for entry in data["successList"]:
                tickets[entry["data"]["deviceKey"]] = entry["ticket"]
        return tickets
