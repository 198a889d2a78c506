"""HTTP/2's own faults (`rst_stream`, `goaway`) from a scenario's `fault:` (issue 12): the same
plan as `?fault=` on `/status/{code}`, executed by the HTTP/2 wire from the plan; on HTTP/1.1 the
nearest equivalent (h2_fault.http1_equivalent). Raw frames pin the error codes; httpx, curl and
Node show what a real client sees (docs/http2.md's client table)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from h2.errors import ErrorCodes
from hpack import Encoder
from hyperframe.frame import DataFrame, GoAwayFrame, HeadersFrame, RstStreamFrame, SettingsFrame

from mockstatus.errors import RequestError
from mockstatus.h2_fault import AFTER_HEADERS, http1_equivalent
from mockstatus.queries import parse_fault_options
from mockstatus.scenarios.loader import load_text
from mockstatus.types import After, Fault, Query, ResponsePlan
from tests import rawhttp
from tests.test_h2_clients import CURL, NODE, curl, curl_has_http2, node
from tests.test_h2_rawclient import PREFACE, H2Client, h2_server, read_until
from tests.test_h2_wire import goaway_of

SCENARIO = """
name: h2faults
routes:
  - {match: {path: /rst/refused}, respond: {status: 503, fault: {kind: rst_stream, error: REFUSED_STREAM}}}
  - {match: {path: /rst/default}, respond: {status: 503, fault: rst_stream}}
  - match: {path: /rst/headers}
    respond: {status: 503, fault: {kind: rst_stream, error: cancel, after: headers}}
  - match: {path: /rst/bytes}
    respond: {status: 503, fault: {kind: rst_stream, after: 5 bytes}}
  - match: {path: /goaway/now}
    respond: {status: 200, fault: {kind: goaway, error: ENHANCE_YOUR_CALM}}
  - match: {path: /goaway/graceful}
    respond: {status: 503, body: "going away", fault: {kind: goaway, graceful: true}}
  - match: {path: /outage/rst}
    outage: [{start: 0s, duration: 1h, fault: {kind: rst_stream, error: REFUSED_STREAM}}]
    respond: {status: 200}
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = h2_server(tmp_path_factory.mktemp("h2sf"), scenarios={"s.yaml": SCENARIO})
    yield server
    server.stop()


def base(server: Any) -> str:
    return f"http://127.0.0.1:{server.port}"


def frames_until(srv: Any, path: str, last: type) -> list[Any]:
    """GET `path` on stream 1 of a raw connection; the frames read until one of type `last`."""
    block = Encoder().encode(
        [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", path)]
    )
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(PREFACE + SettingsFrame(0).serialize())
        sock.sendall(HeadersFrame(1, block, flags=["END_HEADERS", "END_STREAM"]).serialize())
        return read_until(sock, lambda fs: any(isinstance(f, last) for f in fs))


# --- the plan: one Fault from either source -----------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_fault", "query", "expected"),
    [
        ("rst_stream", "fault=rst_stream", Fault("rst_stream", error=2)),
        (
            "{kind: rst_stream, error: refused_stream}",
            "fault=rst_stream&error=REFUSED_STREAM",
            Fault("rst_stream", error=7),
        ),
        (
            "{kind: rst_stream, error: CANCEL, after: headers}",
            "fault=rst_stream&error=CANCEL&after=headers",
            Fault("rst_stream", error=8, after=AFTER_HEADERS),
        ),
        (
            "{kind: rst_stream, after: 5 bytes}",
            "fault=rst_stream&after=5",
            Fault("rst_stream", error=2, after=After("bytes", 5)),
        ),
        ("goaway", "fault=goaway", Fault("goaway", error=0)),
        (
            "{kind: goaway, error: INTERNAL_ERROR, graceful: true}",
            "fault=goaway&error=internal_error&graceful=1",
            Fault("goaway", error=2, graceful=True),
        ),
    ],
)
def test_scenario_and_query_build_the_same_fault(
    yaml_fault: str, query: str, expected: Fault
) -> None:
    text = f"routes:\n  - {{match: {{path: /x}}, respond: {{status: 503, fault: {yaml_fault}}}}}\n"
    scenario = load_text(text, "f.yaml", Path("."), "f")
    assert scenario.routes[0].respond.fault == expected  # type: ignore[union-attr]
    pairs = tuple(tuple(p.split("=", 1)) for p in query.split("&"))
    assert parse_fault_options(Query(pairs))[0] == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fault", "where", "message"),
    [
        ("{kind: rst_stream, error: NOPE}", 2, "unknown error 'NOPE'"),
        ("{kind: rst_stream, error: CANCELL}", 2, "did you mean 'CANCEL'"),
        ("{kind: rst_stream, graceful: true}", 2, "'graceful' applies to fault goaway"),
        ("{kind: goaway, graceful: yes please}", 2, "'graceful' must be true or false"),
        ("{kind: goaway, after: headers}", 2, "'after' applies to fault"),
        ("{kind: reset, error: CANCEL}", 2, "'error' applies to fault goaway, rst_stream"),
    ],
)
def test_bad_h2_faults_are_located_errors(fault: str, where: int, message: str) -> None:
    from mockstatus.errors import ScenarioError

    text = f"routes:\n  - {{match: {{path: /x}}, respond: {{status: 503, fault: {fault}}}}}\n"
    with pytest.raises(ScenarioError) as info:
        load_text(text, "f.yaml", Path("."), "f")
    shown = str(info.value)
    assert f"f.yaml:{where}:" in shown and message in shown, shown


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("fault=rst_stream&error=NOPE", "error"),
        ("fault=rst_stream&after=lots", "after"),
        ("fault=goaway&after=5", "after"),
    ],
)
def test_bad_h2_fault_queries_are_400s_naming_the_parameter(query: str, param: str) -> None:
    pairs = tuple(tuple(p.split("=", 1)) for p in query.split("&"))
    with pytest.raises(RequestError) as info:
        parse_fault_options(Query(pairs))  # type: ignore[arg-type]
    assert (info.value.status, info.value.param) == (400, param)


def test_http1_equivalents() -> None:
    plan = ResponsePlan(503, "Service Unavailable", body=b"x")
    on = plan.evolve
    assert http1_equivalent(on(fault=Fault("rst_stream", error=7))).fault == Fault("reset")
    placed = http1_equivalent(on(fault=Fault("rst_stream", after=After("bytes", 5))))
    assert placed.fault == Fault("reset", after=After("bytes", 5))
    assert http1_equivalent(on(fault=Fault("goaway", error=11))).fault == Fault("reset")
    graceful = http1_equivalent(on(fault=Fault("goaway", graceful=True)))
    assert (graceful.fault, graceful.close, graceful.body) == (None, True, b"x")


# --- raw frames: the error code on the wire ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "body", "code"),
    [
        ("/rst/refused", None, b"", ErrorCodes.REFUSED_STREAM),
        ("/rst/default", None, b"", ErrorCodes.INTERNAL_ERROR),
        ("/rst/headers", 503, b"", ErrorCodes.CANCEL),
        ("/rst/bytes", 503, b"503 S", ErrorCodes.INTERNAL_ERROR),
        ("/outage/rst", None, b"", ErrorCodes.REFUSED_STREAM),
    ],
)
def test_rst_stream_from_a_scenario_on_raw_frames(
    srv: Any, path: str, status: int | None, body: bytes, code: int
) -> None:
    frames = frames_until(srv, path, RstStreamFrame)
    on_stream = [f for f in frames if getattr(f, "stream_id", 0) == 1]
    resets = [(f.stream_id, f.error_code) for f in on_stream if isinstance(f, RstStreamFrame)]
    assert resets == [(1, code)]
    assert isinstance(on_stream[-1], RstStreamFrame)  # nothing after the reset
    assert any(isinstance(f, HeadersFrame) for f in on_stream) == (status is not None)
    data = b"".join(f.data for f in on_stream if isinstance(f, DataFrame))
    assert data == body
    assert not any(isinstance(f, DataFrame) and "END_STREAM" in f.flags for f in on_stream)


def test_rst_stream_from_a_scenario_with_the_h2_client(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/rst/headers")
        assert (a.status, a.body, a.reset, a.ended) == (503, b"", ErrorCodes.CANCEL, False)
        assert c.get("/status/200").status == 200  # the connection goes on


def test_goaway_immediate_from_a_scenario(srv: Any) -> None:
    with H2Client(srv.port) as c:
        assert c.get("/status/204").status == 204  # stream 1, processed
        a = c.get("/goaway/now")  # stream 3
        while not c.closed:
            c.pump()
    assert a.status is None
    assert c.goaway is not None
    assert (c.goaway.error_code, c.goaway.last_stream_id) == (ErrorCodes.ENHANCE_YOUR_CALM, 1)


def test_goaway_graceful_from_a_scenario_answers_then_goaway(srv: Any) -> None:
    frames = frames_until(srv, "/goaway/graceful", GoAwayFrame)
    data = b"".join(f.data for f in frames if isinstance(f, DataFrame) and f.stream_id == 1)
    assert data == b"going away"
    kinds = [type(f).__name__ for f in frames if isinstance(f, DataFrame | GoAwayFrame)]
    assert kinds[-1] == "GoAwayFrame"  # after the answer's END_STREAM
    goaway = goaway_of(frames)
    assert (goaway.error_code, goaway.last_stream_id) == (ErrorCodes.NO_ERROR, 1)


# --- real clients ------------------------------------------------------------------------------

# path -> (httpx exception, text in it), curl exit, Node error text
CLIENT_ROWS = [
    ("/rst/refused", ("RemoteProtocolError", "error_code:7"), 56, "NGHTTP2_REFUSED_STREAM"),
    ("/rst/headers", ("RemoteProtocolError", "error_code:8"), 92, "rstCode 8"),
    ("/rst/bytes", ("RemoteProtocolError", "error_code:2"), 92, "NGHTTP2_INTERNAL_ERROR"),
    (
        "/goaway/now",
        ("RemoteProtocolError", "ConnectionTerminated error_code:11"),
        16,
        "ERR_HTTP2_SESSION_ERROR",
    ),
]
IDS = [row[0] for row in CLIENT_ROWS]


@pytest.mark.parametrize(("path", "raised", "curl_exit", "node_error"), CLIENT_ROWS, ids=IDS)
def test_scenario_fault_with_httpx(
    srv: Any, path: str, raised: tuple[str, str], curl_exit: int, node_error: str
) -> None:
    # Every row ends the stream by itself: a generous timeout, never a timeout failure.
    with httpx.Client(http1=False, http2=True, timeout=15) as client:
        with pytest.raises(httpx.HTTPError) as info:
            client.get(f"{base(srv)}{path}")
    assert type(info.value).__name__ == raised[0]
    assert raised[1] in str(info.value)


@pytest.mark.skipif(not curl_has_http2(), reason="curl with HTTP/2 is not installed")
@pytest.mark.parametrize(("path", "raised", "curl_exit", "node_error"), CLIENT_ROWS, ids=IDS)
def test_scenario_fault_with_curl(
    srv: Any, path: str, raised: tuple[str, str], curl_exit: int, node_error: str
) -> None:
    out = curl("--http2-prior-knowledge", "-m", "15", "-o", "/dev/null", f"{base(srv)}{path}")
    assert out.returncode == curl_exit, out.stderr


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize(("path", "raised", "curl_exit", "node_error"), CLIENT_ROWS, ids=IDS)
def test_scenario_fault_with_node(
    srv: Any, path: str, raised: tuple[str, str], curl_exit: int, node_error: str
) -> None:
    got = node(base(srv), path)
    assert node_error in (got["error"] or ""), got


def test_scenario_graceful_goaway_with_every_client(srv: Any) -> None:
    with httpx.Client(http1=False, http2=True, timeout=15) as client:
        r = client.get(f"{base(srv)}/goaway/graceful")
        assert (r.http_version, r.status_code, r.text) == ("HTTP/2", 503, "going away")
    if CURL is not None and curl_has_http2():
        out = curl("--http2-prior-knowledge", "-i", f"{base(srv)}/goaway/graceful")
        assert out.returncode == 0 and out.stdout.startswith("HTTP/2 503 ")
        assert out.stdout.endswith("going away")
    if NODE is not None:
        got = node(base(srv), "/goaway/graceful")
        assert (got["status"], got["body"]) == (503, "going away")


# --- HTTP/1.1: the nearest equivalent ------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/rst/refused", "/goaway/now", "/status/503?fault=rst_stream&error=CANCEL", "/outage/rst"],
)
def test_http1_rst_stream_and_immediate_goaway_reset_the_connection(srv: Any, path: str) -> None:
    with rawhttp.connect(srv.port) as sock:
        sock.sendall(rawhttp.build("GET", path))
        with pytest.raises(ConnectionResetError):
            sock.recv(65536)  # no byte: the reset comes before the head


@pytest.mark.parametrize("path", ["/rst/bytes", "/status/503?fault=rst_stream&after=5"])
def test_http1_rst_stream_after_bytes_resets_after_them(srv: Any, path: str) -> None:
    got = b""
    with rawhttp.connect(srv.port) as sock:
        sock.sendall(rawhttp.build("GET", path))
        with pytest.raises(ConnectionResetError):
            while data := sock.recv(65536):
                got += data
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ") and b"Content-Length: 23" in head
    assert body == b"503 S"


def test_http1_rst_stream_after_headers_sends_the_head_then_resets(srv: Any) -> None:
    got = b""
    with rawhttp.connect(srv.port) as sock:
        sock.sendall(rawhttp.build("GET", "/rst/headers"))
        with pytest.raises(ConnectionResetError):
            while data := sock.recv(65536):
                got += data
    head, sep, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ") and sep and body == b""


@pytest.mark.parametrize("path", ["/goaway/graceful", "/status/503?fault=goaway&graceful=1"])
def test_http1_graceful_goaway_answers_then_closes(srv: Any, path: str) -> None:
    with rawhttp.connect(srv.port) as sock:
        sock.sendall(rawhttp.build("GET", path))
        reader = rawhttp.Reader(sock)
        _, resp = reader.read_response()
        assert resp.status == 503 and resp.header("Connection") == "close"
        assert resp.body in (b"going away", b"503 Service Unavailable")
        assert reader.read_to_close() == b""  # FIN after the answer


def test_http1_bad_error_name_is_a_400_too(srv: Any) -> None:
    _, resp = rawhttp.request(srv.port, target="/status/503?fault=rst_stream&error=NOPE")
    assert resp.status == 400 and b"invalid error 'NOPE'" in resp.body


def test_the_journal_records_the_fault_asked_for(srv: Any) -> None:
    with httpx.Client(timeout=15) as client:
        client.get(f"{base(srv)}/goaway/graceful")
        entries = client.get(f"{base(srv)}/__mockstatus/requests").json()["requests"]
    mine = [e for e in entries if e["path"] == "/goaway/graceful"]
    assert mine and mine[-1]["fault"] == "goaway"
