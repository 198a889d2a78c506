"""The dashboard's live view of the scenarios (docs/dashboard.md): every scenario and route with
its sequence position, state machines per session, rate-limit buckets, outage windows on a time
line around "now", and overrides. It is the `snapshot` event's `scenarios` and what `reload`
carries; `Changes` derives the `state` and `ratelimit` events from a tick's requests.

Read-only over the runtime (evaluating a bucket at cost 0 rolls its window over exactly as the
next request would). Bounded: at most FEED_SESSIONS_SHOWN sessions and FEED_BUCKETS_SHOWN
buckets per route. Pure: no aiohttp.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from mockstatus.journal import Entry
from mockstatus.limits import FEED_BUCKETS_SHOWN, FEED_SENT_KEYS, FEED_SESSIONS_SHOWN
from mockstatus.scenarios import ratelimit
from mockstatus.scenarios.model import INITIAL_STATE, Route, Scenario, SequenceSpec
from mockstatus.scenarios.ratelimit_respond import route_limits
from mockstatus.scenarios.runtime import ScenarioRuntime, SessionState, route_key

TIMELINE_PAST = 30.0  # seconds of outage time line shown before "now"
TIMELINE_AHEAD = 120.0  # and after it
MAX_TIMELINE = 50  # windows drawn per route


def session_name(session: str | None) -> str:
    """A session as the views name it: "" is the default session (no session header)."""
    return "" if session is None else session


def shown_sessions(runtime: ScenarioRuntime) -> list[tuple[str | None, SessionState]]:
    items = list(runtime.sessions.items())
    if None not in runtime.sessions:
        items.insert(0, (None, SessionState(started=-math.inf)))  # not created: read only
    return items[-FEED_SESSIONS_SHOWN:] if len(items) > FEED_SESSIONS_SHOWN else items


def scenarios_view(runtime: ScenarioRuntime | None) -> list[dict[str, Any]]:
    if runtime is None:
        return []
    now = runtime.clock.monotonic()
    sessions = shown_sessions(runtime)
    return [_scenario(runtime, s, sessions, now) for s in runtime.set.scenarios]


def _scenario(
    runtime: ScenarioRuntime,
    scenario: Scenario,
    sessions: list[tuple[str | None, SessionState]],
    now: float,
) -> dict[str, Any]:
    machines = {
        machine: {session_name(sid): machine_states(runtime, scenario.name, machine, sid)
                  for sid, _ in sessions}
        for machine in scenario.machines
    }  # fmt: skip
    return {
        "name": scenario.name,
        "file": scenario.file,
        "source": runtime.set.source(scenario.name),
        "description": scenario.description,
        "machines": machines,
        "routes": [_route(runtime, r, sessions, now) for r in scenario.routes],
    }


def machine_states(
    runtime: ScenarioRuntime, scenario: str, machine: str, session: str | None
) -> dict[str, str]:
    states = runtime.machine_states(scenario, machine, session)
    return states or {"": INITIAL_STATE}


def _route(
    runtime: ScenarioRuntime,
    route: Route,
    sessions: list[tuple[str | None, SessionState]],
    now: float,
) -> dict[str, Any]:
    key = route_key(route)
    match = route.match
    calls = {session_name(sid): state.counts.get((key, ""), 0) for sid, state in sessions}
    view: dict[str, Any] = {
        "name": route.name,
        "methods": sorted(match.methods) if match.methods is not None else None,
        "path": match.path.source if match.path is not None else None,
        "behaviours": [
            name
            for name in ("rate_limit", "outage", "chaos", "latency", "sequence", "state")
            if getattr(route, name)
        ],
        "calls": calls,
        "sequence": None,
        "state": None,
        "rate_limits": rate_limits(runtime, route, sessions, now),
        "outage": None,
        "overrides": [f.describe(now) for f in runtime.overrides.of_route(key, now)],
    }
    if route.sequence is not None:
        view["sequence"] = {
            "steps": len(route.sequence.steps),
            "after": route.sequence.after,
            "per": route.sequence.per,
            "position": {name: _position(route.sequence, n) for name, n in calls.items()},
        }
    if route.state is not None:
        view["state"] = {"machine": route.state.machine, "set": route.state.set}
    if route.outage:
        view["outage"] = {
            "windows": [
                {"start": w.start, "duration": w.duration, "every": w.every, "offset": w.offset}
                for w in route.outage
            ],
            "sessions": {
                session_name(sid): _timeline(route, runtime.elapsed(state, route.scenario, now))
                for sid, state in sessions
            },
        }
    return view


def _position(spec: SequenceSpec, calls: int) -> int:
    """The 0-based step the next call answers with."""
    total = sum(times for _, times in spec.steps)
    index = calls
    if index >= total:
        if spec.after != "loop":
            return len(spec.steps) - 1
        index %= total
    for i, (_, times) in enumerate(spec.steps):
        if index < times:
            return i
        index -= times
    return len(spec.steps) - 1


def _timeline(route: Route, elapsed: float) -> dict[str, Any]:
    """The outage windows around now, as [from, to] seconds relative to now (negative: past)."""
    spans: list[list[float]] = []
    if math.isfinite(elapsed):
        for w in route.outage:
            if w.every is None:
                begin = w.start or 0.0
                starts: Iterable[float] = (begin,)
            else:
                first = max(0, math.floor((elapsed - TIMELINE_PAST - w.offset) / w.every))
                last = math.floor((elapsed + TIMELINE_AHEAD - w.offset) / w.every)
                count = min(max(0, last - first + 1), MAX_TIMELINE)
                starts = (w.offset + (first + k) * w.every for k in range(count))
            for start in starts:
                a, b = start - elapsed, start + w.duration - elapsed
                if b >= -TIMELINE_PAST and a <= TIMELINE_AHEAD and len(spans) < MAX_TIMELINE:
                    spans.append([round(a, 3), round(b, 3)])
    down = any(a <= 0 < b for a, b in spans)
    elapsed_shown = round(elapsed, 3) if math.isfinite(elapsed) else None
    return {"elapsed": elapsed_shown, "down": down, "spans": sorted(spans)}


def rate_limits(
    runtime: ScenarioRuntime,
    route: Route,
    sessions: list[tuple[str | None, SessionState]],
    now: float,
) -> list[dict[str, Any]]:
    """Each policy of the route with its buckets (per session and client key): remaining,
    limit, seconds to reset."""
    if route.rate_limit is None:
        return []
    limits = route_limits(route, route_key(route))
    out = []
    for owner, spec in zip(limits.owners, limits.specs, strict=True):
        buckets: list[dict[str, Any]] = []
        for sid, state in sessions:
            for (who, client), bucket in list(state.limiter.buckets.items()):
                if who != owner or len(buckets) >= FEED_BUCKETS_SHOWN:
                    continue
                remaining, reset = _bucket_now(bucket, spec, now)
                buckets.append(
                    {
                        "session": session_name(sid),
                        "key": client,
                        "remaining": remaining,
                        "limit": spec.limit,
                        "reset": reset,
                    }
                )
        out.append(
            {
                "name": spec.name,
                "limit": spec.limit,
                "window": spec.window,
                "algorithm": spec.algorithm,
                "key": spec.key,
                "shared": spec.shared,
                "buckets": buckets,
            }
        )
    return out


def _bucket_now(bucket: Any, spec: Any, now: float) -> tuple[int, int]:
    """(remaining, seconds to reset) of a bucket at `now`, taking nothing."""
    if now - bucket.last_seen >= bucket.window:
        return spec.limit, 0  # idle a whole window: as good as new
    algorithm = {
        "sliding-window": ratelimit._sliding,
        "token-bucket": ratelimit._token,
    }.get(spec.algorithm, ratelimit._fixed)
    _, remaining, reset, _ = algorithm(bucket, spec, now, 0, False)
    return remaining, reset


class Changes:
    """Derives a tick's `state` and `ratelimit` events from its `request` events: for each
    (scenario, route, session) that answered in the tick, the state machine's states when they
    differ from what was last sent, and the route's buckets after the tick (with how many of
    the tick's calls were allowed and refused)."""

    def __init__(self, runtime_of: Any) -> None:
        self.runtime_of = runtime_of  # () -> the current ScenarioRuntime or None
        self.sent: dict[tuple[str, str, str], dict[str, Any]] = {}

    def forget(self) -> None:
        """Everything changes at once (reset, reload): the next tick reports afresh."""
        self.sent.clear()

    def changed(self, key: tuple[str, str, str], value: dict[str, Any]) -> bool:
        """Whether `value` differs from what was last sent for `key`; remembers it. Clients
        choose session names, so at most FEED_SENT_KEYS are kept: the oldest is forgotten
        (its next change is reported again, never lost)."""
        sent = self.sent
        if sent.get(key) == value:
            return False
        if key not in sent and len(sent) >= FEED_SENT_KEYS:
            del sent[next(iter(sent))]
        sent[key] = value
        return True

    def __call__(self, events: list[tuple[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        runtime = self.runtime_of()
        if runtime is None:
            return []
        touched: dict[tuple[str, str, str | None], list[int]] = {}
        for kind, payload in events:
            if kind == "request" and isinstance(payload, Entry) and payload.route is not None:
                assert payload.scenario is not None
                counts = touched.setdefault(
                    (payload.scenario, payload.route, payload.session), [0, 0]
                )
                counts[payload.status == 429] += 1
        out: list[tuple[str, dict[str, Any]]] = []
        now = runtime.clock.monotonic()
        for (scenario_name, route_name, sid), (allowed, refused) in touched.items():
            scenario = runtime.set.get(scenario_name)
            route = (
                next((r for r in scenario.routes if r.name == route_name), None)
                if scenario
                else None
            )
            if route is None:
                continue
            name = session_name(sid)
            if route.state is not None:
                machine = route.state.machine
                states = machine_states(runtime, scenario_name, machine, sid)
                key = (scenario_name, machine, name)
                if self.changed(key, states):
                    out.append(("state", {"scenario": scenario_name, "machine": machine,
                                          "session": name, "states": states}))  # fmt: skip
            if route.sequence is not None and (state := runtime.sessions.get(sid)):
                calls = state.counts.get((route_key(route), ""), 0)
                position = {"calls": calls, "position": _position(route.sequence, calls)}
                key = (scenario_name, route_name, "\0" + name)
                if self.changed(key, position):
                    out.append(("state", {"scenario": scenario_name, "route": route_name,
                                          "session": name, **position}))  # fmt: skip
            if route.rate_limit is not None:
                state = runtime.sessions.get(sid)
                if state is None:
                    continue
                policies = rate_limits(runtime, route, [(sid, state)], now)
                out.append(("ratelimit", {"scenario": scenario_name, "route": route_name,
                                          "session": name, "allowed": allowed,
                                          "refused": refused, "policies": policies}))  # fmt: skip
        return out
