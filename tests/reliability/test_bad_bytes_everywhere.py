"""Non-UTF-8 bytes across every admin endpoint in one run (issue 10, item 1).

One server gets, on every admin route and method, a 0xff byte in a header value, in
X-Mockstatus-Session, in the query (raw and percent-encoded), in the path parameter and in the
body. No answer may be a 5xx, and every JSON answer must be strict UTF-8. Afterwards every read
endpoint still answers 200 with strict UTF-8 (the journal now holds all those entries)."""

from __future__ import annotations

import json

from mockstatus.admin import ENDPOINTS
from mockstatus.http_syntax import ADMIN_PREFIX
from tests import rawhttp

SEQ = """
name: seq
routes:
  - name: r
    match: {path: /seq}
    sequence:
      - {status: 503, times: 1}
      - {status: 200}
"""
# Raw header lines, each carrying bytes that are not UTF-8.
HEADERS = [
    b"X-Odd: \xff\xfe\r\n",
    b"X-Mockstatus-Session: s\xff\r\n",
    b"Authorization: Bearer \xff\r\n",
    b"Cookie: a=\x80\r\n",
]
QUERIES = [b"?session=s\xff", b"?session=s%FF", b"?path=/%FF%FE&limit=1", b"?\xff=\xfe"]
BODIES = [b"\xff\xfe\x00", b"routes:\n  - match: {path: /\xff}\n    respond: {status: 200}\n"]


def fill(pattern: str, odd: bytes) -> bytes:
    return ADMIN_PREFIX.encode() + pattern.replace("{name}", "n\x00").replace(
        "{code}", "503"
    ).encode().replace(b"\x00", odd)


def send(port: int, method: str, target: bytes, extra: bytes = b"", body: bytes = b"") -> int:
    """The status of one request; a 5xx fails the test (only admin targets are sent here)."""
    head = method.encode() + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body or method in ("POST", "PUT"):
        head += f"Content-Length: {len(body)}\r\n".encode()
    with rawhttp.connect(port) as sock:
        sock.sendall(head + extra + b"\r\n" + body)
        _, resp = rawhttp.Reader(sock).read_response(method)
    assert resp.status < 500, (method, target, extra, body, resp.status, resp.body[:300])
    if (resp.header("Content-Type") or "").startswith("application/json") and resp.body:
        json.loads(resp.body.decode("utf-8"))  # strict: a stray byte raises here
    return resp.status


def seq_with_odd_session(port: int) -> int:
    """A scenario request (not admin: its 503 is by design) whose session holds 0xff."""
    with rawhttp.connect(port) as sock:
        sock.sendall(b"GET /seq HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Mockstatus-Session: s\xff\r\n\r\n")
        return rawhttp.Reader(sock).read_response()[1].status


def test_every_admin_endpoint_survives_bytes_that_are_not_utf8(make_server) -> None:
    server = make_server({"seq.yaml": SEQ})
    port = server.port
    assert seq_with_odd_session(port) == 503
    sent = 0
    for pattern, methods in ENDPOINTS:
        if pattern == "/events":
            continue  # a stream that never ends: tests/test_dashboard_api.py sends it odd bytes
        for method in methods:
            for odd in (b"x", b"\xff", b"%FF"):
                target = fill(pattern, odd)
                for extra in HEADERS:
                    # a wait must not block the run: timeout=0 answers at once
                    wait = b"?timeout=0" if pattern.endswith("/wait") else b""
                    send(port, method, target + wait, extra)
                    sent += 1
                for query in QUERIES:
                    wait = b"&timeout=0" if pattern.endswith("/wait") else b""
                    send(port, method, target + query + wait)
                    sent += 1
                if method in ("PUT", "POST"):
                    for body in BODIES:
                        send(port, method, target, HEADERS[1], body)
                        sent += 1
    assert sent > 300
    assert seq_with_odd_session(port) in (
        200,
        503,
    )  # DELETE /requests ran above: the journal gets an odd entry again
    for target in (
        b"/requests",
        b"/requests?limit=5",
        b"/requests/wait?count=1&timeout=0",
        b"/scenarios",
        b"/scenarios/seq",
        b"/metrics",
        b"/health",
        b"/clock",
        b"/catalog/503",
    ):
        assert send(port, "GET", ADMIN_PREFIX.encode() + target) == 200, target
    # The scenario's session with the odd byte is still found by its shown (Latin-1) name.
    assert send(port, "POST", ADMIN_PREFIX.encode() + b"/reset?session=s%C3%BF") < 300
