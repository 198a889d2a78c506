"""A refused 413 upload over HTTP/2 ends only its own stream (RFC 9113 §8.1): the complete
response, then RST_STREAM(NO_ERROR) while the client is still sending; never GOAWAY, so the
connection's other streams go on."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame, HeadersFrame, PingFrame, RstStreamFrame

from mockstatus.runner import BackgroundServer
from tests.test_h2_rawclient import H2Client, h2_server
from tests.test_redteam_h2 import RawH2

CAP = 1024**2  # the HTTP/1.1 body cap the HTTP/2 wire shares (H2Service.max_body)


@pytest.fixture
def srv(tmp_path: Any) -> Iterator[BackgroundServer]:
    server = h2_server(tmp_path)
    yield server
    server.stop()


def test_two_concurrent_httpx_uploads_one_over_the_cap(srv: Any) -> None:
    # A 32 KiB cap, so both bodies fit the initial 64 KiB stream window: httpcore 1.0 can lose a
    # WINDOW_UPDATE that its other thread read (a client race in _wait_for_outgoing_flow, not
    # under test here) and then waits for ever.
    cap = 32 * 1024
    srv._runner.server.h2_handoff.__self__.max_body = cap
    results: dict[str, Any] = {}
    start = threading.Barrier(2)
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        url = f"http://127.0.0.1:{srv.port}/anything"

        def post(name: str, size: int) -> None:
            start.wait(5)
            try:
                results[name] = client.post(url, content=b"z" * size)
            except Exception as exc:  # reported by the assertions below
                results[name] = exc

        threads = [
            threading.Thread(target=post, args=("big", cap + 5000)),
            threading.Thread(target=post, args=("small", 3000)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        big, small = results["big"], results["small"]
        assert not isinstance(big, Exception), big
        assert not isinstance(small, Exception), small
        assert (big.http_version, big.status_code) == ("HTTP/2", 413)
        assert big.text == f"413 Content Too Large: the request body is over {cap} bytes\n"
        assert (small.http_version, small.status_code) == ("HTTP/2", 200)
        assert small.json()["body"] == "z" * 3000
        # The connection survived: the pool's next request goes on it, answered.
        again = client.get(f"http://127.0.0.1:{srv.port}/status/503")
        assert (again.http_version, again.status_code) == ("HTTP/2", 503)


def test_an_unfinished_upload_over_the_cap_is_413_then_rst_stream_no_error(srv: Any) -> None:
    with H2Client(srv.port) as c:
        big = c.request("/anything", method="POST", end=False)
        # More than the stream window holds past the cap: upload() stops at the answer, without
        # END_STREAM, so the client is still sending when the 413 goes out.
        c.upload(big, b"z" * (CAP + 256 * 1024))
        answer = c.wait(big)
        while answer.reset is None and not c.closed:
            c.pump()
        assert (answer.status, answer.ended, answer.reset) == (413, True, ErrorCodes.NO_ERROR)
        assert answer.body == b"413 Content Too Large: the request body is over 1048576 bytes\n"
        # The same connection serves the next stream, and never sent GOAWAY.
        after = c.get("/status/503")
        assert (after.status, after.body) == (503, b"503 Service Unavailable")
        assert c.goaway is None and not c.closed


def test_expect_100_over_the_cap_is_413_and_rst_no_error_without_goaway(srv: Any) -> None:
    """413 instead of `100 Continue` (the body never sent): the stream ends, the connection stays."""
    with H2Client(srv.port) as c:
        sid = c.request(
            "/anything",
            method="PUT",
            headers=[("content-length", str(CAP + 1)), ("expect", "100-continue")],
            end=False,
        )
        answer = c.wait(sid)
        while answer.reset is None and not c.closed:
            c.pump()
        assert (answer.status, answer.interims, answer.reset) == (413, [], ErrorCodes.NO_ERROR)
        assert c.get("/status/204").status == 204
        assert c.goaway is None


def test_a_plain_413_answer_closes_nothing(srv: Any) -> None:
    """/status/413 on a request that ended: no RST_STREAM (the stream is closed), no GOAWAY."""
    client = RawH2(srv.port)
    try:
        client.get(1, "/status/413")
        client.get(3, "/status/204")
        frames = client.ping_round_trip(b"h2fix413") + client.ping_round_trip(b"h2fix41b")
    finally:
        client.close()
    heads = [f.stream_id for f in frames if isinstance(f, HeadersFrame)]
    assert sorted(heads) == [1, 3]
    assert [f for f in frames if isinstance(f, (GoAwayFrame, RstStreamFrame))] == []


NODE = shutil.which("node")
NODE_UPLOAD = r"""
const http2 = require('http2');
const client = http2.connect(process.argv[1]);
const out = {status: null, body: '', error: null, rst: null};
const req = client.request({':method': 'POST', ':path': '/anything'});
req.on('response', (h) => { out.status = h[':status']; });
req.on('data', (d) => { out.body += d; });
req.on('error', (e) => { out.error = e.code; });
req.on('close', () => { out.rst = req.rstCode; console.log(JSON.stringify(out)); client.close(); });
req.end(Buffer.alloc(Number(process.argv[2]), 'z'));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_node_gets_the_413_and_rst_stream_no_error_on_a_3_mb_upload(srv: Any) -> None:
    assert NODE is not None
    url = f"http://127.0.0.1:{srv.port}"
    run = subprocess.run(
        [NODE, "-e", NODE_UPLOAD, url, str(3_000_000)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    got = json.loads(run.stdout)
    assert (got["status"], got["error"], got["rst"]) == (413, None, ErrorCodes.NO_ERROR)
    assert got["body"] == "413 Content Too Large: the request body is over 1048576 bytes\n"


def test_the_reset_waits_for_the_ack_of_a_ping_sent_after_the_response(srv: Any) -> None:
    """curl 7.88 drops a response whose RST_STREAM it reads in the same batch: the server sends
    a PING after the 413 and resets the stream only once the client has acknowledged it."""
    client = RawH2(srv.port)
    try:
        fields = [(":method", "PUT"), (":scheme", "http"), (":authority", "x")]
        fields += [(":path", "/anything"), ("content-length", str(CAP + 1))]
        fields += [("expect", "100-continue")]
        block = client.encoder.encode(fields)
        client.sock.sendall(HeadersFrame(1, block, flags=["END_HEADERS"]).serialize())
        first = client.until(lambda fs: any(isinstance(f, PingFrame) for f in fs))
        # Our own PING round trip: nothing more (no reset) while theirs is unanswered.
        quiet = client.ping_round_trip(b"h2fixpng")
        ping = next(f for f in first if isinstance(f, PingFrame))
        client.sock.sendall(PingFrame(0, opaque_data=ping.opaque_data, flags=["ACK"]).serialize())
        after = client.until(lambda fs: any(isinstance(f, RstStreamFrame) for f in fs))
    finally:
        client.close()
    kinds = [(type(f).__name__, f.stream_id) for f in first if type(f).__name__ != "SettingsFrame"]
    assert kinds[-3:] == [("HeadersFrame", 1), ("DataFrame", 1), ("PingFrame", 0)]
    assert ping.opaque_data == b"end\x00" + (1).to_bytes(4, "big") and "ACK" not in ping.flags
    assert [type(f).__name__ for f in quiet] == ["PingFrame"]
    resets = [(f.stream_id, f.error_code) for f in after if isinstance(f, RstStreamFrame)]
    assert resets == [(1, ErrorCodes.NO_ERROR)]
    assert not [f for f in first + quiet + after if isinstance(f, GoAwayFrame)]


def test_a_client_that_never_acks_the_ping_is_reset_after_the_cap(srv: Any, monkeypatch) -> None:
    """The wait for the PING ACK is capped (H2_RESET_ACK_WAIT): a client that ignores the PING
    and keeps its over-cap upload open still gets RST_STREAM(NO_ERROR), and no GOAWAY."""
    from mockstatus.wire import h2 as wire_h2

    monkeypatch.setattr(wire_h2, "H2_RESET_ACK_WAIT", 0.2)
    client = RawH2(srv.port)
    try:
        fields = [(":method", "PUT"), (":scheme", "http"), (":authority", "x")]
        fields += [(":path", "/anything"), ("content-length", str(CAP + 1))]
        fields += [("expect", "100-continue")]
        block = client.encoder.encode(fields)
        client.sock.sendall(HeadersFrame(1, block, flags=["END_HEADERS"]).serialize())
        frames = client.until(lambda fs: any(isinstance(f, RstStreamFrame) for f in fs))
    finally:
        client.close()
    statuses = [f for f in frames if isinstance(f, HeadersFrame)]
    assert len(statuses) == 1  # the 413's HEADERS, then DATA, the PING, and (unacked) the reset
    assert [f for f in frames if isinstance(f, PingFrame) and "ACK" not in f.flags]
    resets = [(f.stream_id, f.error_code) for f in frames if isinstance(f, RstStreamFrame)]
    assert resets == [(1, ErrorCodes.NO_ERROR)]
    assert not [f for f in frames if isinstance(f, GoAwayFrame)]


CURL = shutil.which("curl")


def curl_has_http2() -> bool:
    if CURL is None:
        return False
    version = subprocess.run([CURL, "--version"], capture_output=True, text=True, check=False)
    return "HTTP2" in version.stdout


@pytest.mark.skipif(not curl_has_http2(), reason="curl with HTTP/2 is not installed")
def test_curl_gets_the_413_on_a_3_mb_upload(srv: Any, tmp_path: Any) -> None:
    assert CURL is not None
    body = tmp_path / "big"
    body.write_bytes(b"z" * 3_000_000)
    url = f"http://127.0.0.1:{srv.port}/anything"
    run = subprocess.run(
        [
            CURL,
            "-sS",
            "--http2-prior-knowledge",
            "-m",
            "20",
            "-w",
            "\n%{http_code}",
            "-d",
            f"@{body}",
            url,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout == "413 Content Too Large: the request body is over 1048576 bytes\n\n413"
