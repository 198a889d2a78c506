"""Streams and placed faults over HTTP/2 (wire.h2_streams), on a real socket: the same body bytes
as HTTP/1.1 (minus chunk framing) through httpx, and each fault's frames through the raw client."""

from __future__ import annotations

import gzip
import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import h2.exceptions
import httpx
import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import DataFrame, HeadersFrame, SettingsFrame

from mockstatus.runner import BackgroundServer
from tests.test_h2_rawclient import PREFACE, H2Client, h2_server, read_frames, read_until

SCENARIO = """\
routes:
  - match: {path: /events}
    respond:
      status: 200
      stream:
        sse:
          - {data: one, id: auto}
          - {data: {n: 2}, id: auto, delay: 5ms}
          - {data: "three\\nlines", event: last, id: auto}
  - match: {path: /lines}
    respond:
      status: 200
      stream:
        ndjson:
          - {data: {a: 1}}
          - {data: x, delay: 5ms}
  - match: {path: /beats}
    respond:
      status: 200
      stream:
        heartbeat: 100ms
        sse:
          - {data: late, delay: 350ms}
  - match: {path: /stalled}
    respond:
      status: 200
      fault: {kind: stall, after: 1 event}
      stream:
        chunks: [first, second]
  - match: {path: /cut}
    respond:
      status: 200
      body: "0123456789"
      fault: {kind: truncate, after: 4 bytes}
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: Any) -> Iterator[BackgroundServer]:
    from pathlib import Path

    openai = (Path(__file__).parent.parent / "scenarios" / "openai.yaml").read_text()
    server = h2_server(
        tmp_path_factory.mktemp("h2s"),
        scenarios={"s.yaml": SCENARIO, "openai.yaml": openai},
    )
    yield server
    server.stop()


def fetch(srv: Any, http2: bool, method: str, path: str, **kw: Any) -> httpx.Response:
    with httpx.Client(http1=not http2, http2=http2, timeout=5) as client:
        resp = client.request(method, f"http://127.0.0.1:{srv.port}{path}", **kw)
        assert resp.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
        return resp


def comparable(path: str, body: bytes) -> object:
    """The body as compared across versions: /stream/{n} echoes the request's headers, which
    differ by version (HTTP/2 has lower-case names and no Connection field); the OpenAI
    scenario's completion id is a fresh uuid per response; the rest is bytes as sent."""
    if path.startswith("/stream/"):
        lines = [json.loads(line) for line in body.splitlines()]
        for line in lines:
            line.pop("headers")
        return lines
    return re.sub(rb"chatcmpl-[0-9a-f-]{36}", b"chatcmpl-ID", body)  # a uuid per response


CHAT = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("method", "path", "kw"),
    [
        ("GET", "/sse?count=3&interval=10ms", {}),
        ("GET", "/sse?count=2&interval=1ms&retry=500&event=tick", {}),
        ("GET", "/stream/2", {}),
        ("GET", "/events", {}),
        ("GET", "/lines", {}),
        ("POST", "/v1/chat/completions", {"json": CHAT}),
    ],
    ids=["sse", "sse-retry", "stream-n", "scenario-sse", "scenario-ndjson", "openai"],
)
def test_a_stream_has_the_same_bytes_on_http2_as_on_http11(
    srv: Any, method: str, path: str, kw: dict[str, Any]
) -> None:
    one = fetch(srv, False, method, path, **kw)
    two = fetch(srv, True, method, path, **kw)
    assert two.status_code == one.status_code == 200
    assert comparable(path, two.content) == comparable(path, one.content)
    assert len(two.content) > 10
    assert two.headers["content-type"] == one.headers["content-type"]
    assert "content-length" not in two.headers  # a stream: its length is not known up front


def test_openai_body_over_http2_ends_with_done(srv: Any) -> None:
    body = fetch(srv, True, "POST", "/v1/chat/completions", json=CHAT).text
    assert body.startswith("data: {") and body.endswith("data: [DONE]\n\n")


def test_openai_sdk_streams_over_an_http2_client(srv: Any) -> None:
    openai = pytest.importorskip("openai")
    with httpx.Client(http1=False, http2=True) as http_client:
        sdk = openai.OpenAI(
            base_url=srv.url("/v1"), api_key="k", http_client=http_client, max_retries=0
        )
        chunks = list(sdk.chat.completions.create(model="gpt-4o", messages=[], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from mockstatus."
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_last_event_id_resumes_over_http2(srv: Any) -> None:
    headers = {"Last-Event-ID": "1"}
    one = fetch(srv, False, "GET", "/sse?count=3&interval=1ms", headers=headers)
    two = fetch(srv, True, "GET", "/sse?count=3&interval=1ms", headers=headers)
    assert two.content == one.content
    assert b"id: 1\n" not in two.content and b"id: 2\n" in two.content


def test_a_compressed_stream_is_the_same_gzip_bytes(srv: Any) -> None:
    path = "/sse?count=3&interval=1ms&compress=gzip"
    raws = []
    for http2 in (False, True):
        with httpx.Client(http1=not http2, http2=http2, timeout=5) as client:
            url = f"http://127.0.0.1:{srv.port}{path}"
            with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as resp:
                assert resp.headers["content-encoding"] == "gzip"
                raws.append(b"".join(resp.iter_raw()))
    assert raws[0] == raws[1]
    assert gzip.decompress(raws[1]).count(b"event: ping") == 3


def test_head_of_a_stream_is_headers_only(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/sse?count=3&interval=1ms", method="HEAD")
    assert (a.status, a.body, a.ended, a.reset) == (200, b"", True, None)
    assert a.header("content-type") == "text/event-stream"


def test_the_stream_arrives_as_several_data_frames_in_order(srv: Any) -> None:
    with H2Client(srv.port) as c:
        sid = c.request("/sse?count=3&interval=5ms")
        data = []
        while not c.answers[sid].ended:
            assert c.pump()
            data = [e.data for e in c.events if type(e).__name__ == "DataReceived"]
    assert len([d for d in data if d]) >= 3
    assert b"".join(data).count(b"event: ping") == 3


def test_flow_control_holds_a_stream_until_the_window_opens(srv: Any) -> None:
    # A 10-byte initial window: the server sends 10 bytes, then waits for WINDOW_UPDATE.
    with H2Client(srv.port, settings={4: 10}) as c:
        sid = c.request("/stream/3")
        body = b""
        for _ in range(200):
            c.pump()
            body = c.answers[sid].body
            if c.answers[sid].ended:
                break
        assert c.answers[sid].ended
    assert [json.loads(line)["id"] for line in body.splitlines()] == [0, 1, 2]


def service(srv: Any) -> Any:
    return srv._runner.server.h2_handoff.__self__  # the H2Service (wire.h2) of this server


def test_client_reset_ends_the_server_task(srv: Any) -> None:
    with H2Client(srv.port) as c:
        sid = c.request("/sse?count=1000&interval=50ms")
        while not c.answers[sid].body:
            assert c.pump()
        assert len(srv.call(service(srv).busy)) == 1  # the stream's task runs
        c.conn.reset_stream(sid)
        c.flush()
        assert c.get("/status/201").status == 201  # the connection is still served
        assert srv.call(service(srv).busy) == []  # no task left behind


# --- placed faults ---------------------------------------------------------------------------


def frames_of(srv: Any, path: str) -> list[Any]:
    """Every frame the server sends for one GET of `path` until it ends the stream (read raw:
    h2 as a client refuses a DATA total short of content-length before reporting the DATA)."""
    from hpack import Encoder

    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    block = Encoder().encode(
        [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", path)]
    )
    sock.sendall(
        PREFACE
        + SettingsFrame(0).serialize()
        + HeadersFrame(1, block, flags=["END_HEADERS", "END_STREAM"]).serialize()
    )
    with sock:
        return read_until(
            sock, lambda fs: any(f.stream_id == 1 and "END_STREAM" in f.flags for f in fs)
        )


def truncated(srv: Any, path: str) -> tuple[str, bytes, bool]:
    """(content-length, the DATA bytes, whether END_STREAM came) for a truncated answer."""
    from hpack import Decoder

    frames = [f for f in frames_of(srv, path) if f.stream_id == 1]
    fields = dict(Decoder().decode(next(f for f in frames if isinstance(f, HeadersFrame)).data))
    data = b"".join(f.data for f in frames if isinstance(f, DataFrame))
    return fields["content-length"], data, "END_STREAM" in frames[-1].flags


def test_truncate_after_5_cuts_after_5_bytes_then_ends_the_stream(srv: Any) -> None:
    assert truncated(srv, "/status/200?fault=truncate&after=5") == ("6", b"200 O", True)


def test_truncate_default_cuts_at_half(srv: Any) -> None:
    assert truncated(srv, "/status/503?fault=truncate") == (
        "23",
        b"503 Service",
        True,
    )  # 23 // 2 bytes


def test_truncate_through_httpx_is_h2s_body_length_error(srv: Any) -> None:
    # httpx (0.28) wraps h2's InvalidBodyLengthError as a LocalProtocolError, except when the
    # short DATA is read with the response's HEADERS: then h2's own error comes through.
    errors = (httpx.LocalProtocolError, h2.exceptions.InvalidBodyLengthError)
    with pytest.raises(errors, match="Expected 6 bytes, received 5"):
        fetch(srv, True, "GET", "/status/200?fault=truncate&after=5")


def test_truncate_in_a_stream_resets_the_stream(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/sse?count=4&interval=1ms&fault=truncate&after=2events")
        assert c.get("/status/200").status == 200
    assert a.body.count(b"event: ping") == 2 and a.reset == ErrorCodes.INTERNAL_ERROR


@pytest.mark.parametrize("kind", ["reset", "close"])
def test_reset_and_close_after_n_events_end_the_connection(srv: Any, kind: str) -> None:
    with H2Client(srv.port) as c:
        sid = c.request(f"/sse?count=4&interval=1ms&fault={kind}&after=2events")
        while not c.closed and c.pump():
            pass
        a = c.answers[sid]
    assert a.body.count(b"event: ping") == 2 and not a.ended


def test_reset_after_n_bytes(srv: Any) -> None:
    with H2Client(srv.port) as c:
        sid = c.request("/status/503?fault=close&after=7")
        while not c.closed and c.pump():
            pass
    assert (c.answers[sid].body, c.answers[sid].ended) == (b"503 Ser", False)


def test_garbage_after_n_bytes_is_not_a_frame(srv: Any) -> None:
    from mockstatus.wire.h2_faults import GARBAGE

    with H2Client(srv.port) as c:
        c.request("/stream/3?fault=garbage&after=1events")
        got = b""
        c.sock.settimeout(5)
        while True:
            chunk = c.sock.recv(65536)
            if not chunk:
                break
            got += chunk
    assert got.endswith(GARBAGE) and b'"id": 0' in got and b'"id": 1' not in got


def test_stall_after_n_events_keeps_the_stream_open(srv: Any) -> None:
    with H2Client(srv.port) as c:
        sid = c.request("/sse?count=4&interval=1ms&fault=stall&after=1events")
        while c.answers[sid].body.count(b"\n\n") < 1:
            assert c.pump()
        with pytest.raises(socket.timeout):
            c.pump(timeout=0.3)
        assert c.answers[sid].body.count(b"event: ping") == 1 and not c.answers[sid].ended
        assert c.get("/status/201").status == 201
        c.conn.reset_stream(sid)
        c.flush()


def test_rst_stream_after_events_shares_the_after_grammar(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/sse?count=4&interval=1ms&fault=rst_stream&error=CANCEL&after=3events")
        bad = c.get("/status/200?fault=rst_stream&after=lots")
    assert a.body.count(b"event: ping") == 3 and a.reset == ErrorCodes.CANCEL
    assert bad.status == 400 and b"invalid 'after'" in bad.body


def test_bandwidth_sends_every_byte_in_spaced_frames(srv: Any) -> None:
    with H2Client(srv.port) as c:
        sid = c.request("/bytes/300?seed=1&fault=bandwidth&rate=2000B/s")
        while not c.answers[sid].ended:
            assert c.pump()
        frames = [e for e in c.events if type(e).__name__ == "DataReceived"]
    # 2000 B/s in 50 ms ticks: 100-byte DATA frames
    assert [len(f.data) for f in frames if f.data] == [100, 100, 100]
    assert c.answers[sid].body == fetch(srv, False, "GET", "/bytes/300?seed=1").content


def test_slow_close_sends_everything_then_goaway(srv: Any) -> None:
    with H2Client(srv.port) as c:
        sid = c.request("/status/200?fault=slow-close&hold=50ms")
        while not c.closed and c.pump():
            pass
        a = c.answers[sid]
    assert (a.status, a.body, a.ended) == (200, b"200 OK", True)
    assert c.goaway is not None and c.goaway.error_code == ErrorCodes.NO_ERROR


def test_corrupt_encoding_stream_on_http2_matches_http11(srv: Any) -> None:
    path = "/sse?count=3&interval=1ms&compress=gzip&fault=corrupt-encoding"
    raws = []
    for http2 in (False, True):
        with httpx.Client(http1=not http2, http2=http2, timeout=5) as client:
            url = f"http://127.0.0.1:{srv.port}{path}"
            with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as resp:
                raws.append(b"".join(resp.iter_raw()))
    assert raws[0] == raws[1] and raws[1]
    with pytest.raises(Exception):  # noqa: B017 - zlib.error or EOFError: the coding is broken
        gzip.decompress(raws[1])


def test_shutdown_sends_goaway_then_cuts_a_long_stream(tmp_path: Any) -> None:
    import threading

    server = h2_server(tmp_path, shutdown_timeout=0.5)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    from hpack import Encoder

    block = Encoder().encode(
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "x"),
            (":path", "/sse?count=1000&interval=20ms"),
        ]
    )
    sock.sendall(
        PREFACE
        + SettingsFrame(0).serialize()
        + HeadersFrame(1, block, flags=["END_HEADERS", "END_STREAM"]).serialize()
    )
    read_until(sock, lambda fs: any(isinstance(f, DataFrame) for f in fs))  # streaming
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    frames = read_frames(sock)  # until the server closes the connection
    stopper.join(10)
    assert not stopper.is_alive()
    kinds = [type(f).__name__ for f in frames]
    # An event already on its way may come before the GOAWAY (one every 20 ms); nothing else.
    first = kinds.index("GoAwayFrame")
    assert set(kinds[:first]) <= {"DataFrame"} and frames[first].last_stream_id == 1
    assert "DataFrame" in kinds[first:]  # the stream went on until the deadline...
    assert not any("END_STREAM" in f.flags for f in frames)  # ...and was cut, not ended


def test_scenario_faults_strike_at_their_position_on_http2(srv: Any) -> None:
    assert truncated(srv, "/cut") == ("10", b"0123", True)
    with H2Client(srv.port) as c:
        sid = c.request("/stalled")
        while c.answers[sid].body != b"first":
            assert c.pump()
        with pytest.raises(socket.timeout):
            c.pump(timeout=0.3)  # the second piece never comes; the stream stays open
        assert not c.answers[sid].ended and c.answers[sid].reset is None
        c.conn.reset_stream(sid)
        c.flush()


def test_heartbeats_fill_the_idle_time_on_http2(srv: Any) -> None:
    body = fetch(srv, True, "GET", "/beats").content
    beats, _, event = body.rpartition(b": heartbeat\n")
    # one every 100 ms of the 350 ms wait, on the schedule (a late wake-up skips none), then
    # the event
    assert body.count(b": heartbeat\n") == 3
    assert beats.replace(b": heartbeat\n", b"").replace(b"\n", b"") == b""
    assert event.strip(b"\n") == b"data: late"
