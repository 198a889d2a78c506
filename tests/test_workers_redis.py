"""Two `mockstatus serve --workers 2` processes on one Redis are one server (issue: scale out):
four worker processes, 1,000 concurrent requests spread over both ports: a limit of 100 lets
exactly 100 through, a sequence `503×5 then 200` gives exactly five 503s, the journal of any
replica lists all 1,000, and an upload to one replica answers on every worker of both.
A real redis-server (tests/redis_server.py); every wait polls with a bound."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests import redis_server
from tests.workers_helpers import WAIT, Served, start

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::ResourceWarning")]

SCENARIOS = """
routes:
  - name: limited
    match: {path: /limited}
    rate_limit: {limit: 100, window: 1h, key: global}
    respond: {status: 200, body: ok}
  - name: flaky
    match: {path: /flaky}
    sequence:
      - {status: 503, times: 5}
      - {status: 200}
"""
UPLOAD = """
routes:
  - name: fresh
    match: {path: /fresh}
    respond: {status: 201, body: uploaded}
"""
TOTAL = 1000


@pytest.fixture
def replicas(redis: redis_server.RedisServer, tmp_path: Path) -> Iterator[list[Served]]:
    redis.flush()
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "s.yaml").write_text(SCENARIOS)
    args = (
        *("--host", "127.0.0.1", "--quiet", "--clock", "manual", "--scenarios", str(folder)),
        *("--state", redis.url, "--journal-size", "5000", "--reload-interval", "0"),
        *("--workers", "2"),
    )
    started = [start(tmp_path, *args), start(tmp_path, *args)]
    yield started
    for replica in started:
        code, _, err = replica.stop()
        assert code == 0, err
        assert "Traceback" not in err, err


async def burst(urls: list[str], total: int) -> list[int]:
    """`total` requests alternating between the replicas, up to 200 connections at once (so
    the kernel spreads them over every worker's socket)."""
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as client:

        async def one(i: int) -> int:
            async with client.get(urls[i % len(urls)]) as resp:
                await resp.read()
                return resp.status

        return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(total))), 90)


def journal_count(replica: Served, path: str) -> int:
    return int(json.loads(replica.get(f"/__mockstatus/requests?path={path}")[1])["count"])


def poll(check, seconds: float = WAIT):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def workers_answering(replica: Served, path: str, want: int) -> dict[int, tuple[int, bytes]]:
    """pid -> (status, body) of `path`, each asked on a keep-alive connection that first asked
    /health (so the pid is the worker that answered), new connections until `want` pids."""
    seen: dict[int, tuple[int, bytes]] = {}
    for _ in range(400):
        conn = http.client.HTTPConnection("127.0.0.1", replica.port, timeout=WAIT)
        try:
            conn.request("GET", "/__mockstatus/health")
            pid = json.loads(conn.getresponse().read())["pid"]
            conn.request("GET", path)
            response = conn.getresponse()
            seen[pid] = (response.status, response.read())
        finally:
            conn.close()
        if len(seen) == want:
            break
    return seen


def test_two_worker_processes_on_one_redis_are_exact(replicas):
    pids = [set(r.worker_pids(2).values()) for r in replicas]
    assert all(len(p) == 2 for p in pids) and not pids[0] & pids[1]  # four workers

    limited = asyncio.run(burst([f"{r.base}/limited" for r in replicas], TOTAL))
    assert Counter(limited) == {200: 100, 429: 900}
    flaky = asyncio.run(burst([f"{r.base}/flaky" for r in replicas], TOTAL))
    assert Counter(flaky) == {503: 5, 200: TOTAL - 5}

    for replica in replicas:  # the journal of any replica (any of its workers) lists all
        assert poll(lambda r=replica: journal_count(r, "/limited") == TOTAL, 3 * WAIT)
        assert poll(lambda r=replica: journal_count(r, "/flaky") == TOTAL, 3 * WAIT)

    # Every worker served part of the burst: the metrics carry one replica label per worker.
    metrics = replicas[0].get("/__mockstatus/metrics")[1].decode()
    every = pids[0] | pids[1]

    def labelled() -> set[int]:
        text = replicas[0].get("/__mockstatus/metrics")[1].decode()
        found = re.findall(r'replica="[^"]*:(\d+)"[^}]*route="limited"', text)
        return {int(pid) for pid in found} if {int(p) for p in found} >= every else set()

    # Shared every STATE_METRICS_INTERVAL; a loaded CI box gets a longer bound (never asserted).
    assert poll(labelled, 3 * WAIT) >= every, metrics


def test_an_upload_to_one_replica_answers_on_every_worker_of_both(replicas):
    conn = http.client.HTTPConnection("127.0.0.1", replicas[0].port, timeout=WAIT)
    try:
        conn.request("PUT", "/__mockstatus/scenarios/fresh", body=UPLOAD)
        response = conn.getresponse()
        assert response.status == 201, response.read()
    finally:
        conn.close()

    def everywhere() -> bool:
        return all(
            set(workers_answering(r, "/fresh", 2).values()) == {(201, b"uploaded")}
            for r in replicas
        )

    assert poll(everywhere)
    for replica in replicas:
        assert len(workers_answering(replica, "/fresh", 2)) == 2


def test_an_unreachable_store_at_start_stops_every_worker_with_exit_2(tmp_path):
    import subprocess
    import sys

    from tests.workers_helpers import clean_env

    port = redis_server.free_port()  # nothing listens there
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "mockstatus", "serve", "--port", "0", "--host", "127.0.0.1"),
            *("--scenarios", "none", "--workers", "2", "--state", f"redis://127.0.0.1:{port}/0"),
        ],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "listening on" not in proc.stdout
    assert f"127.0.0.1:{port}" in proc.stderr
    assert "before it listened: stopping" in proc.stderr
    assert "Traceback" not in proc.stderr
