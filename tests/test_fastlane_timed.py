"""The fast lane's `?sleep=N` delays are parsed once per query string (Lane.delays): the same
delay as the general path's parser, a bad value never cached, the table bounded (issue 19)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.http_parser import HttpRequestParser

from mockstatus import queries
from mockstatus.limits import MAX_FAST_LANE_ENTRIES
from mockstatus.types import Query
from mockstatus.wire import fastlane


def _message(target: str):
    loop = asyncio.new_event_loop()
    try:
        parser = HttpRequestParser(object(), loop, 2**16)  # type: ignore[arg-type]
        messages, _, _ = parser.feed_data(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    finally:
        loop.close()
    return messages[0][0]


@pytest.mark.parametrize("value", ["0", "1", "2.5", "100", "999.999"])
def test_a_cached_delay_is_the_general_paths(lane, value) -> None:
    expected = queries.parse_options(Query((("sleep", value),))).sleep
    first = lane.lookup(_message(f"/status/503?sleep={value}"))
    second = lane.lookup(_message(f"/status/503?sleep={value}"))
    assert isinstance(first, fastlane.Timed) and isinstance(second, fastlane.Timed)
    assert first.delay == second.delay == expected
    assert lane.delays == {f"sleep={value}": expected}


def test_a_bad_delay_is_never_cached(lane) -> None:
    for _ in range(2):
        assert lane.lookup(_message("/status/503?sleep=99999999")) is False
    assert lane.delays == {}


def test_the_delay_table_is_bounded(lane) -> None:
    for n in range(MAX_FAST_LANE_ENTRIES + 3):
        lane.lookup(_message(f"/status/503?sleep={n % 100000}.{n // 100000}"))
    assert 0 < len(lane.delays) <= MAX_FAST_LANE_ENTRIES
