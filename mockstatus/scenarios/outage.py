"""Outage windows on the scenario clock: one-shot (`start`, `duration`) or recurring (`every`).

`elapsed` is seconds since the scenario's clock started (load, or the last reset of the session).
A window is half-open: down at `start`, up again at `start + duration`.
"""

from __future__ import annotations

import math

from mockstatus.limits import MAX_CHAIN
from mockstatus.scenarios.model import OutageWindow

_EPS = 1e-6  # seconds of float slack (a microsecond)


def is_active(window: OutageWindow, elapsed: float) -> bool:
    if window.every is None:
        start = window.start or 0.0
        return start <= elapsed < start + window.duration
    if elapsed < window.offset:
        return False
    # The slack keeps `window_end` (computed from the same phase) outside the window despite
    # float rounding in the modulo.
    return (elapsed - window.offset) % window.every < window.duration - _EPS


def active(windows: tuple[OutageWindow, ...], elapsed: float) -> OutageWindow | None:
    """The first window that is down at `elapsed` seconds since the scenario started."""
    for window in windows:
        if is_active(window, elapsed):
            return window
    return None


def window_end(window: OutageWindow, elapsed: float) -> float:
    """When the window that is down at `elapsed` ends (scenario seconds)."""
    if window.every is None:
        return (window.start or 0.0) + window.duration
    phase = (elapsed - window.offset) % window.every
    return elapsed - phase + window.duration


def up_at(windows: tuple[OutageWindow, ...], elapsed: float) -> float:
    """The first moment at or after `elapsed` when no window is down (windows that overlap or
    follow back to back count as one outage)."""
    at = elapsed
    for _ in range(MAX_CHAIN):
        window = active(windows, at)
        if window is None:
            return at
        at = max(at, window_end(window, at))
    return at


def seconds_left(windows: tuple[OutageWindow, ...], elapsed: float) -> int:
    """Whole seconds until the route is up again, rounded up (at least 1): the honest
    Retry-After (RFC 9110 §10.2.3 delay-seconds) while it is down."""
    return max(1, math.ceil(up_at(windows, elapsed) - elapsed - _EPS))
