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


def test_the_watcher_stats_only_loaded_files_and_file_bodies(make_server, monkeypatch):
    body_route = "routes:\n  - match: {path: /b}\n    respond: {file: bodies/b.txt}\n"
    server = make_server({"svc.yaml": V1})
    folder = folder_of(server)
    store = server.app.store
    (folder / "bodies").mkdir()
    write(folder / "b.yaml", body_route)
    deep = folder / "tree" / "deeper"
    deep.mkdir(parents=True)
    for i in range(300):  # a tree the watcher must not walk
        (deep / f"f{i}.yaml").write_text(V1)
    (folder / "notes.txt").write_text("not a scenario")
    write(folder / "bodies" / "b.txt", "one")
    assert server.call(store.reload) is True
    assert httpx.get(server.url("/b")).text == "one"
    watched = [path for path, _, _ in store._fingerprint]
    assert watched == sorted(str(folder / p) for p in ("b.yaml", "bodies/b.txt", "svc.yaml"))

    write(deep / "f1.yaml", V2)  # inside the tree: not loaded, not watched
    write(folder / "notes.txt", "edited")
    assert server.call(store.changed) is False
    write(folder / "bodies" / "b.txt", "two")  # a `file:` body: watched
    assert server.call(store.changed) is True
    assert server.call(store.reload) is True and httpx.get(server.url("/b")).text == "two"
    write(folder / "new.yaml", V1.replace("/svc", "/new").replace("name: r", "name: n"))
    assert server.call(store.changed) is True  # a new YAML file in the folder


def test_an_unchanged_folder_is_not_listed_again(make_server, monkeypatch):
    from mockstatus.scenarios import store as store_module

    server = make_server({"svc.yaml": V1})
    folder = folder_of(server)
    old = time.time_ns() - 10_000_000_000  # older than the racy window
    os.utime(folder, ns=(old, old))
    store = server.app.store
    listings: list[str] = []
    real = store_module.os.scandir
    monkeypatch.setattr(store_module.os, "scandir", lambda p: listings.append(p) or real(p))
    assert server.call(store.changed) is False  # the folder's stamp moved (utime): listed
    assert len(listings) == 1
    for _ in range(5):
        assert server.call(store.changed) is False
    assert len(listings) == 1  # not listed again: only the known files were stat'ed
    (folder / "more.yaml").write_text(V1.replace("/svc", "/more"))  # the folder's mtime moves
    assert server.call(store.changed) is True
    assert len(listings) == 2


BODY_B = "routes:\n  - match: {path: /b}\n    respond: {file: b.txt}\n"


def test_a_changed_body_file_restarts_only_the_scenario_that_reads_it(make_server, clock):
    server = make_server({"a.yaml": OUTAGE_A, "b.yaml": BODY_B, "b.txt": "one"}, clock=clock)
    server.call(clock.advance, 12)
    assert httpx.get(server.url("/a")).status_code == 503  # in a's window
    write(folder_of(server) / "b.txt", "two")
    assert server.call(server.app.store.reload) is True
    assert httpx.get(server.url("/b")).text == "two"
    assert httpx.get(server.url("/a")).status_code == 503  # a's clock went on


async def test_reload_async_swaps_and_keeps_the_last_good_set(make_server):
    server = make_server({"svc.yaml": V1})
    store = server.app.store
    loop = server.loop

    def reload_async() -> bool:
        return asyncio.run_coroutine_threadsafe(store.reload_async(), loop).result(30)

    write(folder_of(server) / "svc.yaml", V2)
    assert await asyncio.to_thread(reload_async) is True
    assert httpx.get(server.url("/svc")).text == "v2"
    write(folder_of(server) / "svc.yaml", BROKEN)
    assert await asyncio.to_thread(reload_async) is False
    assert httpx.get(server.url("/svc")).text == "v2"
    assert store.load_failures == 1 and any("respnd" in p.message for p in store.errors)
