"""Which requests can be answered from bytes rendered in advance (issue 19), decided purely.

A request qualifies when its answer depends on nothing but its method (GET or HEAD), its path
and the negotiated format: `/status/{code}` without a query for a memoisable code, the index
page, and a scenario route that nothing but method and path select and whose response has no
template, no behaviour (rate limit, outage, chaos, latency, sequence, state) and no per-request
header. `prepare` names that answer; the wire (`wire.fastlane`) renders and serves its bytes and
checks what this module cannot know in advance (no query, no body, no Expect, no session, ...).
No aiohttp here.
"""

from __future__ import annotations

from dataclasses import dataclass

from mockstatus import endpoints
from mockstatus.http_syntax import ADMIN_PREFIX
from mockstatus.scenarios import ratelimit_respond
from mockstatus.scenarios.model import Route
from mockstatus.scenarios.runtime import ScenarioRuntime, route_key
from mockstatus.semantics import StatusSemantics, preparable
from mockstatus.types import RequestFacts, ResponsePlan

PREPARED_METHODS = ("GET", "HEAD")
# An Accept value that negotiates each format (semantics.negotiate), to build the facts with.
ACCEPT_OF = {"text": "text/plain", "json": "application/json", "html": "text/html"}


@dataclass(frozen=True, slots=True)
class Prepared:
    """A preparable answer: its plan and what the journal and metrics record for it."""

    plan: ResponsePlan
    scenario: str | None = None
    route: str | None = None
    # The route's call counter in the default session (`(route_key, "")`): the admin view's
    # "calls" must count lane answers too.
    count_key: tuple[str, str] | None = None
    # A 200 turns into 304/412 on If-* request fields (semantics.answer_preconditions): the
    # wire sends such requests the general way.
    conditional: bool = False


@dataclass(frozen=True, slots=True)
class Selection:
    """What the routes alone say about a method and path (one scan of the candidates, cached by
    the wire: a `~regex` route runs once per distinct path, not once per question)."""

    builtin: bool = False  # no route can answer: the built-in endpoints do
    route: Route | None = None  # the route that always answers (only method and path select it)
    renderable: bool = False  # see `renderable`


GENERAL = Selection()  # decided per request by the general path


def select(method: str, path: str, runtime: ScenarioRuntime | None) -> Selection:
    """Scan the routes that could answer `method path` (no query, body or session header)."""
    if method not in PREPARED_METHODS or path.startswith(ADMIN_PREFIX):
        return GENERAL
    if runtime is None or not runtime.has_routes:
        return Selection(builtin=True)
    first: Route | None = None
    first_conditional = False
    plain = True
    candidates = runtime.matcher.candidates(path)
    forced = runtime.overrides.table  # an overridden route is decided per request
    for route in candidates:
        spec = route.match
        if spec.methods is not None and method not in spec.methods:
            continue
        if spec.path is not None and spec.path.match(path) is None:
            continue
        if forced and f"{route.scenario}/{route.name}" in forced:
            return GENERAL
        # Only when nothing but method and path select a route is the answer known in advance
        # (a query, header, body or state condition is not).
        conditional = not spec.by_method_and_path_only or route.state is not None
        plain = plain and spec.body is None and not spec.form and _plain(route)
        if first is None:
            first, first_conditional = route, conditional
        if not conditional:
            break  # this one always matches: later routes are never reached
    if first is None:
        # A route on this path for another method is a near miss the journal must record
        # (scenarios/nearmiss): only the general path computes it.
        return GENERAL if candidates else Selection(builtin=True)
    return Selection(route=None if first_conditional else first, renderable=plain)


def prepare(
    method: str,
    path: str,
    fmt: str,
    http11: bool,
    sem: StatusSemantics,
    runtime: ScenarioRuntime | None,
    selection: Selection | None = None,
) -> Prepared | None:
    """The answer to `method path` (no query, no body, no session header) negotiated to `fmt`,
    when it can be prepared; None when the request must take the general path."""
    if selection is None:
        selection = select(method, path, runtime)
    if method not in PREPARED_METHODS or path.startswith(ADMIN_PREFIX):
        return None
    facts = RequestFacts(
        method=method,
        path=path,
        headers={"accept": ACCEPT_OF[fmt]},
        version=(1, 1) if http11 else (1, 0),
    )
    if selection.route is not None and runtime is not None:
        return _route_answer(selection.route, facts, runtime)
    if not selection.builtin:
        return None
    if path == "/":
        return _checked(endpoints.index_plan(facts))
    if path.startswith("/status/"):
        spec_text = path[8:]
        # Exactly the three digits a code is written with: other spellings (`503/`, `0503`,
        # lists) go the general way, which parses them.
        if len(spec_text) == 3 and spec_text.isascii() and spec_text.isdigit():
            code = int(spec_text)
            if 100 <= code <= 599:
                plan = sem.prepared(code, method, fmt)
                if plan is not None:
                    return Prepared(plan, conditional=plan.status == 200)
    return None


def _route_answer(route: Route, facts: RequestFacts, runtime: ScenarioRuntime) -> Prepared | None:
    if (
        route.respond is None
        or route.sequence is not None
        or route.rate_limit is not None
        or route.outage
        or route.chaos
        or route.latency is not None
        or route.state is not None
        or not runtime._is_static(route.respond)  # templates or a weighted status
    ):
        return None
    plan = runtime.build(route.respond, facts, {}, 1)
    prepared = _checked(plan, route.scenario, route.name, (route_key(route), ""))
    return prepared


def _checked(
    plan: ResponsePlan,
    scenario: str | None = None,
    route: str | None = None,
    count_key: tuple[str, str] | None = None,
) -> Prepared | None:
    if not preparable(plan):
        return None
    return Prepared(plan, scenario, route, count_key, conditional=plan.status == 200)


def limit_only(route: Route, runtime: ScenarioRuntime) -> bool:
    """Whether `route` (selected by method and path alone) answers fixed bytes but for the fields
    of one in-memory rate limit: a static response, no other behaviour, and the single default
    policy (`RouteLimits.simple`: cost 1, default fields, default rejection). Its decision is
    then `RateLimiter.check` per request and only those field values change (wire.lane_limited).
    """
    respond = route.respond
    if (
        respond is None
        or route.rate_limit is None
        or route.sequence is not None
        or route.outage
        or route.chaos
        or route.latency is not None
        or route.state is not None
        or respond.proxy is not None
        or respond.verbatim
        or not runtime._is_static(respond)  # templates or a weighted status
    ):
        return False
    return ratelimit_respond.route_limits(route, route_key(route)).simple


def renderable(method: str, path: str, runtime: ScenarioRuntime | None) -> bool:
    """Whether `method path` (no query, no body, no session header) is answered by a scenario
    route whose plan the wire may render per request without aiohttp: every route that could
    answer it has no body condition and no behaviour that waits, interleaves or breaks (latency,
    chaos, delays, faults, drips, interims). Rate limits, outages, sequences, states and templates
    are fine: `runtime.respond` plans them per request as on the general path."""
    return select(method, path, runtime).renderable


def _plain(route: Route) -> bool:
    if route.chaos or route.latency is not None:
        return False
    if any(window.fault is not None for window in route.outage):
        return False
    specs = [route.respond, *(window.respond for window in route.outage)]
    if route.sequence is not None:
        specs += [step for step, _ in route.sequence.steps]
    return all(
        spec is None
        or not (
            spec.delay
            or spec.fault is not None
            or spec.drip is not None
            or spec.interim
            or spec.stream is not None  # a timed body (wire/streams)
        )
        for spec in specs
    )
