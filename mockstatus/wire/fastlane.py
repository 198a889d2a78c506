"""The fast lane (issue 19): answers rendered in advance, written from the parser callback.

`prepared.prepare` (pure) says which requests have an answer fixed by method, path and
negotiated format; this module renders those plans to the exact bytes aiohttp would send
(tests/test_fastlane_bytes.py compares the two paths over the whole `/status` catalog) and
serves them from `data_received`, without aiohttp's request, response, writer or task.

The lane takes a request only when the connection is idle — aiohttp's message loop is parked
waiting for the next request, nothing is queued, the transport accepts writes — and only while
every earlier request of the same data chunk was a lane answer too: once one request goes the
general way, every later one of the connection queues behind it, so pipelined answers keep
their order. It never takes a request with a body (Content-Length or chunked: aiohttp frames
and consumes those), `Expect`, `Upgrade`, `X-Mockstatus-Session`, a query, a path aiohttp
would decode or normalise, or (for a 200) a precondition field. Each answer records the same
journal entry, metric, route call count and access-log line as the general path.

aiohttp's private API used here (pinned `<3.15`; tests/test_fastlane_api.py fails loudly when
it changes): `RequestHandler._parser`, `_messages`, `_waiter`, `_payload_parser`, `_upgraded`,
`_paused`, `_keepalive*`, `_next_keepalive_close_time`, `_process_keepalive`,
`_request_count`, `_max_msg_queue_size`, `_ErrInfo`, `HttpRequestParser.message_consumed`,
`Server._connections` (the delayed answers a shutdown drain waits for).
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.web_protocol import _ErrInfo
from multidict import CIMultiDict

from mockstatus import accesslog, queries
from mockstatus.errors import RequestError
from mockstatus.http_syntax import SESSION_HEADER, valid_host
from mockstatus.idcache import IdentityCache
from mockstatus.limits import MAX_FAST_LANE_ENTRIES, MAX_FAST_LANE_HELD, MAX_FAST_LANE_REPEAT
from mockstatus.prepared import ACCEPT_OF, Prepared, Selection, limit_only, prepare, select
from mockstatus.semantics import StatusSemantics, negotiate
from mockstatus.types import EMPTY_QUERY, Query, RequestFacts, ResponsePlan
from mockstatus.wire.lane_limited import LimitedEntry, limited_entry
from mockstatus.wire.server import ConnectionHandler, MockstatusServer, keeps_its_body

ENV = "MOCKSTATUS_FAST_LANE"
_EMPTY_STATUS = frozenset((204, 304, *range(100, 200)))  # aiohttp's EMPTY_BODY_STATUS_CODES
_SLEEP_ONLY = re.compile(r"sleep=[0-9]{1,6}(?:\.[0-9]{1,3})?")  # the timed lane's one query


def enabled_from_env(env: Mapping[str, str] = os.environ) -> bool:
    """`MOCKSTATUS_FAST_LANE`: on unless it says off/0/false/no."""
    return env.get(ENV, "on").strip().lower() not in ("off", "0", "false", "no")


# --- rendering ------------------------------------------------------------------------------


def render(
    plan: ResponsePlan, method: str, version: tuple[int, int], keep_alive: bool
) -> tuple[bytes, bytes | None, str | None]:
    """(bytes before the Date value, bytes after it, Content-Length) of the response aiohttp
    writes for `wire.build_response(plan)` (web_response `_start`/`_prepare_headers`, step by
    step). The second part is None when the plan sets its own Date (then the first is whole)."""
    status = plan.status
    headers: CIMultiDict[str] = CIMultiDict(plan.headers)
    body = b"" if plan.bodiless or plan.content_length_zero else plan.body
    if plan.content_length_zero:
        headers["Content-Length"] = "0"
    empty = status in _EMPTY_STATUS or method == "HEAD"
    # Response._start
    if "Content-Length" in headers:
        if status in _EMPTY_STATUS:
            del headers["Content-Length"]
    elif body or (status != 304 and method != "HEAD"):
        headers["Content-Length"] = str(len(body))
    length = headers.get("Content-Length")
    # StreamResponse._prepare_headers
    if empty:
        if status in _EMPTY_STATUS:
            headers.popall("Content-Length", None)
            length = None
    elif length != "0":
        headers.setdefault("Content-Type", "application/octet-stream")
    own_date = "Date" in headers
    if not own_date:
        headers["Date"] = "\x00"  # the slot, cut out below
    headers.setdefault("Server", "mockstatus")  # plans always carry Server (semantics.finish)
    if "Connection" not in headers:
        if keep_alive:
            if version == (1, 0):
                headers["Connection"] = "keep-alive"
        elif version == (1, 1):
            headers["Connection"] = "close"
    lines = [f"HTTP/{version[0]}.{version[1]} {status} {plan.reason}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers.items()]
    head = ("".join(lines) + "\r\n").encode("utf-8")
    whole = head + (b"" if empty else body)
    if own_date:
        return whole, None, length
    before, _, after = whole.partition(b"Date: \x00")
    return before + b"Date: ", after, length


def due_time(now: float, delay: float, coarse: bool) -> float:
    """When a delayed answer is due, counted from `now`, the loop's time as the request's chunk
    arrived. asyncio's clock is exact. uvloop's (`coarse`) is libuv's millisecond clock, cached
    per loop iteration and truncated, and its timers round to the millisecond, so `now + delay`
    fired up to a millisecond early (80 of 200 `sleep=100` timers in a test). There the arrival
    lies between `now` and both `now` + 1 ms and the precise clock read here: the earlier of
    those two, plus the delay, rounded up to the millisecond, is never early and at most about
    half a millisecond late when the loop is idle."""
    if not coarse:
        return now + delay
    return math.ceil((min(now + 0.001, time.monotonic()) + delay) * 1000) / 1000


def _date() -> bytes:
    return rfc822_formatted_time().encode("ascii")


class Entry:
    """One prepared answer for one (path, method, format, version, keep-alive)."""

    __slots__ = (
        "after",
        "before",
        "conditional",
        "count_key",
        "date",
        "keep_alive",
        "key",
        "length",
        "route",
        "scenario",
        "status",
        "wire",
    )

    def __init__(self, prepared: Prepared, method: str, version: tuple[int, int], keep_alive: bool):
        plan = prepared.plan
        self.before, self.after, length = render(plan, method, version, keep_alive)
        # What the access log says: aiohttp's Response.content_length, the Content-Length
        # field, else the length of the body it was given (none for 204/304: 0).
        self.length = length or "0"
        self.status = plan.status
        self.scenario = prepared.scenario
        self.route = prepared.route
        self.count_key = prepared.count_key
        self.conditional = prepared.conditional
        self.keep_alive = keep_alive
        self.key: tuple[str, str, str, tuple[int, int], bool] | None = None  # set by Lane
        self.date = ""
        self.wire = self.before

    def bytes_now(self) -> bytes:
        """The answer with the current Date (aiohttp's once-a-second cached string)."""
        if self.after is None:
            return self.before
        date = rfc822_formatted_time()
        if date is not self.date:  # a new second: the cache hands out a new string
            self.date = date
            self.wire = self.before + date.encode("ascii") + self.after
        return self.wire


class Timed(NamedTuple):
    """A prepared answer to send after a delay (`/status/{code}?sleep=N`)."""

    entry: Entry
    delay: float
    query: str  # for the journal


class Lane:
    """The prepared answers of one server, rebuilt whenever the scenario store swaps."""

    def __init__(
        self,
        *,
        semantics: StatusSemantics,
        store: Any,
        journal: Any,
        metrics: Any,
        clock: Any,
    ) -> None:
        self.semantics = semantics
        self.store = store
        self.journal = journal
        self.metrics = metrics
        self.clock = clock
        self.runtime = store.runtime
        self.entries: dict[
            tuple[str, str, str, tuple[int, int], bool], Entry | LimitedEntry | None
        ] = {}
        # (method, path) -> what the routes say about it (one candidate scan per pair).
        self.selections: dict[tuple[str, str], Selection] = {}
        # The second tier's renderings of reused plans (`rendered_entry`), by plan identity.
        self.rendered: IdentityCache[ResponsePlan, dict[tuple[str, tuple[int, int], bool], Entry]]
        self.rendered = IdentityCache(MAX_FAST_LANE_ENTRIES)
        self.answered = 0  # requests the lane answered (tests, bench)
        self.repeats = 0  # of those, parsed from a connection's repeated bytes (tests, bench)
        # `sleep=N` query → its delay in seconds, parsed once: parse_options is ~70 % of a
        # timed lookup (timeit; bench/sleep.py at 1,000 connections is CPU-bound).
        self.delays: dict[str, float] = {}
        # (answer, `sleep=N` query) → its Timed, made once: a timed answer allocates nothing
        # that lives through its delay but aiohttp's parsed message and one TimerHandle (every
        # such object brings CPython's young collection nearer; bench/sleep.py, 1,000 conns).
        self.timed: dict[tuple[Entry, str], Timed] = {}
        # Scenario state in a shared store (`--state`): no per-request plans or rate-limit
        # decisions here (the second and rate-limit tiers step aside; the store decides).
        self.shared = False

    def reset(self) -> None:
        """The configuration changed: forget every answer, render the exact scenario paths."""
        self.entries = {}
        self.selections = {}
        self.timed = {}
        self.rendered.clear()
        self.runtime = self.store.runtime
        runtime = self.runtime
        if runtime is None or not runtime.has_routes:
            return
        for route in runtime.matcher.routes:
            pattern = route.match.path
            if pattern is None or pattern.exact is None:
                continue
            for method in ("GET", "HEAD"):
                for fmt in ("text", "json", "html"):
                    self._build((pattern.exact, method, fmt, (1, 1), True))

    def rendered_entry(
        self, plan: ResponsePlan, method: str, version: tuple[int, int], keep_alive: bool
    ) -> Entry:
        """The second tier's bytes of a reused plan, rendered once per (method, version,
        keep-alive) instead of per request (bench: a static sequence route, see
        docs/architecture.md); the cache holds the plan, so its id is not reused meanwhile."""
        found = self.rendered.get(id(plan))
        variants = found[1] if found is not None else self.rendered.put(plan, {})
        key = (method, version, keep_alive)
        entry = variants.get(key)
        if entry is None:
            entry = variants[key] = Entry(Prepared(plan), method, version, keep_alive)
        return entry

    def _selection(self, method: str, path: str) -> Selection:
        key = (method, path)
        selection = self.selections.get(key)
        if selection is None:
            if len(self.selections) >= MAX_FAST_LANE_ENTRIES:
                self.selections.clear()  # client-chosen paths: bounded
            selection = self.selections[key] = select(method, path, self.runtime)
        return selection

    def closing(self, entry: Entry) -> Entry:
        """The same answer saying `Connection: close` (the server is shutting down)."""
        if not entry.keep_alive or entry.key is None:
            return entry
        key = (*entry.key[:4], False)
        closing = self.entries.get(key) or self._build(key)
        return closing if isinstance(closing, Entry) else entry

    def _build(
        self, key: tuple[str, str, str, tuple[int, int], bool]
    ) -> Entry | LimitedEntry | None:
        path, method, fmt, version, keep_alive = key
        selection = self._selection(method, path)
        prepared = prepare(
            method, path, fmt, version == (1, 1), self.semantics, self.runtime, selection
        )
        entry: Entry | LimitedEntry | None = None
        if prepared is not None:
            entry = Entry(prepared, method, version, keep_alive)
        else:
            entry = self._limited(method, path, fmt, version, keep_alive, selection)
        if entry is not None:
            entry.key = key
        if len(self.entries) >= MAX_FAST_LANE_ENTRIES:
            self.entries.clear()  # client-chosen paths: bounded, rebuilt on demand
        self.entries[key] = entry
        return entry

    def _limited(
        self,
        method: str,
        path: str,
        fmt: str,
        version: tuple[int, int],
        keep_alive: bool,
        selection: Selection,
    ) -> LimitedEntry | None:
        """The rate-limit tier's entry (wire.lane_limited) when the one route that always
        answers `method path` is static but for one in-memory rate limit."""
        route, runtime = selection.route, self.runtime
        if route is None or runtime is None or not limit_only(route, runtime):
            return None
        facts = RequestFacts(
            method=method, path=path, headers={"accept": ACCEPT_OF[fmt]}, version=version
        )
        return limited_entry(runtime, route, facts, keep_alive, render)

    def lookup(self, msg: RawRequestMessage) -> Entry | LimitedEntry | Timed | bool:
        """The prepared answer for a parsed request without a body (with its delay for
        `/status/{code}?sleep=N`); else True when the request is plain enough for `respond`
        (the second tier), False for the general path."""
        method = msg.method
        if method != "GET" and method != "HEAD":
            return False
        headers = msg.headers
        if "Expect" in headers or "Upgrade" in headers or SESSION_HEADER in headers:
            return False
        host = headers.get("Host")
        if host is not None and not valid_host(host):
            return False  # the general path answers 400
        target = msg.path
        query = ""
        if "?" in target:
            target, _, query = target.partition("?")
            if not target.startswith("/status/") or not _SLEEP_ONLY.fullmatch(query):
                return False
        accept = headers.get("Accept")
        key = (
            target,
            method,
            negotiate(accept) if accept else "text",
            msg.version,
            not msg.should_close,
        )
        try:
            entry = self.entries[key]
        except KeyError:
            url = msg.url
            # Only a target that is exactly its path (no query, fragment, escapes, dot segments
            # or absolute form): the key is then the path the general path would see.
            if (
                msg.version not in ((1, 1), (1, 0))
                or url.raw_query_string != query
                or url.raw_fragment
                or url.path != target
            ):
                return False
            entry = self._build(key)
        if entry is None:
            return not query  # no query: try the second tier
        if entry.conditional and (
            "If-None-Match" in headers
            or "If-Modified-Since" in headers
            or "If-Match" in headers
            or "If-Unmodified-Since" in headers
        ):
            # A scenario route's preconditions are answered by `respond`.
            return not query  # no query: try the second tier
        if not isinstance(entry, Entry):  # the rate-limit tier
            # Its decision is the state store's when that is shared: the general way.
            return not query and not self.shared and entry
        if query:
            return self._timed(entry, query)
        return entry

    def _timed(self, entry: Entry, query: str) -> Timed | bool:
        """`/status/{code}?sleep=N`: the prepared answer of `/status/{code}` after N ms (the
        plan differs only in its delay: tests/test_fastlane_bytes.py)."""
        timed = self.timed.get((entry, query))
        if timed is not None:
            return timed
        if entry.scenario is not None:
            return False  # a scenario route: its query is the route's business
        delay = self.delays.get(query)
        if delay is None:
            try:
                delay = queries.parse_options(Query((("sleep", query[6:]),))).sleep
            except RequestError:
                return False  # out of range: the general path says why
            if len(self.delays) >= MAX_FAST_LANE_ENTRIES:
                self.delays.clear()  # client-chosen values: bounded
            self.delays[query] = delay
        if len(self.timed) >= MAX_FAST_LANE_ENTRIES:
            self.timed.clear()  # client-chosen values: bounded
        timed = self.timed[(entry, query)] = Timed(entry, delay, query)
        return timed

    def respond(self, msg: RawRequestMessage, remote: str) -> tuple[ResponsePlan, str, str] | None:
        """The second tier: a scenario route planned per request (rate limits, templates,
        sequences, outages) by the same `runtime.respond` as the general path, for the wire to
        render; None when the request must go the general way. Called after `lookup` found no
        prepared answer, so the target is already known to be a plain path."""
        method = msg.method
        path = msg.path
        runtime = self.runtime
        if runtime is None or self.shared or not self._selection(method, path).renderable:
            return None  # shared state (`--state`): the general path asks the store
        headers = msg.headers
        version = msg.version
        facts = RequestFacts(
            method=method,
            path=path,
            query=EMPTY_QUERY,
            headers=headers,
            header_items=headers.items(),
            version=(version.major, version.minor),
            remote=remote,
        )
        return runtime.respond(facts)

    def record(
        self,
        msg: RawRequestMessage,
        status: int,
        scenario: str | None,
        route: str | None,
        count_key: tuple[str, str] | None,
        started: float,
        query: str = "",
        note: str | None = None,
    ) -> None:
        """The journal entry, metric and call count the general path records (app.handle)."""
        if count_key is not None:
            runtime = self.runtime
            if runtime is not None:
                counts = runtime.session(None).counts
                counts[count_key] = counts.get(count_key, 0) + 1
        self.metrics.observe(scenario, route, status, None)
        self.journal.record(
            self.clock.wall(),
            msg.method,
            msg.path.partition("?")[0] if query else msg.path,
            query,
            msg.headers,
            None,
            scenario,
            route,
            None,
            status,
            None,
            (time.perf_counter() - started) * 1000,
            "HTTP/1.1" if msg.version == (1, 1) else "HTTP/1.0",  # the lane takes no other
            note=note,
        )


# --- the connection -------------------------------------------------------------------------


def feed(parser: Any, data: bytes) -> tuple[list[Any], bool, bytes]:
    """`parser.feed_data(data)`, a parse error turned into the message aiohttp's own
    data_received queues for it (a 400 `_ErrInfo`)."""
    try:
        messages, upgraded, tail = parser.feed_data(data)
    except HttpProcessingError as exc:
        return [(_ErrInfo(status=400, exc=exc, message=exc.message), EMPTY_PAYLOAD)], False, b""
    return messages, upgraded, tail


def feed_heads(parser: Any, data: bytes, end: int) -> tuple[list[Any], bool, bytes, bytes]:
    """Feed `data` to `parser`, which stands between requests, one request head at a time
    (`end`: where the first head ends) while each piece ends a bodiless request, the rest whole:
    aiohttp's parser drops every message of a feed in which one is malformed, so the messages
    before a malformed one are kept and its error follows them. Returns (messages, upgraded,
    tail, unfed): `unfed` is a last piece with no complete head, left for the caller to check
    (an HTTP/0.9 line never gets the blank line the parser would wait for)."""
    messages: list[Any] = []
    start, size = 0, len(data)
    cut = size if keeps_its_body(data, 0, end) else end + 4
    while True:
        got, upgraded, tail = feed(parser, data[start:cut])
        messages += got
        if got and type(got[-1][0]) is _ErrInfo:
            return messages, False, b"", b""
        start = cut
        if upgraded:
            return messages, True, tail + data[start:], b""
        if start >= size:
            return messages, False, tail, b""
        if not (got and got[-1][1] is EMPTY_PAYLOAD and not got[-1][0].upgrade):
            cut = size  # inside a body, after an Upgrade or empty lines: the rest whole
            continue
        end = data.find(b"\r\n\r\n", start)
        if end < 0:
            return messages, False, tail, data[start:]
        cut = size if keeps_its_body(data, start, end) else end + 4


class FastLaneHandler(ConnectionHandler):
    """ConnectionHandler whose HTTP/1 data path answers prepared requests in place."""

    def __init__(self, manager: MockstatusServer, *, lane: Lane, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._lane = lane
        logger = self.access_logger
        self._lane_log = logger is not None
        # Another access logger than ours: its lines need aiohttp's objects, so no lane.
        self._lane_off = logger is not None and not isinstance(
            logger, accesslog.CompactAccessLogger
        )
        self._remote: str | None = None
        # A timed answer (`?sleep=`) waiting on its call_at: bytes that arrive meanwhile are held
        # unparsed (reading pauses past MAX_FAST_LANE_HELD) and fed once it is written.
        # Its request, answer and start, kept in three slots rather than a tuple (see Lane.timed).
        self._lane_timer: asyncio.TimerHandle | None = None
        self._lane_msg: RawRequestMessage | None = None
        self._lane_timed: Timed | None = None
        self._lane_started = 0.0
        # Made only when the server's drain asks (`in_flight`): no future per delayed answer.
        self._lane_future: asyncio.Future[None] | None = None
        self._held = b""
        self._held_paused = False
        # The last chunk that was one whole request on its own, parsed from `_clean` (the parser
        # between requests), with what the parser made of it: reused when the same bytes come
        # again from the same state (http1_data_received).
        self._repeat = b""
        self._repeat_messages: list[Any] = []
        self._coarse_clock = not isinstance(
            self._loop, asyncio.BaseEventLoop
        )  # uvloop's: see due_time

    def http1_data_received(self, data: bytes) -> None:
        if self._lane_timer is not None:
            self._hold(data)
            return
        waiter = self._waiter
        if (
            waiter is None
            or waiter.done()
            or self._messages
            or self._force_close
            or self._close
            or self._payload_parser is not None
            or self._upgraded
            or self._paused
            or self._lane_off
        ):
            # aiohttp's parse, which keeps `_clean` and cuts the segment between requests; the
            # kept parse stays the lane's own (reused only after bytes the lane alone parsed)
            self._repeat, self._repeat_messages = b"", []  # b"" is a feed too
            ConnectionHandler.http1_data_received(self, data)
            return
        if self._clean and data == self._repeat:
            # Load generators and client pools send the same bytes request after request: from
            # the same parser state they parse to the same message, so the parse is reused
            # (aiohttp's parser costs a tenth of a lane answer). Nothing was fed: if the lane
            # declines now (a reload changed the answer), the bytes are parsed below as usual.
            done = self._lane_answer(self._repeat_messages)
            if done:
                self._lane.repeats += 1
                return
        first_head = -1  # where the first of several heads ends, when the segment is cut
        if self._clean:
            end = data.find(b"\r\n\r\n")  # the one find the common case (one request) pays
            if end < 0:
                if self._unframed(data):
                    return  # an incomplete request line held, or a line refused
            elif end + 4 < len(data):
                first_head = end
        was_clean, self._clean = self._clean, False
        chunk = data
        unfed = b""
        parser = self._parser
        assert parser is not None
        while True:
            if first_head >= 0:
                # More than one request head: fed one at a time (one answer write all the same)
                messages, upgraded, tail, unfed = feed_heads(parser, data, first_head)
                chunk = data[: len(data) - len(unfed)]
                first_head = -1
            else:
                messages, upgraded, tail = feed(parser, data)
            done = self._lane_answer(messages) if messages else 0
            if done < 0:
                return  # answered `Connection: close`: the connection is closing
            # The parser stops emitting after `_max_msg_queue_size` messages in flight and keeps
            # the rest: when the lane took them all, ask it for the rest at once.
            if done < len(messages) or len(messages) < self._max_msg_queue_size:
                break
            data = b""
        if done == len(messages) and not upgraded:
            # the lane answered them all (an Upgrade is never answered here)
            if messages and chunk.endswith(b"\r\n\r\n"):
                # Every request the lane takes is bodiless, so the chunk ended one: the parser
                # stands between requests again.
                self._clean = True
                if was_clean and len(messages) == 1 and len(chunk) <= MAX_FAST_LANE_REPEAT:
                    self._repeat, self._repeat_messages = chunk, messages
            if unfed:
                self.http1_data_received(unfed)  # no head: its request line is checked
            return
        # The rest goes aiohttp's way, exactly as RequestHandler.data_received queues it.
        rest = messages[done:]
        for msg, payload in rest:
            self._request_count += 1
            self._messages.append((msg, payload))
        if rest and not waiter.done():
            waiter.set_result(None)
        # A parser that emitted a full queue paused and keeps the rest as its tail: reading
        # pauses too, so aiohttp's loop re-feeds that tail once it has drained the queue (the
        # lane's answers left fewer queued messages than aiohttp's own check looks for).
        full = self._max_msg_queue_size
        if not self._buffer_paused and (len(self._messages) >= full or len(messages) >= full):
            self._pause_reading_for_buffer()
        self._upgraded = upgraded
        # Between requests again when the chunk ended a bodiless request (a later segment may
        # then be cut at its heads while aiohttp answers this one).
        self._clean = (
            bool(rest)
            and self.ends_bodiless(rest[-1], chunk)
            and not upgraded
            and not self._buffer_paused
        )
        self._repeat, self._repeat_messages = b"", []
        if upgraded and tail:
            self._message_tail = tail
        if unfed:
            self.http1_data_received(unfed)  # no head: its request line is checked

    def _lane_answer(self, messages: list[Any]) -> int:
        """Answer the leading prepared requests; how many (-1: the last one closed)."""
        lane = self._lane
        transport = self.transport
        out: list[bytes] = []
        done = 0
        closing = False
        for msg, payload in messages:
            if payload is not EMPTY_PAYLOAD or type(msg) is _ErrInfo or transport is None:
                break
            started = time.perf_counter()
            found = lane.lookup(msg)
            if found is False:
                break
            if type(found) is Timed:
                if msg is not messages[-1][0]:
                    break  # more requests follow in this chunk: all go the general way
                self._count_answer()
                self._lane_msg, self._lane_timed, self._lane_started = msg, found, started
                done += 1
                break
            scenario: str | None
            route: str | None
            length: str | None
            note: str | None
            if found is True:
                answer = lane.respond(msg, self._peer())
                if answer is None:
                    break
                plan, scenario, route = answer
                keep_alive = not msg.should_close and not plan.close
                if plan.reused:  # a memoised plan (a static sequence step, state, outage...)
                    rendered = lane.rendered_entry(plan, msg.method, msg.version, keep_alive)
                    wire, length = rendered.bytes_now(), rendered.length
                else:
                    before, after, length = render(plan, msg.method, msg.version, keep_alive)
                    wire = before if after is None else before + _date() + after
                status, count_key = plan.status, None  # respond counted the call itself
                note = plan.note
            elif type(found) is LimitedEntry:
                wire, answered = found.answer(msg, self._peer())
                keep_alive, length, status = found.keep_alive, answered.length, answered.status
                scenario, route, note = found.scenario, found.route, None
                count_key = None  # counted by `answer` (allowed answers only, as respond does)
            else:
                assert isinstance(found, Entry)
                wire, keep_alive, length = found.bytes_now(), found.keep_alive, found.length
                status, scenario, route = found.status, found.scenario, found.route
                count_key = found.count_key
                note = None
            out.append(wire)
            done += 1
            self._count_answer()
            lane.record(msg, status, scenario, route, count_key, started, note=note)
            if self._lane_log:
                self._log(msg, status, length or "0", started)
            if not keep_alive:
                closing = True
                break
        if out:
            assert transport is not None
            transport.write(b"".join(out) if len(out) > 1 else out[0])
            if closing:
                self.force_close()  # flushes what was written, then closes (like aiohttp's loop)
                return -1
            self._rearm_idle_timer(0.0)
        timed = self._lane_timed
        if timed is not None and self._lane_timer is None:
            # One call_at per delayed answer: no task, no coroutine, no future (issue 19's
            # timers). The due time counts from the loop's time as this chunk arrived.
            delay = timed.delay
            due = due_time(self._loop.time(), delay, self._coarse_clock)
            self._lane_timer = self._loop.call_at(due, self._fire)
            self._rearm_idle_timer(delay)  # the idle timer counts from the answer
        return done

    def _count_answer(self) -> None:
        self._request_count += 1
        self._manager.requests_count += 1  # type: ignore[union-attr]
        self._parser.message_consumed()  # type: ignore[union-attr]
        self._lane.answered += 1

    def _rearm_idle_timer(self, after: float) -> None:
        """What aiohttp's message loop does after a keep-alive response: the idle timer counts
        from now (plus `after`, for an answer still to be written)."""
        self._keepalive = True
        loop = self._loop
        close_time = loop.time() + after + self._keepalive_timeout
        self._next_keepalive_close_time = close_time
        if self._keepalive_handle is None:
            self._keepalive_handle = loop.call_at(close_time, self._process_keepalive)

    def _hold(self, data: bytes) -> None:
        self._held += data
        transport = self.transport
        if len(self._held) > MAX_FAST_LANE_HELD and not self._held_paused and transport:
            self._held_paused = True
            transport.pause_reading()

    def in_flight(self) -> asyncio.Future[None] | None:
        """The delayed answer still to be written, as a future for the server's drain (made on
        the first ask, at shutdown only); None when there is none."""
        if self._lane_timer is None:
            return None
        future = self._lane_future
        if future is None:
            future = self._lane_future = self._loop.create_future()
            future.add_done_callback(self._cut)
        return future

    def _take_pending(self) -> tuple[RawRequestMessage, Timed, float] | None:
        """The delayed answer's request, answer and start, cleared (its drain future settled)."""
        future, self._lane_future = self._lane_future, None
        if future is not None and not future.done():
            future.set_result(None)
        msg, timed = self._lane_msg, self._lane_timed
        self._lane_msg = self._lane_timed = None
        if msg is None or timed is None:
            return None
        return msg, timed, self._lane_started

    def _cut(self, future: asyncio.Future[None]) -> None:
        """The server's drain cancelled a delayed answer at its deadline: close, no answer."""
        if not future.cancelled() or self._lane_timer is None:
            return
        self._lane_timer.cancel()
        self._lane_timer = None
        pending = self._take_pending()
        if pending is not None:
            msg, timed, started = pending
            self._lane.record(msg, timed.entry.status, None, None, None, started, timed.query)
        self.force_close()

    def _fire(self) -> None:
        """A timed answer is due: write it, then go on with what arrived meanwhile."""
        self._lane_timer = None
        msg, timed, started = self._lane_msg, self._lane_timed, self._lane_started
        assert msg is not None and timed is not None
        self._lane_msg = self._lane_timed = None
        future = self._lane_future
        if future is not None:  # the server is draining: this answer is no longer in flight
            self._lane_future = None
            if not future.done():
                future.set_result(None)
        entry = timed.entry
        if self._close or self._force_close:
            entry = self._lane.closing(entry)  # shutting down: the last answer says so
        self._lane.record(msg, entry.status, None, None, None, started, timed.query)
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(entry.bytes_now())
        if self._lane_log:
            self._log(msg, entry.status, entry.length, started)
        if not entry.keep_alive or self._close or self._force_close:
            self.force_close()  # asked to close, or the server is shutting down
            return
        self._rearm_idle_timer(0.0)
        held, self._held = self._held, b""
        if self._held_paused:
            self._held_paused = False
            transport.resume_reading()
        if held:
            self.http1_data_received(held)

    def connection_lost(self, exc: BaseException | None) -> None:
        timer = self._lane_timer
        if timer is not None:
            # The client left mid-delay: journalled like the general path's cancelled handler.
            timer.cancel()
            self._lane_timer = None
            pending = self._take_pending()
            if pending is not None:
                msg, timed, started = pending
                self._lane.record(msg, timed.entry.status, None, None, None, started, timed.query)
        super().connection_lost(exc)

    def _peer(self) -> str:
        """The client's address as `request.remote` says it ("" when unknown), once."""
        remote = self._remote
        if remote is None:
            peer = self.transport.get_extra_info("peername") if self.transport else None
            remote = str(peer[0]) if isinstance(peer, (list, tuple)) else str(peer or "")
            self._remote = remote
        return remote

    def _log(self, msg: RawRequestMessage, status: int, length: str, started: float) -> None:
        """The line CompactAccessLogger writes for the same answer."""
        version = msg.version
        accesslog._batcher.add(  # the same batched writer as CompactAccessLogger
            f'{self._peer() or "-"} - - [{accesslog._timestamp()}] "{msg.method} {msg.path} '
            f'HTTP/{version.major}.{version.minor}" {status} {length} '
            f"{(time.perf_counter() - started) * 1000:.1f}ms\n"
        )


def _in_flight(server: MockstatusServer) -> list[asyncio.Future[None]]:
    """The delayed answers of `server`'s connections, as futures (asked at shutdown only)."""
    futures = []
    for conn in server._connections:
        future = conn.in_flight() if isinstance(conn, FastLaneHandler) else None
        if future is not None:
            futures.append(future)
    return futures


def install(server: MockstatusServer, app: Any) -> Lane:
    """Serve `server`'s connections through the fast lane of `app` (a `Mockstatus`)."""
    lane = Lane(
        semantics=app.semantics,
        store=app.store,
        journal=app.journal,
        metrics=app.metrics,
        clock=app.clock,
    )
    lane.shared = getattr(app, "shared", None) is not None  # mockstatus.state: decided per request
    lane.reset()
    app.store.on_swap.append(lane.reset)
    server.in_flight.append(functools.partial(_in_flight, server))
    handler: Callable[..., ConnectionHandler] = functools.partial(FastLaneHandler, lane=lane)
    server.handler_class = handler
    return lane
