"""Red-team findings on HTTP/1 framing, byte for byte on a real listening socket.

Each request here used to get no answer at all until the idle timeout (75 s): the server waited
for bytes the client would never send. A short socket timeout makes a regression fail fast.
"""

from __future__ import annotations

import socket

import pytest

from mockstatus import __version__
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

GUARD = 2.0  # seconds: an answer is immediate; without one, the test fails after this


def exchange(port: int, data: bytes) -> tuple[rawhttp.RawResponse, bytes]:
    """Send `data`, read one response, then everything up to the server's close."""
    with socket.create_connection(("127.0.0.1", port), timeout=GUARD) as sock:
        sock.sendall(data)
        reader = rawhttp.Reader(sock)
        _, final = reader.read_response()
        rest = reader.read_to_close()
    return final, rest


@pytest.mark.parametrize(
    "data",
    [b"GET /status/200\r\n", b"GET /status/200\n", b"\r\nGET /\r\n"],
    ids=["crlf", "lf", "after-empty-line"],
)
def test_an_http_0_9_request_line_is_answered_400_at_once(server, data: bytes) -> None:
    """HTTP/0.9 is one line and no blank line after it: answered when the line is complete."""
    final, rest = exchange(server.port, data)
    assert (final.version, final.status) == ("HTTP/1.1", 400)
    assert final.body == (
        b"400 Bad Request: the request line has no HTTP version (HTTP/0.9 is not supported)\n"
    )
    assert final.header("Connection") == "close"
    assert final.header("Server") == f"mockstatus/{__version__}"
    assert int(final.header("Content-Length") or -1) == len(final.body)
    assert rest == b""


@pytest.mark.parametrize(
    "data",
    [b"GET /status/200 HTTP/1.1\rHost: x\r\r", b"GET /status/200\rHTTP/1.1\r\n\r\n"],
    ids=["cr-only-line-ends", "cr-inside-the-line"],
)
def test_a_bare_cr_in_the_request_line_is_a_400(server, data: bytes) -> None:
    """RFC 9112 §2.2: a bare CR is invalid; a client that ends lines with CR alone never sends
    the LF the server would wait for."""
    final, rest = exchange(server.port, data)
    assert (final.status, final.header("Connection")) == (400, "close")
    assert final.body.startswith(b"400 Bad Request: malformed request")
    assert rest == b""


def test_a_request_line_split_after_its_cr_still_works(server) -> None:
    """The bare-CR rule must not refuse a CR that is merely the last byte read so far."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=GUARD) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"GET /status/204 HTTP/1.1\r")
        sock.sendall(b"\nHost: x\r\nConnection: close\r\n\r\n")
        reader = rawhttp.Reader(sock)
        _, final = reader.read_response()
    assert final.status == 204


ALLOW = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"


def test_options_asterisk_asks_about_the_server_and_gets_200_with_allow(server) -> None:
    """RFC 9110 §9.3.7 (it was a 404 naming the path '*')."""
    _, final = rawhttp.request(server.port, "OPTIONS", "*")
    assert (final.status, final.reason) == (200, "OK")
    assert final.header("Allow") == ALLOW
    assert final.header("Content-Length") == "0" and final.body == b""
    assert final.header("Access-Control-Allow-Origin") == "*"
    assert final.header("Server") == f"mockstatus/{__version__}"


def test_connect_to_the_server_is_405_with_allow_and_closes(server) -> None:
    """RFC 9110 §9.3.6: not a proxy (it was a 404 saying 'no route for :')."""
    data = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    final, rest = exchange(server.port, data)
    assert (final.status, final.header("Allow")) == (405, ALLOW)
    assert final.header("Connection") == "close"
    assert final.body == b"405 Method Not Allowed: CONNECT is not supported: this is not a proxy\n"
    assert rest == b""


@pytest.mark.parametrize(
    ("a_im", "im"),
    [
        (None, "feed"),
        ("vcdiff", "vcdiff"),
        ("diffe;q=0.5, vcdiff", "diffe"),
        (";;", "feed"),
    ],
    ids=["none", "one", "first-of-two", "not-a-token"],
)
def test_226_names_the_instance_manipulation_the_client_asked_for(server, a_im, im) -> None:
    """STATUS-SEMANTICS: 226 carries `IM` = the A-IM the client asked for, else feed (RFC 3229
    §10.5.3). It always said feed; a second request must not get the first one's answer."""
    for _ in range(2):
        headers = {"A-IM": a_im} if a_im is not None else {}
        _, final = rawhttp.request(server.port, "GET", "/status/226", headers)
        assert (final.status, final.header("IM")) == (226, im)
        assert final.header("Delta-Base") == '"ms-226-base"'


# --- pipelining: a valid request, then a malformed one, in one segment --------------------------

BAD = b"GET /status/201 HTTP/1.1\r\nHo st: x\r\n\r\n"


def pipelined(port: int, data: bytes, count: int) -> tuple[list[rawhttp.RawResponse], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=GUARD) as sock:
        sock.sendall(data)
        reader = rawhttp.Reader(sock)
        answers = [reader.read_response()[1] for _ in range(count)]
        rest = reader.read_to_close()
    return answers, rest


@pytest.mark.parametrize("lane", [True, False], ids=["fast-lane", "general-path"])
@pytest.mark.parametrize(
    ("first", "status", "body"),
    [
        (b"GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n", 200, b"200 OK"),
        (
            b"POST /status/202?seed=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nab\r\n\r\ncd",
            202,
            None,
        ),
        (b"GET /status/503?sleep=10 HTTP/1.1\r\nHost: x\r\n\r\n", 503, b"503 Service Unavailable"),
    ],
    ids=["prepared", "body-with-crlfcrlf", "delayed"],
)
def test_a_valid_request_pipelined_before_a_malformed_one_is_answered_first(
    lane: bool, first: bytes, status: int, body: bytes | None
) -> None:
    """Known gap of aiohttp's parser: one bad request in a segment lost the good ones before it,
    and the client got only the 400."""
    from mockstatus.app import Mockstatus
    from mockstatus.runner import BackgroundServer
    from mockstatus.types import ManualClock

    app = Mockstatus(clock=ManualClock(), scenarios_dir=None)
    with BackgroundServer(app, fast_lane=lane) as server:
        (good, bad), rest = pipelined(server.port, first + BAD, 2)
    assert good.status == status
    if body is not None:
        assert good.body == body
    assert (bad.status, bad.header("Connection")) == (400, "close")
    assert bad.body.startswith(b"400 Bad Request: malformed request")
    assert rest == b""


def test_three_valid_pipelined_requests_then_a_malformed_one(server) -> None:
    good = b"GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n"
    answers, rest = pipelined(server.port, good * 3 + BAD, 4)
    assert [a.status for a in answers] == [204, 204, 204, 400]
    assert rest == b""


def test_an_interim_list_is_capped(server) -> None:
    """`?interim=` had no cap: one 8 KB URL asked for 2,000 `103` heads (~140 KB written)."""
    from mockstatus.limits import MAX_INTERIMS

    most = ",".join(["103"] * MAX_INTERIMS)
    interims, final = rawhttp.request(server.port, "GET", f"/status/204?interim={most}")
    assert ([i.status for i in interims], final.status) == ([103] * MAX_INTERIMS, 204)
    _, refused = rawhttp.request(server.port, "GET", f"/status/204?interim={most},103")
    assert refused.status == 400
    assert (
        refused.body
        == (
            f"400 Bad Request: invalid interim: {MAX_INTERIMS + 1} interim responses, "
            f"at most {MAX_INTERIMS}\n"
        ).encode()
    )
