"""Issue 18 (tool 20): the event feed gzip-coded for clients that ask (every browser does).

Each tick's batch is deflated once for every gzip feed; a feed's own bytes (snapshot, backlog,
keep-alive) are deflated apart. These tests decode what is on the wire with zlib, as a browser
does, and with httpx; the browser tests (tests/test_dashboard_browser.py) read it in chromium.
"""

from __future__ import annotations

import json
import socket
import zlib

import httpx
import pytest

from mockstatus.events import GZIP_HEADER, EventBus, deflate
from mockstatus.wire.feed import wants_gzip

SCENARIO = """
name: shop
routes:
  - name: orders
    match: {path: /orders}
    respond: {status: 200, body: ok}
"""


class RawFeed:
    """The feed over a raw socket: the HTTP head, then the body de-chunked (RFC 9112 §7.1)
    and, when gzip-coded, inflated; events parsed from the decoded text."""

    def __init__(self, port: int, accept_encoding: str | None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        extra = f"Accept-Encoding: {accept_encoding}\r\n" if accept_encoding else ""
        self.sock.sendall(
            f"GET /__mockstatus/events HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()
        )
        self.raw = b""
        while b"\r\n\r\n" not in self.raw:
            self.raw += self._recv()
        head, _, self.raw = self.raw.partition(b"\r\n\r\n")
        self.head = head.decode().lower()
        self.gzip = "content-encoding: gzip" in self.head
        self.inflate = zlib.decompressobj(wbits=31)
        self.wire = len(self.raw)  # body bytes received (framing and coding included)
        self.text = b""  # decoded, not yet parsed into events

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        return data

    def _decode_more(self) -> None:
        """Decode the whole chunks received; read more when there is none."""
        decoded = False
        while True:
            size_end = self.raw.find(b"\r\n")
            if size_end < 0 or len(self.raw) < size_end + 4 + int(self.raw[:size_end], 16):
                if decoded:
                    return
                data = self._recv()
                self.wire += len(data)
                self.raw += data
                continue
            size = int(self.raw[:size_end], 16)
            assert size > 0, "the feed's chunked body must not end"
            decoded = True
            chunk = self.raw[size_end + 2 : size_end + 2 + size]
            assert self.raw[size_end + 2 + size : size_end + 4 + size] == b"\r\n"
            self.raw = self.raw[size_end + 4 + size :]
            self.text += self.inflate.decompress(chunk) if self.gzip else chunk

    def next(self) -> tuple[str, dict]:
        while True:
            while b"\n\n" not in self.text:
                self._decode_more()
            block, _, self.text = self.text.partition(b"\n\n")
            lines = block.decode().split("\n")
            if lines[0].startswith(":"):
                continue  # a keep-alive comment
            assert lines[0].startswith("event: ") and lines[1].startswith("data: "), lines
            return lines[0][7:], json.loads(lines[1][6:])

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def shop(make_server):
    return make_server({"shop.yaml": SCENARIO})


@pytest.mark.parametrize(
    ("header", "coded"),
    [
        (None, False),  # curl, raw readers: plain (not §12.5.3's "any coding")
        ("gzip", True),
        ("gzip, deflate, br, zstd", True),  # chromium
        ("x-gzip", True),
        ("*", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("br, deflate", False),
    ],
    ids=["none", "gzip", "browser", "x-gzip", "star", "refused", "identity", "others"],
)
def test_the_feed_is_gzip_coded_only_when_gzip_is_asked_for(header, coded):
    assert wants_gzip(header) is coded


def test_gzip_and_plain_feeds_carry_the_same_events_and_gzip_is_smaller(shop):
    server = shop
    coded, plain = RawFeed(server.port, "gzip, deflate"), RawFeed(server.port, None)
    try:
        assert coded.gzip and "vary: accept-encoding" in coded.head
        assert not plain.gzip and "content-encoding" not in plain.head
        assert coded.next()[0] == plain.next()[0] == "snapshot"
        wire_before = (coded.wire, plain.wire)
        with httpx.Client() as client:
            for i in range(300):
                client.get(server.url(f"/orders?n={i}"))
        got = {}
        for feed in (coded, plain):
            rows = []
            while len(rows) < 300:
                kind, doc = feed.next()
                if kind == "request":
                    rows.append((doc["seq"], doc["path"], doc["query"], doc["route"]))
            got[feed.gzip] = rows
        assert got[True] == got[False]
        assert [r[2] for r in got[True]] == [f"n={i}" for i in range(300)]
        coded_bytes, plain_bytes = coded.wire - wire_before[0], plain.wire - wire_before[1]
        assert coded_bytes * 3 < plain_bytes  # rows of one route compress well
    finally:
        coded.close()
        plain.close()


def test_httpx_decodes_the_gzip_feed(shop):
    server = shop
    with httpx.Client(timeout=10) as client:
        with client.stream("GET", server.url("/__mockstatus/events")) as response:
            assert response.headers["content-encoding"] == "gzip"
            lines = response.iter_lines()
            assert next(lines) == "event: snapshot"
            assert json.loads(next(lines)[6:])["workers"] == 1
            client.get(server.url("/orders"))
            for line in lines:
                if line == "event: request":
                    doc = json.loads(next(lines)[6:])
                    assert (doc["path"], doc["status"], doc["route"]) == ("/orders", 200, "orders")
                    break


def test_shared_blocks_continue_any_stream_whichever_ticks_it_saw():
    """A feed that joins late, or whose socket was congested for a tick (its backlog deflated
    on its own), still decodes: each tick's shared blocks refer to nothing before them."""
    bus = EventBus()
    early = bus.subscribe()
    early.gzip = True
    written: dict[str, list[bytes]] = {"early": [], "late": []}
    early.sink = lambda data: written["early"].append(data) or True
    batches = [b'event: request\ndata: {"seq":%d}\n\n' % i * 20 for i in range(3)]
    bus.deliver([batches[0]])
    late = bus.subscribe()  # joins after the first tick
    late.gzip = True
    late_sink = lambda data: written["late"].append(data) or True  # noqa: E731
    late.sink = lambda data: False  # congested this tick: the batch waits in its buffer
    bus.deliver([batches[1]])
    assert late.pending == 1 and written["early"][1] is not None
    written["late"].append(deflate(late.take()))  # what the transport loop writes for it
    late.sink = late_sink
    bus.deliver([batches[2]])
    assert written["early"][2] is written["late"][-1]  # one deflate for every gzip feed
    for name, expected in (("early", batches), ("late", batches[1:])):
        stream = GZIP_HEADER + deflate(b": snapshot\n\n") + b"".join(written[name])
        inflate = zlib.decompressobj(wbits=31)
        assert inflate.decompress(stream) == b": snapshot\n\n" + b"".join(expected)
        assert not inflate.eof  # an endless stream: no final block, no trailer
