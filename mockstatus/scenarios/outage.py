"""Outage windows on the scenario clock: one-shot (`start`, `duration`) or recurring (`every`)."""

from __future__ import annotations

import math

from mockstatus.scenarios.model import OutageWindow


def is_active(window: OutageWindow, elapsed: float) -> bool:
    if window.every is None:
        start = window.start or 0.0
        return start <= elapsed < start + window.duration
    if elapsed < window.offset:
        return False
    return (elapsed - window.offset) % window.every < window.duration


def active(windows: tuple[OutageWindow, ...], elapsed: float) -> OutageWindow | None:
    """The first window that is down at `elapsed` seconds since the scenario started."""
    for window in windows:
        if is_active(window, elapsed):
            return window
    return None


def seconds_left(window: OutageWindow, elapsed: float) -> int:
    """Whole seconds until the window ends, rounded up (at least 1): the honest Retry-After."""
    if window.every is None:
        end = (window.start or 0.0) + window.duration
    else:
        phase = (elapsed - window.offset) % window.every
        end = elapsed - phase + window.duration
    return max(1, math.ceil(end - elapsed - 1e-9))
