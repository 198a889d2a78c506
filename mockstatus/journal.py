"""The request journal: a bounded ring buffer of what the server answered, with waiters.

Entries are stored as cheap tuples on the hot path and turned into dicts only when read.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from mockstatus.limits import BODY_EXCERPT

SEQ_LIMIT = 1e9  # a `since` below this is a journal seq, above it an epoch time


class Entry(NamedTuple):
    """One journal entry. A tuple: it is created on every request, and tuples are cheapest."""

    seq: int
    time: float  # the server's (injected) clock: wall time, epoch seconds
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes | None
    scenario: str | None
    route: str | None
    session: str | None
    status: int
    fault: str | None
    duration_ms: float

    def to_dict(self) -> dict[str, object]:
        body = None
        if self.body:
            body = self.body[:BODY_EXCERPT].decode("utf-8", "replace")
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body,
            "scenario": self.scenario,
            "route": self.route,
            "session": self.session,
            "status": self.status,
            "fault": self.fault,
            "duration_ms": round(self.duration_ms, 3),
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


class Journal:
    def __init__(self, size: int = 1000) -> None:
        self.entries: deque[Entry] = deque(maxlen=max(size, 1))
        self._seq = itertools.count(1)
        self._waiters: list[tuple[Filter, int, asyncio.Future[None]]] = []

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
    ) -> None:
        self.entries.append(
            Entry(
                next(self._seq), time, method, path, query, headers, body,
                scenario, route, session, status, fault, duration_ms,
            )
        )  # fmt: skip
        if self._waiters:
            self._wake()

    @property
    def size(self) -> int:
        """How many entries the journal keeps (the oldest go first)."""
        return self.entries.maxlen or 1

    def select(self, flt: Filter = ALL, limit: int | None = None) -> list[Entry]:
        found = [e for e in self.entries if flt.accepts(e)]
        return found[-limit:] if limit else found

    def clear(self, session: str | None = None) -> int:
        """Forget every entry (or one session's); return how many were removed."""
        before = len(self.entries)
        if session is None:
            self.entries.clear()
        else:
            kept = [e for e in self.entries if e.session != session]
            self.entries.clear()
            self.entries.extend(kept)
        return before - len(self.entries)

    def _wake(self) -> None:
        for flt, count, fut in list(self._waiters):
            if not fut.done() and len(self.select(flt)) >= count:
                fut.set_result(None)

    async def wait(self, flt: Filter, count: int, timeout: float) -> list[Entry]:
        """Wait until `count` entries match (or the timeout ends); return the matches."""
        if len(self.select(flt)) < count:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            item = (flt, count, fut)
            self._waiters.append(item)
            try:
                await asyncio.wait_for(asyncio.shield(fut), timeout)
            except TimeoutError:
                pass
            finally:
                self._waiters.remove(item)
        return self.select(flt)
