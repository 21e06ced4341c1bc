"""``emulator.client.EmulatorClient``: what making one costs (a suite makes one per test)."""

from __future__ import annotations

import gc
import ssl
import weakref

import httpx

from emulator.client import EmulatorClient


def tls_context_of(client: httpx.Client) -> ssl.SSLContext:
    # httpx keeps the context on its connection pool; no public accessor exists.
    context: ssl.SSLContext = client._transport._pool._ssl_context  # type: ignore[attr-defined]
    return context


def test_clients_share_one_tls_setup_built_once() -> None:
    # httpx builds its TLS settings (loading the whole CA bundle) for every new client.
    with EmulatorClient("http://127.0.0.1:1") as one, EmulatorClient("http://127.0.0.1:2") as two:
        assert tls_context_of(one) is tls_context_of(two)
        assert tls_context_of(one).verify_mode == ssl.CERT_REQUIRED


def test_a_client_given_its_own_tls_settings_keeps_them() -> None:
    with (
        EmulatorClient("http://127.0.0.1:1") as default,
        EmulatorClient("http://127.0.0.1:1", verify=False) as unverified,
    ):
        assert tls_context_of(unverified) is not tls_context_of(default)
        assert tls_context_of(unverified).verify_mode == ssl.CERT_NONE


def answering(headers: dict[str, str]) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, headers=headers))


def test_a_cookie_an_answer_sets_is_kept_and_sent_back() -> None:
    with EmulatorClient("http://emulator.test", transport=answering({"Set-Cookie": "s=1"})) as c:
        c.get("/a")
        assert c.cookies.get("s") == "1"
        assert c.build_request("GET", "/b").headers["cookie"] == "s=1"


def test_an_answer_without_cookies_leaves_the_jar_alone() -> None:
    # The standard library's jar is not even shown an answer that sets no cookie.
    seen: list[object] = []
    with EmulatorClient("http://emulator.test", transport=answering({})) as client:
        client.cookies.jar.extract_cookies = lambda *args: seen.append(args)  # type: ignore[method-assign]
        client.get("/a")
    assert seen == []


def test_a_closed_client_is_freed_without_the_collector() -> None:
    # A suite drops one client a test: one in a reference cycle would wait, with its pool
    # and cookie jar, for the collector. Its clock is used first: a view, not a back-link.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        client = EmulatorClient("http://127.0.0.1:1", transport=answering({}))
        assert client.clock.touched is False
        client.get("/a")
        client.close()
        gone = weakref.ref(client)
        del client
        assert gone() is None
    finally:
        if was_enabled:
            gc.enable()
