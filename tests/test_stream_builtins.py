"""`/sse` and `/stream/{n}`: the plans (pure, with the injected clock) and the wire."""

from __future__ import annotations

import json

import httpx
import pytest

from mockstatus.errors import RequestError
from mockstatus.runner import BackgroundServer
from mockstatus.stream_endpoints import sse_plan, stream_lines_plan
from mockstatus.types import ManualClock, Query, RequestFacts

CLOCK = ManualClock(wall=1_767_225_600.0)


def facts(query: str = "", **headers: str) -> RequestFacts:
    items = tuple(tuple(p.split("=", 1)) for p in query.split("&") if p)
    return RequestFacts(
        "GET",
        "/sse",
        Query(items),  # type: ignore[arg-type]
        {k.replace("_", "-").lower(): v for k, v in headers.items()},
    )


def events(query: str = "", **headers: str) -> list[tuple[float, bytes]]:
    plan = sse_plan(facts(query, **headers), CLOCK)
    assert plan.stream is not None
    return list(plan.stream.pieces())


def test_sse_defaults_are_go_httpbins() -> None:
    got = events()
    assert [round(at, 6) for at, _ in got] == [i * 0.5 for i in range(10)]  # 10 over 5 s
    assert got[0][1] == (b'event: ping\nid: 1\ndata: {"id": 1, "timestamp": 1767225600000}\n\n')
    assert got[9][1] == (b'event: ping\nid: 10\ndata: {"id": 10, "timestamp": 1767225604500}\n\n')
    plan = sse_plan(facts(), CLOCK)
    assert dict(plan.headers)["Content-Type"] == "text/event-stream"


@pytest.mark.parametrize(
    ("query", "ats"),
    [
        ("count=3&duration=3s", [0.0, 1.0, 2.0]),
        ("count=2&duration=100", [0.0, 0.05]),  # bare number: milliseconds
        ("count=3&interval=150ms", [0.0, 0.15, 0.3]),
        ("count=2&delay=1s&duration=2s", [1.0, 2.0]),
    ],
)
def test_sse_schedule(query: str, ats: list[float]) -> None:
    assert [round(at, 6) for at, _ in events(query)] == ats


def test_sse_event_retry_and_resume() -> None:
    got = events("count=3&event=tick&retry=2500&duration=0", last_event_id="1")
    assert [d.split(b"\n")[:3] for _, d in got] == [
        [b"event: tick", b"id: 2", b"retry: 2500"],
        [b"event: tick", b"id: 3", b'data: {"id": 3, "timestamp": 1767225600000}'],
    ]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("count=0", "count"),
        ("count=1001", "count"),
        ("count=x", "count"),
        ("duration=-1s", "duration"),
        ("duration=1h", "duration"),
        ("interval=soon", "interval"),
        ("delay=9999s", "delay"),
        ("retry=-5", "retry"),
        ("event=a%0Ab", "event"),
    ],
)
def test_sse_bad_parameters(query: str, param: str) -> None:
    query = query.replace("%0A", "\n")
    with pytest.raises(RequestError) as info:
        sse_plan(facts(query), CLOCK)
    assert info.value.param == param and info.value.status == 400


def test_stream_lines_shape() -> None:
    f = RequestFacts("GET", "/stream/3", Query((("a", "1"),)), {"host": "h"}, (("Host", "h"),))
    plan = stream_lines_plan(f, "3")
    assert plan.stream is not None
    lines = [json.loads(d) for _, d in plan.stream.pieces()]
    assert [line["id"] for line in lines] == [0, 1, 2]
    assert lines[0] == {
        "url": "http://localhost/stream/3",
        "args": {"a": "1"},
        "headers": {"Host": "h"},
        "origin": "127.0.0.1",
        "id": 0,
    }
    for bad in ("-1", "x", ""):
        with pytest.raises(RequestError):
            stream_lines_plan(f, bad)
    # httpbin's min(n, 100): a larger count is clamped, however many digits it has
    for large in ("101", "9" * 5000):
        plan = stream_lines_plan(f, large)
        assert plan.stream is not None and plan.stream.events == 100


def test_on_the_wire(server: BackgroundServer) -> None:
    r = httpx.get(server.url("/sse?count=3&interval=1ms"))
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
    assert r.headers["transfer-encoding"] == "chunked"
    assert [line for line in r.text.split("\n") if line.startswith("id:")] == [
        "id: 1",
        "id: 2",
        "id: 3",
    ]
    r = httpx.get(server.url("/stream/5"))
    assert [json.loads(line)["id"] for line in r.text.splitlines()] == [0, 1, 2, 3, 4]
    assert httpx.get(server.url("/sse?count=1001")).status_code == 400
    # httpbin clamps the count to 100 lines rather than refusing it (a drop-in must too).
    assert len(httpx.get(server.url("/stream/101")).text.splitlines()) == 100
    assert httpx.get(server.url("/stream/x1")).status_code == 400
    head = httpx.head(server.url("/sse"))
    assert head.status_code == 200 and head.content == b""
