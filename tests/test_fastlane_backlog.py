"""`mockstatus serve` listens with a backlog of LISTEN_BACKLOG (issue 19): with aiohttp's default
of 128, 1,000 clients connecting at once overflowed the accept queue (the kernel's
ListenOverflows counter rose by thousands in one bench/sleep.py run) and the dropped handshakes
came back after TCP's retransmission timeouts, 1-3 s, which was the 1,000-connection p99."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mockstatus.limits import LISTEN_BACKLOG
from tests.test_shutdown import Server

SOMAXCONN = Path("/proc/sys/net/core/somaxconn")


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to read the backlog")
@pytest.mark.skipif(not SOMAXCONN.exists(), reason="needs Linux's /proc/sys/net/core/somaxconn")
def test_serve_listens_with_the_large_backlog() -> None:
    server = Server()
    try:
        out = subprocess.run(
            ["ss", "-ltnH", f"sport = :{server.port}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    finally:
        server.kill()
    # A listening socket's Send-Q column is its backlog (as capped by the kernel).
    backlogs = {int(line.split()[2]) for line in out.splitlines() if line.startswith("LISTEN")}
    expected = min(LISTEN_BACKLOG, int(SOMAXCONN.read_text()))
    assert backlogs == {expected}


def test_the_backlog_holds_the_benchs_thousand_connections() -> None:
    assert LISTEN_BACKLOG >= 1000  # bench/sleep.py opens 1,000 at once
