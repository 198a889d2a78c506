"""HTTP/1 bytes after a connection's first request, on a real listening socket, fast lane on and
off: a segment holding a valid request and a malformed one answers the valid one first (aiohttp's
parser drops every request of a feed in which one is malformed), bodies that contain CRLF CRLF
or look like requests keep their framing, and an HTTP/0.9 line or a bare CR on a kept-alive
connection is refused at once (RFC 9112 §2.2, §3), after the answers still due.

Later segments are fed on the server's loop exactly as given (`server.call(handler.data_received,
chunk)`, as tests/test_fastlane_repeat.py does): TCP could merge or split socket writes.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterator

import pytest

from mockstatus import __version__
from mockstatus.app import Mockstatus
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock
from mockstatus.wire.server import ConnectionHandler
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

GUARD = 2.0  # seconds: every answer here is immediate; a wait for the idle timeout fails fast
BAD = b"GET /status/201 HTTP/1.1\r\nHo st: x\r\n\r\n"  # a space in a field name: 400
NO_VERSION = b"400 Bad Request: the request line has no HTTP version (HTTP/0.9 is not supported)\n"
PREPARED = b"GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n"  # the fast lane answers it
GENERAL = b"GET /status/202?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"  # a query: aiohttp's way
DELAYED = b"GET /status/503?sleep=20 HTTP/1.1\r\nHost: x\r\n\r\n"  # the lane's timer

LANES = pytest.mark.parametrize("lane", [True, False], ids=["fast-lane", "general-path"])


@pytest.fixture
def start() -> Iterator[Callable[[bool], BackgroundServer]]:
    started: list[BackgroundServer] = []

    def run(lane: bool) -> BackgroundServer:
        app = Mockstatus(clock=ManualClock(), rng=random.Random(5), scenarios_dir=None)
        server = BackgroundServer(app, fast_lane=lane).start()
        started.append(server)
        return server

    yield run
    for server in started:
        server.stop()


class Conn:
    """One connection whose first request was answered; later segments fed on the loop."""

    def __init__(self, server: BackgroundServer, first: bytes = PREPARED) -> None:
        self.server = server
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=GUARD)
        self.reader = rawhttp.Reader(self.sock)
        self.sock.sendall(first)
        self.first = self.reader.read_response()[1]
        assert server._runner is not None
        (handler,) = server._runner.server._connections  # type: ignore[union-attr]
        assert isinstance(handler, ConnectionHandler)
        self.handler = handler

    def feed(self, *segments: bytes) -> None:
        for segment in segments:
            self.server.call(self.handler.data_received, segment)

    def answers(self, methods: str) -> list[rawhttp.RawResponse]:
        """One answer per letter (G: GET, P: POST), then nothing until the server closes."""
        out = [self.reader.read_response("POST" if m == "P" else "GET")[1] for m in methods]
        self.rest = self.reader.read_to_close()
        self.sock.close()
        return out


def journal(server: BackgroundServer) -> list[tuple[str, str, int, int | None]]:
    entries = server.call(lambda: server.app.journal.select(limit=20))
    return [(e.method, e.path, e.status, e.body_size) for e in entries]


def assert_refused(answer: rawhttp.RawResponse, body_start: bytes) -> None:
    assert (answer.version, answer.status) == ("HTTP/1.1", 400)
    assert answer.header("Connection") == "close"
    assert answer.header("Server") == f"mockstatus/{__version__}"
    assert answer.body.startswith(body_start)
    assert int(answer.header("Content-Length") or -1) == len(answer.body)


# --- item 1: a valid request, then a malformed one, in a later segment -----------------------


@LANES
@pytest.mark.parametrize(
    ("valid", "status"),
    [(PREPARED, 204), (GENERAL, 202), (DELAYED, 503)],
    ids=["prepared", "general", "delayed"],
)
def test_a_later_segment_answers_its_valid_request_before_the_malformed_one(
    start, lane: bool, valid: bytes, status: int
) -> None:
    server = start(lane)
    conn = Conn(server)
    conn.feed(valid + BAD)
    first, good, bad = [conn.first, *conn.answers("GG")]
    assert (first.status, good.status) == (204, status)
    assert_refused(bad, b"400 Bad Request: malformed request: Invalid header")
    assert conn.rest == b""
    assert [e[2] for e in journal(server)][:2] == [204, status]


@LANES
def test_segments_fed_while_the_first_answer_is_still_due(start, lane: bool) -> None:
    """Segment 1 is still being answered (aiohttp's handler, or the lane's timer) when segment 2
    (three valid requests and a malformed one) arrives: every answer, in order."""
    server = start(lane)
    conn = Conn(server)
    conn.feed(DELAYED, GENERAL + PREPARED + GENERAL + BAD)
    answers = conn.answers("GGGGG")
    assert [a.status for a in answers] == [503, 202, 204, 202, 400]
    assert answers[-1].header("Connection") == "close"
    assert conn.rest == b""


@LANES
def test_a_body_with_crlf_crlf_keeps_its_framing(start, lane: bool) -> None:
    body = b"ab\r\n\r\ncd"
    post = b"POST /status/201 HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n" + body
    server = start(lane)
    conn = Conn(server)
    conn.feed(post + PREPARED + BAD)
    answers = conn.answers("PG")
    # The parser stands inside the body after the POST head: the rest is fed whole, so the
    # request after the body shares the malformed one's fate (aiohttp's parser drops it).
    assert [a.status for a in answers] == [201, 400]
    assert [e[:3] for e in journal(server)] == [
        ("GET", "/status/204", 204),
        ("POST", "/status/201", 201),
    ]


@LANES
def test_a_body_that_looks_like_requests_is_never_answered_as_requests(start, lane: bool) -> None:
    inner = b"GET /status/500 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/500 HTTP/1.1\r\n\r\n"
    head = f"POST /status/201 HTTP/1.1\r\nHost: x\r\nContent-Length: {len(inner)}\r\n\r\n"
    chunked = b"POST /status/202 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked += b"%x\r\n" % len(inner) + inner + b"\r\n0\r\n\r\n"
    server = start(lane)
    conn = Conn(server)
    conn.feed(
        head.encode()
        + inner
        + chunked
        + PREPARED
        + b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    answers = conn.answers("PPGG")
    assert [a.status for a in answers] == [201, 202, 204, 404]
    assert conn.rest == b""
    assert [e[:3] for e in journal(server)] == [
        ("GET", "/status/204", 204),
        ("POST", "/status/201", 201),
        ("POST", "/status/202", 202),
        ("GET", "/status/204", 204),
        ("GET", "/x", 404),
    ]


@LANES
@pytest.mark.parametrize("then", [b"", PREPARED], ids=["alone", "then-a-request"])
def test_a_head_is_never_answered_apart_from_its_malformed_chunked_body(
    start, lane: bool, then: bytes
) -> None:
    """A chunked body can be malformed: its head is fed with it, so the answer is the 400, not
    the head's own status followed by a closed connection."""
    server = start(lane)
    conn = Conn(server)
    chunked = b"GET /status/200 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    conn.feed(PREPARED + chunked + then)
    good, refused = conn.answers("GG")
    assert good.status == 204
    assert_refused(refused, b"400 Bad Request: malformed request")
    assert conn.rest == b""


# --- item 2: an HTTP/0.9 line (or a bare CR) after a kept-alive request ----------------------


@LANES
@pytest.mark.parametrize(
    "segments",
    [
        (b"GET /status/200\r\n",),
        (b"GET /\n",),
        (b"\r\nGET /\r\n",),
        (b"\r\n", b"GET /status/200", b"\r\n"),  # an empty line, then the line in pieces
        (b"G", b"ET /", b"\r", b"\n"),
    ],
    ids=["crlf", "lf", "after-empty-line", "in-pieces", "byte-split"],
)
def test_an_http_0_9_line_after_a_kept_alive_request_is_refused_at_once(
    start, lane: bool, segments: tuple[bytes, ...]
) -> None:
    server = start(lane)
    conn = Conn(server)
    conn.feed(*segments)
    (refused,) = conn.answers("G")
    assert refused.body == NO_VERSION
    assert_refused(refused, NO_VERSION)
    assert conn.rest == b""


@LANES
@pytest.mark.parametrize(
    "valid", [PREPARED, GENERAL, DELAYED], ids=["prepared", "general", "delayed"]
)
def test_an_http_0_9_line_in_the_same_segment_is_refused_after_the_answer_due(
    start, lane: bool, valid: bytes
) -> None:
    server = start(lane)
    conn = Conn(server)
    conn.feed(valid + b"GET /status/200\r\n")
    good, refused = conn.answers("GG")
    assert good.status == {PREPARED: 204, GENERAL: 202, DELAYED: 503}[valid]
    assert refused.body == NO_VERSION
    assert conn.rest == b""


@LANES
def test_an_http_0_9_line_while_the_answer_is_due_waits_its_turn(start, lane: bool) -> None:
    server = start(lane)
    conn = Conn(server)
    conn.feed(DELAYED, b"GET /\r\n")
    delayed, refused = conn.answers("GG")
    assert (delayed.status, refused.status) == (503, 400)
    assert refused.body == NO_VERSION


@LANES
def test_a_bare_cr_after_a_kept_alive_request_is_refused(start, lane: bool) -> None:
    server = start(lane)
    conn = Conn(server)
    conn.feed(b"GET /status/200\rHTTP/1.1")
    (refused,) = conn.answers("G")
    assert_refused(refused, b"400 Bad Request: malformed request: a bare CR in the request line")


@LANES
@pytest.mark.parametrize(
    "segments",
    [
        (b"GET /status/206 HTTP/1.1\r\n", b"Host: x\r\n\r\n"),
        (b"\r\n", b"GET /status/206 HTTP/1.1\r\nHost: x\r\n\r\n"),
        (b"GET /sta", b"tus/206 HTTP/1.1\r\nHo", b"st: x\r\n\r\n"),
    ],
    ids=["line-then-fields", "empty-line-first", "split-anywhere"],
)
def test_a_request_in_pieces_after_a_kept_alive_one_is_answered(
    start, lane: bool, segments: tuple[bytes, ...]
) -> None:
    server = start(lane)
    conn = Conn(server)
    conn.feed(*segments, b"GET /status/204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answers = conn.answers("GG")
    assert [a.status for a in answers] == [206, 204]
    assert conn.rest == b""


# --- the same bytes, however cut, with and without the lane ---------------------------------

STREAM_REQUESTS = [
    PREPARED,
    PREPARED,
    GENERAL,
    b"POST /status/201 HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nab\r\n\r\ncd",
    b"POST /status/202 HTTP/1.1\r\nHost: x\r\nContent-Length: 29\r\n\r\nGET /status/500 HTTP/1.1\r\n\r\n",
    b"GET /status/200 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
]
ENDINGS = [BAD, b"GET /\rX"]  # refused by the parser or by us, never waited on


def all_answers(conn: Conn) -> list[tuple[int, bytes]]:
    """Every answer until the server closes (no HEAD here: each answer frames itself)."""
    out = []
    while True:
        try:
            answer = conn.reader.read_response("GET")[1]
        except ConnectionError:
            conn.sock.close()
            return out
        out.append((answer.status, answer.body))


@pytest.mark.parametrize("seed", range(20))
def test_both_paths_answer_the_same_bytes_the_same_however_cut(start, seed: int) -> None:
    """Valid requests, then a malformed line, cut at random (with empty feeds, as aiohttp's
    re-parse after a pause makes): the same answers, in order, with the lane and without, the
    last one a 400; when every cut falls between requests, every valid request is answered."""
    rng = random.Random(seed)
    picked = [rng.choice(STREAM_REQUESTS) for _ in range(rng.randint(1, 6))]
    stream = b"".join(picked) + rng.choice(ENDINGS)
    if rng.random() < 0.5:
        cuts = sorted(set(rng.sample(range(1, len(stream)), rng.randint(0, 6))))
    else:
        ends = [sum(map(len, picked[: i + 1])) for i in range(len(picked))]
        cuts = sorted(set(rng.sample(ends, rng.randint(0, len(ends)))))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    for _ in range(rng.randint(0, 2)):
        chunks.insert(rng.randint(0, len(chunks)), b"")
    seen = []
    for lane in (True, False):
        conn = Conn(start(lane))
        conn.feed(*chunks)
        seen.append(all_answers(conn))
    assert seen[0] == seen[1], [[s for s, _ in x] for x in seen]
    assert seen[0][-1][0] == 400
    bounds = {0, *(sum(map(len, picked[: i + 1])) for i in range(len(picked)))}
    bodiless = all(not r.startswith(b"POST") for r in picked)
    if bodiless and set(cuts) <= bounds:
        assert len(seen[0]) == len(picked) + 1
