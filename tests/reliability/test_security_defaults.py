"""Security defaults (issue 10, item 12), as shipped: one `mockstatus serve` process with nothing
but MOCKSTATUS_ADMIN_TOKEN set. It listens on loopback only; journal reads and mutations need the
token while health, catalog, clock and metrics stay open; credentials are redacted to a hash
prefix in the journal; a foreign Host (DNS rebinding) and a cross-site Origin are refused; no
admin answer carries CORS headers."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from tests import rawhttp

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def redacted(value: str) -> str:
    return f"<redacted:sha256:{hashlib.sha256(value.encode()).hexdigest()[:8]}>"


def non_loopback_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.slow
def test_the_shipped_defaults_guard_the_admin_api() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKSTATUS_")}
    env["MOCKSTATUS_ADMIN_TOKEN"] = TOKEN
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockstatus", "serve", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        assert f"listening on http://127.0.0.1:{port} and http://[::1]:{port} " in line
        other = non_loopback_address()
        if other is not None:  # nothing listens beyond loopback
            with pytest.raises(OSError):
                socket.create_connection((other, port), timeout=2).close()

        def call(method: str, target: str, headers: dict[str, str] | None = None):
            return rawhttp.request(port, method, target, headers)[1]

        sent = {"Authorization": "Bearer client-secret", "Cookie": "sid=42", "X-Plain": "kept"}
        assert call("GET", "/status/204", sent).status == 204

        for target in ("/requests", "/requests/wait?timeout=0", "/scenarios"):
            assert call("GET", "/__mockstatus" + target).status == 401
            wrong = {"Authorization": "Bearer nope"}
            assert call("GET", "/__mockstatus" + target, wrong).status == 401
        for method, target in (("POST", "/reset"), ("DELETE", "/requests"), ("POST", "/reload")):
            assert call(method, "/__mockstatus" + target).status == 401
        for target in ("/health", "/catalog/503", "/clock", "/metrics"):
            assert call("GET", "/__mockstatus" + target).status == 200

        journal = call("GET", "/__mockstatus/requests", AUTH)
        assert journal.status == 200
        (entry,) = [e for e in json.loads(journal.body)["requests"] if e["path"] == "/status/204"]
        assert entry["headers"]["Authorization"] == redacted("Bearer client-secret")
        assert entry["headers"]["Cookie"] == redacted("sid=42")
        assert entry["headers"]["X-Plain"] == "kept"
        assert TOKEN not in journal.body.decode() and "client-secret" not in journal.body.decode()

        rebinding = call("GET", "/__mockstatus/health", {"Host": f"evil.example:{port}"})
        assert rebinding.status == 403 and b"DNS rebinding" in rebinding.body
        cross = call("POST", "/__mockstatus/reset", {**AUTH, "Origin": "https://evil.example"})
        assert cross.status == 403
        cors = call("GET", "/__mockstatus/metrics", {"Origin": "https://evil.example"})
        assert not [n for n, _ in cors.headers if n.lower().startswith("access-control-")]
        assert call("POST", "/__mockstatus/reset", AUTH).status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            err = proc.stderr.read()
            proc.stdout.close()
            proc.stderr.close()
    assert "warning" not in err and "Traceback" not in err
