"""Shared and layered limits stay exact under parallel load: 500 requests at once across three
routes drawing from one limiter of 50 → exactly 50 pass; a layered route refuses without
taking from its other policies."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import pytest

SHARED = """
limiters:
  pool: {limit: 50, window: 1m, algorithm: %s, key: global}
  hourly: {limit: 70, window: 1h, key: global}
routes:
  - {name: a, match: {path: /a}, rate_limit: pool, respond: {status: 200}}
  - {name: b, match: {path: /b}, rate_limit: [pool], respond: {status: 200}}
  - {name: c, match: {path: /c}, rate_limit: [pool, hourly], respond: {status: 200}}
  - {name: d, match: {path: /d}, rate_limit: [hourly, {limit: 30, window: 1m, key: global}],
     respond: {status: 200}}
"""
PARALLEL = 500


async def burst(urls: list[str]) -> list[int]:
    """Every url requested at once (one connection each), bounded in time."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        gate = asyncio.Event()

        async def one(url: str) -> int:
            await gate.wait()
            async with client.get(url) as resp:
                await resp.read()
                return resp.status

        tasks = [asyncio.create_task(one(url)) for url in urls]
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.wait_for(asyncio.gather(*tasks), 40)


@pytest.mark.parametrize("algorithm", ["fixed-window", "sliding-window", "token-bucket"])
async def test_three_routes_share_exactly_one_quota(make_server, algorithm):
    server = make_server({"shared.yaml": SHARED % algorithm})
    urls = [server.url("/" + "abc"[i % 3]) for i in range(PARALLEL)]
    statuses = await burst(urls)
    assert Counter(statuses) == {200: 50, 429: 450}


async def test_layered_policies_stay_exact_and_refusals_take_nothing(make_server):
    server = make_server({"shared.yaml": SHARED % "fixed-window"})
    # /d: hourly 70 and 30 per minute: exactly 30 pass, and hourly lost only those 30.
    statuses = await burst([server.url("/d")] * 200)
    assert Counter(statuses) == {200: 30, 429: 170}
    # /c draws from pool (50) and hourly (70 - 30 = 40 left): hourly decides, exactly 40.
    statuses = await burst([server.url("/c")] * 200)
    assert Counter(statuses) == {200: 40, 429: 160}
    # pool gave 40 to /c: 10 left for /a and /b together.
    statuses = await burst([server.url("/a"), server.url("/b")] * 50)
    assert Counter(statuses) == {200: 10, 429: 90}
