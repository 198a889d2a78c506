"""Upstream TLS (issue 14): `verify: true` (system trust store), `false`, or a CA file."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from aiohttp import web

from tests.proxyhelp import proxy_server

trustme = pytest.importorskip(
    "trustme", reason="trustme (a test dependency) makes the certificates"
)


@pytest.fixture(scope="module")
def tls_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    folder = tmp_path_factory.mktemp("tls")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"secure {request.path}")

    app = web.Application()
    app.router.add_get("/{tail:.*}", hello)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{port}", folder
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)


@pytest.mark.parametrize(
    ("verify", "status", "text"),
    [
        ("ca.pem", 200, "secure /x"),
        ("false", 200, "secure /x"),
        ("true", 502, "failed TLS verification"),
    ],
    ids=["ca-file", "no-verification", "system-store-refuses-a-private-ca"],
)
def test_upstream_tls(
    tls_upstream: tuple[str, Path], tmp_path: Path, verify: str, status: int, text: str
) -> None:
    url, certs = tls_upstream
    (tmp_path / "ca.pem").write_bytes((certs / "ca.pem").read_bytes())
    (tmp_path / "tls.yaml").write_text(
        f"routes:\n  - respond: {{proxy: {{to: '{url}', verify: {verify}}}}}\n"
    )
    with proxy_server(url, scenarios=tmp_path) as server:
        r = requests.get(server.url("/x"), headers={"Accept": "text/plain"}, timeout=10)
    assert r.status_code == status
    assert text in r.text
    if status == 502:
        assert r.text.startswith(f"502 Bad Gateway: upstream {url} failed TLS verification: ")
