"""HTTP/2 under attack and against RFC 9113, frame by frame: the stream errors h2 would make
connection errors (wire.h2_conn), GOAWAY's debug text, and :authority against Host."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from h2.errors import ErrorCodes
from hpack import Encoder
from hyperframe.frame import (
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from mockstatus.limits import H2_FLOOD_RESETS, H2_READ_SLICE
from mockstatus.runner import BackgroundServer
from mockstatus.wire.h2 import H2Protocol
from tests.test_h2_rawclient import PREFACE, h2_server, read_frames, read_until


@pytest.fixture
def srv(tmp_path: Any) -> Iterator[BackgroundServer]:
    server = h2_server(tmp_path, h2_max_streams=2)
    yield server
    server.stop()


class Raw:
    """A raw connection with its own HPACK encoder: frames h2's client side would not send."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(PREFACE + SettingsFrame(0).serialize())
        self.encoder = Encoder()

    def headers(
        self,
        sid: int,
        path: str = "/status/200",
        method: str = "GET",
        extra: tuple[tuple[str, str], ...] = (),
        flags: tuple[str, ...] = ("END_HEADERS", "END_STREAM"),
    ) -> bytes:
        fields = [(":method", method), (":scheme", "http"), (":authority", "localhost")]
        fields += [(":path", path), *extra]
        frame = HeadersFrame(sid, flags=flags)
        frame.data = self.encoder.encode(fields)
        return frame.serialize()

    def trailers(self, sid: int, flags: tuple[str, ...]) -> bytes:
        frame = HeadersFrame(sid, flags=flags)
        frame.data = self.encoder.encode([("x-checksum", "1")])
        return frame.serialize()

    def send(self, *chunks: bytes) -> None:
        self.sock.sendall(b"".join(chunks))

    def until_ended(self, sid: int) -> list[Frame]:
        """Frames until stream `sid` ends (DATA or HEADERS with END_STREAM) or is reset."""
        return read_until(self.sock, lambda fs: any(_done(f, sid) for f in fs))

    def close(self) -> None:
        self.sock.close()


def _done(frame: Frame, sid: int) -> bool:
    if frame.stream_id != sid:
        return False
    return isinstance(frame, RstStreamFrame) or "END_STREAM" in frame.flags


def resets(frames: list[Frame]) -> dict[int, int]:
    return {f.stream_id: f.error_code for f in frames if isinstance(f, RstStreamFrame)}


def body_of(frames: list[Frame], sid: int) -> bytes:
    return b"".join(f.data for f in frames if isinstance(f, DataFrame) and f.stream_id == sid)


def no_goaway(frames: list[Frame]) -> bool:
    return not any(isinstance(f, GoAwayFrame) for f in frames)


@pytest.fixture
def raw(srv: BackgroundServer) -> Iterator[Raw]:
    conn = Raw(srv.port)
    yield conn
    conn.close()


# --- §5.1.2: a stream over SETTINGS_MAX_CONCURRENT_STREAMS is refused, not the connection ----


def test_a_stream_over_max_concurrent_streams_gets_refused_stream(raw: Raw) -> None:
    # Streams 1 and 3 stay open (their bodies are pending); stream 5 is one too many (cap 2).
    open_ = ("END_HEADERS",)
    raw.send(
        raw.headers(1, "/anything", "POST", flags=open_),
        raw.headers(3, "/anything", "POST", flags=open_),
        raw.headers(5, "/status/200"),
        DataFrame(5, data=b"late body", flags=["END_STREAM"]).serialize(),  # ignored: §5.1
        DataFrame(1, data=b"one", flags=["END_STREAM"]).serialize(),
        DataFrame(3, data=b"three", flags=["END_STREAM"]).serialize(),
    )
    frames = read_until(raw.sock, lambda fs: all(any(_done(f, s) for f in fs) for s in (1, 3)))
    assert resets(frames) == {5: ErrorCodes.REFUSED_STREAM}  # exactly one reset, no STREAM_CLOSED
    assert b'"data": "one"' in body_of(frames, 1)
    assert b'"data": "three"' in body_of(frames, 3)
    assert no_goaway(frames)
    # The refused stream's slot is free again: a new stream is served.
    raw.send(raw.headers(7, "/status/418"))
    assert body_of(raw.until_ended(7), 7) == b"418 I'm a teapot"


# --- §8.1.1: a malformed request is a stream error; the connection carries on ------------------


@pytest.mark.parametrize(
    ("length", "data"),
    [
        ("10", b"abc"),  # fewer DATA bytes than content-length
        ("2", b"abc"),  # more
        ("abc", b"abc"),  # not 1*DIGIT
    ],
)
def test_content_length_against_data_is_a_stream_protocol_error(
    raw: Raw, length: str, data: bytes
) -> None:
    raw.send(
        raw.headers(1, "/anything", "POST", (("content-length", length),), ("END_HEADERS",)),
        DataFrame(1, data=data, flags=["END_STREAM"]).serialize(),
        raw.headers(3, "/status/200"),
    )
    frames = raw.until_ended(3)
    assert resets(frames) == {1: ErrorCodes.PROTOCOL_ERROR}
    assert body_of(frames, 3) == b"200 OK"
    assert no_goaway(frames)


def test_end_stream_on_headers_with_a_nonzero_content_length_is_malformed(raw: Raw) -> None:
    raw.send(
        raw.headers(1, "/anything", "POST", (("content-length", "5"),)),
        raw.headers(3, "/anything", "POST", (("content-length", "0"),)),
    )
    frames = read_until(raw.sock, lambda fs: any(_done(f, 3) for f in fs) and 1 in resets(fs))
    assert resets(frames) == {1: ErrorCodes.PROTOCOL_ERROR}
    assert b'"method": "POST"' in body_of(frames, 3)


def test_conflicting_content_lengths_are_malformed(raw: Raw) -> None:
    both = (("content-length", "3"), ("content-length", "4"))
    raw.send(
        raw.headers(1, "/anything", "POST", both, ("END_HEADERS",)),
        DataFrame(1, data=b"abc", flags=["END_STREAM"]).serialize(),
        raw.headers(3, "/status/200"),
    )
    frames = raw.until_ended(3)
    assert resets(frames) == {1: ErrorCodes.PROTOCOL_ERROR}
    assert no_goaway(frames)


def test_trailers_are_read_and_trailers_without_end_stream_are_a_stream_error(raw: Raw) -> None:
    open_ = ("END_HEADERS",)
    raw.send(
        raw.headers(1, "/anything", "POST", flags=open_),
        DataFrame(1, data=b"abc").serialize(),
        raw.trailers(1, ("END_HEADERS", "END_STREAM")),
    )
    frames = raw.until_ended(1)
    assert b'"data": "abc"' in body_of(frames, 1)
    raw.send(
        raw.headers(3, "/anything", "POST", flags=open_),
        DataFrame(3, data=b"abc").serialize(),
        raw.trailers(3, ("END_HEADERS",)),  # §8.1: trailers must end the stream
        raw.headers(5, "/status/200"),
    )
    frames = raw.until_ended(5)
    assert resets(frames) == {3: ErrorCodes.PROTOCOL_ERROR}
    assert body_of(frames, 5) == b"200 OK"


# --- §8.3.1: Host must name what :authority names ----------------------------------------------


def test_a_host_field_that_differs_from_authority_is_malformed(raw: Raw) -> None:
    raw.send(
        raw.headers(1, "/headers", extra=(("host", "evil.example"),)),
        raw.headers(3, "/headers", extra=(("host", "LOCALHOST"),)),  # the same host: served
    )
    frames = raw.until_ended(3)
    assert resets(frames) == {1: ErrorCodes.PROTOCOL_ERROR}
    assert b'"Host": "LOCALHOST"' in body_of(frames, 3)


# --- §6.8: a GOAWAY that ends the connection on an error says why --------------------------------


def test_a_connection_error_goaway_carries_debug_text(raw: Raw) -> None:
    oversized = (20000).to_bytes(3, "big") + b"\x00\x00" + (1).to_bytes(4, "big")
    raw.send(oversized + b"a" * 20000)
    goaways = [f for f in read_frames(raw.sock) if isinstance(f, GoAwayFrame)]
    assert [g.error_code for g in goaways] == [ErrorCodes.FRAME_SIZE_ERROR]
    assert b"20000" in goaways[0].additional_data  # h2's words: the length it refused


def test_rapid_reset_gets_enhance_your_calm_with_the_reason(raw: Raw) -> None:
    chunks = []
    for k in range(H2_FLOOD_RESETS + 1):
        sid = 1 + 2 * k
        chunks += [raw.headers(sid), RstStreamFrame(sid, error_code=ErrorCodes.CANCEL).serialize()]
    raw.send(*chunks)
    goaways = [f for f in read_frames(raw.sock) if isinstance(f, GoAwayFrame)]
    assert [g.error_code for g in goaways] == [ErrorCodes.ENHANCE_YOUR_CALM]
    assert goaways[0].additional_data == b"more than 200 stream resets in a second"


# --- a client that never reads: the stream, then the connection, is let go (H2_SEND_STALL) -------


def test_a_window_that_never_opens_cancels_only_that_stream(
    raw: Raw, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mockstatus.wire.h2.H2_SEND_STALL", 0.1)
    zero = SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 0})
    raw.send(
        zero.serialize(),
        raw.headers(1, "/bytes/1000"),
        raw.headers(3, "/status/200"),
        WindowUpdateFrame(3, window_increment=100).serialize(),  # only stream 3 may flow
    )
    frames = read_until(raw.sock, lambda fs: 1 in resets(fs) and any(_done(f, 3) for f in fs))
    assert resets(frames) == {1: ErrorCodes.CANCEL}
    assert body_of(frames, 1) == b""
    assert body_of(frames, 3) == b"200 OK"
    assert no_goaway(frames)


def test_a_client_that_reads_nothing_loses_the_connection(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mockstatus.wire.h2.H2_SEND_STALL", 0.05)
    aborted = threading.Event()
    abort_all = H2Protocol.abort_all

    def spy(self: H2Protocol) -> None:
        aborted.set()
        abort_all(self)

    monkeypatch.setattr(H2Protocol, "abort_all", spy)
    server = h2_server(tmp_path)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn = Raw.__new__(Raw)
        conn.sock, conn.encoder = sock, Encoder()
        big = SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 2**31 - 1})
        streams = 60  # 60 x 100 KiB: more than the server's and the kernel's buffers
        conn.send(
            PREFACE,
            big.serialize(),
            WindowUpdateFrame(0, window_increment=2**31 - 1 - 65535).serialize(),
            *(conn.headers(1 + 2 * k, "/bytes/102400") for k in range(streams)),
        )
        # Nothing is read before the server gives up; then less arrives than was asked for.
        assert aborted.wait(5)
        received = 0
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += len(chunk)
        assert received < streams * 102400
    finally:
        sock.close()
        server.stop()


def test_rapid_reset_in_one_large_read_is_cut_after_one_slice(raw: Raw) -> None:
    # 10,000 HEADERS + RST_STREAM pairs in one write: the server stops within one read slice
    # of the flood limit, not after parsing (and opening a stream for) everything it read.
    pairs = [
        raw.headers(1 + 2 * k) + RstStreamFrame(1 + 2 * k, error_code=8).serialize()
        for k in range(10_000)
    ]
    with contextlib.suppress(OSError):  # the server may reset before it has read it all
        raw.send(*pairs)
    goaways = [f for f in read_frames(raw.sock) if isinstance(f, GoAwayFrame)]
    assert [g.error_code for g in goaways] == [ErrorCodes.ENHANCE_YOUR_CALM]
    per_slice = H2_READ_SLICE // len(pairs[-1]) + 1
    assert goaways[0].last_stream_id <= 1 + 2 * (H2_FLOOD_RESETS + per_slice)


@pytest.mark.parametrize("name", [":path", "connection"])
def test_trailers_with_a_pseudo_header_or_connection_field_are_a_stream_error(
    raw: Raw, name: str
) -> None:
    trailers = HeadersFrame(1, flags=("END_HEADERS", "END_STREAM"))
    head = raw.headers(1, "/anything", "POST", flags=("END_HEADERS",))
    trailers.data = raw.encoder.encode([(name, "x")])
    raw.send(
        head,
        DataFrame(1, data=b"abc").serialize(),
        trailers.serialize(),
        raw.headers(3, "/status/200"),
    )
    frames = raw.until_ended(3)
    assert resets(frames) == {1: ErrorCodes.PROTOCOL_ERROR}
    assert body_of(frames, 1) == b""
    assert body_of(frames, 3) == b"200 OK"
