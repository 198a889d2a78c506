"""uvloop (`mockstatus[speed]`, `--loop`): the paths that once assumed asyncio's own classes.

uvloop binds `protocol.data_received` once per connection (the sniffer's rebinding never reached
it, so every later chunk was sniffed again and an upgraded connection's bytes were held), and its
transports are not `asyncio.Transport` subclasses (the HTTP/2 handoff refused them)."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests import rawhttp
from tests.workers_helpers import WAIT, start

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::ResourceWarning")]


@pytest.fixture(scope="module", params=["uvloop", "asyncio"])
def served(request, tmp_path_factory):
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    tmp = tmp_path_factory.mktemp("loop")
    server = start(
        tmp, "--host", "127.0.0.1", "--scenarios", "none", "--quiet", "--loop", request.param
    )
    yield server
    code, _, err = server.stop()
    assert code == 0, err


def test_an_upgraded_connection_echoes_every_chunk(served):
    with socket.create_connection(("127.0.0.1", served.port), timeout=WAIT) as sock:
        sock.sendall(
            rawhttp.build("GET", "/status/101", {"Upgrade": "echo", "Connection": "Upgrade"})
        )
        reader = rawhttp.Reader(sock)
        _, switched = reader.read_response()
        assert switched.status == 101
        for chunk in (b"ping", b"GET / HTTP/1.1\r\n", b"\x16\x03\x01"):  # none is sniffed again
            sock.sendall(chunk)
            assert reader.read_exact(len(chunk)) == chunk


def test_keep_alive_requests_after_the_first(served):
    with httpx.Client(timeout=WAIT) as client:
        codes = [client.get(f"{served.base}/status/{code}").status_code for code in (503, 201, 418)]
    assert codes == [503, 201, 418]


def test_http2_prior_knowledge_is_handed_over(served):
    with httpx.Client(http1=False, http2=True, timeout=WAIT) as client:
        r = client.get(served.base + "/status/503")
    assert (r.http_version, r.status_code) == ("HTTP/2", 503)
