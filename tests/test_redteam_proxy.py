"""Red-team findings on `mockstatus proxy`, on the wire against a real local upstream.

- An absolute-form request for another host was forwarded whenever its Host field named that
  host too, which is what every client configured to use a proxy sends (`curl -x`): the 421 only
  caught hand-made requests whose Host disagreed with the target. RFC 9112 §3.2.2: with an
  absolute-form target the Host field is ignored; the target must name this server.
- `OPTIONS *` was forwarded as a URL ending in `*` and came back `502 ... Invalid URL: port
  can't be converted to integer`.
"""

from __future__ import annotations

from collections.abc import Iterator

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
