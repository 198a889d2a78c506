"""Malformed requests get mockstatus's own answer, on the wire: an HTTP/1.1 status line, our Server
and CORS headers, a body naming the problem, `Connection: close`; 505 only for a well-formed
HTTP/x.y with x != 1; one log line each, never a traceback (none at all with --quiet)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from mockstatus import __version__
from mockstatus.wire.server import AcceptErrorLog, classify_parser_error
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

SERVER = f"mockstatus/{__version__}"

CASES = [
    pytest.param(
        b"POST /status/200 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        400,
        b"Content-Length",
        id="bad-content-length",
    ),
    pytest.param(
        b"GET /status/200 HTTP/1.1\r\nHost x\r\n\r\n", 400, b"header", id="bad-header-line"
    ),
    pytest.param(
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),
        400,
        b"TLS handshake on a plain HTTP port",
        id="tls-on-plain-port",
    ),
    # An HTTP/2 preface is served by HTTP/2 (with --http2 off: 505): tests/test_h2_wire.py.
    pytest.param(b"GET /status/200\r\n\r\n", 400, b"no HTTP version", id="no-version"),
    pytest.param(
        b"GET /status/200 HTTP/2.0\r\nHost: x\r\n\r\n", 505, b"HTTP/2.0", id="http-2.0-line"
    ),
    pytest.param(
        b"GET /status/200 HTTP/3.0\r\nHost: x\r\n\r\n", 505, b"HTTP/3.0", id="http-3.0-line"
    ),
    pytest.param(
        b"GET /status/200 HTTP/0.9\r\nHost: x\r\n\r\n", 505, b"HTTP/0.9", id="explicit-0.9"
    ),
    pytest.param(
        b"GET /status/200 HTTP/2.2\r\nHost: x\r\n\r\n", 505, b"HTTP/2.", id="http-2.2-line"
    ),
    pytest.param(b"GET /status/200 HTTP/1.x\r\n\r\n", 400, b"malformed request", id="bad-version"),
]


def answer(port: int, data: bytes) -> tuple[rawhttp.RawResponse, bytes]:
    with rawhttp.connect(port) as sock:
        sock.sendall(data)
        reader = rawhttp.Reader(sock)
        _, final = reader.read_response()
        try:
            rest = reader.read_to_close()
        except ConnectionResetError:
            rest = b""
    return final, rest


@pytest.mark.parametrize(("data", "status", "says"), CASES)
def test_malformed_request_gets_our_answer(server, data, status, says):
    final, rest = answer(server.port, data)
    assert final.version == "HTTP/1.1"
    assert final.status == status
    assert final.header("Server") == SERVER
    assert final.header("Access-Control-Allow-Origin") == "*"
    assert final.header("Connection") == "close"
    assert final.header("Content-Type") == "text/plain; charset=utf-8"
    assert final.body.startswith(f"{status} ".encode())
    assert says in final.body
    assert int(final.header("Content-Length")) == len(final.body)
    assert rest == b""  # and the connection is closed


def test_http_1_2_is_served_as_1_1(server):
    """RFC 9112 §2.3: a higher minor version of HTTP/1 is answered as the highest we speak."""
    _, final = rawhttp.request(server.port, "GET", "/status/201", version="HTTP/1.2")
    assert (final.version, final.status) == ("HTTP/1.1", 201)


def test_second_request_with_a_bad_version_on_a_kept_alive_connection(server):
    # (Pipelined in one segment, aiohttp's parser fails the whole segment: the first request is
    # lost. Real clients wait for the answer before reusing a connection.)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/204"))
        reader = rawhttp.Reader(sock)
        _, first = reader.read_response()
        sock.sendall(rawhttp.build("GET", "/", version="HTTP/3.0"))
        _, second = reader.read_response()
    assert first.status == 204
    assert (second.version, second.status) == ("HTTP/1.1", 505)
    assert b"HTTP/3.0 is not supported" in second.body


def test_version_less_request_after_a_good_one(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/204") + b"GET /status/200\r\n\r\n")
        reader = rawhttp.Reader(sock)
        _, first = reader.read_response()
        _, second = reader.read_response()
    assert first.status == 204
    assert (second.version, second.status) == ("HTTP/1.1", 400)  # never "HTTP/0.9 200"


def test_json_clients_get_the_same_problem_as_json(server):
    request = rawhttp.build(
        "GET", "/status/200", {"Accept": "application/json"}, version="HTTP/2.0"
    )
    final, _ = answer(server.port, request)
    assert final.status == 505
    assert final.header("Content-Type") == "application/json"


def test_classify_parser_error_keeps_the_first_line_without_the_caret():
    from aiohttp.http_exceptions import BadHttpMessage

    exc = BadHttpMessage("Invalid header token:\n\n  b'Host x'\n        ^")
    assert classify_parser_error(exc, "") == (
        400,
        "malformed request: Invalid header token: b'Host x'",
    )


@pytest.mark.slow
@pytest.mark.parametrize("quiet", [False, True], ids=["logged", "quiet"])
def test_one_log_line_per_malformed_request_and_never_a_traceback(quiet):
    command = [sys.executable, "-m", "mockstatus", "serve", "--host", "127.0.0.1", "--port", "0"]
    command += ["--scenarios", "none", *(["--quiet"] if quiet else [])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKSTATUS_")}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        line = proc.stdout.readline()
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        for param in CASES:
            data, status, _ = param.values
            final, _ = answer(port, data)
            assert final.status == status
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err and "Error handling request" not in err
    assert "Traceback" not in out
    lines = out.splitlines()
    if quiet:
        assert lines == []
    else:
        assert len(lines) == len(CASES)  # one line each
        assert all(f'" {p.values[1]} ' in ln for p, ln in zip(CASES, lines, strict=True))


def test_accept_errors_are_rate_limited():
    logged: list[str] = []
    now = [100.0]
    handler = AcceptErrorLog(logged.append, every=10.0, clock=lambda: now[0])
    exc = OSError(24, "Too many open files")
    context = {"message": "socket.accept() out of system resource", "exception": exc}
    for _ in range(50):
        handler(None, context)  # type: ignore[arg-type]
    now[0] += 10.0
    handler(None, context)  # type: ignore[arg-type]
    assert len(logged) == 2
    assert logged[0].startswith("mockstatus: warning: cannot accept connections: Too many")
    assert "(49 more since the last report)" in logged[1]
    assert all("\n" not in line for line in logged)


@pytest.mark.slow
def test_out_of_file_descriptors_is_a_few_lines_not_a_flood():
    """A server at its open-files limit: asyncio retries accept() every second with a traceback
    each time; we print at most one line per EMFILE_LOG_EVERY seconds."""
    import resource

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    command = [sys.executable, "-m", "mockstatus", "serve", "--host", "127.0.0.1", "--port", "0"]
    command += ["--scenarios", "none", "--quiet", "--reload-interval", "0"]
    # asyncio's accept retry is what AcceptErrorLog tames; uvloop (libuv) handles EMFILE itself,
    # without calling the loop's exception handler (docs/scale-out.md).
    command += ["--loop", "asyncio"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKSTATUS_")}
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=low_limit,
    )
    held = []
    try:
        line = proc.stdout.readline()
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        for _ in range(90):  # more connections than the server has descriptors
            sock = rawhttp.connect(port)
            sock.sendall(rawhttp.build("GET", "/status/204"))
            held.append(sock)
        answered = 0
        for sock in held[:20]:  # the first ones were accepted and answered
            _, final = rawhttp.Reader(sock).read_response()
            answered += final.status == 204
        assert answered == 20
        for sock in held:
            sock.close()
        held.clear()
        # Once descriptors are free again, the server accepts and answers as before.
        _, final = rawhttp.request(port, "GET", "/status/201")
        assert final.status == 201
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        err = proc.stderr.read()
    finally:
        for sock in held:
            sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err
    warnings = [ln for ln in err.splitlines() if "cannot accept connections" in ln]
    assert 1 <= len(warnings) <= 2, err


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (rawhttp.build("GET", "/" + "a" * 9000), 414),
        (rawhttp.build("GET", "/status/200", {"X-Big": "v" * 9000}), 431),
        (rawhttp.build("GET", "/status/200", {"X-" + "n" * 9000: "v"}), 431),
        (rawhttp.build("GET", "/status/200", {f"X-{i}": "v" for i in range(200)}), 431),
    ],
    ids=["long-target", "long-header-value", "long-header-name", "too-many-headers"],
)
def test_too_long_lines_get_414_or_431(server, data, status):
    final, _ = answer(server.port, data)
    assert (final.version, final.status) == ("HTTP/1.1", status)
    assert final.header("Server") == SERVER
    assert b"longer than 8190 bytes" in final.body or b"too many header fields" in final.body
