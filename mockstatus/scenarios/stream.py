"""Stream responses (`respond: {stream: {sse | ndjson | chunks: [...], heartbeat, repeat}}`):
validated at load time, turned into timed byte pieces per request. Pure: no I/O, no clock —
the wire (wire/streams.py) waits until each piece's `at` and writes it.

SSE framing follows the WHATWG "server-sent events" event stream format: `event:`, `id:`,
`retry:` and one `data:` line per line of data, then a blank line. A `Last-Event-ID` request
header resumes after the event with that id; an unknown id starts from the beginning.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from mockstatus.limits import (
    MAX_DELAY,
    MAX_FAST_EVENTS,
    MAX_RESUME_SCAN,
    MAX_STREAM_EVENTS,
    MAX_STREAM_REPEAT,
    MIN_FOREVER_CYCLE,
    MIN_HEARTBEAT,
)
from mockstatus.scenarios.templates import Template, TemplateContext, TemplateError
from mockstatus.scenarios.templates import compile_template as _compile
from mockstatus.types import StreamPlan

StreamKind = Literal["sse", "ndjson", "chunks"]
STREAM_KINDS: tuple[StreamKind, ...] = ("sse", "ndjson", "chunks")
CONTENT_TYPES = {
    "sse": "text/event-stream",
    "ndjson": "application/x-ndjson",
    "chunks": "text/plain; charset=utf-8",
}
HEARTBEAT = b": heartbeat\n\n"  # an SSE comment: EventSource ignores it, proxies see traffic
_INDEX = re.compile(r"\{\{\s*index\s*\}\}")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FIELD_BREAK = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True, slots=True)
class IndexedText:
    """A template that may also say `{{ index }}` (the 0-based event index across repeats)."""

    parts: tuple[Template | None, ...]  # None marks an `{{ index }}`
    static: str | None

    def render(self, ctx: TemplateContext | None, index: int) -> str:
        if self.static is not None:
            return self.static
        out = []
        for part in self.parts:
            if part is None:
                out.append(str(index))
            else:
                out.append(part.static if part.static is not None else part.render(ctx))  # type: ignore[arg-type]
        return "".join(out)


def compile_text(text: str, params: frozenset[str] | None) -> IndexedText:
    """Raise TemplateError for an unknown variable (as `templates.compile_template`)."""
    parts: list[Template | None] = []
    pos = 0
    for match in _INDEX.finditer(text):
        if match.start() > pos:
            parts.append(_compile(text[pos : match.start()], params))
        parts.append(None)
        pos = match.end()
    if pos < len(text) or not parts:
        parts.append(_compile(text[pos:], params))
    static = None
    if all(p is not None and p.static is not None for p in parts):
        static = "".join(p.static for p in parts if p is not None and p.static is not None)
    return IndexedText(tuple(parts), static)


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One listed event. `data` is an IndexedText, or a JSON tree whose string leaves are
    IndexedTexts (`json_data`). `id` "auto" numbers events 1, 2, … across repeats."""

    data: IndexedText | None = None
    json_data: Any = None
    is_json: bool = False
    event: IndexedText | None = None
    id: IndexedText | Literal["auto"] | None = None
    retry: int | None = None  # milliseconds
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class StreamSpec:
    kind: StreamKind
    events: tuple[EventSpec, ...]
    heartbeat: float | None = None
    repeat: int | None = 1  # None: forever

    @property
    def total(self) -> int | None:
        return None if self.repeat is None else len(self.events) * self.repeat


# --- rendering -------------------------------------------------------------------------------


def _render_json(tree: Any, ctx: TemplateContext | None, index: int) -> Any:
    if isinstance(tree, IndexedText):
        return tree.render(ctx, index)
    if isinstance(tree, dict):
        return {k: _render_json(v, ctx, index) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_render_json(v, ctx, index) for v in tree]
    return tree


def _data_text(event: EventSpec, ctx: TemplateContext | None, index: int) -> str | None:
    if event.is_json:
        return json.dumps(_render_json(event.json_data, ctx, index), ensure_ascii=False)
    return event.data.render(ctx, index) if event.data is not None else None


def event_id(event: EventSpec, ctx: TemplateContext | None, index: int) -> str | None:
    if event.id is None:
        return None
    if event.id == "auto":
        return str(index + 1)
    # A CR, LF or NUL would end the field (or, NUL, make the client ignore the id).
    return _FIELD_BREAK.sub(" ", event.id.render(ctx, index))


def encode_event(
    kind: StreamKind, event: EventSpec, ctx: TemplateContext | None, index: int
) -> bytes:
    """One event's bytes in the stream's framing."""
    data = _data_text(event, ctx, index)
    if kind == "ndjson":
        # One JSON text per line: a string datum is sent as a JSON string.
        line = data if event.is_json and data is not None else json.dumps(data or "")
        return f"{line}\n".encode()
    if kind == "chunks":
        return (data or "").encode()
    lines = []
    if event.event is not None:
        lines.append("event: " + _FIELD_BREAK.sub(" ", event.event.render(ctx, index)))
    ident = event_id(event, ctx, index)
    if ident is not None:
        lines.append(f"id: {ident}")
    if event.retry is not None:
        lines.append(f"retry: {event.retry}")
    if data is not None:
        lines.extend("data: " + line for line in _LINE_BREAK.split(data))
    return ("\n".join(lines) + "\n\n").encode()


def resume_index(spec: StreamSpec, ctx: TemplateContext | None, last_id: str | None) -> int:
    """The global index to start at: just after the event whose id is `last_id` (0 when the
    id is absent or unknown, as EventSource servers do)."""
    if last_id is None or spec.kind != "sse" or not spec.events:
        return 0
    last_id = last_id.strip()
    n = len(spec.events)
    limit = MAX_RESUME_SCAN if spec.total is None else min(spec.total, MAX_RESUME_SCAN)
    if all(e.id == "auto" or e.id is None for e in spec.events):
        if last_id.isascii() and last_id.isdigit() and len(last_id) <= 12:
            # Auto ids are index + 1: the event after `last_id` has index `last_id`.
            candidate = int(last_id)
            in_range = candidate > 0 and (spec.total is None or candidate < spec.total)
            if in_range and spec.events[(candidate - 1) % n].id == "auto":
                return candidate
        return 0
    for index in range(limit):
        if event_id(spec.events[index % n], ctx, index) == last_id:
            return index + 1
    return 0


def pieces(
    spec: StreamSpec, ctx: TemplateContext | None, start: int = 0
) -> Iterator[tuple[float, bytes]]:
    """(at, bytes) for every event from global index `start`; `at` accumulates the delays.
    Lazy: a `repeat: forever` stream is an endless iterator (the wire caps its lifetime)."""
    n = len(spec.events)
    at = 0.0
    indices = itertools.count(start) if spec.total is None else range(start, spec.total)
    for index in indices:
        event = spec.events[index % n]
        at += event.delay
        yield at, encode_event(spec.kind, event, ctx, index)


def stream_plan(
    spec: StreamSpec,
    ctx: TemplateContext | None,
    last_event_id: str | None = None,
    coding: str | None = None,
) -> StreamPlan:
    start = resume_index(spec, ctx, last_event_id)
    factory: Callable[[], Iterator[tuple[float, bytes]]] = lambda: pieces(spec, ctx, start)  # noqa: E731
    heartbeat = spec.heartbeat if spec.kind == "sse" and spec.heartbeat else 0.0
    total = spec.total
    return StreamPlan(
        factory,
        heartbeat=HEARTBEAT if heartbeat else b"",
        every=heartbeat,
        coding=coding,
        events=None if total is None else max(0, total - start),
    )


# --- loading ---------------------------------------------------------------------------------

_STREAM_KEYS = (*STREAM_KINDS, "heartbeat", "repeat")
_EVENT_KEYS = {
    "sse": ("data", "event", "id", "retry", "delay"),
    "ndjson": ("data", "delay"),
    "chunks": ("data", "delay"),
}


def read_stream(reader: Any, v: Any, params: frozenset[str] | None) -> StreamSpec | None:
    """Validate `stream:` (a `values._Reader` and a located value); every problem is reported
    where it was written, and None returned."""
    m = reader.mapping(v, "stream", _STREAM_KEYS)
    if m is None:
        return None
    kinds = [k for k in STREAM_KINDS if k in m]
    if len(kinds) != 1:
        shown = " and ".join(kinds) if kinds else "none"
        reader.problem(v, f"'stream' needs exactly one of sse, ndjson or chunks, got {shown}")
        return None
    kind: StreamKind = kinds[0]
    items = m[kind]
    if items.kind != "seq":
        reader.problem(items, f"'{kind}' must be a list of events")
        return None
    if not items.value:
        reader.problem(items, f"'{kind}' is empty: a stream needs at least one event")
        return None
    if len(items.value) > MAX_STREAM_EVENTS:
        reader.problem(items, f"'{kind}' lists more than {MAX_STREAM_EVENTS} events")
        return None
    events = [_read_event(reader, kind, item, params) for item in items.value]
    heartbeat = None
    if "heartbeat" in m:
        heartbeat = reader.duration(m["heartbeat"], "heartbeat", cap=MAX_DELAY)
        if heartbeat is not None and heartbeat < MIN_HEARTBEAT:
            reader.problem(
                m["heartbeat"], f"'heartbeat' must be at least {MIN_HEARTBEAT * 1000:g}ms"
            )
            return None
        if kind != "sse" and heartbeat is not None:
            reader.problem(m["heartbeat"], "'heartbeat' is an SSE comment: it needs 'sse'")
            return None
    repeat: int | None = 1
    if "repeat" in m:
        rv = m["repeat"]
        if rv.kind == "str" and rv.value == "forever":
            repeat = None
        else:
            repeat = reader.integer(
                rv,
                "repeat",
                1,
                MAX_STREAM_REPEAT,
                f"a count from 1 to {MAX_STREAM_REPEAT} or forever",
            )
            if repeat is None:
                return None
    if any(e is None for e in events) or ("heartbeat" in m and heartbeat is None):
        return None
    done = tuple(e for e in events if e is not None)
    if repeat is None and sum(e.delay for e in done) < MIN_FOREVER_CYCLE:
        # An endless stream with no pause would write as fast as the socket takes it.
        reader.problem(
            m["repeat"],
            "'repeat: forever' needs delays: the events of one round must take at least "
            f"{MIN_FOREVER_CYCLE * 1000:g}ms",
        )
        return None
    fast = sum(e.delay for e in done) < MIN_FOREVER_CYCLE
    if repeat is not None and fast and repeat * len(done) > MAX_FAST_EVENTS:
        # Without pauses every event is written back to back: a core per client for long.
        reader.problem(
            m["repeat"],
            f"'repeat: {repeat}' sends {repeat * len(done)} events without pauses: at most "
            f"{MAX_FAST_EVENTS} (add delays or repeat fewer times)",
        )
        return None
    return StreamSpec(kind, done, heartbeat, repeat)


def _read_event(reader: Any, kind: StreamKind, v: Any, params: Any) -> EventSpec | None:
    if v.kind != "map":
        if kind == "sse":
            reader.problem(
                v, f"each 'sse' event must be a mapping with {', '.join(_EVENT_KEYS['sse'])}"
            )
            return None
        v_map = None
    else:
        v_map = reader.mapping(v, f"a '{kind}' event", _EVENT_KEYS[kind])
        if v_map is None:
            return None
    fields = v_map if v_map is not None else {"data": v}
    if not fields:
        reader.problem(v, f"a '{kind}' event needs at least one of {', '.join(_EVENT_KEYS[kind])}")
        return None
    ok = True

    def text(key: str) -> IndexedText | None:
        nonlocal ok
        raw = reader.string(fields[key], key)
        if raw is None:
            ok = False
            return None
        try:
            return compile_text(raw, params)
        except TemplateError as exc:
            reader.problem(fields[key], str(exc))
            ok = False
            return None

    data = json_data = None
    is_json = False
    if "data" in fields:
        dv = fields["data"]
        if dv.kind in ("map", "seq") or (kind == "ndjson" and dv.kind != "str"):
            is_json = True
            json_data = _json(reader, dv, params)
        elif kind == "sse" or kind == "chunks" or dv.kind == "str":
            data = text("data")
    event = text("event") if "event" in fields else None
    ident: IndexedText | Literal["auto"] | None = None
    if "id" in fields:
        iv = fields["id"]
        ident = "auto" if iv.kind == "str" and iv.value == "auto" else text("id")
    retry = None
    if "retry" in fields:
        retry = reader.integer(fields["retry"], "retry", 0, int(MAX_DELAY * 1000), "milliseconds")
        ok = ok and retry is not None
    delay = 0.0
    if "delay" in fields:
        seconds = reader.duration(fields["delay"], "delay", cap=MAX_DELAY)
        ok = ok and seconds is not None
        delay = seconds or 0.0
    if not ok:
        return None
    return EventSpec(data, json_data, is_json, event, ident, retry, delay)


def _json(reader: Any, v: Any, params: Any) -> Any:
    """A JSON tree whose string leaves are IndexedTexts."""
    if v.kind == "map":
        return {k: _json(reader, item, params) for k, item in v.value.items()}
    if v.kind == "seq":
        return [_json(reader, item, params) for item in v.value]
    if v.kind == "str":
        try:
            return compile_text(v.value, params)
        except TemplateError as exc:
            reader.problem(v, str(exc))
            return v.value
    return reader.json_tree(v, params, templates=False)
