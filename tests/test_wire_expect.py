"""`Expect: 100-continue` decided before the body (RFC 9110 §10.1.1), and when bodies are read.

413 and 417 refuse the body itself, so they go out *instead of* `100 Continue`; every other code
sends the 100 first; an explicit `?continue=` always wins. Raw sockets: clients hide the 100.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

QUIET = 0.3  # seconds a socket waits to show that nothing was sent

SCENARIO = """
name: refusals
routes:
  - match: {method: POST, path: /uploads}
    respond: {status: 417}
  - match: {method: POST, path: /big}
    respond: {status: 413}
  - match: {method: POST, path: /login, body: {json: {user: alice}}}
    respond: {status: 417}
"""


def expect_head(target: str, length: int = 5) -> bytes:
    return rawhttp.build("POST", target, {"Expect": "100-continue", "Content-Length": str(length)})


def nothing_arrives(sock: socket.socket) -> bool:
    sock.settimeout(QUIET)
    try:
        return sock.recv(65536) == b""
    except TimeoutError:
        return True
    finally:
        sock.settimeout(rawhttp.TIMEOUT)


@pytest.mark.parametrize(
    ("target", "status"),
    [("/status/417", 417), ("/status/413", 413), ("/uploads", 417), ("/big", 413)],
)
def test_refusal_goes_out_instead_of_the_100(make_server, target, status):
    server = make_server({"refusals.yaml": SCENARIO})
    with rawhttp.connect(server.port) as sock:
        sock.sendall(expect_head(target))  # the body is never sent
        reader = rawhttp.Reader(sock)
        interims, final = reader.read_response()
        assert interims == []  # no `100 Continue` before the refusal
        assert final.status == status
        assert final.header("Connection") == "close"


@pytest.mark.parametrize("code", [200, 201, 400, 404, 409, 422, 503])
def test_every_other_code_sends_the_100_first(server, code):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(expect_head(f"/status/{code}"))
        reader = rawhttp.Reader(sock)
        assert reader.read_head().head == b"HTTP/1.1 100 Continue"
        assert nothing_arrives(sock)  # the final answer waits for the body
        sock.sendall(b"hello")
        interims, final = reader.read_response()
    assert interims == [] and final.status == code


def test_explicit_continue_wins_over_the_refusal(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(expect_head("/status/417?continue=send"))
        reader = rawhttp.Reader(sock)
        assert reader.read_head().status == 100
        sock.sendall(b"hello")
        _, final = reader.read_response()
    assert final.status == 417


def test_a_route_that_needs_the_body_sends_the_100_then_decides(make_server):
    server = make_server({"refusals.yaml": SCENARIO})
    body = b'{"user": "alice"}'
    with rawhttp.connect(server.port) as sock:
        sock.sendall(
            rawhttp.build(
                "POST",
                "/login",
                {
                    "Expect": "100-continue",
                    "Content-Length": str(len(body)),
                    "Content-Type": "application/json",
                },
            )
        )
        reader = rawhttp.Reader(sock)
        assert reader.read_head().status == 100  # the match depends on the body
        sock.sendall(body)
        _, final = reader.read_response()
    assert final.status == 417


def test_a_decided_answer_is_counted_once(make_server):
    """The status is decided before the 100 and not again after the body: a sequence moves one
    step per request."""
    seq = """
name: seq
routes:
  - match: {method: POST, path: /steps}
    sequence:
      - {status: 201}
      - {status: 202}
"""
    server = make_server({"seq.yaml": seq})
    statuses = []
    for _ in range(2):
        with rawhttp.connect(server.port) as sock:
            sock.sendall(expect_head("/steps"))
            reader = rawhttp.Reader(sock)
            assert reader.read_head().status == 100
            sock.sendall(b"hello")
            statuses.append(reader.read_response()[1].status)
    assert statuses == [201, 202]


# --- bodies: read only when needed, and not forever ----------------------------------------------


def test_large_post_to_a_status_path_is_not_413_with_scenarios_loaded(make_server):
    server = make_server({"refusals.yaml": SCENARIO})
    r = httpx.post(server.url("/status/503"), content=b"x" * (2 * 1024 * 1024), timeout=30)
    assert r.status_code == 503


def test_large_post_to_a_route_that_reads_the_body_is_413(make_server):
    server = make_server({"refusals.yaml": SCENARIO})
    r = httpx.post(server.url("/login"), content=b"x" * (2 * 1024 * 1024), timeout=30)
    assert r.status_code == 413


def test_a_body_that_never_arrives_gets_408_and_the_connection_closes(make_server):
    server = make_server(body_read_timeout=0.2)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("POST", "/anything", {"Content-Length": "100"}) + b"abc")
        reader = rawhttp.Reader(sock)
        _, final = reader.read_response()
        assert final.status == 408
        assert b"did not arrive within 0.2 s" in final.body
        assert final.header("Connection") == "close"


@pytest.mark.parametrize("target", ["/anything", "/login"])
def test_a_body_that_cannot_be_decoded_is_400_not_500(make_server, target):
    server = make_server({"refusals.yaml": SCENARIO})
    headers = {
        "Content-Length": "5",
        "Content-Encoding": "gzip",
        "Content-Type": "application/json",
    }
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("POST", target, headers) + b"abcde")
        _, final = rawhttp.Reader(sock).read_response()
    assert final.status == 400
    assert b"the request body cannot be read: Can not decode content-encoding: gzip" in final.body
    assert final.header("Connection") == "close"
