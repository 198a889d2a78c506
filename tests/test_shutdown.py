"""SIGTERM with long requests in flight: stop accepting at once, cut what is still running at the
`--shutdown-timeout` deadline (closing its connection; websockets get close code 1001 first),
exit 0. Each kind of long request on the wire, against a real `mockstatus serve` process.

No durations are asserted: a short timeout keeps the tests fast, and the order of events (the
shutdown line, refused connections, the cut, the exit code) is what is checked. The process
must exit at all: a hang is MAX_HANG (600 s) long, so waiting it out would fail `wait()`.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests import rawhttp

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::ResourceWarning")]

TIMEOUT = "300ms"  # the server's --shutdown-timeout in these tests
EXIT_WAIT = 20.0  # generous: only a server that waits out a hang (600 s) fails it


class Server:
    def __init__(self, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mockstatus",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--scenarios",
                "none",
                "--quiet",
                "--shutdown-timeout",
                TIMEOUT,
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("MOCKSTATUS_")},
        )
        line = self.proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line + self.proc.stderr.read()
        self.port = int(line.split("http://127.0.0.1:")[1].split()[0])

    def connect(self) -> socket.socket:
        return rawhttp.connect(self.port)

    def ordinary(self) -> int:
        """A complete request on a new connection: by its answer, the loop has seen every
        request sent before it (each was sent before this one's connection was opened)."""
        _, final = rawhttp.request(self.port, "GET", "/status/204")
        return final.status

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        line = self.proc.stderr.readline()
        assert "shutting down" in line, line

    def refuses_new_connections(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                return False
        except ConnectionRefusedError:
            return True

    def finish(self) -> tuple[int, str]:
        code = self.proc.wait(EXIT_WAIT)
        return code, self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def server() -> Iterator[Server]:
    started = Server()
    yield started
    started.kill()


def closed(sock: socket.socket, reader: rawhttp.Reader) -> bytes:
    """Everything the server still sends before it closes the connection."""
    try:
        return reader.read_to_close()
    except ConnectionResetError:
        return reader.buf


def cut_after_shutdown(
    server: Server, sock: socket.socket, reader: rawhttp.Reader, *, cut: bool = True
) -> bytes:
    """SIGTERM; then: new connections are refused, the long request's connection is closed,
    the process exits 0 having reported the cut. Returns what arrived after SIGTERM."""
    assert server.ordinary() == 204  # the long request is surely in flight
    server.terminate()
    assert server.refuses_new_connections()
    rest = closed(sock, reader)
    code, err = server.finish()
    assert code == 0, err
    assert ("1 request(s) cut at the shutdown deadline" in err) is cut
    assert "Traceback" not in err
    return rest


# Requests that send nothing before the deadline: sleep, hang, a `?continue=` wait, a slow body.
@pytest.mark.parametrize(
    ("request_bytes"),
    [
        rawhttp.build("GET", "/status/200?sleep=60000"),
        rawhttp.build("GET", "/status/200?fault=hang"),
        rawhttp.build(
            "POST",
            "/anything?continue=60000",
            {"Expect": "100-continue", "Content-Length": "3"},
        ),
    ],
    ids=["sleep", "hang", "continue-wait"],
)
def test_silent_long_request_is_cut_at_the_deadline(server, request_bytes):
    with server.connect() as sock:
        sock.sendall(request_bytes)
        reader = rawhttp.Reader(sock)
        assert cut_after_shutdown(server, sock, reader) == b""  # closed, no response


@pytest.mark.parametrize(
    ("target", "first"),
    [
        ("/status/200?drip=1/10s", b"HTTP/1.1 200 OK"),  # head and one byte, then one per 10 s
        ("/status/200?fault=slow-headers&delay=60s", b"H"),  # the head, byte by byte
        ("/status/102?sleep=60000&interval=100", b"HTTP/1.1 102 Processing"),  # a 102 train
    ],
    ids=["drip", "slow-headers", "102-train"],
)
def test_streaming_long_request_is_cut_at_the_deadline(server, target, first):
    with server.connect() as sock:
        sock.sendall(rawhttp.build("GET", target))
        reader = rawhttp.Reader(sock)
        while len(reader.buf) < len(first):
            assert reader._fill()
        assert reader.buf.startswith(first)
        rest = cut_after_shutdown(server, sock, reader)
    assert b"HTTP/1.1 200" not in rest.split(b"\r\n", 1)[-1]  # never a complete final answer


def test_raw_upgrade_echo_is_cut_at_the_deadline(server):
    with server.connect() as sock:
        sock.sendall(
            rawhttp.build("GET", "/status/101", {"Upgrade": "echo", "Connection": "Upgrade"})
        )
        reader = rawhttp.Reader(sock)
        _, switched = reader.read_response()
        assert switched.status == 101
        sock.sendall(b"ping")
        assert reader.read_exact(4) == b"ping"
        assert cut_after_shutdown(server, sock, reader) == b""


def test_websocket_gets_close_1001_then_the_connection_closes(server):
    key = base64.b64encode(os.urandom(16)).decode()
    with server.connect() as sock:
        sock.sendall(
            rawhttp.build(
                "GET",
                "/status/101",
                {
                    "Upgrade": "websocket",
                    "Connection": "Upgrade",
                    "Sec-WebSocket-Key": key,
                    "Sec-WebSocket-Version": "13",
                },
            )
        )
        reader = rawhttp.Reader(sock)
        _, switched = reader.read_response()
        assert switched.status == 101
        # The server closes its side after its close frame (RFC 6455 §7.1.1), so the handler
        # ends before the deadline: nothing is cut.
        rest = cut_after_shutdown(server, sock, reader, cut=False)
    assert rest[0] == 0x88, rest  # FIN + close (RFC 6455 §5.5.1), unmasked from a server
    length = rest[1] & 0x7F
    assert length >= 2
    assert int.from_bytes(rest[2:4], "big") == 1001  # going away (§7.4.1)
    assert rest[4 : 2 + length] == b"server shutting down"


def test_admin_requests_wait_is_cut_at_the_deadline(server):
    with server.connect() as sock:
        sock.sendall(rawhttp.build("GET", "/__mockstatus/requests/wait?path=/never&timeout=60"))
        reader = rawhttp.Reader(sock)
        assert cut_after_shutdown(server, sock, reader) == b""


def test_ordinary_request_finishes_and_nothing_is_cut():
    server = Server("--shutdown-timeout", "30s")  # the flag given twice: the last one wins
    try:
        with server.connect() as sock:
            sock.sendall(rawhttp.build("GET", "/status/201?sleep=300"))
            reader = rawhttp.Reader(sock)
            assert server.ordinary() == 204
            server.terminate()
            assert server.refuses_new_connections()
            _, final = reader.read_response()
            assert final.status == 201
            assert final.header("Connection") == "close"  # no more requests on this one
            assert closed(sock, reader) == b""
        code, err = server.finish()
        assert code == 0 and "cut" not in err
    finally:
        server.kill()


def test_idle_keep_alive_connection_does_not_hold_the_shutdown(server):
    with server.connect() as sock:
        sock.sendall(rawhttp.build("GET", "/status/204"))
        reader = rawhttp.Reader(sock)
        _, final = reader.read_response()
        assert final.status == 204
        server.terminate()
        assert closed(sock, reader) == b""  # closed at once, not at the deadline
        code, err = server.finish()
    assert code == 0 and "cut" not in err


def test_background_server_stop_cuts_a_hung_request(tmp_path):
    """The in-process server (tests, the pytest plugin) drains against the same one deadline."""
    import random

    from mockstatus.app import Mockstatus
    from mockstatus.runner import BackgroundServer
    from mockstatus.types import ManualClock

    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=None)
    background = BackgroundServer(app, shutdown_timeout=0.2).start()
    with rawhttp.connect(background.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/200?fault=hang"))
        _, final = rawhttp.request(background.port, "GET", "/status/204")
        assert final.status == 204  # the hung request is in flight
        background.stop()
        assert background._thread is not None and not background._thread.is_alive()
        assert closed(sock, rawhttp.Reader(sock)) == b""
