"""Scenario values that used to pass the loader and fail later (a 500, a busy loop, a lying
response) are located load errors now; a clock past year 9999 renders `{{ now }}` clamped."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from mockstatus import semantics
from mockstatus.errors import ScenarioError
from mockstatus.scenarios.loader import load_text
from mockstatus.scenarios.model import ScenarioSet
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.types import ManualClock, RequestFacts

SEM = semantics.StatusSemantics(random.Random(1))


def problems(text: str, tmp_path: Path) -> list[tuple[int, int, str]]:
    with pytest.raises(ScenarioError) as info:
        load_text(text, "p.yaml", tmp_path, "p")
    return [(p.line, p.column, p.message) for p in info.value.problems]


@pytest.mark.parametrize(
    ("status", "column"),
    [
        ('"200:1e308,503:1e308"', 23),
        ("{200: 1e308, 503: 1e308}", 23),
        ("[200: 1.7e308, 503: 1.7e308]", 23),
    ],
    ids=["text", "mapping", "list"],
)
def test_weights_whose_sum_overflows_are_a_load_error(tmp_path, status, column):
    text = f"routes:\n  - respond: {{status: {status}}}\n"
    ((line, col, message),) = problems(text, tmp_path)
    assert (line, col) == (2, column) and "add up to more than a number can hold" in message


def test_large_finite_weights_still_work(tmp_path):
    text = "seed: 1\nroutes:\n  - respond: {status: {200: 1e307, 503: 3e307}}\n"
    rt = ScenarioRuntime(
        ScenarioSet((load_text(text, "w.yaml", tmp_path, "w"),)),
        clock=ManualClock(),
        rng=random.Random(1),
    )
    picks = [rt.respond(RequestFacts("GET", "/x"))[0].status for _ in range(400)]
    assert set(picks) == {200, 503} and 250 < picks.count(503) < 350


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("Content-Length", "fault: truncate"),
        ("transfer-encoding", "fault: malformed-chunk"),
        ("Connection", "fault: close"),
        ("CONNECTION", "fault: close"),
    ],
)
def test_framing_headers_are_a_load_error(tmp_path, name, hint):
    text = f"routes:\n  - respond:\n      headers:\n        {name}: x\n        X-Ok: y\n"
    ((line, col, message),) = problems(text, tmp_path)
    assert (line, col) == (4, 9)
    assert message.startswith(f"'{name}' is set by the server") and hint in message


@pytest.mark.parametrize("every", ["0", "0ms", "0.5ms", "0.0009"])
def test_a_drip_faster_than_a_millisecond_is_a_load_error(tmp_path, every):
    for text in (
        f"routes:\n  - respond: {{body: abc, drip: {{chunk: 1, every: {every}}}}}\n",
        f"routes:\n  - respond: {{body: abc, fault: {{kind: drip, drip: {{chunk: 1, every: {every}}}}}}}\n",
    ):
        found = problems(text, tmp_path)
        assert len(found) == 1 and found[0][0] == 2, found
        assert "'every' must be at least 1ms" in found[0][2]
        col = found[0][1]
        assert text.splitlines()[1][col - 1 :].startswith(every)


def test_a_one_millisecond_drip_loads(tmp_path):
    text = "routes:\n  - respond: {body: abc, drip: {chunk: 1, every: 1ms}}\n"
    drip = load_text(text, "d.yaml", tmp_path, "d").routes[0].respond.drip
    assert drip is not None and drip.every == pytest.approx(0.001)


NOW = "routes:\n  - match: {path: /now}\n    respond: {body: '{{ now }}', headers: {X-Now: '{{ now }}'}}\n"


@pytest.mark.parametrize(
    ("wall", "shown"),
    [
        (1_767_225_600.0, "Thu, 01 Jan 2026 00:00:00 GMT"),
        (253_402_300_799.0, "Fri, 31 Dec 9999 23:59:59 GMT"),
        (253_402_300_800.0, "Fri, 31 Dec 9999 23:59:59 GMT"),  # year 10000
        (1e300, "Fri, 31 Dec 9999 23:59:59 GMT"),
        (float("inf"), "Fri, 31 Dec 9999 23:59:59 GMT"),
        (-5.0, "Thu, 01 Jan 1970 00:00:00 GMT"),
    ],
)
def test_now_past_year_9999_is_clamped_not_a_500(tmp_path, wall, shown):
    clock = ManualClock(wall=wall)
    rt = ScenarioRuntime(
        ScenarioSet((load_text(NOW, "n.yaml", tmp_path, "n"),)), clock=clock, rng=random.Random(1)
    )
    plan = rt.respond(RequestFacts("GET", "/now"))[0]
    assert (plan.status, plan.body) == (200, shown.encode())
    assert dict(plan.headers)["X-Now"] == shown


def test_now_past_year_9999_over_http(make_server):
    clock = ManualClock()
    server = make_server({"n.yaml": NOW}, clock=clock)
    clock.advance(300_000_000_000.0)  # about year 11475
    r = httpx.get(server.url("/now"))
    assert (r.status_code, r.text) == (200, "Fri, 31 Dec 9999 23:59:59 GMT")
