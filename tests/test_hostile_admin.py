"""Hostile input to the admin API and to scenario routes, on a real listening server: JSON
nested past Python's (or the JSONPath library's) recursion limit is a clear 4xx or a plain
non-match, never a 500."""

from __future__ import annotations

import httpx
import pytest

SCENARIO = """
name: deep
routes:
  - name: login
    match: {path: /login}
    state: {machine: auth, set: in}
    respond: {status: 200, body: in}
  - name: desc
    match:
      path: /desc
      body:
        jsonpath:
          "$..sku": {not: "X"}
    respond: {status: 200, body: desc}
  - name: echo
    match: {path: /echo}
    respond: {status: 200, body: "got {{ body.$..a }}."}
"""


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.fixture
def server(make_server):
    return make_server({"deep.yaml": SCENARIO})


@pytest.mark.parametrize("depth", [10_000, 100_000], ids=["10k", "100k"])
def test_override_body_nested_past_the_stack_is_400(server, depth):
    url = server.url("/__mockstatus/scenarios/deep/routes/login/override")
    resp = httpx.post(url, content=nested(depth), headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["error"].startswith("the body must be JSON")


def test_state_put_body_nested_past_the_stack_is_400(server):
    url = server.url("/__mockstatus/scenarios/deep/state/auth")
    resp = httpx.put(url, content=b'{"state":' * 10_000 + b"1" + b"}" * 10_000)
    assert resp.status_code == 400
    assert resp.json()["error"].startswith("the body must be JSON")
    # the machine still answers afterwards
    assert httpx.get(url).status_code == 200


def test_descendant_jsonpath_on_a_body_deeper_than_the_library_allows_does_not_match(server):
    body = b'{"sku": "A", "a": ' + nested(150) + b"}"
    resp = httpx.post(server.url("/desc"), content=body)
    assert resp.status_code == 404
    unmatched = httpx.get(server.url("/__mockstatus/requests/unmatched")).json()["requests"]
    assert unmatched[-1]["near_misses"] == [
        {
            "scenario": "deep",
            "route": "desc",
            "failed": "body",
            "detail": "body JSON is nested too deep for $..sku",
        }
    ]
    # a shallow body still matches
    assert httpx.post(server.url("/desc"), content=b'{"sku": "A"}').text == "desc"


def test_descendant_jsonpath_template_on_a_deep_body_renders_empty(server):
    resp = httpx.post(server.url("/echo"), content=b'{"a": ' + nested(150) + b"}")
    assert (resp.status_code, resp.text) == (200, "got .")
    assert httpx.post(server.url("/echo"), content=b'{"a": 7}').text == "got 7."


@pytest.mark.parametrize(
    "method, path",
    [
        ("PUT", "/__mockstatus/scenarios/%ff"),
        ("GET", "/__mockstatus/scenarios/caf%e9"),
        ("DELETE", "/__mockstatus/scenarios/%c3"),
        ("POST", "/__mockstatus/scenarios/deep/routes/%ff%fe/override"),
        ("GET", "/__mockstatus/scenarios/deep/state/%80"),
    ],
)
def test_a_name_that_is_not_utf8_once_percent_decoded_is_400(server, method, path):
    resp = httpx.request(method, server.url(path), content=b"name: x\nroutes: []\n")
    assert resp.status_code == 400
    assert resp.json()["error"] == (
        f"the path {path!r} is not UTF-8 once percent-decoded: names in admin paths are UTF-8 text"
    )


def test_percent_encoded_utf8_and_a_literal_percent_are_names(server):
    body = "name: x\nroutes:\n  - match: {path: /pct}\n    respond: {status: 200}\n"
    assert (
        httpx.put(server.url("/__mockstatus/scenarios/caf%C3%A9"), content=body).json()["name"]
        == "café"
    )
    assert (
        httpx.put(server.url("/__mockstatus/scenarios/%25ff"), content=body).json()["name"] == "%ff"
    )
    names = [
        s["name"] for s in httpx.get(server.url("/__mockstatus/scenarios")).json()["scenarios"]
    ]
    assert names[:2] == ["%ff", "café"]
