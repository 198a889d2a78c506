"""The state store in this process's memory, behind the `StateStore` interface.

The server's default does not use it: without `--state`, `ScenarioRuntime` keeps its sessions
itself and no call goes through an interface (no cost on the hot path). This store is the same
rules (`RateLimiter`, counters, states) behind the interface: the reference the Redis store is
tested against, and what the shared responder is tested with when no Redis is installed.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

from mockstatus.limits import MAX_COUNTERS, MAX_SESSIONS
from mockstatus.scenarios.model import RateLimitSpec
from mockstatus.scenarios.ratelimit import RateLimiter
from mockstatus.state.base import PolicyResult, StatesMoved, Step, StepResult
from mockstatus.types import RequestFacts

_ANY = RequestFacts(method="GET", path="/")  # a bucket's name is given whole: key "global"


@dataclass(slots=True)
class _Session:
    started: float
    counts: dict[str, int] = field(default_factory=dict)
    keyed: OrderedDict[str, int] = field(default_factory=OrderedDict)
    draws: dict[str, int] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    limiter: RateLimiter = field(default_factory=RateLimiter)


class MemoryStateStore:
    name = "memory"

    def __init__(self) -> None:
        self.sessions: OrderedDict[str | None, _Session] = OrderedDict()
        self.epochs: dict[str, float] = {}
        self.calls = 0  # store calls made (the Redis store counts round trips the same way)

    def _session(self, session: str | None, now: float) -> _Session:
        state = self.sessions.get(session)
        if state is None:
            if len(self.sessions) >= MAX_SESSIONS:
                self.sessions.popitem(last=False)
            state = self.sessions[session] = _Session(-math.inf if session is None else now)
        return state

    async def step(self, step: Step) -> StepResult:
        self.calls += 1
        if step.states is not None:
            current = self.sessions.get(step.session)
            states = dict(current.states) if current is not None else {}
            if states != step.states:
                raise StatesMoved(states)
        state = self._session(step.session, step.now)
        n = 0
        if step.draw is not None:
            n = state.draws.get(step.draw, 0)
            state.draws[step.draw] = n + 1
        results: list[PolicyResult] = []
        if step.policies:
            specs = [
                RateLimitSpec(p.limit, p.window, p.algorithm, key="global")  # type: ignore[arg-type]
                for p in step.policies
            ]
            single = len(specs) == 1
            evaluate = state.limiter._evaluate
            results = [
                evaluate(p.bucket, spec, _ANY, step.now, p.cost, single)
                for p, spec in zip(step.policies, specs, strict=True)
            ]
            if not single and all(r[0] for r in results):
                results = [
                    evaluate(p.bucket, spec, _ANY, step.now, p.cost, True)
                    for p, spec in zip(step.policies, specs, strict=True)
                ]
        count = 0
        if step.count is not None and all(r[0] for r in results):
            count = self._count(state, step.count, step.keyed)
        return StepResult(state.started, n, count, tuple(results))

    def _count(self, state: _Session, name: str, keyed: bool) -> int:
        table = state.keyed if keyed else state.counts
        count = table[name] = table.get(name, 0) + 1
        if keyed:
            state.keyed.move_to_end(name)
            if len(state.keyed) > MAX_COUNTERS:
                state.keyed.popitem(last=False)
        return count

    async def count(self, session: str | None, name: str, keyed: bool) -> int:
        self.calls += 1
        state = self.sessions.get(session) or self._session(session, -math.inf)
        return self._count(state, name, keyed)

    async def states(self, session: str | None) -> dict[str, str]:
        self.calls += 1
        state = self.sessions.get(session)
        return dict(state.states) if state is not None else {}

    async def set_state(self, session: str | None, field: str, value: str) -> None:
        self.calls += 1
        state = self.sessions.get(session) or self._session(session, -math.inf)
        state.states[field] = value

    async def reset(self, session: str | None, now: float) -> None:
        self.calls += 1
        if session is None:
            self.sessions.clear()
        else:
            self.sessions.pop(session, None)
        self.sessions[session] = _Session(now)

    async def epoch(self, name: str, now: float) -> float:
        self.calls += 1
        return self.epochs.setdefault(name, now)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
