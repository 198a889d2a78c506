"""HTTP/2 (RFC 9113) on the same port as HTTP/1.1: an asyncio protocol on the sans-IO `h2` library.

The sniffer in `wire.server` hands a connection over (h2c prior knowledge, or h2 after TLS ALPN:
both start with the connection preface). Each stream's HEADERS (+ DATA) become RequestFacts with
`version` (2, 0); the app decides the same ResponsePlan it would for HTTP/1.1 (no per-code rule
here), and this module executes it as frames: 1xx interims as informational HEADERS (§8.1), the
final HEADERS, DATA within the peer's flow-control windows, HEAD without DATA.

Errors by scope (§5.4): framing and HPACK errors → GOAWAY with h2's error code (the library emits
it) and one log line; a malformed request (§8.1.1) → RST_STREAM(PROTOCOL_ERROR), checked here
because h2's own validation escalates it to the connection. Floods (§10.5) → GOAWAY
(ENHANCE_YOUR_CALM). Connection-specific fields are never sent (§8.2.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from aiohttp.http import HttpVersion
from h2.connection import ConnectionState
from h2.errors import ErrorCodes
from hpack.exceptions import HPACKError, OversizedHeaderListError
from hyperframe.frame import GoAwayFrame
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from mockstatus.accesslog import log_malformed, log_request
from mockstatus.errors import RequestError
from mockstatus.h2_fault import error_name
from mockstatus.limits import (
    H2_FLOOD_CONTROL_FRAMES,
    H2_FLOOD_RESETS,
    H2_GOAWAY_DEBUG,
    H2_GOAWAY_LINGER,
    H2_MAX_HEADER_LIST,
    H2_OUTPUT_BUFFER,
    H2_READ_SLICE,
    H2_RESET_ACK_WAIT,
    H2_SEND_STALL,
    MAX_HANG,
)
from mockstatus.types import (
    EMPTY_QUERY,
    H2_FAULTS,
    BodySource,
    Decision,
    Drip,
    Fault,
    Interim,
    Query,
    RequestFacts,
    ResponsePlan,
)
from mockstatus.wire.core import cut_connection
from mockstatus.wire.h2_conn import ServerConnection
from mockstatus.wire.h2_faults import GARBAGE, window_zero
from mockstatus.wire.h2_hpack import StaticEncoder
from mockstatus.wire.h2_streams import placed, send_placed

# RFC 9113 §8.2.2: fields that only mean something on an HTTP/1.1 connection.
CONNECTION_SPECIFIC = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)
_FRAMING = frozenset({"content-length", "date"})  # the wire adds its own
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")  # RFC 9110 §5.1 token, lower-case
_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]{0,31}")  # RFC 3986 §3.1, lower-cased, kept short
_REQUEST_PSEUDO = frozenset({b":method", b":scheme", b":authority", b":path", b":protocol"})


Decide = Callable[[RequestFacts, BodySource], Awaitable[Decision]]
# (decision, perf_counter at arrival, raw query string, request fields): journal and metrics
Record = Callable[[Decision, float, str, Mapping[str, str]], None]
# (facts, status, message) -> the plan of an error answer
ErrorPlanner = Callable[[RequestFacts, int, str], ResponsePlan]


@dataclass
class H2Service:
    """What every HTTP/2 connection of a server shares: the app's decisions and the settings."""

    decide: Decide
    record: Record
    error_plan: ErrorPlanner
    max_streams: int = 100
    # bytes of one request body: the HTTP/1.1 cap (aiohttp's client_max_size, 1 MiB by default)
    max_body: int = 1024**2
    idle_timeout: float = 75.0
    body_timeout: float = 30.0
    log: Callable[[str], None] = lambda line: None
    # The admin API's aiohttp face and its path prefix: HTTP/2 admin calls go through it with
    # a stand-in request (`_AdminRequest`), so its checks (token, Host, cross-site) are the same.
    admin: Callable[[Any], Awaitable[Any]] | None = None
    admin_root: str = "/__mockstatus/"
    access_log: bool = False  # one access-log line per stream (`--quiet` turns it off)
    # The loaded scenarios (an object with `.scenarios`): their `http2: {max_streams}` wins over
    # `max_streams` for new connections (`effective_max_streams`).
    scenarios: Callable[[], Any] | None = None
    _streams_cache: tuple[int, int] = (0, 0)  # (id of the scenario set, its max_streams)
    connections: set[H2Protocol] = field(default_factory=set)
    stopping: bool = False

    def effective_max_streams(self) -> int:
        """SETTINGS_MAX_CONCURRENT_STREAMS for a new connection: the smallest `http2:
        {max_streams}` of the loaded scenarios that set one (every ceiling asked for holds;
        clients queue streams over it rather than fail), else `--h2-max-streams`."""
        if self.scenarios is None:
            return self.max_streams
        current = self.scenarios()
        key, value = self._streams_cache
        if key != id(current):  # the set is replaced, never changed, on reload
            asked = [s.h2_max_streams for s in current.scenarios if s.h2_max_streams]
            value = min(asked) if asked else 0
            self._streams_cache = (id(current), value)
        return value or self.max_streams

    def handoff(self, handler: asyncio.Protocol, first: bytes) -> bool:
        """`MockstatusServer.h2_handoff`: take the connection from aiohttp's handler, whose first
        bytes are (the start of) the connection preface, and replay them to HTTP/2."""
        # Duck-typed: uvloop's transports are not asyncio.Transport subclasses.
        transport: Any = getattr(handler, "transport", None)
        if self.stopping or transport is None or transport.is_closing():
            return False
        peer = transport.get_extra_info("peername")
        # Detach first: aiohttp's connection_lost closes the transport it still holds.
        handler.transport = None  # type: ignore[attr-defined]
        handler.connection_lost(None)
        self.take_over(transport, first, peer)
        return True

    def attach(self, server: Any) -> None:
        """Serve HTTP/2 on `server` (a wire.server.MockstatusServer): the sniffer's handoff,
        GOAWAY when shutdown starts, in-flight streams drained against its deadline."""
        server.h2_handoff = self.handoff
        server.on_stopping.append(self.go_away)
        server.in_flight.append(self.busy)
        server.on_cut.append(self.close_all)

    def take_over(self, transport: asyncio.Transport, first: bytes, peer: Any) -> H2Protocol:
        proto = H2Protocol(self, peer)
        transport.set_protocol(proto)
        proto.connection_made(transport)
        if first:
            proto.data_received(first)
        return proto

    def busy(self) -> list[asyncio.Future[Any]]:
        return [t for c in self.connections for t in c.tasks.values() if not t.done()]

    def go_away(self) -> None:
        """Shutdown: GOAWAY(NO_ERROR) on every connection; in-flight streams finish."""
        self.stopping = True
        for conn in list(self.connections):
            conn.goaway_graceful(ErrorCodes.NO_ERROR)

    def close_all(self) -> None:
        for conn in list(self.connections):
            conn.abort_all()


class _Stream:
    __slots__ = (
        "chunks",
        "continued",
        "ended",
        "ended_event",
        "headers",
        "sid",
        "size",
        "started",
        "too_large",
        "window_open",
        "window_zero",
    )

    def __init__(self, sid: int, ended: bool) -> None:
        self.sid = sid
        self.chunks: list[bytes] = []
        self.size = 0
        self.ended = ended
        self.ended_event: asyncio.Event | None = None
        self.too_large = False
        self.window_zero = False
        self.continued = False
        self.window_open: asyncio.Event | None = None
        self.started = 0.0


class _Body:
    """BodySource over one stream: `read()` waits for END_STREAM; `send_continue` is a 100
    HEADERS frame (RFC 9110 §10.1.1 on HTTP/2: the client waits for it before DATA)."""

    __slots__ = ("_conn", "_length", "_stream")

    def __init__(self, conn: H2Protocol, stream: _Stream, length: int | None) -> None:
        self._conn = conn
        self._stream = stream
        self._length = length

    @property
    def exists(self) -> bool:
        return not self._stream.ended or self._stream.size > 0

    @property
    def length(self) -> int | None:
        return self._length

    @property
    def limit(self) -> int:
        return self._conn.service.max_body

    async def read(self) -> bytes:
        stream = self._stream
        timeout = self._conn.service.body_timeout
        if not stream.ended and not stream.too_large:
            if stream.ended_event is None:
                stream.ended_event = asyncio.Event()
            try:
                async with asyncio.timeout(timeout):
                    await stream.ended_event.wait()
            except TimeoutError:
                err = RequestError(
                    f"the request body did not arrive within {timeout:g} s", status=408
                )
                err.unread_body = True  # type: ignore[attr-defined]
                raise err from None
        if stream.too_large:
            err = RequestError(f"the request body is over {self.limit} bytes", status=413)
            err.unread_body = True  # type: ignore[attr-defined]
            raise err
        return b"".join(stream.chunks)

    async def send_continue(self, interim: Interim | None, delay: float) -> bool:
        stream = self._stream
        if delay:
            await asyncio.sleep(delay)
        if self._conn.closed:
            return False
        if interim is not None and not stream.ended:
            stream.continued = True
            self._conn.send_interim(stream.sid, interim.status, interim.headers)
        return True


class FloodWindow:
    """At most `limit` events in any sliding one-second window (RFC 9113 §10.5).

    Fixed windows let a burst straddling a boundary through at twice the limit; a token bucket
    allows its capacity plus a second's refill. The times of the last `limit` events (a ring
    of at most `limit` floats) make the check exact: the next event trips it when the oldest
    of them is less than a second old."""

    __slots__ = ("limit", "times")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.times: deque[float] = deque(maxlen=limit)

    def hit(self, now: float) -> bool:
        """Count one event at `now` (seconds, monotonic); True: over the limit."""
        times = self.times
        if len(times) == self.limit and (not times or now - times[0] < 1.0):
            return True
        times.append(now)
        return False


_CONFIG = h2.config.H2Configuration(
    client_side=False,
    header_encoding=None,  # bytes in, bytes out: no per-field decode in the library
    validate_inbound_headers=False,  # checked here, as a stream error (see the docstring)
    normalize_inbound_headers=False,
    validate_outbound_headers=False,  # plans are validated when built; names lower-cased below
    normalize_outbound_headers=False,
)

_HEADER_CACHE: dict[int, tuple[Any, list[tuple[bytes, bytes]]]] = {}
_HEADER_CACHE_MAX = 4096


def response_headers(plan: ResponsePlan) -> list[tuple[bytes, bytes]]:
    """The plan's fields as HTTP/2 wants them: lower-case names, no connection-specific field
    (§8.2.2), no framing (the wire adds content-length and date). Cached for reused plans."""
    entry = _HEADER_CACHE.get(id(plan.headers))
    if entry is not None:
        return entry[1]
    fields = [
        (name.lower().encode("ascii"), value.encode("utf-8"))
        for name, value in plan.headers
        if name.lower() not in CONNECTION_SPECIFIC and name.lower() not in _FRAMING
    ]
    if plan.reused:
        if len(_HEADER_CACHE) >= _HEADER_CACHE_MAX:
            _HEADER_CACHE.clear()
        _HEADER_CACHE[id(plan.headers)] = (plan.headers, fields)
    return fields


_END_UNREAD = b"end\x00"  # a PING's first 4 bytes: the stream id follows (_end_unread)
_GOAWAY_SIZE = 9 + 8  # frame header + last-stream-id and error code, no debug data
_STATUS = {code: str(code).encode() for code in range(100, 600)}
_date_cache: list[Any] = [0, b""]


def _date() -> bytes:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0], _date_cache[1] = now, formatdate(now, usegmt=True).encode()
    return _date_cache[1]


def _debug(why: str) -> bytes:
    """GOAWAY's debug data (§6.8): why the connection dies, short and printable ASCII."""
    return why.encode("ascii", "replace")[:H2_GOAWAY_DEBUG]


def malformed(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Why a request header list is malformed (RFC 9113 §8.1.1, §8.2, §8.3.1), or None."""
    pseudo: dict[bytes, bytes] = {}  # each at most once (checked below)
    host: bytes | None = None
    regular = False
    for name, value in headers:
        if name[:1] == b":":
            if regular:
                return "a pseudo-header after a regular field"
            if name not in _REQUEST_PSEUDO:
                return f"unknown pseudo-header {name[:40]!r}"
            if name in pseudo:
                return f"repeated pseudo-header {name.decode()}"
            pseudo[name] = value
            continue
        regular = True
        if name != name.lower() or not name:
            return "an upper-case field name"
        if _FIELD_NAME.fullmatch(name) is None:  # §8.2.1: a token (no SP, CTL or non-ASCII)
            return f"an invalid field name {name[:40]!r}"
        if name.decode("latin-1") in CONNECTION_SPECIFIC:
            return f"connection-specific field {name.decode('latin-1')}"
        if name == b"te" and value.lower() != b"trailers":
            return "te other than trailers"
        if b"\r" in value or b"\n" in value or b"\x00" in value:
            return "a CR, LF or NUL in a field value"
        if name == b"host" and host is None:
            host = value
    method = pseudo.get(b":method", b"")
    if method == b"CONNECT" and b":protocol" not in pseudo:
        if b":authority" not in pseudo or b":path" in pseudo or b":scheme" in pseudo:
            return "CONNECT needs :authority and no :path or :scheme"
        return None
    for needed in (b":method", b":scheme", b":path"):
        if needed not in pseudo:
            return f"missing {needed.decode()}"
    authority = pseudo.get(b":authority")
    if authority is not None and host is not None and host.lower() != authority.lower():
        return "a Host field that differs from :authority"  # §8.3.1
    path = pseudo[b":path"]
    if not path:
        return "an empty :path"
    if path[:1] != b"/" and (path != b"*" or method != b"OPTIONS"):
        return "a :path that is neither origin-form nor '*' for OPTIONS"  # §8.3.1
    return None


class H2Protocol(asyncio.Protocol):
    """One HTTP/2 connection."""

    def __init__(self, service: H2Service, peer: Any) -> None:
        self.service = service
        self.remote = peer[0] if isinstance(peer, tuple) else ""
        self.transport: asyncio.Transport | None = None
        self.conn = ServerConnection(config=_CONFIG)
        self.conn.encoder = StaticEncoder()
        self.streams: dict[int, _Stream] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.goaway_last: int | None = None  # set once a GOAWAY went out: later streams unserved
        # Only the `goaway` fault answers later streams with RST_STREAM(REFUSED_STREAM): after
        # our own GOAWAY (408/413, idle, shutdown) they are ignored, as §6.8 says, because h2
        # (httpx) fails on any frame that follows a GOAWAY it has read.
        self.goaway_refuses = False
        self.closed = False
        self.resets = FloodWindow(H2_FLOOD_RESETS)
        self.control = FloodWindow(H2_FLOOD_CONTROL_FRAMES)
        self.write_open: asyncio.Event | None = None
        self.flush_pending = False
        self.linger: asyncio.TimerHandle | None = None
        self.peer_left = False  # the client sent GOAWAY
        self.idle: asyncio.TimerHandle | None = None
        self.scheme = "http"

    # --- asyncio ----------------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:  # asyncio's Transport or uvloop's
        self.transport = transport
        if transport.get_extra_info("ssl_object") is not None:
            self.scheme = "https"
        transport.set_write_buffer_limits(high=H2_OUTPUT_BUFFER)
        self.service.connections.add(self)
        conn = self.conn
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.service.effective_max_streams(),
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: H2_MAX_HEADER_LIST,
            },
        )
        # h2 applies these to its decoder only once acknowledged: bound the first requests too.
        conn.decoder.max_header_list_size = H2_MAX_HEADER_LIST
        conn.initiate_connection()
        self._flush()
        self._arm_idle()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.transport = None
        self.service.connections.discard(self)
        if self.idle is not None:
            self.idle.cancel()
        if self.linger is not None:
            self.linger.cancel()
        for task in self.tasks.values():
            task.cancel()
        if self.write_open is not None:
            self.write_open.set()

    def pause_writing(self) -> None:
        # The client reads slower than we answer: stop reading its requests too, so neither
        # side's buffer grows without bound (H2_OUTPUT_BUFFER).
        self.write_open = asyncio.Event()
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.write_open is not None:
            self.write_open.set()
            self.write_open = None
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if len(data) > H2_READ_SLICE:
            # h2 parses all it is given before the flood checks see an event: a large read of
            # HEADERS + RST_STREAM pairs (rapid reset) is fed a slice at a time, so the work
            # after the limit trips is one slice, not the whole read.
            for start in range(0, len(data), H2_READ_SLICE):
                self.data_received(data[start : start + H2_READ_SLICE])
            return
        if self.closed:
            return
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._connection_error(exc)
            return
        for event in events:
            handler = _DISPATCH.get(type(event))
            if handler is not None:
                handler(self, event)
            if self.closed:
                return
        self._flush()

    # --- events -----------------------------------------------------------------------------

    def _on_request(self, event: h2.events.RequestReceived) -> None:
        sid = event.stream_id
        headers: list[tuple[bytes, bytes]] = event.headers
        if self.goaway_last is not None and sid > self.goaway_last:
            if self.goaway_refuses:
                self.conn.reset_stream(sid, ErrorCodes.REFUSED_STREAM)  # the fault's choice
            return  # §6.8: not processed; the client retries it on a new connection
        problem = malformed(headers)
        if problem is not None:
            self._reset(sid, ErrorCodes.PROTOCOL_ERROR, f"malformed request: {problem}")
            return
        stream = _Stream(sid, event.stream_ended is not None)
        stream.started = time.perf_counter()
        path = next((v for n, v in headers if n == b":path"), b"")  # none for CONNECT
        if b"window=0" in path:  # decided now: DATA may follow in the same read
            query = path.partition(b"?")[2].decode("latin-1")
            stream.window_zero = window_zero(Query(tuple(_parse_qs(query))))
        self.streams[sid] = stream
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None
        self.tasks[sid] = asyncio.ensure_future(self._serve(stream, headers))

    def _on_data(self, event: h2.events.DataReceived) -> None:
        stream = self.streams.get(event.stream_id)
        length = event.flow_controlled_length
        if stream is None:
            self.conn.acknowledge_received_data(length, event.stream_id)
            return
        data: bytes = event.data
        if not stream.too_large:
            stream.size += len(data)
            if stream.size > self.service.max_body:
                stream.too_large = True
                stream.chunks = []
                if stream.ended_event is not None:
                    stream.ended_event.set()  # the reader answers 413 now
            else:
                stream.chunks.append(data)
        if stream.window_zero or stream.too_large:
            # ?window=0 (and an over-cap body): the stream's window is never reopened; the
            # connection's is, so other streams keep flowing.
            self.conn.acknowledge_received_data(0, event.stream_id)
            if length:  # an empty DATA frame (END_STREAM alone) used no window
                with contextlib.suppress(h2.exceptions.ProtocolError):
                    self.conn.increment_flow_control_window(length)
        else:
            self.conn.acknowledge_received_data(length, event.stream_id)

    def _on_trailers(self, event: h2.events.TrailersReceived) -> None:
        """§8.1: trailers carry no pseudo-header and no connection-specific field; a bad one
        makes the request malformed (a stream error; h2's checks are off, see _CONFIG)."""
        for name, _value in event.headers:
            if name[:1] == b":" or name.decode("latin-1") in CONNECTION_SPECIFIC:
                why = f"malformed trailers: {name[:40]!r}"
                self._reset(event.stream_id, ErrorCodes.PROTOCOL_ERROR, why)
                self._forget(event.stream_id)
                return

    def _on_stream_ended(self, event: h2.events.StreamEnded) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is not None:
            stream.ended = True
            if stream.ended_event is not None:
                stream.ended_event.set()

    def _on_reset(self, event: h2.events.StreamReset) -> None:
        if not event.remote_reset:  # h2_conn refused it: over the stream cap, or malformed
            code = ErrorCodes(event.error_code).name
            self._log_problem(f"HTTP/2 RST_STREAM({code}) on stream {event.stream_id}")
        elif self.resets.hit(asyncio.get_running_loop().time()):
            self._calm(f"more than {H2_FLOOD_RESETS} stream resets in a second")
            return
        self._forget(event.stream_id)

    def _forget(self, sid: int) -> None:
        """A stream reset by either side: its state goes and its handler is cancelled."""
        self.streams.pop(sid, None)
        task = self.tasks.pop(sid, None)
        if task is not None:
            task.cancel()
        self._maybe_finish()

    def _on_control(self, event: h2.events.Event) -> None:
        if self.control.hit(asyncio.get_running_loop().time()):
            self._calm(f"more than {H2_FLOOD_CONTROL_FRAMES} PING/SETTINGS frames in a second")

    def _on_window(self, event: h2.events.WindowUpdated) -> None:
        if event.stream_id == 0:
            targets = list(self.streams.values())
        else:
            one = self.streams.get(event.stream_id)
            targets = [one] if one is not None else []
        for stream in targets:
            if stream.window_open is not None:
                stream.window_open.set()

    def _on_goaway(self, event: h2.events.ConnectionTerminated) -> None:
        """The client is leaving. §6.8: streams it opened may still be answered; h2 closes its
        state machine on any received GOAWAY, so a graceful one (NO_ERROR) reopens it for the
        in-flight streams; then the connection closes."""
        if event.error_code != ErrorCodes.NO_ERROR:
            self._close()
            return
        self.conn.state_machine.state = ConnectionState.SERVER_OPEN
        self.peer_left = True
        if self.goaway_last is None:
            self.goaway_last = self.conn.highest_inbound_stream_id
        self._maybe_finish()

    # --- serving one stream -----------------------------------------------------------------

    def _facts(self, headers: list[tuple[bytes, bytes]]) -> tuple[RequestFacts, int | None]:
        method = path = b""
        authority = b""
        scheme = self.scheme
        fields: CIMultiDict[str] = CIMultiDict()
        cookies: list[str] = []
        for name, value in headers:
            if name[:1] == b":":
                if name == b":method":
                    method = value
                elif name == b":path":
                    path = value
                elif name == b":authority":
                    authority = value
                elif name == b":scheme":
                    scheme = value.decode("latin-1").lower()  # RFC 3986 §3.1: case-insensitive
                continue
            text = value.decode("utf-8", "surrogateescape")
            if name == b"cookie":
                cookies.append(text)  # §8.2.3: joined with "; " for the application
            else:
                fields.add(name.decode("latin-1"), text)
        if cookies:
            fields.add("cookie", "; ".join(cookies))
        host = authority.decode("latin-1")
        if "host" not in fields and host:
            fields.add("host", host)
        raw = path.decode("latin-1")
        raw_path, _, qs = raw.partition("?")
        query = Query(tuple(_parse_qs(qs))) if qs else EMPTY_QUERY
        length_text = fields.get("content-length")
        length = int(length_text) if length_text and length_text.isdigit() else None
        proxy = CIMultiDictProxy(fields)
        facts = RequestFacts(
            method=method.decode("latin-1"),
            path=unquote(raw_path),
            query=query,
            headers=proxy,
            header_items=proxy.items(),
            version=(2, 0),
            scheme=scheme,
            host=fields.get("host", host),
            remote=self.remote,
            raw_path=raw,
        )
        return facts, length

    async def _serve(self, stream: _Stream, headers: list[tuple[bytes, bytes]]) -> None:
        sid = stream.sid
        decision: Decision | None = None
        facts: RequestFacts | None = None
        try:
            facts, length = self._facts(headers)
            if facts.scheme != self.scheme:
                decision = Decision(self._misdirected(facts), facts)
                await self._send_plan(stream, decision.plan)
                self._end_unread(stream)
                return
            if self.service.admin is not None and facts.path.startswith(self.service.admin_root):
                plan = await self._admin(stream, facts, length)
                await self._send_plan(stream, plan)
                self._access(stream, facts, plan)
                return
            decision = await self.service.decide(facts, _Body(self, stream, length))
            await self._send_plan(stream, decision.plan)
        except (asyncio.CancelledError, ConnectionError, h2.exceptions.ProtocolError):
            pass  # the client reset the stream or left; the connection is closing
        finally:
            self.streams.pop(sid, None)
            self.tasks.pop(sid, None)
            if decision is not None and facts is not None:
                with contextlib.suppress(Exception):  # the journal must never break the wire
                    self.service.record(
                        decision, stream.started, facts.raw_path.partition("?")[2], facts.headers
                    )
                self._access(stream, facts, decision.plan)
            self._flush_soon()
            self._maybe_finish()

    def _misdirected(self, facts: RequestFacts) -> ResponsePlan:
        """RFC 9110 §7.4 / §15.5.20: a `:scheme` this connection cannot serve (https on h2c,
        http on TLS, or any other scheme) is 421, never served as if it were that scheme."""
        shown = facts.scheme if _SCHEME.fullmatch(facts.scheme) else "an invalid scheme"
        why = f"this connection serves {self.scheme}, not {shown}"
        return self.service.error_plan(facts, 421, why)

    def _end_unread(self, stream: _Stream) -> None:
        """§8.1: after a complete response to a request whose body is still coming (one we
        refused), RST_STREAM(NO_ERROR) asks the client to stop sending; only this stream ends.

        The reset waits for the ACK of a PING sent right after the response (§6.7: the client
        has read every frame before it): curl 7.88 (nghttp2) drops a response whose reset it
        reads in the same batch and exits 92. A client that ended its body by then gets none;
        one that never acknowledges the PING (§6.7 says it must) gets the reset after
        H2_RESET_ACK_WAIT, so a refused upload cannot go on for ever."""
        if not stream.ended:
            self.conn.ping(_END_UNREAD + stream.sid.to_bytes(4, "big"))
            self._flush()
            # A second reset, after the ACK's, is a no-op: _reset ignores a closed stream.
            asyncio.get_running_loop().call_later(
                H2_RESET_ACK_WAIT, self._reset, stream.sid, ErrorCodes.NO_ERROR, None
            )

    def _on_ping_ack(self, event: h2.events.PingAckReceived) -> None:
        data = event.ping_data
        if data[:4] == _END_UNREAD:
            # Suppressed in _reset when the client has ended the stream since (closed).
            self._reset(int.from_bytes(data[4:], "big"), ErrorCodes.NO_ERROR, None)

    def _access(self, stream: _Stream, facts: RequestFacts, plan: ResponsePlan) -> None:
        if self.service.access_log:
            size = 0 if plan.head or plan.bodiless else len(plan.body)
            ms = (time.perf_counter() - stream.started) * 1000
            log_request(self.remote, facts.method, facts.raw_path, "HTTP/2", plan.status, size, ms)

    async def _admin(
        self, stream: _Stream, facts: RequestFacts, length: int | None
    ) -> ResponsePlan:
        """An admin call over HTTP/2: the admin API's own handler, its answer as a plan."""
        assert self.service.admin is not None
        body = b""
        if facts.method == "PUT":
            if not stream.ended and (facts.header("expect") or "").lower() == "100-continue":
                self.send_interim(stream.sid, 100, ())
            try:
                body = await _Body(self, stream, length).read()
            except RequestError as err:
                return self.service.error_plan(facts, err.status, str(err)).evolve(close=True)
        resp = await self.service.admin(_AdminRequest(facts, body, length))
        return ResponsePlan(
            status=resp.status,
            reason=resp.reason,
            headers=tuple(resp.headers.items()),
            body=bytes(resp.body or b""),
            head=facts.method == "HEAD",
            close=resp.keep_alive is False,
        )

    async def _send_plan(self, stream: _Stream, plan: ResponsePlan) -> None:
        sid = stream.sid
        if plan.upgrade is not None or plan.status == 101 or plan.forward is not None:
            # RFC 9113 §8.6: no 101 on HTTP/2; the client may retry over HTTP/1.1. Forwarding
            # (a scenario's `proxy:`) is HTTP/1.1 only too: it was an empty 502.
            self._reset(sid, ErrorCodes.HTTP_1_1_REQUIRED, None)
            return
        if plan.interims or plan.delay:
            await self._interims(stream, plan)
        fault = plan.fault
        if fault is not None and fault.kind in H2_FAULTS:
            await self._send_h2_fault(stream, plan, fault)
        elif placed(plan):
            await send_placed(self, stream, plan)
        elif fault is not None:
            await self._send_fault(stream, plan, fault.kind, fault.delay, fault.drip)
        elif plan.drip is not None and plan.body and not plan.head and not plan.bodiless:
            self._send_final(sid, plan, end=False, body=plan.body)
            await self._drip(stream, plan.body, plan.drip)
        else:
            send_body = not (plan.head or plan.bodiless) and bool(plan.body)
            self._send_final(sid, plan, end=not send_body, body=plan.body)
            if send_body:
                await self._send_body(stream, plan.body)
        if plan.close:
            if plan.status == 413:
                # A refused body ends only its own stream (the others on the connection go on):
                # §8.1, a complete response, then RST_STREAM(NO_ERROR) asks the client to stop
                # sending. The body's DATA still in flight is dropped (wire.h2_conn).
                self._end_unread(stream)
            else:
                # HTTP/1.1 closes after a 408: HTTP/2 says GOAWAY after the answer.
                self.goaway_graceful(ErrorCodes.NO_ERROR)

    async def _interims(self, stream: _Stream, plan: ResponsePlan) -> None:
        for interim in plan.interims:
            if interim.status == 100 and stream.continued:
                continue
            self.send_interim(stream.sid, interim.status, interim.headers)
        if plan.delay <= 0:
            return
        processing = next((i for i in plan.interims if i.status == 102), None)
        interval = plan.processing_interval
        loop = asyncio.get_running_loop()
        start = loop.time()
        if interval and processing is not None:
            k = 1
            while start + k * interval < start + plan.delay - 1e-9:
                await asyncio.sleep(max(0.0, start + k * interval - loop.time()))
                self.send_interim(stream.sid, 102, processing.headers)
                k += 1
        await asyncio.sleep(max(0.0, start + plan.delay - loop.time()))

    def send_interim(self, sid: int, status: int, fields: tuple[tuple[str, str], ...]) -> None:
        """RFC 9113 §8.1: a 1xx is a HEADERS frame before the final one, without END_STREAM."""
        block = [(b":status", _STATUS[status])]
        block += [
            (n.lower().encode("ascii"), v.encode("utf-8"))
            for n, v in fields
            if n.lower() not in CONNECTION_SPECIFIC
        ]
        self.conn.send_headers(sid, block, end_stream=False)
        self._flush()

    def _send_final(
        self, sid: int, plan: ResponsePlan, *, end: bool, body: bytes, length: int | None = None
    ) -> None:
        if plan.content_length_zero:
            length = 0
        elif plan.bodiless:
            length = None
        elif length is None:
            length = len(body)
        self._send_headers(sid, plan, end=end, length=length)

    def _send_headers(self, sid: int, plan: ResponsePlan, *, end: bool, length: int | None) -> None:
        """The final HEADERS frame; `length` None: no content-length (a stream, a bodiless code)."""
        block = [(b":status", _STATUS[plan.status]), *response_headers(plan)]
        if length is not None:
            block.append((b"content-length", str(length).encode()))
        block.append((b"date", _date()))
        self.conn.send_headers(sid, block, end_stream=end)

    async def _send_body(self, stream: _Stream, data: bytes, *, end: bool = True) -> None:
        conn = self.conn
        sid = stream.sid
        if (
            end
            and len(data) <= conn.max_outbound_frame_size
            and len(data) <= conn.local_flow_control_window(sid)
        ):
            conn.send_data(sid, data, end_stream=True)  # the common case: one frame, now
            return
        view = memoryview(data)
        pos = 0
        while pos < len(data):
            window = conn.local_flow_control_window(sid)
            if window <= 0:
                await self._wait_window(stream)
                continue
            size = min(window, conn.max_outbound_frame_size, len(data) - pos)
            conn.send_data(sid, bytes(view[pos : pos + size]))
            pos += size
            self._flush()
            if self.write_open is not None:
                await self._wait_reader()
            if self.closed:
                raise ConnectionResetError()
        if end:
            conn.end_stream(sid)

    async def _wait_window(self, stream: _Stream) -> None:
        stream.window_open = asyncio.Event()
        self._flush()
        try:
            async with asyncio.timeout(H2_SEND_STALL):
                await stream.window_open.wait()
        except TimeoutError:
            # A client that never opens its window would hold the stream (and its body) for
            # ever: the stream is cancelled, the connection's other streams go on.
            why = f"the client's flow-control window stayed closed for {H2_SEND_STALL:g} s"
            self._reset(stream.sid, ErrorCodes.CANCEL, why)
            raise ConnectionResetError() from None
        finally:
            stream.window_open = None
        if self.closed:
            raise ConnectionResetError()

    async def _wait_reader(self) -> None:
        """Wait for the client to read what is queued (pause_writing); one that reads nothing
        for H2_SEND_STALL seconds loses the connection (nothing more can reach it)."""
        write_open = self.write_open
        if write_open is None:
            return
        try:
            async with asyncio.timeout(H2_SEND_STALL):
                await write_open.wait()
        except TimeoutError:
            self._log_close("-", f"the client read nothing for {H2_SEND_STALL:g} s")
            if self.transport is not None:
                # What is queued would never be read: dropped, and RST (not a FIN after it).
                cut_connection(self.transport, reset=True)
            self.abort_all()
            raise ConnectionResetError() from None

    async def _drip(
        self, stream: _Stream, body: bytes, drip: Drip, limit: int | None = None
    ) -> None:
        data = body if limit is None else body[:limit]
        for start in range(0, len(data), drip.chunk):
            if start:
                await asyncio.sleep(drip.every)
            last = start + drip.chunk >= len(data)
            await self._send_body(
                stream, data[start : start + drip.chunk], end=last and limit is None
            )
            self._flush()

    # --- faults -----------------------------------------------------------------------------

    async def _send_fault(
        self, stream: _Stream, plan: ResponsePlan, kind: str, delay: float, drip: Drip | None
    ) -> None:
        """The HTTP/1.1 faults that mean something on HTTP/2 (issue 12's mapping)."""
        sid = stream.sid
        body = b"" if plan.head or plan.bodiless else plan.body
        if kind in ("reset", "close"):
            if self.transport is not None:
                cut_connection(self.transport, reset=kind == "reset")
            self.closed = True
        elif kind == "garbage":
            self._flush()
            if self.transport is not None:
                self.transport.write(GARBAGE)
            self._close()
        elif kind == "hang":
            await asyncio.sleep(MAX_HANG)
            self._reset(sid, ErrorCodes.CANCEL, None)
        elif kind == "truncate":
            # DATA shorter than content-length, then END_STREAM (§8.1.1: the client must treat
            # it as malformed).
            full = body or b"x" * 64
            self._send_final(sid, plan, end=False, body=full)
            await self._send_body(stream, full[: len(full) // 2])
        elif kind == "malformed-chunk":
            facts = RequestFacts(method="GET", path="/")
            bad = self.service.error_plan(
                facts, 400, "fault malformed-chunk does not exist on HTTP/2 (no chunked coding)"
            )
            self._send_final(sid, bad, end=False, body=bad.body)
            await self._send_body(stream, bad.body)
        elif kind == "slow-headers":
            await asyncio.sleep(delay or 2.0)
            self._send_final(sid, plan, end=not body, body=body)
            if body:
                await self._send_body(stream, body)
        elif kind == "drip":
            drip = drip or plan.drip or Drip(chunk=1, every=0.1)
            self._send_final(sid, plan, end=not body, body=body)
            if body:
                await self._drip(stream, body, drip)
        else:
            raise ValueError(f"unknown fault {kind!r}")

    async def _send_h2_fault(self, stream: _Stream, plan: ResponsePlan, fault: Fault) -> None:
        """`rst_stream` and `goaway` (h2_fault), from the plan whatever asked for them (a query
        or a scenario's `fault:`); the plan's interims and delay are already out."""
        sid = stream.sid
        if fault.kind == "rst_stream":
            if fault.after is None:
                self._reset(sid, fault.error, None)
            else:
                await send_placed(self, stream, plan)  # the body up to `after`, then the reset
        elif fault.graceful:
            # After this stream's answer: h2-based clients (httpx) drop every frame that
            # follows a GOAWAY, so sending it first would fail the stream that asked.
            await self._send_plan(stream, plan.evolve(fault=None, interims=(), delay=0.0))
            self.goaway_refuses = True
            self.goaway_graceful(fault.error)
        else:
            self._log_close(error_name(fault.error), "fault goaway")
            self.conn.close_connection(fault.error, last_stream_id=sid - 2 if sid > 2 else 0)
            self._flush()
            self._close()

    # --- connection -------------------------------------------------------------------------

    def goaway_graceful(self, error: int) -> None:
        """GOAWAY naming the last stream taken; in-flight streams finish, later ones are refused
        (§6.8). Written as a raw frame: h2's close_connection would forbid further sends."""
        if self.goaway_last is not None or self.closed:
            self._maybe_finish()
            return
        self.goaway_last = self.conn.highest_inbound_stream_id
        self._flush()
        frame = GoAwayFrame(0, last_stream_id=self.goaway_last, error_code=int(error))
        if self.transport is not None:
            self.transport.write(frame.serialize())
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if self.goaway_last is not None and not self.tasks and not self.closed:
            self._flush()
            if self.service.stopping or self.peer_left:
                self._close()
            elif self.linger is None:
                # Not at once: a client that sent a request before reading our GOAWAY gets
                # REFUSED_STREAM (safe to retry, §8.7) instead of a TCP reset; the client
                # usually closes first.
                loop = asyncio.get_running_loop()
                self.linger = loop.call_later(H2_GOAWAY_LINGER, self._close)
        elif not self.tasks and not self.closed:
            self._arm_idle()

    def _arm_idle(self) -> None:
        if self.idle is None and self.service.idle_timeout > 0 and self.transport is not None:
            loop = asyncio.get_running_loop()
            self.idle = loop.call_later(self.service.idle_timeout, self._idle_close)

    def _idle_close(self) -> None:
        self.idle = None
        if not self.tasks and not self.closed:
            self.goaway_graceful(ErrorCodes.NO_ERROR)

    def _connection_error(self, exc: h2.exceptions.ProtocolError) -> None:
        """A connection error (§5.4.1): GOAWAY with its code, one log line, close.

        h2 queues the GOAWAY itself, with two gaps filled here: a bad preface is refused before
        h2 queues anything, and an HPACK decoding error is sent as PROTOCOL_ERROR where §4.3
        requires COMPRESSION_ERROR (its GOAWAY, the last frame queued, is rewritten)."""
        code = int(getattr(exc, "error_code", None) or ErrorCodes.PROTOCOL_ERROR)
        cause = exc.__cause__ or exc.__context__  # h2 4.1 raises without `from`
        if isinstance(cause, HPACKError) and not isinstance(cause, OversizedHeaderListError):
            code = ErrorCodes.COMPRESSION_ERROR
        data = self.conn.data_to_send()
        if len(data) >= _GOAWAY_SIZE and data[-_GOAWAY_SIZE + 3] == GoAwayFrame.type:
            data = data[:-_GOAWAY_SIZE]  # h2's own GOAWAY: replaced by ours below
        last = self.conn.highest_inbound_stream_id
        why = str(exc) or type(exc).__name__
        data += GoAwayFrame(
            0, last_stream_id=last, error_code=code, additional_data=_debug(why)
        ).serialize()
        self._log_close(ErrorCodes(code).name, why)
        if self.transport is not None:
            self.transport.write(data)
        self._close()

    def _calm(self, why: str) -> None:
        self._log_close("ENHANCE_YOUR_CALM", why)
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.conn.close_connection(ErrorCodes.ENHANCE_YOUR_CALM, additional_data=_debug(why))
        self._flush()
        self._close()

    def _reset(self, sid: int, error: int, why: str | None) -> None:
        if why is not None:
            self._log_problem(f"HTTP/2 RST_STREAM on stream {sid}: {why}")
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.conn.reset_stream(sid, error)
        self._flush()

    def _log_close(self, code: str, why: str) -> None:
        self._log_problem(f"HTTP/2 GOAWAY({code}): {why}")

    def _log_problem(self, problem: str) -> None:
        """One access-log line, as for a malformed HTTP/1.1 request (none with --quiet, so a
        storm of bad connections cannot flood the output)."""
        if self.service.access_log:
            log_malformed(self.remote, 400, 0, problem)

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    def _flush_soon(self) -> None:
        """One write for every stream answered in this turn of the loop: a send() per response
        cost more than the rest of the response (bench/h2.py's profile)."""
        if not self.flush_pending:
            self.flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush_later)

    def _flush_later(self) -> None:
        self.flush_pending = False
        self._flush()

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        for task in self.tasks.values():
            task.cancel()

    def abort_all(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        if self.transport is not None:
            self.transport.close()
        self.closed = True


class _AdminRequest:
    """The part of an aiohttp request the admin API reads, for one HTTP/2 stream (its body read
    already; `Expect` answered by the wire, so the admin never writes an HTTP/1.1 interim)."""

    version = HttpVersion(2, 0)

    def __init__(self, facts: RequestFacts, body: bytes, length: int | None) -> None:
        self.method = facts.method
        self.path = facts.path
        fields: CIMultiDict[str] = CIMultiDict(
            (k, v) for k, v in facts.headers.items() if k.lower() != "expect"
        )
        self.headers = CIMultiDictProxy(fields)
        self.query = MultiDictProxy(MultiDict(facts.query.items()))
        self.content_length = length if length is not None else len(body)
        self.body_exists = bool(body)
        self.client_max_size = len(body)  # read in full already (capped by the stream)
        self.content = self
        self._body = body

    async def read(self, size: int = -1) -> bytes:
        body, self._body = self._body, b""
        return body


def _parse_qs(qs: str) -> list[tuple[str, str]]:
    """Like aiohttp's request.query (yarl): '+' is a space, blank values kept."""
    pairs = []
    for part in qs.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote(key.replace("+", " ")), unquote(value.replace("+", " "))))
    return pairs


_DISPATCH: dict[type, Callable[[H2Protocol, Any], None]] = {
    h2.events.RequestReceived: H2Protocol._on_request,
    h2.events.DataReceived: H2Protocol._on_data,
    h2.events.StreamEnded: H2Protocol._on_stream_ended,
    h2.events.TrailersReceived: H2Protocol._on_trailers,
    h2.events.StreamReset: H2Protocol._on_reset,
    h2.events.PingReceived: H2Protocol._on_control,
    h2.events.PingAckReceived: H2Protocol._on_ping_ack,
    h2.events.RemoteSettingsChanged: H2Protocol._on_control,
    h2.events.WindowUpdated: H2Protocol._on_window,
    h2.events.ConnectionTerminated: H2Protocol._on_goaway,
}
