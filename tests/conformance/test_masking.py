"""Credentials never reach the logs or the journal in clear."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

from emulator.core.logs import MaskQuery, log_config, mask_query_string
from emulator.testing import free_port
from tests import calls
from tests.conftest import Client
from tests.processes import start, wait_healthy

SECRET = "pw-0123456789abcdef"
LOGIN = "/v2/quecauth/accessKeyAuthrize/accessKeyLogin"


def test_mask_query_string_hides_secret_parameters_only() -> None:
    path = f"{LOGIN}?username=ver%3D1&password={SECRET}&grant_type=password&refreshToken=r1&pwd=p"
    masked = mask_query_string(path)
    assert SECRET not in masked
    assert masked == (
        f"{LOGIN}?username=ver%3D1&password=***&grant_type=password&refreshToken=***&pwd=***"
    )


def test_access_log_filter_rewrites_the_request_line() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"{LOGIN}?password={SECRET}", "1.1", 200), None,
    )  # fmt: skip
    assert MaskQuery().filter(record)
    assert SECRET not in record.getMessage()
    handler = log_config()["handlers"]["access"]
    assert handler["filters"] == ["mask_query"]


def test_the_access_log_of_a_real_server_masks_a_password_in_the_query(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start(
        ["serve"], cwd=tmp_path, env={"EMULATOR_PORT": str(port), "EMULATOR_DB": ":memory:"}
    )
    try:
        wait_healthy(url, process)
        calls.post(f"{url}{LOGIN}", params={"username": "u", "password": SECRET})
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    assert f"{LOGIN}?username=u&password=***" in output
    assert SECRET not in output


def test_the_journal_masks_credentials_in_query_headers_and_body(client: Client) -> None:
    client.post(
        LOGIN, params={"username": "u", "password": SECRET}, headers={"Authorization": SECRET}
    )
    client.post(
        "/v2/enduser/enduserapi/emailPwdLogin",
        json={"email": "a@b.c", "pwd": "x", "password": SECRET},
    )
    journal = client.get("/_emulator/requests").json()
    assert journal["count"] == 2
    assert SECRET not in str(journal)
