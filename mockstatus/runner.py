"""Run a Mockstatus server on its own event loop in a background thread (tests, pytest plugin)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

from mockstatus.app import Mockstatus, make_server
from mockstatus.wire import fastlane
from mockstatus.wire.server import MockstatusServer

START_TIMEOUT = 10.0


class BackgroundServer:
    """`with BackgroundServer(app) as server: server.url("/status/503")`"""

    def __init__(
        self,
        app: Mockstatus,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        shutdown_timeout: float = 2.0,
        fast_lane: bool | None = None,  # None: MOCKSTATUS_FAST_LANE (on unless off)
        **kwargs: Any,
    ) -> None:
        self.app = app
        self.fast_lane = fast_lane
        self.lane: fastlane.Lane | None = None  # when the fast lane serves
        self.shutdown_timeout = shutdown_timeout
        self.host = host
        self.port = port
        self.kwargs = {"quiet": True, **kwargs}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.ServerRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def start(self) -> BackgroundServer:
        self._thread = threading.Thread(target=self._run, name="mockstatus-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError("mockstatus did not start within 10 s")
        if self._error is not None:
            raise RuntimeError(f"mockstatus could not start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        loop = self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._shutdown())
        loop.close()

    async def _shutdown(self) -> None:
        if self._runner is None:
            return
        for site in list(self._runner.sites):
            await site.stop()
        server = self._runner.server
        if isinstance(server, MockstatusServer):
            await server.drain(self.shutdown_timeout)
        await self._runner.cleanup()

    async def _start(self) -> None:
        server = make_server(self.app, **self.kwargs)
        if fastlane.enabled_from_env() if self.fast_lane is None else self.fast_lane:
            self.lane = fastlane.install(server, self.app)
        self._runner = web.ServerRunner(server, shutdown_timeout=self.shutdown_timeout)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def call(self, fn: Any, *args: Any) -> Any:
        """Run `fn(*args)` on the server's loop (its state is not thread-safe) and return the result."""
        assert self.loop is not None

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def stop(self) -> None:
        if self.loop is not None and self._thread is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
