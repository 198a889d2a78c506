"""The built-in streams: `/sse` (go-httpbin's parameters and ours) and `/stream/{n}` (httpbin's
shape). Pure plans: the wire (wire/streams.py) sends their pieces on schedule.

`/sse`: `count` events (default 10, at most MAX_SSE_COUNT) spread over `duration` (default 5s),
the first after `delay` (default 0); `interval` (ours) sets the pause between events instead of
`duration`. Durations take units (`150ms`, `2s`); a bare number is milliseconds. Each event is
`event: ping` (`?event=` renames it), `id: n` and `data: {"id": n, "timestamp": <ms>}` with n
from 1; `?retry=` (ms) adds a `retry:` field to the first event. `Last-Event-ID: k` resumes
after event k.
`/stream/{n}`: n (at most MAX_STREAM_LINES) lines of JSON, each the request as `/anything`
describes it (url, args, headers, origin) with an `id` from 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from mockstatus import codes
from mockstatus.durations import parse_duration
from mockstatus.errors import RequestError
from mockstatus.http_syntax import FIELD_CONTROL
from mockstatus.limits import MAX_DELAY, MAX_SSE_COUNT, MAX_STREAM_LINES
from mockstatus.queries import parse_digits
from mockstatus.semantics import finish
from mockstatus.types import Clock, RequestFacts, ResponsePlan, StreamPlan

SSE_DEFAULT_COUNT = 10
SSE_DEFAULT_DURATION = 5.0


def _duration(facts: RequestFacts, name: str, default: float) -> float:
    text = facts.query.get(name)
    if text is None:
        return default
    try:
        raw = text.strip()
        seconds = parse_duration(f"{raw}ms" if raw.replace(".", "", 1).isdigit() else raw, name)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_DELAY:
        raise RequestError(
            f"invalid {name} {text[:60]!r}: a duration such as 150ms or 2s (a bare number is "
            f"milliseconds), at most {MAX_DELAY:g}s",
            param=name,
        )
    return seconds


def sse_plan(facts: RequestFacts, clock: Clock) -> ResponsePlan:
    query = facts.query
    count = SSE_DEFAULT_COUNT
    if (text := query.get("count")) is not None:
        count = parse_digits(
            text, "count", MAX_SSE_COUNT, f"an integer from 1 to {MAX_SSE_COUNT}", what="count"
        )
        if count < 1:
            raise RequestError(
                f"invalid count: an integer from 1 to {MAX_SSE_COUNT}", param="count"
            )
    duration = _duration(facts, "duration", SSE_DEFAULT_DURATION)
    delay = _duration(facts, "delay", 0.0)
    interval = _duration(facts, "interval", duration / count)
    event = query.get("event", "ping") or "ping"
    if FIELD_CONTROL.search(event) or len(event) > 200:
        raise RequestError("invalid event: a name without control characters", param="event")
    retry = None
    if (text := query.get("retry")) is not None:
        retry = parse_digits(text, "retry", int(MAX_DELAY * 1000), "milliseconds", what="retry")
    start = 1
    last = facts.header("last-event-id")
    if last is not None and last.strip().isdigit() and len(last.strip()) <= 6:
        start = int(last.strip()) + 1  # resume after that event (past the end: nothing left)
    wall0 = clock.wall()

    def pieces() -> Iterator[tuple[float, bytes]]:
        for n in range(start, count + 1):
            at = delay + (n - 1) * interval
            data = json.dumps({"id": n, "timestamp": int((wall0 + at) * 1000)})
            field = f"retry: {retry}\n" if retry is not None and n == start else ""
            yield at, f"event: {event}\nid: {n}\n{field}data: {data}\n\n".encode()

    return _stream(facts, "text/event-stream", StreamPlan(pieces, events=count - start + 1))


def stream_lines_plan(facts: RequestFacts, tail: str) -> ResponsePlan:
    from mockstatus.endpoints import describe_request
    from mockstatus.httpbin import request_headers

    digits = tail.rstrip("/")
    if digits.isascii() and digits.isdigit():
        # httpbin answers min(n, 100) lines: a larger count is clamped, not refused.
        significant = digits.lstrip("0") or "0"
        too_long = len(significant) > len(str(MAX_STREAM_LINES))
        n = MAX_STREAM_LINES if too_long else min(int(significant), MAX_STREAM_LINES)
    else:
        n = parse_digits(
            digits,
            "n",
            MAX_STREAM_LINES,
            f"an integer from 0 to {MAX_STREAM_LINES}",
            what="line count",
        )
    doc = describe_request(facts)
    base = {
        "url": doc["url"],
        "args": doc["args"],
        # the /get shape: httpbin's canonical names, the same over HTTP/1.1 and HTTP/2
        "headers": request_headers(facts),
        "origin": doc["client"],
    }
    lines = [json.dumps({**base, "id": i}).encode() + b"\n" for i in range(n)]

    def pieces() -> Iterator[tuple[float, bytes]]:
        for line in lines:
            yield 0.0, line

    return _stream(facts, "application/json", StreamPlan(pieces, events=n))


def _stream(facts: RequestFacts, content_type: str, stream: StreamPlan) -> ResponsePlan:
    return finish(
        ResponsePlan(
            status=200,
            reason=codes.lookup(200).reason,
            headers=(("Content-Type", content_type), ("Cache-Control", "no-cache")),
            head=facts.method == "HEAD",
            stream=stream,
        )
    )
