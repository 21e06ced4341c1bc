"""What an EnOS client does: URLs, headers, and the signed-request recipe of the docs."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlencode

AK = "5acb82e7-a11e-4300-9164-c8b20b638e8b"
SK = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
ORG = "o15475450989191"
PRODUCT = "Vu82Agp3"
# Any well-formed opaque token passes lenient auth, like the official client's RSA blob.
HEADERS = {"apim-accesstoken": "lenient-demo-token"}


def devices_url(action: str, **query: str) -> str:
    return "/connect-service/v2.1/devices?" + urlencode({"action": action, "orgId": ORG, **query})


def encryption(ak: str, timestamp: str, sk: str) -> str:
    return hashlib.sha256((ak + timestamp + sk).encode()).hexdigest()


def token_body(timestamp: int = 1572574909697, ak: str = AK, sk: str = SK) -> dict[str, Any]:
    return {"appKey": ak, "encryption": encryption(ak, str(timestamp), sk), "timestamp": timestamp}


def signed_headers(token: str, query: dict[str, str], body: bytes, timestamp: str = "1572574909697",
                   sk: str = SK) -> dict[str, str]:  # fmt: skip
    """The "Invoke API with the Access Token" recipe: sorted query k+v, raw body, timestamp."""
    params = "".join(k + v for k, v in sorted(query.items())) + body.decode()
    sign = hashlib.sha256((token + params + timestamp + sk).encode()).hexdigest()
    return {
        "apim-accesstoken": token,
        "apim-signature": sign,
        "apim-timestamp": timestamp,
        "Content-Type": "application/json;charset=UTF-8",
    }


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
