"""RFC 6455 rules aiohttp's reader does not enforce, proven on the wire (mockstatus.wire.ws_guard):
an unmasked client frame is closed with 1002 (§5.1), and a close frame carrying a code that must
never be on the wire (1004/1006/1015, §7.4.1) or is undefined (< 1000, >= 5000) is answered 1002."""

from __future__ import annotations

import importlib
import socket
import struct

import pytest

from tests.rawhttp import Reader, connect

HANDSHAKE = (
    b"GET /websocket/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
CLOSE_1002 = b"\x88\x02\x03\xea"
CLOSE_1000 = b"\x88\x02\x03\xe8"


def frame(opcode: int, payload: bytes, *, masked: bool = True) -> bytes:
    assert len(payload) < 126
    if not masked:
        return bytes([0x80 | opcode, len(payload)]) + payload
    key = b"\x01\x02\x03\x04"
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + body


def open_ws(port: int, first: bytes = b"") -> tuple[socket.socket, bytes]:
    sock = connect(port)
    sock.sendall(HANDSHAKE + first)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, rest = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101 ")
    return sock, rest


def read_to_eof(sock: socket.socket, data: bytes) -> bytes:
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_unmasked_frame_is_closed_with_1002_and_not_echoed(server):
    sock, rest = open_ws(server.port)
    sock.sendall(frame(1, b"hi", masked=False))
    assert read_to_eof(sock, rest) == CLOSE_1002


def test_unmasked_frame_in_the_handshake_packet_is_closed_with_1002(server):
    sock, rest = open_ws(server.port, frame(1, b"hi", masked=False))
    assert read_to_eof(sock, rest) == CLOSE_1002


def test_masked_frames_before_an_unmasked_one_are_echoed_first(server):
    sock, rest = open_ws(server.port)
    sock.sendall(frame(1, b"ok") + frame(2, b"no", masked=False))
    assert read_to_eof(sock, rest) == b"\x81\x02ok" + CLOSE_1002


def test_a_64_bit_length_with_the_top_bit_set_is_1002_and_2_to_the_62_is_1009(server):
    sock, rest = open_ws(server.port)
    sock.sendall(b"\x82\xff" + struct.pack(">Q", 2**63) + b"abcd")
    assert read_to_eof(sock, rest) == CLOSE_1002
    sock, rest = open_ws(server.port)
    sock.sendall(b"\x82\xff" + struct.pack(">Q", 2**62) + b"abcd")
    assert read_to_eof(sock, rest) == b"\x88\x02\x03\xf1"  # 1009: message too big


def test_headers_split_byte_by_byte_still_echo(server):
    sock, rest = open_ws(server.port)
    wire = frame(1, b"a" * 125) + frame(1, b"b")
    for i in range(len(wire)):
        sock.sendall(wire[i : i + 1])
    sock.sendall(frame(8, struct.pack(">H", 1000)))
    assert read_to_eof(sock, rest) == b"\x81\x7d" + b"a" * 125 + b"\x81\x01b" + CLOSE_1000


@pytest.mark.parametrize(
    "code, answer",
    [
        (1004, CLOSE_1002),
        (1005, CLOSE_1002),
        (1006, CLOSE_1002),
        (1015, CLOSE_1002),
        (999, CLOSE_1002),
        (5000, CLOSE_1002),
        (65535, CLOSE_1002),
        (1000, CLOSE_1000),
        (1001, CLOSE_1000),
        (3000, CLOSE_1000),
        (4999, CLOSE_1000),
    ],
)
def test_close_codes_that_must_not_be_on_the_wire_are_answered_1002(server, code, answer):
    sock, rest = open_ws(server.port)
    sock.sendall(frame(8, struct.pack(">H", code) + b"bye"))
    assert read_to_eof(sock, rest) == answer


def test_an_empty_close_is_answered_1000(server):
    sock, rest = open_ws(server.port)
    sock.sendall(frame(8, b""))
    assert read_to_eof(sock, rest) == CLOSE_1000


KEY = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"


@pytest.mark.parametrize(
    "request_head, problem",
    [
        (HANDSHAKE.replace(b"GET ", b"POST ").replace(b"/websocket/echo", b"/status/101"), b"GET"),
        (HANDSHAKE.replace(b"/websocket/echo", b"/status/101").replace(KEY, KEY + KEY), b"once"),
        (
            HANDSHAKE.replace(b"Version: 13\r\n", b"Version: 13\r\nSec-WebSocket-Version: 13\r\n"),
            b"Sec-WebSocket-Version must appear once",
        ),
    ],
    ids=["post-status-101", "two-keys", "two-versions"],
)
def test_handshakes_rfc6455_forbids_are_400s_naming_the_problem(server, request_head, problem):
    sock = connect(server.port)
    sock.sendall(request_head.replace(b"\r\n\r\n", b"\r\nContent-Length: 0\r\n\r\n"))
    _, resp = Reader(sock).read_response()
    assert resp.status == 400
    assert b"invalid WebSocket handshake" in resp.body and problem in resp.body
    assert resp.header("Sec-WebSocket-Accept") is None


def test_fragments_past_the_message_cap_are_closed_with_1009(server, monkeypatch):
    upgrade_module = importlib.import_module(
        "mockstatus.wire.upgrade"
    )  # `wire.upgrade` is a function
    monkeypatch.setattr(upgrade_module, "MAX_WEBSOCKET_MESSAGE", 1000)
    sock, rest = open_ws(server.port)
    first = bytes([0x02, 0x80 | 100]) + b"\0\0\0\0" + b"x" * 100  # binary, not final
    more = bytes([0x00, 0x80 | 100]) + b"\0\0\0\0" + b"y" * 100  # continuation, not final
    sock.sendall(first + more * 10)
    assert read_to_eof(sock, rest) == b"\x88\x02\x03\xf1"
