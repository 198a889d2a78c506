"""Why no match: the near-miss explanation for each kind of condition, the negotiated 404 on the
wire, the journal, `/requests/unmatched` and `assert_all_matched()`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest

from mockstatus.assertions import UnmatchedRequests
from mockstatus.client import Client
from mockstatus.scenarios import ScenarioSet, load_text
from mockstatus.scenarios.nearmiss import near_misses
from mockstatus.types import Query, RequestFacts

ORDERS = textwrap.dedent(
    """\
    name: shop
    routes:
      - name: create
        match: {method: POST, path: /orders}
        respond: {status: 201}
      - name: get
        match: {method: GET, path: '/orders/{id}', headers: {X-Api-Key: secret}}
        respond: {status: 200}
      - name: login
        match: {path: /login, state: {}}
        state: {machine: session, when: in}
        respond: {status: 200}
      - name: pay
        match:
          method: POST
          path: /pay
          body: {jsonpath: {"$.amount": 10}}
        respond: {status: 200}
      - name: prefs
        match: {path: /prefs, cookies: {sid: {present: true}}, query: {lang: {not: xx}}}
        respond: {status: 200}
      - name: upload
        match: {method: POST, path: /upload, form: {kind: photo}}
        respond: {status: 200}
      - name: tenant
        match: {path: /tenant, host: api.example.com}
        respond: {status: 200}
    """
).replace("match: {path: /login, state: {}}", "match: {path: /login}")


def facts(
    method: str = "GET",
    path: str = "/",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    query: dict[str, str] | None = None,
    host: str = "localhost:8080",
) -> RequestFacts:
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    items = tuple((query or {}).items())
    return RequestFacts(
        method, path, Query(items), lowered, tuple(lowered.items()), host=host, body=body
    )


def routes():
    scenario = load_text(ORDERS, "shop.yaml", Path("."), "shop")
    return ScenarioSet((scenario,)).routes_in_order()


def start(scenario: str, machine: str) -> str:
    return "start"


@pytest.mark.parametrize(
    ("request_facts", "expected"),
    [
        pytest.param(
            facts("GET", "/orders"), ("create", "method", "method GET not in [POST]"), id="method"
        ),
        pytest.param(
            facts("GET", "/order/1", {"X-Api-Key": "secret"}),
            ("get", "path", "path /order/1 does not match /orders/{id}"),
            id="path-typo",
        ),
        pytest.param(
            facts("GET", "/orders/1"), ("get", "header", "header x-api-key missing"), id="header"
        ),
        pytest.param(
            facts("GET", "/login"),
            ("login", "state", "state 'session' is 'start', route wants 'in'"),
            id="state",
        ),
        pytest.param(
            facts("POST", "/pay", body=b'{"amount": 5}'),
            ("pay", "body", "body json $.amount: 5 does not match 10"),
            id="jsonpath",
        ),
        pytest.param(
            facts("GET", "/prefs", query={"lang": "en"}),
            ("prefs", "cookie", "cookie sid missing"),
            id="cookie-present",
        ),
        pytest.param(
            facts("GET", "/prefs", {"Cookie": "sid=1"}, query={"lang": "xx"}),
            ("prefs", "query", "query lang='xx' does not match 'not xx'"),
            id="query-not",
        ),
        pytest.param(
            facts(
                "POST",
                "/upload",
                {"Content-Type": "application/x-www-form-urlencoded"},
                b"kind=video",
            ),
            ("upload", "form", "form field kind='video' does not match 'photo'"),
            id="form",
        ),
        pytest.param(
            facts("GET", "/tenant", host="API.other.com:80"),
            ("tenant", "host", "host 'api.other.com' does not match 'api.example.com'"),
            id="host",
        ),
    ],
)
def test_the_first_near_miss_names_the_failed_condition(request_facts, expected):
    found = near_misses(routes(), request_facts, start)
    assert found, "expected a near miss"
    first = found[0]
    assert (first["route"], first["failed"], first["detail"]) == expected
    assert first["scenario"] == "shop"


def test_far_paths_are_not_near_misses_and_at_most_three_are_kept():
    assert near_misses(routes(), facts("GET", "/status/503"), start) == ()
    many = "routes:\n" + "".join(
        f"  - {{name: r{i}, match: {{path: /x, headers: {{h{i}: v}}}}, respond: {{}}}}\n"
        for i in range(10)
    )
    scenario = ScenarioSet((load_text(many, "m.yaml", Path("."), "m"),))
    found = near_misses(scenario.routes_in_order(), facts("GET", "/x"), start)
    assert [m["route"] for m in found] == ["r0", "r1", "r2"]  # fewest failures, then order


def test_fewest_failures_rank_first():
    text = textwrap.dedent(
        """\
        routes:
          - {name: two, match: {method: POST, path: /a, headers: {X: "1"}}, respond: {}}
          - {name: one, match: {method: POST, path: /a}, respond: {}}
        """
    )
    scenario = ScenarioSet((load_text(text, "t.yaml", Path("."), "t"),))
    found = near_misses(scenario.routes_in_order(), facts("GET", "/a"), start)
    assert [m["route"] for m in found] == ["one", "two"]


# --- on the wire --------------------------------------------------------------------------------


@pytest.fixture
def shop(make_server):
    return make_server({"shop.yaml": ORDERS})


def test_404_json_body_lists_near_misses(shop):
    reply = httpx.get(shop.url("/orders/7"), headers={"Accept": "application/json"})
    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("application/json")
    doc = reply.json()
    assert doc["code"] == 404
    assert doc["reason"] == "Not Found"
    assert doc["description"].startswith("No scenario route matched GET /orders/7")
    assert doc["near_misses"][0] == {
        "scenario": "shop",
        "route": "get",
        "failed": "header",
        "detail": "header x-api-key missing",
    }


def test_404_text_and_html_bodies(shop):
    text = httpx.get(shop.url("/orders/7"))
    assert text.status_code == 404
    assert text.headers["content-type"].startswith("text/plain")
    assert "  shop/get (header): header x-api-key missing" in text.text.splitlines()
    page = httpx.get(shop.url("/orders/7"), headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    assert "<code>shop/get</code> (header): header x-api-key missing" in page.text


def test_journal_unmatched_endpoint_and_assert_all_matched(shop):
    client = Client(shop.base_url)
    assert httpx.get(shop.url("/orders/7"), headers={"X-Api-Key": "secret"}).status_code == 200
    client.assert_all_matched()  # a matched request is not unmatched
    httpx.get(shop.url("/orders/7"))  # a near miss, final 404
    httpx.get(shop.url("/nothing/here"))  # the final 404, nothing close
    httpx.post(shop.url("/status/201"))  # a built-in answered: not unmatched
    listed = client.unmatched()
    assert [(e["path"], e["status"]) for e in listed] == [
        ("/orders/7", 404),
        ("/nothing/here", 404),
    ]
    assert listed[0]["near_misses"][0]["detail"] == "header x-api-key missing"
    assert listed[1]["near_misses"] == []
    entries = client.requests()
    assert "near_misses" not in entries[0]  # the matched one
    with pytest.raises(UnmatchedRequests) as caught:
        client.assert_all_matched()
    message = str(caught.value)
    assert "2 request(s) matched no scenario route" in message
    assert "GET /orders/7 -> 404" in message
    assert "near miss shop/get (header): header x-api-key missing" in message
    assert isinstance(caught.value, AssertionError)


def test_near_misses_kept_when_a_builtin_answers(make_server):
    server = make_server(
        {
            "s.yaml": "routes:\n  - {name: r, match: {path: /status/503, method: POST}, respond: {}}\n"
        }
    )
    reply = httpx.get(server.url("/status/503"))
    assert reply.status_code == 503  # the built-in answered
    (entry,) = Client(server.base_url).unmatched()
    assert entry["near_misses"] == [
        {"scenario": "s", "route": "r", "failed": "method", "detail": "method GET not in [POST]"}
    ]
