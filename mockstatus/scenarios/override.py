"""Route overrides: force a route into an outage or a fault for N seconds (docs/dashboard.md).

`POST /__mockstatus/scenarios/{name}/routes/{route}/override` with
`{"outage": {"for": "30s", "respond": {...}}}` or `{"fault": "reset", "for": "30s"}`;
`DELETE` cancels. An override follows the server clock (a manual clock too): it ends when
`monotonic()` reaches `until`. It applies to every session, or to the one `?session=` names
(a session's own override wins over the every-session one).

The runtime asks `active_override()` only when the table is not empty, so routes pay nothing while no
override is set. An override answers *instead of* the route, exactly as a scheduled outage
window does (the runtime treats both the same: no sequence step, no state transition), with
`Retry-After` saying when it ends. The response and fault are validated by the scenario loader
itself (a one-window scenario), so an override takes exactly what an outage window takes.
Pure: no aiohttp.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mockstatus.durations import parse_duration
from mockstatus.errors import ScenarioError
from mockstatus.limits import MAX_OVERRIDE_SECONDS, MAX_OVERRIDES
from mockstatus.scenarios.model import ResponseSpec
from mockstatus.types import Fault

SHAPES = '{"outage": {"for": "30s", "respond": {...}}} or {"fault": "reset", "for": "30s"}'
_EPS = 1e-6


class OverrideError(ValueError):
    """A request body that is not an override (the admin API answers 400 with `problems`)."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Forced:
    """One override: what the route answers instead (`respond` or `fault`) until `until`."""

    kind: str  # "outage" | "fault"
    seconds: float  # the `for` it was set with
    since: float  # monotonic, when it was set
    until: float  # monotonic, when it ends
    session: str | None  # None: every session
    respond: ResponseSpec | None = None
    fault: Fault | None = None
    shown: dict[str, Any] = field(default_factory=dict)  # the request body, for the views

    def seconds_left(self, now: float) -> int:
        """Whole seconds until the route is up again (at least 1): its Retry-After."""
        return max(1, math.ceil(self.until - now - _EPS))

    def describe(self, now: float) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "for": self.seconds,
            "remaining": max(0.0, round(self.until - now, 3)),
            "session": self.session,
            "status": self.respond.statuses[0][0] if self.respond is not None else None,
            "fault": self.fault.kind if self.fault is not None else None,
            "request": self.shown,
        }


@dataclass(slots=True)
class _RouteOverrides:
    everyone: Forced | None = None
    sessions: dict[str, Forced] = field(default_factory=dict)


class Overrides:
    """Every override, by route key (`scenario/route`). Carried over reloads with the sessions
    (`ScenarioRuntime.adopt_state`); a route that no longer exists is never asked about."""

    def __init__(self) -> None:
        self.table: dict[str, _RouteOverrides] = {}

    def __len__(self) -> int:
        return sum((r.everyone is not None) + len(r.sessions) for r in self.table.values())

    def put(self, key: str, forced: Forced) -> None:
        entry = self.table.get(key)
        replacing = entry is not None and (
            entry.everyone is not None
            if forced.session is None
            else forced.session in entry.sessions
        )
        if not replacing and len(self) >= MAX_OVERRIDES:
            raise OverrideError(f"{MAX_OVERRIDES} overrides are set already (MAX_OVERRIDES)")
        if entry is None:
            entry = self.table[key] = _RouteOverrides()
        if forced.session is None:
            entry.everyone = forced
        else:
            entry.sessions[forced.session] = forced

    def cancel(self, key: str, session: str | None) -> Forced | None:
        """Remove the override of `key` for `session` (None: the every-session one)."""
        entry = self.table.get(key)
        if entry is None:
            return None
        if session is None:
            gone, entry.everyone = entry.everyone, None
        else:
            gone = entry.sessions.pop(session, None)
        if entry.everyone is None and not entry.sessions:
            del self.table[key]
        return gone

    def clear(self, session: str | None) -> None:
        """A reset: every override (None), or those set for one session."""
        if session is None:
            self.table.clear()
            return
        for key in list(self.table):
            if session in self.table[key].sessions:
                self.cancel(key, session)

    def of_route(self, key: str, now: float) -> list[Forced]:
        """The overrides of one route still running at `now` (the views)."""
        entry = self.table.get(key)
        if entry is None:
            return []
        found = [entry.everyone] if entry.everyone is not None else []
        found += entry.sessions.values()
        return [f for f in found if f.until > now]


def active_override(
    overrides: Overrides, key: str, session: str | None, now: float
) -> Forced | None:
    """The override answering this call of route `key` in `session`, if one runs at `now`.
    Ended ones are removed when met."""
    entry = overrides.table.get(key)
    if entry is None:
        return None
    if session is not None and entry.sessions:
        own = entry.sessions.get(session)
        if own is not None:
            if own.until > now:
                return own
            overrides.cancel(key, session)
    everyone = entry.everyone
    if everyone is not None:
        if everyone.until > now:
            return everyone
        overrides.cancel(key, None)
    return None


def parse(body: bytes | None, session: str | None, now: float) -> Forced:
    """The override a POST body asks for, starting at `now`; OverrideError when it is not one."""
    try:
        doc = json.loads(body or b"")
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the stack
        raise OverrideError(f"the body must be JSON: {SHAPES}") from None
    if not isinstance(doc, dict) or ("outage" in doc) == ("fault" in doc):
        raise OverrideError(f"the body must be one of {SHAPES}")
    if "outage" in doc:
        if set(doc) != {"outage"} or not isinstance(doc["outage"], dict):
            raise OverrideError(
                f'an outage override is {{"outage": {{"for": ..., ...}}}}: {SHAPES}'
            )
        window = dict(doc["outage"])
        unknown = sorted(set(window) - {"for", "respond"})
        if unknown:
            raise OverrideError(f"unknown outage key {unknown[0]!r}: 'for' and 'respond'")
        seconds = _seconds(window.get("for"))
        item = {"respond": window.get("respond") or {"status": 503}}
        if not isinstance(item["respond"], dict) or {"file", "proxy"} & set(item["respond"]):
            raise OverrideError("'respond' must be a response object (no 'file' or 'proxy')")
        kind = "outage"
    else:
        unknown = sorted(set(doc) - {"fault", "for"})
        if unknown:
            raise OverrideError(f"unknown key {unknown[0]!r}: a fault override is {SHAPES}")
        seconds = _seconds(doc.get("for"))
        item = {"fault": doc["fault"]}
        kind = "fault"
    respond, fault = _validated(item)
    return Forced(kind, seconds, now, now + seconds, session, respond, fault, shown=doc)


def _seconds(value: object) -> float:
    if value is None:
        raise OverrideError(f"'for' is required (a duration such as \"30s\"): {SHAPES}")
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError
        seconds = parse_duration(str(value), "for") if isinstance(value, str) else float(value)
    except ValueError:
        raise OverrideError(f"'for' must be a duration such as \"30s\", got {value!r}") from None
    if not (0 < seconds <= MAX_OVERRIDE_SECONDS) or math.isnan(seconds):
        raise OverrideError(f"'for' must be above 0 and at most {MAX_OVERRIDE_SECONDS:g}s")
    return seconds


def _validated(item: dict[str, Any]) -> tuple[ResponseSpec | None, Fault | None]:
    """The response or fault of `item`, read by the loader as an outage window's."""
    from mockstatus.scenarios.loader import load_text  # only when an override is set

    route = {"match": {"path": "/"}, "respond": {"status": 200}}
    route["outage"] = [{"start": "0s", "duration": "1s", **item}]
    text = json.dumps({"routes": [route]}, indent=1)
    try:
        scenario = load_text(text, "override", Path("."), "override")
    except ScenarioError as err:
        problems = tuple(p.message for p in err.problems)
        raise OverrideError("the override was rejected: " + "; ".join(problems), problems) from None
    window = scenario.routes[0].outage[0]
    return window.respond, window.fault
