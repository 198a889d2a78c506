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

from mockstatus.encoding import choose
from mockstatus.events import GZIP_HEADER, EventBus, deflate
from mockstatus.semantics import SERVER

FEED_HEARTBEAT = 15.0  # seconds between keep-alive comments on an idle feed
_KEEP_ALIVE = b": keep-alive\n\n"
FEED_WRITE_BUFFER = 256 * 1024  # bytes queued in a socket before its batches wait in the bus
_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",
    "Vary": "Accept-Encoding",
    "Server": SERVER,
}
_GZIP_HEADERS = {**_HEADERS, "Content-Encoding": "gzip"}


def wants_gzip(accept_encoding: str | None) -> bool:
    """Whether the feed is sent gzip-coded: only to a client that lists gzip (every browser
    does), never on the RFC 9110 §12.5.3 reading of no Accept-Encoding (curl and raw readers
    get plain text)."""
    return accept_encoding is not None and choose("gzip", accept_encoding) == "gzip"


async def serve_feed(
    request: web.BaseRequest, bus: EventBus, snapshot: Callable[[], dict[str, Any]]
) -> web.StreamResponse:
    """Stream the feed until the client leaves or the bus closes (FeedFull propagates)."""
    sub = bus.subscribe()
    chunked = request.version >= (1, 1)
    gzip = chunked and wants_gzip(request.headers.get("Accept-Encoding"))
    response = web.StreamResponse(status=200, headers=_GZIP_HEADERS if gzip else _HEADERS)
    try:
        if chunked:
            response.enable_chunked_encoding()
        await response.prepare(request)
        if gzip:
            await response.write(GZIP_HEADER)
            sub.gzip = True
        bus.send_now(sub, "snapshot", snapshot())
        transport = request.transport
        if chunked and transport is not None:
            sub.sink = _sink(transport)
        while not sub.closed:
            if not sub.chunks:
                sub.wake.clear()
                try:
                    await asyncio.wait_for(sub.wake.wait(), FEED_HEARTBEAT)
                except TimeoutError:
                    await response.write(deflate(_KEEP_ALIVE) if gzip else _KEEP_ALIVE)
                    continue
            data = sub.take()
            if data:
                await response.write(deflate(data) if gzip else data)
    except (ConnectionError, RuntimeError):  # the client left (RuntimeError: transport closed)
        pass
    finally:
        bus.unsubscribe(sub)
    return response


def _sink(transport: asyncio.WriteTransport) -> Callable[[bytes], bool]:
    """Write a batch as one HTTP/1.1 chunk (RFC 9112 §7.1) straight to the socket while its
    buffer is below FEED_WRITE_BUFFER; the response's own chunked writes (the loop above) frame
    the same way, so the two interleave into one valid stream, in order."""

    def write(batch: bytes) -> bool:
        if transport.is_closing() or transport.get_write_buffer_size() > FEED_WRITE_BUFFER:
            return False  # congested or gone: the bus queues it (bounded) for the loop
        if batch:  # an empty chunk would end the stream (RFC 9112 §7.1)
            transport.write(_chunk(batch))
        return True

    return write


class _LastChunk:
    batch: bytes | None = None
    chunk = b""


def _chunk(batch: bytes) -> bytes:
    """`batch` framed as one chunk. The bus hands the same bytes object to every subscriber of
    a tick, so it is framed (copied) once per tick, not once per open feed: with 50 feeds
    those copies were a tenth of what the feed cost (bench/dashboard.py)."""
    last = _LastChunk
    if batch is not last.batch:
        last.batch, last.chunk = batch, b"%x\r\n%b\r\n" % (len(batch), batch)
    return last.chunk
