"""RFC 6455 rules aiohttp's WebSocket support does not enforce (checked with aiohttp 3.14.5):

- §4.1, §11.3: the opening handshake is a GET, with one Sec-WebSocket-Key and one
  Sec-WebSocket-Version: `handshake_problem` (a 400 before anything is sent).

- §5.1: "The server MUST close the connection upon receiving a frame that is not masked" with
  1002. aiohttp accepts unmasked client frames, so `MaskGuard` scans the frame headers of the
  client's bytes before aiohttp parses them (payloads are counted and skipped, never copied).
- §7.4.1/§7.4.2: 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close control frame",
  and codes from 5000 up are not defined. aiohttp refuses 1005 and 1015 with 1002 but accepts 1006
  and 5000+ and answers them 1000: `close_answer` says what to send back instead.

Both lean on aiohttp internals (`_payload_parser`, `_message_tail`, the queue's `set_exception`);
aiohttp is pinned to 3.14, and tests/test_hostile_ws.py proves each rule on the wire.
"""

from __future__ import annotations

from typing import Any

from aiohttp import WSCloseCode, web
from aiohttp.http_websocket import WebSocketError

# RFC 6455 §7.4.1: reserved for endpoints' own use, never on the wire
_NEVER_ON_THE_WIRE = frozenset({1004, 1005, 1006, 1015})


def handshake_problem(method: str, headers: Any) -> str | None:
    """What is wrong with a WebSocket opening handshake that aiohttp would accept, or None."""
    if method != "GET":
        return f"the method must be GET, not {method} (RFC 6455 §4.1)"
    for name in ("Sec-WebSocket-Key", "Sec-WebSocket-Version"):
        if len(headers.getall(name, ())) > 1:
            return f"{name} must appear once (RFC 6455 §11.3)"
    return None


def close_answer(code: int | None) -> int:
    """The close code that answers a client's close frame carrying `code` (None or 0: none)."""
    if code and (code in _NEVER_ON_THE_WIRE or code < 1000 or code >= 5000):
        return WSCloseCode.PROTOCOL_ERROR
    return WSCloseCode.OK


class MaskGuard:
    """Wraps aiohttp's WebSocket reader (the protocol's `set_parser` contract: `feed_data`
    returning `(eof, tail)`, `feed_eof`); the first unmasked frame ends the stream with 1002."""

    __slots__ = ("failed", "head", "parser", "queue", "skip")

    def __init__(self, parser: Any, queue: Any) -> None:
        self.parser = parser
        self.queue = queue  # the response's WebSocketDataQueue: receive() reads errors from it
        self.head = b""  # a frame header split across reads
        self.skip = 0  # payload bytes of the current frame still to pass through
        self.failed = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self.failed:
            return True, b""
        pos, size = 0, len(data)
        while pos < size:
            if self.skip:
                step = min(self.skip, size - pos)
                self.skip -= step
                pos += step
                continue
            start = pos - len(self.head)  # where this header began (negative: a prior read)
            take = min(size - pos, 14 - len(self.head))
            head = self.head + data[pos : pos + take]
            needed = _header_size(head)
            if needed is None or len(head) < needed:
                self.head = head
                pos += take
                continue
            used = needed - len(self.head)
            self.head = b""
            pos += used
            if not head[1] & 0x80:
                return self._fail(data[: max(start, 0)], "unmasked client frame (RFC 6455 §5.1)")
            if head[1] & 0x7F == 127 and head[2] & 0x80:
                return self._fail(
                    data[: max(start, 0)], "64-bit length with its top bit set (RFC 6455 §5.2)"
                )
            self.skip = _payload_size(head)
        return self.parser.feed_data(data)

    def _fail(self, before: bytes, problem: str) -> tuple[bool, bytes]:
        if before:
            self.parser.feed_data(before)
        self.failed = True
        self.queue.set_exception(WebSocketError(WSCloseCode.PROTOCOL_ERROR, problem))
        return True, b""

    def feed_eof(self) -> None:
        self.parser.feed_eof()


def _header_size(head: bytes) -> int | None:
    """The size of the frame header that begins `head`, or None before its second byte."""
    if len(head) < 2:
        return None
    length7 = head[1] & 0x7F
    extended = 2 if length7 == 126 else 8 if length7 == 127 else 0
    return 2 + extended + (4 if head[1] & 0x80 else 0)


def _payload_size(head: bytes) -> int:
    length7 = head[1] & 0x7F
    if length7 == 126:
        return int.from_bytes(head[2:4], "big")
    if length7 == 127:
        return int.from_bytes(head[2:10], "big")
    return length7


class GuardedWebSocketResponse(web.WebSocketResponse):
    """aiohttp's WebSocketResponse with `MaskGuard` in front of its reader."""

    def _post_start(self, request: web.BaseRequest, protocol: Any, writer: Any) -> None:
        proto: Any = request.protocol
        tail, proto._message_tail = proto._message_tail, b""  # bytes that came with the handshake
        super()._post_start(request, protocol, writer)
        guard = MaskGuard(proto._payload_parser, self._reader)
        proto._payload_parser = guard
        if tail and guard.feed_data(tail)[0]:
            proto.close()
