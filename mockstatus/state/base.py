"""The state store interface: what a scenario call reads and writes, in as few calls as possible.

One `step` per stateful request does what must be atomic together: every rate-limit policy of
the route (all take, or none does), the route's draw number `n`, the session's clock origin
and, when nothing can override the route's own answer, its call counter. A route whose answer
may be replaced by an outage or chaos takes its count in a second call (`count`), once that is
known; a state transition is a `set_state` after the answer. Stateless routes never call it.
A route matched on machine states (`state: when:`) sends the states it was matched with
(`Step.states`): the step is taken only if they are still the session's, else `StatesMoved`
gives the session's states and nothing is taken, so matching and deciding stay one call.

Names are opaque strings made by `mockstatus.state.shared`; a session is `None` (the default
session) or the `X-Mockstatus-Session` id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

# (allowed, remaining, reset, retry): one rate-limit policy's answer, as `RateLimiter` gives it.
PolicyResult = tuple[bool, int, int, int]


class StoreUnavailable(Exception):
    """The store did not answer (down, unreachable, timed out): the failure policy applies.
    `cause` is the one-line reason a fail-closed 503 names."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class StatesMoved(Exception):
    """A step's `states` were not the session's any more (another request moved a machine):
    nothing was taken; `states` are the session's, to match again with."""

    def __init__(self, states: dict[str, str]) -> None:
        super().__init__("the session's machine states moved")
        self.states = states


@dataclass(frozen=True, slots=True)
class PolicyCall:
    """One rate-limit policy of a step: its bucket (owner and client key) and its rule."""

    bucket: str
    algorithm: str  # "fixed-window" | "sliding-window" | "token-bucket"
    limit: int
    window: float
    cost: int


@dataclass(frozen=True, slots=True)
class Step:
    session: str | None
    now: float  # the shared clock (mockstatus.state.clock)
    policies: tuple[PolicyCall, ...] = ()
    draw: str | None = None  # a route that draws: its counter's name (n is taken from it)
    count: str | None = None  # counted now (only when every policy allows)
    keyed: bool = False  # `count` is a per-client counter (bounded, MAX_COUNTERS)
    # the session's machine states the route was matched with: taken only if they still are
    states: Mapping[str, str] | None = None


class StepResult(NamedTuple):
    started: float  # the session's clock origin (-inf: the default session, never reset)
    n: int  # the draw number of this call (0 when `draw` was None)
    calls: int  # the call number after this call (0: not counted)
    policies: tuple[PolicyResult, ...]


class StateStore(Protocol):
    """In memory (`memory.MemoryStateStore`) or Redis (`redis_store.RedisStateStore`). Every
    method raises `StoreUnavailable` (only) when the store cannot answer."""

    name: str  # for logs and 503s: "memory", "redis://host:port/db"

    async def step(self, step: Step) -> StepResult: ...

    async def count(self, session: str | None, name: str, keyed: bool) -> int:
        """Increment a call counter; the new value."""
        ...

    async def states(self, session: str | None) -> dict[str, str]:
        """Every state machine of a session that moved: `machine_field(...)` -> state."""
        ...

    async def set_state(self, session: str | None, field: str, value: str) -> None: ...

    async def reset(self, session: str | None, now: float) -> None:
        """Forget one session's state (or every session's); its clock restarts at `now`."""
        ...

    async def epoch(self, name: str, now: float) -> float:
        """The first `now` any replica gave for `name` (a scenario's content): its clock origin."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def machine_field(scenario: str, machine: str, key: str | None) -> str:
    """A state machine's field: NUL never appears in names (the loader refuses it)."""
    return f"{scenario}\x00{machine}" if key is None else f"{scenario}\x00{machine}\x00{key}"


def split_machine_field(field: str) -> tuple[str, str, str | None]:
    scenario, _, rest = field.partition("\x00")
    machine, sep, key = rest.partition("\x00")
    return scenario, machine, key if sep else None
