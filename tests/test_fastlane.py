"""The fast lane keeps every guarantee of the general path (issue 19), shown on the wire: order
under pipelining, body framing, Expect, Upgrade, sessions, HTTP/1.0 and close, the idle timer,
the journal, metrics and access log, and answers that follow a scenario upload."""

from __future__ import annotations

import io
import json
import random
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockstatus import accesslog
from mockstatus.app import Mockstatus
from mockstatus.cli import main
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock
from mockstatus.wire import fastlane
from tests import rawhttp

ROUTES = """\
name: lane
routes:
  - name: fixed
    match: {method: GET, path: /lane/fixed}
    respond: {status: 503, headers: {Retry-After: "5"}, body: down}
"""


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    started: list[BackgroundServer] = []

    def run(*, lane: bool = True, routes: str = ROUTES, **kwargs) -> BackgroundServer:
        folder = tmp_path / f"s{len(started)}"
        folder.mkdir()
        (folder / "lane.yaml").write_text(routes)
        quiet = kwargs.pop("quiet", True)
        app = Mockstatus(clock=ManualClock(), rng=random.Random(3), scenarios_dir=folder, **kwargs)
        app.store.load_initial()
        server = BackgroundServer(app, fast_lane=lane, quiet=quiet).start()
        started.append(server)
        return server

    yield run
    for server in started:
        server.stop()


def _answers(sock: socket.socket, methods: list[str]) -> list[rawhttp.RawResponse]:
    reader = rawhttp.Reader(sock)
    return [reader.read_response(m)[1] for m in methods]


def _answered(server: BackgroundServer) -> int:
    assert server.lane is not None
    return server.lane.answered


def test_the_lane_answers_and_says_so_on_the_wire(start) -> None:
    server = start()
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/503"))
        (resp,) = _answers(sock, ["GET"])
        sock.sendall(rawhttp.build("GET", "/lane/fixed"))
        (route,) = _answers(sock, ["GET"])
    assert (resp.status, resp.header("Retry-After"), resp.body) == (
        503,
        "120",
        b"503 Service Unavailable",
    )
    assert (route.status, route.header("Retry-After"), route.body) == (503, "5", b"down")
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", resp.header("Date") or "")
    assert _answered(server) == 2


def test_pipelined_answers_keep_their_order_around_bodies(start) -> None:
    """Lane, Content-Length body, lane, chunked body, lane: in one segment. The bodies are
    framed by aiohttp; every request after one that goes the general way waits its turn."""
    server = start()
    segment = (
        rawhttp.build("GET", "/status/503")
        + rawhttp.build("POST", "/status/201", body=b"GET /status/404 HTTP/1.1\r\n\r\n")
        + rawhttp.build("GET", "/status/418")
        + rawhttp.build("PUT", "/status/409", {"Transfer-Encoding": "chunked"})
        + b"5\r\nhello\r\n0\r\n\r\n"
        + rawhttp.build("GET", "/lane/fixed")
        + rawhttp.build("GET", "/status/410")
    )
    with rawhttp.connect(server.port) as sock:
        sock.sendall(segment)
        answers = _answers(sock, ["GET", "POST", "GET", "PUT", "GET", "GET"])
        # The connection is in step: one more request gets its own answer.
        sock.sendall(rawhttp.build("GET", "/status/402"))
        (last,) = _answers(sock, ["GET"])
    assert [a.status for a in answers] == [503, 201, 418, 409, 503, 410]
    assert answers[4].body == b"down"
    assert last.status == 402
    journal = [(e.method, e.path, e.status, e.body) for e in server.app.journal.entries]
    assert journal == [
        ("GET", "/status/503", 503, None),
        ("POST", "/status/201", 201, b"GET /status/404 HTTP/1.1\r\n\r\n"),
        ("GET", "/status/418", 418, None),
        ("PUT", "/status/409", 409, None),  # a chunked body is not journalled (no length)
        ("GET", "/lane/fixed", 503, None),
        ("GET", "/status/410", 410, None),
        ("GET", "/status/402", 402, None),
    ]
    # The first answer and the last came from the lane; the rest queued behind the body.
    assert _answered(server) >= 2


def test_a_delayed_200_with_a_precondition_goes_the_general_way(start) -> None:
    server = start()
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/200?sleep=1", {"If-None-Match": "*"}))
        assert _answers(sock, ["GET"])[0].status == 304
        sock.sendall(rawhttp.build("GET", "/status/200?sleep=1"))
        assert _answers(sock, ["GET"])[0].status == 200
    assert _answered(server) == 1


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"X-Mockstatus-Session": "s1"}, "session"),
        ({"Upgrade": "websocket", "Connection": "Upgrade"}, "upgrade"),
        ({"Upgrade": "h2c"}, "upgrade-without-connection"),
        ({"If-None-Match": "*"}, "precondition"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_requests_the_lane_must_not_take(start, headers, why) -> None:
    server = start()
    target = "/status/200" if why == "precondition" else "/status/503"
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", target, headers))
        (resp,) = _answers(sock, ["GET"])
    assert resp.status == (304 if why == "precondition" else 503)
    assert _answered(server) == 0
    entry = server.app.journal.entries[-1]
    assert entry.session == ("s1" if why == "session" else None)


def test_expect_continue_goes_the_general_way(start) -> None:
    server = start()
    with rawhttp.connect(server.port) as sock:
        sock.sendall(
            rawhttp.build("GET", "/status/503", {"Expect": "100-continue", "Content-Length": "2"})
        )
        reader = rawhttp.Reader(sock)
        interim = reader.read_head()
        sock.sendall(b"ok")
        final = reader.read_response("GET")[1]
    assert (interim.status, final.status) == (100, 503)
    assert _answered(server) == 0


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/status/503?x=1", 503),
        ("/status/%35%30%33", 503),
        ("/status/./503", 400),
        ("http://h/status/503", 503),
    ],
)
def test_targets_the_general_path_rewrites_are_not_taken(start, target, status) -> None:
    server = start()
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", target))
        (resp,) = _answers(sock, ["GET"])
    assert resp.status == status
    assert _answered(server) == 0


def test_http10_gets_an_http10_answer_and_a_close(start) -> None:
    server = start()
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/503", version="HTTP/1.0"))
        reader = rawhttp.Reader(sock)
        resp = reader.read_response("GET")[1]
        assert reader.read_to_close() == b""
    assert (resp.version, resp.status, resp.header("Connection")) == ("HTTP/1.0", 503, None)
    assert _answered(server) == 1


def test_connection_close_is_said_and_done(start) -> None:
    server = start()
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/lane/fixed", {"Connection": "close"}))
        reader = rawhttp.Reader(sock)
        resp = reader.read_response("GET")[1]
        assert reader.read_to_close() == b""
    assert (resp.status, resp.header("Connection")) == (503, "close")
    assert _answered(server) == 1


def test_an_idle_connection_still_closes_after_lane_answers(start) -> None:
    server = start(idle_timeout=0.2)
    with rawhttp.connect(server.port) as sock:
        for _ in range(3):
            sock.sendall(rawhttp.build("GET", "/status/503"))
            assert _answers(sock, ["GET"])[0].status == 503
        assert sock.recv(10) == b""  # closed by the idle timer (within the socket's 5 s)
    assert _answered(server) == 3


def _traffic(server: BackgroundServer) -> None:
    with rawhttp.connect(server.port) as sock:
        for method, target, headers in [
            ("GET", "/status/503", {"User-Agent": "t"}),
            ("HEAD", "/status/404", {"Accept": "application/json"}),
            ("GET", "/lane/fixed", {}),
            ("GET", "/", {"Accept": "text/html"}),
            ("GET", "/status/204", {}),
            ("GET", "/status/503?sleep=1", {}),
            ("GET", "/status/502", {"Connection": "keep-alive"}),
        ]:
            version = "HTTP/1.0" if target == "/status/502" else "HTTP/1.1"
            sock.sendall(rawhttp.build(method, target, headers, version=version))
            _answers(sock, [method])


def test_journal_metrics_and_route_calls_match_the_general_path(start) -> None:
    servers = [start(lane=True), start(lane=False)]
    for server in servers:
        _traffic(server)
    assert _answered(servers[0]) == 7

    def seen(server: BackgroundServer) -> tuple:
        entries = [
            (e.method, e.path, e.query, dict(e.headers), e.body, e.route, e.status, e.http_version)
            for e in server.app.journal.entries
        ]
        listing = json.load(urllib.request.urlopen(server.url("/__mockstatus/scenarios")))
        admin = [s["routes"] for s in listing["scenarios"]]
        metrics = server.app.metrics.requests
        return entries, admin, dict(metrics)

    assert seen(servers[0]) == seen(servers[1])
    assert seen(servers[0])[1] == [[{"name": "fixed", "behaviours": [], "calls": 1}]]


def test_the_access_log_line_is_the_general_paths(start) -> None:
    lines = []
    for lane in (True, False):
        out = io.StringIO()
        accesslog.set_output(out)
        try:
            server = start(lane=lane, quiet=False)
            with rawhttp.connect(server.port) as sock:
                sock.sendall(
                    rawhttp.build("HEAD", "/status/503") + rawhttp.build("GET", "/status/204")
                )
                _answers(sock, ["HEAD", "GET"])
            server.stop()
            accesslog.flush()
        finally:
            accesslog.set_output(__import__("sys").stdout)
        lines.append(re.sub(r"\[[^]]*\]|\d+\.\dms", "", out.getvalue()))
    assert lines[0] == lines[1]
    assert '"HEAD /status/503 HTTP/1.1" 503 23' in lines[0]
    assert '"GET /status/204 HTTP/1.1" 204 0' in lines[0]


def test_an_upload_changes_what_the_lane_answers(start) -> None:
    server = start()

    def get() -> tuple[int, bytes]:
        with rawhttp.connect(server.port) as sock:
            sock.sendall(rawhttp.build("GET", "/lane/fixed"))
            resp = _answers(sock, ["GET"])[0]
            return resp.status, resp.body

    assert get() == (503, b"down")
    upload = ROUTES.replace("name: lane", "name: up").replace("503", "201").replace("down", "up")
    req = urllib.request.Request(
        server.url("/__mockstatus/scenarios/up"), data=upload.encode(), method="PUT"
    )
    urllib.request.urlopen(req).read()
    assert get() == (201, b"up")  # uploads come before folder scenarios
    urllib.request.urlopen(
        urllib.request.Request(server.url("/__mockstatus/scenarios/up"), method="DELETE")
    ).read()
    assert get() == (503, b"down")
    assert _answered(server) == 3


def test_the_switch_reads_the_environment() -> None:
    assert fastlane.enabled_from_env({}) is True
    assert fastlane.enabled_from_env({"MOCKSTATUS_FAST_LANE": "off"}) is False
    assert fastlane.enabled_from_env({"MOCKSTATUS_FAST_LANE": "0"}) is False
    assert fastlane.enabled_from_env({"MOCKSTATUS_FAST_LANE": "on"}) is True


def test_the_lane_off_answers_the_same(start) -> None:
    server = start(lane=False)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/lane/fixed"))
        (resp,) = _answers(sock, ["GET"])
    assert (resp.status, resp.body) == (503, b"down")
    assert server.lane is None


PER_REQUEST = """\
name: per
routes:
  - name: limited
    match: {path: /per/limited}
    rate_limit: {limit: 2, window: 1m, key: client}
    respond: {status: 200, body: ok}
  - name: steps
    match: {path: /per/steps}
    sequence: [{status: 500}, {status: 201, body: "n={{ count }}"}]
  - name: slow
    match: {path: /per/slow}
    latency: {fixed: 10ms}
    respond: {status: 200}
"""


def test_rate_limits_sequences_and_templates_are_planned_per_request_in_the_lane(start) -> None:
    server = start(routes=PER_REQUEST)
    with rawhttp.connect(server.port) as sock:
        got = []
        for target in ["/per/limited"] * 3 + ["/per/steps"] * 3 + ["/per/slow"]:
            sock.sendall(rawhttp.build("GET", target))
            resp = _answers(sock, ["GET"])[0]
            got.append((resp.status, resp.body, resp.header("RateLimit")))
    assert [g[:2] for g in got] == [
        (200, b"ok"),
        (200, b"ok"),
        (429, b"429 Too Many Requests"),
        (500, b"500 Internal Server Error"),
        (201, b"n=2"),
        (201, b"n=3"),
        (200, b"200 OK"),
    ]
    assert got[0][2] is not None and got[2][2] is not None  # the limiter's fields, per request
    assert _answered(server) == 6  # all but the route with latency (it waits: general path)
    assert [e.route for e in server.app.journal.entries] == ["limited"] * 3 + ["steps"] * 3 + [
        "slow"
    ]


def test_a_delayed_answer_waits_on_one_timer_and_keeps_the_order(start) -> None:
    server = start()
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/503?sleep=50"))
        # Sent while the first waits (or with it, in one segment): either way it is answered
        # second, and the connection stays in step.
        sock.sendall(rawhttp.build("GET", "/status/404") + rawhttp.build("GET", "/lane/fixed"))
        answers = _answers(sock, ["GET", "GET", "GET"])
    assert [a.status for a in answers] == [503, 404, 503]
    assert answers[0].body == b"503 Service Unavailable" and answers[2].body == b"down"
    journal = [(e.path, e.query, e.status) for e in server.app.journal.entries]
    assert journal == [
        ("/status/503", "sleep=50", 503),
        ("/status/404", "", 404),
        ("/lane/fixed", "", 503),
    ]
    assert server.app.journal.entries[0].duration_ms >= 50


def test_a_client_leaving_mid_delay_is_journalled_and_nothing_breaks(start) -> None:
    server = start()
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/502?sleep=200"))
    with rawhttp.connect(server.port) as sock:  # the server goes on serving
        sock.sendall(rawhttp.build("GET", "/status/503"))
        assert _answers(sock, ["GET"])[0].status == 503
    deadline = time.monotonic() + 5
    while len(server.app.journal.entries) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # the left connection is recorded when the loop sees it close
    statuses = sorted((e.path, e.status) for e in server.app.journal.entries)
    assert statuses == [("/status/502", 502), ("/status/503", 503)]
    assert _answered(server) == 2


def test_a_bad_sleep_goes_the_general_way(start) -> None:
    server = start()
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/503?sleep=99999999"))
        assert _answers(sock, ["GET"])[0].status == 400
    assert _answered(server) == 0


@pytest.mark.parametrize(
    ("argv", "env", "text"),
    [
        (["serve", "--fast-lane", "maybe"], {}, "invalid choice 'maybe'"),
        (["serve"], {"MOCKSTATUS_FAST_LANE": "sometimes"}, "MOCKSTATUS_FAST_LANE: invalid choice"),
    ],
)
def test_the_cli_switch_refuses_other_values(argv, env, text) -> None:
    out = io.StringIO()
    assert main(argv, env, out) == 2
    assert text in out.getvalue()
    assert len(out.getvalue().strip().splitlines()) == 1
