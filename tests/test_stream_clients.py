"""Streams read by real clients: httpx-sse (EventSource semantics: event, id, retry, resume with
Last-Event-ID), aiohttp (incremental reads), `curl -N` and Node's `fetch` reading the body
stream, each also against the stream faults (the client table of docs/streams.md)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import aiohttp
import httpx
import pytest

from mockstatus.runner import BackgroundServer

httpx_sse = pytest.importorskip("httpx_sse")

NODE = shutil.which("node")
CURL = shutil.which("curl")
READ_STREAM = Path(__file__).parent / "js" / "read_stream.mjs"

SCENARIO = """
name: clients
routes:
  - match: {path: /feed}
    respond:
      stream:
        sse:
          - {event: hello, data: "first", id: auto, retry: 2500}
          - {data: {n: "{{ index }}"}, id: auto, delay: 1ms}
        repeat: 3
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> BackgroundServer:
    import random

    from mockstatus.app import Mockstatus
    from mockstatus.types import ManualClock

    folder = tmp_path_factory.mktemp("clients")
    (folder / "c.yaml").write_text(SCENARIO)
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=folder)
    app.store.load_initial()
    server = BackgroundServer(app).start()
    yield server
    server.stop()


def fault_url(srv: BackgroundServer, kind: str) -> str:
    return srv.url(f"/sse?count=4&interval=1ms&fault={kind}&after=2events")


# --- httpx-sse -----------------------------------------------------------------------------------


def test_httpx_sse_reads_events_and_resumes(srv: BackgroundServer) -> None:
    with httpx.Client() as client, httpx_sse.connect_sse(client, "GET", srv.url("/feed")) as es:
        events = list(es.iter_sse())
    assert [(e.event, e.id) for e in events] == [
        ("hello", "1"),
        ("message", "2"),
        ("hello", "3"),
        ("message", "4"),
        ("hello", "5"),
        ("message", "6"),
    ]
    assert events[0].retry == 2500 and events[0].data == "first"
    assert json.loads(events[3].data) == {"n": "3"}
    # A reconnect says the last id it saw; the stream goes on after it.
    with (
        httpx.Client() as client,
        httpx_sse.connect_sse(
            client, "GET", srv.url("/feed"), headers={"Last-Event-ID": events[3].id}
        ) as es,
    ):
        assert [e.id for e in es.iter_sse()] == ["5", "6"]


def test_httpx_sse_builtin_sse(srv: BackgroundServer) -> None:
    with (
        httpx.Client() as client,
        httpx_sse.connect_sse(client, "GET", srv.url("/sse?count=3&interval=1ms")) as es,
    ):
        events = list(es.iter_sse())
    assert [(e.event, e.id, json.loads(e.data)["id"]) for e in events] == [
        ("ping", "1", 1),
        ("ping", "2", 2),
        ("ping", "3", 3),
    ]


def test_httpx_sse_on_a_cut_stream(srv: BackgroundServer) -> None:
    got = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.Client() as client,
        httpx_sse.connect_sse(client, "GET", fault_url(srv, "close")) as es,
    ):
        for event in es.iter_sse():
            got.append(event.id)
    assert got == ["1", "2"]


# --- aiohttp -------------------------------------------------------------------------------------


def test_aiohttp_reads_lines_as_they_come(srv: BackgroundServer) -> None:
    async def read() -> list[dict]:
        lines = []
        async with aiohttp.ClientSession() as s, s.get(srv.url("/stream/4")) as r:
            assert r.headers["Transfer-Encoding"] == "chunked"
            async for line in r.content:
                lines.append(json.loads(line))
        return lines

    assert [line["id"] for line in asyncio.run(read())] == [0, 1, 2, 3]


# --- curl -N -------------------------------------------------------------------------------------


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_no_buffer(srv: BackgroundServer) -> None:
    done = subprocess.run(
        ["curl", "-sN", srv.url("/feed")], capture_output=True, timeout=20, check=False
    )
    assert done.returncode == 0
    assert done.stdout.count(b"\n\n") == 6 and done.stdout.startswith(
        b"event: hello\nid: 1\nretry: 2500\ndata: first\n\n"
    )


# --- Node fetch ----------------------------------------------------------------------------------


def node(url: str, timeout_ms: int = 3000) -> dict:
    done = subprocess.run(
        [NODE or "node", str(READ_STREAM), url, str(timeout_ms)],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_node_fetch_reads_a_stream(srv: BackgroundServer) -> None:
    out = node(srv.url("/feed"))
    assert (out["status"], out["type"], out["error"]) == (200, "text/event-stream", None)
    assert out["text"].count("\n\n") == 6 and '"n": "5"' in out["text"]


# Node 20's fetch (undici) ends a chunked body quietly when the connection closes or resets
# between chunks, or even inside a chunk: the reader gets `done` and no error. Only garbage (a
# chunk-size parse error) and a stall (its own timeout) are reported.
NODE_FAULTS = {
    "reset": None,
    "close": None,
    "truncate": None,
    "garbage": "TypeError: terminated / HPE_INVALID_CHUNK_SIZE",
    "stall": "TimeoutError",
}


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("kind", sorted(NODE_FAULTS))
def test_node_fetch_on_stream_faults(srv: BackgroundServer, kind: str) -> None:
    # Only the stall should meet the abort timeout; the others get room for a loaded machine.
    out = node(fault_url(srv, kind), timeout_ms=1000 if kind == "stall" else 15000)
    expected = NODE_FAULTS[kind]
    if expected is None:
        assert out["error"] is None and out["text"].count("event: ping") == 2
    else:
        assert out["error"].startswith(expected), out


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_node_fetch_on_a_short_content_length_body(srv: BackgroundServer) -> None:
    out = node(srv.url("/status/200?fault=truncate&after=2bytes"))
    assert out["error"] == "TypeError: terminated / UND_ERR_RES_CONTENT_LENGTH_MISMATCH"
