"""Faults of the state store: Redis killed under load and restarted. Each policy answers as
documented (fail-closed: 503 naming the cause; fail-open: this process's own state with
`X-Mockstatus-State: degraded`), stateless routes never notice, every request is answered
(bounded client timeouts: nothing hangs), no traceback, and both recover by themselves."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests import redis_server
from tests.test_state_redis_replicas import SCENARIOS, Replica

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::ResourceWarning")]
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=15)  # far above STATE_TIMEOUT: a hang fails


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[redis_server.RedisServer]:
    """One server per test: these tests kill and restart it."""
    yield from redis_server.serve(tmp_path)


@pytest.fixture
def pair(redis: redis_server.RedisServer, tmp_path: Path) -> Iterator[dict[str, Replica]]:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "s.yaml").write_text(SCENARIOS)
    started = {
        policy: Replica(folder, redis.url, "--state-failure", policy)
        for policy in ("fail-closed", "fail-open")
    }
    yield started
    for replica in started.values():
        replica.stop()


async def answer(client: aiohttp.ClientSession, url: str) -> tuple[int, str | None, str]:
    async with client.get(url) as resp:
        return resp.status, resp.headers.get("X-Mockstatus-State"), await resp.text()


async def test_redis_lost_and_back_under_load(redis, pair):
    closed, open_ = pair["fail-closed"], pair["fail-open"]
    async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as client:
        # Up: the shared limit counts both replicas' requests; no state header.
        for replica in (closed, open_):
            for _ in range(10):
                assert (await answer(client, f"{replica.base}/limited"))[:2] == (200, None)

        # Under load (8 clients looping on both replicas), Redis is killed, then restarted.
        seen: Counter[tuple[str, int, str | None]] = Counter()
        stop = asyncio.Event()

        async def load(i: int) -> None:
            replica, policy = (closed, "closed") if i % 2 else (open_, "open")
            for _ in range(400):  # bounded
                if stop.is_set():
                    return
                status, state, _ = await answer(client, f"{replica.base}/limited")
                seen[(policy, status, state)] += 1

        workers = [asyncio.create_task(load(i)) for i in range(8)]
        await asyncio.sleep(0.2)
        redis.stop()
        during: dict[str, tuple[int, str | None, str]] = {}
        for policy, replica in (("closed", closed), ("open", open_)):
            during[policy] = await answer(client, f"{replica.base}/limited")
            # stateless routes are unaffected: a static route and the built-in /status/503
            assert await answer(client, f"{replica.base}/plain") == (200, None, "plain")
            assert (await answer(client, f"{replica.base}/status/503"))[:2] == (503, None)
        await asyncio.sleep(0.3)
        redis.start()  # the same port, empty (no persistence)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*workers), 60)

        status, state, body = during["closed"]
        assert (status, state) == (503, "unavailable")
        assert f"state store redis://127.0.0.1:{redis.port}/0" in body  # names the cause
        assert during["open"][:2] == (200, "degraded")

        # What each policy answered, whole: nothing else (no 500, no dropped request).
        assert {key[1:] for key in seen if key[0] == "closed"} <= {
            (200, None), (429, None), (503, "unavailable"),
        }  # fmt: skip
        assert {key[1:] for key in seen if key[0] == "open"} <= {
            (200, None), (429, None), (200, "degraded"), (429, "degraded"),
        }  # fmt: skip

        # Back by itself: both answer from the shared store again, with a fresh bucket.
        async def recovered(replica: Replica) -> bool:
            status, state, _ = await answer(client, f"{replica.base}/limited")
            return state is None and status in (200, 429)

        for replica in (closed, open_):
            deadline = time.monotonic() + 20
            while not await recovered(replica):
                assert time.monotonic() < deadline, "did not recover"
                await asyncio.sleep(0.05)
        async with client.post(f"{closed.base}/__mockstatus/reset") as resp:
            assert resp.status == 200
        assert await answer(client, f"{open_.base}/limited") == (200, None, "ok")
        async with client.get(f"{open_.base}/limited") as resp:
            assert resp.headers["X-RateLimit-Remaining"] == "98"  # shared again: 100 - 2

    for replica in (closed, open_):
        err = replica.stop()
        assert "Traceback" not in err, err
        assert "stateful routes answer with" in err and "is back: shared state again" in err
    pair.clear()
    print(dict(seen))  # what each policy answered (the report's figures)
