"""The views the `mockstatus` pytest fixture hands out: its clock (`mockstatus.clock`) and a
session (`mockstatus.session()`). Plain objects over `mockstatus.client.Client`, so the plugin
(`pytest_plugin`) stays the thin layer that wires them to pytest."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from mockstatus.client import URL_ENV, ClockNotControllable, JournalEntry
from mockstatus.http_syntax import SESSION_HEADER

if TYPE_CHECKING:
    from mockstatus.pytest_plugin import MockstatusFixture

Entries = list[JournalEntry]


class MockstatusClock:
    """The server's clock: manual in process; an external server's if run with --clock manual."""

    def __init__(self, fixture: MockstatusFixture) -> None:
        self._client = fixture.client

    def advance(self, seconds: float | datetime.timedelta) -> float:
        """Move the server's clock forward (outages, rate-limit windows, token buckets and the
        journal's `time` follow); returns the new wall time (epoch seconds)."""
        try:
            return float(self._client.advance(seconds)["wall"])
        except ClockNotControllable as err:
            hint = f" Or unset {URL_ENV} to use the in-process server, whose clock is manual."
            raise ClockNotControllable(str(err) + hint, err.status, err.doc) from None

    def time(self) -> float:
        """The server's wall time (epoch seconds): what the journal's `time` is measured in."""
        return float(self._client.clock()["wall"])

    def monotonic(self) -> float:
        return float(self._client.clock()["monotonic"])

    @property
    def controllable(self) -> bool:
        return bool(self._client.clock()["controllable"])


class MockstatusSession:
    """One `X-Mockstatus-Session`: its own counters, states, buckets and scenario clock. Send
    `session.headers` with the requests; `session.requests()` then lists only them."""

    def __init__(self, fixture: MockstatusFixture, session_id: str) -> None:
        self._fx = fixture
        self.id = session_id

    @property
    def headers(self) -> dict[str, str]:
        return {SESSION_HEADER: self.id}

    def url(self, path: str = "/") -> str:
        return self._fx.url(path)

    def requests(self, **filters: Any) -> Entries:
        return self._fx.requests(session=self.id, **filters)

    def wait_for(self, count: int = 1, *, timeout: float = 5.0, **filters: Any) -> Entries:
        return self._fx.wait_for(count, timeout=timeout, session=self.id, **filters)

    async def wait_for_async(
        self, count: int = 1, *, timeout: float = 5.0, **filters: Any
    ) -> Entries:
        return await self._fx.wait_for_async(count, timeout=timeout, session=self.id, **filters)

    def reset(self, *, journal: bool = True) -> None:
        """Reset this session's counters, states, buckets and clock (and its journal entries)."""
        self._fx.client.reset(self.id)
        if journal:
            self._fx.client.clear_requests(self.id)

    def __repr__(self) -> str:
        return f"<MockstatusSession {self.id!r}>"
