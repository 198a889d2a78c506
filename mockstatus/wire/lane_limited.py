"""The fast lane's rate-limit tier (issues 13 and 19): a route whose bytes are fixed but for the
values of its rate-limit fields, answered from the parser callback with the decision made in line.

`prepared.limit_only` says which routes qualify (a static response and one default policy). Its
allowed answer and its 429 are rendered once per (path, method, format, version, keep-alive) by
the general path's own code (`ScenarioRuntime.build` and `_rejected`, then `fastlane.render`)
with a marker in place of each field value; per request the one `RateLimiter.check` of the
general path decides and its values are spliced in. The general path's field order, the names a
route's own headers replace (`_prepend`) and Date all come from that one rendering, so both
paths send the same bytes (tests/test_fastlane_limited.py compares them).

Only while the state is this process's (`Lane.shared` false): with a shared store the decision is
the store's, so the route goes the general way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter
from typing import TYPE_CHECKING, Any, cast

from aiohttp.helpers import rfc822_formatted_time

from mockstatus.scenarios.model import Route
from mockstatus.scenarios.ratelimit import rate_headers
from mockstatus.scenarios.runtime import ScenarioRuntime, route_key
from mockstatus.semantics import preparable
from mockstatus.types import EMPTY_QUERY, RequestFacts, ResponsePlan

if TYPE_CHECKING:
    from aiohttp.http_parser import RawRequestMessage

# A value's slot in the rendered bytes: R remaining, S reset seconds, A Retry-After, D Date.
_MARK = re.compile(rb"\x01([RSAD])\x01")
_SLOT_INDEX = {b"R": 0, b"S": 1, b"A": 2, b"D": 3}
_CONVERSION = {b"R": b"%d", b"S": b"%d", b"A": b"%d", b"D": b"%b"}
# fastlane.render (passed in: fastlane imports this module)
Render = Callable[
    [ResponsePlan, str, tuple[int, int], bool], tuple[bytes, bytes | None, str | None]
]
_GLOBAL = RequestFacts(method="GET", path="/")  # a global key reads nothing of the request
# What `rate_headers` writes for remaining and reset: it only str()s them, so markers pass.
_REMAINING = cast(int, "\x01R\x01")
_RESET = cast(int, "\x01S\x01")
_RETRY = "\x01A\x01"
_DATE_SLOT = "\x01D\x01"
_date_cache: list[Any] = ["", b""]  # aiohttp's once-a-second Date string, and its bytes


def _date_bytes() -> bytes:
    date = rfc822_formatted_time()
    if date is not _date_cache[0]:  # a new second: aiohttp hands out a new string
        _date_cache[0], _date_cache[1] = date, date.encode("ascii")
    return _date_cache[1]


class Template:
    """Rendered bytes with slots for the decision's values and Date, kept as a bytes `%` format
    (`%d` for the numbers, `%b` for Date, every other `%` doubled) and an `itemgetter` that puts
    (remaining, reset, Retry-After, Date) in slot order: both run in C, ~30 % cheaper than
    filling and joining the pieces in Python, ~3x cheaper than a str format (timeit)."""

    __slots__ = ("format", "length", "pick", "status")

    def __init__(self, whole: bytes, status: int, length: str | None) -> None:
        split = _MARK.split(whole)
        slots = [_SLOT_INDEX[name] for name in split[1::2]]
        self.format = b"".join(
            piece.replace(b"%", b"%%") if i % 2 == 0 else _CONVERSION[piece]
            for i, piece in enumerate(split)
        )
        # itemgetter of one index gives the item itself, of several a tuple.
        self.pick = itemgetter(*slots) if len(slots) > 1 else lambda v: (v[slots[0]],)
        self.status = status
        self.length = length or "0"  # what the access log says (fastlane.Entry.length)

    def fill(self, values: tuple[int, int, int, bytes]) -> bytes:
        """The bytes with (remaining, reset, Retry-After, Date) in their slots."""
        return self.format % self.pick(values)


class LimitedEntry:
    """One rate-limited route's answers for one (path, method, format, version, keep-alive)."""

    __slots__ = (
        "allowed",
        "conditional",
        "count_key",
        "facts_needed",
        "keep_alive",
        "key",
        "owner",
        "rejected",
        "route",
        "runtime",
        "scenario",
        "spec",
    )

    def __init__(
        self,
        runtime: ScenarioRuntime,
        route: Route,
        allowed: Template,
        rejected: Template,
        keep_alive: bool,
    ) -> None:
        assert route.rate_limit is not None
        self.runtime = runtime
        self.spec = route.rate_limit
        self.owner = route_key(route)  # the bucket owner of a simple limit (route_limits)
        self.scenario = route.scenario
        self.route = route.name
        self.count_key = (self.owner, "")
        self.allowed = allowed
        self.rejected = rejected
        self.keep_alive = keep_alive
        # A 200 may turn into 304/412 on If-* fields: those requests take the second tier.
        self.conditional = allowed.status == 200
        self.facts_needed = self.spec.key != "global"
        self.key: tuple[str, str, str, tuple[int, int], bool] | None = None  # set by the Lane

    def answer(self, msg: RawRequestMessage, remote: str) -> tuple[bytes, Template]:
        """(the bytes, which answer) for one request: `ScenarioRuntime.respond`'s simple-limit
        branch, step for step, for a request without session, query or body."""
        runtime = self.runtime
        state = runtime.sessions.get(None) or runtime.session(None)
        if self.facts_needed:
            version = msg.version
            facts = RequestFacts(
                method=msg.method,
                path=msg.path,
                query=EMPTY_QUERY,
                headers=msg.headers,
                header_items=msg.headers.items(),
                version=(version.major, version.minor),
                remote=remote,
            )
        else:
            facts = _GLOBAL
        allowed, remaining, reset, retry = state.limiter.take(
            self.owner, self.spec, facts, runtime.clock.monotonic()
        )
        if allowed:
            counts = state.counts
            key = self.count_key
            counts[key] = counts.get(key, 0) + 1  # the route's call count (admin "calls")
            template = self.allowed
        else:
            runtime.rejections[(self.scenario, self.route)] += 1
            template = self.rejected
        return template.fill((remaining, reset, retry, _date_bytes())), template


def limited_entry(
    runtime: ScenarioRuntime,
    route: Route,
    facts: RequestFacts,
    keep_alive: bool,
    render: Render,
) -> LimitedEntry | None:
    """The entry for `route` (`prepared.limit_only` said yes), or None when its answers cannot
    be rendered with slots (then the second tier plans it per request). The fields are
    `rate_headers`' own, rendered with markers for the two values that change; `build` and
    `_rejected` place them (and drop those the route sets itself) as on the general path."""
    spec = route.rate_limit
    assert spec is not None and route.respond is not None
    try:
        fields = rate_headers(spec, _REMAINING, _RESET)
    except (TypeError, ValueError):  # a field format that does more than str() the values
        return None
    plan = runtime.build(route.respond, facts, {}, 1, fields)
    refusal = runtime._rejected(facts, (("Retry-After", _RETRY), *fields))
    templates = []
    for answer in (plan, refusal):
        if not preparable(answer) or answer.note is not None:
            return None
        before, after, length = render(answer, facts.method, facts.version, keep_alive)
        if after is None:
            return None  # a Date of its own (`preparable` refuses those already)
        templates.append(Template(before + _DATE_SLOT.encode() + after, answer.status, length))
    # Proof at build time, once per entry: with sample values, the slotted bytes equal the
    # general path's rendering of the same decision (else this route takes the second tier).
    remaining, reset, retry, date = 7, 9, 11, b"Thu, 01 Jan 2026 00:00:00 GMT"
    sample = rate_headers(spec, remaining, reset)
    for template, general in (
        (templates[0], runtime.build(route.respond, facts, {}, 1, sample)),
        (templates[1], runtime._rejected(facts, (("Retry-After", str(retry)), *sample))),
    ):
        before, after, _ = render(general, facts.method, facts.version, keep_alive)
        if after is None or template.fill((remaining, reset, retry, date)) != before + date + after:
            return None
    return LimitedEntry(runtime, route, templates[0], templates[1], keep_alive)
