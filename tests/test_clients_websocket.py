"""/websocket/echo with aiohttp's client, over plain HTTP/1.1: messages of every length class
(7-bit, 16-bit and 64-bit payload lengths) come back intact, up to MAX_WEBSOCKET_MESSAGE; one
byte more is closed with 1009 "message too big" (RFC 6455 §7.4.1), seen on a raw socket. The cap used to be aiohttp's
unstated default; now it is ours, in limits.py and docs/security.md."""

from __future__ import annotations

import asyncio
import struct

import aiohttp

from mockstatus.limits import MAX_WEBSOCKET_MESSAGE
from tests import rawhttp


async def _echo_sizes(url: str, sizes: list[int]) -> list[tuple[str, int, int | None]]:
    out = []
    # the client's own receive cap is raised so that only the server's cap is tested
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, max_msg_size=2 * MAX_WEBSOCKET_MESSAGE) as ws,
    ):
        for size in sizes:
            payload = bytes([size % 251]) * size
            await ws.send_bytes(payload)
            msg = await ws.receive(timeout=10)
            if msg.type != aiohttp.WSMsgType.BINARY:
                out.append((msg.type.name, msg.data, ws.close_code))
                break
            out.append(("BINARY", len(msg.data), None))
            assert msg.data == payload
    return out


def test_websocket_echoes_every_length_class_up_to_the_cap(server) -> None:
    sizes = [0, 125, 126, 65535, 65536, MAX_WEBSOCKET_MESSAGE]
    got = asyncio.run(_echo_sizes(server.url("/websocket/echo").replace("http", "ws", 1), sizes))
    assert got == [("BINARY", size, None) for size in sizes]


def test_websocket_message_over_the_cap_is_closed_with_1009(server) -> None:
    # A raw socket, so that the answer does not race a client still writing 4 MiB: the server
    # decides on the frame header alone (its 64-bit length), before any payload byte.
    with rawhttp.connect(server.port) as sock:
        sock.settimeout(5)
        sock.sendall(
            rawhttp.build(
                "GET",
                "/websocket/echo",
                {
                    "Upgrade": "websocket",
                    "Connection": "Upgrade",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                    "Sec-WebSocket-Version": "13",
                },
            )
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101 ")
        rest = head.partition(b"\r\n\r\n")[2]
        # FIN + binary, masked, 64-bit length one byte over the cap, mask key 0
        sock.sendall(b"\x82\xff" + struct.pack("!Q", MAX_WEBSOCKET_MESSAGE + 1) + b"\0" * 4)
        while len(rest) < 4:
            rest += sock.recv(4096)
    assert rest[0] == 0x88  # FIN + close
    assert struct.unpack("!H", rest[2:4])[0] == 1009


def test_the_cap_is_four_mebibytes() -> None:
    assert MAX_WEBSOCKET_MESSAGE == 4 * 1024 * 1024
