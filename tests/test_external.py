"""Client tests against an EXTERNAL mockstatus server, e.g. the CI service container.

    MOCKSTATUS_URL=http://localhost:8080 python -m pytest tests/test_external.py

Skipped when MOCKSTATUS_URL is unset. `scripts/container-smoke` runs this file against the image;
tests/test_pytest_plugin.py runs it against an in-process server, so it never goes stale. Every
test keeps to its own X-Mockstatus-Session and its own scenario names and cleans up after itself,
so a shared server is not disturbed. With MOCKSTATUS_ADMIN_TOKEN set, admin mutations send it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

URL = os.environ.get("MOCKSTATUS_URL", "").strip().rstrip("/")
TOKEN = os.environ.get("MOCKSTATUS_ADMIN_TOKEN", "")

pytestmark = pytest.mark.skipif(not URL, reason="MOCKSTATUS_URL is not set")


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"} if TOKEN else {}
    with httpx.Client(base_url=URL, headers=headers, timeout=15, trust_env=False) as c:
        yield c


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
def scenario(client: httpx.Client, uid: str) -> Iterator[str]:
    """A scenario name of this test; deleted afterwards."""
    name = f"external-{uid}"
    yield name
    client.delete(f"/__mockstatus/scenarios/{name}")


def test_health(client):
    r = client.get("/__mockstatus/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_status_503_carries_retry_after(client):
    r = client.get("/status/503", headers={"Accept": "application/json"})
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "120"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.json()["reason"] == "Service Unavailable"


def test_put_scenario_round_trip(client, scenario, uid):
    path = f"/external/{uid}/hello"
    text = f"""
routes:
  - name: hello
    match: {{method: GET, path: {path}}}
    respond: {{status: 201, headers: {{X-Smoke: container}}, json: {{smoke: true}}}}
"""
    r = client.put(f"/__mockstatus/scenarios/{scenario}", content=text)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == scenario and r.json()["created"] is True

    answer = client.get(path)
    assert answer.status_code == 201
    assert answer.headers["X-Smoke"] == "container" and answer.json() == {"smoke": True}
    described = client.get(f"/__mockstatus/scenarios/{scenario}").json()
    assert [route["name"] for route in described["routes"]] == ["hello"]

    again = client.put(f"/__mockstatus/scenarios/{scenario}", content=text)
    assert again.status_code == 200 and again.json()["created"] is False
    assert client.delete(f"/__mockstatus/scenarios/{scenario}").status_code == 200
    assert client.get(path).status_code == 404


def test_an_invalid_scenario_is_rejected_with_its_problems(client, scenario):
    r = client.put(
        f"/__mockstatus/scenarios/{scenario}",
        content="routes:\n  - match: {pth: /x}\n    respond: {status: 200}\n",
    )
    assert r.status_code == 400
    problems = r.json()["problems"]
    assert problems and problems[0].startswith(f"<upload:{scenario}>:2:")
    assert client.get(f"/__mockstatus/scenarios/{scenario}").status_code == 404


def test_reset_restarts_a_sessions_counters(client, scenario, uid):
    path = f"/external/{uid}/flaky"
    text = f"""
routes:
  - name: flaky
    match: {{path: {path}}}
    sequence:
      - {{status: 503, headers: {{Retry-After: "1"}}, times: 1}}
      - {{status: 200}}
"""
    assert client.put(f"/__mockstatus/scenarios/{scenario}", content=text).status_code == 201
    session = {"X-Mockstatus-Session": uid}
    assert [client.get(path, headers=session).status_code for _ in range(3)] == [503, 200, 200]
    r = client.post("/__mockstatus/reset", params={"session": uid})
    assert r.status_code == 200 and r.json() == {"reset": uid}
    assert client.get(path, headers=session).status_code == 503


def test_the_journal_records_and_filters(client, uid):
    session = {"X-Mockstatus-Session": uid}
    client.get("/status/201", headers=session)
    client.post("/anything/echo", content=b"hello", headers=session)

    doc = client.get("/__mockstatus/requests", params={"session": uid}).json()
    assert doc["count"] == 2
    first, second = doc["requests"]
    assert (first["method"], first["path"], first["status"]) == ("GET", "/status/201", 201)
    assert (second["method"], second["path"], second["body"]) == ("POST", "/anything/echo", "hello")
    assert first["session"] == uid and first["seq"] < second["seq"]
    assert second["time"] >= first["time"]

    last = client.get("/__mockstatus/requests", params={"session": uid, "limit": 1}).json()
    assert [e["path"] for e in last["requests"]] == ["/anything/echo"]
    waited = client.get(
        "/__mockstatus/requests/wait", params={"session": uid, "count": 2, "timeout": 5}
    )
    assert waited.status_code == 200 and waited.json()["complete"] is True

    cleared = client.delete("/__mockstatus/requests", params={"session": uid})
    assert cleared.json()["removed"] == 2
    assert client.get("/__mockstatus/requests", params={"session": uid}).json()["count"] == 0


def test_bad_admin_input_is_a_4xx_json_error(client):
    for path in ("/__mockstatus/requests?limit=abc", "/__mockstatus/requests/wait?count=x"):
        r = client.get(path)
        assert r.status_code == 400 and r.json()["code"] == 400, path
    assert client.get("/__mockstatus/no-such-endpoint").status_code == 404


def test_the_clock_is_manual_or_says_how_to_make_it_so(client):
    r = client.post("/__mockstatus/clock/advance", params={"seconds": 1})
    if r.status_code == 409:
        assert "--clock manual" in r.json()["error"]
    else:
        assert r.status_code == 200 and r.json()["advanced"] == 1.0


def test_metrics_are_prometheus_text(client):
    parser = pytest.importorskip("prometheus_client.parser")
    client.get("/status/418")
    r = client.get("/__mockstatus/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in parser.text_string_to_metric_families(r.text)}
    teapots = [s for s in families["mockstatus_requests"].samples if s.labels["status"] == "418"]
    assert teapots and teapots[0].value >= 1


def test_the_catalog_describes_a_code(client):
    entry = client.get("/__mockstatus/catalog/429").json()
    assert entry["reason"] == "Too Many Requests" and entry["class"] == "4xx"
    assert any(name == "Retry-After" for name, _ in entry["headers"])
