"""Every fault as a real client sees it: requests, httpx, aiohttp, curl and a raw socket.

Each fault is reached two ways: `?fault=` on /status/{code} and a scenario route. Timing is never
asserted; slow faults are shown by bytes arriving in pieces, in order.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import aiohttp
import httpx
import pytest
import requests

from mockstatus.app import Mockstatus
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

SHORT = 0.3  # client read timeout for `hang`
BODY = b"503 Service Unavailable"  # 23 bytes

FAULTS_YAML = """
name: faults
routes:
  - {match: {path: /f/reset}, respond: {status: 503, fault: reset}}
  - {match: {path: /f/close}, respond: {status: 503, fault: close}}
  - {match: {path: /f/truncate}, respond: {status: 503, fault: truncate}}
  - {match: {path: /f/garbage}, respond: {status: 503, fault: garbage}}
  - {match: {path: /f/hang}, respond: {status: 503, fault: hang}}
  - {match: {path: /f/malformed-chunk}, respond: {status: 503, fault: malformed-chunk}}
  - match: {path: /f/drip}
    respond: {status: 503, fault: drip, drip: {chunk: 4, every: 20ms}}
  - match: {path: /f/slow-headers}
    respond: {status: 503, fault: {kind: slow-headers, delay: 300ms}}
  - match: {path: /outage/reset}
    outage: [{start: 0s, duration: 1h, fault: reset}]
    respond: {status: 200}
  - match: {path: /chaos/close}
    chaos: [{probability: 1, fault: close}]
    respond: {status: 200}
"""

QUERY_EXTRA = {"drip": "&drip=4/20ms", "slow-headers": "&delay=300ms"}


def target(kind: str, via: str) -> str:
    if via == "query":
        return f"/status/503?fault={kind}{QUERY_EXTRA.get(kind, '')}"
    return f"/f/{kind}"


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[BackgroundServer]:
    folder = tmp_path_factory.mktemp("faults")
    (folder / "faults.yaml").write_text(FAULTS_YAML)
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=folder)
    app.store.load_initial()
    with BackgroundServer(app) as server:
        yield server


@pytest.fixture(autouse=True)
def no_server_tracebacks(caplog):
    """A fault ends quietly: aiohttp and asyncio log no error while serving it."""
    caplog.set_level(logging.WARNING)
    yield
    bad = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.split(".")[0] in ("aiohttp", "asyncio")
    ]
    assert not bad, [r.getMessage() for r in bad]


def in_chain(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is anywhere in an exception's causes, contexts or arguments."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, kind):
            return True
        todo += [item.__cause__, item.__context__, *item.args]
    return False


VIAS = ["query", "scenario"]

# --- requests -------------------------------------------------------------------------------

REQUESTS_SEES = {
    "reset": (requests.ConnectionError, ConnectionResetError),
    "close": (requests.ConnectionError, ConnectionError),  # http.client.RemoteDisconnected
    "truncate": (requests.exceptions.ChunkedEncodingError, None),  # urllib3 IncompleteRead
    "garbage": (requests.ConnectionError, None),  # http.client.BadStatusLine
    "malformed-chunk": (requests.exceptions.ChunkedEncodingError, None),  # InvalidChunkLength
    "hang": (requests.ReadTimeout, None),
}


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("kind", list(REQUESTS_SEES))
def test_requests(srv, kind, via):
    error, cause = REQUESTS_SEES[kind]
    with pytest.raises(error) as info:
        requests.get(srv.url(target(kind, via)), timeout=SHORT if kind == "hang" else 5)
    if cause is not None:
        assert in_chain(info.value, cause)
    detail = {
        "truncate": "IncompleteRead",
        "garbage": "BadStatusLine",
        "malformed-chunk": "InvalidChunkLength",
        "close": "RemoteDisconnected",
    }.get(kind)
    if detail:
        assert detail in repr(info.value)


# --- httpx ----------------------------------------------------------------------------------

HTTPX_SEES = {
    "reset": httpx.ReadError,
    "close": httpx.RemoteProtocolError,
    "truncate": httpx.RemoteProtocolError,
    "garbage": httpx.RemoteProtocolError,
    "malformed-chunk": httpx.RemoteProtocolError,
    "hang": httpx.ReadTimeout,
}


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("kind", list(HTTPX_SEES))
def test_httpx(srv, kind, via):
    with pytest.raises(HTTPX_SEES[kind]) as info:
        httpx.get(srv.url(target(kind, via)), timeout=SHORT if kind == "hang" else 5)
    if kind == "reset":
        assert in_chain(info.value, ConnectionResetError)
    if kind == "truncate":
        assert "received 11 bytes, expected 23" in str(info.value)


# --- aiohttp --------------------------------------------------------------------------------

AIOHTTP_SEES: dict[str, tuple[type[BaseException], ...]] = {
    "reset": (aiohttp.ClientOSError,),
    "close": (aiohttp.ServerDisconnectedError,),
    "truncate": (aiohttp.ClientPayloadError,),
    "garbage": (aiohttp.ClientResponseError,),
    # a parse error in the head's segment, or in a later one while reading the body
    "malformed-chunk": (aiohttp.ClientResponseError, aiohttp.ClientPayloadError),
    "hang": (TimeoutError,),
}


async def aiohttp_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    client_timeout = aiohttp.ClientTimeout(total=10, sock_read=timeout)
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as client,
        client.get(url) as resp,
    ):
        return resp.status, await resp.read()


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("kind", list(AIOHTTP_SEES))
async def test_aiohttp(srv, kind, via):
    with pytest.raises(AIOHTTP_SEES[kind]) as info:
        await aiohttp_get(srv.url(target(kind, via)), SHORT if kind == "hang" else 5)
    if kind == "reset":
        assert info.value.errno == errno.ECONNRESET
    if kind == "truncate":
        assert "received 11 of 23 bytes" in str(info.value)


# --- curl -----------------------------------------------------------------------------------

CURL_EXIT = {
    "reset": 56,  # recv failure: connection reset by peer
    "close": 52,  # empty reply from server
    "truncate": 18,  # transfer closed with bytes remaining
    "garbage": 1,  # received HTTP/0.9 when not allowed
    "malformed-chunk": 56,  # illegal or missing hexadecimal sequence
    "hang": 28,  # operation timed out
}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("kind", list(CURL_EXIT))
def test_curl(srv, kind):
    done = subprocess.run(
        ["curl", "-sS", "-m", str(SHORT if kind == "hang" else 5), srv.url(target(kind, "query"))],
        capture_output=True,
        timeout=10,
    )
    assert done.returncode == CURL_EXIT[kind], done.stderr


# --- slow but valid: every client gets the whole response -----------------------------------


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("kind", ["drip", "slow-headers"])
async def test_slow_faults_still_deliver_the_response(srv, kind, via):
    url = srv.url(target(kind, via))
    r = requests.get(url, timeout=5)
    assert (r.status_code, r.content) == (503, BODY)
    r2 = httpx.get(url, timeout=5)
    assert (r2.status_code, r2.content) == (503, BODY)
    assert await aiohttp_get(url) == (503, BODY)


# --- the raw socket: the exact bytes --------------------------------------------------------


def send(srv: BackgroundServer, path: str, method: str = "GET") -> socket.socket:
    sock = rawhttp.connect(srv.port)
    sock.sendall(rawhttp.build(method, path))
    return sock


def pieces(sock: socket.socket, until: bytes | None = None) -> list[bytes]:
    """Every recv() until the peer closes (or `until` has been seen)."""
    out: list[bytes] = []
    while data := sock.recv(65536):
        out.append(data)
        if until is not None and until in b"".join(out):
            break
    return out


@pytest.mark.parametrize(
    "path", [target("reset", "query"), target("reset", "scenario"), "/outage/reset"]
)
def test_raw_reset_is_an_rst(srv, path):
    with send(srv, path) as sock, pytest.raises(ConnectionResetError):
        sock.recv(65536)


@pytest.mark.parametrize("path", [target("close", "query"), "/f/close", "/chaos/close"])
def test_raw_close_sends_nothing(srv, path):
    with send(srv, path) as sock:
        assert sock.recv(65536) == b""  # a FIN, not a reset, and not one byte


@pytest.mark.parametrize("via", VIAS)
def test_raw_truncate_promises_more_than_it_sends(srv, via):
    with send(srv, target("truncate", via)) as sock:
        data = b"".join(pieces(sock))
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"\r\nContent-Length: 23" in head
    assert body == BODY[:11]  # half, then the connection closed


@pytest.mark.parametrize("via", VIAS)
def test_raw_garbage_is_not_http(srv, via):
    with send(srv, target("garbage", via)) as sock:
        data = b"".join(pieces(sock))
    assert data and not data.startswith(b"HTTP/")
    assert b"\r\n\r\n" in data  # a client that reads a head gets one, and cannot parse it


@pytest.mark.parametrize("via", VIAS)
def test_raw_malformed_chunk(srv, via):
    with send(srv, target("malformed-chunk", via)) as sock:
        data = b"".join(pieces(sock))
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"\r\nTransfer-Encoding: chunked" in head and b"Content-Length" not in head
    assert b"\r\nDate: " in head
    size_line, _, rest = body.partition(b"\r\n")
    assert int(size_line, 16) == len(BODY) and rest.startswith(BODY + b"\r\n")
    bad_line = rest[len(BODY) + 2 :].split(b"\r\n")[0]
    with pytest.raises(ValueError):
        int(bad_line.split(b";")[0], 16)  # the next chunk-size is not hex


@pytest.mark.parametrize("via", VIAS)
def test_raw_drip_arrives_in_pieces(srv, via):
    with send(srv, target("drip", via)) as sock:
        reader = rawhttp.Reader(sock)
        head = reader.read_head()
        assert head.status == 503 and head.header("Content-Length") == "23"
        got, chunks = reader.buf, []
        while len(got) < 23:
            data = sock.recv(65536)
            assert data, "closed before the body ended"
            chunks.append(data)
            got += data
    assert got == BODY
    assert len(chunks) >= 3  # 4 bytes every 20 ms: several reads, never one block


def test_raw_drip_query_on_a_normal_response(srv):
    with send(srv, "/status/503?drip=4/20ms") as sock:
        reader = rawhttp.Reader(sock)
        reader.read_head()
        got, reads = reader.buf, 0
        while len(got) < 23:
            got += sock.recv(65536)
            reads += 1
    assert got == BODY and reads >= 3


@pytest.mark.parametrize("via", VIAS)
def test_raw_slow_headers_arrive_byte_by_byte(srv, via):
    with send(srv, target("slow-headers", via)) as sock:
        reads = pieces(sock)
    data = b"".join(reads)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") and body == BODY
    head_reads = 0
    seen = b""
    for piece in reads:
        if b"\r\n\r\n" in seen:
            break
        seen += piece
        head_reads += 1
    assert head_reads >= 5  # the head came in many pieces, in order
    assert len(reads[0]) < len(head)
    assert b"\r\nDate: " in head and b"\r\nContent-Length: 23" in head


@pytest.mark.parametrize("path", ["/status/503?drip=4/20ms", "/status/503?fault=drip"])
def test_drip_on_head_sends_no_body(srv, path):
    with rawhttp.connect(srv.port) as sock:
        sock.sendall(rawhttp.build("HEAD", path) + rawhttp.build("GET", "/status/200"))
        reader = rawhttp.Reader(sock)
        _, head = reader.read_response("HEAD")
        assert head.status == 503 and head.header("Content-Length") == "23"
        _, after = reader.read_response()
    assert after.body == b"200 OK"  # no stray body bytes after the HEAD response


# --- hang: others are served, and nothing lingers once the client leaves -------------------


def _tasks() -> int:
    return len(asyncio.all_tasks())


def wait_for_tasks(server: BackgroundServer, expected: int, timeout: float = 3.0) -> int:
    deadline = time.monotonic() + timeout
    count = server.call(_tasks)
    while count > expected and time.monotonic() < deadline:
        time.sleep(0.02)
        count = server.call(_tasks)
    return count


@pytest.mark.parametrize("via", VIAS)
def test_hang_serves_others_and_releases_on_close(make_server, via):
    server = make_server({"faults.yaml": FAULTS_YAML})
    baseline = server.call(_tasks)
    hung = [send(server, target("hang", via)) for _ in range(3)]
    for i, sock in enumerate(hung):
        sock.settimeout(SHORT if i == 0 else 0.05)  # the others have waited as long by now
        with pytest.raises(TimeoutError):
            sock.recv(1)  # nothing, ever
    _, other = rawhttp.request(server.port, "GET", "/status/200")  # others are unaffected
    assert (other.status, other.body) == (200, b"200 OK")
    during = wait_for_tasks(server, baseline + 2 * len(hung))
    assert during <= baseline + 2 * len(hung)  # per hung connection: its reader and its handler
    for sock in hung:
        sock.close()
    assert wait_for_tasks(server, baseline) == baseline  # the hung handlers were cancelled


async def test_hang_does_not_block_concurrent_clients(srv):
    async with aiohttp.ClientSession() as client:
        hang = asyncio.create_task(client.get(srv.url("/f/hang")))
        others = await asyncio.wait_for(
            asyncio.gather(*(aiohttp_get(srv.url("/status/204")) for _ in range(20))), 10
        )
        assert {status for status, _ in others} == {204}
        assert not hang.done()
        hang.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hang


# --- the query parameters are validated -----------------------------------------------------


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("fault=explode", "fault"),
        ("drip=0/10ms", "drip"),
        ("drip=x/10ms", "drip"),
        ("drip=1_0/10ms", "drip"),
        ("drip=%2B4/10ms", "drip"),
        ("drip=4/2m", "drip"),
        ("drip=4/soon", "drip"),
        ("fault=slow-headers&delay=soon", "delay"),
        ("fault=slow-headers&delay=0", "delay"),
        ("fault=slow-headers&delay=2m", "delay"),
    ],
)
@pytest.mark.parametrize("path", ["/status/200", "/anything"])
def test_bad_fault_queries_are_400(srv, path, query, param):
    r = httpx.get(srv.url(f"{path}?{query}"), headers={"Accept": "application/json"}, timeout=5)
    assert r.status_code == 400
    assert param in r.text


def test_slow_headers_sleep_is_validated_off_status_paths_too(srv):
    r = httpx.get(srv.url("/anything?fault=slow-headers&sleep=nan"), timeout=5)
    assert r.status_code == 400 and "sleep" in r.text


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_truncate_on_a_bodiless_response_sends_the_head_and_closes(srv, method):
    code = 503 if method == "HEAD" else 204
    with send(srv, f"/status/{code}?fault=truncate", method) as sock:
        data = b"".join(pieces(sock))
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {code} ".encode()) and rest == b""


def test_a_client_leaving_mid_drip_releases_the_handler(make_server):
    server = make_server()
    baseline = server.call(_tasks)
    with send(server, "/status/503?drip=1/50ms") as sock:
        reader = rawhttp.Reader(sock)
        reader.read_head()
        assert len(reader.buf) < len(BODY)  # the body is still dripping
    assert wait_for_tasks(server, baseline) == baseline


async def test_slow_headers_beat_per_read_timeouts_but_not_a_total_deadline(srv):
    url = srv.url("/status/200?fault=slow-headers&delay=600ms")
    # Bytes keep coming, so a per-read timeout shorter than the whole head never fires ...
    assert requests.get(url, timeout=0.2).status_code == 200
    assert httpx.get(url, timeout=0.2).status_code == 200
    # ... only a deadline on the whole exchange does.
    timeout = aiohttp.ClientTimeout(total=0.2)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        with pytest.raises(TimeoutError):
            async with client.get(url) as resp:
                await resp.read()


def test_drip_keeps_a_closing_status_closing(srv):
    with send(srv, "/status/408?drip=64/10ms") as sock:
        data = b"".join(pieces(sock))  # ends: the server closed the connection
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"\r\nConnection: close" in head
    assert body == b"408 Request Timeout"
