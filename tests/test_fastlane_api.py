"""The private aiohttp API the fast lane stands on (wire/fastlane.py's docstring lists it).

aiohttp is pinned `<3.15`; when a release renames or reshapes any of these, this file fails
first and says which, instead of the lane misbehaving quietly."""

from __future__ import annotations

import inspect

import aiohttp
from aiohttp.http_parser import HttpRequestParser, RawRequestMessage
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.web_protocol import RequestHandler, _ErrInfo

from mockstatus.wire import fastlane
from mockstatus.wire.server import ConnectionHandler

HANDLER_SLOTS = {
    "_parser",
    "_messages",
    "_waiter",
    "_payload_parser",
    "_upgraded",
    "_message_tail",
    "_keepalive",
    "_keepalive_handle",
    "_keepalive_timeout",
    "_next_keepalive_close_time",
    "_request_count",
    "_max_msg_queue_size",
    "_force_close",
    "_close",
}


def test_aiohttp_is_within_the_pin() -> None:
    major, minor = (int(x) for x in aiohttp.__version__.split(".")[:2])
    assert (3, 14) <= (major, minor) < (3, 15)


def test_the_handler_keeps_the_attributes_the_lane_reads() -> None:
    slots = {name for cls in RequestHandler.__mro__ for name in getattr(cls, "__slots__", ())}
    assert slots >= HANDLER_SLOTS, HANDLER_SLOTS - slots
    assert "_paused" in slots and "_buffer_paused" in slots  # BaseProtocol's flow control
    for method in ("_process_keepalive", "_pause_reading_for_buffer", "force_close"):
        assert callable(getattr(RequestHandler, method))


def test_data_received_still_queues_the_way_the_lane_copies() -> None:
    """The lane's tail repeats RequestHandler.data_received's queueing: same names in use."""
    names = set(RequestHandler.data_received.__code__.co_names)
    assert {
        "feed_data",
        "_messages",
        "_request_count",
        "_waiter",
        "_upgraded",
        "_message_tail",
        "_max_msg_queue_size",
        "_pause_reading_for_buffer",
        "_ErrInfo",
        "EMPTY_PAYLOAD",
    } <= names


def test_the_message_loop_still_parks_on_the_waiter_and_frees_parser_slots() -> None:
    source = inspect.getsource(RequestHandler.start)
    for needle in (
        "self._waiter = loop.create_future()",
        "self._parser.message_consumed()",
        "self._next_keepalive_close_time = close_time",
        "self._keepalive_handle = loop.call_at(",
    ):
        assert needle in source, needle


def test_the_parser_api() -> None:
    assert callable(HttpRequestParser.message_consumed)
    for field in ("method", "path", "version", "headers", "should_close", "url"):
        assert hasattr(RawRequestMessage, field), field
    assert _ErrInfo(status=400, exc=ValueError(), message="m").status == 400
    assert EMPTY_PAYLOAD.is_eof()


def test_our_handler_chain() -> None:
    assert issubclass(fastlane.FastLaneHandler, ConnectionHandler)
    assert ConnectionHandler.http1_data_received is not RequestHandler.data_received
    assert fastlane.FastLaneHandler.http1_data_received is not RequestHandler.data_received


def test_the_server_keeps_its_connections_by_handler() -> None:
    """`fastlane._in_flight` finds the delayed answers at shutdown from `Server._connections`."""
    source = inspect.getsource(aiohttp.web_server.Server)
    assert "self._connections: dict[RequestHandler, asyncio.Transport] = {}" in source
    assert "self._connections[handler] = transport" in source
