"""Raw `Upgrade` echo under a client that sends and never reads: reading pauses past a small
buffer (the client's own socket buffers fill, not the server's memory), and every received byte
counts against the echo cap."""

from __future__ import annotations

import contextlib
import socket

import pytest

from mockstatus.limits import UPGRADE_ECHO_BUFFER
from mockstatus.wire.upgrade import _EchoParser
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

READ_CHUNK = 256 * 1024  # asyncio's largest single read from a socket
SEND_LIMIT = 48 * 1024 * 1024  # bounded: without back-pressure the client could send forever


def small_socket(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    sock.settimeout(rawhttp.TIMEOUT)
    sock.connect(("127.0.0.1", port))
    return sock


def echo_parsers(server) -> list[_EchoParser]:
    def collect() -> list[_EchoParser]:
        conns = server._runner.server.connections
        return [c._payload_parser for c in conns if isinstance(c._payload_parser, _EchoParser)]

    return server.call(collect)


def test_a_client_that_never_reads_is_held_by_back_pressure(server):
    with small_socket(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/101", {"Upgrade": "x", "Connection": "Upgrade"}))
        reader = rawhttp.Reader(sock)
        assert reader.read_head().status == 101
        sock.settimeout(1.0)  # how long a blocked send waits before we call it blocked
        chunk = b"x" * (64 * 1024)
        sent, blocked = 0, False
        try:
            while sent < SEND_LIMIT:
                sent += sock.send(chunk)
        except TimeoutError:
            blocked = True
        assert blocked, f"the server took {sent} bytes without the client reading any"
        (parser,) = echo_parsers(server)
        assert parser.paused
        assert parser.buffered <= UPGRADE_ECHO_BUFFER + READ_CHUNK  # the server holds little
        # The connection is alive: reading resumes the echo.
        sock.settimeout(rawhttp.TIMEOUT)
        assert sock.recv(65536).startswith(b"x")


def test_received_bytes_count_against_the_cap(server, monkeypatch):
    monkeypatch.setattr("mockstatus.app.MAX_UPGRADE_ECHO", 100 * 1024)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/101", {"Upgrade": "x", "Connection": "Upgrade"}))
        reader = rawhttp.Reader(sock)
        assert reader.read_head().status == 101
        # The server may close before all is sent: that is the cap at work.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"y" * (300 * 1024))
        try:
            echoed = reader.read_to_close()
        except ConnectionResetError:
            echoed = reader.buf
    assert 0 < len(echoed) <= 100 * 1024
    assert set(echoed) == {ord("y")}


class FakeTransport:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")

    def is_closing(self) -> bool:
        return False


async def test_parser_pauses_past_the_buffer_and_resumes_when_drained():
    transport = FakeTransport()
    parser = _EchoParser(transport, buffer=10)  # type: ignore[arg-type]
    parser.feed_data(b"12345")
    assert transport.calls == []
    parser.feed_data(b"67890")
    parser.feed_data(b"abc")  # reading is already paused: no second pause
    assert transport.calls == ["pause"]
    assert parser.received == 13
    assert await parser.get() == b"12345"  # 8 left: over half the buffer, still paused
    assert transport.calls == ["pause"]
    assert await parser.get() == b"67890"
    assert transport.calls == ["pause", "resume"]
    parser.feed_eof()
    assert await parser.get() == b"abc"
    assert await parser.get() is None
