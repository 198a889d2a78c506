"""Red-team findings on HTTP/2, frame by frame on a real listening socket.

After the server's own GOAWAY (a 408 closes the connection, as on HTTP/1.1; a 413 ends only its
stream, tests/test_h2_upload_cap.py), a
stream the client opened before reading that GOAWAY must be ignored (RFC 9113 §6.8), not reset:
h2, the HTTP/2 engine of httpx, fails the whole client on any frame that follows a GOAWAY it
has read (`LocalProtocolError: Invalid input RECV_RST_STREAM in state CLOSED`), where it would
otherwise retry the unprocessed stream on a new connection.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from h2.errors import ErrorCodes
from hpack import Encoder
from hyperframe.frame import Frame, GoAwayFrame, HeadersFrame, PingFrame, RstStreamFrame

from mockstatus.runner import BackgroundServer
from tests.test_h2_rawclient import PREFACE, h2_server, read_until


@pytest.fixture
def srv(tmp_path: Any) -> Iterator[BackgroundServer]:
    server = h2_server(tmp_path)
    yield server
    server.stop()


class RawH2:
    """Frames in, frames out: nothing a client library would hide or retry."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # empty SETTINGS
        self.encoder = Encoder()

    def get(self, sid: int, path: str) -> None:
        fields = [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", path)]
        block = self.encoder.encode(fields)
        self.sock.sendall(HeadersFrame(sid, block, flags=["END_HEADERS", "END_STREAM"]).serialize())

    def until(self, done: Any) -> list[Frame]:
        return read_until(self.sock, done)

    def ping_round_trip(self, opaque: bytes) -> list[Frame]:
        """Every frame the server sends until it acknowledges this PING: what it decided about
        the frames sent before the PING is out by then."""
        self.sock.sendall(PingFrame(0, opaque_data=opaque).serialize())
        return self.until(
            lambda fs: any(
                isinstance(f, PingFrame) and "ACK" in f.flags and f.opaque_data == opaque
                for f in fs
            )
        )

    def close(self) -> None:
        self.sock.close()


def has_goaway(frames: list[Frame]) -> bool:
    return any(isinstance(f, GoAwayFrame) for f in frames)


@pytest.mark.parametrize("path", ["/status/408"], ids=["408"])
def test_a_stream_opened_after_our_goaway_is_ignored_not_reset(srv: Any, path: str) -> None:
    client = RawH2(srv.port)
    try:
        client.get(1, path)
        first = client.until(has_goaway)
        goaway = next(f for f in first if isinstance(f, GoAwayFrame))
        assert (goaway.last_stream_id, goaway.error_code) == (1, ErrorCodes.NO_ERROR)
        assert [f.stream_id for f in first if isinstance(f, HeadersFrame)] == [1]
        # The client had not read the GOAWAY yet and opened stream 3.
        client.get(3, "/status/204")
        later = client.ping_round_trip(b"redteam1") + client.ping_round_trip(b"redteam2")
    finally:
        client.close()
    assert [f for f in later if isinstance(f, RstStreamFrame)] == []
    assert [f for f in later if isinstance(f, HeadersFrame)] == []  # stream 3 not processed
    assert [type(f).__name__ for f in later] == ["PingFrame", "PingFrame"]


def test_the_graceful_goaway_fault_still_refuses_later_streams(srv: Any) -> None:
    """The fault is documented to answer later streams RST_STREAM(REFUSED_STREAM): kept."""
    client = RawH2(srv.port)
    try:
        client.get(1, "/status/200?fault=goaway&graceful=1")
        client.until(has_goaway)
        client.get(3, "/status/204")
        later = client.ping_round_trip(b"redteam3") + client.ping_round_trip(b"redteam4")
    finally:
        client.close()
    resets = [(f.stream_id, f.error_code) for f in later if isinstance(f, RstStreamFrame)]
    assert resets == [(3, ErrorCodes.REFUSED_STREAM)]


def test_options_asterisk_over_http2_is_200_with_allow(srv: Any) -> None:
    """RFC 9113 §8.3.1 allows `:path *` for OPTIONS; the answer is the HTTP/1.1 one."""
    from tests.test_h2_rawclient import H2Client

    with H2Client(srv.port) as c:
        answer = c.wait(c.request("*", method="OPTIONS"))
    assert (answer.status, answer.body) == (200, b"")
    assert answer.header("allow") == "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"


BASE = [(":method", "GET"), (":scheme", "http"), (":authority", "x")]


@pytest.mark.parametrize(
    "fields",
    [
        [*BASE, (":path", "/status/200"), ("x y", "1")],
        [*BASE, (":path", "/status/200"), ("x\x01", "1")],
        [*BASE, (":path", "/status/200"), ("caf\xe9", "1")],
        [*BASE, (":path", "status/200")],
        [*BASE, (":path", "*")],
    ],
    ids=["space-in-name", "ctl-in-name", "non-ascii-name", "path-without-slash", "star-for-get"],
)
def test_malformed_requests_are_reset_with_protocol_error(srv: Any, fields: Any) -> None:
    """RFC 9113 §8.2.1 (a field name is a token) and §8.3.1 (`:path` is origin-form, or `*`
    for OPTIONS): a malformed request is a stream error PROTOCOL_ERROR, never served."""
    client = RawH2(srv.port)
    try:
        block = client.encoder.encode(fields)
        frame = HeadersFrame(1, block, flags=["END_HEADERS", "END_STREAM"])
        client.sock.sendall(frame.serialize())
        frames = client.ping_round_trip(b"redteam5")
    finally:
        client.close()
    assert [(f.stream_id, f.error_code) for f in frames if isinstance(f, RstStreamFrame)] == [
        (1, ErrorCodes.PROTOCOL_ERROR)
    ]
    assert [f for f in frames if isinstance(f, HeadersFrame)] == []


@pytest.mark.parametrize("end_stream", [True, False], ids=["ended", "tunnel-open"])
def test_connect_over_http2_is_405_not_a_traceback(srv: Any, end_stream: bool) -> None:
    """An RFC 9113 §8.5 CONNECT has no :path: the server raised StopIteration in its frame
    handler (a traceback, and the connection hung) instead of answering."""
    from tests.test_h2_rawclient import Answer, H2Client

    with H2Client(srv.port) as c:
        sid = c.conn.get_next_available_stream_id()
        fields = [(":method", "CONNECT"), (":authority", "example.com:443")]
        # h2 before 4.1 refuses to send a CONNECT without :path (its own check, not the RFC's)
        c.conn.config.validate_outbound_headers = False
        c.conn.send_headers(sid, fields, end_stream=end_stream)
        c.answers[sid] = Answer()
        c.flush()
        answer = c.wait(sid)
    assert (answer.status, answer.ended) == (405, True)
    assert answer.header("allow") == "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"
    assert answer.body == b"405 Method Not Allowed: CONNECT is not supported: this is not a proxy\n"
