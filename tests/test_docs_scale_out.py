"""The error lines docs/scale-out.md shows are the ones `mockstatus serve` prints (the docs'
examples cannot drift from the CLI): the refusal of several workers without a shared store, and
an unreachable store at start. Both exit 2 before any port is opened."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests import redis_server

DOC = (Path(__file__).parent.parent / "docs" / "scale-out.md").read_text()


def doc_line(start: str) -> str:
    return next(line.strip() for line in DOC.splitlines() if line.strip().startswith(start))


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockstatus", "serve", "--scenarios", "none", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_the_refusal_of_workers_without_a_store_is_the_documented_line() -> None:
    out = serve("--workers", "2")
    assert out.returncode == 2
    assert out.stderr.strip() == doc_line("mockstatus: error: --workers 2 needs")


def test_an_unreachable_store_at_start_is_the_documented_line() -> None:
    documented = doc_line("mockstatus: error: cannot use the state store")
    port = redis_server.free_port()  # nothing listens there
    out = serve("--state", f"redis://127.0.0.1:{port}/0")
    assert out.returncode == 2
    # The cause after the URL is the redis client's own words, which differ between its
    # releases (5.0: "did not answer within the timeout"; newer: "Error 111 ... refused").
    head = re.sub(r"\b6390\b", str(port), documented).split(": Error", 1)[0]
    line = out.stderr.strip()
    assert "\n" not in line and line.startswith(head) and line[len(head)] in ": ", (line, head)
    assert "refused" in line or "did not answer" in line
