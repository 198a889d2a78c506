"""Admin API additions of issues 10 and 11: `/requests` pages (`limit`, `next_since`, `more`), the
catalog encoded once, the manual clock's year-9999 end, and `POST /purge?owner=`."""

from __future__ import annotations

import httpx
import pytest

from mockstatus import admin
from mockstatus import catalog as catalog_module
from mockstatus.limits import MAX_ADVANCE, MAX_CLOCK_WALL
from mockstatus.types import ManualClock

ROUTE = "routes:\n  - match: {path: /%s}\n    respond: {status: 200}\n"


def api(server, path: str) -> str:
    return server.url("/__mockstatus" + path)


def page(server, query: str = "") -> dict:
    r = httpx.get(api(server, "/requests" + query))
    assert r.status_code == 200, r.text
    return r.json()


def seqs(doc: dict) -> list[int]:
    return [e["seq"] for e in doc["requests"]]


# --- pages -------------------------------------------------------------------------------------


def test_by_default_one_answer_holds_the_whole_journal(make_server):
    server = make_server(journal_size=5)
    for _ in range(7):
        httpx.get(server.url("/status/200"))
    doc = page(server)
    assert seqs(doc) == [3, 4, 5, 6, 7]
    assert (doc["count"], doc["next_since"], doc["more"]) == (5, 7, False)


def test_pages_walk_forward_from_since(server):
    for _ in range(5):
        httpx.get(server.url("/status/200"))
    first = page(server, "?since=0&limit=2")
    assert (seqs(first), first["next_since"], first["more"]) == ([1, 2], 2, True)
    second = page(server, f"?since={first['next_since']}&limit=2")
    assert (seqs(second), second["next_since"], second["more"]) == ([3, 4], 4, True)
    last = page(server, f"?since={second['next_since']}&limit=2")
    assert (seqs(last), last["next_since"], last["more"]) == ([5], 5, False)
    empty = page(server, f"?since={last['next_since']}&limit=2")
    assert (seqs(empty), empty["next_since"], empty["more"]) == ([], 5, False)


def test_pages_apply_the_filters_first(server):
    for code in (200, 503, 200, 503, 503):
        httpx.get(server.url(f"/status/{code}"))
    first = page(server, "?status=503&since=0&limit=2")
    assert (seqs(first), first["more"]) == ([2, 4], True)
    rest = page(server, f"?status=503&since={first['next_since']}&limit=2")
    assert (seqs(rest), rest["more"]) == ([5], False)


def test_limit_without_since_is_still_the_last_n(server):
    for _ in range(4):
        httpx.get(server.url("/status/200"))
    doc = page(server, "?limit=2")
    assert (seqs(doc), doc["next_since"], doc["more"]) == ([3, 4], 4, False)


def test_no_match_gives_a_cursor_past_everything_seen(server):
    for _ in range(3):
        httpx.get(server.url("/status/200"))
    assert page(server, "?status=404")["next_since"] == 3
    assert page(server, "?status=404&since=1")["next_since"] == 3


def test_the_default_limit_is_the_journal_size(make_server):
    server = make_server(journal_size=3)
    r = httpx.get(api(server, "/requests?limit=4"))
    assert r.status_code == 200  # larger than the journal: harmless


# --- the catalog is encoded once ---------------------------------------------------------------


def test_the_catalog_is_encoded_once_per_shape(server, monkeypatch):
    monkeypatch.setattr(catalog_module, "_CATALOG_REPLIES", {})
    calls: list[bool] = []
    encode = catalog_module._encode

    def counting(doc, compact):
        calls.append(compact)
        return encode(doc, compact)

    monkeypatch.setattr(catalog_module, "_encode", counting)
    for _ in range(3):
        whole = httpx.get(api(server, "/catalog"))
        four = httpx.get(api(server, "/catalog?class=4xx"))
        one = httpx.get(api(server, "/catalog/418"))
    assert len(calls) == 3  # one per shape, not per request
    assert whole.json() == admin.catalog()
    assert {e["class"] for e in four.json()["codes"]} == {"4xx"}
    assert one.json()["code"] == 418
    assert whole.headers["Content-Length"] == str(
        len(catalog_module._CATALOG_REPLIES[None].encoded)
    )


# --- the manual clock ends with year 9999 ------------------------------------------------------


def test_advancing_past_year_9999_is_a_400_and_the_clock_stays(make_server):
    clock = ManualClock(wall=MAX_CLOCK_WALL - MAX_ADVANCE + 10)
    server = make_server(clock=clock, clock_controllable=True)
    assert httpx.post(api(server, f"/clock/advance?seconds={MAX_ADVANCE - 10}")).status_code == 200
    assert clock.wall() == MAX_CLOCK_WALL
    r = httpx.post(api(server, "/clock/advance?seconds=1"))
    assert r.status_code == 400 and "9999-12-31T23:59:59Z" in r.json()["error"]
    assert clock.wall() == MAX_CLOCK_WALL
    assert httpx.post(api(server, "/clock/advance?seconds=0")).status_code == 200
    # Everything that formats the time still works at the very end.
    assert httpx.get(server.url("/status/200")).status_code == 200
    assert httpx.get(api(server, "/clock")).json()["wall"] == MAX_CLOCK_WALL


def test_repeated_advances_stop_at_year_9999(make_server):
    clock = ManualClock(wall=MAX_CLOCK_WALL - 2.5 * MAX_ADVANCE)
    server = make_server(clock=clock, clock_controllable=True)
    with httpx.Client() as client:
        answers = [
            client.post(api(server, f"/clock/advance?seconds={MAX_ADVANCE}")).status_code
            for _ in range(4)
        ]
    assert answers == [200, 200, 400, 400]


# --- purge by owner ----------------------------------------------------------------------------


def put(server, name: str, owner: str | None = None) -> int:
    query = f"?owner={owner}" if owner is not None else ""
    return httpx.put(api(server, f"/scenarios/{name}{query}"), content=ROUTE % name).status_code


def uploads(server) -> list[str]:
    return httpx.get(api(server, "/scenarios")).json()["uploads"]


def test_purge_removes_only_that_owners_uploads(server):
    assert [put(server, "a", "run1"), put(server, "b", "run2"), put(server, "ci")] == [201] * 3
    r = httpx.post(api(server, "/purge?owner=run1"))
    assert r.status_code == 200 and r.json() == {"purged": "run1", "removed": ["a"]}
    assert uploads(server) == ["b", "ci"]
    assert httpx.get(server.url("/a")).status_code == 404  # its route is gone too
    assert httpx.get(server.url("/b")).status_code == 200
    assert httpx.post(api(server, "/purge?owner=run1")).json()["removed"] == []
    everything = httpx.post(api(server, "/purge")).json()
    assert everything == {"purged": "all", "removed": ["b", "ci"]}
    assert uploads(server) == []


def test_an_upload_belongs_to_its_last_uploader(server):
    put(server, "a", "run1")
    put(server, "a")  # replaced by someone else, without an owner
    assert httpx.post(api(server, "/purge?owner=run1")).json()["removed"] == []
    put(server, "a", "run2")
    assert httpx.post(api(server, "/purge?owner=run2")).json()["removed"] == ["a"]


def test_purge_keeps_the_folder_scenarios(make_server):
    server = make_server({"f.yaml": ROUTE % "f"})
    put(server, "u", "run")
    httpx.post(api(server, "/purge"))
    assert httpx.get(server.url("/f")).status_code == 200


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        ("POST", "/purge?owner=", 400),
        ("POST", "/purge?owner=a%00b", 400),
        ("POST", "/purge?bogus=1", 400),
        ("GET", "/purge", 405),
        ("PUT", "/scenarios/x?bogus=1", 400),
    ],
)
def test_bad_purge_calls(server, method, target, status):
    r = httpx.request(method, api(server, target), content=ROUTE % "x")
    assert r.status_code == status and r.json()["code"] == status


def test_a_bad_owner_stores_nothing(server):
    r = httpx.put(api(server, "/scenarios/x?owner=a%00b"), content=ROUTE % "x")
    assert r.status_code == 400 and "owner" in r.json()["error"]
    assert uploads(server) == []
