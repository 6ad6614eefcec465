"""The in-loop uvicorn server (`infra.embedded`) serves without Nagle's delay."""

from __future__ import annotations

import asyncio
import socket

import httpx

from infra.embedded import serving, tcp_listener


async def _nodelay_of_accepted(listener: socket.socket) -> int:
    """TCP_NODELAY on the connection asyncio accepts through ``listener``."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=listener)
    async with server:
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(accepted, 5)
        finally:
            writer.close()


async def test_accepted_connections_have_nodelay() -> None:
    assert await _nodelay_of_accepted(tcp_listener()) != 0


async def test_a_socket_without_ip_proto_tcp_keeps_nagle_which_is_why_tcp_listener_exists() -> None:
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    plain.bind(("127.0.0.1", 0))
    # If asyncio ever starts setting TCP_NODELAY here too, tcp_listener is no longer needed.
    assert await _nodelay_of_accepted(plain) == 0


async def test_serving_answers_on_a_loopback_port_and_stops() -> None:
    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    async with serving(app, lifespan="off") as url:
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{url}/anything")
        assert (response.status_code, response.text) == (200, "ok")
    async with httpx.AsyncClient() as http:
        try:
            await http.get(f"{url}/anything", timeout=2)
        except httpx.ConnectError:
            pass
        else:
            raise AssertionError("the server still answers after the block")
