"""The rate limit is exact under parallel load: 200 requests at once against a limit of 50 →
exactly 50 pass, whatever the algorithm, and each key or session counts on its own."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import pytest

LIMITED = """
routes:
  - name: api
    match: {path: /limited}
    rate_limit: {limit: 50, window: 1m, algorithm: %s, key: %s}
    respond: {status: 200, body: ok}
"""
PARALLEL = 200


async def burst(url: str, n: int, headers_of=lambda i: {}) -> list[tuple[int, dict[str, str]]]:
    """`n` requests in flight at once (one connection each), bounded in time."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        gate = asyncio.Event()

        async def one(i: int) -> tuple[int, dict[str, str]]:
            await gate.wait()
            async with client.get(url, headers=headers_of(i)) as resp:
                await resp.read()
                return resp.status, dict(resp.headers)

        tasks = [asyncio.create_task(one(i)) for i in range(n)]
        await asyncio.sleep(0)
        gate.set()  # release them together
        return await asyncio.wait_for(asyncio.gather(*tasks), 25)


@pytest.mark.parametrize("algorithm", ["fixed-window", "sliding-window", "token-bucket"])
async def test_exactly_the_limit_passes(make_server, algorithm):
    server = make_server({"limited.yaml": LIMITED % (algorithm, "client")})
    results = await burst(server.url("/limited"), PARALLEL)
    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 50, 429: 150}
    remaining = sorted(int(h["X-RateLimit-Remaining"]) for s, h in results if s == 200)
    assert remaining == list(range(50))  # each allowed request saw its own count
    for status, h in results:
        if status == 429:
            assert int(h["Retry-After"]) >= 1 and h["X-RateLimit-Remaining"] == "0"
            assert h["RateLimit-Policy"] == '"default";q=50;w=60'


async def test_keys_count_separately_under_load(make_server):
    server = make_server({"limited.yaml": LIMITED % ("fixed-window", "header:X-Api-Key")})
    results = await burst(server.url("/limited"), PARALLEL, lambda i: {"X-Api-Key": f"key-{i % 2}"})
    assert Counter(status for status, _ in results) == {200: 100, 429: 100}


async def test_sessions_count_separately_under_load(make_server):
    server = make_server({"limited.yaml": LIMITED % ("token-bucket", "global")})
    results = await burst(
        server.url("/limited"), PARALLEL, lambda i: {"X-Mockstatus-Session": f"s{i % 4}"}
    )
    assert Counter(status for status, _ in results) == {200: 200}  # 4 sessions x 50
    results = await burst(
        server.url("/limited"), 40, lambda i: {"X-Mockstatus-Session": f"s{i % 4}"}
    )
    assert Counter(status for status, _ in results) == {429: 40}
