"""The fast lane reuses the parse of a connection's repeated request bytes (issue 19): the same
answers, journal and counts as a fresh parse, and never when the parser stands inside a request
(bytes that continue an earlier, partial request mean something else there)."""

from __future__ import annotations

import random
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockstatus.app import Mockstatus
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock
from mockstatus.wire import fastlane
from tests import rawhttp
from tests.test_fastlane import ROUTES  # /lane/fixed: 503, Retry-After 5, "down"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackgroundServer]:
    (tmp_path / "lane.yaml").write_text(ROUTES)
    app = Mockstatus(clock=ManualClock(), rng=random.Random(3), scenarios_dir=tmp_path)
    app.store.load_initial()
    started = BackgroundServer(app, fast_lane=True).start()
    yield started
    started.stop()


def _repeats(server: BackgroundServer) -> int:
    """Read on the server's loop: the counter moves after the answer is written."""
    lane = server.lane
    assert lane is not None
    return int(server.call(lambda: lane.repeats))


def _journal(server: BackgroundServer, limit: int) -> list:
    return list(server.call(lambda: server.app.journal.select(limit=limit)))


def _without_date(head: bytes) -> bytes:
    return re.sub(rb"\r\nDate: [^\r]*", b"", head)


def _handler(server: BackgroundServer) -> fastlane.FastLaneHandler:
    """The server's one open connection (the test holds exactly one)."""
    assert server._runner is not None
    (handler,) = server._runner.server._connections  # type: ignore[union-attr]
    assert isinstance(handler, fastlane.FastLaneHandler)
    return handler


def _warm(sock: rawhttp.socket.socket, reader: rawhttp.Reader) -> None:
    """Two other requests first: a connection's first request may reach the server before
    aiohttp's loop waits for it and then goes the general way; after the second, the lane's
    parser stands between requests whichever way the first went."""
    for warm in ("1", "2"):
        sock.sendall(rawhttp.build("GET", "/status/200", {"X-Warm": warm}))
        reader.read_response("GET")


def test_a_repeated_request_is_answered_from_its_first_parse(server: BackgroundServer) -> None:
    request = rawhttp.build("GET", "/lane/fixed", {"X-Trace": "7"})
    with rawhttp.connect(server.port) as sock:
        reader = rawhttp.Reader(sock)
        _warm(sock, reader)
        answers = []
        for _ in range(4):  # each sent once the previous answer is in: one request per read
            sock.sendall(request)
            answers.append(reader.read_response("GET")[1])
    assert [(a.status, a.body) for a in answers] == [(503, b"down")] * 4
    assert {_without_date(a.head) for a in answers} == {_without_date(answers[0].head)}
    assert _repeats(server) == 3
    journal = _journal(server, 4)
    assert [(e.path, e.route, e.status) for e in journal] == [("/lane/fixed", "fixed", 503)] * 4
    assert {e.headers.get("X-Trace") for e in journal} == {"7"}


def test_bytes_that_end_a_partial_request_are_parsed_not_reused(server: BackgroundServer) -> None:
    request = rawhttp.build("GET", "/status/201")
    with rawhttp.connect(server.port) as sock:
        reader = rawhttp.Reader(sock)
        _warm(sock, reader)
        sock.sendall(request)
        assert reader.read_response("GET")[1].status == 201  # its parse is kept
        handler = _handler(server)
        # Chunks fed on the server's loop exactly as given (TCP could merge socket writes): a
        # request cut inside a header value, then the kept bytes, which now end that header.
        server.call(handler.data_received, b"GET /status/202 HTTP/1.1\r\nX-Cut: ")
        server.call(handler.data_received, request)
        second = reader.read_response("GET")[1]
        sock.sendall(request)
        third = reader.read_response("GET")[1]
    assert (second.status, third.status) == (202, 201)
    assert _repeats(server) == 0  # the parser stood inside a request: both were parsed
    assert _journal(server, 2)[0].headers.get("X-Cut") == ("GET /status/201 HTTP/1.1")


def test_after_a_repeat_the_next_different_request_is_parsed(server: BackgroundServer) -> None:
    with rawhttp.connect(server.port) as sock:
        reader = rawhttp.Reader(sock)
        _warm(sock, reader)
        statuses = []
        for target in ("/status/201", "/status/201", "/status/204", "/status/201"):
            sock.sendall(rawhttp.build("GET", target))
            statuses.append(reader.read_response("GET")[1].status)
        # Two requests in one write: the pair is parsed, whatever was kept.
        sock.sendall(rawhttp.build("GET", "/status/201") + rawhttp.build("GET", "/status/202"))
        statuses += [reader.read_response("GET")[1].status for _ in range(2)]
    assert statuses == [201, 201, 204, 201, 201, 202]
    assert _repeats(server) == 1  # only the second request repeated the kept bytes


def test_a_request_with_a_body_between_repeats_keeps_its_framing(
    server: BackgroundServer,
) -> None:
    request = rawhttp.build("GET", "/status/201")
    with rawhttp.connect(server.port) as sock:
        reader = rawhttp.Reader(sock)
        _warm(sock, reader)
        sock.sendall(request)
        reader.read_response("GET")
        handler = _handler(server)
        # A body the general path consumes, arriving in two pieces; its second piece happens to
        # be the kept request's bytes: they are body, not a request.
        head = f"POST /status/202 HTTP/1.1\r\nHost: x\r\nContent-Length: {len(request) + 2}\r\n\r\n"
        server.call(handler.data_received, head.encode() + b"ab")
        server.call(handler.data_received, request)
        posted = reader.read_response("POST")[1]
        sock.sendall(request)
        after = reader.read_response("GET")[1]
    assert (posted.status, after.status) == (202, 201)
    bodies = [e.body_size for e in _journal(server, 2)]
    assert bodies[0] == len(request) + 2


def test_a_reload_changes_what_a_repeat_answers(server: BackgroundServer) -> None:
    request = rawhttp.build("GET", "/lane/fixed")
    upload = ROUTES.replace("name: lane", "name: up").replace("503", "201").replace("down", "up")
    with rawhttp.connect(server.port) as sock:
        reader = rawhttp.Reader(sock)
        _warm(sock, reader)
        sock.sendall(request)
        first = reader.read_response("GET")[1]
        put = urllib.request.Request(
            server.url("/__mockstatus/scenarios/up"), data=upload.encode(), method="PUT"
        )
        urllib.request.urlopen(put).read()
        sock.sendall(request)
        second = reader.read_response("GET")[1]
    assert (first.status, first.body, second.status, second.body) == (503, b"down", 201, b"up")
    assert _repeats(server) == 1


def test_a_repeated_connection_close_request_is_answered_and_closed(
    server: BackgroundServer,
) -> None:
    """HTTP/1.0 without keep-alive closes after its answer; the parse kept on one connection is
    never seen by another."""
    request = rawhttp.build("GET", "/status/201", version="HTTP/1.0")
    for _ in range(2):
        with rawhttp.connect(server.port) as sock:
            sock.sendall(request)
            resp = rawhttp.Reader(sock).read_response("GET")[1]
            sock.settimeout(2)
            assert sock.recv(100) == b""  # closed by the server
        assert (resp.version, resp.status) == ("HTTP/1.0", 201)
    assert _repeats(server) == 0
