"""The scenario behaviours against the shared state store, in memory and on a real Redis:
the same requests through `SharedResponder` give the same answers as the default runtime."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mockstatus.app import Mockstatus
from mockstatus.state.memory import MemoryStateStore
from mockstatus.state.shared import SharedResponder
from mockstatus.types import Decision, ManualClock, RequestFacts
from tests import redis_server


class NoBody:
    exists = False
    length = None
    limit = 1024

    async def read(self) -> bytes:
        return b""

    async def send_continue(self, interim: object, delay: float) -> bool:
        return True


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis_server.RedisServer]:
    if not redis_server.available():
        pytest.skip(redis_server.MISSING)
    server = redis_server.RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(params=["default", "memory", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_app(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator:
    stores = []

    async def make(yaml: str, clock: ManualClock | None = None, seed: int = 1) -> Mockstatus:
        folder = tmp_path / f"s{len(stores)}"
        folder.mkdir()
        (folder / "s.yaml").write_text(yaml)
        app = Mockstatus(
            clock=clock or ManualClock(), rng=random.Random(seed), scenarios_dir=folder
        )
        app.store.load_initial()
        if kind == "memory":
            app.shared = SharedResponder(MemoryStateStore())
        elif kind == "redis":
            from mockstatus.state.redis_store import RedisStateStore

            server = request.getfixturevalue("redis")
            if not stores:
                server.flush()
            store = RedisStateStore(server.url)
            app.shared = SharedResponder(store)
        stores.append(app)
        return app

    yield make
    for app in stores:
        if app.shared is not None:
            await app.shared.store.close()


async def get(app: Mockstatus, path: str, headers: dict[str, str] | None = None) -> Decision:
    facts = RequestFacts(
        method="GET", path=path, headers={k.lower(): v for k, v in (headers or {}).items()},
        remote="10.0.0.1",
    )  # fmt: skip
    return await app.decide(facts, NoBody())  # type: ignore[arg-type]


def header(d: Decision, name: str) -> str | None:
    return next((v for n, v in d.plan.headers if n.lower() == name.lower()), None)


SEQUENCE = """
routes:
  - name: flaky
    match: {path: /flaky}
    sequence:
      - {status: 503, times: 2}
      - {status: 200}
"""


async def test_sequence(make_app):
    app = await make_app(SEQUENCE)
    got = [(await get(app, "/flaky")).plan.status for _ in range(4)]
    assert got == [503, 503, 200, 200]


async def test_sequence_per_session(make_app):
    app = await make_app(SEQUENCE)
    a = [(await get(app, "/flaky", {"X-Mockstatus-Session": "a"})).plan.status for _ in range(3)]
    b = [(await get(app, "/flaky", {"X-Mockstatus-Session": "b"})).plan.status for _ in range(3)]
    assert a == b == [503, 503, 200]


LIMIT = """
routes:
  - name: api
    match: {path: /api}
    rate_limit: {limit: 3, window: 10s, algorithm: %s}
    respond: {status: 200, body: ok}
"""


@pytest.mark.parametrize("algorithm", ["fixed-window", "sliding-window", "token-bucket"])
async def test_rate_limit_answers_match(make_app, algorithm):
    clock = ManualClock()
    app = await make_app(LIMIT % algorithm, clock)
    seen = []
    for step in STEPS:
        clock.advance(step)
        d = await get(app, "/api")
        seen.append(
            (d.plan.status, header(d, "X-RateLimit-Remaining"), header(d, "Retry-After"),
             header(d, "X-RateLimit-Reset"))
        )  # fmt: skip
    # the same table for every store (computed with the default runtime's rules)
    expected = EXPECTED[algorithm]
    assert seen == expected


STEPS = (0, 2, 3, 1, 2, 0, 6.5, 1, 0, 0.5, 3, 20)
EXPECTED = {  # from the default runtime (ratelimit.py): (status, remaining, Retry-After, reset)
    "fixed-window": [
        (200, "2", None, "10"), (200, "1", None, "8"), (200, "0", None, "5"), (429, "0", "4", "4"),
        (429, "0", "2", "2"), (429, "0", "2", "2"), (200, "2", None, "6"), (200, "1", None, "5"),
        (200, "0", None, "5"), (429, "0", "4", "4"), (429, "0", "1", "1"), (200, "2", None, "10"),
    ],
    "sliding-window": [
        (200, "2", None, "10"), (200, "1", None, "8"), (200, "0", None, "5"), (429, "0", "4", "4"),
        (429, "0", "2", "2"), (429, "0", "2", "2"), (200, "1", None, "1"), (200, "1", None, "9"),
        (200, "0", None, "9"), (429, "0", "9", "9"), (429, "0", "6", "6"), (200, "2", None, "10"),
    ],
    "token-bucket": [
        (200, "2", None, "4"), (200, "1", None, "5"), (200, "1", None, "5"), (200, "0", None, "8"),
        (200, "0", None, "9"), (429, "0", "2", "2"), (200, "1", None, "6"), (200, "0", None, "8"),
        (429, "0", "2", "2"), (429, "0", "1", "1"), (200, "0", None, "8"), (200, "2", None, "4"),
    ],
}  # fmt: skip
