"""Durations as scenario files write them: `250ms`, `2s`, `1.5s`, `5m`, `1h`, or bare seconds."""

from __future__ import annotations

import math
import re

DURATION_HINT = "a duration like 250ms, 2s, 5m, 1h or a number of seconds"

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_RE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*", re.ASCII)  # not "١s"


def parse_duration(value: object, name: str = "duration") -> float:
    """Return `value` in float seconds; raise ValueError naming `name` when it is not a duration.

    Negative, NaN and infinite values are rejected: every use (a delay, a window) needs a finite
    non-negative time. Booleans are rejected although Python counts them as ints.
    """
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) if not isinstance(value, int) or abs(value) < 1e300 else math.inf
    elif isinstance(value, str):
        match = _DURATION_RE.fullmatch(value)
        if match is not None:
            seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"'{name}' must be {DURATION_HINT}, got {_show(value)}")
    return seconds


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
