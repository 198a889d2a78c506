"""Live reload: atomic swaps, broken folders keep the last good configuration, no request fails."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp
import httpx

V1 = """
routes:
  - name: r
    match: {path: /svc}
    respond: {status: 200, body: "v1"}
"""
V2 = V1.replace('"v1"', '"v2"')
BROKEN = V1.replace("respond:", "respnd:")


def folder_of(server) -> Path:
    return server.app.store.folder


def write(path: Path, text: str) -> None:
    path.write_text(text)
    # Filesystems with coarse mtimes: make the change visible to the fingerprint regardless.
    stamp = time.time_ns() + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def test_reload_swaps_and_broken_change_keeps_old(make_server):
    server = make_server({"svc.yaml": V1})
    assert httpx.get(server.url("/svc")).text == "v1"
    write(folder_of(server) / "svc.yaml", V2)
    assert server.call(server.app.store.reload) is True
    assert httpx.get(server.url("/svc")).text == "v2"

    write(folder_of(server) / "svc.yaml", BROKEN)
    assert server.call(server.app.store.reload) is False
    assert httpx.get(server.url("/svc")).text == "v2"  # last good configuration still serves
    doc = httpx.get(server.url("/__mockstatus/scenarios")).json()
    problem = next(p for p in doc["errors"] if "respnd" in p["message"])
    assert problem["file"].endswith("svc.yaml") and problem["line"] == 5
    assert "did you mean 'respond'" in problem["message"]


def test_added_and_removed_files(make_server):
    server = make_server({"svc.yaml": V1})
    extra = folder_of(server) / "extra.yaml"
    write(extra, V1.replace("/svc", "/extra").replace("name: r", "name: e"))
    server.call(server.app.store.reload)
    assert httpx.get(server.url("/extra")).text == "v1"
    extra.unlink()
    server.call(server.app.store.reload)
    assert httpx.get(server.url("/extra")).status_code == 404


def test_watcher_notices_a_change(make_server):
    server = make_server({"svc.yaml": V1})
    store = server.app.store
    task = server.call(lambda: asyncio.ensure_future(store.watch(0.02)))
    try:
        write(folder_of(server) / "svc.yaml", V2)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and httpx.get(server.url("/svc")).text != "v2":
            time.sleep(0.02)
        assert httpx.get(server.url("/svc")).text == "v2"
    finally:
        server.call(task.cancel)


async def test_no_request_fails_during_reloads(make_server):
    server = make_server({"svc.yaml": V1})
    store = server.app.store
    path = folder_of(server) / "svc.yaml"
    bodies: list[str] = []
    failures: list[str] = []

    async def client(session: aiohttp.ClientSession) -> None:
        for _ in range(40):
            async with session.get(server.url("/svc")) as r:
                if r.status != 200:
                    failures.append(f"{r.status}")
                bodies.append(await r.text())

    def flip(i: int) -> None:
        write(path, [V1, V2, BROKEN][i % 3])
        server.call(store.reload)

    async with aiohttp.ClientSession() as session:
        clients = [asyncio.create_task(client(session)) for _ in range(4)]
        for i in range(12):
            await asyncio.to_thread(flip, i)
        await asyncio.gather(*clients)
    assert failures == []
    assert set(bodies) <= {"v1", "v2"} and len(bodies) == 160


OUTAGE_A = """
routes:
  - match: {path: /a}
    outage: [{start: 10s, duration: 10s}]
    respond: {status: 200}
"""


def test_a_reload_keeps_the_clocks_of_unchanged_files(make_server, clock):
    server = make_server({"a.yaml": OUTAGE_A, "b.yaml": V1}, clock=clock)
    assert httpx.get(server.url("/a")).status_code == 200
    server.call(clock.advance, 12)
    assert httpx.get(server.url("/a")).status_code == 503  # in the window, 12 s after load

    write(folder_of(server) / "b.yaml", V2)  # another file changes
    assert server.call(server.app.store.reload) is True
    assert httpx.get(server.url("/svc")).text == "v2"
    assert httpx.get(server.url("/a")).status_code == 503  # a's clock went on

    write(folder_of(server) / "a.yaml", OUTAGE_A + "\n# edited\n")  # a itself changes
    assert server.call(server.app.store.reload) is True
    assert httpx.get(server.url("/a")).status_code == 200  # a new scenario: its clock restarts
