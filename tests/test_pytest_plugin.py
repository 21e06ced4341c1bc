"""The pytest plugin (emulator/pytest_plugin.py), run the way users run it: test files of a
project of their own, executed by pytester in a temporary directory, where the plugin comes
from the package's ``pytest11`` entry point."""

from __future__ import annotations

import textwrap

import pytest

from emulator.app import create_app
from emulator.config import Settings
from emulator.testing import serve_in_thread
from tests import calls
from tests.conftest import MODE

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.skipif(
    MODE == "server",
    reason="the plugin always serves its own emulator over a socket: these run once, in the"
    " in-process pass",
)

ENOS_CREATE = (
    "/connect-service/v2.1/devices?action=create&orgId=o15475450989191",
    {"productKey": "Vu82Agp3", "timezone": "+08:00", "deviceName": {"defaultValue": "d"}},
)
PRELUDE = f"""
import httpx
import pytest

ENOS_HEADERS = {{"apim-accesstoken": "any-well-formed-token"}}
CREATE_URL = {ENOS_CREATE[0]!r}
CREATE_BODY = {ENOS_CREATE[1]!r}
"""


def write_tests(pytester: pytest.Pytester, source: str, name: str = "test_user") -> None:
    pytester.makepyfile(**{name: PRELUDE + textwrap.dedent(source)})


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An in-process run, warnings as errors. This process imported the package before the
    inner session marks it for assertion rewriting (what a plugin's package gets), hence the
    one warning let through; the xdist test runs in fresh processes, as users do. Other
    installed plugins that cost time to load in each inner session are left out."""
    return pytester.runpytest(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-W", "error",
        "-W", "ignore:Module already imported:pytest.PytestAssertRewriteWarning", *args,
    )  # fmt: skip


def test_plugin_is_registered_through_the_entry_point(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--fixtures")

    result.stdout.fnmatch_lines(["*fixtures defined from emulator.pytest_plugin*"])
    session = "iot_emulator_settings [[]session scope[]]"
    for name in ("iot_emulator", "iot_emulator_url", "iot_emulator_base_url",
                 "iot_emulator_namespace", session):  # fmt: skip
        result.stdout.fnmatch_lines([f"{name} -- *pytest_plugin.py:*"])


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    write_tests(pytester, "def test_a(iot_emulator):\n    pass\n")

    result = run(pytester, "-p", "no:iot_emulator")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'iot_emulator' not found*"])


def test_iot_emulator_gives_each_test_a_fresh_namespace(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        """
        names = []

        def test_first_creates_a_device(iot_emulator):
            names.append(iot_emulator.namespace)
            body = iot_emulator.post(CREATE_URL, json={**CREATE_BODY, "deviceKey": "k1"},
                                     headers=ENOS_HEADERS).json()
            assert body["code"] == 0
            assert [d["deviceKey"] for d in iot_emulator.devices("enos")] == ["k1"]

        def test_second_does_not_see_it(iot_emulator):
            names.append(iot_emulator.namespace)
            assert iot_emulator.devices("enos") == []
            assert names[0] != names[1]

        def test_namespaces_are_dropped_after_their_test(iot_emulator, iot_emulator_base_url):
            listed = httpx.get(f"{iot_emulator_base_url}/_emulator/namespaces").json()
            assert not set(names) & {n["name"] for n in listed["namespaces"]}
        """,
    )

    run(pytester).assert_outcomes(passed=3)


def test_tests_reuse_one_connection_to_the_emulator(pytester: pytest.Pytester) -> None:
    # Each test's client shares the session's connection pool: no new connection per test.
    write_tests(
        pytester,
        """
        ports = []

        def local_port(response):
            return response.extensions["network_stream"].get_extra_info("client_addr")[1]

        def test_first(iot_emulator):
            ports.append(local_port(iot_emulator.get("/_emulator/health")))

        def test_second(iot_emulator):
            ports.append(local_port(iot_emulator.get("/_emulator/health")))
            assert ports[0] == ports[1]
        """,
    )

    run(pytester).assert_outcomes(passed=2)


def test_iot_emulator_url_is_the_namespace_of_a_real_server(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        """
        urls = []

        def test_plain_httpx_reaches_the_same_namespace(
            iot_emulator_url, iot_emulator, iot_emulator_base_url, iot_emulator_namespace
        ):
            assert iot_emulator_url == f"{iot_emulator_base_url}/ns/{iot_emulator_namespace}"
            assert iot_emulator_url.startswith("http://127.0.0.1:")
            created = httpx.post(f"{iot_emulator_url}{CREATE_URL}",
                                 json={**CREATE_BODY, "deviceKey": "seen"}, headers=ENOS_HEADERS)
            assert created.json()["code"] == 0
            assert [d["deviceKey"] for d in iot_emulator.devices("enos")] == ["seen"]
            urls.append(iot_emulator_base_url)

        def test_one_server_per_session(iot_emulator_base_url):
            assert urls == [iot_emulator_base_url]
        """,
    )

    run(pytester).assert_outcomes(passed=2)


def test_settings_fixture_override_configures_the_server(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from emulator.config import Settings

        @pytest.fixture(scope="session")
        def iot_emulator_settings():
            return Settings(db=":memory:", seed=1, auth="strict")
        """
    )
    write_tests(
        pytester,
        """
        def test_strict_auth_refuses_a_token_it_did_not_issue(iot_emulator):
            answer = iot_emulator.post("/mcs/v2/devices", headers={"Authorization": "Bearer x"},
                                       json={"prodId": "a1234567890", "name": "n", "isTest": True})
            assert answer.status_code == 401
        """,
    )

    run(pytester).assert_outcomes(passed=1)


def test_settings_can_add_a_file_to_the_default_fixtures(pytester: pytest.Pytester) -> None:
    # README: "the defaults plus mine" in the settings fixture; the file adds a device to a
    # product of the defaults, which it does not repeat.
    pytester.makefile(
        ".yaml", mine="quectel:\n  devices: [{productKey: PK0001, deviceKey: MINE1}]\n"
    )
    pytester.makeconftest(
        """
        import pytest
        from emulator.config import DEFAULTS, Settings

        @pytest.fixture(scope="session")
        def iot_emulator_settings():
            return Settings(db=":memory:", fixtures=[DEFAULTS, "mine.yaml"])
        """
    )
    write_tests(
        pytester,
        """
        def test_the_defaults_and_mine(iot_emulator):
            keys = [d["deviceKey"] for d in iot_emulator.devices("quectel", productKey="PK0001")]
            assert "MINE1" in keys
            created = iot_emulator.post(CREATE_URL, json=CREATE_BODY, headers=ENOS_HEADERS)
            assert created.json()["code"] == 0
        """,
    )

    run(pytester).assert_outcomes(passed=1)


def test_marker_loads_fixture_files_module_first_then_the_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(
        ".yaml",
        plugs="quectel:\n  products: [{productKey: PKPLUG, name: Plug}]\n"
        "  devices: [{productKey: PKPLUG, deviceKey: p1}]\n",
    )
    pytester.mkdir("more")
    (pytester.path / "more" / "online.json").write_text(
        '{"quectel": {"devices": [{"productKey": "PKPLUG", "deviceKey": "p1", "online": true}]}}'
    )
    write_tests(
        pytester,
        """
        pytestmark = pytest.mark.iot_emulator_fixtures("plugs.yaml")

        def test_module_marker(iot_emulator):
            (device,) = iot_emulator.devices("quectel", productKey="PKPLUG")
            assert (device["deviceKey"], device["online"]) == ("p1", False)

        @pytest.mark.iot_emulator_fixtures("more/online.json")
        def test_closer_marker_applies_after(iot_emulator):
            (device,) = iot_emulator.devices("quectel", productKey="PKPLUG")
            assert device["online"] is True

        def test_marker_alone_prepares_the_namespace(iot_emulator_base_url, iot_emulator_namespace):
            url = f"{iot_emulator_base_url}/ns/{iot_emulator_namespace}/_emulator/devices"
            listed = httpx.get(url, params={"productKey": "PKPLUG"}).json()
            assert [d["deviceKey"] for d in listed["devices"]] == ["p1"]
        """,
    )

    run(pytester).assert_outcomes(passed=3)


def test_marker_with_a_missing_file_fails_the_setup(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        """
        @pytest.mark.iot_emulator_fixtures("nope.yaml")
        def test_a(iot_emulator):
            pass
        """,
    )

    result = run(pytester)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*iot_emulator_fixtures: no fixture file *nope.yaml*"])


def test_marker_with_an_invalid_fixture_fails_the_setup(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", bad="quectel:\n  products: [{name: no key}]\n")
    write_tests(
        pytester,
        """
        @pytest.mark.iot_emulator_fixtures("bad.yaml")
        def test_a(iot_emulator):
            pass
        """,
    )

    result = run(pytester)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*EmulatorError: 4*productKey*"])


def test_arm_fault_makes_the_operation_answer_its_code(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        """
        from emulator.client import EmulatorError

        def test_fault(iot_emulator):
            fault = iot_emulator.arm_fault("enos.connect.create_device", code=11714, times=1)
            assert [f["id"] for f in iot_emulator.faults()] == [fault["id"]]
            first = iot_emulator.post(CREATE_URL, json=CREATE_BODY, headers=ENOS_HEADERS).json()
            second = iot_emulator.post(CREATE_URL, json=CREATE_BODY, headers=ENOS_HEADERS).json()
            assert (first["code"], second["code"]) == (11714, 0)

        def test_clear_faults(iot_emulator):
            iot_emulator.arm_fault("enos.connect.create_device", code=11714)
            iot_emulator.clear_faults()
            assert iot_emulator.post(CREATE_URL, json=CREATE_BODY,
                                     headers=ENOS_HEADERS).json()["code"] == 0

        def test_undocumented_code_raises_emulator_error(iot_emulator):
            with pytest.raises(EmulatorError) as refused:
                iot_emulator.arm_fault("enos.connect.create_device", code=1)
            assert refused.value.status == 400
        """,
    )

    run(pytester).assert_outcomes(passed=3)


def test_clock_helpers_and_release_after_the_test(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        """
        def test_freeze_and_advance(iot_emulator):
            iot_emulator.clock.freeze("2026-11-01T08:00:00Z")
            iot_emulator.clock.advance(7201)
            now = iot_emulator.clock.now()
            assert (now["now"], now["frozen"]) == ("2026-11-01T10:00:01.000Z", True)

        def test_the_next_test_runs_on_real_time(iot_emulator):
            assert iot_emulator.clock.now()["frozen"] is False
        """,
    )

    run(pytester).assert_outcomes(passed=2)


def test_device_helper_online_commands_ack(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        """
        COMMAND = {"type": 2, "data": '[{"switch":true}]', "isCache": 1, "cacheTime": 60,
                   "deviceList": [{"productKey": "PK0001", "deviceKey": "DK00001"}]}

        def test_device(iot_emulator):
            iot_emulator.post("/v2/devicemgr/r3/openapi/device/createBatch",
                              headers={"Authorization": "QJWT a.b.c"},
                              json={"productKey": "PK0001", "devices": [{"deviceKey": "DK00001"}]})
            sent = iot_emulator.post("/v2/binding/enduserapi/batchControlDevice", json=COMMAND,
                                     headers={"Authorization": "Bearer a.b.c"}).json()
            ticket = sent["data"]["successList"][0]["ticket"]
            device = iot_emulator.device("quectel", "PK0001", "DK00001")
            assert device.commands() == []
            assert device.online()["online"] is True
            (command,) = device.commands(wait=5)
            assert (command["ticket"], command["state"]) == (ticket, "sent")
            assert device.ack(ticket, payload={"ok": 1})["state"] == "succeeded"
            assert iot_emulator.command(ticket)["result"] == {"ok": 1}
            assert device.offline()["online"] is False
        """,
    )

    run(pytester).assert_outcomes(passed=1)


def test_verify_and_journal(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        """
        def test_verify_passes(iot_emulator):
            iot_emulator.post(CREATE_URL, json={**CREATE_BODY, "deviceKey": "d1"},
                              headers=ENOS_HEADERS)
            assert iot_emulator.verify("enos.connect.create_device", count=1) == 1
            assert iot_emulator.verify(body_contains={"deviceKey": "d1"}) == 1
            (entry,) = iot_emulator.journal("enos.connect.create_device")
            assert entry["method"] == "POST"
            iot_emulator.clear_journal()
            assert iot_emulator.journal() == []

        def test_verify_failure_names_the_nearest_miss(iot_emulator):
            iot_emulator.post(CREATE_URL, json={**CREATE_BODY, "deviceKey": "d2"},
                              headers=ENOS_HEADERS)
            iot_emulator.verify("enos.connect.create_device", body_contains={"deviceKey": "d1"})
        """,
    )

    result = run(pytester)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*VerificationError: expected atLeast 1 request(s) of enos.connect.create_device*",
            '*nearest miss: POST */connect-service/v2.1/devices: body.deviceKey is "d2"*',
        ]
    )


def test_reset_seed_and_state(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        """
        def create(client):
            return client.post(CREATE_URL, json=CREATE_BODY, headers=ENOS_HEADERS).json()["data"]

        def test_same_seed_same_secrets(iot_emulator):
            iot_emulator.seed(42)
            first = create(iot_emulator)
            iot_emulator.reset()
            assert iot_emulator.devices("enos") == []
            assert create(iot_emulator) == first
            exported = iot_emulator.state()
            assert [d["deviceKey"] for d in exported["enos"]["orgs"][0]["devices"]] == [
                first["deviceKey"]
            ]
        """,
    )

    run(pytester).assert_outcomes(passed=1)


def test_external_url_option_uses_a_running_emulator(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        """
        def test_a(iot_emulator, iot_emulator_base_url, iot_emulator_namespace, request):
            assert iot_emulator_base_url == request.config.getoption("--iot-emulator-url")
            assert iot_emulator.post(CREATE_URL, json=CREATE_BODY,
                                     headers=ENOS_HEADERS).json()["code"] == 0
            listed = httpx.get(f"{iot_emulator_base_url}/_emulator/namespaces").json()
            assert iot_emulator_namespace in {n["name"] for n in listed["namespaces"]}
        """,
    )
    app = create_app(Settings(db=":memory:", seed=5))

    with serve_in_thread(app) as url:
        result = run(pytester, f"--iot-emulator-url={url}")
        listed = calls.get(f"{url}/_emulator/namespaces").json()

    result.assert_outcomes(passed=1)
    # The test's namespace is dropped after it.
    assert [n["name"] for n in listed["namespaces"] if n["name"].startswith("main-")] == []


def test_xdist_workers_each_get_their_own_server(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        "".join(
            f"""
def test_{n}(iot_emulator, iot_emulator_base_url, iot_emulator_namespace):
    import os
    assert iot_emulator_namespace.startswith(os.environ["PYTEST_XDIST_WORKER"] + "-")
    assert iot_emulator.post(CREATE_URL, json={{**CREATE_BODY, "deviceKey": "same"}},
                             headers=ENOS_HEADERS).json()["code"] == 0
    print("SERVER", os.environ["PYTEST_XDIST_WORKER"], iot_emulator_base_url)
"""
            for n in range(6)
        ),
    )

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-n", "2", "-rP"
    )  # fmt: skip

    result.assert_outcomes(passed=6)
    servers = {tuple(line.split()[1:3]) for line in result.outlines if line.startswith("SERVER ")}
    workers = {worker for worker, _ in servers}
    urls = {url for _, url in servers}
    assert workers == {"gw0", "gw1"}
    assert len(urls) == 2


def test_admin_token_of_an_external_emulator_is_sent_to_its_control_plane(
    pytester: pytest.Pytester,
) -> None:
    write_tests(
        pytester,
        """
        def test_a(iot_emulator):
            iot_emulator.device("quectel", "PK0001", "DK00001")
            assert iot_emulator.post(CREATE_URL, json=CREATE_BODY,
                                     headers=ENOS_HEADERS).json()["code"] == 0
            assert iot_emulator.verify("enos.connect.create_device", count=1) == 1
            assert len(iot_emulator.devices("enos")) == 1
        """,
    )
    app = create_app(Settings(db=":memory:", seed=5, admin_token="s3cret-admin"))

    with serve_in_thread(app) as url:
        refused = run(pytester, f"--iot-emulator-url={url}")
        accepted = run(
            pytester, f"--iot-emulator-url={url}", "--iot-emulator-admin-token=s3cret-admin"
        )

    refused.assert_outcomes(failed=1)
    refused.stdout.fnmatch_lines(["*EmulatorError: 401*"])
    accepted.assert_outcomes(passed=1)


@pytest.mark.filterwarnings("ignore:Callback API version 1 is deprecated:DeprecationWarning")
def test_iot_emulator_mqtt_url_lets_a_device_sdk_log_in_to_the_test_namespace(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("enos.core.MqttClient", reason="the EnOS device SDK (dev extras) is absent")
    write_tests(
        pytester,
        """
        import warnings

        def test_a_device_logs_in(iot_emulator_mqtt_url, iot_emulator_url, iot_emulator):
            from enos.core.MqttClient import MqttClient

            assert iot_emulator_mqtt_url.startswith("tcp://127.0.0.1:")
            device = httpx.post(f"{iot_emulator_url}{CREATE_URL}", json=CREATE_BODY,
                                headers=ENOS_HEADERS).json()["data"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's paho 1.x API
                client = MqttClient(iot_emulator_mqtt_url, device["productKey"],
                                    device["deviceKey"], device["deviceSecret"])
                client.connect()
            try:
                assert client.is_connected()
            finally:
                client.close()
        """,
    )

    run(pytester).assert_outcomes(passed=1)
