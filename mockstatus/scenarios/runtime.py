"""Executes a loaded ScenarioSet: match a request, apply the route's behaviours, build a plan.

Behaviours run in this order: rate_limit, outage, chaos, latency, then the response (single
or sequence) and the state transition. All mutable state (counters, states, buckets, scenario
clocks, the call numbers random draws are made at) lives in a `SessionState`, one per
`X-Mockstatus-Session` id, so that reset and isolation are one dictionary operation.

Random draws are counter-based (`draws`): the n-th call of a route in a session draws the same
values whatever other sessions and routes did, and a session reset replays it.
"""

from __future__ import annotations

import itertools
import math
import random
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from mockstatus import queries, rules, semantics
from mockstatus.conditional import format_http_date
from mockstatus.http_syntax import SESSION_HEADER
from mockstatus.limits import MAX_COUNTERS, MAX_SESSION_ENTRIES, MAX_SESSIONS
from mockstatus.scenarios import (
    chaos,
    draws,
    latency,
    nearmiss,
    outage,
    proxy,
    ratelimit_respond,
    sequence,
)
from mockstatus.scenarios.matcher import Matcher, StateOf
from mockstatus.scenarios.model import (
    DEFAULT_OUTAGE_RESPONSE,
    INITIAL_STATE,
    ResponseSpec,
    Route,
    Scenario,
    ScenarioSet,
)
from mockstatus.scenarios.override import Overrides, active_override
from mockstatus.scenarios.perkey import per_value
from mockstatus.scenarios.ratelimit import RateLimiter
from mockstatus.scenarios.templates import TemplateContext
from mockstatus.types import ENCODING_FAULTS, Clock, Fault, Options, RequestFacts, ResponsePlan

# Keys for a response drawn outside any call (a template-free plan is built once and reused).
_FIXED_KEYS = draws.keys_for("fixed", "", "", None)
# Each loaded Scenario object gets an epoch; a route's call numbers restart when it changes.
_EPOCHS = itertools.count()


@dataclass(slots=True)
class RouteDraws:
    """A route's random source in one session: the scenario epoch it was made for, one key per
    behaviour (`draws.keys_for`), and the next call number."""

    epoch: int
    keys: tuple[int, ...]
    n: int = 0


@dataclass(slots=True)
class SessionState:
    # This session's scenario clock origin (monotonic): its first request, or its last reset.
    # The default session starts at -inf: its clocks start when each scenario is loaded.
    started: float
    # Call counts (sequences, `{{ count }}`): one per route here; per client or header value
    # (`per:`) in `keyed`, least recently used first and at most MAX_COUNTERS, since clients
    # choose those keys.
    # Keyed by (route_key, per-key value); the value is "" for a route's global count.
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    keyed: OrderedDict[tuple[str, str], int] = field(default_factory=OrderedDict)
    states: dict[tuple[str, str], str] = field(default_factory=dict)
    # States of machines with a `per:` key, by (scenario, machine, key value): least recently
    # used first and at most MAX_COUNTERS, since clients choose the keys.
    keyed_states: OrderedDict[tuple[str, str, str], str] = field(default_factory=OrderedDict)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    draws: dict[str, RouteDraws] = field(default_factory=dict)  # by route_key
    # Entries of the three client-keyed tables (keyed, keyed_states, limiter buckets) when last
    # counted: a named session's share of MAX_SESSION_ENTRIES.
    size: int = 0

    def measure(self) -> int:
        return len(self.keyed) + len(self.keyed_states) + len(self.limiter.buckets)


_NO_SESSION = SessionState(started=0.0)  # read-only: a session with no state yet


def route_key(route: Route) -> str:
    return f"{route.scenario}/{route.name}"


class ScenarioRuntime:
    def __init__(self, scenario_set: ScenarioSet, *, clock: Clock, rng: random.Random) -> None:
        self.set = scenario_set
        self.clock = clock
        self.rng = rng
        self.matcher = Matcher(scenario_set)
        self.has_routes = any(s.routes for s in scenario_set.scenarios)
        # Named sessions least recently used first (the default session, None, is never dropped).
        self.sessions: OrderedDict[str | None, SessionState] = OrderedDict()
        # Client-keyed entries held by named sessions, as last counted (SessionState.size). Each
        # session's tables are capped on their own; this caps them all together, since clients
        # choose the session names too (MAX_SESSIONS x MAX_KEYS would be unbounded in practice).
        self.session_entries = 0
        # 429s answered by a rate limit (not by a route that merely answers 429), for metrics.
        self.rejections: Counter[tuple[str, str]] = Counter()
        self.overrides = Overrides()  # forced outages and faults (admin API: scenarios/override)
        # Per-instance tables keyed by id() of a route or response spec (issue 11): plain dicts,
        # not IdentityCache. The runtime holds its ScenarioSet, so no id is reused while it
        # lives; each table is bounded by the loaded set (`_plans` also by STANDARD_METHODS x
        # formats x 2), and a swap builds a new runtime. `python -m bench.idtables` (timeit, min
        # of 15, two runs on the shared 2-core VM): lookup vs recompute per request: _static
        # 0.17-0.29 vs 3.9-4.4 µs, _own_names 0.14-0.17 vs 1.4-1.7 µs, _limits 0.20-0.30 vs
        # 6.3-16.3 µs, _route_seeding 0.09-0.15 vs 1.6-3.1 µs, _plans 0.38-0.44 vs 107-130 µs;
        # an IdentityCache read (get + entry[1]) costs 0.32-0.35 µs where a plain dict's costs
        # 0.15-0.18 µs, for a guarantee (the object outlives its id) the runtime already gives.
        # Plans of template-free responses, keyed (id(spec), method, format, HTTP/1.1+); the
        # specs live as long as this runtime, so their ids are stable keys.
        self._plans: dict[tuple[int, str, str, bool], ResponsePlan] = {}
        self._static: dict[int, bool] = {}
        self._rejections: dict[tuple[str, str], ResponsePlan] = {}
        self._own_names: dict[int, frozenset[str]] = {}
        self._limits: dict[int, ratelimit_respond.RouteLimits] = {}  # by id(route)
        # Each scenario's clock starts when it is loaded (or on reset: SessionState.started).
        loaded_at = clock.monotonic()
        self.loaded: dict[str, float] = {s.name: loaded_at for s in scenario_set.scenarios}
        # A file-level `seed` makes that scenario's draws repeatable; without one the seed is
        # derived from the server's source (`--seed`). (epoch, seed tag) per scenario name.
        self.base_seed = draws.seed_of(rng)
        self.seeding: dict[str, tuple[int, str]] = {}
        self._seed_scenarios(scenario_set.scenarios)
        self._route_seeding: dict[int, tuple[int, str] | None] = {}  # by id(route)
        self._near_index: nearmiss.NearMissIndex | None = None  # built on the first miss
        # (scenario, machine) → its `per:` key, for machines that are not global
        self.machine_per: dict[tuple[str, str], str] = {
            (r.scenario, r.state.machine): r.state.per
            for s in scenario_set.scenarios
            for r in s.routes
            if r.state is not None and r.state.per != "global"
        }

    def _seed_scenarios(self, scenarios: Iterable[Scenario]) -> None:
        for s in scenarios:
            tag = f"file:{s.seed}" if s.seed is not None else f"server:{self.base_seed}"
            self.seeding[s.name] = (next(_EPOCHS), tag)

    # --- state -------------------------------------------------------------------------------

    def session(self, session_id: str | None) -> SessionState:
        state = self.sessions.get(session_id)
        if state is None:
            if len(self.sessions) >= MAX_SESSIONS:  # drop the least recently used named session
                self._drop(next((k for k in self.sessions if k is not None), None))
            started = -math.inf if session_id is None else self.clock.monotonic()
            state = self.sessions[session_id] = SessionState(started=started)
        elif session_id is not None:
            self.sessions.move_to_end(session_id)
            # What this session's previous request added (each request adds a few entries at
            # most, so the count lags by that much per session; MAX_SESSIONS bounds the lag).
            size = state.measure()
            if size != state.size:
                self.session_entries += size - state.size
                state.size = size
                if self.session_entries > MAX_SESSION_ENTRIES:
                    self._shed(session_id)
        return state

    def _drop(self, session_id: str | None) -> None:
        gone = self.sessions.pop(session_id, None) if session_id is not None else None
        if gone is not None:
            self.session_entries -= gone.size

    def _shed(self, keep: str) -> None:
        """Drop least recently used named sessions (never `keep`, the one asking) until their
        entries are at most 90 % of the cap: a recount then needs 10 % of the cap in new entries
        first, so its O(sessions) cost stays amortised."""
        total = 0
        for sid, state in self.sessions.items():
            if sid is not None:
                state.size = state.measure()
                total += state.size
        self.session_entries = total
        target = MAX_SESSION_ENTRIES * 9 // 10
        for sid in [k for k in self.sessions if k is not None and k != keep]:
            if self.session_entries <= target:
                break
            self._drop(sid)

    def elapsed(self, state: SessionState, scenario: str, now: float) -> float:
        """Seconds on `scenario`'s clock for this session: since the later of the scenario's load
        and the session's start (first request or reset)."""
        return now - max(state.started, self.loaded.get(scenario, now))

    def reset(self, session_id: str | None = None) -> None:
        """Counters, states, buckets and scenario clocks: of one session, or of all."""
        now = self.clock.monotonic()
        self.overrides.clear(session_id)  # steering ends with a reset too
        if session_id is None:
            self.sessions.clear()
            self.sessions[None] = SessionState(started=now)  # clocks restart now, not later
            self.session_entries = 0
        else:
            self._drop(session_id)
            self.sessions[session_id] = SessionState(started=now)

    def adopt_state(self, old: ScenarioRuntime) -> None:
        """Keep counters and states across a reload (routes that no longer exist are inert)."""
        self.sessions = old.sessions
        self.session_entries = old.session_entries
        self.rejections = old.rejections
        self.overrides = old.overrides
        self.base_seed = old.base_seed  # derived once, from the source as `--seed` made it
        changed = []
        for s in self.set.scenarios:
            if old.set.get(s.name) is s and s.name in old.seeding:
                # The same scenario: its clock and its draws go on where they were.
                self.loaded[s.name] = old.loaded.get(s.name, self.loaded[s.name])
                self.seeding[s.name] = old.seeding[s.name]
            else:
                changed.append(s)
        self._seed_scenarios(changed)  # a changed file's draws restart, as its clock does
        self._route_seeding.clear()

    def needs_body(self, facts: RequestFacts) -> bool:
        return self.matcher.needs_body(facts)

    def near_misses(self, facts: RequestFacts) -> tuple[nearmiss.NearMiss, ...]:
        """Why no route matched `facts` (call only after `respond` returned None)."""
        index = self._near_index
        if index is None:
            index = self._near_index = nearmiss.NearMissIndex(self.matcher.routes)
        state = self.sessions.get(facts.header(SESSION_HEADER)) or _NO_SESSION
        return index.near_misses(facts, state_factory=lambda: self._state_reader(state, facts))

    def _state_reader(self, state: SessionState, facts: RequestFacts) -> StateOf:
        states, keyed, machine_per = state.states, state.keyed_states, self.machine_per
        if not machine_per:

            def state_of(scenario: str, machine: str) -> str:
                return states.get((scenario, machine), INITIAL_STATE)

            return state_of

        def keyed_state_of(scenario: str, machine: str) -> str:
            per = machine_per.get((scenario, machine))
            if per is None:
                return states.get((scenario, machine), INITIAL_STATE)
            return keyed.get((scenario, machine, per_value(per, facts)), INITIAL_STATE)

        return keyed_state_of

    def _set_state(
        self, state: SessionState, scenario: str, machine: str, key: str | None, value: str
    ) -> None:
        """Move a machine (of the key's client, for a `per:` machine) to `value`."""
        if key is None:
            state.states[(scenario, machine)] = value
            return
        keyed = state.keyed_states
        keyed[(scenario, machine, key)] = value
        keyed.move_to_end((scenario, machine, key))
        if len(keyed) > MAX_COUNTERS:
            keyed.popitem(last=False)  # that client's machine starts over

    def machine_states(self, scenario: str, machine: str, session: str | None) -> dict[str, str]:
        """`{key: state}` of one machine in one session: key "" for a global machine (also
        when it never moved: it is then in its initial state)."""
        state = self.sessions.get(session)
        if (scenario, machine) not in self.machine_per:
            current = state.states.get((scenario, machine)) if state else None
            return {"": current or INITIAL_STATE}
        if state is None:
            return {}
        return {
            key: value
            for (s, m, key), value in state.keyed_states.items()
            if s == scenario and m == machine
        }

    def set_machine_state(
        self, scenario: str, machine: str, value: str, key: str | None, session: str | None
    ) -> None:
        per_machine = (scenario, machine) in self.machine_per
        self._set_state(
            self.session(session), scenario, machine, key if per_machine else None, value
        )

    # --- answering ---------------------------------------------------------------------------

    def respond(
        self, facts: RequestFacts, shared: SessionState | None = None
    ) -> tuple[ResponsePlan, str, str] | None:
        """`shared`: this call's state as a shared store holds it (mockstatus.state), instead
        of this process's session."""
        if not self.matcher.candidates(facts.path):
            return None  # the common miss (a built-in path) costs one lookup
        session_id = facts.header(SESSION_HEADER)
        state = self.session(session_id) if shared is None else shared
        found = self.matcher.match(facts, self._state_reader(state, facts))
        if found is None:
            return None
        route, params = found
        now = self.clock.monotonic()
        elapsed = self.elapsed(state, route.scenario, now)
        key = route_key(route)
        if self._route_seeding.get(id(route), ()) is None:  # a route that never draws
            keys, n = _FIXED_KEYS, 0
        else:
            keys, n = self._draws(route, key, state, session_id)

        extra_headers: tuple[tuple[str, str], ...] = ()
        retry_after: str | None = None
        override: ResponseSpec | None = None
        fault: Fault | None = None
        note: str | None = None  # for the journal
        if route.rate_limit is not None:
            limits = self._limits.get(id(route))
            if limits is None:
                limits = self._limits[id(route)] = ratelimit_respond.route_limits(route, key)
            if limits.simple:
                decision = state.limiter.check(key, route.rate_limit, facts, now)
                extra_headers = decision.headers  # on allowed responses too
                if not decision.allowed:
                    self.rejections[(route.scenario, route.name)] += 1
                    fields = (("Retry-After", str(decision.retry_after)), *decision.headers)
                    return self._rejected(facts, fields), route.scenario, route.name
            else:
                refused, extra_headers, note = self._limited(
                    route, limits, state, facts, params, now
                )
                if refused is not None:
                    self.rejections[(route.scenario, route.name)] += 1
                    return refused, route.scenario, route.name
        forced = (
            active_override(self.overrides, key, session_id, now) if self.overrides.table else None
        )
        window = forced or outage.active(route.outage, elapsed)
        if window is not None:
            override, fault = window.respond, window.fault
            if override is None and fault is None:
                override = DEFAULT_OUTAGE_RESPONSE
            # A 503 (or 429) while down says when the route is up again, unless it sets its own.
            left = (
                forced.seconds_left(now) if forced else outage.seconds_left(route.outage, elapsed)
            )
            retry_after = str(left)
        elif route.chaos:
            rule = chaos.pick(route.chaos, draws.Stream(keys[draws.CHAOS], n))
            if rule is not None:
                override, fault = rule.respond, rule.fault
        delay = (
            latency.sample(route.latency, draws.Stream(keys[draws.LATENCY], n))
            if route.latency is not None
            else 0.0
        )

        # An outage or chaos answers *instead of* the route: the route's own sequence does not
        # advance and its state transition does not happen (as for a rate-limited call).
        own = override is None and fault is None
        per = sequence.per_key(route.sequence, facts)
        count_key = (key, per)
        table = state.keyed if per else state.counts
        count = table.get(count_key, 0) + 1
        if own:
            table[count_key] = count
            if per:
                state.keyed.move_to_end(count_key)
                if len(state.keyed) > MAX_COUNTERS:
                    state.keyed.popitem(last=False)  # that key's sequence starts over
        spec = override
        if spec is None:
            spec = (
                route.respond
                if route.sequence is None
                else sequence.step(route.sequence, count - 1)
            )
        assert spec is not None  # the loader guarantees respond or sequence
        plan = self.build(spec, facts, params, count, extra_headers, retry_after, keys, n)
        if delay or fault is not None:
            plan = replace(plan, delay=plan.delay + delay, fault=fault or plan.fault)
        if own and route.state is not None and route.state.set is not None:
            whose = route.state.per
            state_key = None if whose == "global" else per_value(whose, facts)
            self._set_state(state, route.scenario, route.state.machine, state_key, route.state.set)
        plan = semantics.answer_preconditions(plan, facts, self.clock)  # 200 → 304 / 412
        if note is not None:
            plan = plan.evolve(note=note, reused=False)
        return plan, route.scenario, route.name

    def _draws(
        self, route: Route, key: str, state: SessionState, session_id: str | None
    ) -> tuple[tuple[int, ...], int]:
        """The keys and call number this call of `route` draws with (fixed ones for a route
        that never draws: it then costs no hashing and no per-session entry)."""
        rid = id(route)
        try:
            seeding = self._route_seeding[rid]
        except KeyError:
            seeding = self._route_seeding[rid] = (
                self.seeding.get(route.scenario) if self._may_draw(route) else None
            )
        if seeding is None:
            return _FIXED_KEYS, 0
        epoch = seeding[0]
        entry = state.draws.get(key)
        if entry is None or entry.epoch != epoch:
            keys = draws.keys_for(seeding[1], route.scenario, route.name, session_id)
            entry = state.draws[key] = RouteDraws(epoch, keys)
        n = entry.n
        entry.n = n + 1
        return entry.keys, n

    def _may_draw(self, route: Route) -> bool:
        """Whether any call of `route` can draw: chaos, a random latency, or a response that is
        not built once (weighted status, templates such as `{{ uuid }}`)."""
        if route.chaos or (route.latency is not None and route.latency.kind != "fixed"):
            return True
        specs = [route.respond, *(w.respond for w in route.outage)]
        specs += [r.respond for r in route.chaos]
        if route.sequence is not None:
            specs += [step for step, _ in route.sequence.steps]
        return any(spec is not None and not self._is_static(spec) for spec in specs)

    def build(
        self,
        spec: ResponseSpec,
        facts: RequestFacts,
        params: dict[str, str],
        count: int,
        extra_headers: tuple[tuple[str, str], ...] = (),
        retry_after: str | None = None,
        keys: tuple[int, ...] = _FIXED_KEYS,
        n: int = 0,
    ) -> ResponsePlan:
        """A scenario response on top of the per-code defaults.

        A response with one status and no template variables is built once per (method, format,
        HTTP version) and reused; per-request headers (rate-limit fields) are merged onto it.
        `keys` and `n` are the call's random source (`draws`); a reused plan draws with fixed
        keys, so it does not depend on which call built it.
        """
        if spec.proxy is not None or spec.verbatim:
            return proxy.plan_for(spec, facts, extra_headers)  # issue 14: no per-code defaults
        fmt = semantics.negotiate(facts.header("accept"))
        if retry_after is not None or not self._is_static(spec):
            return self._build(spec, facts, params, count, keys, n, fmt, extra_headers, retry_after)
        key = (id(spec), facts.method, fmt, facts.version >= (1, 1))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._build(spec, facts, params, count, _FIXED_KEYS, 0, fmt, (), None)
            if facts.method in rules.STANDARD_METHODS:  # bounded: client-chosen methods
                plan = self._plans[key] = plan.evolve(reused=True)
        if not extra_headers:
            return plan
        own = self._own_names[id(spec)]
        extra = tuple(h for h in extra_headers if h[0].lower() not in own) if own else extra_headers
        fields = semantics.override_fields(extra, plan.headers, reused=True)
        return plan.evolve(headers=fields, reused=False)

    def _is_static(self, spec: ResponseSpec) -> bool:
        static = self._static.get(id(spec))
        if static is None:
            static = self._static[id(spec)] = (
                len(spec.statuses) == 1
                and all(t.is_static for _, t in spec.headers)
                and (spec.body is None or spec.body.is_static)
                and (spec.json is None or spec.json.is_static)
                and spec.stream is None  # a stream is rendered per request (ids, templates)
                and spec.compress == "off"  # the coding depends on Accept-Encoding
                and not _coding_fault(spec)
            )
            self._own_names[id(spec)] = frozenset(n.lower() for n, _ in spec.headers)
        return static

    def _build(
        self,
        spec: ResponseSpec,
        facts: RequestFacts,
        params: dict[str, str],
        count: int,
        keys: tuple[int, ...],
        n: int,
        fmt: str,
        extra_headers: tuple[tuple[str, str], ...],
        retry_after: str | None,
    ) -> ResponsePlan:
        code = _pick_status(spec.statuses, keys, n)
        ctx = TemplateContext(
            facts=facts,
            params=params,
            count=count,
            now_http_date=lambda: _http_date(self.clock.wall()),
            uuid=lambda: str(uuid.UUID(int=draws.bits128(keys[draws.UUID], n), version=4)),
            wall=self.clock.wall,
            draw=lambda i: draws.word(keys[draws.UUID], n, 2 + i),  # 0 and 1 make the uuid
        )
        headers = tuple(
            queries.check_header(name, template.render_field(ctx), param="scenario header")
            for name, template in spec.headers
        )
        names = {n.lower() for n, _ in headers}
        headers += tuple(h for h in extra_headers if h[0].lower() not in names)
        body, content_type = _body(spec, ctx)
        opts = Options(
            reason=spec.reason,
            headers=headers,
            retry_after=retry_after,
            etag=spec.etag,
            body_digest=spec.body_digest,
        )
        plan, _ = semantics.build_plan(
            code,
            facts.method,
            fmt,
            opts,
            body=body,
            content_type=content_type,
            rng=draws.Stream(keys[draws.PLAN], n),  # e.g. a 202's job id
        )
        # Whether a 1xx may go to this client is the wire's decision (interim mode, HTTP
        # version), so the plan always carries the interims the scenario asked for.
        links = tuple(v for n, v in plan.headers if n.lower() == "link")
        interims = semantics.interims_for(0, Options(interim=spec.interim, links=links), (1, 1))
        plan = plan.evolve(
            headers=semantics.repeat_hints(plan.headers, interims) if interims else plan.headers,
            interims=interims,
            delay=spec.delay or 0.0,
            fault=spec.fault,
            drip=spec.drip,
        )
        if spec.stream is not None or spec.compress != "off" or _coding_fault(spec):
            plan = _streamed(spec, plan, facts, ctx)
        return plan

    def _rejected(self, facts: RequestFacts, fields: tuple[tuple[str, str], ...]) -> ResponsePlan:
        """429 with the limiter's fields; the per-code part is built once per (method, format)."""
        fmt = semantics.negotiate(facts.header("accept"))
        key = (facts.method, fmt)
        base = self._rejections.get(key)
        if base is None:
            base, _ = semantics.build_plan(429, facts.method, fmt)
            if facts.method in rules.STANDARD_METHODS:
                base = self._rejections[key] = base.evolve(reused=True)
        headers = semantics.override_fields(fields, base.headers, reused=True)
        return base.evolve(headers=headers, reused=False)

    def _limited(
        self,
        route: Route,
        limits: ratelimit_respond.RouteLimits,
        state: SessionState,
        facts: RequestFacts,
        params: dict[str, str],
        now: float,
    ) -> tuple[ResponsePlan | None, tuple[tuple[str, str], ...], str | None]:
        """Layered, shared, costed or styled limits (ratelimit_respond): the rejection plan or
        None, the rate-limit fields of the answer, and a note for the journal."""
        rr = ratelimit_respond
        costs, note, refuse = rr.costs_of(limits, TemplateContext(facts=facts, params=params))
        if refuse:  # evaluated at cost 0 for the fields; nothing is taken
            costs = (0,) * len(costs)
        verdict = state.limiter.check_layers(limits.owners, limits.specs, facts, now, costs)
        if refuse:
            spec = next(s for s in limits.specs if s.on_cost_error == "reject" and s.cost_template)
            wait = max(1, math.ceil(spec.window))
            verdict = verdict._replace(allowed=False, retry_after=wait, decider=spec)
        note = note or verdict.note
        wall = self.clock.wall()
        fields = rr.fields(limits, verdict, wall)
        if verdict.allowed or verdict.decider is None:
            return None, fields, note
        spec = verdict.decider
        retry = rr.retry_after_value(spec, verdict.retry_after, wall)
        front = (("Retry-After", retry), *fields) if retry is not None else fields
        if spec.respond is None:
            plan = self._rejected(facts, front)
            own: frozenset[str] = frozenset()
        else:
            plan = self.build(spec.respond, facts, params, 0, front)
            own = frozenset(n.lower() for n, _ in spec.respond.headers)
        keep = own | {n.lower() for n, _ in front}
        plan = rr.without_rule_fields(plan, keep, retry is None)
        plan = rr.fill(plan, rr.decision_values(verdict, spec, wall))
        return (plan.evolve(note=note) if note else plan), fields, note

    # --- admin view --------------------------------------------------------------------------

    def describe(self) -> list[dict[str, Any]]:
        out = []
        default = self.sessions.get(None)
        for s in self.set.scenarios:
            machines = sorted({r.state.machine for r in s.routes if r.state is not None})
            out.append(
                {
                    "name": s.name,
                    "description": s.description,
                    "file": s.file,
                    "routes": [
                        {
                            "name": r.name,
                            "behaviours": _behaviours(r),
                            "calls": sum(
                                n
                                for table in ((default.counts, default.keyed) if default else ())
                                for (k, _), n in table.items()
                                if k == route_key(r)
                            ),
                        }
                        for r in s.routes
                    ],
                    "states": {
                        m: (
                            default.states.get((s.name, m), INITIAL_STATE)
                            if default
                            else INITIAL_STATE
                        )
                        for m in machines
                    },
                    "sessions": sorted(k for k in self.sessions if k is not None),
                    "warnings": list(s.warnings),
                }
            )
        return out


def _behaviours(route: Route) -> list[str]:
    names = []
    for attr in ("rate_limit", "outage", "chaos", "latency", "sequence", "state"):
        if getattr(route, attr):
            names.append(attr)
    return names


def _pick_status(statuses: tuple[tuple[int, float], ...], keys: tuple[int, ...], n: int) -> int:
    if len(statuses) == 1:
        return statuses[0][0]
    codes = [c for c, _ in statuses]
    return draws.pick(codes, [w for _, w in statuses], draws.unit(keys[draws.STATUS], n))


# The last second an HTTP-date can name (its year has four digits): 9999-12-31T23:59:59Z.
_LAST_HTTP_DATE = 253_402_300_799


def _http_date(wall: float) -> str:
    """`{{ now }}`: the clock as an HTTP-date, held to the years an HTTP-date can write (a
    manual clock may be advanced past 9999) rather than failing the response."""
    if not wall >= 0:  # also NaN
        wall = 0.0
    return format_http_date(min(wall, _LAST_HTTP_DATE))


def _body(spec: ResponseSpec, ctx: TemplateContext) -> tuple[bytes | None, str | None]:
    if spec.file is not None:
        return spec.file, spec.content_type
    if spec.json is not None:
        return spec.json.render(ctx), spec.content_type or "application/json"
    if spec.body is not None:
        return spec.body.render(ctx).encode(), spec.content_type or "text/plain; charset=utf-8"
    return None, None


def _coding_fault(spec: ResponseSpec) -> bool:
    return spec.fault is not None and spec.fault.kind in ENCODING_FAULTS


def _streamed(
    spec: ResponseSpec, plan: ResponsePlan, facts: RequestFacts, ctx: TemplateContext
) -> ResponsePlan:
    """A stream's plan (scenarios/stream.py) and the content coding (encoding.py)."""
    from mockstatus import encoding

    if spec.stream is not None:
        from mockstatus.scenarios import stream

        kind = spec.stream.kind
        own = {n.lower() for n, _ in spec.headers}
        # The code's default body is not sent: drop the type and entity-tag derived from it.
        dropped = {"content-type", "etag"} - own
        headers = [(n, v) for n, v in plan.headers if n.lower() not in dropped]
        if "content-type" not in own:
            headers.insert(0, ("Content-Type", stream.CONTENT_TYPES[kind]))
        if kind == "sse" and all(n.lower() != "cache-control" for n, _ in headers):
            headers.append(("Cache-Control", "no-cache"))
        plan = plan.evolve(
            headers=tuple(headers),
            body=b"",
            stream=stream.stream_plan(spec.stream, ctx, facts.header("last-event-id")),
            reused=False,
        )
    if spec.compress == "off" and not _coding_fault(spec):
        return plan
    compress = "gzip" if spec.compress == "off" else spec.compress  # a coding fault needs one
    coding = encoding.choose(compress, facts.header("accept-encoding"))
    fault = plan.fault.kind if plan.fault is not None else None
    return encoding.compress_plan(plan, coding, fault)
