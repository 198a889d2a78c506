"""Richer matching on the wire: cookies, form fields (urlencoded and multipart), JSONPath on the
body, present/absent/not conditions, host without the port, and `priority` in the one order."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest

from mockstatus.errors import ScenarioError
from mockstatus.scenarios import ScenarioSet, load_text
from mockstatus.scenarios.shadow import shadowed_routes

RICH = textwrap.dedent(
    """\
    name: rich
    routes:
      - name: vip
        match: {path: /me, cookies: {tier: gold, sid: "~^[0-9]+$"}}
        respond: {status: 200, body: vip}
      - name: anon
        match: {path: /me, cookies: {sid: {absent: true}}}
        respond: {status: 401}
      - name: member
        match: {path: /me, cookies: {tier: {not: gold}}}
        respond: {status: 200, body: member}
      - name: photo
        match: {method: POST, path: /upload, form: {kind: photo, title: {present: true}}}
        respond: {status: 201, body: photo}
      - name: item3
        match:
          method: POST
          path: /cart
          body: {jsonpath: {"$.items[0].id": 3, "$.user.name": "~^a", "$.coupon": {absent: true}}}
        respond: {status: 200, body: item3}
      - name: deep
        match: {method: POST, path: /cart, body: {jsonpath: {"$..sku": "X-1"}}}
        respond: {status: 200, body: deep}
      - name: nodebug
        match: {path: /h, headers: {X-Debug: {not: {present: true}}}, query: {v: {not: "1"}}}
        respond: {status: 200, body: nodebug}
      - name: tenant
        match: {path: /t, host: API.Example.com}
        respond: {status: 200, body: tenant}
    """
)


@pytest.fixture
def rich(make_server):
    return make_server({"rich.yaml": RICH})


@pytest.mark.parametrize(
    ("cookie", "status", "body"),
    [
        ("tier=gold; sid=42", 200, "vip"),
        ("tier=gold; sid=x42", 200, "member"),  # the regex fails; `tier` is gold: not member...
        ("tier=silver; sid=7", 200, "member"),
        (None, 401, "401 Unauthorized"),
    ],
    ids=["regex-and-value", "regex-fails", "not", "absent"],
)
def test_cookies(rich, cookie, status, body):
    headers = {"Cookie": cookie} if cookie else {}
    reply = httpx.get(rich.url("/me"), headers=headers)
    if cookie == "tier=gold; sid=x42":  # vip fails on sid, member fails on tier: no route
        assert reply.status_code == 404
        return
    assert (reply.status_code, reply.text) == (status, body)


def test_form_urlencoded_and_multipart(rich):
    ok = httpx.post(rich.url("/upload"), data={"kind": "photo", "title": "sea"})
    assert (ok.status_code, ok.text) == (201, "photo")
    missing = httpx.post(rich.url("/upload"), data={"kind": "photo"})
    assert missing.status_code == 404
    multipart = httpx.post(
        rich.url("/upload"),
        data={"kind": "photo"},
        files={"title": ("t.txt", b"content", "text/plain")},
    )
    assert (multipart.status_code, multipart.text) == (201, "photo")
    wrong = httpx.post(rich.url("/upload"), files={"kind": (None, b"video"), "title": (None, b"x")})
    assert wrong.status_code == 404


def test_jsonpath_conditions(rich):
    doc = {"items": [{"id": 3}], "user": {"name": "ann"}}
    assert httpx.post(rich.url("/cart"), json=doc).text == "item3"
    assert httpx.post(rich.url("/cart"), json={**doc, "coupon": "X"}).status_code == 404
    assert httpx.post(rich.url("/cart"), json={**doc, "items": [{"id": "3"}]}).status_code == 404
    deep = {"a": {"b": [{"sku": "X-1"}]}}
    assert httpx.post(rich.url("/cart"), json=deep).text == "deep"
    assert httpx.post(rich.url("/cart"), content=b"not json").status_code == 404


def test_not_present_header_and_not_query(rich):
    assert httpx.get(rich.url("/h")).text == "nodebug"
    assert httpx.get(rich.url("/h"), headers={"X-Debug": "1"}).status_code == 404
    assert httpx.get(rich.url("/h?v=2")).text == "nodebug"
    assert httpx.get(rich.url("/h?v=1")).status_code == 404


def test_host_ignores_port_and_case(rich):
    assert httpx.get(rich.url("/t"), headers={"Host": "api.example.COM:9999"}).text == "tenant"
    assert httpx.get(rich.url("/t"), headers={"Host": "api.example.com"}).text == "tenant"
    assert httpx.get(rich.url("/t"), headers={"Host": "other.example.com"}).status_code == 404


def test_priority_beats_file_order(make_server):
    server = make_server(
        {
            "a.yaml": "routes:\n  - {name: first, match: {path: /p}, respond: {body: a}}\n",
            "b.yaml": (
                "routes:\n  - {name: urgent, priority: 5, match: {path: /p}, respond: {body: b}}\n"
            ),
        }
    )
    assert httpx.get(server.url("/p")).text == "b"


def test_priority_orders_shadowing_the_same_way():
    low = load_text("routes:\n  - {name: x, match: {path: /p}, respond: {}}\n", "a", Path("."), "a")
    high = load_text(
        "routes:\n  - {name: y, priority: 1, match: {path: /p}, respond: {}}\n", "b", Path("."), "b"
    )
    pairs, complete = shadowed_routes(ScenarioSet((low, high)))
    assert complete
    assert [(a.name, b.name, kind) for a, b, kind in pairs] == [("y", "x", "full")]


@pytest.mark.parametrize(
    ("match", "message"),
    [
        ("{cookies: {a: {present: 1}}}", "'present' takes true or false"),
        ("{headers: {A: [1, 2]}}", "'headers.A' takes a value, a '~regex'"),
        ("{body: {jsonpath: {'$.a[': 1}}}", "JSONPath '$.a[' is not valid RFC 9535"),
        ("{host: 'a.com:80'}", "'host' is compared without the port"),
        ("{form: {a: '~['}}", "regex '[' does not compile"),
    ],
)
def test_bad_conditions_are_located_errors(match, message):
    text = f"routes:\n  - match: {match}\n    respond: {{}}\n"
    with pytest.raises(ScenarioError) as caught:
        load_text(text, "t.yaml", Path("."), "t")
    assert message in str(caught.value)
    assert "t.yaml:2:" in str(caught.value)
