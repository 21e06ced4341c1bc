"""Namespaces: created from the baseline on first use, reset to it, isolated from each other."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event, insert, select

from emulator.core import registry
from tests.conftest import Client, Emulators
from tests.vendors.enos.helpers import HEADERS, PRODUCT, devices_url

BODY = {"productKey": PRODUCT, "timezone": "+08:00", "deviceName": {"defaultValue": "d"}}


def enos_devices(client: Client) -> list[str]:
    listed = client.get("/_emulator/devices", params={"vendor": "enos"}).json()
    return [d["deviceKey"] for d in listed["devices"]]


def test_reset_drops_created_devices_and_can_be_repeated(client: Client) -> None:
    client.post(devices_url("create"), json={**BODY, "deviceKey": "gone"}, headers=HEADERS)

    first = client.post("/_emulator/reset")
    second = client.post("/_emulator/reset")

    assert (first.status_code, second.status_code) == (200, 200)
    assert enos_devices(client) == []


def test_reset_of_a_namespace_never_used_before_succeeds(client: Client) -> None:
    assert client.post("/_emulator/reset").json()["reset"] is True


def test_invalid_namespace_name_is_refused(root_client: Client) -> None:
    response = root_client.get("/_emulator/health", headers={"X-Emulator-Namespace": "bad name!"})

    assert response.status_code == 400
    assert "invalid namespace name" in response.json()["error"]["message"]


def test_namespace_header_selects_the_namespace(root_client: Client, namespace: str) -> None:
    headers = {**HEADERS, "X-Emulator-Namespace": namespace + "-hdr"}
    root_client.post(
        devices_url("create"), json={**BODY, "deviceKey": "via-header"}, headers=headers
    )

    listed = root_client.get(
        "/_emulator/devices", params={"vendor": "enos"}, headers=headers
    ).json()

    assert listed["namespace"] == namespace + "-hdr"
    assert [d["deviceKey"] for d in listed["devices"]] == ["via-header"]


def test_a_new_namespace_holds_the_rows_sqlalchemy_would_have_written(
    emulators: Emulators, namespace: str
) -> None:
    # Baseline.write runs prepared inserts on the driver's cursor, its values made once
    # (defaults filled in, JSON as text); the stored values must be those of SQLAlchemy's
    # own insert of the same rows, on both databases.
    app, _url = emulators.get()
    emulator = app.state.emulator
    baseline = emulator.namespaces.baseline
    fast, core = namespace + "-fast", namespace + "-core"
    emulator.namespaces.ensure(fast)
    with emulator.engine.begin() as conn:
        for table, rows in baseline.rows.items():
            if rows:
                conn.execute(insert(table), [{**row, "namespace": core} for row in rows])
        registry.recount_quota(conn, core)

    def stored(name: str) -> dict[str, list[tuple[Any, ...]]]:
        out = {}
        with emulator.engine.connect() as conn:
            for table in baseline.rows:
                columns = [c for c in table.c if c.name not in ("namespace", "id")]
                query = select(*columns).where(table.c.namespace == name)
                # Raw values as the driver returns them (JSON as stored, not decoded).
                sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
                rows = conn.exec_driver_sql(sql).fetchall()
                out[table.name] = sorted((tuple(map(_json, row)) for row in rows), key=repr)
        return out

    try:
        written = stored(fast)
        assert sum(map(len, written.values())) > 0
        assert written == stored(core)
    finally:
        for name in (fast, core):
            emulator.namespaces.drop(name)
            emulator.forget(name)


def _json(value: Any) -> Any:
    """JSON text by its meaning (SQLAlchemy writes ``{"a": 1}``, orjson ``{"a":1}``); SQL NULL
    stays apart from JSON null."""
    if isinstance(value, str) and value[:1] in ("{", "[", '"') or value == "null":
        return ("json", json.loads(value))
    return value


def test_a_namespace_is_known_only_once_its_baseline_is_committed(
    emulators: Emulators, namespace: str
) -> None:
    # On PostgreSQL requests run on several threads: one that found the name known before the
    # creating transaction committed read no baseline (an EnOS create answered "organization
    # does not exist" while two processes raced to create a namespace).
    app, _url = emulators.get()
    namespaces = app.state.emulator.namespaces
    known_at_commit: list[bool] = []

    def on_commit(conn: Any) -> None:
        known_at_commit.append(namespace in namespaces._known)

    event.listen(app.state.emulator.engine, "commit", on_commit)
    try:
        namespaces.ensure(namespace)
    finally:
        event.remove(app.state.emulator.engine, "commit", on_commit)
        namespaces.drop(namespace)
    assert known_at_commit == [False]
