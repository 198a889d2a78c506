"""The scenario behaviours against the shared state store, in memory and on a real Redis:
the same requests through `SharedResponder` give the same answers as the default runtime."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mockstatus.app import Mockstatus
from mockstatus.state.memory import MemoryStateStore
from mockstatus.state.shared import SharedResponder
from mockstatus.types import Decision, ManualClock, RequestFacts


class NoBody:
    exists = False
    length = None
    limit = 1024

    async def read(self) -> bytes:
        return b""

    async def send_continue(self, interim: object, delay: float) -> bool:
        return True


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


SHAPES = """
limiters:
  api: {limit: 4, window: 1m, key: header:X-Api-Key}
  burst: {limit: 3, window: 10s, algorithm: token-bucket, key: header:X-Api-Key}
routes:
  - name: two
    match: {path: /two}
    rate_limit: api
    respond: {status: 200}
  - name: three
    match: {path: /three}
    rate_limit: [burst, api, {limit: 1000, window: 1h, name: hourly}]
    respond: {status: 200}
  - name: costly
    match: {path: /costly}
    rate_limit:
      - {name: rpm, limit: 5, window: 1m, headers: [openai]}
      - {name: tpm, limit: 10, window: 1m, unit: tokens, cost: "{{ headers.x-tokens }}"}
    respond: {status: 200}
"""


def fields(d: Decision) -> tuple[object, ...]:
    keep = ("retry-after", "ratelimit", "x-ratelimit-remaining", "x-ratelimit-remaining-requests",
            "x-ratelimit-remaining-tokens")  # fmt: skip
    return (d.plan.status, d.plan.note, *(header(d, n) for n in keep))


SHAPE_CALLS = (
    ("/two", {}, 0), ("/three", {}, 0), ("/three", {}, 0), ("/three", {}, 0),
    ("/two", {}, 0), ("/three", {}, 5), ("/two", {}, 0),
    ("/costly", {"X-Tokens": "4"}, 0), ("/costly", {"X-Tokens": "5"}, 0),
    ("/costly", {"X-Tokens": "2"}, 0), ("/costly", {"X-Tokens": "11"}, 0),
    ("/costly", {"X-Tokens": "lots"}, 0), ("/costly", {"X-Tokens": "1"}, 61),
)  # fmt: skip


async def _shape_answers(app: Mockstatus, clock: ManualClock) -> list[tuple[object, ...]]:
    seen = []
    for path, extra, step in SHAPE_CALLS:
        clock.advance(step)
        seen.append(fields(await get(app, path, {"X-Api-Key": "k1", **extra})))
    return seen


async def test_shared_layered_and_costed_limits(make_app, tmp_path):
    clock = ManualClock()
    seen = await _shape_answers(await make_app(SHAPES, clock), clock)
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "s.yaml").write_text(SHAPES)
    reference = Mockstatus(clock=(ref_clock := ManualClock()), scenarios_dir=tmp_path / "ref")
    reference.store.load_initial()
    assert seen == await _shape_answers(reference, ref_clock)  # the default runtime's answers
    statuses = [s[0] for s in seen]
    assert statuses == [200, 200, 200, 200, 429, 429, 429, 200, 200, 429, 429, 200, 200]
    assert seen[10][1] == (
        "rate limit 'tpm': cost 11 is above the limit 10: refused whatever the wait"
    )


MACHINE = """
routes:
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


async def test_state_machine(make_app):
    app = await make_app(MACHINE)
    assert (await get(app, "/me")).plan.status == 401
    assert (await get(app, "/login")).plan.status == 200
    assert (await get(app, "/me")).plan.status == 200
    other = {"X-Mockstatus-Session": "other"}
    assert (await get(app, "/me", other)).plan.status == 401  # per session


async def test_state_machine_is_shared_between_two_apps_on_one_store(kind, make_app):
    if kind == "default":
        pytest.skip("the default runtime is one process's state")
    a = await make_app(MACHINE)
    b = await make_app(MACHINE)
    if kind == "memory":
        b.shared = SharedResponder(a.shared.store)  # one store, two apps
    assert (await get(b, "/me")).plan.status == 401
    assert (await get(a, "/login")).plan.status == 200
    assert (await get(b, "/me")).plan.status == 200


TEMPLATED = """
routes:
  - name: counted
    match: {path: /counted}
    respond: {status: 200, body: "call {{ count }}"}
  - name: plain
    match: {path: /plain}
    respond: {status: 200, body: plain}
"""


async def test_a_call_count_template(make_app):
    app = await make_app(TEMPLATED)
    bodies = [(await get(app, "/counted")).plan.body for _ in range(3)]
    assert bodies == [b"call 1", b"call 2", b"call 3"]


async def test_stateless_routes_and_builtins_never_touch_the_store(make_app, kind):
    if kind == "default":
        pytest.skip("no store")
    app = await make_app(TEMPLATED)
    store = app.shared.store
    before = store.calls
    for path in ("/plain", "/status/503", "/status/200", "/nothing-here"):
        await get(app, path)
    assert store.calls == before
    await get(app, "/counted")
    assert store.calls == before + 1  # one call for a stateful route


class DownStore(MemoryStateStore):
    """A store that has lost its backend until `up` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.up = False

    async def step(self, step):  # type: ignore[no-untyped-def]
        if not self.up:
            from mockstatus.state import StoreUnavailable

            raise StoreUnavailable("state store test://down: Connection refused")
        return await super().step(step)


async def _policy_app(
    tmp_path: Path, policy: str, store: DownStore, now: list[float]
) -> Mockstatus:
    (tmp_path / "s.yaml").write_text(LIMIT % "fixed-window" + TEMPLATED.split("routes:")[1])
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=tmp_path)
    app.store.load_initial()
    logged: list[str] = []
    app.shared = SharedResponder(store, policy, log=logged.append, monotonic=lambda: now[0])  # type: ignore[arg-type]
    app.logged = logged  # type: ignore[attr-defined]
    return app


async def test_fail_closed_answers_503_naming_the_cause(tmp_path):
    now = [0.0]
    store = DownStore()
    app = await _policy_app(tmp_path, "fail-closed", store, now)
    d = await get(app, "/api")
    assert d.plan.status == 503
    assert header(d, "X-Mockstatus-State") == "unavailable" and header(d, "Retry-After") == "1"
    assert b"state store test://down: Connection refused" in d.plan.body
    assert (d.scenario, d.route) == ("s", "api")
    assert (await get(app, "/plain")).plan.status == 200  # stateless: unaffected
    assert header(await get(app, "/plain"), "X-Mockstatus-State") is None
    assert app.logged == [  # type: ignore[attr-defined]
        "mockstatus: state store test://down: Connection refused; stateful routes answer with "
        "503 until it is back"
    ]
    store.up = True
    assert (await get(app, "/api")).plan.status == 503  # not asked again before the interval
    now[0] += 0.5
    d = await get(app, "/api")
    assert (d.plan.status, header(d, "X-Mockstatus-State")) == (200, None)  # back by itself
    assert app.logged[-1] == "mockstatus: memory is back: shared state again"  # type: ignore[attr-defined]


async def test_fail_open_answers_from_local_state_with_a_warning_header(tmp_path):
    now = [0.0]
    store = DownStore()
    app = await _policy_app(tmp_path, "fail-open", store, now)
    got = [await get(app, "/api") for _ in range(4)]
    assert [d.plan.status for d in got] == [200, 200, 200, 429]  # this process's own limiter
    assert {header(d, "X-Mockstatus-State") for d in got} == {"degraded"}
    assert header(await get(app, "/plain"), "X-Mockstatus-State") is None
    assert len(app.logged) == 1 and "this process's own state" in app.logged[0]  # type: ignore[attr-defined]


KEYED = """
routes:
  - name: keyed
    match: {path: /keyed}
    rate_limit: {limit: 1, window: 1m, key: header:X-Key}
    respond: {status: 200}
"""


async def test_a_key_holding_separators_is_its_own_bucket(make_app):
    app = await make_app(KEYED)
    keys = ["a\x1fb", "a\x1e1b", "a\x1eb", "a", "b"]
    first = [(await get(app, "/keyed", {"X-Key": k})).plan.status for k in keys]
    again = [(await get(app, "/keyed", {"X-Key": k})).plan.status for k in keys]
    assert first == [200] * 5 and again == [429] * 5
