"""aiohttp's HTTP/1 request as the transport-neutral seam (`Pipeline.decide`) sees it: its facts
(`facts_from`), its body as a `types.BodySource` (`RequestBody`), and the answer to a request line
whose version we do not speak (`unsupported_version`)."""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from aiohttp import web
from aiohttp.http import HttpVersion11
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from yarl import URL

from mockstatus import semantics
from mockstatus.errors import RequestError
from mockstatus.types import EMPTY_QUERY, Interim, Query, RequestFacts
from mockstatus.wire.core import ClientGone, build_response, write_interim


class RequestBody(NamedTuple):
    """aiohttp caches what `read` returns, so later reads (echo, scenarios, the journal) are
    free; the 100 is a raw interim write (`wire.core.write_interim`). A NamedTuple: one is made
    per request, and a tuple is the cheapest object to make."""

    request: web.BaseRequest
    timeout: float
    cap: int | None = None  # a smaller limit than aiohttp's client_max_size (admin uploads)

    @property
    def exists(self) -> bool:
        return self.request.body_exists

    @property
    def length(self) -> int | None:
        return self.request.content_length

    @property
    def limit(self) -> int:
        return self.request.client_max_size if self.cap is None else self.cap

    async def read(self) -> bytes:
        """The request body; a body that does not arrive within the timeout is a 408, one over
        the size cap a 413, an undecodable one a 400 (each closes the connection)."""
        try:
            async with asyncio.timeout(self.timeout):
                if self.cap is None:
                    return await self.request.read()
                return await self._read_capped(self.cap)
        except TimeoutError:
            err = RequestError(
                f"the request body did not arrive within {self.timeout:g} s", status=408
            )
        except web.HTTPRequestEntityTooLarge:
            err = RequestError(f"the request body is over {self.limit} bytes", status=413)
        except (HttpProcessingError, RequestPayloadError) as exc:
            # A body that cannot be decoded (a bad gzip, a broken chunk): the client's fault.
            text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
            lines = [ln for ln in lines if not ln.endswith(", message:")]  # "400, message:"
            problem = lines[0] if lines else "malformed"
            err = RequestError(f"the request body cannot be read: {problem.rstrip(':')}")
        err.unread_body = True  # type: ignore[attr-defined]  # the answer closes the connection
        raise err

    async def _read_capped(self, cap: int) -> bytes:
        """At most `cap` bytes, refused as soon as the announced or received size passes it."""
        length = self.request.content_length
        if length is not None and length > cap:
            raise web.HTTPRequestEntityTooLarge(max_size=cap, actual_size=length)
        chunks: list[bytes] = []
        size = 0
        while chunk := await self.request.content.read(65536):
            size += len(chunk)
            if size > cap:
                raise web.HTTPRequestEntityTooLarge(max_size=cap, actual_size=size)
            chunks.append(chunk)
        return b"".join(chunks)

    async def send_continue(self, interim: Interim | None, delay: float) -> bool:
        try:
            if delay:
                await asyncio.sleep(delay)
            if interim is not None:
                await write_interim(self.request, interim)
        except ClientGone:
            return False
        return True


def facts_from(request: web.BaseRequest, body: bytes | None = None) -> RequestFacts:
    """What the pure layer may know of an aiohttp request (no aiohttp object goes below)."""
    qs = request.query_string
    raw_path, host = request.raw_path, request.host
    if raw_path[:1] != "/" and raw_path != "*":
        # absolute-form (RFC 9112 §3.2.2): the target's authority is the host, not the Host
        # field, and the path is the target's path and query (§3.3 rebuilds the URI from them).
        target = URL(raw_path)
        if target.absolute and target.raw_host:
            raw_path = target.raw_path_qs
            host = target.raw_authority.rpartition("@")[2]
    return RequestFacts(
        method=request.method,
        path=request.path,
        query=Query(tuple(request.query.items())) if qs else EMPTY_QUERY,
        headers=request.headers,  # case-insensitive: lookups by lower-case name work
        header_items=request.headers.items(),  # a view: no copy on the hot path
        version=(request.version.major, request.version.minor),
        scheme=request.scheme,
        host=host,
        remote=request.remote or "",
        body=body,
        raw_path=raw_path,
    )


def bad_host(request: web.BaseRequest) -> web.StreamResponse:
    """RFC 9112 §3.2: a Host field whose value is not `uri-host [":" port]` gets 400, closed."""
    err = RequestError("the Host field is not a valid host[:port] (RFC 9112 §3.2)")
    plan = semantics.error_plan(err, facts_from(request)).evolve(close=True)
    return build_response(plan)


def unsupported_version(request: web.BaseRequest) -> web.StreamResponse:
    """A request line without a version (aiohttp parses it as HTTP/0.9) gets 400; a well-formed
    HTTP/x.y with x ≠ 1 gets 505 (RFC 9110 §15.6.6). Answered as HTTP/1.1 and closed."""
    version = request.version
    if version == (0, 9):
        err = RequestError("the request line has no HTTP version (HTTP/0.9 is not supported)")
    else:
        err = RequestError(
            f"HTTP/{version.major}.{version.minor} is not supported: use HTTP/1.1",
            status=505,
        )
    request._cache["version"] = HttpVersion11  # reify's cache: our status line says 1.1
    plan = semantics.error_plan(err, facts_from(request)).evolve(close=True)
    return build_response(plan)
