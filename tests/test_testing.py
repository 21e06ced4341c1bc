"""emulator.testing: the socket the pytest plugin's and the suite's servers listen on."""

from __future__ import annotations

import asyncio
import socket

from emulator.testing import listening_socket


def test_connections_accepted_by_an_asyncio_server_have_nagle_off() -> None:
    # What uvicorn does with the socket: asyncio.start_server over it. With Nagle's algorithm
    # left on, each answer written in two pieces waited about 40 ms for the client's ACK.
    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connection, sock=listening_socket())
        async with server:
            host, port = server.sockets[0].getsockname()[:2]
            _, writer = await asyncio.open_connection(host, port)
            try:
                return await asyncio.wait_for(seen, timeout=60)
            finally:
                writer.close()

    assert asyncio.run(accepted_nodelay()) != 0
