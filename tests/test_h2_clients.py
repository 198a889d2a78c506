"""HTTP/2 with real clients: httpx (h2c prior knowledge and TLS ALPN), curl, nghttp and Node's
http2 module. Each fault is shown with at least two of them; docs/http2.md's client table is
these expectations. A client missing on this machine skips with the reason (.ci/run installs
them)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockstatus.codes import CODES
from mockstatus.tls import server_context
from mockstatus.wire.h2 import CONNECTION_SPECIFIC
from tests.test_h2_rawclient import h2_server

pytest.importorskip("h2")
trustme = pytest.importorskip("trustme")

CURL = shutil.which("curl")
NODE = shutil.which("node")
NGHTTP = shutil.which("nghttp")
STALL_TIMEOUT = 0.3  # seconds a client waits on a stalled stream before giving up
# Every other fault ends the stream by itself; a generous bound keeps a loaded CI machine
# (where a client may take more than STALL_TIMEOUT to start) from turning it into a timeout.
FAULT_TIMEOUT = 15.0


def client_timeout(query: str) -> float:
    return STALL_TIMEOUT if "fault=stall" in query else FAULT_TIMEOUT


def curl_has_http2() -> bool:
    if CURL is None:
        return False
    out = subprocess.run([CURL, "--version"], capture_output=True, text=True, check=False).stdout
    return "HTTP2" in out


needs_curl = pytest.mark.skipif(not curl_has_http2(), reason="curl with HTTP/2 is not installed")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")
needs_nghttp = pytest.mark.skipif(
    NGHTTP is None, reason="nghttp is not installed (Debian: nghttp2-client)"
)

NODE_CLIENT = r"""
const http2 = require('http2');
const fs = require('fs');
const [url, path, timeout] = [process.argv[1], process.argv[2], Number(process.argv[3])];
const ca = process.env.CA ? fs.readFileSync(process.env.CA) : undefined;
const client = http2.connect(url, {ca});
const out = {status: null, version: null, body: '', error: null};
let done = false;
function finish(error) {
  if (done) return;
  done = true;
  if (error && out.error === null) out.error = error;
  console.log(JSON.stringify(out));
  client.destroy();
}
client.on('error', (e) => finish(e.code || e.message));
client.on('close', () => finish('session closed'));
const req = client.request({':path': path});
req.setTimeout(timeout, () => finish('TIMEOUT'));
req.on('response', (h) => { out.status = h[':status']; out.headers = h; out.version = '2'; });
req.on('data', (d) => { out.body += d; });
req.on('error', (e) => finish(e.code + ' ' + e.message));
// A reset after the response is no 'error' in Node: the stream closes with its rstCode.
req.on('close', () => finish(req.rstCode ? 'rstCode ' + req.rstCode : null));
"""


@pytest.fixture(scope="module")
def ca() -> Any:
    return trustme.CA()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = h2_server(tmp_path_factory.mktemp("h2plain"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    context, ca = server_context()
    folder = tmp_path_factory.mktemp("h2tls")
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.cert_pem.bytes())
    server = h2_server(folder, ssl_context=context)
    yield server, ca_file
    server.stop()


def base(server: Any) -> str:
    return f"http://127.0.0.1:{server.port}"


def node(
    url: str, path: str, ca_file: Path | None = None, timeout: float = FAULT_TIMEOUT
) -> dict[str, Any]:
    assert NODE is not None
    env = {"PATH": "/usr/bin:/bin", **({"CA": str(ca_file)} if ca_file else {})}
    timeout_ms = str(int(timeout * 1000))
    out = subprocess.run(
        [NODE, "-e", NODE_CLIENT, url, path, timeout_ms],
        capture_output=True,
        text=True,
        timeout=20,
        env=env,
        check=False,
    )
    lines = out.stdout.strip().splitlines()
    assert lines, out.stderr
    return json.loads(lines[0])


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    assert CURL is not None
    return subprocess.run(
        [CURL, "-sS", *args], capture_output=True, text=True, timeout=20, check=False
    )


# --- negotiation ------------------------------------------------------------------------------


@needs_curl
def test_curl_prior_knowledge_shows_http2_503_with_retry_after(plain: Any) -> None:
    out = curl("--http2-prior-knowledge", "-i", f"{base(plain)}/status/503")
    assert out.returncode == 0
    head, _, body = out.stdout.partition("\n\n")  # text mode: CRLF reads as LF
    lines = head.split("\n")
    assert lines[0] == "HTTP/2 503 "
    assert "retry-after: 120" in lines
    assert body == "503 Service Unavailable"


def test_httpx_prior_knowledge(plain: Any) -> None:
    with httpx.Client(http1=False, http2=True) as client:
        r = client.get(f"{base(plain)}/status/429")
    assert (r.http_version, r.status_code) == ("HTTP/2", 429)
    assert r.headers["retry-after"] == "60"


def test_httpx_over_tls_negotiates_h2_by_alpn(tls: tuple[Any, Path]) -> None:
    server, ca_file = tls
    with httpx.Client(http2=True, verify=ssl.create_default_context(cafile=ca_file)) as client:
        r = client.get(f"https://localhost:{server.port}/anything")
    assert (r.http_version, r.status_code) == ("HTTP/2", 200)
    assert r.json()["http_version"] == "HTTP/2"
    assert r.json()["url"].startswith("https://localhost:")


def test_tls_without_h2_in_alpn_gets_http1(tls: tuple[Any, Path]) -> None:
    server, ca_file = tls
    with httpx.Client(http2=False, verify=ssl.create_default_context(cafile=ca_file)) as client:
        r = client.get(f"https://localhost:{server.port}/status/503")
    assert (r.http_version, r.status_code) == ("HTTP/1.1", 503)


def test_http2_off_offers_only_http1_in_alpn() -> None:
    context, _ = server_context(http2=False)
    # The server context answers ALPN with http/1.1 only: checked on the context itself.
    probe = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_side = context.wrap_bio(*probe, server_side=True)
    assert server_side.selected_alpn_protocol() is None  # before a handshake: nothing chosen
    assert context.protocol == ssl.PROTOCOL_TLS_SERVER


@needs_curl
def test_curl_over_tls_uses_http2(tls: tuple[Any, Path]) -> None:
    server, ca_file = tls
    out = curl(
        "--http2", "--cacert", str(ca_file), "-i", f"https://localhost:{server.port}/status/503"
    )
    assert out.stdout.startswith("HTTP/2 503 ")


@needs_curl
def test_curl_upgrade_h2c_is_declined_and_answered_in_http1(plain: Any) -> None:
    out = curl("--http2", "-i", f"{base(plain)}/status/503")
    assert out.stdout.startswith("HTTP/1.1 503 ")  # curl offered Upgrade: h2c; we stay on 1.1
    out = curl("--http2", "-i", f"{base(plain)}/status/101")
    assert out.stdout.startswith("HTTP/1.1 426 ")  # never a 101 echoing raw h2c bytes
    assert "Upgrade: websocket" in out.stdout


@needs_nghttp
def test_nghttp_h2c(plain: Any) -> None:
    assert NGHTTP is not None
    out = subprocess.run(
        [NGHTTP, "-v", f"{base(plain)}/status/503"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert ":status: 503" in out.stdout and "retry-after: 120" in out.stdout
    assert (
        out.stdout.rstrip().endswith("503 Service Unavailable")
        or "503 Service Unavailable" in out.stdout
    )


@needs_node
def test_node_http2_h2c_and_tls(plain: Any, tls: tuple[Any, Path]) -> None:
    got = node(base(plain), "/status/503")
    assert (got["status"], got["body"], got["headers"]["retry-after"]) == (
        503,
        "503 Service Unavailable",
        "120",
    )
    server, ca_file = tls
    got = node(f"https://localhost:{server.port}", "/status/418", ca_file)
    assert (got["status"], got["body"]) == (418, "418 I'm a teapot")


# --- the same headers on both protocols ---------------------------------------------------------

EXCLUDED = CONNECTION_SPECIFIC | {"date"}


def test_every_catalog_code_has_the_same_headers_on_http1_and_http2(
    tls: tuple[Any, Path], tmp_path: Path
) -> None:
    """Two servers with the same seed and clock, asked the same codes in the same order: random
    values (202's job id) are drawn alike, so every field must match."""
    server1, ca_file = tls
    context, ca = server_context()
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem.bytes())
    server2 = h2_server(tmp_path, ssl_context=context)
    try:
        with (
            httpx.Client(http2=False, verify=ssl.create_default_context(cafile=ca_file)) as h1,
            httpx.Client(
                http2=True, verify=ssl.create_default_context(cafile=tmp_path / "ca.pem")
            ) as h2c,
        ):
            differ = []
            for code in CODES:
                if code in (101, 426):  # no HTTP/2 meaning (101) or an Upgrade field (426)
                    continue
                r1 = h1.get(f"https://localhost:{server1.port}/status/{code}")
                r2 = h2c.get(f"https://localhost:{server2.port}/status/{code}")
                assert (r1.http_version, r2.http_version) == ("HTTP/1.1", "HTTP/2")
                fields1 = [
                    (n.lower(), v) for n, v in r1.headers.items() if n.lower() not in EXCLUDED
                ]
                fields2 = [(n, v) for n, v in r2.headers.items() if n not in EXCLUDED]
                if (r1.status_code, fields1, r1.content) != (r2.status_code, fields2, r2.content):
                    differ.append(code)
    finally:
        server2.stop()
    assert differ == []


# --- faults, each with two clients or more ------------------------------------------------------

FAULTS = [
    # (query, httpx exception and text, curl exit code, node error)
    (
        "fault=rst_stream&error=REFUSED_STREAM",
        ("RemoteProtocolError", "error_code:7"),
        56,
        "NGHTTP2_REFUSED_STREAM",
    ),
    (
        "fault=rst_stream&error=CANCEL&after=headers",
        ("RemoteProtocolError", "error_code:8"),
        92,
        "rstCode 8",
    ),
    (
        "fault=rst_stream&after=5",
        ("RemoteProtocolError", "error_code:2"),
        92,
        "NGHTTP2_INTERNAL_ERROR",
    ),
    (
        "fault=goaway&error=INTERNAL_ERROR",
        ("RemoteProtocolError", "ConnectionTerminated error_code:2"),
        16,
        "ERR_HTTP2_SESSION_ERROR",
    ),
    ("fault=stall", ("ReadTimeout", ""), 28, "TIMEOUT"),
    (
        "fault=truncate",
        ("LocalProtocolError", "Expected 23 bytes, received 11"),
        92,
        "NGHTTP2_PROTOCOL_ERROR",
    ),
    # curl: 56 (recv failure) or 18 (stream not closed cleanly), depending on whether the FIN
    # arrives before curl has read the server's SETTINGS; Node: the stream is cancelled.
    # httpx: "Server disconnected" on the FIN, or ReadError when the kernel answers its next
    # write with a reset first (seen under load).
    (
        "fault=close",
        ("RemoteProtocolError|ReadError", ""),
        (18, 56),
        ("rstCode 8", "ECONNRESET"),
    ),
]


@pytest.mark.parametrize(
    ("query", "raised", "curl_exit", "node_error"), FAULTS, ids=[f[0] for f in FAULTS]
)
def test_fault_with_httpx(
    plain: Any, query: str, raised: tuple[str, str], curl_exit: Any, node_error: str
) -> None:
    with httpx.Client(http1=False, http2=True, timeout=client_timeout(query)) as client:
        with pytest.raises(httpx.HTTPError) as info:
            client.get(f"{base(plain)}/status/503?{query}")
    assert type(info.value).__name__ in raised[0].split("|")
    assert raised[1] in str(info.value)


@needs_curl
@pytest.mark.parametrize(
    ("query", "raised", "curl_exit", "node_error"), FAULTS, ids=[f[0] for f in FAULTS]
)
def test_fault_with_curl(
    plain: Any, query: str, raised: tuple[str, str], curl_exit: Any, node_error: str
) -> None:
    out = curl(
        "--http2-prior-knowledge",
        "-m",
        str(client_timeout(query)),
        "-o",
        "/dev/null",
        f"{base(plain)}/status/503?{query}",
    )
    expected = curl_exit if isinstance(curl_exit, tuple) else (curl_exit,)
    assert out.returncode in expected, out.stderr


@needs_node
@pytest.mark.parametrize(
    ("query", "raised", "curl_exit", "node_error"), FAULTS, ids=[f[0] for f in FAULTS]
)
def test_fault_with_node(
    plain: Any, query: str, raised: tuple[str, str], curl_exit: Any, node_error: str
) -> None:
    got = node(base(plain), f"/status/503?{query}", timeout=client_timeout(query))
    expected = node_error if isinstance(node_error, tuple) else (node_error,)
    assert any(e in (got["error"] or "") for e in expected), got


def test_graceful_goaway_lets_the_stream_finish_for_every_client(plain: Any) -> None:
    with httpx.Client(http1=False, http2=True) as client:
        r = client.get(f"{base(plain)}/status/503?fault=goaway&graceful=1")
        assert (r.status_code, r.text) == (503, "503 Service Unavailable")
    # (A second request on the same pooled connection races the GOAWAY: h2-based clients may
    # fail it; docs/http2.md says to give goaway a client of its own.)
    if curl_has_http2():
        out = curl(
            "--http2-prior-knowledge", "-i", f"{base(plain)}/status/503?fault=goaway&graceful=1"
        )
        assert out.returncode == 0 and out.stdout.startswith("HTTP/2 503 ")
    if NODE is not None:
        got = node(base(plain), "/status/503?fault=goaway&graceful=1")
        assert (got["status"], got["body"]) == (503, "503 Service Unavailable")


def test_101_is_http_1_1_required_for_httpx_and_curl(plain: Any) -> None:
    with httpx.Client(http1=False, http2=True) as client:
        with pytest.raises(httpx.RemoteProtocolError, match="error_code:13"):
            client.get(f"{base(plain)}/status/101")
    if curl_has_http2():
        # curl honours HTTP_1_1_REQUIRED: it retries over HTTP/1.1 (where, without an Upgrade
        # offered, /status/101 is 426).
        out = curl("-v", "--http2-prior-knowledge", f"{base(plain)}/status/101")
        assert "HTTP_1_1_REQUIRED" in out.stderr and "Downgrades to HTTP/1.1" in out.stderr
        assert (out.returncode, out.stdout) == (0, "426 Upgrade Required")


def test_max_streams_makes_clients_queue(tmp_path: Path) -> None:
    import asyncio

    server = h2_server(tmp_path, h2_max_streams=2)
    try:

        async def many() -> list[int]:
            async with httpx.AsyncClient(http1=False, http2=True) as client:
                url = f"http://127.0.0.1:{server.port}/status/200?sleep=20"
                answers = await asyncio.gather(*(client.get(url) for _ in range(6)))
                return [r.status_code for r in answers]

        assert asyncio.run(many()) == [200] * 6  # httpx queues past the 2 allowed streams
    finally:
        server.stop()
