"""One order for routes: uploads newest first, then folder scenarios by file name, then route
order within a file; visible in `GET /__mockstatus/scenarios` and in each upload's answer."""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest

from mockstatus.app import Mockstatus, bundled_scenarios
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock

MY_JOB = """
name: my-job
routes:
  - name: mine
    match: {method: GET, path: "/jobs/{id}"}
    respond: {status: 418, body: "mine {{ path.id }}"}
"""


@pytest.fixture
def bundled() -> Iterator[BackgroundServer]:
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=bundled_scenarios())
    app.store.load_initial()
    with BackgroundServer(app) as server:
        yield server


def put(server: BackgroundServer, name: str, text: str) -> httpx.Response:
    return httpx.put(server.url(f"/__mockstatus/scenarios/{name}"), content=text.encode())


def test_an_upload_wins_over_the_bundled_job_api(bundled: BackgroundServer) -> None:
    assert httpx.get(bundled.url("/jobs/7")).status_code == 202  # the bundled job-api
    reply = put(bundled, "my-job", MY_JOB)
    assert reply.status_code == 201
    answer = httpx.get(bundled.url("/jobs/7"))
    assert (answer.status_code, answer.text) == (418, "mine 7")
    # ... and the answer says which folder route it hides.
    assert {"scenario": "job-api", "route": "poll", "overlap": "full", "own_route": "mine"} in (
        reply.json()["shadows"]
    )
    assert reply.json()["shadowed_by"] == []
    doc = reply.json()
    assert (doc["source"], doc["rank"], doc["shadowing_complete"]) == ("upload", 1, True)


def test_newest_upload_first_and_listing_shows_the_order(bundled: BackgroundServer) -> None:
    put(bundled, "first", MY_JOB.replace("my-job", "first").replace("mine {{", "first {{"))
    second = put(bundled, "second", MY_JOB.replace("my-job", "second").replace("mine {{", "2nd {{"))
    assert httpx.get(bundled.url("/jobs/1")).text == "2nd 1"
    assert second.json()["shadows"][0] == {
        "scenario": "first",
        "route": "mine",
        "overlap": "full",
        "own_route": "mine",
    }
    listing = httpx.get(bundled.url("/__mockstatus/scenarios")).json()["scenarios"]
    order = [(s["name"], s["source"], s["rank"]) for s in listing]
    folder = sorted(p.stem for p in bundled_scenarios().glob("*.yaml"))
    assert order[:2] == [("second", "upload", 1), ("first", "upload", 2)]
    assert [name for name, _, _ in order[2:]] == folder  # file-name order (names = stems here)
    assert [(src, rank) for _, src, rank in order[2:]] == [
        ("folder", i) for i in range(3, 3 + len(folder))
    ]
    # Re-uploading "first" makes it the newest again.
    put(bundled, "first", MY_JOB.replace("my-job", "first").replace("mine {{", "first {{"))
    assert httpx.get(bundled.url("/jobs/1")).text == "first 1"
    listing = httpx.get(bundled.url("/__mockstatus/scenarios")).json()["scenarios"]
    assert [s["name"] for s in listing[:2]] == ["first", "second"]


def test_an_upload_shadowed_by_a_newer_one_says_so(bundled: BackgroundServer) -> None:
    catch_all = "routes:\n  - name: any\n    respond: {status: 599}\n"
    put(bundled, "all", catch_all)
    reply = put(bundled, "mine", MY_JOB)  # newer: it is tried before "all"
    assert reply.json()["shadows"][0]["scenario"] == "all"
    assert reply.json()["shadows"][0]["overlap"] == "possible"  # "mine" covers only GET /jobs/*
    doc = put(bundled, "all", catch_all).json()  # "all" is now the newest: it hides everything
    hidden = {(e["scenario"], e["route"], e["overlap"]) for e in doc["shadows"]}
    assert ("mine", "mine", "full") in hidden and ("job-api", "poll", "full") in hidden
    assert doc["shadowed_by"] == []


def test_a_folder_scenario_of_the_same_name_is_replaced_not_duplicated(
    bundled: BackgroundServer,
) -> None:
    put(bundled, "job-api", MY_JOB.replace("my-job", "job-api"))
    listing = httpx.get(bundled.url("/__mockstatus/scenarios")).json()["scenarios"]
    assert [(s["name"], s["source"]) for s in listing].count(("job-api", "upload")) == 1
    assert [s["name"] for s in listing].count("job-api") == 1
    assert httpx.get(bundled.url("/jobs/3")).status_code == 418
