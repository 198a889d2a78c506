"""Forwarding a request to an upstream and streaming its answer back (issue 14).

aiohttp's client does the HTTP (one `ClientSession` per server, a bounded pool, no automatic
decompression, no cookie jar, no redirects). Bodies are relayed chunk by chunk both ways, so a
large upload or download never sits in memory. What reaches the upstream and the client is
decided by the pure `mockstatus.proxy`; this module only moves bytes and translates the client's
errors, once, into a 502 / 504 whose body names the upstream and why.

`Expect: 100-continue` is relayed end to end: the upstream is asked with `expect100=True`, and
our client gets its `100 Continue` when the upstream asks for the body (that is when aiohttp
starts reading the body iterator below). The upstream's other 1xx (`103 Early Hints`, `102`)
are relayed as they come through `_RelayingResponse` (aiohttp's client reads and drops them).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

import aiohttp
from aiohttp import StreamReader, web
from multidict import CIMultiDict
from yarl import URL

from mockstatus.codes import CODES, is_bodiless
from mockstatus.http_syntax import FIELD_CONTROL, TOKEN
from mockstatus.limits import (
    UPSTREAM_CHUNK,
    UPSTREAM_CONNECTIONS,
    UPSTREAM_IDLE,
    UPSTREAM_INTERIMS,
)
from mockstatus.proxy import ProxyTarget, request_headers, response_headers
from mockstatus.types import Interim, RequestFacts
from mockstatus.wire.core import ClientGone, write_interim
from mockstatus.wire.upgrade import _EchoParser

_CONTINUE = Interim(100, "Continue")
_STATUS_LINE = re.compile(r"HTTP/1\.[01] ([0-9]{3})(?: ([^\r\n]*))?")
# aiohttp's client sets these itself for a websocket handshake.
_WS_OWN = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
    }
)


# Where the request in flight relays an upstream 1xx; set around `session.request` in `forward`
# (the response is started in the same task, so the context carries it there).
_INTERIM_SINK: ContextVar[Callable[[int, list[tuple[str, str]]], Awaitable[None]] | None] = (
    ContextVar("mockstatus_interim_sink", default=None)
)


class _RelayingResponse(aiohttp.ClientResponse):
    """aiohttp's client response, with the upstream's 1xx (other than 100, which aiohttp's
    `expect100` handles, and 101) handed to the request's sink before aiohttp drops them.

    aiohttp has no hook for 1xx: `ClientResponse.start` reads messages from the connection's
    protocol until a final one. For the time of `start`, the protocol's `read` is wrapped (an
    instance attribute shadowing the method, removed again after), so nothing else changes."""

    async def start(self, connection: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
        sink = _INTERIM_SINK.get()
        protocol = connection.protocol
        if sink is None or protocol is None:
            return await super().start(connection)
        read = protocol.read

        async def read_relaying() -> tuple[aiohttp.http.RawResponseMessage, StreamReader]:
            message, payload = await read()
            if 100 < message.code < 200 and message.code != 101:
                await sink(message.code, [(str(n), v) for n, v in message.headers.items()])
            return message, payload

        protocol.read = read_relaying  # type: ignore[method-assign]
        try:
            return await super().start(connection)
        finally:
            del protocol.read


def _interim_sink(
    request: web.BaseRequest, outcome: Outcome
) -> Callable[[int, list[tuple[str, str]]], Awaitable[None]]:
    async def relay(code: int, fields: list[tuple[str, str]]) -> None:
        if outcome.interims >= UPSTREAM_INTERIMS:
            return  # an upstream that floods 1xx: the first ones are enough
        outcome.interims += 1
        # aiohttp's parser checked the syntax; our raw write checks nothing: keep only fields
        # that are safe to write (a token name, no control characters in the value).
        kept = tuple(
            (n, v)
            for n, v in response_headers(fields)
            if TOKEN.fullmatch(n) and not FIELD_CONTROL.search(v)
        )
        info = CODES.get(code)
        # The client left: the final response's write says so.
        with contextlib.suppress(ConnectionResetError, ClientGone):
            await write_interim(request, Interim(code, info.reason if info else "", kept))

    return relay


class UpstreamError(Exception):
    """The upstream could not answer: `status` (502 or 504) and a message naming it and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Outcome:
    """What happened upstream, for the journal (`upstream`) and the recorder."""

    url: str
    status: int | None = None
    duration_ms: float = 0.0
    error: str | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)  # as sent to the client
    body: bytearray | None = None  # kept only while recording, up to the recorder's cap
    interims: int = 0  # the upstream's 1xx relayed to the client

    def to_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
            "error": self.error,
        }


class Forwarder:
    """One server's way upstream: the client session (made on first use, on the serving loop)
    and the TLS contexts of the CA files scenarios name."""

    def __init__(self, connections: int = UPSTREAM_CONNECTIONS) -> None:
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}
        # One ClientTimeout per `timeout` value (an attrs object aiohttp only reads): ~1 µs
        # less per forwarded request than making it each time (bench/proxy.py).
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections),
                auto_decompress=False,  # bytes as the upstream sent them, Content-Encoding kept
                cookie_jar=aiohttp.DummyCookieJar(),  # clients must not share cookies
                response_class=_RelayingResponse,  # the upstream's 103 / 102 reach the client
                # Only what the client sent: no User-Agent, Accept or Accept-Encoding of ours.
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                timeout=aiohttp.ClientTimeout(total=None, sock_read=UPSTREAM_IDLE),
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        """Connect and first byte within `seconds` (the body's pauses: UPSTREAM_IDLE)."""
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            if len(self._timeouts) >= 64:  # a few per scenario set; bounded all the same
                self._timeouts.clear()
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(
                total=None, connect=seconds, sock_read=seconds
            )
        return timeout

    def _ssl(self, target: ProxyTarget) -> ssl.SSLContext | bool:
        if target.scheme != "https" or target.verify is True:
            return True
        if target.verify is False:
            return False
        context = self._contexts.get(target.verify)
        if context is None:
            context = ssl.create_default_context(cafile=target.verify)
            self._contexts[target.verify] = context
        return context

    async def forward(
        self,
        request: web.BaseRequest,
        facts: RequestFacts,
        target: ProxyTarget,
        extra_headers: tuple[tuple[str, str], ...],
        outcome: Outcome,
        record_cap: int = 0,
        relay_interims: bool = True,
    ) -> web.StreamResponse:
        """Forward `request` to `target` and stream the answer back; raise UpstreamError when the
        upstream gives no usable response head (nothing has been sent to the client then).
        `relay_interims`: pass the upstream's 103 / 102 on (off for HTTP/1.0 clients, RFC 9110
        §15.2, and under `--interim off`)."""
        fields = request.headers
        headers = request_headers(
            fields.items(),
            target,
            host=request.host,
            scheme=request.scheme,
            remote=request.remote or "",
            connection=fields.getall("Connection", ()),
        )
        if "Upgrade" in fields:
            if _is_websocket(request):
                return await self._websocket(request, target, headers, outcome)
            token = _other_upgrade(request)
            if token is not None:
                return await self._tunnel(request, target, headers, outcome, token)
        expect = fields.get("Expect", "").strip().lower() == "100-continue"
        data: bytes | AsyncIterator[bytes] | None = None
        if facts.body is not None:
            data = facts.body
        elif request.body_exists:
            data = _request_body(request, expect and request.version >= (1, 1))
            if request.content_length is not None:
                headers.append(("Content-Length", str(request.content_length)))
        started = time.perf_counter()
        sink = _INTERIM_SINK.set(_interim_sink(request, outcome) if relay_interims else None)
        try:
            # aiohttp starts the read timer once the body is sent: `timeout` bounds the connect
            # and then the wait for the response head, however long the upload takes.
            upstream = await self.session().request(
                facts.method,
                URL(outcome.url, encoded=True),
                headers=CIMultiDict(headers),
                data=data,
                allow_redirects=False,
                expect100=expect and data is not None,
                ssl=self._ssl(target),
                timeout=self._timeout(target.timeout),
            )
        except aiohttp.ConnectionTimeoutError:
            raise UpstreamError(
                504,
                f"upstream {target.url} did not accept a connection within {target.timeout:g} s",
            ) from None
        except TimeoutError:
            raise UpstreamError(
                504, f"upstream {target.url} sent no response within {target.timeout:g} s"
            ) from None
        except aiohttp.ClientError as exc:
            raise _translate(exc, target) from None
        except (OSError, ValueError) as exc:  # a CA file that went away, a bad URL
            raise UpstreamError(502, f"upstream {target.url} failed: {_describe(exc)}") from None
        finally:
            outcome.duration_ms = (time.perf_counter() - started) * 1000
            _INTERIM_SINK.reset(sink)
        if upstream.connection is not None and upstream.connection.protocol is not None:
            upstream.connection.protocol.read_timeout = UPSTREAM_IDLE  # the body's pauses
        return await self._relay(request, facts, upstream, extra_headers, outcome, record_cap)

    async def _relay(
        self,
        request: web.BaseRequest,
        facts: RequestFacts,
        upstream: aiohttp.ClientResponse,
        extra_headers: tuple[tuple[str, str], ...],
        outcome: Outcome,
        record_cap: int,
    ) -> web.StreamResponse:
        status = upstream.status
        outcome.status, outcome.reason = status, upstream.reason or ""
        received = upstream.headers
        fields = response_headers(  # with the rate-limit fields the plan carries
            received.items(), extra_headers, received.getall("Connection", ())
        )
        outcome.headers = fields
        bodiless = is_bodiless(status) or facts.method == "HEAD"
        length = upstream.content_length
        chunked = "chunked" in upstream.headers.get("Transfer-Encoding", "")
        if not bodiless and length is not None and length <= UPSTREAM_CHUNK and not chunked:
            # A small body is read whole and sent with the head in one write: one wake-up of
            # the client instead of two (see bench/proxy.py).
            return await self._small(request, upstream, fields, outcome, record_cap)
        response = web.StreamResponse(status=status, reason=outcome.reason or None)
        for name, value in fields:
            response.headers.add(name, value)
        if facts.method == "HEAD" and length is not None:
            response.headers["Content-Length"] = str(length)  # the GET's length (RFC 9110 §9.3.2)
        elif not bodiless:
            if length is not None and not chunked:
                response.content_length = length
            elif request.version >= (1, 1):
                response.enable_chunked_encoding()
            else:
                response.force_close()  # HTTP/1.0: the end of the body is the end of the connection
        if request.body_exists and not request.content.is_eof():
            response.force_close()  # the body was not (all) read: it must not be parsed next
        if record_cap:
            outcome.body = bytearray()
        try:
            await response.prepare(request)
            if not bodiless:
                await self._stream(upstream, response, outcome, record_cap)
            await response.write_eof()
        except (ConnectionResetError, ClientGone):
            outcome.error = "the client left"
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The head is out: all we can do is cut the connection so the client sees the body
            # is incomplete (a truncated Content-Length or an unfinished chunked body).
            outcome.error = f"the upstream body broke off: {_describe(exc)}"
            if request.transport is not None:
                request.transport.close()
        finally:
            upstream.release()
        return response

    async def _small(
        self,
        request: web.BaseRequest,
        upstream: aiohttp.ClientResponse,
        fields: list[tuple[str, str]],
        outcome: Outcome,
        record_cap: int,
    ) -> web.StreamResponse:
        try:
            body = await upstream.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            outcome.error = f"the upstream body broke off: {_describe(exc)}"
            raise UpstreamError(
                502, f"upstream {outcome.url} broke off its body: {_describe(exc)}"
            ) from None
        finally:
            upstream.release()
        if record_cap:
            outcome.body = bytearray(body)
        # The fields in one CIMultiDict (built in C) rather than one `add` call each.
        response = web.Response(
            status=outcome.status or 502, reason=outcome.reason or None, headers=CIMultiDict(fields)
        )
        response.body = body
        if request.body_exists and not request.content.is_eof():
            response.force_close()  # the body was not (all) read: it must not be parsed next
        return response

    async def _stream(
        self,
        upstream: aiohttp.ClientResponse,
        response: web.StreamResponse,
        outcome: Outcome,
        record_cap: int,
    ) -> None:
        kept = outcome.body
        async for chunk in upstream.content.iter_chunked(UPSTREAM_CHUNK):
            if kept is not None:
                if len(kept) + len(chunk) > record_cap:
                    kept = outcome.body = None  # too large to record: stop copying
                else:
                    kept += chunk
            await response.write(chunk)  # drains: a slow client slows the upstream read

    async def _websocket(
        self,
        request: web.BaseRequest,
        target: ProxyTarget,
        headers: list[tuple[str, str]],
        outcome: Outcome,
    ) -> web.StreamResponse:
        """Tunnel a WebSocket: the upstream handshake first, then ours, then messages both ways."""
        protocols = [
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        sent = CIMultiDict((n, v) for n, v in headers if n.lower() not in _WS_OWN)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(target.timeout):
                upstream = await self.session().ws_connect(
                    URL(outcome.url, encoded=True),
                    headers=sent,
                    protocols=protocols,
                    ssl=self._ssl(target),
                    autoclose=False,
                    autoping=False,
                )
        except TimeoutError:
            raise UpstreamError(
                504, f"upstream {target.url} did not answer within {target.timeout:g} s"
            ) from None
        except aiohttp.WSServerHandshakeError as exc:
            raise UpstreamError(
                502, f"upstream {target.url} refused the WebSocket handshake: {exc.status}"
            ) from None
        except aiohttp.ClientError as exc:
            raise _translate(exc, target) from None
        finally:
            outcome.duration_ms = (time.perf_counter() - started) * 1000
        outcome.status = 101
        ours = web.WebSocketResponse(
            protocols=[upstream.protocol] if upstream.protocol else (),
            autoclose=False,
            autoping=False,
        )
        try:
            await ours.prepare(request)
            await _pump_ws(ours, upstream)
        finally:
            await upstream.close()
        return ours

    async def _tunnel(
        self,
        request: web.BaseRequest,
        target: ProxyTarget,
        headers: list[tuple[str, str]],
        outcome: Outcome,
        token: str,
    ) -> web.StreamResponse:
        """Another `Upgrade` (aiohttp's client speaks only websocket): the request head is
        replayed on a raw connection; after the upstream's 101 the bytes are relayed both ways
        as they come, with back-pressure, until either side closes."""
        target_line = URL(outcome.url, encoded=True).raw_path_qs
        lines = [f"{request.method} {target_line} HTTP/1.1"]
        lines += [f"{n}: {v}" for n, v in headers]
        lines += [f"Upgrade: {token}", "Connection: Upgrade", "", ""]
        context = self._ssl(target)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(target.timeout):
                reader, writer = await asyncio.open_connection(
                    target.host,
                    target.port,
                    ssl=(context if context is not True else ssl.create_default_context())
                    if target.scheme == "https"
                    else None,
                    limit=UPSTREAM_CHUNK,
                )
                writer.write("\r\n".join(lines).encode("utf-8"))
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            raise UpstreamError(
                504, f"upstream {target.url} sent no response within {target.timeout:g} s"
            ) from None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            raise UpstreamError(
                502, f"upstream {target.url} sent a malformed response to the upgrade"
            ) from None
        except OSError as exc:
            reason = exc.strerror or _describe(exc)
            raise UpstreamError(502, f"upstream {target.url} is unreachable: {reason}") from None
        finally:
            outcome.duration_ms = (time.perf_counter() - started) * 1000
        status_line, *field_lines = head.decode("latin-1").split("\r\n")
        match = _STATUS_LINE.fullmatch(status_line)
        if match is None or match.group(1) != "101":
            writer.close()
            what = f"answered {match.group(1)}" if match else "sent a malformed status line"
            raise UpstreamError(502, f"upstream {target.url} did not switch protocols: it {what}")
        fields = [
            tuple(part.strip() for part in line.split(":", 1))
            for line in field_lines
            if ":" in line
        ]
        upgrade = next((v for n, v in fields if n.lower() == "upgrade"), token)
        outcome.status, outcome.reason = 101, match.group(2) or "Switching Protocols"
        response = web.StreamResponse(status=101, reason=outcome.reason)
        for name, value in response_headers(fields):  # type: ignore[arg-type]
            response.headers.add(name, value)
        response.headers["Upgrade"] = upgrade
        response.headers["Connection"] = "Upgrade"
        transport = request.transport
        if transport is None or transport.is_closing():
            writer.close()
            return response
        client = _EchoParser(transport)  # the client's bytes from now on, with back-pressure
        request.protocol.set_parser(client)  # type: ignore[arg-type]  # see wire.upgrade

        async def to_upstream() -> None:
            while (data := await client.get()) is not None:
                writer.write(data)
                await writer.drain()

        async def to_client() -> None:
            while data := await reader.read(UPSTREAM_CHUNK):
                transport.write(data)
                await request.writer.drain()

        try:
            await response.prepare(request)
            tasks = [asyncio.ensure_future(to_upstream()), asyncio.ensure_future(to_client())]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        except ConnectionResetError:
            pass
        finally:
            writer.close()
            transport.close()
        return response


async def _pump_ws(ours: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    async def copy(
        source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
        sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    ) -> None:
        sends: dict[aiohttp.WSMsgType, Callable[..., object]] = {
            aiohttp.WSMsgType.TEXT: sink.send_str,
            aiohttp.WSMsgType.BINARY: sink.send_bytes,
            aiohttp.WSMsgType.PING: sink.ping,
            aiohttp.WSMsgType.PONG: sink.pong,
        }
        while True:
            msg = await source.receive()
            send = sends.get(msg.type)
            if send is not None:
                await send(msg.data)  # type: ignore[misc]
                continue
            if msg.type == aiohttp.WSMsgType.CLOSE:
                await sink.close(code=msg.data or 1000, message=(msg.extra or "").encode())
            return

    tasks = [
        asyncio.ensure_future(copy(ours, upstream)),
        asyncio.ensure_future(copy(upstream, ours)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _other_upgrade(request: web.BaseRequest) -> str | None:
    """The `Upgrade` token of a bodiless upgrade request other than websocket (RFC 9110 §7.8)."""
    token = request.headers.get("Upgrade", "").strip()
    # h2c (`curl --http2`) is declined: the request goes on as plain HTTP/1.1 (§7.8 lets the
    # server ignore Upgrade; the upstream's 200 was a 502 "did not switch protocols").
    if not token or token.lower() in ("websocket", "h2c") or request.body_exists:
        return None
    if "upgrade" not in request.headers.get("Connection", "").lower():
        return None
    return token


def _is_websocket(request: web.BaseRequest) -> bool:
    return (
        request.method == "GET"
        and request.headers.get("Upgrade", "").strip().lower() == "websocket"
        and "upgrade" in request.headers.get("Connection", "").lower()
    )


async def _request_body(request: web.BaseRequest, announce: bool) -> AsyncIterator[bytes]:
    """The client's body as it arrives. aiohttp starts reading this when the upstream is ready
    for the body: with `Expect: 100-continue` that is when its `100 Continue` came, so ours goes
    to the client now, and the client sends the body."""
    if announce:
        await write_interim(request, _CONTINUE)
    content = request.content
    while True:
        chunk = await content.readany()
        if not chunk:
            return
        yield chunk


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:200]


def _translate(exc: aiohttp.ClientError, target: ProxyTarget) -> UpstreamError:
    """The one place an aiohttp client error becomes our 502 / 504."""
    name = target.url
    if isinstance(exc, aiohttp.ServerTimeoutError | aiohttp.ConnectionTimeoutError):
        return UpstreamError(504, f"upstream {name} timed out: {_describe(exc)}")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return UpstreamError(502, f"upstream {name} failed TLS verification: {_describe(exc)}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or _describe(exc.os_error)
        return UpstreamError(502, f"upstream {name} is unreachable: {reason}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return UpstreamError(502, f"upstream {name} closed the connection without a response")
    if isinstance(exc, aiohttp.ClientResponseError):
        # aiohttp's parser message spans lines with a caret drawing: one line, no caret.
        lines = (line.strip() for line in str(exc.message).splitlines())
        detail = " ".join(line for line in lines if line.strip("^"))
        return UpstreamError(502, f"upstream {name} sent a malformed response: {detail}")
    return UpstreamError(502, f"upstream {name} failed: {_describe(exc)}")
