"""A real local upstream (an aiohttp app on 127.0.0.1, in its own thread) and a factory for
mockstatus servers in front of it: shared by tests/test_proxy*.py and tests/test_record*.py."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from mockstatus.app import Mockstatus
from mockstatus.proxy import POLICY, ProxyTarget, UpstreamPolicy, parse_url
from mockstatus.proxy_app import ProxyConfig
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock


class Upstream:
    """The upstream: echo, status, large and slow bodies, cookies, malformed answers, a
    websocket echo. `seen` holds the request heads it received, newest last."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.release = threading.Event()  # /hang waits for it
        self.chunk_sizes: list[int] = []
        self.count = 0
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._runner: web.AppRunner | None = None

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # --- handlers ----------------------------------------------------------------------------

    async def echo(self, request: web.Request) -> web.StreamResponse:
        digest = hashlib.sha256()
        size = 0
        sizes = []
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
            sizes.append(len(chunk))
        self.chunk_sizes = sizes
        head = {
            "method": request.method,
            "path_qs": request.raw_path,
            "headers": [[k, v] for k, v in request.headers.items()],
            "size": size,
            "sha256": digest.hexdigest(),
        }
        self.seen.append(head)
        response = web.json_response(head)
        response.headers["X-Up"] = "1"
        response.headers["Keep-Alive"] = "timeout=9"
        response.headers["Proxy-Authenticate"] = "Basic"
        return response

    async def status(self, request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        self.seen.append({"method": request.method, "path_qs": request.raw_path})
        return web.Response(
            status=code, text=f"upstream says {code}\n", headers={"X-Up-Code": str(code)}
        )

    async def big(self, request: web.Request) -> web.StreamResponse:
        """`n` bytes (deterministic), chunked, 64 KiB per write."""
        n = int(request.query["n"])
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        block = bytes(range(256)) * 256
        sent = 0
        while sent < n:
            part = block[: min(len(block), n - sent)]
            await response.write(part)
            sent += len(part)
        await response.write_eof()
        return response

    async def blob(self, request: web.Request) -> web.Response:
        """`n` bytes with a Content-Length (not UTF-8 text: bytes 0-255 repeated)."""
        n = int(request.query["n"])
        return web.Response(body=(bytes(range(256)) * (n // 256 + 1))[:n])

    async def counter(self, request: web.Request) -> web.Response:
        self.count += 1
        return web.json_response({"count": self.count}, status=200 if self.count < 3 else 201)

    async def broken(self, request: web.Request) -> web.StreamResponse:
        """Promises `n` bytes, sends a tenth, then closes."""
        n = int(request.query["n"])
        response = web.StreamResponse()
        response.content_length = n
        await response.prepare(request)
        await response.write(b"b" * (n // 10))
        await asyncio.sleep(0.01)
        assert request.transport is not None
        request.transport.close()
        return response

    async def hang(self, request: web.Request) -> web.Response:
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 5)
        return web.Response(text="late")

    async def garbage(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.write(b"NOT HTTP AT ALL\r\n\r\n")
        request.transport.close()
        return web.Response()

    async def cookies(self, request: web.Request) -> web.Response:
        response = web.json_response(
            {"token": "s3cret", "nested": {"password": "p", "ok": [1, {"Token": "t"}]}}
        )
        response.headers.add("Set-Cookie", "a=1; Path=/")
        response.headers.add("Set-Cookie", "b=2; Path=/")
        response.headers["X-Trace"] = "abc"
        return response

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("chat",))
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str("up:" + msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data[::-1])
        return ws

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Upstream:
        app = web.Application(client_max_size=1 << 40)
        app.router.add_route("*", "/status/{code:[0-9]+}", self.status)
        app.router.add_get("/big", self.big)
        app.router.add_get("/hang", self.hang)
        app.router.add_get("/blob", self.blob)
        app.router.add_get("/broken", self.broken)
        app.router.add_get("/counter", self.counter)
        app.router.add_get("/garbage", self.garbage)
        app.router.add_get("/cookies", self.cookies)
        app.router.add_get("/ws", self.ws)
        app.router.add_route("*", "/{tail:.*}", self.echo)

        async def boot() -> None:
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        self.loop.run_until_complete(boot())
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()

        async def down() -> None:
            assert self._runner is not None
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(down(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def target(url: str, **options: Any) -> ProxyTarget:
    scheme, host, port, base = parse_url(url)
    return ProxyTarget(url, scheme, host, port, base, **options)


@contextmanager
def proxy_server(
    upstream: str | None,
    *,
    scenarios: Path | None = None,
    allow: tuple[tuple[str, int | None], ...] = (),
    recorder: Any = None,
    clock: ManualClock | None = None,
    **app_options: Any,
) -> Iterator[BackgroundServer]:
    """A mockstatus in front of `upstream` (`mockstatus proxy`), or under `serve` with only an
    allow-list when `upstream` is None; the upstream policy is restored afterwards."""
    token = POLICY.set(UpstreamPolicy())
    try:
        up = target(upstream) if upstream else None
        allowed = allow + (((up.host, up.port),) if up else ())
        config = ProxyConfig(upstream=up, policy=UpstreamPolicy(allowed), recorder=recorder)
        app = Mockstatus(
            clock=clock or ManualClock(),
            clock_controllable=True,
            scenarios_dir=scenarios,
            proxy=config,
            **app_options,
        )
        app.store.load_initial()
        with BackgroundServer(app) as server:
            yield server
    finally:
        POLICY.reset(token)


def body_json(text: str | bytes) -> Any:
    return json.loads(text)


def header_of(head: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in head["headers"] if k.lower() == name.lower()]
