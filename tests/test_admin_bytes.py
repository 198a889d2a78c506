"""Issue 10 item 1: a byte that is not UTF-8 (0xff) in a header value or in X-Mockstatus-Session
never makes an admin endpoint answer 500. The bytes go over a raw socket (no client would send
them); every answer must be strict UTF-8 JSON.

The representation: a value whose bytes are not UTF-8 is shown decoded as ISO-8859-1 (one
character per byte, so `.encode("latin-1")` gives back the exact bytes), and the entry's
`latin1` list names it (`header:<Name>`, `session`)."""

from __future__ import annotations

import json

import pytest

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
UPLOAD = b"routes:\n  - match: {path: /up}\n    respond: {status: 200}\n"


def send(port: int, raw: bytes) -> rawhttp.RawResponse:
    with rawhttp.connect(port) as sock:
        sock.sendall(raw)
        return rawhttp.Reader(sock).read_response()[1]


def request_with(port: int, target: str, extra: bytes, method: str = "GET", body: bytes = b""):
    """A request whose head carries `extra` (raw header lines) verbatim."""
    head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
    if body or method in ("POST", "PUT"):
        head += f"Content-Length: {len(body)}\r\n".encode()
    return send(port, head + extra + b"\r\n" + body)


def strict_json(resp: rawhttp.RawResponse, status: int) -> dict:
    assert resp.status == status, resp.body[:500]
    assert resp.header("Content-Type") == "application/json; charset=utf-8"
    return json.loads(resp.body.decode("utf-8"))  # strict: a stray byte would raise here


def test_a_non_utf8_header_value_is_journalled_as_latin1_and_named(server):
    r = request_with(server.port, "/status/200", b"X-Odd: a\xffb\r\nX-Mixed: \xc3\xa9\xff\r\n")
    assert r.status == 200
    doc = strict_json(request_with(server.port, "/__mockstatus/requests", b""), 200)
    (entry,) = doc["requests"]
    assert entry["headers"]["X-Odd"] == "a\u00ffb"
    assert entry["headers"]["X-Odd"].encode("latin-1") == b"a\xffb"
    # Not valid UTF-8 as a whole: every byte is one character, the é's two bytes included.
    assert entry["headers"]["X-Mixed"].encode("latin-1") == b"\xc3\xa9\xff"
    assert entry["latin1"] == ["header:X-Odd", "header:X-Mixed"]
    assert entry["headers"]["Host"] == "127.0.0.1"


def test_valid_utf8_stays_utf8_and_is_not_listed(server):
    request_with(server.port, "/status/200", "X-Name: é\r\n".encode())
    (entry,) = strict_json(request_with(server.port, "/__mockstatus/requests", b""), 200)[
        "requests"
    ]
    assert entry["headers"]["X-Name"] == "é" and entry["latin1"] == []


def test_wait_answers_such_entries(server):
    request_with(server.port, "/status/201", b"X-Odd: \xff\r\n")
    target = "/__mockstatus/requests/wait?count=1&timeout=0&path=/status/201"
    doc = strict_json(request_with(server.port, target, b""), 200)
    assert doc["requests"][0]["headers"]["X-Odd"] == "\u00ff"


def test_a_non_utf8_session_breaks_no_scenario_endpoint(make_server):
    server = make_server({"seq.yaml": SEQ})
    assert request_with(server.port, "/seq", b"X-Mockstatus-Session: s\xff\r\n").status == 503
    doc = strict_json(request_with(server.port, "/__mockstatus/scenarios", b""), 200)
    (seq,) = [s for s in doc["scenarios"] if s["name"] == "seq"]
    assert "s\u00ff" in json.dumps(seq, ensure_ascii=False)  # the session, as ISO-8859-1
    strict_json(request_with(server.port, "/__mockstatus/scenarios/seq", b""), 200)
    strict_json(request_with(server.port, "/__mockstatus/reload", b"", "POST"), 200)
    put = request_with(server.port, "/__mockstatus/scenarios/up", b"", "PUT", UPLOAD)
    assert strict_json(put, 201)["created"] is True
    # The PUT that answered is the PUT that was stored, once.
    doc = strict_json(request_with(server.port, "/__mockstatus/scenarios", b""), 200)
    assert doc["uploads"] == ["up"]
    (entry,) = strict_json(request_with(server.port, "/__mockstatus/requests?path=/seq", b""), 200)[
        "requests"
    ]
    assert entry["session"] == "s\u00ff"
    assert entry["latin1"] == ["header:X-Mockstatus-Session", "session"]


def test_the_journal_filters_by_the_shown_session(server):
    request_with(server.port, "/status/200", b"X-Mockstatus-Session: s\xff\r\n")
    request_with(server.port, "/status/200", b"X-Mockstatus-Session: t\r\n")
    # The shown value, sent percent-encoded as UTF-8 (what any client does with "s\u00ff").
    doc = strict_json(request_with(server.port, "/__mockstatus/requests?session=s%C3%BF", b""), 200)
    assert [e["session"] for e in doc["requests"]] == ["s\u00ff"]


@pytest.mark.parametrize(
    "header",
    [b"Authorization: Bearer \xff\r\n", b"Cookie: a=\xff\r\n", b"X-Odd: " + bytes(range(128, 256))],
)
def test_no_admin_endpoint_answers_500_after_such_a_request(server, header):
    if not header.endswith(b"\r\n"):
        header += b"\r\n"
    request_with(server.port, "/status/200", header)
    for target in ("/__mockstatus/requests", "/__mockstatus/requests/wait?count=1&timeout=0"):
        strict_json(request_with(server.port, target, b""), 200)
    strict_json(request_with(server.port, "/__mockstatus/scenarios", header), 200)


def test_reset_finds_a_non_utf8_session_by_its_shown_name(make_server):
    server = make_server({"seq.yaml": SEQ})
    odd = b"X-Mockstatus-Session: s\xff\r\n"
    assert [request_with(server.port, "/seq", odd).status for _ in range(2)] == [503, 200]
    reset = request_with(server.port, "/__mockstatus/reset?session=s%C3%BF", b"", "POST")
    assert strict_json(reset, 200) == {"reset": "s\u00ff"}
    assert request_with(server.port, "/seq", odd).status == 503  # its sequence starts over


def test_replacing_an_upload_whose_sessions_hold_such_a_byte_answers_once(server):
    """The issue's PUT case: the replaced upload keeps its sessions, the answer describes them,
    and it used to be a 500 after the scenario was stored."""
    text = SEQ.encode()
    put = lambda: request_with(server.port, "/__mockstatus/scenarios/seq", b"", "PUT", text)  # noqa: E731
    assert strict_json(put(), 201)["created"] is True
    assert request_with(server.port, "/seq", b"X-Mockstatus-Session: s\xff\r\n").status == 503
    doc = strict_json(put(), 200)
    assert doc["created"] is False and doc["name"] == "seq"
    listing = strict_json(request_with(server.port, "/__mockstatus/scenarios", b""), 200)
    assert listing["uploads"] == ["seq"]
