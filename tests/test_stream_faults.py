"""Faults placed in a body or a stream, as the bytes on the wire and as real clients see them
(httpx, requests, aiohttp, curl; the client table in docs/streams.md is this file).

Each fault is reached from a scenario (`fault: {kind, after}`) and from a query
(`/sse?fault=…&after=…`, `/status/{code}?fault=…&after=…`). Order and bytes, never durations.
"""

from __future__ import annotations

import asyncio
import gzip
import shutil
import subprocess
import zlib

import aiohttp
import httpx
import pytest
import requests

from mockstatus.runner import BackgroundServer
from mockstatus.wire.faults import GARBAGE
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

SHORT = 0.5  # client read timeout for `stall`
LONG = 15.0  # for every other fault: room for a loaded machine, never reached


def timeout_for(kind: str) -> float:
    return SHORT if kind == "stall" else LONG


YAML = """
name: sf
routes:
  - match: {path: /b/reset}
    respond: {body: "0123456789", fault: {kind: reset, after: 4 bytes}}
  - match: {path: /b/truncate}
    respond: {body: "0123456789", fault: {kind: truncate, after: 4 bytes}}
  - match: {path: /b/truncate-half}
    respond: {body: "0123456789", fault: truncate}
  - match: {path: /b/stall}
    respond: {body: "0123456789", fault: {kind: stall, after: 4 bytes}}
  - match: {path: /b/garbage}
    respond: {body: "0123456789", fault: {kind: garbage, after: 4 bytes}}
  - match: {path: /b/close}
    respond: {body: "0123456789", fault: {kind: close, after: 4 bytes}}
  - match: {path: /b/bandwidth}
    respond: {body: "0123456789", fault: {kind: bandwidth, rate: 1KiB/s}}
  - match: {path: /b/slow-close}
    respond: {body: "0123456789", fault: {kind: slow-close, hold: 200ms}}
  - match: {path: /t/after-time}
    respond:
      stream: {sse: [{data: a}, {data: b, delay: 5s}]}
      fault: {kind: close, after: 50ms}
"""
for _kind in ("reset", "close", "truncate", "garbage", "stall"):
    YAML += (
        f"  - match: {{path: /s/{_kind}}}\n    respond:\n      stream:\n"
        "        sse: [{data: e0}, {data: e1}, {data: e2}, {data: e3}]\n"
        f"      fault: {{kind: {_kind}, after: 2 events}}\n"
    )
FAULTS = ("reset", "close", "truncate", "garbage", "stall")
TWO_EVENTS = b"data: e0\n\ndata: e1\n\n"
TWO_PINGS = (b"id: 1\n", b"id: 2\n")


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> BackgroundServer:
    import random

    from mockstatus.app import Mockstatus
    from mockstatus.types import ManualClock

    folder = tmp_path_factory.mktemp("sf")
    (folder / "s.yaml").write_text(YAML)
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=folder)
    app.store.load_initial()
    server = BackgroundServer(app).start()
    yield server
    server.stop()


def paths(kind: str) -> list[str]:
    return [f"/s/{kind}", f"/sse?count=4&interval=1ms&fault={kind}&after=2events"]


def raw(port: int, path: str, timeout: float = LONG) -> tuple[bytes, str]:
    """Everything the server sent, and how it ended: eof, reset or timeout."""
    sock = rawhttp.connect(port)
    sock.settimeout(timeout)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data, end = b"", "eof"
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        end = "reset"
    except TimeoutError:
        end = "timeout"
    sock.close()
    return data, end


# --- on the wire -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FAULTS)
def test_stream_fault_bytes(srv: BackgroundServer, kind: str) -> None:
    data, end = raw(srv.port, f"/s/{kind}", timeout=timeout_for(kind))
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"Connection: close" in head
    # The two events, each one chunk; never the terminator.
    assert body.startswith(b"a\r\ndata: e0\n\n\r\na\r\ndata: e1\n\n\r\n")
    rest = body[len(b"a\r\ndata: e0\n\n\r\na\r\ndata: e1\n\n\r\n") :]
    assert b"0\r\n\r\n" not in rest and b"e2" not in body
    expected = {
        "reset": (b"", "reset"),
        "close": (b"", "eof"),
        "truncate": (b"", "eof"),
        "garbage": (GARBAGE, "eof"),
        "stall": (b"", "timeout"),
    }[kind]
    assert (rest, end) == expected


def test_truncate_mid_chunk_announces_the_whole_chunk(srv: BackgroundServer) -> None:
    """`after: N bytes` inside an event: the chunk-size says the whole event, fewer bytes come."""
    data, end = raw(srv.port, "/sse?count=2&interval=1ms&fault=truncate&after=10bytes")
    body = data.partition(b"\r\n\r\n")[2]
    size_line, _, partial = body.partition(b"\r\n")
    assert int(size_line, 16) > 10 and partial == b"event: pin" and end == "eof"


@pytest.mark.parametrize(
    ("path", "expected", "end"),
    [
        ("/b/reset", b"0123", "reset"),
        ("/b/truncate", b"0123", "eof"),
        ("/b/truncate-half", b"01234", "eof"),
        ("/b/close", b"0123", "eof"),
        ("/b/garbage", b"0123" + GARBAGE, "eof"),
        ("/b/stall", b"0123", "timeout"),
        ("/b/bandwidth", b"0123456789", "open"),
        ("/b/slow-close", b"0123456789", "open"),
    ],
)
def test_body_faults_keep_content_length(
    srv: BackgroundServer, path: str, expected: bytes, end: str
) -> None:
    sock = rawhttp.connect(srv.port)
    sock.settimeout(SHORT if end == "timeout" else LONG)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    reader = rawhttp.Reader(sock)
    head = reader.read_head()
    assert head.header("Content-Length") == "10"  # the whole body is promised
    got = end
    try:
        while len(reader.buf) < len(expected) and reader._fill():
            pass
        if end != "open":
            while reader._fill():
                pass
            got = "eof"
    except ConnectionResetError:
        got = "reset"
    except TimeoutError:
        got = "timeout"
    sock.close()
    assert (reader.buf, got) == (expected, end)


def test_after_a_duration(srv: BackgroundServer) -> None:
    data, end = raw(srv.port, "/t/after-time")
    body = data.partition(b"\r\n\r\n")[2]
    assert body == b"9\r\ndata: a\n\n\r\n" and end == "eof"  # b (due at 5 s) never came


def test_bad_query_positions_are_400(srv: BackgroundServer) -> None:
    cases = {
        "/status/200?fault=reset&after=3events": "needs a stream",
        "/status/200?fault=reset&after=999": "byte 999 of a body of 6",
        "/status/200?fault=hang&after=1": "not 'hang'",
        "/status/200?fault=reset&after=soon": "'after' must be",
        "/sse?count=2&fault=close&after=3events": "event 3 of a stream of 2",
        "/status/200?fault=bandwidth&rate=0": "invalid 'rate'",
        "/status/200?fault=slow-close&hold=1h": "invalid hold",
        "/status/200?compress=zip": "invalid compress",
    }
    for path, text in cases.items():
        r = httpx.get(srv.url(path))
        assert r.status_code == 400 and text in r.text, (path, r.text)


# --- real clients ------------------------------------------------------------------------------

# (client, fault) -> what it raises; None: returns normally.
HTTPX = {
    "reset": httpx.ReadError,
    "close": httpx.RemoteProtocolError,
    "truncate": httpx.RemoteProtocolError,
    "garbage": httpx.RemoteProtocolError,
    "stall": httpx.ReadTimeout,
}
REQUESTS = {
    "reset": requests.exceptions.ChunkedEncodingError,
    "close": requests.exceptions.ChunkedEncodingError,
    "truncate": requests.exceptions.ChunkedEncodingError,
    "garbage": requests.exceptions.ChunkedEncodingError,
    "stall": requests.exceptions.ConnectionError,
}
AIOHTTP: dict[str, type[BaseException] | tuple[type[BaseException], ...]] = {
    "reset": aiohttp.ClientPayloadError,
    "close": aiohttp.ClientPayloadError,
    "truncate": aiohttp.ClientPayloadError,
    # The chunk-size error surfaces only when the garbage arrives with the earlier bytes; else
    # aiohttp waits for its own timeout (seen both ways on loopback): either is what users see.
    "garbage": (aiohttp.ClientResponseError, TimeoutError),
    "stall": TimeoutError,
}
CURL = {"reset": 56, "close": 18, "truncate": 18, "garbage": 56, "stall": 28}


@pytest.mark.parametrize("kind", FAULTS)
def test_httpx_sees_the_events_then_the_fault(srv: BackgroundServer, kind: str) -> None:
    for path in paths(kind):
        got = b""
        with (
            pytest.raises(HTTPX[kind]),
            httpx.stream("GET", srv.url(path), timeout=timeout_for(kind)) as r,
        ):
            for chunk in r.iter_bytes():
                got += chunk
        assert got.count(b"data: ") == 2, (path, got)


@pytest.mark.parametrize("kind", FAULTS)
def test_requests_raises(srv: BackgroundServer, kind: str) -> None:
    for path in paths(kind):
        got = b""
        with pytest.raises(REQUESTS[kind]):
            r = requests.get(srv.url(path), stream=True, timeout=timeout_for(kind))
            for chunk in r.iter_content(None):
                got += chunk
        assert got.count(b"data: ") == 2, (path, got)


@pytest.mark.parametrize("kind", FAULTS)
def test_aiohttp_raises(srv: BackgroundServer, kind: str) -> None:
    async def read(path: str) -> bytes:
        got = b""
        # garbage may also end in aiohttp's own timeout (see AIOHTTP): keep it short there.
        timeout = aiohttp.ClientTimeout(total=1.0 if kind in ("stall", "garbage") else LONG)
        async with aiohttp.ClientSession(timeout=timeout) as s, s.get(srv.url(path)) as r:
            try:
                async for chunk in r.content.iter_any():
                    got += chunk
            finally:
                assert got.count(b"data: ") == 2, (path, got)
        return got

    for path in paths(kind):
        with pytest.raises(AIOHTTP[kind]):
            asyncio.run(read(path))


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("kind", FAULTS)
def test_curl_exit_codes(srv: BackgroundServer, kind: str) -> None:
    for path in paths(kind):
        done = subprocess.run(
            ["curl", "-sN", "-m", str(timeout_for(kind) * 2), srv.url(path)],
            capture_output=True,
            timeout=20,
            check=False,
        )
        assert done.returncode == CURL[kind], (path, done)
        assert done.stdout.count(b"data: ") == 2


# --- compression faults, two clients each ------------------------------------------------------


def test_compressed_body_and_stream_decode(srv: BackgroundServer) -> None:
    r = httpx.get(srv.url("/status/200?compress=auto"), headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and r.text == "200 OK"
    assert r.headers["vary"] == "Accept, Accept-Encoding"
    assert r.headers["etag"].endswith('-gzip"')
    plain = httpx.get(srv.url("/status/200?compress=auto"), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.headers["vary"] == r.headers["vary"]
    assert plain.headers["etag"] != r.headers["etag"]
    raw_gz = httpx.get(
        srv.url("/sse?count=3&interval=1ms&compress=gzip"), headers={"Accept-Encoding": "gzip"}
    )
    assert raw_gz.text.count("event: ping") == 3
    data, _ = raw(srv.port, "/status/200?compress=deflate")
    assert zlib.decompress(data.partition(b"\r\n\r\n")[2]) == b"200 OK"  # zlib format, §8.4.1.2
    data, _ = raw(srv.port, "/status/200?compress=gzip")
    assert gzip.decompress(data.partition(b"\r\n\r\n")[2]) == b"200 OK"


def test_brotli(srv: BackgroundServer) -> None:
    import brotli

    data, _ = raw(srv.port, "/status/200?compress=br")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Encoding: br" in head and brotli.decompress(body) == b"200 OK"
    r = httpx.get(srv.url("/status/200?compress=auto"), headers={"Accept-Encoding": "gzip, br"})
    assert r.headers["content-encoding"] == "br"


@pytest.mark.parametrize("path", ["/status/200?", "/sse?count=3&interval=1ms&compress=gzip&"])
def test_corrupt_and_wrong_encoding_fail_decoding(srv: BackgroundServer, path: str) -> None:
    for kind in ("corrupt-encoding", "wrong-encoding"):
        url = srv.url(f"{path}fault={kind}")
        with pytest.raises(httpx.DecodingError):
            httpx.get(url, headers={"Accept-Encoding": "gzip"})
        with pytest.raises(requests.exceptions.ContentDecodingError):
            requests.get(url, timeout=2)


@pytest.mark.parametrize("path", ["/status/200?", "/sse?count=4&interval=1ms&compress=gzip&"])
def test_truncate_encoding_is_accepted_silently(srv: BackgroundServer, path: str) -> None:
    """The compressed data stops early but the HTTP framing is complete: httpx and requests both
    return the shorter body without an error (the finding this fault exists to show)."""
    url = srv.url(f"{path}fault=truncate-encoding")
    a = httpx.get(url, headers={"Accept-Encoding": "gzip"}).content
    b = requests.get(url, timeout=2).content
    full = b"200 OK" if path.startswith("/status") else None
    assert a == b
    if full is not None:
        assert len(a) < len(full) and full.startswith(a)
    else:
        assert a.count(b"event: ping") < 4
