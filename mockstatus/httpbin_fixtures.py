"""pytest-httpbin's fixtures, served by mockstatus (opt in: ini `mockstatus_httpbin = true`).

`pytest_plugin` registers this module only when the option is on, so it never meets
pytest-httpbin's fixtures of the same names (run with `-p no:httpbin` when both are installed):

    httpbin, httpbin_secure          session servers: .url, .host, .port, .protocol, .join(), +
    httpbin_both                     each test runs against both (params "http", "https")
    class_based_httpbin(_secure)     set `self.httpbin` / `self.httpbin_secure` on a test class
    httpbin_ca_bundle                REQUESTS_CA_BUNDLE → the CA that signed httpbin_secure

The secure server's certificate comes from a throwaway trustme CA (in no trust store) and names
localhost, 127.0.0.1 and ::1. Each server is a real `Mockstatus` on 127.0.0.1, port 0 (or
HTTPBIN_HTTP_PORT / HTTPBIN_HTTPS_PORT, as pytest-httpbin).
"""

from __future__ import annotations

import os
import random
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from aiohttp import web

from mockstatus.app import Mockstatus, make_server
from mockstatus.runner import BackgroundServer


class _Site(BackgroundServer):
    """A BackgroundServer that may listen with TLS."""

    def __init__(self, app: Mockstatus, port: int, ssl_context: ssl.SSLContext | None) -> None:
        super().__init__(app, "127.0.0.1", port)
        self.ssl_context = ssl_context

    async def _start(self) -> None:
        self._runner = web.ServerRunner(
            make_server(self.app, **self.kwargs), shutdown_timeout=self.shutdown_timeout
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


class HttpbinServer:
    """What pytest-httpbin's `Server` offers tests: `url`, `host`, `port`, `join()`, `+`."""

    def __init__(self, site: BackgroundServer, protocol: str) -> None:
        self._site = site
        self.protocol = protocol
        self.host = site.host
        self.port = site.port

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.host}:{self.port}"

    def join(self, url: str, allow_fragments: bool = True) -> str:
        return urljoin(self.url, url, allow_fragments=allow_fragments)

    def __add__(self, other: str) -> str:
        return self.url + other

    def __repr__(self) -> str:
        return f"<mockstatus httpbin {self.url}>"

    def stop(self) -> None:
        self._site.stop()


def _port(variable: str) -> int:
    value = os.environ.get(variable, "").strip()
    if not value:
        return 0
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise pytest.UsageError(f"{variable}={value!r}: a TCP port number")
    return int(value)


def _serve(protocol: str, ssl_context: ssl.SSLContext | None) -> HttpbinServer:
    app = Mockstatus(rng=random.Random(0))
    app.store.load_initial()
    variable = "HTTPBIN_HTTPS_PORT" if ssl_context else "HTTPBIN_HTTP_PORT"
    site = _Site(app, _port(variable), ssl_context).start()
    return HttpbinServer(site, protocol)


@pytest.fixture(scope="session")
def httpbin_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """(the secure server's SSL context, the PEM file of the CA that signed it)."""
    from mockstatus.tls import server_context

    context, ca = server_context()
    path = tmp_path_factory.mktemp("mockstatus-httpbin") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return context, path


@pytest.fixture(scope="session")
def httpbin() -> Iterator[HttpbinServer]:
    server = _serve("http", None)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def httpbin_secure(httpbin_ca: tuple[ssl.SSLContext, Path]) -> Iterator[HttpbinServer]:
    server = _serve("https", httpbin_ca[0])
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["http", "https"])
def httpbin_both(
    request: pytest.FixtureRequest, httpbin: HttpbinServer, httpbin_secure: HttpbinServer
) -> HttpbinServer:
    return httpbin if request.param == "http" else httpbin_secure


@pytest.fixture(scope="class")
def class_based_httpbin(request: pytest.FixtureRequest, httpbin: HttpbinServer) -> None:
    request.cls.httpbin = httpbin


@pytest.fixture(scope="class")
def class_based_httpbin_secure(
    request: pytest.FixtureRequest, httpbin_secure: HttpbinServer
) -> None:
    request.cls.httpbin_secure = httpbin_secure


@pytest.fixture
def httpbin_ca_bundle(
    monkeypatch: pytest.MonkeyPatch, httpbin_ca: tuple[ssl.SSLContext, Path]
) -> str:
    """Sets REQUESTS_CA_BUNDLE for this test and returns the bundle's path (usable as
    `verify=`)."""
    path = str(httpbin_ca[1])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", path)
    return path


def check_no_collision(config: Any) -> None:
    """Refuse to run beside pytest-httpbin: both define fixtures with the same names."""
    if config.pluginmanager.has_plugin("httpbin"):
        raise pytest.UsageError(
            "mockstatus_httpbin = true, and pytest-httpbin's plugin is active too: both define "
            "the httpbin fixtures. Add `-p no:httpbin` (e.g. to addopts) to use mockstatus's."
        )
