"""HTTP/2 on the wire (RFC 9113), read frame by frame from a real listening socket."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import (
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from mockstatus.runner import BackgroundServer
from mockstatus.wire.h2 import CONNECTION_SPECIFIC, GARBAGE
from tests.test_h2_rawclient import (
    PREFACE,
    H2Client,
    h2_server,
    parse_frames,
    read_frames,
    read_until,
)

FORBIDDEN = CONNECTION_SPECIFIC


@pytest.fixture
def srv(tmp_path: Any) -> Iterator[BackgroundServer]:
    server = h2_server(tmp_path)
    yield server
    server.stop()


def raw(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(PREFACE + SettingsFrame(0).serialize())
    return sock


def ended(frame: Any, sid: int) -> bool:
    return frame.stream_id == sid and "END_STREAM" in frame.flags


def goaway_of(frames: list[Any]) -> GoAwayFrame:
    found = [f for f in frames if isinstance(f, GoAwayFrame)]
    assert found, [type(f).__name__ for f in frames]
    return found[-1]


# --- negotiation and the plain answers ---------------------------------------------------------


def test_prior_knowledge_503_carries_retry_after_and_no_connection_fields(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/status/503")
    assert (a.status, a.body) == (503, b"503 Service Unavailable")
    assert a.header("retry-after") == "120"
    assert a.header("content-length") == "23"
    assert a.header("server") == "mockstatus/0.1.0"
    assert not {n for n, _ in a.headers} & FORBIDDEN


def test_the_server_announces_max_streams_and_header_list_size(srv: Any) -> None:
    with H2Client(srv.port) as c:
        c.get("/status/200")
        assert c.remote_settings[SettingsFrame.MAX_CONCURRENT_STREAMS] == 100
        assert c.remote_settings[SettingsFrame.MAX_HEADER_LIST_SIZE] == 64 * 1024


def test_h2_max_streams_is_a_server_setting(tmp_path: Any) -> None:
    server = h2_server(tmp_path, h2_max_streams=3)
    try:
        with H2Client(server.port) as c:
            c.get("/status/200")
            assert c.remote_settings[SettingsFrame.MAX_CONCURRENT_STREAMS] == 3
    finally:
        server.stop()


def test_http1_on_the_same_port_still_works(srv: Any) -> None:
    from tests import rawhttp

    _, r = rawhttp.request(srv.port, "GET", "/status/503")
    assert (r.version, r.status, r.header("Retry-After")) == ("HTTP/1.1", 503, "120")


def test_http2_off_answers_the_preface_with_http1_505(tmp_path: Any) -> None:
    server = h2_server(tmp_path, http2=False)
    try:
        sock = raw(server.port)
        data = sock.recv(4096)
        assert data.startswith(b"HTTP/1.1 505 ")
    finally:
        server.stop()


def test_head_sends_headers_with_end_stream_and_no_data(srv: Any) -> None:
    sock = raw(srv.port)
    with H2Client(srv.port) as c:
        a = c.get("/status/200", method="HEAD")
        assert (a.status, a.body, a.ended) == (200, b"", True)
        assert a.header("content-length") == "6"
    sock.close()


def test_204_and_304_have_no_content_length(srv: Any) -> None:
    with H2Client(srv.port) as c:
        for code in (204, 304):
            a = c.get(f"/status/{code}")
            assert (a.status, a.body, a.header("content-length")) == (code, b"", None)


def test_103_goes_out_as_an_informational_headers_frame_before_the_final(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/status/103")
    assert [s for s, _ in a.interims] == [103]
    assert dict(a.interims[0][1])["link"] == "</style.css>; rel=preload; as=style"
    assert a.status == 200 and a.header("link") == "</style.css>; rel=preload; as=style"


def test_interims_listed_by_query_come_in_order(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/status/200?interim=102,103")
    assert [s for s, _ in a.interims] == [102, 103] and a.status == 200


def test_expect_100_continue_gets_a_100_before_the_body_is_read(srv: Any) -> None:
    with H2Client(srv.port) as c:
        sid = c.request("/anything", method="POST", headers=[("expect", "100-continue")], end=False)
        while not c.answers[sid].interims:
            assert c.pump()
        assert c.answers[sid].interims[0][0] == 100
        c.conn.send_data(sid, b"payload", end_stream=True)
        c.flush()
        a = c.wait(sid)
    assert a.status == 200 and b'"body": "payload"' in a.body


def test_101_resets_the_stream_with_http_1_1_required(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/status/101")
        assert (a.status, a.reset) == (None, ErrorCodes.HTTP_1_1_REQUIRED)
        assert c.get("/status/200").status == 200  # the connection lives on


def test_426_has_no_upgrade_field_on_http2(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/status/426")
    assert a.status == 426 and a.header("upgrade") is None


def test_large_body_respects_the_client_window(srv: Any) -> None:
    # A client window of 1 KiB: the server must send in window-sized pieces and wait.
    with H2Client(srv.port, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 1024}) as c:
        a = c.get("/status/206?size=200000", headers=[("range", "bytes=0-99999")])
    assert a.status == 206 and len(a.body) == 100000 and a.ended


def test_cookie_fields_are_joined_for_the_application(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/anything", headers=[("cookie", "a=1"), ("cookie", "b=2")])
    assert b'"cookie": "a=1; b=2"' in a.body


def test_the_journal_records_http2(srv: Any) -> None:
    with H2Client(srv.port) as c:
        c.get("/status/418?x=1")
    (entry,) = srv.call(lambda: [e.to_dict() for e in srv.app.journal.select()])
    assert (entry["status"], entry["path"], entry["query"]) == (418, "/status/418", "x=1")


# --- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status", "body", "code"),
    [
        ("fault=rst_stream&error=REFUSED_STREAM", None, b"", ErrorCodes.REFUSED_STREAM),
        ("fault=rst_stream&error=cancel&after=headers", 503, b"", ErrorCodes.CANCEL),
        ("fault=rst_stream&after=7", 503, b"503 Ser", ErrorCodes.INTERNAL_ERROR),
    ],
    ids=["before-headers", "after-headers", "after-7-bytes"],
)
def test_rst_stream_fault(srv: Any, query: str, status: int | None, body: bytes, code: int) -> None:
    with H2Client(srv.port) as c:
        a = c.get(f"/status/503?{query}")
        assert (a.status, a.body, a.reset, a.ended) == (status, body, code, False)
        assert c.get("/status/200").status == 200


def test_bad_fault_error_name_is_a_400(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/status/503?fault=rst_stream&error=NOPE")
    assert a.status == 400 and b"invalid error 'NOPE'" in a.body


def test_goaway_immediate_closes_with_the_error_code(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/status/200?fault=goaway&error=ENHANCE_YOUR_CALM")
        while not c.closed:
            c.pump()
    assert a.status is None
    assert c.goaway is not None and c.goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert c.goaway.last_stream_id == 0  # the stream that asked is not processed


def test_goaway_graceful_finishes_this_stream_and_refuses_new_ones(srv: Any) -> None:
    from hpack import Encoder

    encoder = Encoder()
    sock = raw(srv.port)

    def get(sid: int, path: str) -> bytes:
        block = encoder.encode(
            [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", path)]
        )
        return HeadersFrame(sid, block, flags=["END_HEADERS", "END_STREAM"]).serialize()

    # Stream 1 is in flight (slow) when stream 3 asks for the graceful GOAWAY.
    sock.sendall(get(1, "/status/200?sleep=150") + get(3, "/status/503?fault=goaway&graceful=1"))
    frames = read_until(sock, lambda fs: any(isinstance(f, GoAwayFrame) for f in fs))
    sock.sendall(get(5, "/status/204"))  # after the GOAWAY: refused
    frames += read_frames(sock)  # the server closes once streams 1 and 3 are answered
    assert (goaway_of(frames).last_stream_id, goaway_of(frames).error_code) == (3, 0)
    assert [f.stream_id for f in frames if isinstance(f, HeadersFrame)] == [3, 1]
    assert [
        f.stream_id for f in frames if isinstance(f, DataFrame) and "END_STREAM" in f.flags
    ] == [3, 1]
    resets = [(f.stream_id, f.error_code) for f in frames if isinstance(f, RstStreamFrame)]
    assert resets == [(5, ErrorCodes.REFUSED_STREAM)]


def test_stall_sends_headers_then_no_data_and_keeps_the_connection(srv: Any) -> None:
    with H2Client(srv.port) as c:
        sid = c.request("/status/200?fault=stall")
        while c.answers[sid].status is None:
            assert c.pump()
        with pytest.raises(socket.timeout):
            c.pump(timeout=0.3)  # nothing more comes on the stalled stream
        assert c.answers[sid].body == b"" and not c.answers[sid].ended
        assert c.get("/status/201").status == 201  # same connection, other stream served
        c.conn.reset_stream(sid)
        c.flush()


def test_window_zero_never_reopens_the_upload_window(srv: Any) -> None:
    from hpack import Encoder

    encoder = Encoder()
    sock = raw(srv.port)
    # Our own windows wide open: /anything echoes the uploads back, more than 64 KiB.
    sock.sendall(
        SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 30}).serialize()
        + WindowUpdateFrame(0, window_increment=1 << 30).serialize()
    )
    out = b""
    # 60,002 bytes in all: within the connection's first window (65,535), so no waiting.
    for sid, path, frames in ((1, "/anything?window=0", 2), (3, "/anything", 4)):
        block = encoder.encode(
            [(":method", "POST"), (":scheme", "http"), (":authority", "x"), (":path", path)]
        )
        out += HeadersFrame(sid, block, flags=["END_HEADERS"]).serialize()
        out += b"".join(DataFrame(sid, b"x" * 10000).serialize() for _ in range(frames))
        out += DataFrame(sid, b"y", flags=["END_STREAM"]).serialize()
    sock.sendall(out)
    frames = read_until(
        sock, lambda fs: any(ended(f, 3) for f in fs) and any(ended(f, 1) for f in fs)
    )
    updated = {f.stream_id for f in frames if isinstance(f, WindowUpdateFrame)}
    # The connection's window and the ordinary stream's (h2 reopens after half a window was
    # read); never stream 1's.
    assert updated == {0, 3}


def test_truncate_sends_less_data_than_content_length_then_end_stream(srv: Any) -> None:
    sock = raw(srv.port)
    with H2Client(srv.port) as c:
        c.conn.config.validate_inbound_headers = False
        sid = c.request("/status/503?fault=truncate")
        frames: list[Any] = []
        c.sock.settimeout(5)
        data = b""
        while True:
            chunk = c.sock.recv(65536)
            data += chunk
            frames = parse_frames(data)
            if any(isinstance(f, DataFrame) and "END_STREAM" in f.flags for f in frames):
                break
    body = b"".join(f.data for f in frames if isinstance(f, DataFrame) and f.stream_id == sid)
    assert body == b"503 Service"  # 11 of the 23 bytes content-length promises
    sock.close()


def test_malformed_chunk_is_a_400_on_http2(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/status/200?fault=malformed-chunk")
    assert a.status == 400 and b"does not exist on HTTP/2" in a.body


def test_garbage_writes_bytes_that_are_not_frames_then_closes(srv: Any) -> None:
    sock = raw(srv.port)
    from hpack import Encoder

    block = Encoder().encode(
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "x"),
            (":path", "/status/200?fault=garbage"),
        ]
    )
    sock.sendall(HeadersFrame(1, block, flags=["END_HEADERS", "END_STREAM"]).serialize())
    data = b""
    sock.settimeout(5)
    while chunk := sock.recv(65536):
        data += chunk
    assert data.endswith(GARBAGE)


def test_reset_is_a_tcp_reset(srv: Any) -> None:
    with H2Client(srv.port) as c:
        sid = c.request("/status/200?fault=reset")
        c.wait(sid)
        assert c.closed and c.answers[sid].status is None


def test_drip_sends_the_body_in_spaced_data_frames(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/status/503?drip=5/1ms")
        datas = [e for e in c.events if type(e).__name__ == "DataReceived"]
    assert a.body == b"503 Service Unavailable" and [len(e.data) for e in datas] == [5, 5, 5, 5, 3]


def test_slow_headers_delays_the_headers(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/status/503?fault=slow-headers&delay=20ms")
    assert a.status == 503 and a.body == b"503 Service Unavailable"


def test_body_over_the_cap_is_413_and_the_connection_stays(srv: Any) -> None:
    with H2Client(srv.port) as c:
        sid = c.request("/anything", method="POST", end=False)
        c.upload(sid, b"z" * (1024**2 + 1))  # one byte over the HTTP/1.1 cap
        a = c.wait(sid)
        assert a.status == 413 and b"over 1048576 bytes" in a.body
        assert c.get("/status/204").status == 204  # no GOAWAY: the connection goes on
        assert c.goaway is None


# --- bad input ---------------------------------------------------------------------------------


def test_bad_preface_is_goaway_protocol_error(srv: Any) -> None:
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + SettingsFrame(0).serialize())
    frames = read_frames(sock)
    assert goaway_of(frames).error_code == ErrorCodes.PROTOCOL_ERROR


def test_data_on_stream_zero_is_goaway_protocol_error(srv: Any) -> None:
    sock = raw(srv.port)
    # hyperframe refuses stream 0 for DATA: write the frame header by hand.
    sock.sendall(struct.pack(">I", 3)[1:] + b"\x00\x00" + struct.pack(">I", 0) + b"abc")
    assert goaway_of(read_frames(sock)).error_code == ErrorCodes.PROTOCOL_ERROR


def test_a_broken_header_block_is_goaway_compression_error(srv: Any) -> None:
    sock = raw(srv.port)
    sock.sendall(HeadersFrame(1, b"\xff\xff\xff\xff\xff", flags=["END_HEADERS"]).serialize())
    assert goaway_of(read_frames(sock)).error_code == ErrorCodes.COMPRESSION_ERROR


@pytest.mark.parametrize(
    "fields",
    [
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), ("Upper", "x")],
        [(":method", "GET"), (":scheme", "http")],
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), ("connection", "close")],
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), ("te", "gzip")],
        [(":method", "GET"), ("x", "1"), (":scheme", "http"), (":path", "/")],
    ],
    ids=["upper-case-name", "no-path", "connection-field", "te-gzip", "pseudo-after-regular"],
)
def test_a_malformed_request_is_a_stream_error(srv: Any, fields: list[tuple[str, str]]) -> None:
    from hpack import Encoder

    encoder = Encoder()
    sock = raw(srv.port)
    block = encoder.encode(fields)
    sock.sendall(HeadersFrame(1, block, flags=["END_HEADERS", "END_STREAM"]).serialize())
    good = encoder.encode(
        [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/status/204")]
    )
    sock.sendall(HeadersFrame(3, good, flags=["END_HEADERS", "END_STREAM"]).serialize())
    frames = read_until(sock, lambda fs: any(ended(f, 3) for f in fs))
    resets = [f for f in frames if isinstance(f, RstStreamFrame)]
    assert [(f.stream_id, f.error_code) for f in resets] == [(1, ErrorCodes.PROTOCOL_ERROR)]
    assert any(isinstance(f, HeadersFrame) and f.stream_id == 3 for f in frames)


def test_a_ping_flood_is_goaway_enhance_your_calm(srv: Any) -> None:
    sock = raw(srv.port)
    sock.sendall(PingFrame(0, opaque_data=b"8bytes!!").serialize() * 150)
    assert goaway_of(read_frames(sock)).error_code == ErrorCodes.ENHANCE_YOUR_CALM


def test_a_settings_flood_is_goaway_enhance_your_calm(srv: Any) -> None:
    sock = raw(srv.port)
    sock.sendall(SettingsFrame(0).serialize() * 150)
    assert goaway_of(read_frames(sock)).error_code == ErrorCodes.ENHANCE_YOUR_CALM


def test_rapid_reset_is_goaway_enhance_your_calm(srv: Any) -> None:
    from hpack import Encoder

    encoder = Encoder()
    sock = raw(srv.port)
    out = b""
    for i in range(250):
        sid = 1 + 2 * i
        block = encoder.encode(
            [
                (":method", "GET"),
                (":scheme", "http"),
                (":authority", "x"),
                (":path", "/status/200?fault=stall"),
            ]
        )
        out += HeadersFrame(sid, block, flags=["END_HEADERS", "END_STREAM"]).serialize()
        out += RstStreamFrame(sid, error_code=ErrorCodes.CANCEL).serialize()
    sock.sendall(out)
    assert goaway_of(read_frames(sock)).error_code == ErrorCodes.ENHANCE_YOUR_CALM


def test_pings_below_the_flood_limit_are_answered(srv: Any) -> None:
    sock = raw(srv.port)
    sock.sendall(PingFrame(0, opaque_data=b"12345678").serialize() * 10)

    def acks_in(frames: list[Any]) -> list[Any]:
        return [f for f in frames if isinstance(f, PingFrame) and "ACK" in f.flags]

    frames = read_until(sock, lambda fs: len(acks_in(fs)) >= 10, timeout=2)
    acks = acks_in(frames)
    assert len(acks) == 10
    assert not [f for f in frames if isinstance(f, GoAwayFrame)]


def test_each_stream_gets_one_access_log_line(tmp_path: Any) -> None:
    import io

    from mockstatus import accesslog

    out = io.StringIO()
    accesslog.set_output(out)
    server = h2_server(tmp_path, quiet=False)
    try:
        with H2Client(server.port) as c:
            c.get("/status/503?x=1")
            c.get("/status/200", method="HEAD")
        # The server's thread logs a stream once its last frame is written, which may be just
        # after the client has read it: poll (bounded) until both lines are there.
        deadline = time.monotonic() + 10
        while True:
            accesslog.flush()
            lines = [
                ln for ln in out.getvalue().splitlines() if '"GET /status/503' in ln or "HEAD" in ln
            ]
            if len(lines) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.01)
    finally:
        server.stop()
        import sys

        accesslog.set_output(sys.stdout)
    assert [ln.split('"')[1] + ln.split('"')[2].rsplit(" ", 1)[0] for ln in lines] == [
        "GET /status/503?x=1 HTTP/2 503 23",
        "HEAD /status/200 HTTP/2 200 0",
    ]
