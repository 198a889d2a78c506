"""101 Switching Protocols to a non-WebSocket token: raw byte echo on the taken-over connection."""

from __future__ import annotations

import asyncio

from aiohttp import web

from mockstatus.types import ResponsePlan
from mockstatus.wire.core import _headers


class _EchoParser:
    """Takes over the connection's bytes after a 101 (aiohttp's `set_parser` contract)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self.queue.put_nowait(None)


async def raw_upgrade(
    request: web.BaseRequest, plan: ResponsePlan, token: str, limit: int
) -> web.StreamResponse:
    """101 with `Upgrade: <token>`, then echo raw bytes until the client closes (or `limit`)."""
    headers = _headers(plan)
    headers["Upgrade"] = token
    headers["Connection"] = "Upgrade"
    resp = web.StreamResponse(status=101, reason=plan.reason, headers=headers)
    # Take the bytes over before the 101 goes out: anything the client sends as soon as it reads
    # the 101 must reach the echo, not aiohttp's HTTP parser (which would answer it with a 400).
    parser = _EchoParser()
    request.protocol.set_parser(parser)  # type: ignore[arg-type]
    echoed = 0
    try:
        await resp.prepare(request)
        transport = request.transport
        while transport is not None and not transport.is_closing() and echoed < limit:
            data = await parser.queue.get()
            if data is None:  # the client closed (or half-closed) its side
                break
            data = data[: limit - echoed]
            transport.write(data)
            echoed += len(data)
            await request.writer.drain()  # back-pressure: a client that does not read stalls us
    except ConnectionResetError:
        pass
    finally:
        if request.transport is not None:
            request.transport.close()
    return resp
