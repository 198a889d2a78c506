"""The store's caps (uploads by number and bytes, routes per file and in total) and `None`."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mockstatus import limits
from mockstatus.app import Mockstatus
from mockstatus.scenarios import store as store_module
from mockstatus.types import ManualClock

ROUTE = "routes:\n  - name: r\n    match: {path: /svc}\n    respond: {status: 200}\n"


def make_app(folder: Path | None) -> Mockstatus:
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=folder)
    app.store.load_initial()
    return app


async def put(app: Mockstatus, name: str, body: bytes) -> tuple[int, dict]:
    reply = await app.admin.dispatch("PUT", f"/scenarios/{name}", {}, body)
    return reply.status, json.loads(json.dumps(reply.doc))


def padded(size: int) -> bytes:
    """A valid upload of exactly `size` bytes (the padding is a YAML comment: cheap to parse)."""
    head = ROUTE.encode() + b"# "
    return head + b"x" * (size - len(head))


def test_the_caps_are_the_documented_values() -> None:
    assert (limits.MAX_UPLOADS, limits.MAX_UPLOAD_TOTAL) == (100, 16 * 1024 * 1024)
    assert (limits.MAX_ROUTES_PER_FILE, limits.MAX_ROUTES) == (1000, 10_000)


async def test_upload_count_cap_is_409_and_replacing_is_allowed(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    for i in range(limits.MAX_UPLOADS):
        assert (await put(app, f"u{i}", ROUTE.encode()))[0] == 201
    status, doc = await put(app, "one-too-many", ROUTE.encode())
    assert status == 409
    assert (doc["cap"], doc["limit"]) == ("MAX_UPLOADS", 100)
    assert "at most 100 scenarios" in doc["error"]
    assert app.store.current.get("one-too-many") is None
    assert (await put(app, "u5", ROUTE.encode()))[0] == 200  # a replacement is not a new one
    assert (await app.admin.dispatch("DELETE", "/scenarios/u0")).status == 200
    assert (await put(app, "one-too-many", ROUTE.encode()))[0] == 201


async def test_upload_total_bytes_cap_is_413_counting_a_replacement_once(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    mib = limits.MAX_UPLOAD
    for i in range(16):  # exactly 16 MiB: allowed
        assert (await put(app, f"big{i}", padded(mib)))[0] == 201
    status, doc = await put(app, "small", padded(200))
    assert status == 413
    assert (doc["cap"], doc["limit"]) == ("MAX_UPLOAD_TOTAL", 16 * mib)
    assert f"this one would make {16 * mib + 200}" in doc["error"]
    # Replacing big0 counts its new size only: the same size fits, a smaller one frees room.
    assert (await put(app, "big0", padded(mib)))[0] == 200
    assert (await put(app, "big0", padded(mib - 300)))[0] == 200
    assert (await put(app, "small", padded(200)))[0] == 201
    assert sum(app.store.upload_sizes.values()) == 16 * mib - 100


async def test_routes_per_file_cap_is_a_located_problem(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    text = "routes:\n" + "  - respond: {}\n" * (limits.MAX_ROUTES_PER_FILE + 1)
    status, doc = await put(app, "many", text.encode())
    assert status == 400
    assert doc["problems"] == ["<upload:many>:2:3: more than 1000 routes in one scenario file"]


async def test_total_routes_cap_refuses_the_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "svc.yaml").write_text(ROUTE)
    app = make_app(tmp_path)
    monkeypatch.setattr(store_module, "MAX_ROUTES", 3)
    two = ROUTE + "  - match: {path: /x}\n    respond: {}\n"
    assert (await put(app, "a", two.encode()))[0] == 201  # 1 + 2 routes
    status, doc = await put(app, "b", ROUTE.encode())
    assert status == 413 and (doc["cap"], doc["limit"]) == ("MAX_ROUTES", 3)
    assert "would hold 4" in doc["error"]
    assert (await put(app, "a", ROUTE.encode()))[0] == 200  # a replacement with fewer routes
    assert (await put(app, "b", ROUTE.encode()))[0] == 201


async def test_a_folder_past_the_route_cap_keeps_the_last_good_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "svc.yaml").write_text(ROUTE)
    app = make_app(tmp_path)
    monkeypatch.setattr(store_module, "MAX_ROUTES", 2)
    (tmp_path / "more.yaml").write_text(
        ROUTE.replace("/svc", "/a") + ROUTE[8:].replace("/svc", "/b").replace("r\n", "b\n")
    )
    assert await app.store.reload_async() is False
    assert [s.name for s in app.store.current.scenarios] == ["svc"]
    assert "at most 2 routes" in app.store.errors[0].message


async def test_no_folder_means_no_scenarios_at_all() -> None:
    app = make_app(None)
    store = app.store
    assert store.current.scenarios == () and store.folder_set.scenarios == ()
    assert store.runtime is not None and not store.runtime.has_routes
    assert store.reload() is True and await store.reload_async() is True
    assert store.changed() is False
    doc = (await app.admin.dispatch("GET", "/scenarios")).doc
    assert (doc["folder"], doc["scenarios"]) == (None, [])
    assert (await put(app, "mine", ROUTE.encode()))[0] == 201  # uploads still work
    assert [s.name for s in store.current.scenarios] == ["mine"]


async def test_delete_async_drops_an_upload_or_hides_a_folder_scenario(tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text(ROUTE)
    app = make_app(tmp_path)
    assert (await put(app, "mine", ROUTE.encode()))[0] == 201
    store = app.store
    assert await store.delete_async("mine") is True
    assert "mine" not in store.uploads and store.upload_sizes == {}
    assert await store.delete_async("svc") is True
    assert store.current.scenarios == ()
    assert await store.delete_async("svc") is False
    assert await store.reload_async() is True  # the folder brings it back
    assert [s.name for s in store.current.scenarios] == ["svc"]
