"""The shared journal on Redis is read when asked, not copied by every replica (issue: scale
out): a replica reads nothing while nobody asks, a wait on one replica sees requests another
served, and `DELETE /requests` on one replica clears every replica's view (and the stream, so a
replica started later does not read it back). Two real `mockstatus serve` processes on one
`redis-server`; every wait is bounded and polls."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mockstatus.journal import redacted
from tests import redis_server
from tests.test_state_redis_replicas import Replica, poll

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::ResourceWarning")]

SCENARIOS = """
routes:
  - name: plain
    match: {path: /plain}
    respond: {status: 200, body: plain}
"""
ADMIN = "/__mockstatus"


@pytest.fixture
def replicas(redis: redis_server.RedisServer, tmp_path: Path) -> Iterator[list[Replica]]:
    redis.flush()
    (tmp_path / "s.yaml").write_text(SCENARIOS)
    started = [Replica(tmp_path, redis.url), Replica(tmp_path, redis.url)]
    yield started
    for replica in started:
        err = replica.stop()
        assert "Traceback" not in err, err


async def call(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        async with client.request(method, url, **kwargs) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()


async def hit(base: str, path: str, times: int, session: str | None = None) -> None:
    headers = {"X-Mockstatus-Session": session} if session else {}
    for _ in range(times):
        status, _ = await call("GET", base + path, headers=headers)
        assert status == 200


async def journal(base: str, query: str = "") -> list[dict[str, Any]]:
    status, doc = await call("GET", f"{base}{ADMIN}/requests{query}")
    assert status == 200
    return list(doc["requests"])


async def settled(base: str, want: int, query: str = "") -> list[dict[str, Any]]:
    """The journal of `base` once it lists `want` entries (bounded)."""

    async def check() -> list[dict[str, Any]] | None:
        found = await journal(base, query)
        return found if len(found) == want else None

    found = await poll(check)
    assert found is not None, await journal(base, query)
    return found


def command_calls(redis: redis_server.RedisServer, command: str) -> int:
    """How many times Redis ran `command` (INFO commandstats)."""
    text = redis.command("INFO", "commandstats").decode()
    found = re.search(rf"cmdstat_{command}:calls=(\d+)", text)
    return int(found.group(1)) if found else 0


async def test_no_replica_reads_the_stream_while_nobody_asks(replicas, redis):
    a, b = replicas
    await hit(a.base, "/plain", 20)
    await hit(b.base, "/plain", 20)

    async def written() -> bool:  # every entry reached the stream (in batches)
        return command_calls(redis, "xadd") >= 40

    assert await poll(written)
    assert command_calls(redis, "xadd") == 40
    assert command_calls(redis, "xread") == 0  # and nobody copied anyone's entries
    # asking one replica reads the stream once and lists every replica's requests
    found = await journal(a.base, "?path=/plain")
    assert len(found) == 40
    assert command_calls(redis, "xread") == 1


async def test_a_wait_on_one_replica_sees_requests_another_served(replicas):
    a, b = replicas
    url = f"{a.base}{ADMIN}/requests/wait?path=/plain&count=3&timeout=20"
    waiting = asyncio.ensure_future(call("GET", url))
    await asyncio.sleep(0.2)  # the wait is pending (its outcome does not depend on this)
    assert not waiting.done()
    await hit(b.base, "/plain", 3)
    status, doc = await asyncio.wait_for(waiting, 30)
    assert status == 200
    assert (doc["count"], doc["complete"]) == (3, True)
    assert [e["path"] for e in doc["requests"]] == ["/plain"] * 3


async def test_a_shared_entry_is_redacted_once(replicas):
    a, b = replicas
    url = f"{a.base}{ADMIN}/requests/wait?path=/plain&count=1&timeout=20"
    waiting = asyncio.ensure_future(call("GET", url))
    await asyncio.sleep(0.2)
    status, _ = await call("GET", b.base + "/plain", headers={"Authorization": "Bearer s3cret"})
    assert status == 200
    status, doc = await asyncio.wait_for(waiting, 30)
    assert status == 200
    want = redacted("Bearer s3cret")
    assert doc["requests"][0]["headers"]["Authorization"] == want  # through the wait
    [entry] = await journal(a.base, "?path=/plain")
    assert entry["headers"]["Authorization"] == want  # and through GET /requests
    [own] = await journal(b.base, "?path=/plain")
    assert own["headers"]["Authorization"] == want  # as the replica that served it shows it


async def test_a_clear_on_one_replica_clears_every_replica(replicas, redis, tmp_path):
    a, b = replicas
    await hit(a.base, "/plain", 4)
    await hit(b.base, "/plain", 6)
    await settled(a.base, 10)
    await settled(b.base, 10)
    status, doc = await call("DELETE", f"{a.base}{ADMIN}/requests")
    assert (status, doc) == (200, {"cleared": "all", "removed": 10})
    assert await journal(a.base) == []
    assert await journal(b.base) == []
    # what is served after the clear is listed everywhere, from either replica
    await hit(b.base, "/plain", 2)
    await hit(a.base, "/plain", 1)
    assert len(await settled(a.base, 3)) == 3
    assert len(await settled(b.base, 3)) == 3
    # the stream itself was trimmed: a replica started later reads only the three
    late = Replica(tmp_path, redis.url)
    try:
        assert len(await settled(late.base, 3)) == 3
    finally:
        assert "Traceback" not in late.stop()


async def test_a_clear_of_one_session_clears_it_on_every_replica(replicas, redis, tmp_path):
    a, b = replicas
    await hit(a.base, "/plain", 2, session="one")
    await hit(b.base, "/plain", 3, session="one")
    await hit(a.base, "/plain", 1, session="two")
    await hit(b.base, "/plain", 2, session="two")
    await settled(a.base, 8)
    await settled(b.base, 8)
    status, doc = await call("DELETE", f"{b.base}{ADMIN}/requests?session=one")
    assert (status, doc) == (200, {"cleared": "one", "removed": 5})
    for replica in (a, b):
        assert [e["session"] for e in await journal(replica.base)] == ["two"] * 3
    # the other session's entries and the stream survive: a later replica sees session two
    late = Replica(tmp_path, redis.url)
    try:
        found = await settled(late.base, 3)
        assert [e["session"] for e in found] == ["two"] * 3
    finally:
        assert "Traceback" not in late.stop()
