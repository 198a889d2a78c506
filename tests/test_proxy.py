"""Forwarding to a real local upstream (issue 14): fidelity, hop-by-hop fields, streaming both
ways, 100-continue, websockets, upstream failures, the open-proxy refusals, the journal."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest
import requests

from mockstatus import proxy
from mockstatus.proxy import ProxyTarget
from mockstatus.runner import BackgroundServer
from tests import rawhttp
from tests.proxyhelp import Upstream, body_json, header_of, proxy_server


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    up = Upstream().start()
    yield up
    up.stop()


@pytest.fixture
def front(upstream: Upstream) -> Iterator[BackgroundServer]:
    with proxy_server(upstream.url()) as server:
        yield server


# --- the pure part ------------------------------------------------------------------------------


def test_request_headers_drop_hop_by_hop_and_add_forwarding_fields() -> None:
    target = ProxyTarget("http://up:9000", "http", "up", 9000, headers=(("X-Key", "k"),))
    sent = proxy.request_headers(
        [
            ("Connection", "keep-alive, X-Hop"),
            ("X-Hop", "1"),
            ("Keep-Alive", "300"),
            ("TE", "trailers"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"),
            ("Proxy-Authorization", "Basic x"),
            ("Host", "front:8080"),
            ("Via", "1.0 earlier"),
            ("X-Forwarded-For", "10.0.0.9"),
            ("X-Key", "client's"),
            ("Accept", "*/*"),
        ],
        target,
        host="front:8080",
        scheme="http",
        remote="127.0.0.1",
    )
    assert sent == [
        ("Accept", "*/*"),
        ("Via", "1.0 earlier, 1.1 mockstatus"),
        ("Host", "up:9000"),
        ("X-Forwarded-For", "10.0.0.9, 127.0.0.1"),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", "front:8080"),
        ("X-Key", "k"),
    ]


@pytest.mark.parametrize(
    ("remote", "host", "expected"),
    [
        ("127.0.0.1", "front", "for=127.0.0.1;host=front;proto=https"),
        ("::1", "front:8080", 'for="[::1]";host="front:8080";proto=https'),
        ("", "front", "for=unknown;host=front;proto=https"),
    ],
    ids=["ipv4", "ipv6-and-port-quoted", "no-address"],
)
def test_rfc7239_element(remote: str, host: str, expected: str) -> None:
    assert proxy.forwarded_element(remote, host, "https") == expected


def test_preserve_host_and_rfc7239_mode() -> None:
    target = ProxyTarget("http://up", "http", "up", 80, preserve_host=True, forwarded="rfc7239")
    sent = proxy.request_headers(
        [("Forwarded", "for=1.2.3.4")], target, host="front", scheme="http", remote="::1"
    )
    assert sent == [
        ("Via", "1.1 mockstatus"),
        ("Host", "front"),
        ("Forwarded", 'for=1.2.3.4, for="[::1]";host=front;proto=http'),
    ]
    none = ProxyTarget("http://up", "http", "up", 80, forwarded="none")
    assert proxy.request_headers([], none, host="f", scheme="http", remote="1.1.1.1") == [
        ("Via", "1.1 mockstatus"),
        ("Host", "up"),
    ]


def test_response_headers_drop_hop_by_hop_and_framing() -> None:
    got = proxy.response_headers(
        [
            ("Content-Type", "text/plain"),
            ("Content-Length", "5"),
            ("Connection", "X-Private"),
            ("X-Private", "p"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authenticate", "Basic"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
        ]
    )
    assert got == [
        ("Content-Type", "text/plain"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Via", "1.1 mockstatus"),
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/x", "must use http or https, not scheme 'ftp'"),
        ("host:9000", "must use http or https"),
        ("http://", "has no host"),
        ("http://h:99999", "is malformed"),
        ("http://u:p@h/", "must not carry credentials"),
        ("http://h/?q=1", "must not have a query"),
        ("http://h /x", "spaces or control characters"),
    ],
)
def test_bad_upstream_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match="upstream URL") as info:
        proxy.parse_url(url)
    assert message in str(info.value)


def test_url_for_strips_the_prefix_only_at_a_segment_boundary() -> None:
    t = ProxyTarget("http://h:1/base", "http", "h", 1, "/base", strip_prefix="/api")
    assert t.url_for("/api/users", "a=1") == "http://h:1/base/users?a=1"
    assert t.url_for("/api", "") == "http://h:1/base/"
    assert t.url_for("/apix/users", "") == "http://h:1/base/apix/users"


# --- on the wire ----------------------------------------------------------------------------


def test_pass_through_fidelity_with_requests(front: BackgroundServer, upstream: Upstream) -> None:
    r = requests.get(front.url("/status/418?x=1&x=2"), headers={"Accept": "text/plain"}, timeout=5)
    assert r.status_code == 418  # `/status/...` goes upstream too: no built-ins in proxy mode
    assert r.text == "upstream says 418\n"
    assert r.headers["X-Up-Code"] == "418"
    assert r.headers["Via"] == "1.1 mockstatus"
    assert upstream.seen[-1]["path_qs"] == "/status/418?x=1&x=2"


def test_hop_by_hop_fields_on_the_wire(front: BackgroundServer, upstream: Upstream) -> None:
    r = requests.post(
        front.url("/echo/%7Eraw%2Fpath"),
        data=b"hello",
        headers={
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "secret",
            "TE": "trailers",
            "Proxy-Authorization": "Basic eDp5",
            "X-End": "kept",
        },
        timeout=5,
    )
    head = body_json(r.content)
    names = {k.lower() for k, _ in head["headers"]}
    assert not names & {"x-hop", "te", "proxy-authorization", "keep-alive", "connection"} - {
        "connection"  # aiohttp's client writes its own keep-alive Connection, if any
    }
    assert header_of(head, "X-End") == ["kept"]
    assert header_of(head, "Via") == ["1.1 mockstatus"]
    assert header_of(head, "Host") == [f"127.0.0.1:{upstream.port}"]
    assert header_of(head, "X-Forwarded-For") == ["127.0.0.1"]
    assert header_of(head, "X-Forwarded-Host") == [f"127.0.0.1:{front.port}"]
    assert (head["size"], head["sha256"]) == (5, hashlib.sha256(b"hello").hexdigest())
    # The response: the upstream's own hop-by-hop fields stop here.
    assert r.headers["X-Up"] == "1"
    assert "Keep-Alive" not in r.headers and "Proxy-Authenticate" not in r.headers
    assert "User-Agent" not in {k for k, _ in head["headers"]} or header_of(head, "User-Agent") == [
        r.request.headers["User-Agent"]
    ]


def test_no_client_headers_are_invented(front: BackgroundServer, upstream: Upstream) -> None:
    _, final = rawhttp.request(front.port, "GET", "/echo/%7Eraw%2Fpath?a=%7E", {"Host": "front"})
    head = body_json(final.body)
    assert head["path_qs"] == "/echo/%7Eraw%2Fpath?a=%7E"  # the raw target, not re-encoded
    names = sorted(k for k, _ in head["headers"])
    assert names == ["Host", "Via", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"]


def test_httpx_and_curl(front: BackgroundServer) -> None:
    r = httpx.get(front.url("/status/503"), timeout=5)
    assert (r.status_code, r.text, r.headers["via"]) == (
        503,
        "upstream says 503\n",
        "1.1 mockstatus",
    )
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    out = subprocess.run(
        ["curl", "-sS", "-i", front.url("/status/202")], capture_output=True, timeout=10
    )
    assert out.returncode == 0
    assert out.stdout.startswith(b"HTTP/1.1 202 Accepted\r\n")
    assert b"\r\nVia: 1.1 mockstatus\r\n" in out.stdout
    assert out.stdout.endswith(b"\r\n\r\nupstream says 202\n")


def test_head_keeps_the_upstream_length(front: BackgroundServer) -> None:
    _, final = rawhttp.request(front.port, "HEAD", "/status/200")
    assert final.status == 200
    assert final.header("Content-Length") == str(len(b"upstream says 200\n"))


def test_gzip_is_relayed_as_sent(front: BackgroundServer, upstream: Upstream) -> None:
    # auto_decompress=False: the bytes and Content-Encoding the upstream sent reach the client.
    r = requests.get(front.url("/echo"), headers={"Accept-Encoding": "identity"}, timeout=5)
    assert "Content-Encoding" not in r.headers
    assert header_of(body_json(r.content), "Accept-Encoding") == ["identity"]


@pytest.mark.slow
def test_large_download_and_upload_stream(front: BackgroundServer, upstream: Upstream) -> None:
    """64 MiB each way through the proxy: the body is relayed in chunks as it comes, so the
    process's resident memory grows by far less than the body (sampled while it flows)."""
    size = 64 * 1024 * 1024
    peak = [0]
    stop = threading.Event()

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.005)

    base = rss()
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with requests.get(front.url(f"/big?n={size}"), stream=True, timeout=30) as r:
            got = hashlib.sha256()
            total = 0
            for chunk in r.iter_content(65536):
                got.update(chunk)
                total += len(chunk)
        block = bytes(range(256)) * 256
        expected = hashlib.sha256()
        for _ in range(size // len(block)):
            expected.update(block)  # never the whole body at once: this test measures memory
        assert total == size
        assert got.hexdigest() == expected.hexdigest()

        def upload() -> Iterator[bytes]:
            for _ in range(size // len(block)):
                yield block

        r = requests.post(front.url("/upload"), data=upload(), timeout=30)
        head = body_json(r.content)
        assert head["size"] == size
        assert head["sha256"] == expected.hexdigest()
        assert header_of(head, "Transfer-Encoding") == ["chunked"]
        assert len(upstream.chunk_sizes) > 16  # it arrived as a stream, not in one piece
    finally:
        stop.set()
        sampler.join()
    assert peak[0] - base < 24 * 1024 * 1024, (base, peak[0])


def test_content_length_upload_is_not_rechunked(front: BackgroundServer) -> None:
    _, final = rawhttp.request(front.port, "PUT", "/cl", body=b"x" * 100_000)
    head = body_json(final.body)
    assert header_of(head, "Content-Length") == ["100000"]
    assert header_of(head, "Transfer-Encoding") == []
    assert head["size"] == 100_000


def test_100_continue_is_relayed_end_to_end(front: BackgroundServer) -> None:
    body = b"y" * 5000
    with rawhttp.connect(front.port) as sock:
        sock.sendall(
            rawhttp.build(
                "POST",
                "/expect",
                {"Expect": "100-continue", "Content-Length": str(len(body))},
            )
        )
        reader = rawhttp.Reader(sock)
        interim = reader.read_head()
        assert (interim.status, interim.reason) == (100, "Continue")  # the upstream asked
        sock.sendall(body)
        _, final = reader.read_response()
    assert final.status == 200
    assert body_json(final.body)["size"] == 5000


def test_curl_expect_100(front: BackgroundServer) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    out = subprocess.run(
        ["curl", "-sS", "-H", "Expect: 100-continue", "--data-binary", "@-", front.url("/e")],
        input=b"z" * 4096,
        capture_output=True,
        timeout=10,
    )
    assert out.returncode == 0, out.stderr
    assert body_json(out.stdout)["size"] == 4096


async def test_websocket_is_tunnelled(front: BackgroundServer) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(front.url("/ws"), protocols=("chat",)) as ws,
    ):
        assert ws.protocol == "chat"
        await ws.send_str("hi")
        assert (await ws.receive(timeout=5)).data == "up:hi"
        await ws.send_bytes(b"abc")
        assert (await ws.receive(timeout=5)).data == b"cba"
        await ws.close()


# --- upstream failures ---------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_upstream_is_502_naming_it() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with proxy_server(url) as server:
        r = requests.get(server.url("/x"), headers={"Accept": "text/plain"}, timeout=5)
        assert r.status_code == 502
        assert (
            r.text
            == f"502 Bad Gateway: upstream {url} is unreachable: Connect call failed "
            + (r.text.split("Connect call failed ", 1)[1])
        )
        assert f"upstream {url} is unreachable" in r.text
        entry = requests.get(server.url("/__mockstatus/requests"), timeout=5).json()["requests"][-1]
        assert entry["status"] == 502
        assert entry["upstream"]["url"] == f"{url}/x"
        assert entry["upstream"]["status"] is None
        assert "unreachable" in entry["upstream"]["error"]


def test_slow_upstream_is_504(tmp_path: Path, upstream: Upstream) -> None:
    (tmp_path / "slow.yaml").write_text(
        "routes:\n"
        "  - match: {path: /hang}\n"
        f"    respond: {{proxy: {{to: '{upstream.url()}', timeout: 100ms}}}}\n"
    )
    upstream.release.clear()
    with proxy_server(upstream.url(), scenarios=tmp_path) as server:
        r = requests.get(server.url("/hang"), headers={"Accept": "text/plain"}, timeout=5)
    upstream.release.set()
    assert r.status_code == 504
    assert (
        r.text == f"504 Gateway Timeout: upstream {upstream.url()} sent no response within 0.1 s\n"
    )


def test_malformed_upstream_response_is_502(front: BackgroundServer, upstream: Upstream) -> None:
    r = requests.get(front.url("/garbage"), headers={"Accept": "text/plain"}, timeout=5)
    assert r.status_code == 502
    assert r.text.startswith(f"502 Bad Gateway: upstream {upstream.url()} ")
    assert "malformed" in r.text or "closed the connection" in r.text


def test_small_body_breaking_off_is_502(front: BackgroundServer, upstream: Upstream) -> None:
    r = requests.get(front.url("/broken?n=1000"), headers={"Accept": "text/plain"}, timeout=5)
    assert r.status_code == 502
    assert r.text.startswith(
        f"502 Bad Gateway: upstream {upstream.url('/broken?n=1000')} broke off"
    )


def test_large_body_breaking_off_cuts_the_client(
    front: BackgroundServer, upstream: Upstream
) -> None:
    # The head went out before the upstream failed: the client must see an incomplete body.
    with rawhttp.connect(front.port) as sock:
        sock.sendall(rawhttp.build("GET", "/broken?n=1000000"))
        reader = rawhttp.Reader(sock)
        head = reader.read_head()
        assert (head.status, head.header("Content-Length")) == (200, "1000000")
        rest = reader.read_to_close()
    assert len(rest) == 100_000
    entry = requests.get(front.url("/__mockstatus/requests"), timeout=5).json()["requests"][-1]
    assert entry["upstream"]["status"] == 200
    assert entry["upstream"]["error"].startswith("the upstream body broke off")


# --- not an open proxy -------------------------------------------------------------------------


def test_connect_is_405(front: BackgroundServer) -> None:
    _, final = rawhttp.request(
        front.port, "CONNECT", "example.com:443", {"Host": "example.com:443"}
    )
    assert final.status == 405
    assert final.header("Allow") == "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"


def test_absolute_form_for_another_authority_is_421(
    front: BackgroundServer, upstream: Upstream
) -> None:
    count = len(upstream.seen)
    _, final = rawhttp.request(front.port, "GET", "http://example.com/status/200")
    assert final.status == 421
    assert b"does not forward to 'example.com'" in final.body
    assert len(upstream.seen) == count  # nothing went out


def test_absolute_form_naming_this_server_is_served(front: BackgroundServer) -> None:
    _, final = rawhttp.request(
        front.port,
        "GET",
        f"http://127.0.0.1:{front.port}/status/201",
        {"Host": f"127.0.0.1:{front.port}"},
    )
    assert (final.status, final.body) == (201, b"upstream says 201\n")


def test_admin_stays_local(front: BackgroundServer, upstream: Upstream) -> None:
    count = len(upstream.seen)
    r = requests.get(front.url("/__mockstatus/requests"), timeout=5)
    assert r.status_code == 200 and "requests" in r.json()
    assert len(upstream.seen) == count


def test_journal_records_the_upstream(front: BackgroundServer, upstream: Upstream) -> None:
    requests.get(front.url("/status/404?q=1"), timeout=5)
    entry = requests.get(front.url("/__mockstatus/requests"), timeout=5).json()["requests"][-1]
    assert (entry["path"], entry["status"], entry["scenario"]) == ("/status/404", 404, None)
    up = entry["upstream"]
    assert (up["url"], up["status"], up["error"]) == (upstream.url("/status/404?q=1"), 404, None)
    assert up["duration_ms"] >= 0


def test_pure_layer_imports_no_aiohttp() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in ('aiohttp', 'multidict', 'yarl'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import mockstatus.proxy, mockstatus.scenarios.proxy\n"
    )
    out = subprocess.run(["python", "-c", code], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr


def test_event_loop_is_unused_in_pure_helpers() -> None:
    # parse_allowed: HOST or HOST:PORT; anything else is refused with the flag's name.
    assert proxy.parse_allowed("API.example.com:8443") == ("api.example.com", 8443)
    assert proxy.parse_allowed("[::1]") == ("::1", None)
    for bad in ("", "http://x", "a b", "x:port"):
        with pytest.raises(ValueError, match="--allow-upstream"):
            proxy.parse_allowed(bad)
    assert asyncio.iscoroutinefunction(proxy.parse_allowed) is False


def test_other_upgrades_are_tunnelled_as_bytes() -> None:
    """`Upgrade: echo/1` through the proxy to a mockstatus that echoes raw bytes after its 101."""
    from mockstatus.app import Mockstatus

    inner = Mockstatus()
    with BackgroundServer(inner) as echo, proxy_server(echo.base_url) as front:
        with rawhttp.connect(front.port) as sock:
            sock.sendall(
                rawhttp.build("GET", "/status/101", {"Upgrade": "echo/1", "Connection": "Upgrade"})
            )
            reader = rawhttp.Reader(sock)
            head = reader.read_head()
            assert head.head.split(b"\r\n")[0] == b"HTTP/1.1 101 Switching Protocols"
            assert (head.header("Upgrade"), head.header("Connection")) == ("echo/1", "Upgrade")
            assert head.header("Via") == "1.1 mockstatus"
            sock.sendall(b"ping")
            assert reader.read_exact(4) == b"ping"
            payload = bytes(range(256)) * 512
            sock.sendall(payload)
            assert reader.read_exact(len(payload)) == payload
        journal = requests.get(front.url("/__mockstatus/requests"), timeout=5).json()["requests"]
        assert journal[-1]["upstream"]["status"] == 101


def test_upgrade_refused_upstream_is_502(front: BackgroundServer) -> None:
    # The aiohttp upstream answers an unknown upgrade with a plain 200 (it does not switch).
    _, final = rawhttp.request(
        front.port,
        "GET",
        "/echo",
        {"Upgrade": "echo/1", "Connection": "Upgrade", "Accept": "text/plain"},
    )
    assert final.status == 502
    assert b"did not switch protocols: it answered 200" in final.body
