"""Red-team findings on `mockstatus proxy`, on the wire against a real local upstream.

- An absolute-form request for another host was forwarded whenever its Host field named that
  host too, which is what every client configured to use a proxy sends (`curl -x`): the 421 only
  caught hand-made requests whose Host disagreed with the target. RFC 9112 §3.2.2: with an
  absolute-form target the Host field is ignored; the target must name this server.
- `OPTIONS *` was forwarded as a URL ending in `*` and came back `502 ... Invalid URL: port
  can't be converted to integer`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockstatus.runner import BackgroundServer
from tests import rawhttp
from tests.proxyhelp import Upstream, proxy_server

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    up = Upstream().start()
    yield up
    up.stop()


@pytest.fixture
def front(upstream: Upstream) -> Iterator[BackgroundServer]:
    with proxy_server(upstream.url()) as server:
        yield server


def test_a_proxy_style_request_for_another_host_is_421_and_sent_nowhere(
    front: BackgroundServer, upstream: Upstream
) -> None:
    """What `curl -x http://mockstatus:PORT http://example.com/x` sends."""
    count = len(upstream.seen)
    _, final = rawhttp.request(
        front.port, "GET", "http://example.com/status/200", {"Host": "example.com"}
    )
    assert final.status == 421
    assert final.body == (
        b"421 Misdirected Request: this server does not forward to 'example.com': "
        b"send the request to it directly\n"
    )
    assert len(upstream.seen) == count  # nothing went out


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_an_absolute_form_target_naming_this_server_is_served(
    front: BackgroundServer, name: str
) -> None:
    target = f"http://{name}:{front.port}/status/201"
    _, final = rawhttp.request(front.port, "GET", target, {"Host": f"{name}:{front.port}"})
    assert (final.status, final.body) == (201, b"upstream says 201\n")


def test_options_asterisk_is_answered_by_the_proxy_itself(
    front: BackgroundServer, upstream: Upstream
) -> None:
    count = len(upstream.seen)
    _, final = rawhttp.request(front.port, "OPTIONS", "*")
    assert (final.status, final.body) == (200, b"")
    assert final.header("Allow") == "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"
    assert final.header("Content-Length") == "0"
    assert len(upstream.seen) == count


def test_an_h2c_upgrade_request_is_forwarded_as_plain_http_1_1(
    front: BackgroundServer, upstream: Upstream
) -> None:
    """`curl --http2 http://…` offers `Upgrade: h2c`: it was tunnelled, and the upstream's
    ordinary 200 became `502 … did not switch protocols`."""
    fields = {
        "Upgrade": "h2c",
        "Connection": "Upgrade, HTTP2-Settings",
        "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA",
    }
    _, final = rawhttp.request(front.port, "GET", "/echo/h2c", fields)
    assert (final.status, final.header("X-Up")) == (200, "1")
    seen = upstream.seen[-1]
    assert (seen["method"], seen["path_qs"]) == ("GET", "/echo/h2c")
    assert not {name.lower() for name, _ in seen["headers"]} & {"upgrade", "http2-settings"}


def test_a_scenario_proxy_route_over_http2_asks_for_http_1_1(
    tmp_path: Path, upstream: Upstream
) -> None:
    """Forwarding is HTTP/1.1 only: over HTTP/2 it was an empty 502; now RST_STREAM
    (HTTP_1_1_REQUIRED), which tells the client to retry over HTTP/1.1 (curl does)."""
    from h2.errors import ErrorCodes

    from tests.test_h2_rawclient import H2Client

    route = f'{{match: {{path: /up/**}}, respond: {{proxy: {{to: "{upstream.url()}", '
    (tmp_path / "p.yaml").write_text(f"routes:\n  - {route}strip_prefix: /up}}}}}}\n")
    allow = (("127.0.0.1", upstream.port),)
    with proxy_server(None, scenarios=tmp_path, allow=allow) as server:
        h1 = rawhttp.request(server.port, "GET", "/up/status/201")[1]
        with H2Client(server.port) as c:
            answer = c.get("/up/status/201")
    assert (h1.status, h1.body) == (201, b"upstream says 201\n")
    assert (answer.status, answer.reset) == (None, ErrorCodes.HTTP_1_1_REQUIRED)


@pytest.mark.slow
def test_the_proxy_command_speaks_http_1_1_only(upstream: Upstream) -> None:
    """`mockstatus proxy` over HTTP/2 answered from the built-in endpoints (`/status/503` was
    mockstatus's own 503, `/hello` a 404) instead of forwarding: HTTP/2 is off there, so an h2c
    client gets the 505 and a TLS client negotiates HTTP/1.1 by ALPN."""
    from tests.test_h2_rawclient import PREFACE
    from tests.test_proxy_cli import Cli

    cli = Cli("--upstream", upstream.url(), "--quiet")
    try:
        port = int(cli.base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(PREFACE)
            answer = rawhttp.Reader(sock).read_response()[1]
        plain = rawhttp.request(port, "GET", "/status/503")[1]
    finally:
        cli.stop()
    assert answer.status == 505
    assert answer.body.endswith(b"HTTP/2 is not supported on this port: use HTTP/1.1\n")
    assert (plain.status, plain.body) == (503, b"upstream says 503\n")


def test_a_malformed_upstream_answer_is_a_one_line_502(
    front: BackgroundServer, upstream: Upstream
) -> None:
    """The body carried aiohttp's parser message over four lines, with a caret drawing."""
    _, final = rawhttp.request(front.port, "GET", "/garbage", {"Accept": "text/plain"})
    assert final.status == 502
    start = f"502 Bad Gateway: upstream {upstream.url()} sent a malformed response: "
    assert final.body.startswith(start.encode())
    # (the parser's own words differ between aiohttp's C and Python parsers)
    assert b"'NOT HTTP AT ALL'" in final.body and b"^" not in final.body
    assert final.body.count(b"\n") == 1 and final.body.endswith(b"\n")
