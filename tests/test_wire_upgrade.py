"""101 Switching Protocols: a real WebSocket echo, a raw byte echo for other tokens, and 426."""

from __future__ import annotations

import base64
import hashlib
import json
import socket

import aiohttp
import httpx
import pytest

from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
KEY = base64.b64encode(b"mockstatus-key16").decode()


def ws_handshake(version: str = "13", key: str = KEY) -> dict[str, str]:
    return {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": version,
    }


def raw_upgrade(port: int, token: str, extra: dict[str, str] | None = None):
    sock = rawhttp.connect(port)
    headers = {"Upgrade": token, "Connection": "Upgrade", **(extra or {})}
    sock.sendall(rawhttp.build("GET", "/status/101", headers))
    reader = rawhttp.Reader(sock)
    return sock, reader, reader.read_head()


def recv_exactly(reader: rawhttp.Reader, n: int) -> bytes:
    return reader.read_exact(n)


# --- WebSocket -----------------------------------------------------------------------------------


async def test_websocket_echoes_text_and_binary_and_closes_cleanly(server):
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(server.url("/status/101")) as ws:
            await ws.send_str("hello, mockstatus")
            msg = await ws.receive(timeout=5)
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.TEXT, "hello, mockstatus")
            payload = bytes(range(256)) * 4
            await ws.send_bytes(payload)
            msg = await ws.receive(timeout=5)
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.BINARY, payload)
            await ws.send_str("é ✓")  # UTF-8 text survives the round trip
            assert (await ws.receive(timeout=5)).data == "é ✓"
            await ws.close(code=1000, message=b"bye")
            # close_code is the code in the server's answering close frame (1006 if none came).
            assert ws.closed and ws.close_code == 1000


async def test_websocket_many_messages_in_order(server):
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(server.url("/status/101")) as ws:
            for i in range(20):
                await ws.send_str(f"m{i}")
            got = [(await ws.receive(timeout=5)).data for _ in range(20)]
            assert got == [f"m{i}" for i in range(20)]


def test_websocket_handshake_on_the_wire(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/101", ws_handshake()))
        reader = rawhttp.Reader(sock)
        head = reader.read_head()
        assert head.head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        assert head.header("Upgrade").lower() == "websocket"
        assert head.header("Connection").lower() == "upgrade"
        accept = base64.b64encode(hashlib.sha1((KEY + WS_GUID).encode()).digest()).decode()
        assert head.header("Sec-WebSocket-Accept") == accept
        assert head.header("Content-Length") is None and head.header("Transfer-Encoding") is None
        # A masked text frame "hi" (RFC 6455 §5.2) comes back unmasked.
        mask = b"\x01\x02\x03\x04"
        sock.sendall(b"\x81\x82" + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(b"hi")))
        assert reader.read_exact(4) == b"\x81\x02hi"


def test_websocket_wrong_version_is_426_naming_13(server):
    _, r = rawhttp.request(server.port, "GET", "/status/101", ws_handshake(version="8"))
    assert r.status == 426
    assert r.header("Sec-WebSocket-Version") == "13" and r.header("Upgrade") == "websocket"


def test_websocket_bad_key_is_400(server):
    _, r = rawhttp.request(
        server.port,
        "GET",
        "/status/101",
        {**ws_handshake(key="short"), "Accept": "application/json"},
    )
    assert r.status == 400
    doc = json.loads(r.body)
    assert doc["param"] == "Upgrade" and "WebSocket" in doc["error"]


# --- other Upgrade tokens: raw echo --------------------------------------------------------------


def test_custom_upgrade_101_then_raw_echo(server):
    sock, reader, head = raw_upgrade(server.port, "echo/1")
    with sock:
        assert head.head.split(b"\r\n")[0] == b"HTTP/1.1 101 Switching Protocols"
        assert head.header("Upgrade") == "echo/1"
        assert head.header("Connection") == "Upgrade"
        names = {n.lower() for n, _ in head.headers}
        assert not names & {"content-length", "transfer-encoding", "content-type"}
        assert reader.buf == b""  # nothing after the 101 head
        sock.sendall(b"ping")
        assert recv_exactly(reader, 4) == b"ping"
        binary = bytes(range(256))
        sock.sendall(binary)
        assert recv_exactly(reader, 256) == binary
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # no longer HTTP: echoed verbatim
        assert recv_exactly(reader, 27) == b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def test_raw_echo_of_a_large_payload(server):
    sock, reader, head = raw_upgrade(server.port, "echo/1")
    with sock:
        assert head.status == 101
        payload = bytes(i % 251 for i in range(300_000))
        sock.sendall(payload)
        assert recv_exactly(reader, len(payload)) == payload


def test_raw_echo_ends_when_the_client_closes(server):
    sock, reader, head = raw_upgrade(server.port, "echo/1")
    with sock:
        assert head.status == 101
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)
        assert reader.read_to_close() == b"last words"  # echoed, then the server closed


def test_first_offered_protocol_is_chosen(server):
    sock, _, head = raw_upgrade(server.port, "foo/2, bar")
    with sock:
        assert head.status == 101 and head.header("Upgrade") == "foo/2"


def test_invalid_upgrade_token_is_400(server):
    _, r = rawhttp.request(
        server.port,
        "GET",
        "/status/101",
        {"Upgrade": "not a/token!/x", "Connection": "Upgrade", "Accept": "application/json"},
    )
    assert r.status == 400 and json.loads(r.body)["param"] == "Upgrade"


# --- 426 -----------------------------------------------------------------------------------------


def test_no_upgrade_is_426_with_upgrade_websocket(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/101") + rawhttp.build("GET", "/status/200"))
        reader = rawhttp.Reader(sock)
        interims, r = reader.read_response()
        assert interims == []
        assert (r.status, r.reason) == (426, "Upgrade Required")
        assert r.all("Upgrade") == ["websocket"]
        assert r.header("Connection") == "Upgrade"
        assert r.body == b"426 Upgrade Required"
        _, after = reader.read_response()  # the connection is still usable
    assert after.status == 200


@pytest.mark.parametrize(
    ("headers", "version"),
    [
        ({"Upgrade": "echo/1"}, "HTTP/1.1"),  # Upgrade without Connection: upgrade is ignored
        ({"Upgrade": "echo/1", "Connection": "Upgrade"}, "HTTP/1.0"),  # §7.8: not from 1.0
    ],
)
def test_ignored_upgrade_is_426(server, headers, version):
    _, r = rawhttp.request(server.port, "GET", "/status/101", headers, version=version)
    assert r.status == 426 and r.header("Upgrade") == "websocket"


def test_real_client_sees_426(server):
    r = httpx.get(server.url("/status/101"))
    assert r.status_code == 426 and r.headers["Upgrade"] == "websocket"
