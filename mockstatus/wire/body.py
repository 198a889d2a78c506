"""The HTTP/1.1 request body as a `types.BodySource`: aiohttp's request behind the transport-
neutral seam `Mockstatus.decide` reads through."""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from mockstatus.errors import RequestError
from mockstatus.types import Interim
from mockstatus.wire.core import ClientGone, write_interim


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
