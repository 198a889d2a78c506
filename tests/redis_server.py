"""A real Redis for the state-store tests: Debian's `redis-server` on a free loopback port,
persistence off, stopped after the tests (`.ci/run` installs it; without it the tests skip)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
MISSING = "redis-server is not installed (apt-get install redis-server; .ci/run does)"


def available() -> bool:
    return Path(REDIS_SERVER).exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """`start()` / `stop()` may be called again (the store-fault tests kill and restart it on
    the same port)."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # bounded: poll until it answers PING
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def command(self, *parts: str) -> bytes:
        """One command in RESP, for set-up and inspection (no client library needed)."""
        data = f"*{len(parts)}\r\n".encode()
        for p in parts:
            raw = p.encode()
            data += b"$%d\r\n%s\r\n" % (len(raw), raw)
        with socket.create_connection(("127.0.0.1", self.port), 2) as s:
            s.sendall(data)
            s.settimeout(2)
            return s.recv(1 << 20)

    def flush(self) -> None:
        self.command("FLUSHALL")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


def serve(folder: Path) -> Iterator[RedisServer]:
    """A fixture's body: a started server in `folder`, stopped afterwards; skips the test where
    redis-server is missing."""
    if not available():
        pytest.skip(MISSING)
    server = RedisServer(folder).start()
    yield server
    server.stop()
