"""Real retry clients against mockstatus: an outage and a rate limit, without real sleeping.

* urllib3's `Retry(respect_retry_after_header=True)` waits out an outage, and gives up when the
  outage outlasts its retries;
* a small httpx retry loop that honours Retry-After gets past a rate limit;
* an async httpx client retries a flaky endpoint in its own X-Mockstatus-Session.

The retry code sleeps through `time.sleep`; the `virtual_time` fixture (conftest.py) turns those
sleeps into `mockstatus.clock.advance(...)`, so waiting 5 s for a Retry-After takes no time and
the journal (`mockstatus.requests(...)`) shows exactly when, on the server's clock, every attempt
arrived.

Run: `pytest examples` (the mockstatus plugin is enabled by installing mockstatus).
"""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import sys
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest
import urllib3
import urllib3.util.retry

OUTAGE = """
name: orders
description: The orders API is down for its first 20 s; each 503 asks to retry after 5 s.
routes:
  - name: list-orders
    match: {method: GET, path: /orders}
    outage:
      - start: 0s
        duration: 20s
        respond:
          status: 503
          headers: {Retry-After: "5"}
          json: {error: down for maintenance}
    respond:
      status: 200
      json: {orders: [{id: 1, total: 12.5}]}
"""

# The same shape as a YAML file, as a dict: 3 searches per 10 s window for everyone.
RATE_LIMIT = {
    "name": "search",
    "routes": [
        {
            "name": "search",
            "match": {"method": "GET", "path": "/search"},
            "rate_limit": {
                "limit": 3,
                "window": "10s",
                "algorithm": "fixed-window",
                "key": "global",
            },
            "respond": {"status": 200, "json": {"results": []}},
        }
    ],
}

FLAKY = """
name: flaky
routes:
  - name: profile
    match: {method: GET, path: "/users/{id}"}
    sequence:
      - {status: 503, headers: {Retry-After: "1"}, times: 3}
      - {status: 200, json: {id: "{{ path.id }}", attempt: "{{ count }}"}}
"""


def gaps(entries: list[dict]) -> list[float]:
    """Seconds between consecutive journal entries, on the server's clock."""
    return [b["time"] - a["time"] for a, b in itertools.pairwise(entries)]


# --- urllib3: Retry with respect_retry_after_header ------------------------------------------


def test_urllib3_waits_out_an_outage(mockstatus, virtual_time):
    mockstatus.load(OUTAGE)
    virtual_time.patch(urllib3.util.retry)  # Retry.sleep() now advances the server's clock
    retry = urllib3.Retry(total=10, status_forcelist=[503], respect_retry_after_header=True)

    with urllib3.PoolManager(retries=retry) as http:
        response = http.request("GET", mockstatus.url("/orders"))

    assert response.status == 200
    assert response.json() == {"orders": [{"id": 1, "total": 12.5}]}
    attempts = mockstatus.requests(route="list-orders")
    assert [a["status"] for a in attempts] == [503, 503, 503, 503, 200]
    assert gaps(attempts) == [5.0, 5.0, 5.0, 5.0]  # Retry-After honoured, to the second
    assert virtual_time.sleeps == [5.0, 5.0, 5.0, 5.0]


def test_urllib3_gives_up_when_the_outage_outlasts_its_retries(mockstatus, virtual_time):
    mockstatus.load(OUTAGE)
    virtual_time.patch(urllib3.util.retry)
    retry = urllib3.Retry(total=2, status_forcelist=[503], respect_retry_after_header=True)

    with urllib3.PoolManager(retries=retry) as http:
        with pytest.raises(urllib3.exceptions.MaxRetryError):
            http.request("GET", mockstatus.url("/orders"))

    attempts = mockstatus.requests(path="/orders")
    assert [a["status"] for a in attempts] == [503, 503, 503]  # the first try and 2 retries
    assert gaps(attempts) == [5.0, 5.0]


# --- httpx: a small retry loop that honours Retry-After --------------------------------------


def retry_after(response: httpx.Response, default: float = 1.0) -> float:
    """Retry-After in seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return default
    if value.strip().isdigit():
        return float(value)
    when = email.utils.parsedate_to_datetime(value)
    return max(0.0, when.timestamp() - time.time())


def get_with_retry(client: httpx.Client, url: str, *, attempts: int = 4) -> httpx.Response:
    """GET, retrying 429 and 503 after the time the server asks for."""
    for attempt in range(1, attempts + 1):
        response = client.get(url)
        if response.status_code not in (429, 503) or attempt == attempts:
            return response
        time.sleep(retry_after(response))
    raise AssertionError("unreachable")


def test_httpx_retry_loop_respects_a_rate_limit(mockstatus, virtual_time):
    mockstatus.load(RATE_LIMIT)
    virtual_time.patch(sys.modules[__name__])  # get_with_retry's time.sleep

    with httpx.Client() as client:
        results = [get_with_retry(client, mockstatus.url("/search")) for _ in range(5)]

    assert [r.status_code for r in results] == [200] * 5
    journal = mockstatus.requests(route="search")
    assert [e["status"] for e in journal] == [200, 200, 200, 429, 200, 200]
    rejected = mockstatus.requests(status=429)
    assert len(rejected) == 1
    # The 4th search waited out the rest of the window (Retry-After: 10), then went through.
    assert virtual_time.sleeps == [10.0]
    assert gaps(journal)[3] == 10.0


def test_the_rate_limit_headers_tell_the_client_what_is_left(mockstatus):
    mockstatus.load(RATE_LIMIT)
    with httpx.Client() as client:
        first = client.get(mockstatus.url("/search"))
        client.get(mockstatus.url("/search"))
        client.get(mockstatus.url("/search"))
        over = client.get(mockstatus.url("/search"))
        mockstatus.clock.advance(4)  # no sleeping: the server's clock moves
        still_over = client.get(mockstatus.url("/search"))

    assert first.headers["X-RateLimit-Remaining"] == "2"
    assert over.status_code == 429 and over.headers["Retry-After"] == "10"
    assert over.headers["RateLimit-Policy"] == '"default";q=3;w=10'
    assert still_over.status_code == 429 and still_over.headers["Retry-After"] == "6"


# --- the clock alone: a maintenance window ---------------------------------------------------


def test_a_maintenance_window_on_the_servers_clock(mockstatus):
    mockstatus.load(
        """
        routes:
          - name: api
            match: {path: /api/**}
            outage:
              - {start: 30s, duration: 60s}
            respond: {status: 200}
        """
    )
    url = mockstatus.url("/api/health")
    assert httpx.get(url).status_code == 200  # the scenario's clock started at load()
    mockstatus.clock.advance(30)
    down = httpx.get(url)
    assert down.status_code == 503 and down.headers["Retry-After"] == "60"
    mockstatus.clock.advance(45)
    assert httpx.get(url).headers["Retry-After"] == "15"  # counts down the seconds left
    mockstatus.clock.advance(15)
    assert httpx.get(url).status_code == 200


# --- async: httpx.AsyncClient in its own session ---------------------------------------------


async def aget_with_retry(
    client: httpx.AsyncClient,
    url: str,
    *,
    attempts: int = 5,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> httpx.Response:
    for attempt in range(1, attempts + 1):
        response = await client.get(url)
        if response.status_code not in (429, 503) or attempt == attempts:
            return response
        await sleep(retry_after(response))
    raise AssertionError("unreachable")


@pytest.mark.asyncio
async def test_async_client_retries_three_times_one_second_apart(mockstatus):
    mockstatus.load(FLAKY)
    session = mockstatus.session()  # its own sequence counter: other sessions are unaffected

    async def advance(seconds: float) -> None:
        mockstatus.clock.advance(seconds)

    async with httpx.AsyncClient(headers=session.headers) as client:
        response = await aget_with_retry(client, session.url("/users/42"), sleep=advance)

    assert response.status_code == 200
    assert response.json() == {"id": "42", "attempt": "4"}
    attempts = session.requests(route="profile")
    assert [a["status"] for a in attempts] == [503, 503, 503, 200]
    assert gaps(attempts) == [1.0, 1.0, 1.0]
    # Another client, without the session header, starts from the top of the sequence.
    assert httpx.get(mockstatus.url("/users/42")).status_code == 503
