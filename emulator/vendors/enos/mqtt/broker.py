"""The embedded amqtt broker and the plugins through which the EnOS platform answers.

amqtt accepts the connections and speaks MQTT 3.1.1; the plugins below decide the rest:
- :class:`DeviceAuth` checks each CONNECT through the listener (refused: CONNACK 5, or the
  code a fault chose, or no CONNACK at all when a fault drops the connection);
- :class:`PlatformTopics` lets devices subscribe but relays no PUBLISH between them: every
  request is the platform's to answer, on the device's own session;
- :class:`PlatformHooks` follows the connection (login, disconnect) and the messages.

amqtt fires its "client connected" hook before the session's handler runs; a message
published from there would be sent, then sent again when the handler starts (it resends
what is in flight). So downlink messages wait until the session is ready:
:class:`EmulatorBroker` reports it, once the handler has started.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.mqtt.connack import ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BasePlugin, BaseTopicPlugin
from amqtt.session import ApplicationMessage, Session

if TYPE_CHECKING:
    from emulator.vendors.enos.mqtt.listener import MqttListener


class EmulatorBroker(Broker):
    """amqtt's broker, telling its listener when a session can take messages."""

    def __init__(self, listener: MqttListener, config: dict[str, Any], namespace: str) -> None:
        self.listener = listener
        self.connections: set[asyncio.Task[Any]] = set()
        super().__init__(config, plugin_namespace=namespace)

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        # Each connection's task is known, so that stopping the listener ends them all and
        # closes their sockets (amqtt's shutdown leaves a connection still in its CONNECT open).
        task = asyncio.current_task()
        if task is not None:
            self.connections.add(task)
        try:
            await super().stream_connected(reader, writer, listener_name)
        finally:
            if task is not None:
                self.connections.discard(task)
            writer.close()

    async def close_connections(self) -> None:
        tasks = list(self.connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _initialize_client_session(
        self, reader: ReaderAdapter, writer: WriterAdapter, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        handler, session = await super()._initialize_client_session(
            reader, writer, remote_address, remote_port
        )
        # amqtt answers every refused login with CONNACK 5; the listener may want another
        # code (a fault's 3), or none at all (a fault dropping the connection).
        handler.mqtt_connack_authorize = partial(self._connack, handler, session)
        return handler, session

    async def _connack(
        self, handler: BrokerProtocolHandler, session: Session, authorize: bool
    ) -> None:
        if authorize:
            await BrokerProtocolHandler.mqtt_connack_authorize(handler, True)
            return
        code = self.listener.refusal(session.client_id or "")
        if code is not None:  # None: the connection closes with no CONNACK
            await handler._send_packet(ConnackPacket.build(session.parent, code))

    async def _create_server_instance(
        self, listener_name: str, listener_type: Any, address: str | None, port: int,
        ssl_context: Any,
    ) -> Any:  # fmt: skip
        if not self.listener.emulator.shared:
            return await super()._create_server_instance(
                listener_name, listener_type, address, port, ssl_context
            )
        # Several processes (--workers N) share the port: the kernel spreads the devices'
        # connections over them, and the database carries commands between them.
        return await asyncio.start_server(
            partial(self.stream_connected, listener_name=listener_name),
            address, port, reuse_address=True, reuse_port=True,
        )  # fmt: skip

    async def _publish_session_retained_messages(self, session: Session) -> None:
        # Runs right after the session's handler started (amqtt 0.12 Broker): the moment
        # messages can be published once, without the handler's resend of in-flight ones.
        await super()._publish_session_retained_messages(session)
        self.listener.session_ready(session)


@dataclass
class _Config:
    listener: Any = None


class DeviceAuth(BaseAuthPlugin):
    Config = _Config

    async def authenticate(self, *, session: Session) -> bool | None:
        listener: MqttListener = self.config.listener
        return await listener.authenticate(session)


class PlatformTopics(BaseTopicPlugin):
    Config = _Config

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None,
        action: Action | None = None,
    ) -> bool | None:  # fmt: skip
        return bool(action != Action.PUBLISH)


class PlatformHooks(BasePlugin[Any]):
    Config = _Config

    async def on_broker_client_connected(self, *, client_id: str, client_session: Session) -> None:
        listener: MqttListener = self.config.listener
        await listener.connected(client_id)

    async def on_broker_client_disconnected(
        self, *, client_id: str, client_session: Session
    ) -> None:
        listener: MqttListener = self.config.listener
        listener.disconnected(client_id)

    async def on_broker_message_received(
        self, *, client_id: str, message: ApplicationMessage | None
    ) -> None:
        listener: MqttListener = self.config.listener
        if message is not None:
            listener.received(client_id, message.topic, message.data)
