"""Where a fault strikes in a body and how fast a body flows: `after` and `bandwidth` values.

One grammar for YAML and queries (docs/streams.md):
- `after`: `3 events`, `1024 bytes`, `2s` / `150ms` in YAML; `3events`, `1024bytes`, `1024`
  (bytes) or `2s` in a query. Bytes count the body after content coding, not chunk framing.
- a rate: `10KiB/s`, `1MB/s`, `512B/s` or a bare number of bytes per second.
Pure: raises ValueError with a message naming what was expected.
"""

from __future__ import annotations

import math
import re

from mockstatus.durations import parse_duration
from mockstatus.limits import (
    MAX_AFTER_BYTES,
    MAX_AFTER_EVENTS,
    MAX_BANDWIDTH,
    MAX_DELAY,
    MAX_STREAM_SECONDS,
    MIN_BANDWIDTH,
)
from mockstatus.types import After, Query, ResponsePlan

AFTER_HINT = "N events, N bytes or a duration (3 events, 1024 bytes, 2s)"
AFTER_QUERY_HINT = "3events, 1024bytes, 1024 (bytes) or a duration such as 2s"
RATE_HINT = "bytes per second with a unit, e.g. 10KiB/s, 1MB/s or 512B/s"

_COUNT = re.compile(r"\s*([0-9]{1,12})\s*(events?|bytes?|B)?\s*")
_RATE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*(?:/\s*s)?\s*")
_RATE_UNITS = {
    None: 1,
    "B": 1,
    "KB": 1000,
    "KiB": 1024,
    "MB": 1000**2,
    "MiB": 1024**2,
    "GB": 1000**3,
    "GiB": 1024**3,
}


def parse_after(text: object, *, query: bool = False) -> After:
    """`after` as written in a scenario (`query=False`: a bare number is refused as ambiguous,
    except that YAML `0` means "at once") or in a query (a bare number is bytes)."""
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise ValueError(f"'after' must be {AFTER_QUERY_HINT if query else AFTER_HINT}")
    raw = str(text)
    match = _COUNT.fullmatch(raw)
    if match is not None:
        amount, unit = int(match.group(1)), match.group(2)
        if unit is None and not query and amount != 0:
            raise ValueError(
                f"'after' {raw!r} needs a unit: '{amount} bytes', '{amount} events' or '{amount}s'"
            )
        if unit is not None and unit.startswith("event"):
            if amount > MAX_AFTER_EVENTS:
                raise ValueError(f"'after' may name at most {MAX_AFTER_EVENTS} events, got {raw!r}")
            return After("events", amount)
        if amount > MAX_AFTER_BYTES:
            raise ValueError(f"'after' may name at most {MAX_AFTER_BYTES} bytes, got {raw!r}")
        return After("bytes", amount)
    try:
        seconds = parse_duration(raw, "after")
    except ValueError:
        raise ValueError(
            f"'after' must be {AFTER_QUERY_HINT if query else AFTER_HINT}, got {raw[:60]!r}"
        ) from None
    if seconds > MAX_STREAM_SECONDS:
        raise ValueError(f"'after' must be at most {MAX_STREAM_SECONDS:g}s, got {raw!r}")
    return After("seconds", seconds)


def parse_rate(text: object) -> float:
    """Bytes per second, from MIN_BANDWIDTH to MAX_BANDWIDTH."""
    match = _RATE.fullmatch(str(text)) if isinstance(text, str | int | float) else None
    if match is None or isinstance(text, bool):
        raise ValueError(f"'rate' must be {RATE_HINT}, got {str(text)[:60]!r}")
    rate = float(match.group(1)) * _RATE_UNITS[match.group(2)]
    if not math.isfinite(rate) or not MIN_BANDWIDTH <= rate <= MAX_BANDWIDTH:
        raise ValueError(f"'rate' must be from {MIN_BANDWIDTH:g} B/s up, got {str(text)[:60]!r}")
    return rate


def describe_after(after: After) -> str:
    """The canonical text of a position (admin views, error messages)."""
    if after.unit == "seconds":
        return f"{after.amount:g}s"
    return f"{int(after.amount)} {after.unit}"


def fault_extras_from_query(kind: str, query: Query) -> dict[str, object]:
    """`after=`, `hold=`, `rate=` of a `?fault=` (each a 400 naming it when bad or misplaced)."""
    from mockstatus.errors import RequestError
    from mockstatus.types import POSITIONED_FAULTS

    out: dict[str, object] = {}
    if (text := query.get("after")) is not None:
        if kind not in POSITIONED_FAULTS:
            raise RequestError(
                f"after applies to fault {', '.join(sorted(POSITIONED_FAULTS))}, not {kind!r}",
                param="after",
            )
        try:
            out["after"] = parse_after(text, query=True)
        except ValueError as exc:
            raise RequestError(f"invalid {exc}", param="after") from None
    if kind == "bandwidth":
        try:
            out["rate"] = parse_rate(query.get("rate", "10KiB/s"))
        except ValueError as exc:
            raise RequestError(f"invalid {exc}", param="rate") from None
    if kind == "slow-close":
        text = query.get("hold", "2s") or ""
        try:
            hold = parse_duration(text, "hold")
        except ValueError:
            hold = -1.0
        if not 0 <= hold <= MAX_DELAY:
            raise RequestError(
                f"invalid hold {text[:60]!r}: a duration such as 2s, at most {MAX_DELAY:g}s",
                param="hold",
            )
        out["hold"] = hold
    return out


def check_reachable(plan: ResponsePlan) -> None:
    """A 400 naming `after` when the plan's body can never reach it (events without a stream,
    more events than a finite stream has, more bytes than a fixed body has)."""
    from mockstatus.errors import RequestError

    after = plan.fault.after if plan.fault is not None else None
    if after is None or plan.head or plan.bodiless:
        return
    stream = plan.stream
    if after.unit == "events" and stream is None:
        raise RequestError(
            "invalid after: N events needs a stream (/sse, /stream/{n}); this body is one piece",
            param="after",
        )
    total = stream.events if stream is not None else None
    if after.unit == "events" and total is not None and after.amount > total:
        raise RequestError(
            f"invalid after: event {int(after.amount)} of a stream of {total}",
            param="after",
        )
    if after.unit == "bytes" and stream is None and after.amount > len(plan.body):
        raise RequestError(
            f"invalid after: byte {int(after.amount)} of a body of {len(plan.body)}",
            param="after",
        )
