"""GET /__mockstatus/metrics: Prometheus text format, read back with prometheus_client's parser."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mockstatus.metrics import Metrics

LIMITED = """
name: api
routes:
  - name: 'we"ird\\route'
    match: {path: /limited}
    rate_limit: {limit: 1, window: 1m, key: global}
    respond: {status: 200}
  - name: broken
    match: {path: /broken}
    respond: {status: 502, fault: close}
  - name: own-429
    match: {path: /own-429}
    respond: {status: 429}
"""
BAD = "routes:\n  - match: {pth: /x}\n    respond: {status: 200}\n"


def scrape(server) -> dict[str, dict]:
    r = httpx.get(server.url("/__mockstatus/metrics"))
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def value(family, **labels: str) -> float:
    for sample in family.samples:
        if all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    raise AssertionError(f"no sample {labels} in {family.samples}")


def test_an_idle_server_exposes_every_family(server):
    families = scrape(server)
    assert families["mockstatus_requests"].type == "counter"
    assert families["mockstatus_requests"].samples == []
    assert families["mockstatus_rate_limit_rejections"].type == "counter"
    for name in ("mockstatus_reloads", "mockstatus_reload_failures"):
        assert families[name].type == "counter" and value(families[name]) == 0
    gauges = (
        "mockstatus_load_errors",
        "mockstatus_scenarios",
        "mockstatus_journal_entries",
        "mockstatus_journal_bytes",
        "mockstatus_journal_waiters",
    )
    for name in gauges:
        assert families[name].type == "gauge" and value(families[name]) == 0


def test_requests_by_route_status_and_fault(make_server):
    server = make_server({"api.yaml": LIMITED})
    with httpx.Client() as client:
        client.get(server.url("/status/503"))
        client.get(server.url("/status/503"))
        client.get(server.url("/status/200"))
        assert client.get(server.url("/limited")).status_code == 200
        assert client.get(server.url("/limited")).status_code == 429
        assert client.get(server.url("/limited")).status_code == 429
        with pytest.raises(httpx.TransportError):
            client.get(server.url("/broken"))
        client.get(server.url("/__mockstatus/health"))  # the admin API is not counted
    families = scrape(server)
    requests = families["mockstatus_requests"]
    assert value(requests, scenario="", route="", status="503", fault="") == 2
    assert value(requests, scenario="", route="", status="200", fault="") == 1
    route = 'we"ird\\route'
    assert value(requests, scenario="api", route=route, status="200", fault="") == 1
    assert value(requests, scenario="api", route=route, status="429", fault="") == 2
    assert value(requests, scenario="api", route="broken", status="502", fault="close") == 1
    assert sum(s.value for s in requests.samples) == 7
    rejections = families["mockstatus_rate_limit_rejections"]
    assert value(rejections, scenario="api", route=route) == 2
    assert value(families["mockstatus_scenarios"]) == 1
    assert value(families["mockstatus_journal_entries"]) == 7


def test_reloads_and_load_errors(make_server):
    server = make_server({"api.yaml": LIMITED})
    path = server.app.store.folder / "api.yaml"
    path.write_text(BAD)
    assert httpx.post(server.url("/__mockstatus/reload")).status_code == 400
    families = scrape(server)
    assert value(families["mockstatus_reload_failures"]) == 1
    assert value(families["mockstatus_load_errors"]) >= 1
    assert value(families["mockstatus_reloads"]) == 0
    assert value(families["mockstatus_scenarios"]) == 1  # the last good configuration

    path.write_text(LIMITED)
    assert httpx.post(server.url("/__mockstatus/reload")).status_code == 200
    families = scrape(server)
    assert value(families["mockstatus_reloads"]) == 1
    assert value(families["mockstatus_load_errors"]) == 0


def test_head_and_bad_queries(server):
    r = httpx.head(server.url("/__mockstatus/metrics"))
    assert r.status_code == 200 and r.content == b""
    assert httpx.get(server.url("/__mockstatus/metrics?x=1")).status_code == 400


def test_label_values_are_escaped():
    metrics = Metrics()
    metrics.observe("s\n1", 'r"\\', 200, None)
    text = metrics.render(rate_limited={}, reloads=0, load_failures=0, load_errors=0, scenarios=1)
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "mockstatus_requests"]
    assert family.samples[0].labels == {
        "scenario": "s\n1",
        "route": 'r"\\',
        "status": "200",
        "fault": "",
    }


def test_a_route_answering_429_itself_is_not_a_rate_limit_rejection(make_server):
    server = make_server({"api.yaml": LIMITED})
    with httpx.Client() as client:
        assert client.get(server.url("/own-429")).status_code == 429
        assert [client.get(server.url("/limited")).status_code for _ in range(2)] == [200, 429]
    families = scrape(server)
    rejections = families["mockstatus_rate_limit_rejections"]
    assert [(s.labels["route"], s.value) for s in rejections.samples] == [('we"ird\\route', 1)]
    requests = families["mockstatus_requests"]
    assert value(requests, scenario="api", route="own-429", status="429", fault="") == 1
