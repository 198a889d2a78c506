"""The connection layer: aiohttp's RequestHandler behind a first-bytes sniffer, our own answers to
malformed requests, and a shutdown that drains in-flight requests against one deadline.

Sniffer: the first bytes of a connection decide what it speaks before aiohttp's HTTP/1 parser sees
them. TLS on the plain port and an HTTP/2 preface are answered here (an HTTP/2 transport hooks in
at `MockstatusServer.h2_handoff` later, on the same port); `HTTP/1.2`+ becomes 1.1 (RFC 9112
§2.3); an explicit `HTTP/0.9` or `HTTP/x.y` with x ≠ 1 gets 505; a version-less (HTTP/0.9) line
or a bare CR gets 400 at once (neither client sends the blank line a parser waits for). After the
first request line the handler's `data_received` is rebound to the HTTP/1 data path.

Between requests: aiohttp's parser drops every request of a feed in which one is malformed, so a
segment that holds more than one request head is fed one head at a time while the parser stands
between requests (`_clean`: the last feed ended a bodiless request); where that is not known (a
body, an upgrade) the segment is fed whole. A segment with no complete head there has its request
line checked like the first one: an HTTP/0.9 line or a bare CR is refused in order, after the
answers still due, instead of waiting for the idle timeout.

Malformed requests (aiohttp's parser errors) get the same answer shape as every other mockstatus
error — an HTTP/1.1 status line, our Server and CORS headers, a body naming the problem — and
one access-log line, never a traceback (aiohttp logs one per parser error by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import math
import re
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadStatusLine, LineTooLong
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.web_protocol import RequestHandler, _ErrInfo

from mockstatus import accesslog
from mockstatus.limits import EMFILE_LOG_EVERY
from mockstatus.types import ResponsePlan
from mockstatus.wire.core import _head_bytes

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_H2_LINE = b"PRI * HTTP/2.0\r\n"
SNIFF_LIMIT = 8190  # aiohttp's max_line_size: past it the parser answers "line too long" itself
# RFC 9112 §3: request-line = method SP request-target SP HTTP-version
_REQUEST_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+)(?: (HTTP/(\d)\.(\d)))?\r?")
_VERSION_IN_ERROR = re.compile(r"(?<![\d.])HTTP/(\d)\.(\d)(?![\d.])")
_TOO_LONG = re.compile(r"reading: (?:bytearray\()?b['\"](?:(/)|(https?://))?")

# (status, message) -> the plan of our answer; app.py supplies semantics.error_plan.
ErrorPlanner = Callable[[int, str], ResponsePlan]


def error_bytes(plan: ResponsePlan) -> bytes:
    """A complete HTTP/1.1 response for an error plan, closing the connection (the request could
    not be framed, so nothing after it on the connection can be trusted)."""
    headers = [
        *plan.headers,
        ("Date", formatdate(usegmt=True)),
        ("Content-Length", str(len(plan.body))),
        ("Connection", "close"),
    ]
    return _head_bytes(plan.status, plan.reason, tuple(headers)) + plan.body


def classify_parser_error(exc: BaseException | None, fallback: str) -> tuple[int, str]:
    """(status, problem) for one of aiohttp's parser errors: 505 for a well-formed version the
    server does not speak, else 400 with the parser's first line (no caret drawing)."""
    text = getattr(exc, "message", None) or str(exc or "") or fallback or "malformed request"
    if not isinstance(text, str):
        text = str(text)
    if isinstance(exc, LineTooLong):
        # aiohttp quotes the start of the line: a request target starts with "/" (or is an
        # absolute URI), anything else is a header field.
        start = _TOO_LONG.search(text)
        if start is not None and (start.group(1) == "/" or start.group(2)):
            return 414, f"the request target is longer than {SNIFF_LIMIT} bytes"
        return 431, f"a header field is longer than {SNIFF_LIMIT} bytes"
    if text.startswith("Too many headers"):
        return 431, "too many header fields"  # RFC 6585 §5
    version = _VERSION_IN_ERROR.search(text) if isinstance(exc, BadStatusLine) else None
    if version is not None and int(version.group(1)) != 1:
        return 505, f"HTTP/{version.group(1)}.{version.group(2)} is not supported: use HTTP/1.1"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    problem = lines[0].rstrip(":") if lines else "malformed request"
    if problem.startswith("400, message"):
        problem = lines[1].rstrip(":") if len(lines) > 1 else "malformed request"
    detail = next((line for line in lines[1:] if line.startswith(("b'", 'b"'))), "")
    if detail and detail not in problem:
        problem = f"{problem}: {detail[:120]}"
    return 400, f"malformed request: {problem}"


class Refusal(Exception):
    """A request line refused before the parser saw it, queued behind earlier requests."""

    def __init__(self, status: int, problem: str) -> None:
        super().__init__(problem)
        self.status = status
        self.problem = problem


def line_verdict(buf: bytes, start: int, line_end: int) -> re.Match[bytes] | tuple[int, str] | None:
    """The request line of `buf` (from `start`, its LF at `line_end`, -1 if none yet): its match,
    None to wait for more bytes, or (status, problem) for a line no parser would ever frame."""
    if line_end < 0:
        cr = buf.find(b"\r", start)
        if 0 <= cr < len(buf) - 1:
            # RFC 9112 §2.2: a bare CR is invalid; waiting for an LF would hang the client.
            return 400, "malformed request: a bare CR in the request line"
        return None
    match = _REQUEST_LINE.fullmatch(buf, start, line_end)
    if match is not None and match.group(3) is None:
        # An HTTP/0.9 request is this one line: answered now, not after a blank line that such
        # a client never sends (the parser would wait for it until the idle timeout).
        return 400, "the request line has no HTTP version (HTTP/0.9 is not supported)"
    return match


_TE_FIELD = re.compile(rb"\ntransfer-encoding[ \t]*:", re.IGNORECASE)


def keeps_its_body(data: bytes, start: int, end: int) -> bool:
    """Whether the request head `data[start:end]` must be fed with its body: a chunked body can
    be malformed, and a head fed apart would be answered before its body fails (a
    Content-Length body cannot fail, so such a head is fed alone and the rest after it whole)."""
    return _TE_FIELD.search(data, start, end) is not None


def _line_start(buf: bytes) -> tuple[int, int]:
    """(where the request line starts, its LF or -1): RFC 9112 §2.2 skips leading empty lines."""
    start = len(buf) - len(buf.lstrip(b"\r\n"))
    return start, buf.find(b"\n", start)


class ConnectionHandler(RequestHandler):
    """aiohttp's HTTP/1 connection handler with our sniffer and our error answers.

    No __slots__ here on purpose: the instance dict lets `data_received` be rebound to the HTTP/1
    data path once the first request line has been checked.
    """

    def __init__(self, manager: MockstatusServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._sniffed: bytes | None = b""  # None once the first line is checked
        self._errors: ErrorPlanner = manager.error_planner
        # The parser stands between two requests: nothing fed yet, or the last feed ended a
        # bodiless request. Only then may a segment be cut at its request heads.
        self._clean = True

    # --- sniffer --------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._sniffed is None:
            # Sniffed already, but uvloop calls the method it bound when the connection opened:
            # the rebinding below reaches asyncio's loop only.
            self.http1_data_received(data)
            return
        if self._force_close or self._close:
            return
        buf = self._sniffed + bytes(data)
        verdict = self._sniff(buf) if self._request_count == 0 else self._sniff_later(buf)
        if verdict is None:  # undecided: keep the bytes until the request line is complete
            self._sniffed = buf
            return
        self._sniffed = None
        self.data_received = self.http1_data_received  # type: ignore[method-assign]
        if isinstance(verdict, bytes):
            self.http1_data_received(verdict)

    # --- the HTTP/1 data path once sniffed ------------------------------------------------------

    def http1_data_received(self, data: bytes) -> None:
        """aiohttp's data path (wire.fastlane's handler overrides it), cut between requests."""
        if self._clean:
            end = data.find(b"\r\n\r\n")
            if (end < 0 or end + 4 < len(data)) and self._cut_heads(data, end):
                return
        queued = len(self._messages)
        RequestHandler.data_received(self, data)
        messages = self._messages
        self._clean = (
            len(messages) > queued
            and self.ends_bodiless(messages[-1], data)
            and not self._upgraded
            and not self._buffer_paused  # a full queue: the parser keeps a tail
        )

    @staticmethod
    def ends_bodiless(last: tuple[Any, Any], data: bytes) -> bool:
        """Whether the parser stands between requests after a feed of `data` whose last message
        is `last`: a bodiless request whose head ended the data (a head ends at the first CRLF
        CRLF, so no partial request can follow it there), and not an Upgrade (after a 101 the
        bytes are no longer HTTP: `set_parser` takes them)."""
        return (
            last[1] is EMPTY_PAYLOAD
            and type(last[0]) is not _ErrInfo
            and not last[0].upgrade
            and data.endswith(b"\r\n\r\n")
        )

    def _cut_heads(self, data: bytes, end: int) -> bool:
        """With the parser between requests and `data` not one whole head (`end`: where its
        first head ends, -1 if none): feed it one request head at a time, or check its request
        line when it has no complete head. False: feed it whole. (The caller's one `find` is all
        the common case, one request per segment, pays.)"""
        if end < 0:
            return self._unframed(data)
        if keeps_its_body(data, 0, end):
            return False
        size = len(data)
        start = end + 4
        self.http1_data_received(data[:start])
        while start < size and not (self._force_close or self._close):
            # Each piece goes the handler's way again (the lane, a held delayed answer, aiohttp);
            # once the parser stands inside a request (a body) the rest is fed whole.
            end = data.find(b"\r\n\r\n", start) if self._clean else -1
            cut = size if end < 0 or keeps_its_body(data, start, end) else end + 4
            self.http1_data_received(data[start:cut])
            start = cut
        return True

    def _unframed(self, data: bytes) -> bool:
        """Bytes with no complete request head, the parser between requests: True when they are
        held until their request line is complete, or refused; False to feed them."""
        if not data:
            # aiohttp's re-parse after a pause (b""): a parser between requests holds no tail
            return True
        verdict = self._sniff_later(data)
        if verdict is None:
            # Sniff the rest of this request line as the first one was.
            self._sniffed = data
            self.__dict__.pop("data_received", None)
            return True
        return verdict is False

    def _sniff_later(self, buf: bytes) -> bytes | bool | None:
        """A later request line with no complete head yet: None to wait for the rest of the
        line, False when it is refused (queued in order), else `buf` to feed."""
        start, line_end = _line_start(buf)
        verdict = line_verdict(buf, start, line_end)
        if isinstance(verdict, tuple):
            self._refuse_in_order(*verdict)
            return False
        if verdict is None and line_end < 0 and len(buf) < SNIFF_LIMIT:
            return None
        return buf

    def _refuse_in_order(self, status: int, message: str) -> None:
        """Refuse a later request line after the answers still due on the connection: queued as
        a parser error, so aiohttp's loop answers it in turn (`handle_error`), then closes."""
        self._clean = False
        self._request_count += 1
        refusal = Refusal(status, message)
        self._messages.append(
            (_ErrInfo(status=status, exc=refusal, message=message), EMPTY_PAYLOAD)
        )
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _sniff(self, buf: bytes) -> bytes | bool | None:
        """None: need more bytes; bytes: hand these to the HTTP/1 parser; False: answered here."""
        if buf[:1] == b"\x16":  # a TLS record of type handshake (RFC 8446 §5.1)
            if len(buf) < 2:
                return None
            if buf[1] == 0x03:
                return self._refuse(
                    400,
                    "TLS handshake on a plain HTTP port: use http:// (or start mockstatus with "
                    "--tls and use https://)",
                )
        start, line_end = _line_start(buf)
        head = buf[start:] if line_end < 0 else buf[start : line_end + 1]
        if _H2_LINE.startswith(head) or head.startswith(_H2_LINE):
            if len(head) < len(_H2_LINE):
                return None
            manager = self._manager
            handoff = manager.h2_handoff if isinstance(manager, MockstatusServer) else None
            if handoff is not None and handoff(self, buf[start:]):
                return False
            return self._refuse(505, "HTTP/2 is not supported on this port: use HTTP/1.1")
        match = line_verdict(buf, start, line_end)
        if isinstance(match, tuple):
            return self._refuse(*match)
        if match is None:
            if line_end < 0:
                return None if len(buf) < SNIFF_LIMIT else buf
            return buf  # malformed: the parser and the handler answer it
        major, minor = int(match.group(4)), int(match.group(5))
        if major == 0 or major > 2:
            # aiohttp would take an explicit HTTP/0.9 for a version-less line and refuses 3+;
            # HTTP/2.0 goes on to the handler, whose 505 can honour Accept.
            return self._refuse(
                505, f"HTTP/{major}.{minor} is not supported: use HTTP/1.1 (or HTTP/1.0)"
            )
        if major == 1 and minor >= 2:
            # RFC 9112 §2.3: a higher minor version of HTTP/1 is served as the highest we speak.
            cut = match.start(3)
            return buf[:cut] + b"HTTP/1.1" + buf[cut + 8 :]
        return buf

    def _refuse(self, status: int, message: str) -> bool:
        """Answer before any request was parsed, then close."""
        self._answer(status, message)
        return False

    def _answer(self, status: int, message: str) -> None:
        plan = self._errors(status, message)
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(error_bytes(plan))
        if self.access_logger is not None:
            peer = self.peername
            remote = peer[0] if isinstance(peer, tuple) else "-"
            accesslog.log_malformed(remote, status, len(plan.body), message)
        self.force_close()  # the transport flushes what was written, then closes

    # --- aiohttp's error path -------------------------------------------------------------------

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status == 500 or request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)  # our own bug: a traceback
        if isinstance(exc, Refusal):
            status, problem = exc.status, exc.problem
        elif status == 400:
            status, problem = classify_parser_error(exc, message or "")
        else:
            problem = message or getattr(exc, "reason", "") or "request failed"
        self._answer(status, problem)
        # aiohttp still "sends" this; the transport is gone, so the write is a quiet no-op and the
        # access logger skips the placeholder request (method UNKNOWN).
        resp = web.Response(status=status)
        resp.force_close()
        return resp


class MockstatusServer(web.Server):
    """aiohttp's low-level server with our connection handler and a one-deadline drain."""

    def __init__(self, handler: Any, *, error_planner: ErrorPlanner, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.error_planner = error_planner
        # Later: an HTTP/2 transport takes a connection whose first bytes are the preface.
        # Called with (handler, first bytes); True when it took the connection over.
        self.h2_handoff: Callable[[ConnectionHandler, bytes], bool] | None = None
        # Called once when shutdown starts (e.g. websockets send close 1001).
        self.on_stopping: list[Callable[[], None]] = []
        self.stopping = False
        # The connection handler's factory (wire.fastlane.install swaps in the fast lane's).
        self.handler_class: Callable[..., ConnectionHandler] = ConnectionHandler
        # Answers in flight outside aiohttp's handler tasks (the fast lane's timers): drain
        # waits for them and cancels them at the deadline like handler tasks.
        self.in_flight: list[Callable[[], list[asyncio.Future[Any]]]] = []
        # Called at the deadline for connections aiohttp does not hold (HTTP/2): close them.
        self.on_cut: list[Callable[[], None]] = []

    def __call__(self) -> ConnectionHandler:
        return self.handler_class(self, loop=self._loop, **self._kwargs)

    async def drain(self, timeout: float) -> int:
        """Stop taking requests, let in-flight ones finish until `timeout`, then cancel the rest
        and close their connections. Returns how many were cut.

        aiohttp's own `shutdown(timeout)` waits up to `timeout` per phase (graceful, then after
        cancelling), so a hung request can keep the process for twice the timeout: this waits
        once, against one deadline, and cancels the handlers itself.
        """
        self.stopping = True
        self.pre_shutdown()  # idle keep-alive connections close; busy ones close after answering
        for conn in self._connections:
            request = conn._current_request
            if request is not None:
                # RFC 9112 §9.6: say `Connection: close` on the last answer of the connection.
                # keep_alive is a cached property (reify): the response reads it when prepared.
                request._cache["keep_alive"] = False
        for callback in self.on_stopping:
            with contextlib.suppress(Exception):  # a failing callback must not keep us up
                callback()
        busy = self._busy()
        if busy and timeout > 0:
            await asyncio.wait(busy, timeout=timeout)
        cut = 0
        for pending in self.in_flight:
            for future in pending():
                if not future.done():
                    future.cancel()
                    cut += 1
        for conn in list(self._connections):
            task = conn._task_handler
            if task is not None and not task.done():
                task.cancel()
                cut += 1
            conn.force_close()
        for cut_others in self.on_cut:
            cut_others()
        leftover = self._busy()
        if leftover:
            # Cancelled handlers unwind at once; bounded all the same (a handler that swallows
            # the cancellation must not keep the process alive).
            await asyncio.wait(leftover, timeout=1.0)
        return cut

    def _busy(self) -> list[asyncio.Future[Any]]:
        busy: list[asyncio.Future[Any]] = [
            conn._task_handler
            for conn in self._connections
            if conn._task_handler is not None and not conn._task_handler.done()
        ]
        return busy + [f for pending in self.in_flight for f in pending() if not f.done()]


_RESOURCE_ERRNOS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class AcceptErrorLog:
    """The event loop's exception handler: "out of file descriptors" on accept (asyncio retries
    every second, per listening socket, each time with a traceback) becomes at most one line per
    `every` seconds, with the count of repeats; anything else goes to asyncio's default."""

    def __init__(
        self,
        log: Callable[[str], None],
        every: float = EMFILE_LOG_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.every = every
        self.clock = clock
        self.last = -math.inf
        self.repeats = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS:
            now = self.clock()
            if now - self.last < self.every:
                self.repeats += 1
                return
            more = f" ({self.repeats} more since the last report)" if self.repeats else ""
            self.log(
                f"mockstatus: warning: cannot accept connections: {exc.strerror}{more}; "
                "raise the open-files limit (ulimit -n) or lower the number of clients"
            )
            self.last, self.repeats = now, 0
            return
        loop.default_exception_handler(context)
