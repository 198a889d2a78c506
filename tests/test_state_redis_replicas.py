"""Two `mockstatus serve` processes on one Redis are one server: limits, sequences, the journal
and uploads are exact across them (issue: scale out). A real `redis-server`, manual clocks (no
wall-clock assertion); every wait polls with a bound."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests import redis_server

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
  - name: plain
    match: {path: /plain}
    respond: {status: 200, body: plain}
  - name: window
    match: {path: /window}
    outage: {start: 1h, duration: 10m}
    respond: {status: 200, body: up}
  - name: login
    match: {path: /login}
    respond: {status: 200}
    state: {machine: auth, set: in}
  - name: me-in
    match: {path: /me}
    state: {machine: auth, when: in}
    respond: {status: 200, body: you}
  - name: me-out
    match: {path: /me}
    respond: {status: 401}
"""
TOTAL = 1000
UPLOAD = """
routes:
  - name: fresh
    match: {path: /fresh}
    respond: {status: 201, body: uploaded}
"""


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MOCKSTATUS_")}


class Replica:
    def __init__(self, folder: Path, state: str, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mockstatus", "serve", "--port", "0", "--host", "127.0.0.1",
             "--quiet", "--clock", "manual", "--scenarios", str(folder), "--state", state,
             "--journal-size", "5000", "--reload-interval", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )  # fmt: skip
        assert self.proc.stdout is not None and self.proc.stderr is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise AssertionError(line + self.proc.stderr.read())
        self.base = line.split("listening on ")[1].split()[0]

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.stderr is not None and self.proc.stdout is not None
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err


@pytest.fixture
def replicas(redis: redis_server.RedisServer, tmp_path: Path) -> Iterator[list[Replica]]:
    redis.flush()
    (tmp_path / "s.yaml").write_text(SCENARIOS)
    started = [Replica(tmp_path, redis.url), Replica(tmp_path, redis.url)]
    yield started
    for replica in started:
        err = replica.stop()
        assert "Traceback" not in err, err


async def burst(urls: list[str], total: int) -> list[tuple[int, dict[str, str]]]:
    """`total` requests, alternating between the replicas, as many in flight as the client
    allows (bounded in time)."""
    connector = aiohttp.TCPConnector(limit=100)  # in flight at once: short queues on busy CI
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def one(i: int) -> tuple[int, dict[str, str]]:
            async with client.get(urls[i % len(urls)]) as resp:
                await resp.read()
                return resp.status, dict(resp.headers)

        return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(total))), 90)


async def journal_count(base: str, path: str) -> int:
    async with aiohttp.ClientSession() as client:
        url = f"{base}/__mockstatus/requests?path={path}"
        async with client.get(url) as resp:
            return int((await resp.json())["count"])


async def poll(check, seconds: float = 10.0):  # type: ignore[no-untyped-def]
    """Until `check()` is truthy (returns it), at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.02)


async def test_a_limit_of_100_lets_exactly_100_through_across_two_processes(replicas):
    results = await burst([f"{r.base}/limited" for r in replicas], TOTAL)
    assert Counter(s for s, _ in results) == {200: 100, 429: 900}
    remaining = sorted(int(h["X-RateLimit-Remaining"]) for s, h in results if s == 200)
    assert remaining == list(range(100))  # each pass saw its own place in the shared bucket
    # both replicas answered some of the passes (the bucket really is shared)
    for r in replicas:
        assert await journal_count(r.base, "/limited") >= 0
    # the journal of either replica lists all 1,000
    for r in replicas:
        got = await poll(lambda r=r: _has(r.base, "/limited", TOTAL))
        assert got == TOTAL


async def _has(base: str, path: str, want: int) -> int:
    n = await journal_count(base, path)
    return n if n == want else 0


async def test_a_sequence_gives_exactly_five_503s_across_two_processes(replicas):
    results = await burst([f"{r.base}/flaky" for r in replicas], TOTAL)
    assert Counter(s for s, _ in results) == {503: 5, 200: TOTAL - 5}
    for r in replicas:
        assert await poll(lambda r=r: _has(r.base, "/flaky", TOTAL)) == TOTAL


async def test_an_upload_to_one_replica_answers_on_both(replicas):
    a, b = replicas
    async with aiohttp.ClientSession() as client:
        async with client.put(f"{a.base}/__mockstatus/scenarios/fresh", data=UPLOAD) as resp:
            assert resp.status == 201, await resp.text()

        async def answered_on_b() -> bool:
            async with client.get(f"{b.base}/fresh") as resp:
                return resp.status == 201 and await resp.text() == "uploaded"

        assert await poll(answered_on_b)
        async with client.delete(f"{a.base}/__mockstatus/scenarios/fresh") as resp:
            assert resp.status == 200

        async def gone_on_b() -> bool:
            async with client.get(f"{b.base}/fresh") as resp:
                return resp.status == 404

        assert await poll(gone_on_b)


async def test_a_reset_on_one_replica_resets_the_shared_state(replicas):
    a, b = replicas
    async with aiohttp.ClientSession() as client:
        for _ in range(5):
            async with client.get(f"{a.base}/flaky") as resp:
                assert resp.status == 503
        async with client.get(f"{b.base}/flaky") as resp:
            assert resp.status == 200
        async with client.post(f"{b.base}/__mockstatus/reset") as resp:
            assert resp.status == 200
        async with client.get(f"{a.base}/flaky") as resp:
            assert resp.status == 503  # the sequence starts over on every replica


async def test_a_state_machine_moves_on_every_replica(replicas):
    a, b = replicas
    state_url = "/__mockstatus/scenarios/s/state/auth"
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{b.base}/me") as resp:
            assert resp.status == 401
        async with client.get(f"{a.base}/login") as resp:
            assert resp.status == 200
        async with client.get(f"{b.base}/me") as resp:
            assert resp.status == 200  # the transition on A is B's state
        async with client.get(f"{b.base}{state_url}") as resp:
            assert await resp.json() == {"": "in"}
        async with client.put(f"{b.base}{state_url}", json={"state": "initial"}) as resp:
            assert resp.status == 200 and await resp.json() == {"": "initial"}
        async with client.get(f"{a.base}/me") as resp:
            assert resp.status == 401  # set through B's admin API: A sees it


async def test_one_scenario_clock_for_replicas_started_at_different_times(
    replicas, redis, tmp_path
):
    a, _ = replicas
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{a.base}/__mockstatus/clock/advance?seconds=1800") as resp:
            assert resp.status == 200
        async with client.put(f"{a.base}/__mockstatus/scenarios/fresh", data=UPLOAD) as resp:
            assert resp.status == 201
        late = Replica(tmp_path, redis.url)  # starts 30 minutes into the scenario's clock
        replicas.append(late)
        async with client.get(f"{late.base}/fresh") as resp:
            assert resp.status == 201  # an earlier upload is loaded before it listens
        async with client.post(f"{a.base}/__mockstatus/clock/advance?seconds=1800") as resp:
            assert resp.status == 200

        async def down_on(replica: Replica) -> bool:
            async with client.get(f"{replica.base}/window") as resp:
                return resp.status == 503  # 1 h after the first load: the window is open

        assert await poll(lambda: down_on(late))  # the late replica's clock moved too
        assert await down_on(a)
        async with client.get(f"{late.base}/window") as resp:
            assert resp.headers["Retry-After"] == "600"  # the same window on both


async def test_the_manual_clock_is_shared(replicas):
    a, b = replicas
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{b.base}/__mockstatus/clock") as resp:
            before = (await resp.json())["monotonic"]
        async with client.post(f"{a.base}/__mockstatus/clock/advance?seconds=90") as resp:
            assert resp.status == 200

        async def moved_on_b() -> bool:
            async with client.get(f"{b.base}/__mockstatus/clock") as resp:
                return (await resp.json())["monotonic"] == before + 90

        assert await poll(moved_on_b)


async def test_metrics_of_every_replica_labelled_by_replica(replicas):
    a, b = replicas
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{b.base}/plain") as resp:
            assert resp.status == 200
        label = f'replica="{socket.gethostname()}:{b.proc.pid}"'
        want = f'mockstatus_requests_total{{{label},scenario="s",route="plain",status="200",fault=""}} 1'

        async def on_a() -> bool:
            async with client.get(f"{a.base}/__mockstatus/metrics") as resp:
                return want in (await resp.text()).splitlines()

        assert await poll(on_a, 15)  # shared every STATE_METRICS_INTERVAL


def test_an_unreachable_store_at_start_is_one_line_and_exit_2(tmp_path):
    port = redis_server.free_port()  # nothing listens there
    proc = subprocess.run(
        [sys.executable, "-m", "mockstatus", "serve", "--port", "0", "--host", "127.0.0.1",
         "--state", f"redis://127.0.0.1:{port}/0", "--scenarios", "none"],
        capture_output=True, text=True, env=clean_env(), timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stdout == ""  # never "listening"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(
        f"mockstatus: error: cannot use the state store: state store redis://127.0.0.1:{port}/0"
    )
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("value", ["redis:/x", "http://h:1", "", "redis://"])
def test_a_bad_state_url_is_a_usage_error(value):
    proc = subprocess.run(
        [sys.executable, "-m", "mockstatus", "serve", "--state", value],
        capture_output=True, text=True, env=clean_env(), timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "invalid state store" in proc.stderr and "Traceback" not in proc.stderr


def test_the_state_url_comes_from_the_environment_too(tmp_path):
    env = {**clean_env(), "MOCKSTATUS_STATE": "nope"}
    proc = subprocess.run(
        [sys.executable, "-m", "mockstatus", "serve"],
        capture_output=True, text=True, env=env, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("mockstatus: error: MOCKSTATUS_STATE: invalid state store")


def _json(text: str) -> dict[str, object]:
    return dict(json.loads(text))
