"""Answering scenario routes with their state in a shared store (`--state redis://...`).

`SharedResponder.respond` replaces `ScenarioRuntime.respond` on the request path only when a
store is configured. It finds the route with the local matcher, sends the route's stateful work
to the store in one `step` call (rate limits, draw number, session clock, call count), fills a
throwaway `SessionState` with the answers and lets the runtime build the answer from it as it
always does; so every behaviour keeps one implementation. A state transition is written back
after the answer.

Routes matched on machine states (`state: when:`) need the session's states before matching.
Rather than a call of its own, the replica matches with the states it last saw for the session
(`known`: initial states for a session it never saw) and sends them with the step, which the
store takes only if they are still the session's; if another request moved a machine, the
store answers with the session's states (`StatesMoved`), nothing taken, and the request is
matched again. So a request is one call, two when a machine moved elsewhere since this replica
last saw the session. (A match that needs no step, no route or a stateless one, is confirmed
by reading the states.) A route with nothing shared (no rate limit, sequence, state, outage, random
draw or per-call template) is answered by the runtime alone and never touches the store.

When the store cannot answer (`StoreUnavailable`) the failure policy decides:
- fail-closed: a 503 naming the cause, with `X-Mockstatus-State: unavailable`;
- fail-open: the answer from this process's own state, with `X-Mockstatus-State: degraded`.
A lost store is not asked again for STATE_RETRY_INTERVAL (so requests do not queue on a dead
connection); the next request after that tries it, and a success ends the outage (logged once
each way).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

from mockstatus import semantics
from mockstatus.errors import RequestError
from mockstatus.http_syntax import SESSION_HEADER
from mockstatus.limits import MAX_SESSIONS, STATE_RETRY_INTERVAL
from mockstatus.scenarios import chaos, draws, outage, ratelimit_respond, sequence
from mockstatus.scenarios.model import INITIAL_STATE, RateLimitSpec, Route
from mockstatus.scenarios.perkey import per_value
from mockstatus.scenarios.ratelimit import Decision, Verdict, client_key, rate_headers, verdict_of
from mockstatus.scenarios.runtime import ScenarioRuntime, SessionState, route_key
from mockstatus.scenarios.templates import TemplateContext
from mockstatus.state.base import (
    PolicyCall,
    PolicyResult,
    StatesMoved,
    StateStore,
    Step,
    StoreUnavailable,
    machine_field,
    split_machine_field,
)
from mockstatus.types import RequestFacts, ResponsePlan

FailurePolicy = Literal["fail-closed", "fail-open"]
FAILURE_POLICIES: tuple[FailurePolicy, ...] = ("fail-closed", "fail-open")
STATE_HEADER = "X-Mockstatus-State"

Matched = tuple[ResponsePlan, str, str]
REMATCHES = 3  # matches with states the store refused, then one with the states as read


class PresetLimiter:
    """Stands in for a session's `RateLimiter`: the store already decided (`StepResult`)."""

    __slots__ = ("results",)

    def __init__(self, results: tuple[PolicyResult, ...]) -> None:
        self.results = results

    def check(self, route: str, spec: RateLimitSpec, facts: RequestFacts, now: float) -> Decision:
        allowed, remaining, reset, retry = self.results[0]
        return Decision(allowed, remaining, reset, retry, rate_headers(spec, remaining, reset))

    def check_layers(
        self,
        owners: tuple[str, ...],
        specs: tuple[RateLimitSpec, ...],
        facts: RequestFacts,
        now: float,
        costs: tuple[int, ...],
    ) -> Verdict:
        return verdict_of(specs, costs, self.results)


class _SetInfo:
    """What is shared about the routes of one runtime (made once per loaded configuration)."""

    def __init__(self, runtime: ScenarioRuntime) -> None:
        self.runtime = runtime
        routes = runtime.matcher.routes
        self.stateful = {id(r) for r in routes if _is_stateful(runtime, r)}
        self.when = {id(r) for r in routes if r.state is not None and r.state.when is not None}
        self.draws = {id(r) for r in routes if runtime._may_draw(r)}
        # call counts matter to a sequence and to a response rendered per call (`{{ count }}`)
        self.counts = {
            id(r)
            for r in routes
            if r.sequence is not None
            or (r.respond is not None and not runtime._is_static(r.respond))
        }


def _is_stateful(runtime: ScenarioRuntime, route: Route) -> bool:
    return bool(
        route.rate_limit is not None
        or route.rate_limits
        or route.sequence is not None
        or route.state is not None
        or route.outage  # its clock starts with the session, which the store holds
        or runtime._may_draw(route)
        or (route.respond is not None and not runtime._is_static(route.respond))
    )


class SharedResponder:
    def __init__(
        self,
        store: StateStore,
        policy: FailurePolicy = "fail-closed",
        *,
        log: Callable[[str], None] = lambda line: None,
        monotonic: Callable[[], float] = time.monotonic,  # the retry interval's clock
    ) -> None:
        self.store = store
        self.policy = policy
        self.log = log
        self.monotonic = monotonic
        self.down_until: float | None = None  # the store failed: not asked until then
        self.cause = ""
        self.failures = 0  # requests answered by the failure policy (metrics, tests)
        self._info: _SetInfo | None = None
        # the machine states this replica last saw per session (matched with before asking)
        self.known: OrderedDict[str | None, dict[str, str]] = OrderedDict()
        self.rematches = 0  # requests matched again because a machine moved elsewhere

    def _info_for(self, runtime: ScenarioRuntime) -> _SetInfo:
        info = self._info
        if info is None or info.runtime is not runtime:
            info = self._info = _SetInfo(runtime)
        return info

    async def respond(self, runtime: ScenarioRuntime, facts: RequestFacts) -> Matched | None:
        candidates = runtime.matcher.candidates(facts.path)
        if not candidates:
            return None
        info = self._info_for(runtime)
        stateful = info.stateful
        if not any(id(r) in stateful for r in candidates):
            return runtime.respond(facts)  # nothing here is shared: the store is not asked
        if self.down_until is not None and self.monotonic() < self.down_until:
            return self._unavailable(runtime, facts)
        when = any(id(r) in info.when for r in candidates)
        try:
            matched = await self._respond(runtime, facts, info, when)
        except StoreUnavailable as err:
            self._lost(err.cause)
            return self._unavailable(runtime, facts)
        if self.down_until is not None:
            self.down_until = None
            self.log(f"mockstatus: {self.store.name} is back: shared state again")
        return matched

    def _lost(self, cause: str) -> None:
        if self.down_until is None:
            what = "503" if self.policy == "fail-closed" else "this process's own state"
            self.log(f"mockstatus: {cause}; stateful routes answer with {what} until it is back")
        self.cause = cause
        self.down_until = self.monotonic() + STATE_RETRY_INTERVAL

    def _unavailable(self, runtime: ScenarioRuntime, facts: RequestFacts) -> Matched | None:
        self.failures += 1
        if self.policy == "fail-open":
            matched = runtime.respond(facts)
            if matched is None:
                return None
            plan, scenario, name = matched
            plan = plan.evolve(headers=((STATE_HEADER, "degraded"), *plan.headers), reused=False)
            return plan, scenario, name
        local = runtime.sessions.get(facts.header(SESSION_HEADER)) or SessionState(0.0)
        found = runtime.matcher.match(facts, runtime._state_reader(local, facts))
        if found is None:
            return None
        route = found[0]
        if id(route) not in self._info_for(runtime).stateful:
            return runtime.respond(facts)  # a stateless route is answered as always
        err = RequestError(self.cause or "the state store is unavailable", status=503)
        plan = semantics.error_plan(err, facts)
        fields = ((STATE_HEADER, "unavailable"), ("Retry-After", "1"))
        plan = plan.evolve(headers=(*fields, *plan.headers), note=err.message, reused=False)
        return plan, route.scenario, route.name

    async def _respond(
        self, runtime: ScenarioRuntime, facts: RequestFacts, info: _SetInfo, when: bool
    ) -> Matched | None:
        session_id = facts.header(SESSION_HEADER)
        if not when:  # no route of this path looks at machine states
            return await self._decide(runtime, facts, info, session_id, {}, None)
        before, fresh = self.known.get(session_id, {}), False
        for _ in range(REMATCHES):
            try:
                return await self._decide(runtime, facts, info, session_id, before, before, fresh)
            except StatesMoved as moved:
                self.rematches += 1
                before, fresh = self._remember(session_id, moved.states), True
        # machines moving under every try: match once with the states as read (not atomic)
        before = self._remember(session_id, await self.store.states(session_id))
        return await self._decide(runtime, facts, info, session_id, before, None)

    def _remember(self, session_id: str | None, states: dict[str, str]) -> dict[str, str]:
        known = self.known
        known[session_id] = states
        known.move_to_end(session_id)
        if len(known) > MAX_SESSIONS:
            known.popitem(last=False)
        return states

    async def _decide(
        self,
        runtime: ScenarioRuntime,
        facts: RequestFacts,
        info: _SetInfo,
        session_id: str | None,
        before: dict[str, str],
        expect: dict[str, str] | None,
        fresh: bool = False,
    ) -> Matched | None:
        """Match with the machine states `before` and answer. `expect`: those states are a
        guess the store confirms (StatesMoved when they are not the session's); `fresh`: the
        store gave them just now, enough for an answer that takes nothing from it."""
        store = self.store
        state = SessionState(started=float("-inf"))
        _load_states(state, before)
        reader = runtime._state_reader(state, facts)
        found = runtime.matcher.match(facts, reader)
        if found is None or id(found[0]) not in info.stateful:
            if expect is not None and not fresh:  # no step to confirm the guess: read them
                current = await store.states(session_id)
                if current != expect:
                    raise StatesMoved(current)
            return None if found is None else runtime.respond(facts, state)
        route, params = found
        key = route_key(route)
        now = runtime.clock.monotonic()
        policies: tuple[PolicyCall, ...] = ()
        if route.rate_limit is not None:
            limits = runtime._limits.get(id(route))
            if limits is None:
                limits = runtime._limits[id(route)] = ratelimit_respond.route_limits(route, key)
            costs: tuple[int, ...] = (1,)
            if not limits.simple:
                ctx = TemplateContext(facts=facts, params=params)
                costs, _, refuse = ratelimit_respond.costs_of(limits, ctx)
                if refuse:
                    costs = (0,) * len(costs)
            policies = tuple(
                PolicyCall(f"{owner}\x00{client_key(spec, facts)}", spec.algorithm, spec.limit,
                           spec.window, cost)
                for owner, spec, cost in zip(limits.owners, limits.specs, costs, strict=True)
            )  # fmt: skip
        seeding = runtime.seeding.get(route.scenario) if id(route) in info.draws else None
        draw = (
            f"{key}\x00{seeding[1]}\x00{runtime.loaded.get(route.scenario)!r}" if seeding else None
        )
        per = sequence.per_key(route.sequence, facts) if id(route) in info.counts else None
        count_name = f"{key}\x00{per}" if per is not None else None
        # Counted in the same call when nothing can answer instead of the route.
        early = count_name is not None and not route.chaos and not route.outage
        result = await store.step(
            Step(session_id, now, policies, draw, count_name if early else None, bool(per), expect)
        )
        state.started = result.started
        if policies:
            state.limiter = PresetLimiter(result.policies)  # type: ignore[assignment]
        if seeding is not None:
            runtime._draws(route, key, state, session_id)  # makes the entry for this epoch
            state.draws[key].n = result.n
        allowed = all(r[0] for r in result.policies)
        if count_name is not None and per is not None and allowed:
            count = result.calls if early else 0
            if not early and _own(runtime, route, state, now, result.n, seeding is not None):
                count = await store.count(session_id, count_name, bool(per))
            table = state.keyed if per else state.counts
            table[(key, per)] = max(0, count - 1)
        matched = runtime.respond(facts, state)
        if route.state is not None and route.state.set is not None:
            after = await self._write_states(state, before, session_id)
            if info.when:  # what this replica knows, moved as it just moved it
                self._remember(session_id, {**self.known.get(session_id, {}), **after})
        elif expect is not None:
            self._remember(session_id, before)  # confirmed by the step
        return matched

    async def _write_states(
        self, state: SessionState, before: dict[str, str], session_id: str | None
    ) -> dict[str, str]:
        """Write the machines that moved; the session's states after it."""
        after = {machine_field(s, m, None): v for (s, m), v in state.states.items()}
        after.update({machine_field(s, m, k): v for (s, m, k), v in state.keyed_states.items()})
        for field, value in after.items():
            if before.get(field) != value:
                await self.store.set_state(session_id, field, value)
        return after

    async def reset(self, session: str | None, now: float) -> None:
        """The admin reset, on the store too (raises StoreUnavailable)."""
        await self.store.reset(session, now)

    async def machine_state(
        self,
        runtime: ScenarioRuntime,
        method: str,
        scenario: str,
        machine: str,
        session: str | None,
        body: dict[str, Any],
    ) -> tuple[int, dict[str, Any]]:
        """`GET/PUT /__mockstatus/scenarios/{name}/state/{machine}` on the shared store, once
        `state_api` validated the call (and moved this process's copy): `{key: state}`."""
        per = (scenario, machine) in runtime.machine_per
        try:
            if method == "PUT":
                key = body.get("key") if per else None
                await self.store.set_state(
                    session, machine_field(scenario, machine, key), str(body["state"])
                )
            fields = await self.store.states(session)
        except StoreUnavailable as err:
            return 503, {"error": f"the shared state store did not answer: {err.cause}"}
        found: dict[str, str] = {}
        for field, value in fields.items():
            s, m, key = split_machine_field(field)
            if s == scenario and m == machine and (key is None) != per:
                found[key or ""] = value
        if not per:
            return 200, {"": found.get("", INITIAL_STATE)}
        return 200, found


def _own(
    runtime: ScenarioRuntime,
    route: Route,
    state: SessionState,
    now: float,
    n: int,
    draws_: bool,
) -> bool:
    """Whether the route answers itself this call (no outage window, no chaos rule): as
    `ScenarioRuntime.respond` will decide with the same clock and draw number."""
    elapsed = runtime.elapsed(state, route.scenario, now)
    if outage.active(route.outage, elapsed) is not None:
        return False
    if route.chaos and draws_:
        keys = state.draws[route_key(route)].keys
        if chaos.pick(route.chaos, draws.Stream(keys[draws.CHAOS], n)) is not None:
            return False
    return True


def _load_states(state: SessionState, fields: dict[str, str]) -> None:
    for field, value in fields.items():
        scenario, machine, key = split_machine_field(field)
        if key is None:
            state.states[(scenario, machine)] = value
        else:
            state.keyed_states[(scenario, machine, key)] = value


__all__ = ["FAILURE_POLICIES", "STATE_HEADER", "PresetLimiter", "SharedResponder", "per_value"]
