"""Numbers past their range, errors of the emulator's own, and the connection after an error.

Every integer of a request is checked at the edge (core/limits.py): one past its column or
the vendor's Java int is the caller's mistake, a 400 in the control plane's JSON or the
vendor's parameter code, never a server error. An error of ours (a bug, the database gone)
is answered in the same JSON (or the vendor's envelope), never a text page, and the
keep-alive connection it came on serves the next request.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.app import create_app
from emulator.config import Settings
from emulator.core.limits import INT32_MAX, INT64_MAX
from emulator.testing import serve_in_thread
from emulator.vendors.enos.connect.errors import ConnectError
from emulator.vendors.enos.dps.errors import DpsError
from emulator.vendors.quectel.enduser.errors import GenericError
from tests.conftest import Client
from tests.control.helpers import CREATE, create_body
from tests.vendors.enos.helpers import HEADERS, devices_url
from tests.vendors.quectel.enduser_helpers import DEVICE_LIST, access_token

PAST_INT64 = INT64_MAX + 1


def assert_control_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert error["status"] == status
    return error


@pytest.mark.parametrize(
    "path",
    [
        f"/_emulator/devices?offset={PAST_INT64}",
        f"/_emulator/commands?offset={PAST_INT64}",
        f"/_emulator/dps/devices?offset={PAST_INT64}",
        f"/_emulator/devices/enos/p/d/commands?after={PAST_INT64}",
    ],
)
def test_an_offset_past_a_bigint_is_a_400_in_json(client: Client, path: str) -> None:
    error = assert_control_error(client.get(path), 400)
    assert str(INT64_MAX) in error["errors"][0]["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("times", 99999999999999999999999),
        ("times", INT32_MAX + 1),
        ("ttlSeconds", 1e300),
        ("seed", PAST_INT64),
        ("code", PAST_INT64),
    ],
)
def test_a_fault_number_past_its_column_is_a_400(client: Client, field: str, value: Any) -> None:
    spec = {"operation": CREATE, "code": 99500, field: value}
    error = assert_control_error(client.post("/_emulator/faults", json=spec), 400)
    assert error["errors"][0]["field"] == f"body.{field}"
    # Nothing was armed.
    assert client.get("/_emulator/faults").json()["faults"] == []


def test_the_largest_fault_numbers_are_armed(client: Client) -> None:
    spec = {"operation": CREATE, "code": 99500, "times": INT32_MAX, "ttlSeconds": 10**12}
    assert client.post("/_emulator/faults", json=spec).status_code == 201
    [fault] = client.get("/_emulator/faults").json()["faults"]
    assert fault["times"] == INT32_MAX


def test_dps_search_with_a_page_number_past_a_java_int_is_99400(client: Client) -> None:
    body = {
        "expression": "status = 'init'",
        "pagination": {"pageNo": 4611686018427387904, "pageSize": 10},
    }
    response = client.post(
        "/dps-service/v2.5/pvs/device?action=search&orgId=yourOrgId", json=body, headers=HEADERS
    )
    assert response.status_code == 200
    assert response.json()["code"] == DpsError.INVALID_ARGUMENT.code
    assert "pageNo" in response.json()["msg"]


def test_user_device_list_with_a_page_past_a_java_int_is_50005(client: Client) -> None:
    headers = {"Authorization": access_token(client)}
    response = client.get(DEVICE_LIST, params={"page": 10**30}, headers=headers)
    assert response.json()["code"] == GenericError.PARAM_CHECK_ERROR.code


# --- an error of ours, over a real socket -------------------------------------------------


@pytest.fixture
def broken_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real server on a SQLite file whose devices table the test can take away."""
    db = tmp_path / "emulator.db"
    app = create_app(Settings(db=str(db), seed=1))
    try:
        with serve_in_thread(app) as url:
            yield url, db
    finally:
        app.state.emulator.dispose()


def drop_devices_table(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE devices")


def local_port(response: httpx.Response) -> int:
    """The client's port of the connection an answer came on."""
    port: int = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    return port


def test_a_failing_database_answers_json_and_the_connection_serves_the_next_call(
    broken_server: tuple[str, Path],
) -> None:
    url, db = broken_server
    one_connection = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(base_url=url, limits=one_connection, timeout=30) as client:
        assert client.get("/_emulator/devices").status_code == 200
        drop_devices_table(db)

        failed = client.get("/_emulator/devices")
        error = assert_control_error(failed, 503)
        assert "database" in error["message"]
        assert "connection" not in failed.headers or failed.headers["connection"] != "close"

        # Same connection: the vendor call gets the vendor's envelope with its internal code.
        vendor = client.post(devices_url("create"), json=create_body("dk1"), headers=HEADERS)
        assert vendor.json()["code"] == ConnectError.EMULATOR_INTERNAL_ERROR.code
        health = client.get("/_emulator/health")
        assert health.status_code == 200
        assert local_port(failed) == local_port(vendor) == local_port(health)


def test_a_405_names_every_method_of_the_path(client: Client) -> None:
    response = client.put("/_emulator/faults")
    error = assert_control_error(response, 405)
    assert error["message"] == "Method Not Allowed"
    assert response.headers["allow"] == "DELETE, GET, POST"
