"""`stream:` and positioned faults in scenario files: located problems, the model, and the pure
events → bytes part (scenarios/stream.py)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mockstatus.errors import ScenarioError
from mockstatus.positions import parse_after, parse_rate
from mockstatus.scenarios import load_text
from mockstatus.scenarios.stream import pieces, resume_index, stream_plan
from mockstatus.scenarios.templates import TemplateContext
from mockstatus.types import After, RequestFacts


def load(text: str):
    return load_text(textwrap.dedent(text), "s.yaml", Path("."), "s")


def respond(text: str):
    scenario = load("routes:\n  - match: {path: /x}\n    respond: " + text + "\n")
    return scenario.routes[0].respond


def problems(body: str) -> list[tuple[int, int, str]]:
    with pytest.raises(ScenarioError) as info:
        load("routes:\n  - match: {path: /x}\n    respond:\n" + textwrap.indent(body, "      "))
    return [(p.line, p.column, p.message) for p in info.value.problems]


CTX = TemplateContext(facts=RequestFacts("GET", "/x"), count=7)


def stream_bytes(spec, last_id=None) -> list[tuple[float, bytes]]:
    return list(stream_plan(spec, CTX, last_id).pieces())


def test_sse_events_fields_and_delays() -> None:
    spec = respond(
        '{stream: {sse: [{data: "a {{ index }} {{ method }} {{ count }}", event: tick, id: auto},'
        " {data: {n: '{{ index }}', k: [1, true]}, delay: 250ms, retry: 1500, id: 'e{{ index }}'},"
        ' {data: "two\\nlines"}], repeat: 2}}'
    )
    got = stream_bytes(spec.stream)
    assert [at for at, _ in got] == [0.0, 0.25, 0.25, 0.25, 0.5, 0.5]
    assert got[0][1] == b"event: tick\nid: 1\ndata: a 0 GET 7\n\n"
    assert got[1][1] == b'id: e1\nretry: 1500\ndata: {"n": "1", "k": [1, true]}\n\n'
    assert got[2][1] == b"data: two\ndata: lines\n\n"
    assert got[3][1] == b"event: tick\nid: 4\ndata: a 3 GET 7\n\n"  # auto ids continue


def test_ndjson_and_chunks() -> None:
    nd = respond("{stream: {ndjson: [{data: {a: '{{ index }}'}}, {data: 5, delay: 1s}, x]}}")
    assert [d for _, d in stream_bytes(nd.stream)] == [b'{"a": "0"}\n', b"5\n", b'"x"\n']
    ch = respond("{stream: {chunks: [abc, {data: 'd{{ index }}', delay: 2s}]}}")
    assert stream_bytes(ch.stream) == [(0.0, b"abc"), (2.0, b"d1")]


def test_last_event_id_resumes_after_that_event() -> None:
    spec = respond("{stream: {sse: [{data: a, id: auto}, {data: b, id: auto}], repeat: 3}}").stream
    assert [d for _, d in stream_bytes(spec, "4")] == [
        b"id: 5\ndata: a\n\n",
        b"id: 6\ndata: b\n\n",
    ]
    assert len(stream_bytes(spec, "nope")) == 6  # unknown: from the beginning
    assert len(stream_bytes(spec, "6")) == 6  # the last id: nothing after it, so from the start
    named = respond("{stream: {sse: [{data: a, id: x}, {data: b, id: y}]}}").stream
    assert resume_index(named, CTX, "x") == 1
    assert stream_bytes(named, "x") == [(0.0, b"id: y\ndata: b\n\n")]


def test_forever_is_endless_and_lazy() -> None:
    spec = respond("{stream: {sse: [{data: a, id: auto, delay: 1s}], repeat: forever}}").stream
    it = pieces(spec, CTX)
    first = [next(it) for _ in range(1000)]
    assert first[-1] == (1000.0, b"id: 1000\ndata: a\n\n")
    assert stream_plan(spec, CTX).events is None


def test_heartbeat_and_defaults() -> None:
    spec = respond("{stream: {sse: [{data: a, delay: 20s}], heartbeat: 15s}}").stream
    plan = stream_plan(spec, CTX)
    assert (plan.every, plan.heartbeat, plan.events) == (15.0, b": heartbeat\n\n", 1)


def test_positioned_fault_model() -> None:
    r = respond("{body: hello, fault: {kind: reset, after: 3 bytes}}")
    assert r.fault.after == After("bytes", 3)
    r = respond("{stream: {sse: [{data: a}, {data: b}]}, fault: {kind: close, after: 1 event}}")
    assert r.fault.after == After("events", 1)
    r = respond("{body: x, fault: {kind: stall, after: 2s}}")
    assert r.fault.after == After("seconds", 2.0)
    assert respond("{fault: {kind: bandwidth, rate: 10KiB/s}}").fault.rate == 10240
    assert respond("{fault: {kind: slow-close, hold: 2s}}").fault.hold == 2.0
    assert respond("{compress: auto}").compress == "auto"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("stream: {sse: [{data: a}]}\nrepeat: 2\n", [(5, 7, "unknown key")], id="x"),
        pytest.param("stream: {sse: []}\n", [(4, 21, "'sse' is empty")], id="empty"),
        pytest.param(
            "stream: {sse: [{data: a}], ndjson: [{data: 1}]}\n",
            [(4, 15, "exactly one of sse, ndjson or chunks")],
            id="two-kinds",
        ),
        pytest.param(
            "stream: {sse: [{data: a}], repeat: forever}\n",
            [(4, 42, "'repeat: forever' needs delays")],
            id="forever-without-delay",
        ),
        pytest.param(
            "stream: {sse: [{data: a}], repeat: -1}\n",
            [(4, 42, "'repeat' must be a count from 1 to 1000000 or forever")],
            id="negative-repeat",
        ),
        pytest.param(
            "stream: {sse: [{data: a}], repeat: 99999999}\n",
            [(4, 42, "'repeat' must be a count")],
            id="huge-repeat",
        ),
        pytest.param(
            "stream: {sse: [{data: a}, {data: b}], repeat: 60000}\n",
            [(4, 53, "sends 120000 events without pauses: at most 100000")],
            id="fast-and-long",
        ),
        pytest.param(
            "stream: {sse: [{data: a, delay: -1s}]}\n",
            [(4, 39, "'delay' must be a duration")],
            id="negative-delay",
        ),
        pytest.param(
            "stream: {sse: [{data: a, delay: 1h}]}\n",
            [(4, 39, "'delay' must be at most 300s")],
            id="huge-delay",
        ),
        pytest.param(
            "stream: {sse: [{data: a}], heartbeat: 1ms}\n",
            [(4, 45, "'heartbeat' must be at least 100ms")],
            id="tiny-heartbeat",
        ),
        pytest.param(
            "stream: {ndjson: [{data: 1}], heartbeat: 1s}\n",
            [(4, 48, "'heartbeat' is an SSE comment")],
            id="heartbeat-ndjson",
        ),
        pytest.param(
            "stream: {sse: [{data: '{{ nope }}'}]}\n",
            [(4, 29, "unknown template variable '{{ nope }}'")],
            id="bad-template",
        ),
        pytest.param(
            "stream: {sse: [{dat: a}]}\n", [(4, 23, "did you mean 'data'")], id="event-key"
        ),
        pytest.param(
            "body: x\nstream: {sse: [{data: a}]}\n",
            [(4, 7, "'stream' or 'body', not both")],
            id="stream-and-body",
        ),
        pytest.param(
            "status: 204\nstream: {sse: [{data: a}]}\n",
            [(5, 15, "a 204, 205 or 304 has no body")],
            id="stream-204",
        ),
        pytest.param(
            "body: hello\nfault: {kind: truncate, after: 10 bytes}\n",
            [(5, 38, "'after' names byte 10 but the body has 5")],
            id="after-beyond-body",
        ),
        pytest.param(
            "stream: {sse: [{data: a}]}\nfault: {kind: reset, after: 3 events}\n",
            [(5, 35, "'after' names event 3 but the stream has 1")],
            id="after-beyond-events",
        ),
        pytest.param(
            "body: hello\nfault: {kind: reset, after: 1 event}\n",
            [(5, 35, "'after: N events' needs a 'stream'")],
            id="events-on-body",
        ),
        pytest.param(
            "fault: {kind: reset, after: 3}\n",
            [(4, 35, "needs a unit")],
            id="after-without-unit",
        ),
        pytest.param(
            "fault: {kind: reset, after: soon}\n",
            [(4, 35, "'after' must be N events, N bytes or a duration")],
            id="after-garbage",
        ),
        pytest.param(
            "fault: {kind: hang, after: 1s}\n",
            [
                (
                    4,
                    34,
                    "'after' applies to fault close, garbage, reset, rst_stream, stall, truncate",
                )
            ],
            id="after-on-hang",
        ),
        pytest.param(
            "fault: {kind: bandwidth}\n", [(4, 14, "needs 'rate'")], id="bandwidth-no-rate"
        ),
        pytest.param(
            "fault: {kind: bandwidth, rate: fast}\n",
            [(4, 38, "'rate' must be bytes per second")],
            id="bad-rate",
        ),
        pytest.param(
            "fault: {kind: slow-close, hold: 1h}\n",
            [(4, 39, "'hold' must be at most 300s")],
            id="huge-hold",
        ),
        pytest.param(
            "compress: zip\n",
            [(4, 17, "'compress' must be one of off, auto, gzip, deflate, br")],
            id="unknown-encoding",
        ),
    ],
)
def test_located_problems(body: str, expected: list[tuple[int, int, str]]) -> None:
    found = problems(body)
    assert len(found) == len(expected), found
    for (line, col, text), got in zip(expected, found, strict=True):
        assert (line, col) == got[:2] and text in got[2], found


@pytest.mark.parametrize(
    ("text", "query", "expected"),
    [
        ("3 events", False, After("events", 3)),
        ("1 event", False, After("events", 1)),
        ("1024 bytes", False, After("bytes", 1024)),
        ("2s", False, After("seconds", 2.0)),
        ("150ms", False, After("seconds", 0.15)),
        (0, False, After("bytes", 0)),
        ("3events", True, After("events", 3)),
        ("1024bytes", True, After("bytes", 1024)),
        ("1024", True, After("bytes", 1024)),
        ("2s", True, After("seconds", 2.0)),
    ],
)
def test_parse_after(text: object, query: bool, expected: After) -> None:
    assert parse_after(text, query=query) == expected


@pytest.mark.parametrize("text", ["-1", "1e3", "3 apples", "9999999999999 bytes", "2h", "", "x"])
def test_parse_after_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="'after'"):
        parse_after(text, query=True)


@pytest.mark.parametrize(
    ("text", "rate"),
    [("10KiB/s", 10240), ("1MB/s", 1e6), ("512B/s", 512), ("100", 100), ("1.5KiB/s", 1536)],
)
def test_parse_rate(text: str, rate: float) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["0", "0.5B/s", "fast", "-1KiB/s", "1e400"])
def test_parse_rate_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="'rate'"):
        parse_rate(text)


def test_sse_json_is_valid_json_per_line() -> None:
    spec = respond('{stream: {sse: [{data: {text: "line1\\nline2"}}]}}').stream
    ((_, data),) = stream_bytes(spec)
    assert data.startswith(b"data: ") and data.count(b"\n") == 2  # JSON escapes the newline
    assert json.loads(data[6:-2]) == {"text": "line1\nline2"}
