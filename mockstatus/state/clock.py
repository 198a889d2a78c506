"""One clock for every replica sharing a store.

- System: Redis `TIME` is the reference. Asking it on every request would be a second round
  trip, so each replica measures its offset to it (half the round trip is the error) at start
  and every CLOCK_SYNC_INTERVAL, and reads its own clock plus that offset: `monotonic()` and
  `wall()` are then the same timeline on every machine, which scenario clocks (outage windows)
  and rate-limit windows need.
- Manual: the time advanced is a Redis key (`ms:clock`, seconds); `advance` adds to it and
  tells the other replicas (state.link), which set their clock from the key's total.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mockstatus.types import ManualClock

CLOCK_SYNC_INTERVAL = 30.0  # seconds between two measurements of the offset to Redis TIME


class SharedSystemClock:
    """The system clock, corrected to the store's `TIME` (epoch seconds on both faces)."""

    __slots__ = ("offset",)

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.time() + self.offset

    def wall(self) -> float:
        return time.time() + self.offset


class SharedManualClock(ManualClock):
    """A manual clock whose advances are shared: `on_advance(seconds)` sends them to the store."""

    __slots__ = ("base_mono", "base_wall", "on_advance")

    def __init__(self) -> None:
        super().__init__()
        self.base_wall, self.base_mono = self.wall(), self.monotonic()
        self.on_advance: Callable[[float], None] | None = None

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        if self.on_advance is not None:
            self.on_advance(seconds)

    def set_total(self, total: float) -> None:
        """Every replica's clock: the start plus what was advanced anywhere (never backwards)."""
        if self.base_mono + total > self.monotonic():
            self._mono = self.base_mono + total
            self._wall = self.base_wall + total
