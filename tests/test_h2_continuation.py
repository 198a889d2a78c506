"""A HEADERS + CONTINUATION chain is capped at H2_MAX_HEADER_BLOCK encoded bytes while it
accumulates: the frame that passes the cap ends the connection with GOAWAY(ENHANCE_YOUR_CALM)
(RFC 9113 §10.5.1), instead of h2 buffering up to 64 frames (~1 MiB) first. The server stays up."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import ContinuationFrame, GoAwayFrame, HeadersFrame, SettingsFrame

from mockstatus.limits import H2_MAX_HEADER_BLOCK
from mockstatus.runner import BackgroundServer
from tests.test_h2_rawclient import PREFACE, H2Client, h2_server, read_frames

FRAME = 16 * 1024  # SETTINGS_MAX_FRAME_SIZE's default: the server never raises it
JUNK = b"\xff" * FRAME  # never decoded when the cap trips: the block is refused unread


@pytest.fixture
def srv(tmp_path: Any) -> Iterator[BackgroundServer]:
    server = h2_server(tmp_path)
    yield server
    server.stop()


def chain(sizes: list[int], *, end_headers: bool = False) -> bytes:
    """HEADERS then CONTINUATION frames on stream 1 with these payload sizes."""
    first, *rest = sizes
    frames = [HeadersFrame(1, JUNK[:first], flags=["END_STREAM"])]
    frames += [ContinuationFrame(1, JUNK[:size]) for size in rest]
    if end_headers:
        frames[-1].flags.add("END_HEADERS")
    return b"".join(f.serialize() for f in frames)


def goaways(port: int, data: bytes) -> list[tuple[int, bytes]]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(PREFACE + SettingsFrame(0).serialize() + data)
        frames = read_frames(sock)
    finally:
        sock.close()
    return [(f.error_code, f.additional_data) for f in frames if isinstance(f, GoAwayFrame)]


def test_the_cap_is_64_kib_like_the_header_list_cap() -> None:
    assert H2_MAX_HEADER_BLOCK == 64 * 1024 == 4 * FRAME


def test_one_byte_past_the_cap_is_goaway_enhance_your_calm(srv: Any) -> None:
    # Exactly the cap in four frames, then one byte more: refused on that byte, the rest of
    # the chain (up to h2's 64 frames) is never waited for.
    got = goaways(srv.port, chain([FRAME, FRAME, FRAME, FRAME, 1]))
    assert got == [
        (
            ErrorCodes.ENHANCE_YOUR_CALM,
            b"a header block over 65536 bytes (HEADERS + CONTINUATION)",
        )
    ]
    with H2Client(srv.port) as c:  # the server is up: a new connection is served
        a = c.get("/status/503")
    assert (a.status, a.body) == (503, b"503 Service Unavailable")


def test_a_block_of_exactly_the_cap_is_decoded_not_refused_for_size(srv: Any) -> None:
    # The same 64 KiB, ended: h2 decodes it (junk, so COMPRESSION_ERROR), it is not over the cap.
    got = goaways(srv.port, chain([FRAME, FRAME, FRAME, FRAME, 0], end_headers=True))
    assert [code for code, _ in got] == [ErrorCodes.COMPRESSION_ERROR]


def test_the_whole_64_frame_chain_is_refused_on_its_fifth_frame(srv: Any) -> None:
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    sent = 0
    try:
        sock.sendall(PREFACE + SettingsFrame(0).serialize())
        for frame in [HeadersFrame(1, JUNK)] + [ContinuationFrame(1, JUNK)] * 63:
            try:
                sock.sendall(frame.serialize())
            except OSError:  # the server closed: the rest is not read
                break
            sent += 1
            if sent == 5:
                break  # what follows is never needed for the answer
        frames = read_frames(sock)
    finally:
        sock.close()
    codes = [f.error_code for f in frames if isinstance(f, GoAwayFrame)]
    assert (sent, codes) == (5, [ErrorCodes.ENHANCE_YOUR_CALM])


def test_a_continuation_chain_within_the_cap_is_served(srv: Any) -> None:
    value = "v" * 40_000  # ~35 KB Huffman-coded: HEADERS + two CONTINUATION frames
    with H2Client(srv.port) as c:
        a = c.get("/anything", headers=[("x-long", value)])
    assert a.status == 200
    echoed = {k.lower(): v for k, v in json.loads(a.body)["headers"].items()}
    assert echoed["x-long"] == value
