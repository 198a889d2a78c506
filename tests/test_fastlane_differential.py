"""Differential test of the fast lane's data path: the same request bytes, cut into the same
chunks, fed to a server with the lane and one without, must get the same answers (minus Date).
The chunks are fed on each server's loop exactly as cut (TCP would merge writes), so cuts inside
request lines, headers, bodies and between pipelined requests are all exercised, together with
repeated requests (whose parse the lane reuses) and requests with bodies (which it never takes)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import pytest

from mockstatus.app import Mockstatus
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock
from mockstatus.wire import fastlane
from mockstatus.wire.server import ConnectionHandler
from tests import rawhttp
from tests.test_fastlane import ROUTES as LANE_ROUTES

ROUTES = (
    LANE_ROUTES
    + """\
  - name: posted
    match: {method: POST, path: /lane/post}
    respond: {status: 201, body: made}
"""
)

# What a client sends; bodies carry "\r\n\r\n" so a cut there looks like the end of a head.
REQUESTS = [
    rawhttp.build("GET", "/status/503"),
    rawhttp.build("GET", "/status/503"),
    rawhttp.build("HEAD", "/status/200"),
    rawhttp.build("GET", "/lane/fixed", {"X-N": "1"}),
    rawhttp.build("GET", "/status/204", {"Accept": "application/json"}),
    rawhttp.build("GET", "/status/200", version="HTTP/1.0", headers={"Connection": "keep-alive"}),
    rawhttp.build("POST", "/lane/post", body=b"a\r\n\r\nb"),
    rawhttp.build("POST", "/status/202", body=b"GET /status/500 HTTP/1.1\r\n\r\n"),
    b"POST /lane/post HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"6\r\nab\r\n\r\n\r\n0\r\n\r\n",
    rawhttp.build("GET", "/status/418?x=1"),
    rawhttp.build("GET", "/lane/fixed", {"X-N": "1"}),
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[bool, BackgroundServer]]:
    started = {}
    for lane in (True, False):
        folder = tmp_path_factory.mktemp(f"lane-{lane}")
        (folder / "lane.yaml").write_text(ROUTES)
        app = Mockstatus(clock=ManualClock(), rng=random.Random(3), scenarios_dir=folder)
        app.store.load_initial()
        started[lane] = BackgroundServer(app, fast_lane=lane).start()
    yield started
    for server in started.values():
        server.stop()


def _answers(server: BackgroundServer, chunks: list[bytes], methods: list[str]) -> list[bytes]:
    with rawhttp.connect(server.port) as sock:
        # The first request goes through the socket, so the handler exists and is idle.
        sock.sendall(rawhttp.build("GET", "/status/200", {"X-First": "1"}))
        reader = rawhttp.Reader(sock)
        reader.read_response("GET")
        assert server._runner is not None
        conns = list(server._runner.server._connections)  # type: ignore[union-attr]
        (handler,) = conns
        assert isinstance(handler, ConnectionHandler)
        assert isinstance(handler, fastlane.FastLaneHandler) == (server.lane is not None)
        for chunk in chunks:
            server.call(handler.data_received, chunk)
        out = []
        for method in methods:
            resp = reader.read_response(method)[1]
            head = re.sub(rb"\r\nDate: [^\r]*", b"", resp.head)
            out.append(head + b"\r\n\r\n" + resp.body)
        return out


@pytest.mark.parametrize("seed", range(25))
def test_the_lane_answers_like_the_general_path_however_bytes_are_cut(servers, seed) -> None:
    rng = random.Random(seed)
    picked = [rng.choice(REQUESTS) for _ in range(rng.randint(3, 12))]
    # Repeats back to back, as load generators send them.
    if rng.random() < 0.5:
        picked += [picked[-1]] * rng.randint(1, 4)
    stream = b"".join(picked)
    cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(0, min(8, len(stream) - 1))))
    # And cuts at request boundaries, so that some chunks are exactly one request.
    edge = 0
    for request in picked:
        edge += len(request)
        if rng.random() < 0.6 and edge < len(stream):
            cuts.append(edge)
    cuts = sorted(set(cuts))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    methods = [r.split(b" ", 1)[0].decode() for r in picked]
    with_lane = _answers(servers[True], chunks, methods)
    without = _answers(servers[False], chunks, methods)
    assert with_lane == without
    statuses = [int(a.split(b" ", 2)[1]) for a in with_lane]
    assert len(statuses) == len(picked)
