"""The request journal: a bounded ring buffer of what the server answered, with waiters.

Every entry is bounded, whatever the request: a `BODY_EXCERPT` of the body plus its size, at
most `MAX_JOURNAL_HEADERS` headers with values cut at `MAX_JOURNAL_HEADER_VALUE` characters
(limits.py). `bytes` is an estimate of the memory the entries hold (the metrics report it).

Text is faithful and always valid Unicode: aiohttp hands us header values decoded as UTF-8 with
`surrogateescape`, so a byte that is not UTF-8 (obs-text, RFC 9110 §5.5) arrives as a lone
surrogate, which JSON cannot carry portably. Such a value is shown decoded as ISO-8859-1 (one
character per byte: encoding it back to ISO-8859-1 gives the exact bytes) and its place is
listed in the entry's `latin1` list (`header:<Name>`, `session`). The session is converted when
recorded, so that `?session=` filters by the name the journal shows.

Credentials are redacted in everything the journal answers: a redacted value becomes
`<redacted:sha256:XXXXXXXX>`, the first 8 hex digits of the SHA-256 of its bytes, so a test can
still check which credential a client sent.

The hot path stays cheap: a request whose headers are small (the common case) keeps aiohttp's
immutable headers object by reference, and redaction and ISO-8859-1 conversion happen when the
entry is read. Only a request with large or many headers is copied (cut, and redacted at once,
so that the hash covers the whole value).

Waiters (`/requests/wait`) count the journal's entries that match them: each new entry is
tested once against each waiter that may accept it (and, when the journal is full, the entry it
evicts too), so no waiter re-scans the journal when a request is recorded. Waiters are indexed
by path, session, route, scenario or status: a wait for one path costs requests to other paths
a few dict lookups.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from mockstatus.http_syntax import TOKEN
from mockstatus.limits import (
    BODY_EXCERPT,
    MAX_JOURNAL_HEADER_VALUE,
    MAX_JOURNAL_HEADERS,
    MAX_JOURNAL_SIZE,
    MAX_WAITERS,
)

SEQ_LIMIT = 1e9  # a `since` below this is a journal seq, above it an epoch time

# `--journal-redact default`: the request headers that carry credentials (and Set-Cookie, which
# a client may echo back in tests of cookie handling).
DEFAULT_REDACT = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_SURROGATE = re.compile("[\udc80-\udcff]")  # a non-UTF-8 byte, as surrogateescape decodes it

# Memory estimate per entry, measured with tracemalloc on CPython 3.11 with 3 to 100 headers
# (within 0.77x-1.32x; tests/test_journal_bounds.py holds a 1 MiB-body case within 1.5x): the
# entry tuple and its values, and per header the multidict item or pair and its strings.
ENTRY_OVERHEAD = 200
HEADER_OVERHEAD = 200


def parse_redact(text: str) -> frozenset[str]:
    """The header names `--journal-redact` names, lower-cased: `default` (Authorization,
    Proxy-Authorization, Cookie, Set-Cookie), `none`, or a comma-separated list of names, which
    may include `default` (the keywords in any case). ValueError with a one-line message
    otherwise."""
    words = [w.strip() for w in text.split(",")]
    if [w.lower() for w in words] == ["none"]:
        return frozenset()
    names: set[str] = set()
    for word in words:
        if word.lower() == "default":
            names |= DEFAULT_REDACT
        elif word.lower() == "none":
            raise ValueError("journal redaction: 'none' cannot be combined with header names")
        elif not TOKEN.fullmatch(word):
            raise ValueError(
                f"journal redaction: {word!r} is not a header name; use default, none, "
                "or a comma-separated list of header names (e.g. default,X-Api-Key)"
            )
        else:
            names.add(word.lower())
    return frozenset(names)


def redacted(value: str) -> str:
    """What the journal keeps of a redacted value."""
    digest = hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"<redacted:sha256:{digest}>"


def as_text(value: str) -> tuple[str, bool]:
    """(valid Unicode text of a value aiohttp decoded with surrogateescape, whether its bytes
    were not UTF-8 and it is therefore shown decoded as ISO-8859-1)."""
    if value.isascii() or _SURROGATE.search(value) is None:
        return value, False
    return value.encode("utf-8", "surrogateescape").decode("latin-1"), True


_new_entry = tuple.__new__


class Entry(NamedTuple):
    """One journal entry. A tuple: it is created on every request, and tuples are cheapest."""

    seq: int
    time: float  # the server's (injected) clock: wall time, epoch seconds
    method: str
    path: str
    query: str
    # aiohttp's headers when small (rendered when read), else a bounded, redacted copy (a tuple)
    headers: Mapping[str, str] | tuple[tuple[str, str], ...]
    body: bytes | None  # at most BODY_EXCERPT bytes
    body_size: int | None  # the whole body's size (None: the body was not read)
    scenario: str | None
    route: str | None
    session: str | None
    status: int
    fault: str | None
    duration_ms: float
    latin1: tuple[str, ...] = ()  # ("session",) when it is shown decoded as ISO-8859-1
    truncated: tuple[str, ...] = ()  # what was cut: "body", "headers", "header:<Name>"
    size: int = 0  # estimated bytes held
    redact: frozenset[str] = frozenset()  # names to redact when read (for raw headers)
    http_version: str = "HTTP/1.1"  # the protocol the request came in ("HTTP/2" over h2)
    # No scenario route matched: the closest routes and why each failed (scenarios/nearmiss);
    # () for a request nothing answered (the final 404) without near misses; None otherwise.
    near_misses: tuple[Mapping[str, object], ...] | None = None
    upstream: dict[str, object] | None = None  # url, status, duration_ms, error when forwarded
    note: str | None = None  # the plan's note (e.g. why a rate limit refused)

    def to_dict(self) -> dict[str, object]:
        body = None
        if self.body:
            body = self.body.decode("utf-8", "replace")
        headers, latin1 = _render(self.headers, self.redact)
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": headers,
            "body": body,
            "body_size": self.body_size,
            "scenario": self.scenario,
            "route": self.route,
            "session": self.session,
            "status": self.status,
            "fault": self.fault,
            "duration_ms": round(self.duration_ms, 3),
            "latin1": latin1 + list(self.latin1),
            "http_version": self.http_version,
            "truncated": list(self.truncated),
            **({} if self.near_misses is None else {"near_misses": list(self.near_misses)}),
            "upstream": self.upstream,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Filter:
    route: str | None = None
    path: str | None = None
    session: str | None = None
    method: str | None = None
    scenario: str | None = None
    status: int | None = None
    since: float | None = None  # seq number (below 1e9) or epoch time: entries strictly after it

    def accepts(self, e: Entry) -> bool:
        return (
            (self.route is None or e.route == self.route)
            and (self.path is None or e.path == self.path)
            and (self.session is None or e.session == self.session)
            and (self.method is None or e.method == self.method)
            and (self.scenario is None or e.scenario == self.scenario)
            and (self.status is None or e.status == self.status)
            and (self.since is None or (e.seq if self.since < SEQ_LIMIT else e.time) > self.since)
        )


ALL = Filter()


class WaitersFull(Exception):
    """MAX_WAITERS waits are pending already: the admin API answers 503 with Retry-After."""


class Page(NamedTuple):
    entries: list[Entry]
    next_since: int  # pass as `since` to get the entries after this page
    more: bool  # more matching entries follow next_since


# Waiters are indexed by the first of these filters they set: an entry is offered only to the
# waiters keyed by its own path, session, route, scenario or status (and to those that set none
# of them: a wait on `method` or `since` alone).
_INDEXED = tuple(
    (name, Entry._fields.index(name)) for name in ("path", "session", "route", "scenario", "status")
)


def _index_key(flt: Filter) -> tuple[int, str | int] | None:
    for name, position in _INDEXED:
        value = getattr(flt, name)
        if value is not None:
            return position, value
    return None


class _Waiter:
    """A pending wait: how many of the journal's entries match it now, and the newest `keep` of
    them (what the wait answers), so waking never rescans the journal."""

    __slots__ = ("count", "flt", "found", "future", "key", "matches")

    def __init__(self, flt: Filter, count: int, found: list[Entry], keep: int) -> None:
        self.flt = flt
        self.count = count
        self.matches = len(found)
        self.found: deque[Entry] = deque(found, maxlen=keep)
        self.key = _index_key(flt)
        self.future: asyncio.Future[None] = asyncio.get_running_loop().create_future()


def _bounded_copy(
    headers: Mapping[str, str], redact: frozenset[str]
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...], int]:
    """(the first MAX_JOURNAL_HEADERS headers, values cut and redacted; what was cut; bytes)."""
    kept: list[tuple[str, str]] = []
    cut: list[str] = []
    size = 0
    for name, value in itertools.islice(headers.items(), MAX_JOURNAL_HEADERS):
        if redact and name.lower() in redact:
            value = redacted(value)  # now: the hash covers the whole value, not what is kept
        elif len(value) > MAX_JOURNAL_HEADER_VALUE:
            value = value[:MAX_JOURNAL_HEADER_VALUE]
            cut.append(f"header:{name}")
        kept.append((name, value))
        size += len(name) + len(value) + HEADER_OVERHEAD
    if len(headers) > MAX_JOURNAL_HEADERS:
        cut.append("headers")
    return tuple(kept), tuple(cut), size


def _render(
    headers: Mapping[str, str] | tuple[tuple[str, str], ...], redact: frozenset[str]
) -> tuple[dict[str, str], list[str]]:
    """(the headers as the journal shows them, the names shown decoded as ISO-8859-1)."""
    if isinstance(headers, tuple):
        pairs: Iterable[tuple[str, str]] = headers
        redact = frozenset()  # a copy is redacted already
    else:
        pairs = headers.items()
    shown: dict[str, str] = {}
    latin1: list[str] = []
    for name, value in pairs:
        if redact and name.lower() in redact:
            value = redacted(value)
        else:
            value, converted = as_text(value)
            if converted:
                latin1.append(f"header:{name}")
        shown[name] = value
    return shown, latin1


class Journal:
    def __init__(
        self,
        size: int = 1000,
        *,
        redact: frozenset[str] = DEFAULT_REDACT,
        max_waiters: int = MAX_WAITERS,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int):
            raise ValueError(f"the journal size must be an integer, not {size!r}")
        if not 1 <= size <= MAX_JOURNAL_SIZE:
            raise ValueError(f"the journal size must be 1 to {MAX_JOURNAL_SIZE}, not {size}")
        self.entries: deque[Entry] = deque(maxlen=size)
        self.redact = frozenset(name.lower() for name in redact)
        self.max_waiters = max_waiters
        self.bytes = 0  # estimated memory held by the entries
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._waiters: dict[_Waiter, None] = {}  # insertion-ordered set
        # The dashboard feed (events.py): set only while a feed is open, so recording pays one
        # test otherwise. Both the general path and the fast lane record here.
        self.on_entry: Callable[[Entry], None] | None = None
        # The same waiters by index key (None: tested against every entry).
        # (An entry's field is looked up by position, hence `object`.)
        self._waiters_by_key: dict[tuple[int, object] | None, dict[_Waiter, None]] = {}

    def record(
        self,
        time: float,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes | None,
        scenario: str | None,
        route: str | None,
        session: str | None,
        status: int,
        fault: str | None,
        duration_ms: float,
        http_version: str = "HTTP/1.1",
        *,  # what only some requests have: by name, so a new one cannot shift the others
        near_misses: tuple[Mapping[str, object], ...] | None = None,
        upstream: dict[str, object] | None = None,  # a forwarded request (issue 14)
        note: str | None = None,
    ) -> None:
        count = len(headers)
        kept: Mapping[str, str] | tuple[tuple[str, str], ...] = headers
        cut: tuple[str, ...] = ()
        # Small headers (all values together within one value's cap) are kept as they are.
        total = sum(map(len, headers.values())) if count <= MAX_JOURNAL_HEADERS else -1
        if 0 <= total <= MAX_JOURNAL_HEADER_VALUE:
            size = total + count * HEADER_OVERHEAD
        else:
            kept, cut, size = _bounded_copy(headers, self.redact)
        latin1: tuple[str, ...] = ()
        body_size = None
        if body is not None:
            body_size = len(body)
            if body_size > BODY_EXCERPT:
                body = body[:BODY_EXCERPT]  # a copy of the excerpt: the whole body is freed
                cut += ("body",)
            size += len(body)
        if session is not None and not session.isascii():
            session, converted = as_text(session)
            if converted:
                latin1 += ("session",)
        size += ENTRY_OVERHEAD + len(path) + len(query)
        seq = self._last_seq = next(self._seq)
        entry = _new_entry(Entry, (  # tuple.__new__: skips NamedTuple's Python-level __new__
            seq, time, method, path, query, kept, body, body_size,
            scenario, route, session, status, fault, duration_ms, latin1, cut, size, self.redact,
            http_version, near_misses, upstream, note,
        ))  # fmt: skip
        entries = self.entries
        evicted = entries[0] if len(entries) == entries.maxlen else None
        if evicted is not None:
            self.bytes -= evicted.size  # the append below drops it
        entries.append(entry)
        self.bytes += size
        if self._waiters:
            self._offer(entry, evicted)
        if self.on_entry is not None:
            self.on_entry(entry)

    @property
    def size(self) -> int:
        """How many entries the journal keeps (the oldest go first)."""
        return self.entries.maxlen or 1

    @property
    def waiting(self) -> int:
        """Pending `/requests/wait` calls."""
        return len(self._waiters)

    def select(self, flt: Filter = ALL, limit: int | None = None) -> list[Entry]:
        """The matching entries, oldest first (the last `limit` of them)."""
        found = [e for e in self.entries if flt.accepts(e)]
        return found[-limit:] if limit else found

    def page(self, flt: Filter = ALL, limit: int | None = None) -> Page:
        """One page of matches. With `flt.since`, the first `limit` matches after it (a page to
        walk forward); without, the last `limit` (the newest). `next_since` is a seq: the
        entries after it are those this page did not cover."""
        found = [e for e in self.entries if flt.accepts(e)]
        limit = limit or len(found)
        more = False
        if flt.since is not None:
            more = len(found) > limit
            found = found[:limit]
        else:
            found = found[-limit:] if found else found
        if found:
            next_since = found[-1].seq
        else:
            given = int(flt.since) if flt.since is not None and flt.since < SEQ_LIMIT else 0
            next_since = max(given, self._last_seq)
        return Page(found, next_since, more)

    def clear(
        self, session: str | None = None, *, only: Callable[[int], bool] | None = None
    ) -> int:
        """Forget every entry (or one session's); return how many were removed. `only`: of
        those, the entries whose seq it accepts (the shared journal's clear: state.journal_share)."""
        before = len(self.entries)
        if session is None and only is None:
            self.entries.clear()
            self.bytes = 0
        else:
            kept = [
                e
                for e in self.entries
                if not ((session is None or e.session == session) and (only is None or only(e.seq)))
            ]
            self.entries.clear()
            self.entries.extend(kept)
            self.bytes = sum(e.size for e in kept)
        partial = session is not None or only is not None
        for waiter in self._waiters:  # a waiter counts only matches still in the journal
            found = self.select(waiter.flt) if partial else []
            waiter.matches = len(found)
            waiter.found = deque(found, maxlen=waiter.found.maxlen)
        return before - len(self.entries)

    def _candidates(self, entry: Entry) -> list[_Waiter]:
        """The waiters that may accept `entry`: those keyed by its path, session or route, and
        those without a key. Five dict lookups, however many waiters wait for other things."""
        by_key = self._waiters_by_key
        found: list[_Waiter] = list(by_key.get(None, ()))
        for _, position in _INDEXED:
            group = by_key.get((position, entry[position]))
            if group:
                found += group
        return found

    def _offer(self, entry: Entry, evicted: Entry | None) -> None:
        """Test one new entry (and the one it evicted) against each candidate waiter, once."""
        if evicted is not None:
            for waiter in self._candidates(evicted):
                if waiter.flt.accepts(evicted):
                    waiter.matches -= 1
                    found = waiter.found
                    if found and found[0] is evicted:  # the oldest entry goes first everywhere
                        found.popleft()
        for waiter in self._candidates(entry):
            if not waiter.future.done() and waiter.flt.accepts(entry):
                waiter.matches += 1
                waiter.found.append(entry)
                if waiter.matches >= waiter.count:
                    waiter.future.set_result(None)

    async def wait(
        self, flt: Filter, count: int, timeout: float, keep: int | None = None
    ) -> list[Entry]:
        """Wait until `count` entries match (or the timeout ends); return the newest
        max(`count`, `keep`) matches. The journal is scanned once, when the wait starts; new
        entries are then tested once each. WaitersFull when `max_waiters` waits are pending."""
        found = self.select(flt)
        keep = max(count, keep or 0)
        if len(found) < count and timeout > 0:  # a poll (timeout 0) takes no waiter
            if len(self._waiters) >= self.max_waiters:
                raise WaitersFull(
                    f"{self.max_waiters} waits are pending already; retry in a second"
                )
            waiter = _Waiter(flt, count, found, keep)
            self._waiters[waiter] = None
            self._waiters_by_key.setdefault(waiter.key, {})[waiter] = None
            try:
                await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
            except TimeoutError:
                pass
            finally:
                del self._waiters[waiter]
                group = self._waiters_by_key[waiter.key]
                del group[waiter]
                if not group:
                    del self._waiters_by_key[waiter.key]
            return list(waiter.found)
        return found[-keep:]
