"""The MQTT listener: an embedded amqtt broker (:mod:`.broker`) whose hooks are the EnOS
platform: logins checked against the registry, the registry following the connection, each
request answered on its reply topic, and downlink tickets published to the device's session.

Faults (``POST /_emulator/faults`` on ``enos.mqtt.*``) act here, before the checks, as the
HTTP ones act before auth and validation: a refused login (a CONNACK code of the rule's, or
the connection closed with none), a reply answering a code, delayed, or never sent, or the
device's connection dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from emulator.core import journal
from emulator.core.context import Emulator
from emulator.core.faults import FaultRule
from emulator.core.namespaces import DEFAULT as DEFAULT_NAMESPACE
from emulator.core.operations import DROP_CONNECTION, DROP_REPLY
from emulator.vendors.enos.mqtt import login, protocol, store, uplink
from emulator.vendors.enos.mqtt.errors import ConnackCode, EmulatorCode
from emulator.vendors.enos.mqtt.operations import LOGIN
from emulator.vendors.enos.mqtt.protocol import Refused

if TYPE_CHECKING:
    # amqtt (the broker, its state machines) loads when a listener starts, not with the app:
    # a server run without its lifespan (the pytest plugin's) never opens one.
    from amqtt.session import Session

    from emulator.vendors.enos.mqtt.broker import EmulatorBroker

logger = logging.getLogger(__name__)

NAME = "enos.mqtt"
# How often a listener sharing its database with other processes reads the tickets they sent
# (transport time, wall clock).
_FOLLOW_S = 0.05
_PUBLISHED_KEPT = 10_000
_brokers = itertools.count()


@dataclass
class Link:
    """One accepted connection and what the platform knows of it."""

    client_id: str
    login: login.Login
    conn: uplink.Connection
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class MqttListener:
    """The EnOS device endpoint of one namespace, on ``host:port``."""

    name = NAME

    def __init__(self, emulator: Emulator, host: str, port: int, namespace: str) -> None:
        self.emulator = emulator
        self.host = host
        self.port = port
        self.namespace = namespace
        self._broker: EmulatorBroker | None = None
        self._accepted: dict[str, login.Login] = {}
        # Refused logins waiting for their CONNACK: the code, or None to send none.
        self._refusals: dict[str, int | None] = {}
        self._links: dict[str, Link] = {}
        self._by_device: dict[tuple[str, str], Link] = {}
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # Tickets already published here (oldest first, bounded): the database follower
        # skips them.
        self._published: dict[str, None] = {}
        self._follower: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        from emulator.vendors.enos.mqtt import broker as mqtt_broker

        self._loop = asyncio.get_running_loop()
        listener = {"listener": self}
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                f"{mqtt_broker.__name__}.DeviceAuth": listener,
                f"{mqtt_broker.__name__}.PlatformTopics": listener,
                f"{mqtt_broker.__name__}.PlatformHooks": listener,
            },
        }
        # amqtt keeps a process-wide table of plugin managers by namespace: one per broker.
        name = f"iot-emulator.enos.{next(_brokers)}"
        self._broker = mqtt_broker.EmulatorBroker(self, config, name)
        await self._broker.start()
        if self.port == 0:  # an ephemeral port: the one the system gave
            server = self._broker._servers["default"].instance
            self.port = int(server.sockets[0].getsockname()[1])
        if self.emulator.shared:
            self._follower = asyncio.ensure_future(self._follow_database())
        logger.info("EnOS MQTT listener on %s:%s (namespace %s)", self.host, self.port,
                    self.namespace)  # fmt: skip

    async def stop(self) -> None:
        if self._broker is None:
            return
        broker, self._broker = self._broker, None
        if self._follower is not None:
            self._follower.cancel()
            await asyncio.gather(self._follower, return_exceptions=True)
        await broker.shutdown()
        await broker.close_connections()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # amqtt's shutdown fires no disconnect hook: the registry follows here.
        for link in list(self._links.values()):
            self.disconnected(link.client_id)

    @property
    def alive(self) -> bool:
        """Whether the event loop it was started on still runs (a server's does; an
        in-process test client's ends with each request)."""
        return self._loop is not None and not self._loop.is_closed()

    def describe(self) -> dict[str, Any]:
        return {
            "name": NAME, "protocol": "mqtt", "host": self.host, "port": self.port,
            "url": f"tcp://{self.host}:{self.port}", "namespace": self.namespace,
            "connections": len(self._links),
        }  # fmt: skip

    @property
    def ctx(self) -> Any:
        return self.emulator.context(self.namespace)

    # --- login ------------------------------------------------------------------------------

    async def authenticate(self, session: Session) -> bool:
        """Strict checks always: this is the device's credential, not an API token. A fault
        answers before them: its own CONNACK code, a delay, or no CONNACK at all."""
        started = time.perf_counter()
        client_id = session.client_id or ""
        rule = self._fault(LOGIN, login.device_key_of(client_id))
        if rule is not None and rule.latency_ms > 0:
            await asyncio.sleep(rule.latency_ms / 1000)
        code: int | None
        if rule is not None and rule.action == DROP_CONNECTION:
            code = None
        elif rule is not None and rule.error is not None:
            code = rule.error.code
        else:
            code = 0 if self._authenticate(session) else ConnackCode.NOT_AUTHORIZED.code
        if code != 0:
            self._refusals[client_id] = code
        # The password is not kept: the entry's body is the user name only.
        self._journal(LOGIN, "CONNECT", client_id, (session.username or "").encode(), code,
                      None, started, rule)  # fmt: skip
        return code == 0

    def refusal(self, client_id: str) -> int | None:
        """The CONNACK code of a refused login (None: close the connection without one)."""
        return self._refusals.pop(client_id, ConnackCode.NOT_AUTHORIZED.code)

    def _fault(self, operation: str, device_key: str) -> FaultRule | None:
        """The armed rule that fires for this device's message, if any."""
        try:
            return self.emulator.faults.take(
                self.namespace, operation, self.emulator.clock.now_ms(), device_key, message=True
            )
        except Exception:  # the fault book (a database table when shared) failed
            logger.exception("faults: cannot check %s", operation)
            return None

    def _authenticate(self, session: Session) -> bool:
        client_id = session.client_id or ""
        try:
            claim = login.parse(client_id, session.username, session.password)
        except login.LoginError as exc:
            logger.info("MQTT login refused (%s): %s", client_id, exc)
            return False
        ctx = self.ctx
        row = store.device(ctx, claim.product_key, claim.device_key)
        if row is None:
            secret = None
        elif claim.secure_mode == login.DEVICE_SECRET:
            secret = row.secret
        else:
            secret = store.product_secret(ctx, claim.product_key)
        if secret is None or not login.verify(claim, secret):
            logger.info("MQTT login refused (%s): unknown device or wrong secret", client_id)
            return False
        self._accepted[client_id] = claim
        return True

    async def connected(self, client_id: str) -> None:
        claim = self._accepted.pop(client_id, None)
        if claim is None:
            return
        key = (claim.product_key, claim.device_key)
        link = Link(client_id, claim, uplink.Connection(key))
        self._links[client_id] = link
        if claim.secure_mode == login.PRODUCT_SECRET:
            # Dynamic activation: the platform hands the device its secret, and the device
            # logs in again with it (secure mode 2); this session is not the device online.
            row = store.device(self.ctx, *key)
            if row is not None:
                params = {"assetId": row.asset_id, "productKey": key[0], "deviceKey": key[1],
                          "deviceSecret": row.secret}  # fmt: skip
                topic = protocol.session_topic(*key, "thing/activate/info")
                data = protocol.request(self._message_id(), "thing.activate.info", params)
                self._spawn(self._publish(link, topic, data, qos=1))
            return
        self._by_device[key] = link
        ctx = self.ctx
        store.set_online(ctx, *key, True)
        for item in store.pending(ctx, *key):
            self._dispatch(link, item)

    def session_ready(self, session: Session) -> None:
        link = self._links.get(session.client_id or "")
        if link is not None:
            link.ready.set()

    def disconnected(self, client_id: str) -> None:
        link = self._links.pop(client_id, None)
        if link is None:
            return
        key = link.conn.device
        if self._by_device.get(key) is not link:
            return  # an activation session, or replaced by a newer login of the same device
        del self._by_device[key]
        ctx = self.ctx
        for sub in sorted(link.conn.sub_devices):
            store.set_online(ctx, *sub, False)
        store.set_online(ctx, *key, False)

    # --- messages ---------------------------------------------------------------------------

    def received(self, client_id: str, topic_name: str, data: bytes | bytearray) -> None:
        link = self._links.get(client_id)
        if link is None:
            return
        topic = protocol.parse_topic(topic_name)
        if topic is None:
            return  # no reply topic to answer on
        if topic.is_reply:
            self._device_replied(topic, data)
            return
        started = time.perf_counter()
        operation = uplink.operation_of(topic)
        record = partial(self._journal, operation, "PUBLISH", topic.raw, bytes(data))
        rule = self._fault(operation, topic.device_key)
        if rule is not None and rule.action == DROP_CONNECTION:
            # As if the network failed as the message arrived: not handled, not answered.
            record(None, None, started, rule)
            self._spawn(self._drop(link, rule.latency_ms))
            return
        if rule is not None and rule.error is not None:
            code, answer = rule.error.code, _injected(data, rule)
        else:
            code, answer = self._answer(link, topic, data)
        if rule is not None and rule.action == DROP_REPLY:
            record(None, None, started, rule)
        elif rule is not None and rule.latency_ms > 0:
            self._spawn(self._reply_later(link, topic.reply, answer,
                                          partial(record, code, answer, started, rule),
                                          rule.latency_ms))  # fmt: skip
        else:
            record(code, answer, started, rule)
            self._spawn(self._publish(link, topic.reply, answer, qos=0))

    def _answer(
        self, link: Link, topic: protocol.Topic, data: bytes | bytearray
    ) -> tuple[int, bytes]:
        """The platform's reply to one request: its code and payload."""
        request_id = ""
        try:
            payload = protocol.decode(data)
            request_id = protocol.message_id(payload)
            result = uplink.handle(self.ctx, link.conn, topic, payload)
            return protocol.OK, protocol.reply(request_id, protocol.OK, result)
        except Refused as exc:
            return exc.code, protocol.reply(request_id, exc.code, None, exc.message)
        except Exception as exc:
            # A bug of ours: the device still gets its answer in EnOS's reply format (the SDK's
            # publish() would wait 30 s for one), the journal records it with the error, and
            # the connection stays as it was.
            logger.exception("EnOS MQTT: unhandled error on %s from %s", topic.raw, link.client_id)
            error = EmulatorCode.INTERNAL_ERROR
            message = f"{error.message}: {type(exc).__name__}: {exc}"
            return error.code, protocol.reply(request_id, error.code, None, message)

    async def _reply_later(
        self, link: Link, topic: str, answer: bytes, record: Any, latency_ms: int
    ) -> None:
        await asyncio.sleep(latency_ms / 1000)
        record()  # in the journal before the device can read its reply
        await self._publish(link, topic, answer, qos=0)

    async def _drop(self, link: Link, latency_ms: int) -> None:
        """Close the device's connection as a network failure would: no DISCONNECT; the
        broker's disconnect hook takes the device offline."""
        if latency_ms > 0:
            await asyncio.sleep(latency_ms / 1000)
        entry = self._broker.sessions.get(link.client_id) if self._broker is not None else None
        if entry is not None:
            await entry[1].handle_connection_closed()

    def _journal(
        self, operation: str, method: str, path: str, body: bytes, code: int | None,
        answer: bytes | None, started: float, rule: FaultRule | None = None,
    ) -> None:  # fmt: skip
        """An MQTT message in the request journal, beside the HTTP requests: ``method`` is the
        MQTT packet (CONNECT, PUBLISH), ``path`` the topic or client id, ``vendorCode`` the
        reply's code or the CONNACK return code (none when a fault dropped the reply or the
        connection: ``injected``, with no ``response``)."""
        book = self.emulator.journal
        book.append(
            journal.Entry(
                id=book.next_id(), at=self.emulator.clock.now_ms(), namespace=self.namespace,
                operation=operation, method=method, path=path, raw_body=body, status=200,
                vendor_code=code, duration_ms=(time.perf_counter() - started) * 1000,
                response=journal.answer_body(answer),
                injected=rule is not None and (rule.error is not None or rule.action is not None),
                fault_id=rule.id if rule is not None else None,
            )
        )  # fmt: skip

    def _device_replied(self, topic: protocol.Topic, data: bytes | bytearray) -> None:
        """A device answered a downlink message: its id is the command's ticket."""
        try:
            payload = protocol.decode(data)
        except Refused:
            return
        ticket = protocol.message_id(payload)
        code = protocol.reply_code(payload)
        result = {"code": code, "data": payload.get("data"), "message": payload.get("message")}
        store.answer(self.ctx, ticket, code == protocol.OK, result)
        waiter = self._waiters.pop(ticket, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(result)

    # --- downlink ---------------------------------------------------------------------------

    def carries(self, product_key: str, device_key: str) -> bool:
        return (product_key, device_key) in self._by_device

    def send(self, command: dict[str, Any]) -> bool:
        """Publish a delivered ticket on the connection that carries it; False when that
        connection is not on this listener."""
        via = command.get("gateway")
        key = (via["productKey"], via["deviceKey"]) if via else (
            command["productKey"], command["deviceKey"])  # fmt: skip
        link = self._by_device.get(key)
        if link is None:
            return False
        self._dispatch(link, command)
        return True

    def _dispatch(self, link: Link, command: dict[str, Any]) -> None:
        """Publish a ticket once: marked before its task runs, so the follower, a login and
        the API never send it twice."""
        ticket = command["ticket"]
        if ticket in self._published:
            return
        self._published[ticket] = None
        if len(self._published) > _PUBLISHED_KEPT:
            del self._published[next(iter(self._published))]
        self._spawn(self._publish_command(link, command))

    async def _follow_database(self) -> None:
        """Several processes share one database: a ticket sent through another process to a
        device connected here is read from the commands table and published."""
        after = store.last_delivery(self.ctx)
        while True:
            await asyncio.sleep(_FOLLOW_S)
            if not self._by_device:
                continue
            try:
                items = store.delivered_since(self.ctx, after)
            except Exception:  # the database restarting: try again at the next turn
                logger.warning("EnOS MQTT: reading delivered commands failed", exc_info=True)
                continue
            for item in items:
                after = max(after, int(item["seq"]))
                via = item.get("gateway")
                key = (via["productKey"], via["deviceKey"]) if via else (
                    item["productKey"], item["deviceKey"])  # fmt: skip
                link = self._by_device.get(key)
                if link is not None:
                    self._dispatch(link, item)

    def expect(self, ticket: str) -> asyncio.Future[dict[str, Any]]:
        """A future the device's reply to ``ticket`` resolves."""
        waiter = self._waiters.get(ticket)
        if waiter is None:
            waiter = self._waiters[ticket] = asyncio.get_running_loop().create_future()
        return waiter

    def forget(self, ticket: str) -> None:
        self._waiters.pop(ticket, None)

    async def _publish_command(self, link: Link, command: dict[str, Any]) -> None:
        payload = command["payload"]
        data = protocol.request(command["ticket"], payload["method"], payload["params"])
        await self._publish(link, payload["topic"], data, qos=1)

    async def _publish(self, link: Link, topic: str, data: bytes, qos: int) -> None:
        await link.ready.wait()
        broker = self._broker
        if broker is None or link.client_id not in self._links:
            return
        entry = broker.sessions.get(link.client_id)
        if entry is None:
            return
        _, handler = entry
        try:
            await handler.mqtt_publish(topic, data, qos, retain=False)
        except Exception:  # a connection that dropped meanwhile
            logger.debug("MQTT publish to %s failed", link.client_id, exc_info=True)

    def _message_id(self) -> str:
        return self.emulator.ids(self.namespace).uuid()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


@asynccontextmanager
async def serve_default(emulator: Emulator) -> AsyncIterator[None]:
    """The listener ``serve`` runs with the app: the default namespace on ``--host``:
    ``--mqtt-port``, unless ``--no-mqtt``; the namespaces' own listeners, opened on demand,
    close with it."""
    if not emulator.settings.mqtt:
        yield
        return
    settings = emulator.settings
    listener = MqttListener(emulator, settings.host, settings.mqtt_port, DEFAULT_NAMESPACE)
    await listener.start()
    emulator.listeners[listener.name] = listener
    try:
        yield
    finally:
        for name in [n for n in emulator.listeners if n == NAME or n.startswith(NAME + ":")]:
            running = emulator.listeners.pop(name)
            await running.stop()


def listener_name(namespace: str) -> str:
    """The key of a namespace's own listener in ``Emulator.listeners``."""
    return NAME if namespace == DEFAULT_NAMESPACE else f"{NAME}:{namespace}"


async def open_for(emulator: Emulator, namespace: str) -> MqttListener:
    """The namespace's listener, opened on an ephemeral port of ``--host`` the first time
    (the default namespace's is the one ``serve`` starts on ``--mqtt-port``, when it runs)."""
    key = listener_name(namespace)
    found = emulator.listeners.get(key)
    if isinstance(found, MqttListener) and found.alive:
        return found
    listener = MqttListener(emulator, emulator.settings.host, 0, namespace)
    listener.name = key
    emulator.listeners[key] = listener
    try:
        await listener.start()
    except BaseException:
        emulator.listeners.pop(key, None)
        raise
    return listener


async def close_for(emulator: Emulator, namespace: str) -> bool:
    listener = emulator.listeners.pop(listener_name(namespace), None)
    if listener is None:
        return False
    if isinstance(listener, MqttListener) and not listener.alive:
        return True  # its event loop has ended (an in-process test client): nothing runs
    await listener.stop()
    return True


def _injected(data: bytes | bytearray, rule: FaultRule) -> bytes:
    """A fault's reply: the rule's code, with the request's id when it has one (the fault
    answers before the payload is checked, as an HTTP fault answers before validation)."""
    assert rule.error is not None
    try:
        request_id = protocol.message_id(protocol.decode(data))
    except Refused:
        request_id = ""
    return protocol.reply(request_id, rule.error.code, None, rule.error.message)
