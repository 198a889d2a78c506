"""Timed bodies on the wire: streams (SSE, NDJSON, chunks) and faults placed in a body.

A stream is sent with HTTP/1.1 chunked framing (aiohttp frames each write as one chunk; an
HTTP/1.0 client gets the bytes and a close instead). Pieces are written on a schedule measured
from the moment the head was sent, so a slow write does not push every later event back.

Faults with a position (`after` N bytes / N events / a duration) strike there; bytes count the
body after content coding, not chunk framing. What the client sees:
- `reset`: the bytes so far, then ECONNRESET;
- `close`: the bytes so far as complete chunks, then FIN (no terminating chunk);
- `truncate`: the cut chunk announces its full size but ends early, then FIN (with a
  Content-Length body: fewer bytes than promised);
- `garbage`: the bytes so far, then bytes that are no chunk at all, then FIN;
- `stall`: the bytes so far, then nothing, the connection open (until the client leaves, or
  MAX_STALL);
- `bandwidth`: every byte, at most `rate` bytes per second;
- `slow-close`: every byte and the terminator, then the connection held open `hold` seconds.
A client that leaves cancels the handler (handler_cancellation=True); a stream also ends at
shutdown (the drain cancels it at its deadline) and after MAX_STREAM_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from aiohttp import web

from mockstatus.encoding import Encoder, corrupt, encoder
from mockstatus.limits import MAX_STALL, MAX_STREAM_SECONDS
from mockstatus.types import ENCODING_FAULTS, After, Fault, ResponsePlan, StreamPlan
from mockstatus.wire.core import ClientGone, _alive, _headers, build_response, settled
from mockstatus.wire.faults import GARBAGE, _reset, send_fault

# Faults this module executes when they have no `after`: the rest strike before the head.
OWN_KINDS = frozenset({"truncate", "stall", "bandwidth", "slow-close"})
_BANDWIDTH_TICK = 0.05  # seconds of bytes written at once under a `bandwidth` cap


def handles(plan: ResponsePlan) -> bool:
    """Whether this module sends `plan` (a stream, or a fault placed in the body)."""
    fault = plan.fault
    if plan.stream is not None:
        return True
    return fault is not None and (fault.after is not None or fault.kind in OWN_KINDS - {"truncate"})


def fault_position(fault: Fault | None, stream: StreamPlan | None, body_len: int) -> After | None:
    """Where the fault strikes: its `after`, or its default (truncate: half the body or half the
    events; stall: right after the head)."""
    if fault is None or fault.kind in ("bandwidth", "slow-close"):
        return None
    if fault.after is not None:
        return fault.after
    if fault.kind == "truncate":
        if stream is None:
            return After("bytes", body_len // 2)
        return After("events", (stream.events or 2) // 2)
    if fault.kind == "stall":
        return After("bytes", 0)
    return None


async def send_stream(request: web.BaseRequest, plan: ResponsePlan) -> web.StreamResponse:
    fault = plan.fault
    if (
        fault is not None
        and fault.after is None
        and fault.kind not in OWN_KINDS
        and fault.kind not in ENCODING_FAULTS
    ):
        return await send_fault(request, plan, fault)  # before the head, as without a stream
    if plan.head or plan.bodiless:
        head = build_response(plan)
        if fault is not None:
            head.force_close()
        return head
    stream = plan.stream
    resp = web.StreamResponse(status=plan.status, reason=plan.reason, headers=_headers(plan))
    if stream is None:
        resp.content_length = len(plan.body)
    position = fault_position(fault, stream, len(plan.body))
    if plan.close or position is not None or (fault is not None and fault.kind == "slow-close"):
        resp.force_close()
    await resp.prepare(request)
    writer = _Writer(request, resp, plan, fault, position)
    try:
        async with asyncio.timeout(MAX_STREAM_SECONDS):
            await writer.run(stream)
    except (ClientGone, ConnectionResetError):
        return resp
    except TimeoutError:
        with contextlib.suppress(ClientGone, ConnectionResetError):
            if not writer.struck:
                await resp.write_eof()  # the lifetime cap ends a stream cleanly
        return resp
    return resp


class Schedule:
    """One response's schedule: pieces, heartbeats, the coding, the fault's position. The
    transport-neutral part: HTTP/1.1 (`_Writer`) and HTTP/2 (`wire.h2_streams`) say how bytes,
    the end and the fault's strike go on their wire (`_send`, `_eof`, `_strike`, `_hold_close`)."""

    def __init__(self, plan: ResponsePlan, fault: Fault | None, position: After | None) -> None:
        self.plan = plan
        self.fault = fault
        self.kind = fault.kind if fault is not None else None
        self.position = position
        self.loop = asyncio.get_running_loop()
        self.start = self.loop.time()
        # The scheduled time of the last piece or heartbeat: heartbeats fill the idle time
        # between scheduled pieces on the schedule itself, so a late wake-up (a busy loop)
        # neither skips a heartbeat nor shifts the ones after it; how many go out is fixed.
        self.mark = self.start
        self.sent = 0  # body bytes after coding
        self.events = 0
        self.rate = fault.rate if fault is not None and fault.kind == "bandwidth" else 0.0
        self.paced = 0  # bytes written under the bandwidth cap
        self.struck = False

    async def run(self, stream: StreamPlan | None) -> None:
        coder: Encoder | None = None
        heartbeat, every = b"", 0.0
        if stream is not None:
            items: Iterator[tuple[float, bytes]] = stream.pieces()
            coder = encoder(stream.coding) if stream.coding else None
            heartbeat, every = stream.heartbeat, stream.every
        else:
            items = iter(((0.0, self.plan.body),))
        corrupt_next = self.kind == "corrupt-encoding" and coder is not None
        # truncate-encoding: half the events, then half of the next one's coded bytes, then the
        # chunked terminator: the HTTP framing is complete, the compressed data is not.
        cut_at = None
        if self.kind == "truncate-encoding" and coder is not None and stream is not None:
            cut_at = (stream.events or 2) // 2
        position = self.position
        if position is not None and position.unit == "events" and position.amount == 0:
            return await self._strike(b"")
        for at, data in items:
            if at > MAX_STREAM_SECONDS:
                break
            if position is not None and position.unit == "seconds" and position.amount <= at:
                await self._until(position.amount, heartbeat, every)
                return await self._strike(b"")
            await self._until(at, heartbeat, every)
            if coder is not None:
                data = coder.compress(data) + coder.flush()
                if corrupt_next and data:
                    data, corrupt_next = corrupt(data), False
                if cut_at is not None and self.events >= cut_at:
                    await self._write(data[: max(1, len(data) // 2)])
                    break
            if position is not None and position.unit == "bytes":
                room = int(position.amount) - self.sent
                if len(data) > room or room <= 0:
                    return await self._strike(data, room)
            await self._write(data)
            self.events += 1
            if position is not None and (
                (position.unit == "events" and self.events >= position.amount)
                or (position.unit == "bytes" and self.sent >= position.amount)
            ):
                return await self._strike(b"")
        if position is not None:
            if position.unit == "seconds":
                await self._until(position.amount, heartbeat, every)
            return await self._strike(b"")
        if coder is not None and self.kind != "truncate-encoding":
            tail = coder.finish()
            if tail:
                await self._write(tail)
        await self._eof()
        if self.kind == "slow-close" and self.fault is not None:
            await asyncio.sleep(self.fault.hold)
            self._hold_close()

    async def _until(self, at: float, heartbeat: bytes, every: float) -> None:
        """Wait until `at` seconds after the head, writing a heartbeat after each `every` idle."""
        due = self.start + at
        if heartbeat and every > 0:
            while self.mark + every < due:
                self.mark += every
                await asyncio.sleep(max(0.0, self.mark - self.loop.time()))
                await self._write(heartbeat, count=False)
        delay = due - self.loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        self.mark = max(self.mark, due)

    async def _write(self, data: bytes, count: bool = True) -> None:
        if not data:
            return
        if self.rate:
            await self._paced(data)
        else:
            await self._send(data)
        if count:
            self.sent += len(data)

    async def _paced(self, data: bytes) -> None:
        """At most `rate` bytes per second, on a schedule from the head (not per write)."""
        step = max(1, int(self.rate * _BANDWIDTH_TICK))
        for offset in range(0, len(data), step):
            piece = data[offset : offset + step]
            due = self.start + self.paced / self.rate
            delay = due - self.loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._send(piece)
            self.paced += len(piece)

    async def _send(self, data: bytes) -> None:
        raise NotImplementedError

    async def _eof(self) -> None:
        raise NotImplementedError

    def _hold_close(self) -> None:
        """slow-close: the hold is over; close the connection."""
        raise NotImplementedError

    async def _strike(self, data: bytes, room: int | None = None) -> None:
        raise NotImplementedError


class _Writer(Schedule):
    """A Schedule on an HTTP/1.1 response (chunked framing by aiohttp)."""

    def __init__(
        self,
        request: web.BaseRequest,
        resp: web.StreamResponse,
        plan: ResponsePlan,
        fault: Fault | None,
        position: After | None,
    ) -> None:
        super().__init__(plan, fault, position)
        self.request = request
        self.resp = resp

    async def _send(self, data: bytes) -> None:
        _alive(self.request)
        await self.resp.write(data)

    async def _eof(self) -> None:
        await self.resp.write_eof()

    def _hold_close(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.close()

    async def _strike(self, data: bytes, room: int | None = None) -> None:
        """The fault at its position. `data` is the piece it falls in; `room` how many of its
        bytes go out before the fault (None: all of them, before)."""
        self.struck = True
        kind = self.kind
        head = data if room is None else data[: max(0, room)]
        transport = _alive(self.request)
        chunked = getattr(self.request.writer, "chunked", False)  # aiohttp chose chunked framing
        if kind == "truncate" and room is not None and 0 < room < len(data) and chunked:
            # The chunk announces the whole piece; fewer bytes follow (written past aiohttp's
            # framing, after what it has written is flushed).
            await self.request.writer.drain()
            transport.write(f"{len(data):x}\r\n".encode() + head)
        elif head:
            await self.resp.write(head)
        if kind == "reset":
            await self._drained()
            _reset(self.request)
            return
        if kind == "garbage":
            await self.request.writer.drain()
            transport.write(GARBAGE)
        elif kind == "stall":
            await self.request.writer.drain()
            await asyncio.sleep(MAX_STALL)
        await self._drained()
        transport.close()

    async def _drained(self) -> None:
        with contextlib.suppress(ConnectionResetError):
            await self.request.writer.drain()
        await settled(self.request.transport)


__all__ = ["OWN_KINDS", "Schedule", "fault_position", "handles", "send_stream"]
