"""The fast lane sends the bytes the general path sends (minus Date), over the whole `/status`
catalog, the index, the bundled scenario routes and static scenario routes of every shape, for
GET and HEAD, each format, HTTP/1.1 and 1.0, keep-alive and close (issue 19)."""

from __future__ import annotations

import contextlib
import random
import re
import socket
import threading
from pathlib import Path

import pytest

from mockstatus import codes
from mockstatus.app import Mockstatus, bundled_scenarios
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock
from tests import rawhttp

STATIC = """\
name: static
routes:
  - name: exact
    match: {method: GET, path: /static/exact}
    respond: {status: 503, headers: {Retry-After: "5"}}
  - name: pattern
    match: {path: "/static/items/{id}"}
    respond: {status: 200, json: {ok: true}}
  - name: text
    match: {path: /static/text}
    respond: {status: 201, body: "created\\n", headers: {X-Thing: a}}
  - name: empty
    match: {path: /static/empty}
    respond: {status: 204}
  - name: reset
    match: {path: /static/reset}
    respond: {status: 205}
  - name: notmod
    match: {path: /static/304}
    respond: {status: 304}
  - name: keyed
    match: {path: /static/header, headers: {X-Key: "1"}}
    respond: {status: 418}
  - name: fallback
    match: {path: /static/header}
    respond: {status: 200, body: plain}
  - name: dated
    match: {path: /static/dated}
    respond: {status: 200, headers: {Date: "Mon, 01 Jan 2024 00:00:00 GMT"}}
  - name: shadow
    match: {path: /status/418}
    respond: {status: 200, body: teapot-shadowed}
  - name: templated
    match: {path: /static/tpl}
    respond: {status: 200, body: "hello {{ method }}"}
  - name: limited
    match: {path: /static/limited}
    rate_limit: {limit: 1000000, window: 1m, key: global}
    respond: {status: 200, body: ok}
"""

STATIC_PATHS = [
    "/static/exact",
    "/static/items/42",
    "/static/text",
    "/static/empty",
    "/static/reset",
    "/static/304",
    "/static/header",
    "/static/dated",
    "/static/tpl",
    "/static/limited",
    "/static/none",
]
BUNDLED_PATHS = ["/lb/a", "/flapping/x", "/github/repos/a/b", "/jobs/1", "/auth/me", "/dying/x"]
TARGETS = [
    *(f"/status/{code}" for code in range(100, 600)),
    "/status/503/",
    "/status/0503",
    "/status/503?sleep=1",
    "/status/404?sleep=0",
    "/status/429?sleep=2.5",
    "/status/200?sleep=1",
    "/static/exact?sleep=1",
    "/status/503?sleep=1&x=2",
    "/status/503?sleep=999999",
    "/",
    *STATIC_PATHS,
    *BUNDLED_PATHS,
]
_DATE = re.compile(rb"\r\nDate: [^\r]*")


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    for source in bundled_scenarios().glob("*.yaml"):
        (folder / source.name).write_text(source.read_text())
    (folder / "static.yaml").write_text(STATIC)
    return folder


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    folder = _folder(tmp_path_factory.mktemp("bytes"))
    started = []
    for lane in (True, False):
        app = Mockstatus(clock=ManualClock(), rng=random.Random(7), scenarios_dir=folder)
        app.store.load_initial()
        started.append(BackgroundServer(app, fast_lane=lane).start())
    yield started
    for server in started:
        server.stop()


def _exchange(port: int, requests: list[tuple[str, str, dict[str, str], str]]) -> list[bytes]:
    """Each request in turn on keep-alive connections (the lane answers an idle connection;
    pipelining is tests/test_fastlane.py's), every answer minus Date; after an answer that
    closes the connection (408, ...) the rest go on a new one."""
    out: list[bytes] = []
    while len(out) < len(requests):
        with rawhttp.connect(port) as sock:
            reader = rawhttp.Reader(sock)
            for method, target, headers, version in requests[len(out) :]:
                sock.sendall(rawhttp.build(method, target, headers, version=version))
                interims, final = reader.read_response(method)
                raw = b"".join(i.head + b"\r\n\r\n" for i in interims) + final.head
                out.append(_DATE.sub(b"", raw + b"\r\n\r\n" + final.body))
                if _closes(final, version):
                    break
    return out


def _closes(final: rawhttp.RawResponse, version: str) -> bool:
    connection = (final.header("Connection") or "").lower()
    return connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")


def _pipelined(port: int, requests: list[tuple[str, str, dict[str, str], str]]) -> list[bytes]:
    """The same answers, the requests pipelined (the general path's side: faster)."""
    out: list[bytes] = []
    while len(out) < len(requests):
        todo = requests[len(out) :]
        with rawhttp.connect(port) as sock:
            payload = b"".join(rawhttp.build(m, t, h, version=v) for m, t, h, v in todo)
            sender = threading.Thread(target=_send_quietly, args=(sock, payload))
            sender.start()
            reader = rawhttp.Reader(sock)
            for method, _, _, version in todo:
                interims, final = reader.read_response(method)
                raw = b"".join(i.head + b"\r\n\r\n" for i in interims) + final.head
                out.append(_DATE.sub(b"", raw + b"\r\n\r\n" + final.body))
                if _closes(final, version):
                    break
            sender.join()
    return out


def _send_quietly(sock: socket.socket, payload: bytes) -> None:
    with contextlib.suppress(OSError):  # the server closed after a closing answer
        sock.sendall(payload)


@pytest.mark.parametrize(
    ("version", "accept"),
    [
        ("HTTP/1.1", None),
        ("HTTP/1.1", "application/json"),
        ("HTTP/1.1", "text/html"),
        ("HTTP/1.1", "text/html;q=0.5, application/json"),
        ("HTTP/1.0", "text/html"),
    ],
    ids=["text", "json", "html", "q", "http10-keepalive"],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_keep_alive_answers_are_byte_identical(servers, method, accept, version) -> None:
    headers = {"Accept": accept} if accept else {}
    if version == "HTTP/1.0":
        headers["Connection"] = "keep-alive"
    requests = [(method, target, headers, version) for target in TARGETS]
    lane, general = servers
    before = lane.lane.answered
    fast = _exchange(lane.port, requests)
    slow = _exchange(general.port, requests)
    for target, a, b in zip(TARGETS, fast, slow, strict=True):
        assert a == b, target
    # The lane really answered the preparable ones: every registered non-1xx code but 206 and
    # the dynamic ones is among them, so at least 400 of these requests.
    assert lane.lane.answered - before >= 400
    assert general.lane is None


@pytest.mark.parametrize(
    ("version", "headers"),
    [("HTTP/1.1", {"Connection": "close"}), ("HTTP/1.0", {})],
    ids=["close", "http10"],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_closing_answers_are_byte_identical_and_close(servers, version, headers, method) -> None:
    lane, general = servers
    targets = [
        *(f"/status/{c}" for c in (200, 201, 204, 205, 304, 404, 418, 429, 500, 503)),
        "/",
        *STATIC_PATHS,
    ]
    for target in targets:
        answers = []
        for server in (lane, general):
            with rawhttp.connect(server.port) as sock:
                sock.sendall(rawhttp.build(method, target, headers, version=version))
                reader = rawhttp.Reader(sock)
                _, final = reader.read_response(method)
                rest = reader.read_to_close()
                answers.append((_DATE.sub(b"", final.head), final.body, rest))
        assert answers[0] == answers[1], target
        assert answers[0][0].startswith(f"{version} ".encode()), target
        assert answers[0][2] == b"", target  # then the connection closed


def test_every_registered_cacheable_code_takes_the_lane(servers) -> None:
    lane = servers[0]
    before = lane.lane.answered
    wanted = [c for c in codes.CODES if c >= 200 and c != 206]
    _exchange(lane.port, [("GET", f"/status/{c}", {}, "HTTP/1.1") for c in wanted])
    taken = lane.lane.answered - before
    # Dynamic rules (a random job id, a request-dependent challenge) are the only exceptions.
    assert len(wanted) - 5 <= taken <= len(wanted)
