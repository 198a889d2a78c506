"""The dashboard's event feed on the wire: `GET /__mockstatus/events` as Server-Sent Events.

The bus (`events.py`) batches and bounds; this loop only writes each subscriber's buffer at its
socket's pace, so a slow reader fills its own buffer (and drops) without holding anyone up. A
comment line every FEED_HEARTBEAT seconds keeps idle proxies from closing the stream and finds
clients that left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from mockstatus.events import EventBus
from mockstatus.semantics import SERVER

FEED_HEARTBEAT = 15.0  # seconds between keep-alive comments on an idle feed
_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",
    "Server": SERVER,
}


async def serve_feed(
    request: web.BaseRequest, bus: EventBus, snapshot: Callable[[], dict[str, Any]]
) -> web.StreamResponse:
    """Stream the feed until the client leaves or the bus closes (FeedFull propagates)."""
    sub = bus.subscribe()
    response = web.StreamResponse(status=200, headers=_HEADERS)
    try:
        await response.prepare(request)
        bus.send_now(sub, "snapshot", snapshot())
        while not sub.closed:
            if not sub.chunks:
                sub.wake.clear()
                try:
                    await asyncio.wait_for(sub.wake.wait(), FEED_HEARTBEAT)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
            data = sub.take()
            if data:
                await response.write(data)
    except (ConnectionError, RuntimeError):  # the client left (RuntimeError: transport closed)
        pass
    finally:
        bus.unsubscribe(sub)
    return response
