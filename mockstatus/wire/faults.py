"""Deliberate connection faults and slow bodies: reset, close, garbage, hang, truncate,
malformed chunk, slow headers, drip. Each is shown on the wire by tests/test_wire_faults.py.

What a client sees (AIOHTTP-NOTES "Faults"): reset → ECONNRESET; close → empty reply; truncate →
fewer bytes than Content-Length; garbage → no status line; hang → its own read timeout;
malformed-chunk → an invalid chunk-size line; drip and slow-headers → a valid response, late.
A client that leaves mid-fault cancels the handler (handler_cancellation=True); transport errors
end the fault quietly, never with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
from email.utils import formatdate

from aiohttp import web

from mockstatus.limits import MAX_HANG
from mockstatus.types import Drip, Fault, ResponsePlan
from mockstatus.wire.core import (
    ClientGone,
    _alive,
    _gone,
    _head_bytes,
    _headers,
    build_response,
    cut_connection,
)

# Not HTTP: no status line a client could parse (starts with a NUL and a non-token byte).
# Fixed bytes, so a test or a capture can recognise them.
GARBAGE = b"\x00\x8f\xfe GARBAGE \x01\x02\x03" + bytes(range(128, 256)) + b"\r\n\r\n"


async def send_drip(
    request: web.BaseRequest, plan: ResponsePlan, drip: Drip, *, limit: int | None = None
) -> web.StreamResponse:
    """Send the body `drip.chunk` bytes at a time; `limit` stops early (truncate)."""
    if plan.head or plan.bodiless or not plan.body:
        # No body to drip: StreamResponse.write() would put bytes after a HEAD/204/304 head.
        return build_response(plan)
    resp = web.StreamResponse(status=plan.status, reason=plan.reason, headers=_headers(plan))
    resp.content_length = len(plan.body)
    if plan.close:
        resp.force_close()  # e.g. 413: the unread request body must not be parsed as a request
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


async def send_fault(
    request: web.BaseRequest, plan: ResponsePlan, fault: Fault
) -> web.StreamResponse:
    kind = fault.kind
    if kind == "reset":
        return _reset(request)
    if kind == "close":
        _alive(request).close()
        return _gone()
    if kind == "garbage":
        transport = _alive(request)
        transport.write(GARBAGE)
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
    cut_connection(_alive(request), reset=True)
    return _gone()


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
    if plan.head or plan.bodiless:
        # No body to cut short (and StreamResponse.write() would put bytes after a HEAD/204
        # head): the head, then the connection closes.
        resp: web.StreamResponse = build_response(plan)
        resp.force_close()
        return resp
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
    headers += [("Date", _date()), ("Transfer-Encoding", "chunked")]
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


async def _slow_headers(
    request: web.BaseRequest, plan: ResponsePlan, delay: float
) -> web.StreamResponse:
    """Write the status line and headers byte by byte over `delay`, then the body."""
    headers = [*plan.headers, ("Date", _date())]
    body = b"" if plan.bodiless or plan.head else plan.body
    if not plan.bodiless:
        headers.append(("Content-Length", str(len(plan.body))))
    headers.append(("Connection", "close"))
    head = _head_bytes(plan.status, plan.reason, tuple(headers))
    step = delay / max(len(head), 1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        for i in range(len(head)):
            _alive(request).write(head[i : i + 1])
            if i + 1 < len(head):
                # On a schedule, not `sleep(step)` per byte: the head takes `delay`, not
                # `delay` plus the loop's overhead for every byte.
                await asyncio.sleep(max(0.0, start + (i + 1) * step - loop.time()))
        transport = _alive(request)
        transport.write(body)
        await _flush_and_close(request, transport)
    except (ClientGone, ConnectionResetError):
        pass
    return _gone()


def _date() -> str:
    """RFC 9110 §6.6.1 Date for heads written raw (aiohttp adds it on its own path)."""
    return formatdate(usegmt=True)
