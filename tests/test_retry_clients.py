"""Real retry clients against scenarios: urllib3's Retry and requests' HTTPAdapter honour
Retry-After, and waiting it out (on the injected clock, never for real) gets them through."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import requests
import urllib3
import urllib3.util.retry
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from mockstatus.types import ManualClock

FLAKY = """
routes:
  - name: orders
    match: {method: GET, path: /orders}
    sequence:
      - {status: 503, headers: {Retry-After: "1"}, times: 2}
      - {status: 200, json: {ok: true, attempt: "{{ count }}"}}
"""


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """urllib3's waits, recorded instead of slept."""
    waited: list[float] = []
    fake_time = SimpleNamespace(sleep=waited.append, time=time.time, monotonic=time.monotonic)
    monkeypatch.setattr(urllib3.util.retry, "time", fake_time)
    return waited


def clock_sleeps(monkeypatch, clock: ManualClock) -> list[float]:
    """urllib3's waits move the server's injected clock instead of the test's time."""
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        clock.advance(seconds)

    fake_time = SimpleNamespace(sleep=sleep, time=time.time, monotonic=time.monotonic)
    monkeypatch.setattr(urllib3.util.retry, "time", fake_time)
    return waited


def retry(**kw) -> Retry:
    return Retry(
        total=3, status_forcelist=[503], respect_retry_after_header=True, backoff_factor=0, **kw
    )


def test_urllib3_retries_twice_then_succeeds(make_server, sleeps):
    server = make_server({"flaky.yaml": FLAKY})
    with urllib3.PoolManager(retries=retry()) as pool:
        resp = pool.request("GET", server.url("/orders"))
    assert resp.status == 200
    assert resp.json() == {"ok": True, "attempt": "3"}  # the third attempt
    assert sleeps == [1.0, 1.0]  # Retry-After: 1, honoured each time
    assert [h.status for h in resp.retries.history] == [503, 503]


def test_requests_with_a_retrying_adapter(make_server, sleeps):
    server = make_server({"flaky.yaml": FLAKY})
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retry()))
        resp = session.get(server.url("/orders"), timeout=5)
    assert resp.status_code == 200 and resp.json()["attempt"] == "3"
    assert sleeps == [1.0, 1.0]


def test_too_few_retries_give_up_with_the_503(make_server, sleeps):
    server = make_server({"flaky.yaml": FLAKY})
    few = Retry(
        total=1, status_forcelist=[503], respect_retry_after_header=True, raise_on_status=False
    )
    with urllib3.PoolManager(retries=few) as pool:
        resp = pool.request("GET", server.url("/orders"))
    assert resp.status == 503 and resp.headers["Retry-After"] == "1"
    assert sleeps == [1.0]


OUTAGE = """
routes:
  - match: {path: /svc}
    outage: [{start: 0s, duration: 2.5s}]
    respond: {status: 200, body: up}
"""


def test_waiting_out_an_outage_on_the_injected_clock(make_server, monkeypatch):
    clock = ManualClock()
    server = make_server({"outage.yaml": OUTAGE}, clock=clock)
    waited = clock_sleeps(monkeypatch, clock)
    with urllib3.PoolManager(retries=retry()) as pool:
        resp = pool.request("GET", server.url("/svc"))
    assert (resp.status, resp.data) == (200, b"up")
    assert waited == [3.0]  # 2.5 s left, rounded up: one wait was enough


RATE_LIMITED = """
routes:
  - match: {path: /api}
    rate_limit: {limit: 1, window: 10s, algorithm: %s}
    respond: {status: 200, body: ok}
"""


@pytest.mark.parametrize("algorithm", ["fixed-window", "sliding-window", "token-bucket"])
def test_waiting_out_a_rate_limit(make_server, monkeypatch, algorithm):
    clock = ManualClock()
    server = make_server({"rl.yaml": RATE_LIMITED % algorithm}, clock=clock)
    waited = clock_sleeps(monkeypatch, clock)
    limited = Retry(total=3, status_forcelist=[429], respect_retry_after_header=True)
    with urllib3.PoolManager(retries=limited) as pool:
        assert pool.request("GET", server.url("/api")).status == 200
        clock.advance(4)
        resp = pool.request("GET", server.url("/api"))
    assert resp.status == 200
    assert waited == [6.0]  # exactly the Retry-After of the 429: 10 s window, 4 s in


RESET_THEN_OK = """
routes:
  - match: {path: /r}
    sequence:
      - {fault: reset}
      - {fault: close}
      - {status: 200, body: fine}
"""


def test_urllib3_retries_connection_faults(make_server, sleeps):
    server = make_server({"r.yaml": RESET_THEN_OK})
    with urllib3.PoolManager(retries=Retry(total=3, backoff_factor=0)) as pool:
        resp = pool.request("GET", server.url("/r"))
    assert (resp.status, resp.data) == (200, b"fine")
    assert len(resp.retries.history) == 2
    assert all(h.error is not None for h in resp.retries.history)  # two connection errors


def test_without_retries_requests_sees_the_reset(make_server):
    server = make_server({"r.yaml": RESET_THEN_OK})
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url("/r"), timeout=5)
