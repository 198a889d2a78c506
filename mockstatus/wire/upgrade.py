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
    await resp.prepare(request)
    parser = _EchoParser()
    request.protocol.set_parser(parser)  # type: ignore[arg-type]
    echoed = 0
    transport = request.transport
    while transport is not None and not transport.is_closing() and echoed < limit:
        data = await parser.queue.get()
        if data is None:
            break
        transport.write(data)
        echoed += len(data)
    if transport is not None:
        transport.close()
    return resp
