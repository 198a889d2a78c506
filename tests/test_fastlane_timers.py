"""The fast lane's delayed answers (`/status/{code}?sleep=N`) cost one TimerHandle each and
nothing else that lives through the delay: no task, no future (made only when a shutdown drain
asks), no per-request tuple; issue 19's timers, measured by bench/sleep.py."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockstatus.app import Mockstatus
from mockstatus.limits import MAX_FAST_LANE_ENTRIES
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock
from mockstatus.wire import fastlane
from tests import rawhttp
from tests.test_fastlane_timed import _message


def test_the_same_delayed_request_gets_the_same_timed_answer(lane) -> None:
    first = lane.lookup(_message("/status/503?sleep=100"))
    second = lane.lookup(_message("/status/503?sleep=100"))
    other = lane.lookup(_message("/status/503?sleep=5"))
    assert isinstance(first, fastlane.Timed) and isinstance(other, fastlane.Timed)
    assert second is first  # made once, not per request
    assert (first.delay, first.query, first.entry.status) == (0.1, "sleep=100", 503)
    assert (other.delay, other.query) == (0.005, "sleep=5")
    assert other.entry is first.entry


def test_the_timed_table_is_bounded_and_forgotten_on_reset(lane) -> None:
    for n in range(MAX_FAST_LANE_ENTRIES + 3):
        lane.lookup(_message(f"/status/503?sleep={n % 100000}.{n // 100000}"))
    assert 0 < len(lane.timed) <= MAX_FAST_LANE_ENTRIES
    lane.reset()
    assert lane.timed == {}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackgroundServer]:
    app = Mockstatus(clock=ManualClock(), rng=random.Random(3), scenarios_dir=tmp_path)
    app.store.load_initial()
    background = BackgroundServer(app, fast_lane=True, shutdown_timeout=0.2).start()
    yield background
    background.stop()


def _handlers(server: BackgroundServer) -> list[fastlane.FastLaneHandler]:
    assert server._runner is not None
    return [
        c for c in server._runner.server._connections if isinstance(c, fastlane.FastLaneHandler)
    ]


def _waiting(server: BackgroundServer) -> list[tuple[Any, Any, Any]]:
    """(timer, drain future, request target) of each connection's delayed answer."""

    def look() -> list[tuple[Any, Any, Any]]:
        return [
            (h._lane_timer, h._lane_future, h._lane_msg.path if h._lane_msg else None)
            for h in _handlers(server)
            if h._lane_timer is not None
        ]

    deadline = time.monotonic() + 5
    found = server.call(look)
    while not found and time.monotonic() < deadline:
        time.sleep(0.01)
        found = server.call(look)
    return found


def test_a_waiting_answer_holds_one_timer_and_no_future(server) -> None:
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/503?sleep=60000"))
        waiting = _waiting(server)
        assert len(waiting) == 1
        timer, future, target = waiting[0]
        assert isinstance(timer, asyncio.TimerHandle) and not timer.cancelled()
        assert future is None and target == "/status/503?sleep=60000"
        assert server.lane is not None and server.lane.answered == 1
        # The drain's view: a future made on the first ask, the same one on the next.
        assert server._runner is not None
        mserver = server._runner.server
        first = server.call(fastlane._in_flight, mserver)
        again = server.call(fastlane._in_flight, mserver)
        assert len(first) == 1 and again == first and not first[0].done()


def test_a_drain_future_settles_when_the_answer_is_written(server) -> None:
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/503?sleep=300"))
        assert len(_waiting(server)) == 1
        assert server._runner is not None
        (future,) = server.call(fastlane._in_flight, server._runner.server)
        _, answer = rawhttp.Reader(sock).read_response("GET")
        assert answer.status == 503 and answer.body == b"503 Service Unavailable"
        assert server.call(lambda: future.done() and not future.cancelled()) is True
        assert server.call(fastlane._in_flight, server._runner.server) == []
        # The connection goes on: the next request is answered at once.
        sock.sendall(rawhttp.build("GET", "/status/404"))
        _, after = rawhttp.Reader(sock).read_response("GET")
    assert after.status == 404
    entries = [(e.path, e.query, e.status) for e in server.app.journal.entries]
    assert entries == [("/status/503", "sleep=300", 503), ("/status/404", "", 404)]


def test_asyncio_clock_due_time_is_arrival_plus_delay() -> None:
    assert fastlane.due_time(10.0, 0.1, False) == 10.1
    assert fastlane.due_time(10.0, 0.0, False) == 10.0


@pytest.mark.parametrize(
    ("loop_ms", "precise", "delay", "due_ms"),
    [
        (10_000, 10.0003, 0.1, 10_101),  # idle loop: the precise clock, rounded up
        (10_000, 10.0042, 0.1, 10_101),  # a busy iteration: the cached ms + 1, rounded up
        (10_000, 10.0007, 0.0025, 10_004),  # fractional milliseconds round up too
        (10_000, 10.0001, 0.0, 10_001),
    ],
    ids=["idle", "busy", "fraction", "zero"],
)
def test_uvloop_clock_due_time_is_never_early(
    monkeypatch, loop_ms: int, precise: float, delay: float, due_ms: int
) -> None:
    monkeypatch.setattr(fastlane.time, "monotonic", lambda: precise)
    due = fastlane.due_time(loop_ms / 1000, delay, True)
    assert round(due * 1000) == due_ms and abs(due * 1000 - due_ms) < 1e-6
    # The request arrived after the cached ms and before both the precise read and ms + 1.
    latest_arrival = min(loop_ms / 1000 + 0.001, precise)
    assert due >= latest_arrival + delay - 1e-9


def test_uvloop_timers_armed_with_due_time_never_fire_early() -> None:
    uvloop = pytest.importorskip("uvloop")
    loop = uvloop.new_event_loop()
    lateness: list[float] = []

    async def arm_many() -> None:
        for _ in range(40):
            await asyncio.sleep(0.0013)  # a new loop iteration: its cached time is fresh
            arrived = loop.time()  # as the lane reads it, first thing in the iteration
            floor = min(arrived + 0.001, time.monotonic())  # the arrival lies before this
            due = fastlane.due_time(arrived, 0.005, True)
            loop.call_at(due, lambda f=floor: lateness.append(time.monotonic() - f - 0.005))
        await asyncio.sleep(0.05)

    try:
        loop.run_until_complete(arm_many())
    finally:
        loop.close()
    assert len(lateness) == 40 and min(lateness) >= 0
