"""Timed bodies and placed faults on HTTP/2: the HTTP/1.1 stream schedule (`wire.streams.Schedule`:
pieces, heartbeats, coding, bandwidth, the fault's position) with DATA frames as its output.

Each piece is one or more DATA frames within the peer's flow-control windows (a piece waits for
WINDOW_UPDATE; the schedule's later pieces keep their times measured from the HEADERS frame). No
content-length on a stream; a fixed body keeps its content-length. What the client sees when a
fault strikes at its position (bytes count DATA payload after content coding):
- `truncate`: a fixed body: DATA shorter than content-length, then END_STREAM (malformed, RFC 9113
  §8.1.1); a stream (no content-length to fall short of): the cut piece's first bytes, then
  RST_STREAM(INTERNAL_ERROR);
- `reset` / `close`: the bytes so far, then the TCP connection reset (ECONNRESET) / closed (FIN),
  every stream of the connection with it, as on HTTP/1.1;
- `garbage`: the bytes so far, then bytes that are no frame, then the connection closes;
- `stall`: the bytes so far, then no DATA: the stream and the connection stay open (MAX_STALL);
- `rst_stream` (`after` in a query or a scenario's `fault:`): the bytes so far, then
  RST_STREAM(error);
- `bandwidth`: every byte, spaced to `rate` bytes per second;
- `slow-close`: every byte and END_STREAM, then `hold`, then GOAWAY(NO_ERROR) and close.
A client's RST_STREAM cancels the stream's task (h2.H2Protocol._on_reset); shutdown cancels it
at the drain deadline; MAX_STREAM_SECONDS ends it with END_STREAM.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from h2.errors import ErrorCodes

from mockstatus.limits import MAX_STALL, MAX_STREAM_SECONDS
from mockstatus.types import ENCODING_FAULTS, After, Fault, ResponsePlan
from mockstatus.wire.core import cut_connection, settled
from mockstatus.wire.h2_faults import GARBAGE
from mockstatus.wire.streams import OWN_KINDS, Schedule, fault_position

if TYPE_CHECKING:
    from mockstatus.wire.h2 import H2Protocol, _Stream


def placed(plan: ResponsePlan) -> bool:
    """Whether this module sends `plan` on HTTP/2: a stream, a fault placed in the body or one
    of the faults that are defined by where they strike (truncate, stall, bandwidth, slow-close),
    or a content-coding fault (its body is already spoiled: sent as it is)."""
    fault = plan.fault
    if plan.stream is not None:
        return True
    if fault is None:
        return False
    if fault.kind == "truncate" and fault.after is None and not plan.body:
        return False  # nothing to cut: the connection-level truncate (a padded body) says it
    return fault.after is not None or fault.kind in OWN_KINDS or fault.kind in ENCODING_FAULTS


async def send_placed(proto: H2Protocol, stream: _Stream, plan: ResponsePlan) -> None:
    """Send `plan` (see `placed`; a `rst_stream` with `after`: the plan's bytes up to the
    position, then RST_STREAM with the fault's error code)."""
    fault = plan.fault  # a coding fault: in a fixed body's bytes already, a stream's by Schedule
    sid = stream.sid
    rst = fault is not None and fault.kind == "rst_stream"
    if plan.head and plan.stream is not None and not plan.bodiless:
        # HEAD of a stream: GET's length is not known, so no content-length (RFC 9110 §8.6;
        # `content-length: 0` would claim an empty GET body)
        proto._send_headers(sid, plan, end=not rst, length=None)
        if rst and fault is not None:
            proto._reset(sid, fault.error, None)
        return
    if plan.head or plan.bodiless:
        proto._send_final(sid, plan, end=not rst, body=plan.body)
        if rst and fault is not None:
            proto._reset(sid, fault.error, None)
        return
    length = None if plan.stream is not None else len(plan.body)
    proto._send_headers(sid, plan, end=False, length=length)
    if plan.stream is not None:
        proto._flush()  # a stream's head is news at once; a fixed body's goes with its DATA
    position = fault_position(fault, plan.stream, len(plan.body))
    writer = _H2Schedule(proto, stream, plan, fault, position)
    try:
        async with asyncio.timeout(MAX_STREAM_SECONDS):
            await writer.run(plan.stream)
    except TimeoutError:
        if not writer.struck:
            await writer._eof()  # the lifetime cap ends a stream cleanly


class _H2Schedule(Schedule):
    def __init__(
        self,
        proto: H2Protocol,
        stream: _Stream,
        plan: ResponsePlan,
        fault: Fault | None,
        position: After | None,
    ) -> None:
        super().__init__(plan, fault, position)
        self.proto = proto
        self.stream = stream
        self.error = fault.error if fault is not None else 0  # rst_stream's code

    async def _send(self, data: bytes) -> None:
        if self.proto.closed:
            raise ConnectionResetError()
        await self.proto._send_body(self.stream, data, end=False)
        self.proto._flush()

    async def _eof(self) -> None:
        if self.proto.closed:
            raise ConnectionResetError()
        self.proto.conn.end_stream(self.stream.sid)
        self.proto._flush()

    def _hold_close(self) -> None:
        self.proto._log_close("NO_ERROR", "fault slow-close")
        self.proto.goaway_graceful(ErrorCodes.NO_ERROR)
        self.proto._close()

    async def _strike(self, data: bytes, room: int | None = None) -> None:
        self.struck = True
        proto, sid, kind = self.proto, self.stream.sid, self.kind
        head = data if room is None else data[: max(0, room)]
        conn = proto.conn
        room_now = min(conn.max_outbound_frame_size, conn.local_flow_control_window(sid))
        if (
            kind == "truncate"
            and self.plan.stream is None
            and not self.sent
            and len(head) <= room_now
        ):
            # HEADERS, the short DATA and END_STREAM in one write, as an answer that fits one
            # frame always goes: httpx then reports it the same way every time.
            conn.send_data(sid, head, end_stream=True)
            proto._flush()
            return
        if head:
            await self._send(head)
        proto._flush()  # the HEADERS frame, when nothing has gone out with it yet
        if kind == "truncate":
            if self.plan.stream is None:
                await self._eof()  # fewer DATA bytes than content-length said
            else:
                proto._reset(sid, ErrorCodes.INTERNAL_ERROR, None)
        elif kind == "rst_stream":
            proto._reset(sid, self.error, None)
        elif kind == "stall":
            await asyncio.sleep(MAX_STALL)
            proto._reset(sid, ErrorCodes.CANCEL, None)
        elif kind == "garbage":
            if proto.transport is not None:
                proto.transport.write(GARBAGE)
            proto._close()
        elif kind in ("reset", "close"):
            await settled(proto.transport)
            if proto.transport is not None:
                cut_connection(proto.transport, reset=kind == "reset")
            proto.closed = True


__all__ = ["placed", "send_placed"]
