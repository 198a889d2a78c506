"""The only module that touches aiohttp's transport: interim 1xx writes, faults, drips, upgrades.

Everything here executes a ResponsePlan decided elsewhere. Transport errors (the client left) are
translated here, once: the handler returns quietly instead of logging a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from aiohttp import web
from multidict import CIMultiDict

from mockstatus.types import Drip, Fault, Headers, Interim, ResponsePlan

MAX_HANG = 600.0  # a hung request is released after this even if the client never leaves


class ClientGone(Exception):
    """The client closed the connection while we were writing."""


def _head_bytes(status: int, reason: str, headers: Headers) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers]
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


def _alive(request: web.BaseRequest) -> asyncio.Transport:
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ClientGone()
    return transport  # type: ignore[return-value]


async def write_interim(request: web.BaseRequest, interim: Interim) -> None:
    """Write a 1xx before the final response (aiohttp has no API for 102/103).

    Raw transport write, not request.writer.write(): the latter marks the response as started,
    so a later handler error would drop the connection instead of answering 500.
    Header names/values were validated when the plan was built.
    """
    _alive(request).write(_head_bytes(interim.status, interim.reason, interim.headers))
    await request.writer.drain()


async def send_interims(request: web.BaseRequest, plan: ResponsePlan) -> None:
    """Send the plan's interims, then wait out its delay (repeating 102 if asked)."""
    for interim in plan.interims:
        await write_interim(request, interim)
    delay = plan.delay
    if delay <= 0:
        return
    interval = plan.processing_interval
    processing = next((i for i in plan.interims if i.status == 102), None)
    if interval is None or processing is None:
        await asyncio.sleep(delay)
        return
    # RFC 2518 §10.1: keep telling the client we are still working, once per interval.
    remaining = delay
    while remaining > interval:
        await asyncio.sleep(interval)
        remaining -= interval
        await write_interim(request, processing)
    await asyncio.sleep(remaining)


def _headers(plan: ResponsePlan) -> CIMultiDict[str]:
    return CIMultiDict(plan.headers)


def build_response(plan: ResponsePlan) -> web.Response:
    """A final response for a plan with no fault and no drip."""
    if plan.content_length_zero:
        headers = _headers(plan)
        headers["Content-Length"] = "0"  # aiohttp does not add it for 205
        resp = web.Response(status=plan.status, reason=plan.reason, headers=headers)
    elif plan.bodiless:
        resp = web.Response(status=plan.status, reason=plan.reason, headers=_headers(plan))
    else:
        resp = web.Response(
            status=plan.status, reason=plan.reason, headers=_headers(plan), body=plan.body
        )
    if plan.close:
        resp.force_close()
    return resp


async def send(request: web.BaseRequest, plan: ResponsePlan) -> web.StreamResponse:
    """Execute a plan: interims, delay, then the final response, a drip or a fault."""
    try:
        if plan.interims or plan.delay:
            await send_interims(request, plan)
        if plan.fault is not None:
            return await send_fault(request, plan, plan.fault)
        if plan.drip is not None and plan.body and not plan.head and not plan.bodiless:
            return await send_drip(request, plan, plan.drip)
        return build_response(plan)
    except (ClientGone, ConnectionResetError):
        return _gone()


def _gone() -> web.Response:
    # The client left; aiohttp's write on a closed transport is a quiet no-op.
    resp = web.Response(status=499, reason="Client Closed Request")
    resp.force_close()
    return resp


async def send_drip(
    request: web.BaseRequest, plan: ResponsePlan, drip: Drip, *, limit: int | None = None
) -> web.StreamResponse:
    """Send the body `drip.chunk` bytes at a time; `limit` stops early (truncate)."""
    resp = web.StreamResponse(status=plan.status, reason=plan.reason, headers=_headers(plan))
    resp.content_length = len(plan.body)
    await resp.prepare(request)
    body = plan.body if limit is None else plan.body[:limit]
    try:
        for start in range(0, len(body), drip.chunk):
            if start:
                await asyncio.sleep(drip.every)
            await resp.write(body[start : start + drip.chunk])
        if limit is None:
            await resp.write_eof()
    except (ConnectionResetError, ClientGone):
        pass
    return resp


async def send_fault(request: web.BaseRequest, plan: ResponsePlan, fault: Fault) -> web.StreamResponse:
    kind = fault.kind
    if kind == "reset":
        return _reset(request)
    if kind == "close":
        _alive(request).close()
        return _gone()
    if kind == "garbage":
        transport = _alive(request)
        transport.write(_garbage(plan.body))
        await _flush_and_close(request, transport)
        return _gone()
    if kind == "hang":
        return await _hang(request)
    if kind == "truncate":
        return await _truncate(request, plan)
    if kind == "malformed-chunk":
        return await _malformed_chunk(request, plan)
    if kind == "slow-headers":
        return await _slow_headers(request, plan, fault.delay or 2.0)
    if kind == "drip":
        drip = fault.drip or plan.drip or Drip(chunk=1, every=0.1)
        return await send_drip(request, plan, drip)
    raise ValueError(f"unknown fault {kind!r}")  # the loader and the query parser reject these


def _reset(request: web.BaseRequest) -> web.StreamResponse:
    """RST instead of FIN: SO_LINGER (on, 0 s) then abort (the client sees ECONNRESET)."""
    transport = _alive(request)
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return _gone()


def _garbage(seed_bytes: bytes) -> bytes:
    # Not HTTP: no status line a client could parse (starts with a NUL and a non-token byte).
    return b"\x00\x8f\xfe GARBAGE \x01\x02\x03" + bytes(range(128, 256)) + b"\r\n\r\n"


async def _flush_and_close(request: web.BaseRequest, transport: asyncio.Transport) -> None:
    with contextlib.suppress(ConnectionResetError):
        await request.writer.drain()
    transport.close()


async def _hang(request: web.BaseRequest) -> web.StreamResponse:
    """Send nothing. The handler is cancelled when the client leaves (handler_cancellation=True);
    MAX_HANG bounds it anyway so no task lives forever."""
    await asyncio.sleep(MAX_HANG)
    transport = request.transport
    if transport is not None:
        transport.close()
    return _gone()


async def _truncate(request: web.BaseRequest, plan: ResponsePlan) -> web.StreamResponse:
    """Promise Content-Length, send half the body, close."""
    body = plan.body or b"x" * 64
    resp = web.StreamResponse(status=plan.status, reason=plan.reason, headers=_headers(plan))
    resp.content_length = len(body)
    await resp.prepare(request)
    try:
        await resp.write(body[: len(body) // 2])
        transport = _alive(request)
        await _flush_and_close(request, transport)
    except (ConnectionResetError, ClientGone):
        pass
    return resp


async def _malformed_chunk(request: web.BaseRequest, plan: ResponsePlan) -> web.StreamResponse:
    """A chunked head, one valid chunk, then a chunk-size line that is not hex; then close."""
    headers = [(n, v) for n, v in plan.headers if n.lower() != "content-length"]
    headers.append(("Transfer-Encoding", "chunked"))
    transport = _alive(request)
    body = plan.body or b"partial"
    transport.write(
        _head_bytes(plan.status, plan.reason, tuple(headers))
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\nZZZ;not-hex\r\ngarbage\r\n"
    )
    await _flush_and_close(request, transport)
    return _gone()


async def _slow_headers(request: web.BaseRequest, plan: ResponsePlan, delay: float) -> web.StreamResponse:
    """Write the status line and headers byte by byte over `delay`, then the body."""
    headers = list(plan.headers)
    body = b"" if plan.bodiless or plan.head else plan.body
    if not plan.bodiless:
        headers.append(("Content-Length", str(len(plan.body))))
    headers.append(("Connection", "close"))
    head = _head_bytes(plan.status, plan.reason, tuple(headers))
    step = delay / max(len(head), 1)
    try:
        for i in range(len(head)):
            _alive(request).write(head[i : i + 1])
            await asyncio.sleep(step)
        transport = _alive(request)
        transport.write(body)
        await _flush_and_close(request, transport)
    except ClientGone:
        pass
    return _gone()


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
