"""The dashboard's event bus: what `GET /__mockstatus/events` streams (docs/dashboard.md).

Publishing costs nothing while nobody listens: the journal calls `Journal.on_entry` only when
it is set, and the bus sets it when the first subscriber arrives and clears it when the last
one leaves (one `is not None` test per request otherwise). Every other publisher checks
`bus.subscribers` first.

While someone listens, events are queued raw (a journal entry is not even turned into a dict)
and, once per `FEED_TICK`, serialised once each as Server-Sent Events and appended as one
batch to every subscriber's buffer. A subscriber holds at most `FEED_BUFFER` events not yet
written to its socket; what does not fit is dropped for that subscriber alone and counted
(`mockstatus_events_dropped_total`), so a slow dashboard never slows request handling nor the
other dashboards. The transport (`wire/feed.py`) drains each buffer at its socket's pace.

Pure: asyncio for the tick timer and the wake-up event; no aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import operator
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from mockstatus.journal import Entry, Journal
from mockstatus.limits import (
    FEED_BUFFER,
    FEED_TEMPLATES,
    FEED_TICK,
    MAX_FEED_QUEUE,
    MAX_FEED_SUBSCRIBERS,
)

EVENT_TYPES = ("snapshot", "request", "reload", "upload", "state", "ratelimit", "override")

# An event as queued: its type and either its JSON document, a journal entry, or a callable
# that makes the document at flush time (a reload's view, built once however many subscribe).
Payload = dict[str, Any] | Entry | Callable[[], dict[str, Any]]
# Called at each flush with the tick's events: the events they imply (state, ratelimit).
Deriver = Callable[[list[tuple[str, Payload]]], Iterable[tuple[str, dict[str, Any]]]]


class FeedFull(Exception):
    """MAX_FEED_SUBSCRIBERS feeds are open already (the admin API answers 503)."""


def encode(kind: str, doc: dict[str, Any]) -> bytes:
    """One Server-Sent Event (HTML § 9.2): `event:` and one `data:` line of compact JSON.
    ASCII-only JSON: a lone surrogate (a non-UTF-8 byte aiohttp decoded) becomes `\\udcXX`, so
    encoding never fails and no line break can enter the data line."""
    return b"event: " + kind.encode() + b"\ndata: " + _ENCODER.encode(doc).encode() + b"\n\n"


class Subscriber:
    """One open feed: the encoded batches not yet written and how many events they hold."""

    __slots__ = ("chunks", "closed", "dropped", "gzip", "pending", "sink", "wake")

    def __init__(self) -> None:
        # Its feed is gzip-coded: the sink takes each tick's batch deflated (once, for every
        # such subscriber), and what waits in `chunks` is deflated by the transport (`deflate`).
        self.gzip = False
        # Writes a batch at once when the socket keeps up (False: congested, queue it). Set by
        # the transport: the common case then costs one write per tick and no task switch.
        self.sink: Callable[[bytes], bool] | None = None
        self.chunks: deque[bytes] = deque()
        self.pending = 0  # events in `chunks`
        self.dropped = 0
        self.closed = False
        self.wake = asyncio.Event()

    def take(self) -> bytes:
        """Everything queued, as one write (the buffer is then empty)."""
        data = b"".join(self.chunks)
        self.chunks.clear()
        self.pending = 0
        return data


class EventBus:
    def __init__(
        self,
        journal: Journal | None = None,
        *,
        buffer: int = FEED_BUFFER,
        tick: float = FEED_TICK,
        max_subscribers: int = MAX_FEED_SUBSCRIBERS,
    ) -> None:
        self.journal = journal
        self.buffer = buffer
        self.tick = tick
        self.max_subscribers = max_subscribers
        self.subscribers: dict[Subscriber, None] = {}  # insertion-ordered set
        self.dropped = 0  # events dropped for any subscriber (the metric)
        self.sent_batches = 0  # flushes that had events (tests, bench)
        self.tick_cpu = 0.0  # CPU seconds those flushes took (socket writes included)
        self.derive: Deriver | None = None
        self._queue: list[tuple[str, Payload]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deflater: Any = None  # the tick's shared compressor, made for the first gzip feed

    # --- subscribers ---------------------------------------------------------------------------

    def subscribe(self) -> Subscriber:
        if len(self.subscribers) >= self.max_subscribers:
            raise FeedFull(
                f"{self.max_subscribers} event feeds are open already (MAX_FEED_SUBSCRIBERS)"
            )
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:  # a plain call (unit tests): flush() is called by hand
            self._loop = None
        sub = Subscriber()
        self.subscribers[sub] = None
        if self.journal is not None:
            self.journal.on_entry = self.publish_entry
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        sub.closed = True
        sub.wake.set()
        self.subscribers.pop(sub, None)
        if not self.subscribers:
            self._queue.clear()
            if self.journal is not None:
                self.journal.on_entry = None  # the hot path is back to one test
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def close(self) -> None:
        """End every feed (server shutdown): each transport loop sees `closed` and returns."""
        for sub in list(self.subscribers):
            self.unsubscribe(sub)

    # --- publishing ----------------------------------------------------------------------------

    def publish(self, kind: str, payload: Payload) -> None:
        """Queue one event for the next tick (nothing when nobody listens)."""
        if self.subscribers:
            self._enqueue(kind, payload)

    def publish_entry(self, entry: Entry) -> None:
        """The journal's hook: one request, kept as the entry until the tick serialises it."""
        self._enqueue("request", entry)

    def _enqueue(self, kind: str, payload: Payload) -> None:
        queue = self._queue
        if len(queue) >= MAX_FEED_QUEUE:
            # That many events within one tick: the loop is starved; counted as dropped for all.
            for sub in self.subscribers:
                sub.dropped += 1
            self.dropped += len(self.subscribers)
            return
        queue.append((kind, payload))
        if self._timer is None and self._loop is not None:
            self._timer = self._loop.call_later(self.tick, self.flush)

    def flush(self) -> int:
        """Serialise the queued events once and hand the batch to every subscriber; return how
        many events the batch held."""
        self._timer = None
        events, self._queue = self._queue, []
        if not events or not self.subscribers:
            return 0
        started = time.thread_time()
        encoded = [
            encode_request(payload) if type(payload) is Entry else encode(kind, _document(payload))
            for kind, payload in events
        ]
        if self.derive is not None:
            encoded += [encode(kind, doc) for kind, doc in self.derive(events)]
        self.deliver(encoded)
        self.sent_batches += 1
        # CPU (not wall) time: what the feed takes from request handling, whatever else runs
        # on the machine (mockstatus_events_tick_cpu_seconds_total, bench/dashboard.py).
        self.tick_cpu += time.thread_time() - started
        return len(encoded)

    def deliver(self, encoded: list[bytes]) -> None:
        """Append encoded events to every subscriber's buffer, dropping what does not fit."""
        count = len(encoded)
        batch = b"".join(encoded)
        deflated = None
        limit = self.buffer
        for sub in self.subscribers:
            sink = sub.sink
            if sink is not None and not sub.chunks:
                if not sub.gzip:
                    if sink(batch):
                        continue
                else:
                    if deflated is None:
                        deflated = self._deflate_shared(batch)
                    if sink(deflated):
                        continue
            room = limit - sub.pending
            if room >= count:
                sub.chunks.append(batch)
                sub.pending += count
            else:
                lost = count - max(room, 0)
                if room > 0:
                    sub.chunks.append(b"".join(encoded[:room]))
                    sub.pending = limit
                sub.dropped += lost
                self.dropped += lost
            sub.wake.set()

    def _deflate_shared(self, batch: bytes) -> bytes:
        """The batch as raw deflate blocks, made once for every gzip feed. The full flush
        empties the compressor's history: the bytes refer to nothing sent before, so they
        continue any subscriber's stream, whichever ticks it saw (RFC 1951 §3.2.3: blocks are
        independent once the history is gone). On a steady load they are ~8x fewer than the
        batch's, and writing them 50 times costs far less than compressing them once."""
        if self._deflater is None:
            self._deflater = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
        deflater = self._deflater
        return deflater.compress(batch) + deflater.flush(zlib.Z_FULL_FLUSH)

    def send_now(self, sub: Subscriber, kind: str, doc: dict[str, Any]) -> None:
        """One event for one subscriber ahead of its buffer (the snapshot on connect)."""
        sub.chunks.appendleft(encode(kind, doc))
        sub.pending += 1
        sub.wake.set()


GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # RFC 1952 §2.3, no name, mtime 0


def deflate(data: bytes) -> bytes:
    """One subscriber's own bytes (its snapshot, a backlog, a keep-alive) as raw deflate blocks
    that end byte-aligned (a sync flush), so the shared blocks can follow them. A gzip feed is
    GZIP_HEADER and then such blocks for as long as it is open; it has no trailer because it
    ends only when the connection does. A 4 KiB window and small hash tables: a compressor is
    made for each such write (a congested feed makes one a tick), so it must be cheap to make."""
    deflater = zlib.compressobj(1, zlib.DEFLATED, -12, 4)
    return deflater.compress(data) + deflater.flush(zlib.Z_SYNC_FLUSH)


def summary(entry: Entry) -> dict[str, Any]:
    """A `request` event: the journal row the table shows, compact (the time, headers, body and
    near misses are read on demand from `GET /__mockstatus/requests?since=<seq - 1>&limit=1`). A
    field that is null, empty or the usual value is left out (docs/dashboard.md lists them):
    every byte of it is sent once per open feed, and the socket writes are most of what a feed
    costs the server (bench/dashboard.py)."""
    doc: dict[str, Any] = {
        "seq": entry.seq,
        "method": entry.method,
        "path": entry.path,
        "status": entry.status,
        "duration_ms": round(entry.duration_ms, 3),
    }
    if entry.query:
        doc["query"] = entry.query
    for name in ("scenario", "route", "session", "fault", "note"):
        value = getattr(entry, name)
        if value is not None:
            doc[name] = value
    if entry.http_version != "HTTP/1.1":
        doc["http_version"] = entry.http_version
    if entry.near_misses is not None:
        doc["unmatched"] = True
    return doc


_ENCODER = json.JSONEncoder(
    separators=(",", ":"), default=str
)  # made once: dumps() makes one per call
_text = json.encoder.encode_basestring_ascii  # C: a JSON string literal, ASCII only


def encode_request(entry: Entry) -> bytes:
    """`encode("request", summary(entry))`, written out: the one event made per request while
    a feed is open (tests/test_dashboard_api.py pins that both give the same document). Under
    load most requests share everything but their seq and duration (a client repeats its
    request; the fast lane even hands the same strings), so the event is a template made once
    per such shape, filled with two numbers: ~2x cheaper than writing it out each time
    (timeit), which is what a feed costs per request. The duration is written with `%.3f`
    (what `round(x, 3)` gives, spelt with trailing zeros)."""
    shape = (_shape_of(entry), entry[_NEAR_MISSES] is None)
    template = _templates.get(shape)
    if template is None:
        if len(_templates) >= FEED_TEMPLATES:
            _templates.clear()  # clients choose paths and sessions: bounded
        template = _templates[shape] = _template(entry)
    return template % (entry[_SEQ], entry[_DURATION])


# Every field a request event shows but its seq and duration (and whether it matched): one C
# call picks them, by position looked up once here from the names.
_SHAPE = ("method", "path", "query", "scenario", "route", "session", "status", "fault", "note")
_shape_of = operator.itemgetter(*(Entry._fields.index(name) for name in (*_SHAPE, "http_version")))
_SEQ, _DURATION, _NEAR_MISSES = (
    Entry._fields.index(n) for n in ("seq", "duration_ms", "near_misses")
)
# A request event's shape -> its bytes with `%d` for the seq and `%.3f` for the duration.
_templates: dict[tuple[object, ...], bytes] = {}


def _template(entry: Entry) -> bytes:
    rest = f'"method":{_text(entry.method)},"path":{_text(entry.path)},"status":{entry.status:d}'
    tail = ""
    if entry.query or not (
        entry.scenario is None
        and entry.route is None
        and entry.session is None
        and entry.fault is None
        and entry.note is None
    ):
        tail += _optional(entry)
    if entry.http_version != "HTTP/1.1":
        tail += ',"http_version":' + _text(entry.http_version)
    if entry.near_misses is not None:
        tail += ',"unmatched":true'
    # ASCII-only JSON: every other `%` (in a path, a note...) doubled for the fill.
    return (
        'event: request\ndata: {"seq":%d,'
        + rest.replace("%", "%%")
        + ',"duration_ms":%.3f'
        + tail.replace("%", "%%")
        + "}\n\n"
    ).encode()


def _optional(entry: Entry) -> str:
    out = f',"query":{_text(entry.query)}' if entry.query else ""
    for name, value in (
        ("scenario", entry.scenario),
        ("route", entry.route),
        ("session", entry.session),
        ("fault", entry.fault),
        ("note", entry.note),
    ):
        if value is not None:
            out += f',"{name}":{_text(value)}'
    return out


def _document(payload: Payload) -> dict[str, Any]:
    if isinstance(payload, Entry):
        return summary(payload)
    if callable(payload):
        return payload()
    return payload
