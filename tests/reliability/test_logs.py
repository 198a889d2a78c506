"""Logs and output (issue 10, item 10): 1,000 bad requests leave no traceback and a bounded
stderr, and access-log lines dropped because the output does not keep up are counted in
`mockstatus_log_lines_dropped_total`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mockstatus import accesslog
from mockstatus.metrics import Metrics
from tests import rawhttp

BAD_REQUESTS = 1000
# What --quiet may print on stderr over a whole run: the shutdown line, and nothing per request.
STDERR_BOUND = 200

BAD = [
    b"GET /status/200\r\n\r\n",  # no HTTP version
    b"GET /status/200 HTTP/1.x\r\nHost: x\r\n\r\n",
    b"GET /status/200 HTTP/1.1\r\nHost x\r\n\r\n",
    b"POST /status/200 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"GET /\xff\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),
    # (An HTTP/2 preface is served by HTTP/2 now: tests/test_h2_cli.py has its own storm.)
    b"GET /status/200 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /status/200 HTTP/1.1\r\nX: " + b"b" * 20_000 + b"\r\n\r\n",
]


def first_status(port: int, data: bytes) -> int:
    with rawhttp.connect(port) as sock:
        sock.sendall(data)
        return rawhttp.Reader(sock).read_head().status


@pytest.mark.slow
def test_a_thousand_bad_requests_leave_no_traceback_and_a_bounded_stderr() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKSTATUS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockstatus", "serve", "--quiet", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        line = proc.stdout.readline().decode()
        assert "listening on http://127.0.0.1:" in line, line
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        statuses = {first_status(port, BAD[i % len(BAD)]) for i in range(BAD_REQUESTS)}
        assert statuses <= {400, 414, 431, 505}, statuses
        assert first_status(port, rawhttp.build("GET", "/status/204")) == 204  # still serving
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert b"Traceback" not in err and b"Error handling request" not in err
    assert len(err) <= STDERR_BOUND, err[:2000]


@pytest.fixture
def blocked_log() -> Iterator[None]:
    """The access log with no room at all: every line is dropped (then the real output back)."""
    out, backlog = accesslog._batcher.out, accesslog._batcher.backlog
    accesslog.set_output(out, backlog=0)
    yield
    accesslog.set_output(out, backlog=backlog)


def scrape_dropped(server) -> float:
    text = httpx.get(server.url("/__mockstatus/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    family = families["mockstatus_log_lines_dropped"]
    assert family.type == "counter"
    (sample,) = family.samples
    return sample.value


def test_dropped_log_lines_are_a_counter_in_metrics(server, blocked_log) -> None:
    before = scrape_dropped(server)
    assert before == accesslog.dropped()
    for _ in range(25):
        accesslog.log_malformed("127.0.0.1", 400, 10, "malformed request")
    assert scrape_dropped(server) == before + 25


def test_the_rendered_counter_takes_an_explicit_value() -> None:
    text = Metrics().render(
        rate_limited={}, reloads=0, load_failures=0, load_errors=0, scenarios=0,
        log_lines_dropped=7,
    )  # fmt: skip
    assert "# TYPE mockstatus_log_lines_dropped_total counter\n" in text
    assert text.endswith("\nmockstatus_log_lines_dropped_total 7\n")
