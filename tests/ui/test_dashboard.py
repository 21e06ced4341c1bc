"""End to end: the dashboard in a real headless Chromium, against the emulator on a socket.

Each test drives a vendor API the way a client does (httpx, in the test's namespace) and the
page the way a developer does, then checks both sides: what the page shows, and what the
emulator answers afterwards.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.ui import scenario
from tests.ui.browser import see, see_page
from tests.ui.conftest import ADMIN_TOKEN, POLL_MS, Dashboard


def test_devices_created_through_a_vendor_api_appear_on_the_devices_page(
    dashboard: Dashboard,
) -> None:
    page = dashboard.open("devices")
    see(page.get_by_test_id("devices-table")).to_contain_text("No devices yet")

    scenario.create_quectel_devices(dashboard.api, "UI-DK-1", "UI-DK-2")
    scenario.create_enos_device(dashboard.api, "ui-inverter-1")

    for key in ("quectel/PK0001/UI-DK-1", "quectel/PK0001/UI-DK-2", "enos/Vu82Agp3/ui-inverter-1"):
        row = page.locator(f'tr[data-key="{key}"]')
        see(row).to_be_visible()
        see(row.locator("[data-state]")).to_have_text("offline")
    see(page.get_by_test_id("device-count")).to_contain_text("3 shown of 3 devices")
    # The product list counts them per product.
    see(page.locator('button.product[data-product="PK0001"]')).to_contain_text(
        "0 online of 2 devices"
    )


def test_vendor_filter_and_search_narrow_the_device_list(dashboard: Dashboard) -> None:
    scenario.create_quectel_devices(dashboard.api, "alpha-1", "beta-1")
    scenario.create_enos_device(dashboard.api, "alpha-enos")
    page = dashboard.open("devices")
    see(page.locator("tbody tr[data-key]")).to_have_count(3)

    page.get_by_test_id("device-vendor").select_option("quectel")
    see(page.locator("tbody tr[data-key]")).to_have_count(2)
    page.get_by_test_id("device-search").fill("alpha")
    see(page.locator("tbody tr[data-key]")).to_have_count(1)
    see(page.locator('tr[data-key="quectel/PK0001/alpha-1"]')).to_be_visible()


def test_set_online_from_the_page_connects_the_simulated_device(dashboard: Dashboard) -> None:
    scenario.create_quectel_devices(dashboard.api, "UI-ON-1")
    page = dashboard.open("devices")
    row = page.locator('tr[data-key="quectel/PK0001/UI-ON-1"]')
    row.locator('[data-action="set-online"]').click()

    see(row.locator("[data-state]")).to_have_text("online")
    device = dashboard.api.get("/_emulator/devices", params={"vendor": "quectel"}).json()
    assert device["devices"][0]["online"] is True

    row.locator('[data-action="set-offline"]').click()
    see(row.locator("[data-state]")).to_have_text("offline")
    device = dashboard.api.get("/_emulator/devices", params={"vendor": "quectel"}).json()
    assert device["devices"][0]["online"] is False


def test_command_sent_with_batch_control_is_acked_from_the_commands_page(
    dashboard: Dashboard,
) -> None:
    scenario.create_quectel_devices(dashboard.api, "UI-CMD-1")
    scenario.set_online(dashboard.api, "quectel", "PK0001", "UI-CMD-1")
    page = dashboard.open("commands")

    answer = scenario.batch_control(dashboard.api, "UI-CMD-1")
    ticket = answer["data"]["successList"][0]["ticket"]
    row = page.locator(f'tr[data-ticket="{ticket}"]')
    see(row).to_have_attribute("data-state", "sent")

    row.locator('[data-action="ack"]').click()

    see(row).to_have_attribute("data-state", "succeeded")
    see(row.locator("ol.history")).to_contain_text("sent")
    see(row.locator("ol.history")).to_contain_text("succeeded")
    see(row.locator('[data-action="ack"]')).to_have_count(0)
    state = dashboard.api.get(f"/_emulator/commands/{ticket}").json()
    assert state["state"] == "succeeded"
    assert [step["state"] for step in state["history"]] == ["sent", "succeeded"]


def test_device_drawer_shows_its_commands_and_acks_a_failure(dashboard: Dashboard) -> None:
    scenario.create_quectel_devices(dashboard.api, "UI-DRW-1")
    page = dashboard.open("devices")
    page.locator('tr[data-key="quectel/PK0001/UI-DRW-1"]').get_by_role(
        "button", name="Commands"
    ).click()
    drawer = page.get_by_test_id("device-detail")
    see(drawer).to_contain_text("No commands yet")

    # Offline with the cache on: cached, delivered when the device comes online from the page.
    ticket = scenario.batch_control(dashboard.api, "UI-DRW-1")["data"]["successList"][0]["ticket"]
    card = drawer.locator(f'[data-ticket="{ticket}"]')
    see(card).to_have_attribute("data-state", "cached")
    drawer.locator('[data-action="set-online"]').click()
    see(card).to_have_attribute("data-state", "sent")

    card.locator('[data-action="nack"]').click()
    see(card).to_have_attribute("data-state", "failed")
    assert dashboard.api.get(f"/_emulator/commands/{ticket}").json()["state"] == "failed"


def test_fault_armed_from_the_page_fails_the_next_vendor_call(dashboard: Dashboard) -> None:
    page = dashboard.open("faults")
    page.get_by_test_id("fault-operation").select_option("enos.connect.create_device")
    page.get_by_test_id("fault-code").select_option("11714")
    page.get_by_test_id("fault-times").fill("1")
    page.locator('[data-action="arm"]').click()

    rule = page.get_by_test_id("faults-table").locator("tr[data-fault]")
    see(rule).to_contain_text("enos.connect.create_device")
    see(rule).to_contain_text("11714")

    failed = scenario.create_enos_device(dashboard.api, "ui-fault-1")
    assert failed["code"] == 11714, failed
    # One firing only: the call after it succeeds, and the page shows what met the fault.
    assert scenario.create_enos_device(dashboard.api, "ui-fault-2")["code"] == 0
    see(page.get_by_test_id("faults-table")).to_contain_text("No faults armed")
    see(page.get_by_test_id("injected-table")).to_contain_text("11714")


def test_fault_on_one_device_of_a_batch_armed_from_the_page(dashboard: Dashboard) -> None:
    scenario.create_quectel_devices(dashboard.api, "UI-F-1", "UI-F-2")
    page = dashboard.open("faults")
    page.get_by_test_id("fault-operation").select_option("quectel.enduser.batch_control_device")
    page.get_by_test_id("fault-code").select_option("5340")
    page.get_by_test_id("fault-device").fill("UI-F-2")
    page.locator('[data-action="arm"]').click()
    see(page.get_by_test_id("faults-table").locator("tr[data-fault]")).to_contain_text("UI-F-2")

    answer = scenario.batch_control(dashboard.api, "UI-F-1", "UI-F-2")
    assert [e["data"]["deviceKey"] for e in answer["data"]["successList"]] == ["UI-F-1"]
    assert [e["data"]["deviceKey"] for e in answer["data"]["failureList"]] == ["UI-F-2"]

    page.locator('[data-action="clear-faults"]').click()
    see(page.get_by_test_id("faults-table")).to_contain_text("No faults armed")
    assert dashboard.api.get("/_emulator/faults").json()["faults"] == []


def test_journal_lists_requests_live_with_body_and_answer(dashboard: Dashboard) -> None:
    page = dashboard.open("journal")
    see(page.get_by_test_id("journal-table")).to_contain_text("No vendor requests yet")

    scenario.create_quectel_devices(dashboard.api, "UI-J-1")
    dashboard.api.post(
        "/_emulator/faults", json={"operation": "enos.connect.create_device", "code": 11714}
    )
    scenario.create_enos_device(dashboard.api, "ui-j-enos")

    rows = page.get_by_test_id("journal-table").locator("tr[data-id]")
    see(rows).to_have_count(2)
    page.get_by_test_id("journal-code").fill("11714")
    see(rows).to_have_count(1)
    see(rows.first).to_have_attribute("data-operation", "enos.connect.create_device")
    page.get_by_test_id("journal-code").fill("")

    page.get_by_test_id("journal-operation").select_option("quectel.devicemgr.create_batch")
    see(rows).to_have_count(1)
    rows.first.click()
    detail = page.get_by_test_id("journal-detail")
    see(detail.get_by_test_id("journal-request-body")).to_contain_text('"deviceKey": "UI-J-1"')
    answer = detail.get_by_test_id("journal-response-body")
    see(answer).to_contain_text('"successList"')
    # The device secret in the answer is masked like the credentials of requests.
    see(answer).to_contain_text('"deviceSecret": "***"')


def test_dps_page_follows_an_allocation_and_the_device_connecting(dashboard: Dashboard) -> None:
    page = dashboard.open("dps")
    row = page.locator('tr[data-sn="yourSn"]')
    see(row).to_have_attribute("data-state", "init")

    scenario.allocate_dps(dashboard.api)
    see(row).to_have_attribute("data-state", "allocated")
    device_key = row.locator("td").nth(9).locator("a")
    see(device_key).to_be_visible()

    device_key.click()
    see_page(page).to_have_url(re.compile(r"#/devices/enos/yourProductKey/"))
    drawer = page.get_by_test_id("device-detail")
    drawer.locator('[data-action="set-online"]').click()
    see(drawer.locator(".drawer-actions [data-state]")).to_have_text("online")

    page.get_by_test_id("tab-dps").click()
    see(row).to_have_attribute("data-state", "connected")
    sn = dashboard.api.get("/_emulator/dps/devices").json()["devices"][0]
    assert sn["currentStatus"] == "connected"
    assert sn["provisioned"]["online"] is True


def test_clock_is_frozen_advanced_and_released_from_the_page(dashboard: Dashboard) -> None:
    page = dashboard.open("control")
    try:
        page.get_by_test_id("freeze-at").fill("2030-01-02T03:04:05")
        page.locator('[data-action="freeze-at"]').click()
        see(page.get_by_test_id("clock")).to_contain_text("2030-01-02 03:04:05 UTC")
        see(page.get_by_test_id("clock-frozen")).to_be_visible()

        page.get_by_test_id("advance-seconds").fill("3600")
        page.locator('[data-action="advance"]').click()
        see(page.get_by_test_id("clock")).to_contain_text("2030-01-02 04:04:05 UTC")
        clock = dashboard.api.get("/_emulator/clock").json()
        assert clock == {"nowMs": 1893557045000, "now": "2030-01-02T04:04:05.000Z", "frozen": True}

        page.locator('[data-action="release"]').click()
        see(page.get_by_test_id("clock-frozen")).to_have_count(0)
        assert dashboard.api.get("/_emulator/clock").json()["frozen"] is False
    finally:
        # The clock is the one state every namespace shares.
        dashboard.api.delete("/_emulator/clock")


def test_reset_from_the_page_puts_the_namespace_back_to_the_baseline(
    dashboard: Dashboard,
) -> None:
    scenario.create_quectel_devices(dashboard.api, "UI-R-1")
    page = dashboard.open("control")
    reset = page.locator('[data-action="reset"]')
    reset.click()
    see(reset).to_contain_text("Click again")
    assert dashboard.api.get("/_emulator/devices").json()["total"] == 1
    reset.click()

    see(page.get_by_test_id("toast-info").last).to_contain_text("back to the baseline")
    assert dashboard.api.get("/_emulator/devices").json()["total"] == 0
    assert dashboard.api.get("/_emulator/requests").json()["count"] == 0


def test_namespace_selector_sends_every_call_to_the_chosen_namespace(
    dashboard: Dashboard, ui_base_url: str
) -> None:
    other = f"{dashboard.namespace}-other"
    with scenario.namespace_client(ui_base_url, other) as client:
        scenario.create_quectel_devices(client, "OTHER-1")
    scenario.create_quectel_devices(dashboard.api, "MINE-1")
    page = dashboard.open("devices")
    see(page.locator('tr[data-key="quectel/PK0001/MINE-1"]')).to_be_visible()

    page.get_by_test_id("tab-control").click()
    page.get_by_test_id("new-namespace").fill(other)
    page.locator('[data-action="open-namespace"]').click()
    see(page.get_by_test_id("namespace")).to_have_value(other)
    see_page(page).to_have_url(re.compile(f"ns={re.escape(other)}"))

    page.get_by_test_id("tab-devices").click()
    see(page.locator('tr[data-key="quectel/PK0001/OTHER-1"]')).to_be_visible()
    see(page.locator('tr[data-key="quectel/PK0001/MINE-1"]')).to_have_count(0)
    calls = [urlsplit(url).path for url in dashboard.requests if "/_emulator/devices" in url]
    assert calls[-1] == f"/ns/{other}/_emulator/devices"

    page.get_by_test_id("namespace").select_option(dashboard.namespace)
    see(page.locator('tr[data-key="quectel/PK0001/MINE-1"]')).to_be_visible()


def test_the_page_loads_nothing_from_outside_the_emulator(dashboard: Dashboard) -> None:
    page = dashboard.open("journal")
    see(page.get_by_test_id("journal-table")).to_be_visible()
    for route in ("devices", "commands", "dps", "faults", "control"):
        page.get_by_test_id(f"tab-{route}").click()
        see(page.locator(f'main[data-page="{route}"]')).to_be_visible()
    origin = urlsplit(dashboard.base_url).netloc
    assert dashboard.requests
    assert {urlsplit(url).netloc for url in dashboard.requests} == {origin}


def test_namespace_deleted_from_the_page_loses_its_state(
    dashboard: Dashboard, ui_base_url: str
) -> None:
    other = f"{dashboard.namespace}-gone"
    with scenario.namespace_client(ui_base_url, other) as client:
        scenario.create_quectel_devices(client, "GONE-1")
        page = dashboard.open("control")
        row = page.locator(f'tr[data-namespace="{other}"]')
        row.locator('[data-action="delete-namespace"]').click()
        see(row).to_have_count(0)
        listed = client.get("/_emulator/namespaces").json()["namespaces"]
        assert other not in {n["name"] for n in listed}
        assert client.get("/_emulator/devices").json()["total"] == 0


def test_state_export_downloads_the_namespace_document(dashboard: Dashboard) -> None:
    scenario.create_quectel_devices(dashboard.api, "EXP-1")
    page = dashboard.open("control")
    with page.expect_download() as download:
        page.locator('[data-action="export-json"]').click()
    saved = download.value
    assert saved.suggested_filename == f"{dashboard.namespace}-state.json"
    document = json.loads(Path(saved.path()).read_text())
    assert {"productKey": "PK0001", "deviceKey": "EXP-1"}.items() <= next(
        d for d in document["quectel"]["devices"] if d["deviceKey"] == "EXP-1"
    ).items()


def test_admin_token_is_asked_for_and_sent_on_every_call(
    dashboard: Dashboard, ui_admin_base_url: str
) -> None:
    with scenario.namespace_client(ui_admin_base_url, dashboard.namespace) as client:
        # Vendor paths never need the admin token.
        scenario.create_quectel_devices(client, "TOK-1")
    page = dashboard.page
    page.goto(f"{ui_admin_base_url}/_emulator/ui?ns={dashboard.namespace}&poll={POLL_MS}#/devices")
    banner = page.get_by_test_id("admin-token")
    see(banner).to_be_visible()

    page.get_by_test_id("admin-token-input").fill("wrong")
    page.locator('[data-action="save-token"]').click()
    see(banner).to_contain_text("refused")

    page.get_by_test_id("admin-token-input").fill(ADMIN_TOKEN)
    page.locator('[data-action="save-token"]').click()
    see(banner).to_have_count(0)
    row = page.locator('tr[data-key="quectel/PK0001/TOK-1"]')
    see(row).to_be_visible()
    row.locator('[data-action="set-online"]').click()
    see(row.locator("[data-state]")).to_have_text("online")


@pytest.mark.filterwarnings("ignore:Callback API version 1 is deprecated:DeprecationWarning")
def test_device_drawer_shows_the_measure_points_a_real_device_posted(
    dashboard: Dashboard,
) -> None:
    sdk = pytest.importorskip("enos.core.MqttClient", reason="the EnOS device SDK is absent")
    from enos.message.upstream.tsl.MeasurepointPostRequest import MeasurepointPostRequest

    device = scenario.create_enos_device(dashboard.api, "UI-MP-1")["data"]
    listener = dashboard.api.post("/_emulator/mqtt").json()
    client = sdk.MqttClient(listener["url"], device["productKey"], device["deviceKey"],
                            device["deviceSecret"])  # fmt: skip
    try:
        client.connect()
        post = MeasurepointPostRequest.builder().add_measurepoint("temp", 21.5).build()
        assert client.publish(post).is_success()
    finally:
        client.close()
        dashboard.api.delete("/_emulator/mqtt")
    page = dashboard.open("devices")
    page.locator('tr[data-key="enos/Vu82Agp3/UI-MP-1"]').get_by_role(
        "button", name="Commands"
    ).click()
    points = page.get_by_test_id("device-measurepoints")
    see(points.locator('tr[data-point="temp"]')).to_contain_text("21.5")


def test_fault_dropping_a_device_message_armed_from_the_page(dashboard: Dashboard) -> None:
    page = dashboard.open("faults")
    page.get_by_test_id("fault-operation").select_option("enos.mqtt.measurepoint_post")
    page.get_by_test_id("fault-action").select_option("dropReply")
    page.get_by_test_id("fault-device").fill("ui-mqtt-1")
    page.locator('[data-action="arm"]').click()

    see(page.get_by_test_id("faults-table").locator("tr[data-fault]")).to_contain_text("dropReply")
    (rule,) = dashboard.api.get("/_emulator/faults").json()["faults"]
    assert (rule["action"], rule["code"], rule["deviceKey"]) == ("dropReply", None, "ui-mqtt-1")
