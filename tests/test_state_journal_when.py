"""A route matched on machine states (`state: when:`) costs one store call, not a read of the
states and then the step (issue: scale out, "one round trip"): the replica matches with the
states it last saw and the step confirms them atomically. Runs on the in-memory store and a
real Redis (the Lua script's check), two replicas sharing one store where it matters."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from mockstatus.app import Mockstatus
from mockstatus.state.memory import MemoryStateStore
from mockstatus.state.shared import SharedResponder
from mockstatus.types import ManualClock
from tests.test_state_store import get

MACHINE = """
routes:
  - name: login
    match: {path: /login}
    respond: {status: 200}
    state: {machine: auth, set: in}
  - name: logout
    match: {path: /logout}
    respond: {status: 200}
    state: {machine: auth, set: out}
  - name: me-in
    match: {path: /me}
    state: {machine: auth, when: in}
    rate_limit: {limit: 3, window: 1h, key: global}
    respond: {status: 200, body: you}
  - name: me-out
    match: {path: /me}
    respond: {status: 401}
  - name: counted
    match: {path: /counted}
    respond: {status: 200, body: "call {{ count }}"}
"""


@pytest.fixture(params=["memory", "redis"])
async def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Two apps (replicas) on one store; the store counts its calls."""
    if request.param == "memory":
        store: Any = MemoryStateStore()
    else:
        from mockstatus.state.redis_store import RedisStateStore

        server = request.getfixturevalue("redis")
        server.flush()
        store = RedisStateStore(server.url)
    (tmp_path / "s.yaml").write_text(MACHINE)
    apps = []
    for seed in (1, 2):
        app = Mockstatus(clock=ManualClock(), rng=random.Random(seed), scenarios_dir=tmp_path)
        app.store.load_initial()
        app.shared = SharedResponder(store)
        apps.append(app)
    yield apps
    await store.close()


async def calls_of(app: Mockstatus, path: str) -> tuple[int, int]:
    """(status, store calls the request made)."""
    store: Any = app.shared.store  # type: ignore[union-attr]
    before = store.calls
    status = (await get(app, path)).plan.status
    return status, store.calls - before


async def test_a_when_route_is_one_call(replicas):
    a, _ = replicas
    assert await calls_of(a, "/me") == (401, 1)  # nothing to step: the guess is read once
    assert await calls_of(a, "/login") == (200, 2)  # the step, then the transition's write
    # matched with what this replica saw: the step confirms it in the same call
    assert await calls_of(a, "/me") == (200, 1)
    assert await calls_of(a, "/me") == (200, 1)
    # a route with no `when:` on its path never reads states
    assert await calls_of(a, "/counted") == (200, 1)
    assert a.shared.rematches == 0


async def test_a_machine_moved_by_another_replica_is_matched_again(replicas):
    a, b = replicas
    assert await calls_of(b, "/me") == (401, 1)
    assert await calls_of(a, "/login") == (200, 2)
    # b still believes "out": its guess is refused, it matches again with "in"
    assert await calls_of(b, "/me") == (200, 2)
    assert await calls_of(b, "/me") == (200, 1)
    assert await calls_of(a, "/logout") == (200, 2)
    # b believes "in": its step is refused (nothing taken), and the answer is the 401
    assert await calls_of(b, "/me") == (401, 1)
    assert b.shared.rematches == 2


async def test_a_refused_guess_takes_nothing(replicas):
    """The rate limit of `me-in` (3) is taken only by requests that really were logged in."""
    a, b = replicas
    await get(a, "/login")
    assert [(await get(a, "/me")).plan.status for _ in range(2)] == [200, 200]  # 2 taken
    await get(b, "/logout")
    # a believes "in" and matches me-in: the step is refused, nothing is taken, and a answers
    # as the session is, logged out
    assert await calls_of(a, "/me") == (401, 1)
    assert a.shared.rematches == 1
    await get(b, "/login")
    assert (await get(b, "/me")).plan.status == 200  # the third
    assert (await get(a, "/me")).plan.status == 429
    assert (await get(b, "/me")).plan.status == 429


async def test_a_session_is_guessed_on_its_own(replicas):
    a, _ = replicas
    alice = {"X-Mockstatus-Session": "alice"}
    bob = {"X-Mockstatus-Session": "bob"}
    await get(a, "/login", alice)
    assert (await get(a, "/me", alice)).plan.status == 200
    assert (await get(a, "/me", bob)).plan.status == 401
    assert a.shared.known["alice"] != a.shared.known.get("bob", {})
