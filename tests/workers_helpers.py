"""Real `mockstatus serve --workers N` processes for tests/test_workers*.py: start, find the
workers, stop (the Redis for `--state` is tests/redis_server.py, the state store's)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

WAIT = 20.0  # seconds any single wait in these tests may take before it fails (never asserted)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKSTATUS_")}
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    proc: subprocess.Popen[str]
    line: str  # the listening line
    err_path: Path

    @property
    def port(self) -> int:
        return int(self.line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def err(self) -> str:
        return self.err_path.read_text()

    def children(self) -> set[int]:
        return children_of(self.proc.pid)

    def get(self, path: str) -> tuple[int, bytes]:
        """(status, body) of one GET on a new connection (http.client: httpx builds an SSL
        context per client, which costs more than the request)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def worker_pids(self, want: int, tries: int = 400) -> dict[int, int]:
        """worker index -> pid, seen through /health on new connections until `want` appear."""
        seen: dict[int, int] = {}
        for _ in range(tries):
            body = json.loads(self.get("/__mockstatus/health")[1])
            seen[body["worker"]] = body["pid"]
            if len(seen) == want:
                break
        return seen

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Signal the supervisor; (exit status, rest of stdout, stderr)."""
        self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=WAIT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode, out, self.err()


def start(tmp: Path, *args: str, env: dict[str, str] | None = None) -> Served:
    err_path = tmp / f"stderr-{time.monotonic_ns()}.txt"
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mockstatus", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env or clean_env(),
        )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        proc.wait()
        raise AssertionError(line + err_path.read_text())
    return Served(proc, line, err_path)


def children_of(pid: int) -> set[int]:
    """The live child processes of `pid` (Linux /proc)."""
    found: set[int] = set()
    with contextlib.suppress(FileNotFoundError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):
                found.update(int(p) for p in (task / "children").read_text().split())
    return found


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
