"""The command line: table-driven `main(argv, env, out)` cases, and a real `serve` process."""

from __future__ import annotations

import io
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mockstatus.cli import main

BROKEN = "routes:\n  - match: {path: /x}\n    respnd: {status: 200}\n"


@pytest.mark.parametrize(
    ("argv", "env", "code", "text"),
    [
        (["serve", "--port", "abc"], {}, 2, "invalid port 'abc'"),
        (["serve", "--port", "70000"], {}, 2, "invalid port"),
        (["serve", "--bogus"], {}, 2, "unrecognized arguments: --bogus"),
        (["serve", "--interim", "sometimes"], {}, 2, "invalid choice"),
        (["serve"], {"MOCKSTATUS_PORT": "nope"}, 2, "invalid port 'nope'"),
        (["serve", "--scenarios", "/definitely/not/here"], {}, 2, "does not exist"),
        (["frobnicate"], {}, 2, "invalid choice"),
        (["check", "{broken}"], {}, 1, "did you mean 'respond'"),
        (["check", "{good}"], {}, 0, "1 route"),
        (["serve", "--scenarios", "{broken_dir}", "--port", "0"], {}, 2, "are invalid"),
        (["serve", "--scenarios", "{good}"], {}, 2, "is a file, not a folder"),
        (["serve", "--scenarios", ""], {}, 2, "an empty scenarios folder"),
        (["serve"], {"MOCKSTATUS_SCENARIOS": ""}, 2, "MOCKSTATUS_SCENARIOS: an empty scenarios"),
        (["serve", "--journal-size", "99999999999999999999"], {}, 2, "from 1 to 1000000"),
        (["serve", "--journal-size", "0"], {}, 2, "an integer from 1 to 1000000"),
        (["serve"], {"MOCKSTATUS_JOURNAL_SIZE": "9" * 5000}, 2, "MOCKSTATUS_JOURNAL_SIZE: invalid"),
        (
            ["serve"],
            {"MOCKSTATUS_RELOAD_INTERVAL": "abc"},
            2,
            "MOCKSTATUS_RELOAD_INTERVAL: invalid",
        ),
        (["serve", "--reload-interval", "0.000001"], {}, 2, "0 (off) or at least 0.1s"),
        (["serve"], {"MOCKSTATUS_INTERIM": "bad"}, 2, "MOCKSTATUS_INTERIM: invalid choice 'bad'"),
        (["serve"], {"MOCKSTATUS_CLOCK": "bogus"}, 2, "MOCKSTATUS_CLOCK: invalid choice 'bogus'"),
        (["serve", "--clock", "bogus"], {}, 2, "invalid choice 'bogus'"),
        (["serve", "--shutdown-timeout", "soon"], {}, 2, "invalid duration 'soon'"),
        (["serve"], {"MOCKSTATUS_SHUTDOWN_TIMEOUT": "-1s"}, 2, "MOCKSTATUS_SHUTDOWN_TIMEOUT"),
        (["serve", "--shutdown-timeout", "3601"], {}, 2, "at most 600s"),
        (["serve"], {"MOCKSTATUS_QUIET": "maybe"}, 2, "MOCKSTATUS_QUIET: invalid switch"),
        (["serve"], {"MOCKSTATUS_ADMIN_TOKEN": ""}, 2, "MOCKSTATUS_ADMIN_TOKEN is set but empty"),
        (["serve", "--host", ""], {}, 2, "invalid host ''"),
        (["serve", "--seed", "x"], {}, 2, "invalid seed 'x'"),
        (["serve", "--journal-redact", "a b,"], {}, 2, "--journal-redact"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_main_cases(tmp_path, argv, env, code, text):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "b.yaml").write_text(BROKEN)
    good = tmp_path / "good.yaml"
    good.write_text("routes:\n  - match: {path: /x}\n    respond: {status: 200}\n")
    argv = [
        a.format(broken=tmp_path / "broken" / "b.yaml", good=good, broken_dir=tmp_path / "broken")
        for a in argv
    ]
    out = io.StringIO()
    assert main(argv, env, out) == code
    printed = out.getvalue()
    assert text in printed
    assert "Traceback" not in printed
    if code == 2 and argv[0] == "serve" and "are invalid" not in printed:
        assert len(printed.strip().splitlines()) == 1  # one clear line


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port: int, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mockstatus",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_listening(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()  # the one "listening on" line, printed once the port is open
    assert "listening on http://127.0.0.1:" in line, line + proc.stderr.read()
    return line


@pytest.mark.slow
def test_serve_logs_shuts_down_gracefully_and_finishes_in_flight(tmp_path):
    port = free_port()
    proc = start(port, "--scenarios", str(tmp_path))
    try:
        wait_listening(proc)
        # The slow request goes out first on a raw socket, so it is surely sent before the marker.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET /status/200?sleep=500 HTTP/1.1\r\nHost: x\r\n\r\n")
            httpx.get(f"http://127.0.0.1:{port}/status/204")
            deadline = time.monotonic() + 5
            line = ""
            while time.monotonic() < deadline and "status/204" not in line:
                line = proc.stdout.readline()
            assert 'GET /status/204 HTTP/1.1" 204' in line  # common log format
            proc.send_signal(signal.SIGTERM)
            answer = slow.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200 OK")  # the in-flight request finished
        assert proc.wait(10) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        proc.kill()


@pytest.mark.slow
def test_port_in_use_is_one_clear_line(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        proc = start(port, "--scenarios", str(tmp_path), "--quiet")
        assert proc.wait(15) == 1
        err = proc.stderr.read()
        assert (
            err.strip()
            == f"mockstatus: error: cannot listen on 127.0.0.1:{port}: the port is already in use"
        )


@pytest.mark.slow
def test_env_configures_serve_and_flags_win(tmp_path):
    port = free_port()
    proc = start(
        0, "--port", str(port), env={"MOCKSTATUS_PORT": "1", "MOCKSTATUS_SCENARIOS": str(tmp_path)}
    )
    try:
        line = wait_listening(proc)
        assert f":{port} " in line and str(tmp_path) in line
        assert httpx.get(f"http://127.0.0.1:{port}/__mockstatus/health").json() == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0


@pytest.mark.slow
def test_bundled_scenarios_are_served_by_default():
    port = free_port()
    proc = start(port, "--quiet")
    try:
        wait_listening(proc)
        first = httpx.get(f"http://127.0.0.1:{port}/flaky/orders")
        assert first.status_code == 503 and first.headers["Retry-After"] == "1"
    finally:
        proc.terminate()
        proc.wait(10)


def test_bundled_scenarios_folder_is_the_top_level_one():
    from mockstatus.app import bundled_scenarios

    top = Path(__file__).resolve().parent.parent / "scenarios"
    assert bundled_scenarios().resolve() == top.resolve()
    assert sorted(p.name for p in bundled_scenarios().glob("*.yaml"))


@pytest.mark.slow
def test_tls_serves_https_with_the_written_ca(tmp_path):
    port = free_port()
    ca = tmp_path / "ca.pem"
    proc = start(port, "--scenarios", str(tmp_path), "--tls", "--tls-ca", str(ca), "--quiet")
    try:
        line = proc.stdout.readline()
        assert f"listening on https://127.0.0.1:{port}" in line, line + proc.stderr.read()
        trusted = ssl.create_default_context(cafile=str(ca))
        r = httpx.get(f"https://127.0.0.1:{port}/status/503", verify=trusted)
        assert r.status_code == 503 and r.headers["Retry-After"] == "120"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"https://127.0.0.1:{port}/status/200")  # not trusted without the CA
    finally:
        proc.terminate()
        proc.wait(10)
