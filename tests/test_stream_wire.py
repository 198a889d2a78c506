"""Streams on the wire (a real listening socket, raw bytes): chunked framing, one chunk per event,
heartbeats, Last-Event-ID, HEAD and HTTP/1.0, keep-alive after a stream, the end at shutdown and
no task left behind by 1,000 clients that leave mid-stream. Order and counts, never durations."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from mockstatus.app import Mockstatus
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

STREAMS = """
name: streams
routes:
  - match: {path: /sse}
    respond:
      stream:
        sse:
          - {data: "a{{ index }}", id: auto}
          - {data: {n: "{{ index }}"}, id: auto, event: tick, delay: 5ms}
        repeat: 2
  - match: {path: /forever}
    respond: {stream: {sse: [{data: x, delay: 50ms}], repeat: forever, heartbeat: 100ms}}
  - match: {path: /idle}
    respond: {stream: {sse: [{data: late, delay: 250ms}], heartbeat: 100ms}}
  - match: {path: /nd}
    respond: {stream: {ndjson: [{data: {a: 1}}, {data: [2], delay: 1ms}]}}
  - match: {path: /chunks}
    respond: {stream: {chunks: [abc, {data: def, delay: 1ms}]}, headers: {Content-Type: text/csv}}
"""


def request(port: int, path: str, *, extra: str = "", version: str = "1.1") -> bytes:
    sock = rawhttp.connect(port)
    sock.sendall(
        f"GET {path} HTTP/{version}\r\nHost: x\r\nConnection: close\r\n{extra}\r\n".encode()
    )
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    return data


def chunks(raw: bytes) -> tuple[bytes, list[bytes], bool]:
    """(head, chunk payloads, whether the zero-size terminator came)."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    out = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return head, out, True
        out.append(rest[:size])
        assert rest[size : size + 2] == b"\r\n"
        rest = rest[size + 2 :]
    return head, out, False


@pytest.fixture
def srv(make_server) -> BackgroundServer:
    return make_server({"s.yaml": STREAMS})


def test_sse_one_chunk_per_event(srv: BackgroundServer) -> None:
    head, parts, done = chunks(request(srv.port, "/sse"))
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Type: text/event-stream\r\n" in head
    assert b"\r\nTransfer-Encoding: chunked\r\n" in head
    assert head.count(b"Cache-Control: no-cache") == 1
    assert b"\r\nETag:" not in head and b"Content-Length" not in head
    assert parts == [
        b"id: 1\ndata: a0\n\n",
        b'event: tick\nid: 2\ndata: {"n": "1"}\n\n',
        b"id: 3\ndata: a2\n\n",
        b'event: tick\nid: 4\ndata: {"n": "3"}\n\n',
    ]
    assert done


def test_last_event_id_on_reconnect(srv: BackgroundServer) -> None:
    _, parts, _ = chunks(request(srv.port, "/sse", extra="Last-Event-ID: 2\r\n"))
    assert parts == [b"id: 3\ndata: a2\n\n", b'event: tick\nid: 4\ndata: {"n": "3"}\n\n']
    _, parts, _ = chunks(request(srv.port, "/sse", extra="Last-Event-ID: zzz\r\n"))
    assert len(parts) == 4


def test_heartbeat_comments_while_idle(srv: BackgroundServer) -> None:
    _, parts, done = chunks(request(srv.port, "/idle"))
    # 250 ms idle with a heartbeat every 100 ms: two comments, then the event.
    assert parts == [b": heartbeat\n\n", b": heartbeat\n\n", b"data: late\n\n"]
    assert done


def test_a_busy_loop_neither_skips_nor_shifts_heartbeats(srv: BackgroundServer) -> None:
    # The server's loop is blocked across the first heartbeat's time (100 ms): that heartbeat
    # goes out late, the second still at 200 ms on the schedule, so the count stays two (counted
    # from the late write, the second would have been due after the event and skipped).
    sock = rawhttp.connect(srv.port)
    sock.sendall(b"GET /idle HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = sock.recv(65536)
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    srv.call(time.sleep, 0.16)
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    _, parts, done = chunks(data)
    assert parts == [b": heartbeat\n\n", b": heartbeat\n\n", b"data: late\n\n"]
    assert done


def test_ndjson_and_chunks_types(srv: BackgroundServer) -> None:
    head, parts, done = chunks(request(srv.port, "/nd"))
    assert b"Content-Type: application/x-ndjson" in head
    assert parts == [b'{"a": 1}\n', b"[2]\n"] and done
    head, parts, done = chunks(request(srv.port, "/chunks"))
    assert b"Content-Type: text/csv" in head and b"text/plain" not in head
    assert parts == [b"abc", b"def"] and done


def test_head_has_no_body(srv: BackgroundServer) -> None:
    sock = rawhttp.connect(srv.port)
    sock.sendall(b"HEAD /sse HTTP/1.1\r\nHost: x\r\n\r\nGET /nd HTTP/1.1\r\nHost: x\r\n\r\n")
    reader = rawhttp.Reader(sock)
    first = reader.read_head()
    assert first.status == 200 and first.header("Content-Type") == "text/event-stream"
    second = reader.read_head()  # the HEAD left nothing on the connection
    assert second.status == 200 and second.header("Content-Type") == "application/x-ndjson"
    sock.close()


def test_http10_gets_the_bytes_then_close(srv: BackgroundServer) -> None:
    raw = request(srv.port, "/nd", version="1.0")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head  # RFC 9112 §7: no chunked for an HTTP/1.0 client
    assert body == b'{"a": 1}\n[2]\n'


def test_keep_alive_after_a_stream(srv: BackgroundServer) -> None:
    sock = rawhttp.connect(srv.port)
    reader = rawhttp.Reader(sock)
    sock.sendall(b"GET /nd HTTP/1.1\r\nHost: x\r\n\r\n")
    reader.read_head()
    while b"0\r\n\r\n" not in reader.buf:
        assert reader._fill()
    reader.buf = reader.buf.split(b"0\r\n\r\n", 1)[1]
    sock.sendall(b"GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reader.read_head().status == 204
    sock.close()


def _tasks(server: BackgroundServer) -> int:
    return server.call(lambda: len(asyncio.all_tasks()))


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.mark.slow
def test_no_task_left_by_1000_abandoned_streams(srv: BackgroundServer) -> None:
    baseline = _tasks(srv)
    for _ in range(5):
        socks = []
        for _ in range(200):
            sock = rawhttp.connect(srv.port)
            sock.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(sock)
        for sock in socks:
            assert sock.recv(12) == b"HTTP/1.1 200"  # the stream started
        assert _tasks(srv) >= baseline + 1
        for sock in socks:
            sock.close()
    # Every handler was cancelled when its client left: back to the idle count.
    assert _wait_for(lambda: _tasks(srv) <= baseline), (_tasks(srv), baseline)


def test_forever_stream_is_cut_at_shutdown(tmp_path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "s.yaml").write_text(STREAMS)
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=folder)
    app.store.load_initial()
    server = BackgroundServer(app, shutdown_timeout=0.2).start()
    sock = rawhttp.connect(server.port)
    sock.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
    reader = rawhttp.Reader(sock)
    assert reader.read_head().status == 200
    assert reader._fill()  # events are flowing
    server.stop()
    assert not server._thread.is_alive()  # the forever stream did not keep the server up
    sock.settimeout(5)
    try:
        while reader._fill():  # the rest, then EOF: the stream was cut
            pass
    except (TimeoutError, ConnectionResetError):
        pass
    assert not reader.buf.endswith(b"0\r\n\r\n")  # cut, not a clean end
    sock.close()
