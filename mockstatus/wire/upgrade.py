"""101 Switching Protocols: the WebSocket echo, and a raw byte echo for any other token.

The decision (which token, or the 426 for a WebSocket version we do not speak) is made by the
pure layer (`endpoints.switching_plan`, `endpoints.checked_upgrade`); this module executes it.

Back-pressure both ways: the echo waits for its writes to drain (a client that does not read
stalls it), and reading pauses once UPGRADE_ECHO_BUFFER bytes wait to be echoed, so a client that
sends without reading fills its own socket buffers, not the server's memory. Every received byte
counts against the echo cap.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from aiohttp import WSMsgType, web

from mockstatus.errors import RequestError
from mockstatus.limits import MAX_UPGRADE_ECHO, MAX_WEBSOCKET_MESSAGE, UPGRADE_ECHO_BUFFER
from mockstatus.types import ResponsePlan
from mockstatus.wire.core import _headers
from mockstatus.wire.ws_guard import GuardedWebSocketResponse, close_answer, handshake_problem


class _EchoParser:
    """Takes over the connection's bytes after a 101 (aiohttp's `set_parser` contract)."""

    def __init__(self, transport: asyncio.Transport, buffer: int = UPGRADE_ECHO_BUFFER) -> None:
        self.transport = transport
        self.buffer = buffer
        self.chunks: deque[bytes] = deque()
        self.buffered = 0  # received, not yet taken by the echo loop
        self.received = 0  # every byte since the 101
        self.paused = False
        self.eof = False
        self._waiter: asyncio.Future[None] | None = None

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        chunk = bytes(data)
        self.chunks.append(chunk)
        self.buffered += len(chunk)
        self.received += len(chunk)
        if self.buffered >= self.buffer and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        self._wake()
        return False, b""

    def feed_eof(self) -> None:
        self.eof = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> bytes | None:
        """The next chunk, or None at end of stream."""
        while not self.chunks:
            if self.eof:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.paused and self.buffered <= self.buffer // 2:
            self.paused = False
            if not self.transport.is_closing():
                self.transport.resume_reading()
        return chunk


async def raw_upgrade(
    request: web.BaseRequest, plan: ResponsePlan, token: str, limit: int
) -> web.StreamResponse:
    """101 with `Upgrade: <token>`, then echo raw bytes until the client closes, or until it has
    sent `limit` bytes (then the connection closes)."""
    headers = _headers(plan)
    headers["Upgrade"] = token
    headers["Connection"] = "Upgrade"
    resp = web.StreamResponse(status=101, reason=plan.reason, headers=headers)
    transport = request.transport
    if transport is None or transport.is_closing():
        return resp
    # Take the bytes over before the 101 goes out: anything the client sends as soon as it reads
    # the 101 must reach the echo, not aiohttp's HTTP parser (which would answer it with a 400).
    parser = _EchoParser(transport)
    request.protocol.set_parser(parser)  # type: ignore[arg-type]  # aiohttp types set_parser for its own HTTP parser only
    echoed = 0
    try:
        await resp.prepare(request)
        while not transport.is_closing() and echoed < limit:
            data = await parser.get()
            if data is None:  # the client closed (or half-closed) its side
                break
            data = data[: limit - echoed]
            transport.write(data)
            echoed += len(data)
            await request.writer.drain()  # a client that does not read stalls the echo
            if parser.received >= limit:
                break  # the cap counts what was received, echoed or not
    except ConnectionResetError:
        pass
    finally:
        if request.transport is not None:
            request.transport.close()
    return resp


class WebSocketSessions:
    """The open WebSocket sessions, told 1001 when the server shuts down."""

    def __init__(self) -> None:
        self.open: set[web.WebSocketResponse] = set()
        self._closing: set[asyncio.Future[Any]] = set()

    def going_away(self) -> None:
        """Shutdown has begun: every open WebSocket gets close code 1001 (RFC 6455 §7.4.1, "going
        away") now; one whose client does not answer is cut at the shutdown deadline."""
        for ws in list(self.open):
            if not ws.closed:
                task = asyncio.ensure_future(ws.close(code=1001, message=b"server shutting down"))
                self._closing.add(task)  # held until done: the loop keeps only weak references
                task.add_done_callback(self._closing.discard)


async def websocket_echo(
    request: web.BaseRequest, sessions: WebSocketSessions
) -> web.StreamResponse:
    """101 to WebSocket, then echo every text and binary message until the client closes (its
    close frame is answered with 1000, or 1002 for a code RFC 6455 forbids: `ws_guard`). A
    handshake aiohttp refuses (no key, ...) raises a 400 `RequestError`: nothing was sent yet."""
    # RFC 6455 §4.1 (the method) and §11.3.1/§11.3.5 (each field once), which aiohttp's
    # prepare does not check: /status/101 answers any method
    problem = handshake_problem(request.method, request.headers)
    if problem is not None:
        raise RequestError(f"invalid WebSocket handshake: {problem}", param="Upgrade")
    # The cap is explicit (it was aiohttp's default): a larger message is closed with 1009.
    # +1: aiohttp refuses a message whose size reaches max_msg_size, ours is the largest allowed.
    # autoclose off: the client's close code is checked below (`close_answer`).
    ws = GuardedWebSocketResponse(autoclose=False, max_msg_size=MAX_WEBSOCKET_MESSAGE + 1)
    try:
        await ws.prepare(request)
    except web.HTTPException as exc:
        raise RequestError(f"invalid WebSocket handshake: {exc.text}", param="Upgrade") from None
    sessions.open.add(ws)
    try:
        while True:
            msg = await ws.receive()
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
            elif msg.type not in (WSMsgType.PING, WSMsgType.PONG):
                break
        if msg.type == WSMsgType.CLOSE and not ws.closed:  # the client's close: answer it
            await ws.close(code=close_answer(msg.data), drain=False)
    finally:
        sessions.open.discard(ws)
    return ws


async def upgrade(
    request: web.BaseRequest,
    plan: ResponsePlan,
    sessions: WebSocketSessions,
    limit: int = MAX_UPGRADE_ECHO,
) -> web.StreamResponse:
    """Execute a 101 plan: the WebSocket echo, or the raw echo (of at most `limit` bytes) for
    another token."""
    token = plan.upgrade or ""
    if token.lower() == "websocket":
        return await websocket_echo(request, sessions)
    return await raw_upgrade(request, plan, token, limit)
