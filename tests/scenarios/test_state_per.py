"""State per client (`state: {machine, per}`), sequences with the same `per`, and the admin
calls that read and set a machine's state."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mockstatus.errors import ScenarioError
from mockstatus.scenarios import load_text

LOGIN = """\
name: login
routes:
  - name: login
    match: {method: POST, path: /login}
    state: {machine: session, per: "cookie:sid", set: in}
    respond: {status: 204}
  - name: me-in
    match: {path: /me}
    state: {machine: session, per: "cookie:sid", when: [in]}
    respond: {body: welcome}
  - name: me-out
    match: {path: /me}
    respond: {status: 401}
  - name: count
    match: {path: /count}
    sequence: [{body: one}, {body: two}]
    per: "query:user"
  - name: door
    match: {path: /door}
    state: {machine: door, when: [open]}
    respond: {body: open}
"""


@pytest.fixture
def server(make_server):
    return make_server({"login.yaml": LOGIN})


def test_state_is_kept_per_cookie(server):
    alice, bob = {"Cookie": "sid=alice"}, {"Cookie": "sid=bob"}
    assert httpx.get(server.url("/me"), headers=alice).status_code == 401
    assert httpx.post(server.url("/login"), headers=alice).status_code == 204
    assert httpx.get(server.url("/me"), headers=alice).text == "welcome"
    assert httpx.get(server.url("/me"), headers=bob).status_code == 401  # bob never logged in


def test_sequences_per_query_value(server):
    texts = [httpx.get(server.url(f"/count?user={u}")).text for u in ("a", "a", "b", "a", "b")]
    assert texts == ["one", "two", "one", "two", "two"]


def test_admin_reads_and_sets_a_machine(server):
    base = server.url("/__mockstatus/scenarios/login/state")
    httpx.post(server.url("/login"), headers={"Cookie": "sid=alice"})
    assert httpx.get(f"{base}/session").json() == {"alice": "in"}
    put = httpx.put(f"{base}/session", json={"state": "in", "key": "carol"})
    assert put.status_code == 200
    assert put.json() == {"alice": "in", "carol": "in"}
    assert httpx.get(server.url("/me"), headers={"Cookie": "sid=carol"}).text == "welcome"
    # a global machine: key "", set without a key
    assert httpx.get(f"{base}/door").json() == {"": "start"}
    assert httpx.put(f"{base}/door", json={"state": "open"}).json() == {"": "open"}
    assert httpx.get(server.url("/door")).text == "open"
    # another session's machine is its own
    assert httpx.get(f"{base}/door?session=s1").json() == {"": "start"}
    headers = {"X-Mockstatus-Session": "s1"}
    assert httpx.get(server.url("/door"), headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("session", {"state": "in"}, 400, "is per 'cookie:sid': give the 'key'"),
        ("door", {"state": "open", "key": "x"}, 400, "is global: it takes no 'key'"),
        ("door", {"stat": "open"}, 400, "the body must be"),
        ("nope", {"state": "x"}, 404, "has no state machine 'nope'"),
    ],
)
def test_admin_state_errors(server, path, body, status, message):
    reply = httpx.put(server.url(f"/__mockstatus/scenarios/login/state/{path}"), json=body)
    assert reply.status_code == status
    assert message in reply.json()["error"]


def test_a_machine_needs_one_per():
    text = (
        "routes:\n"
        "  - {state: {machine: m, per: client}, respond: {}}\n"
        "  - {state: {machine: m, per: 'header:X-Id'}, respond: {}}\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_text(text, "t.yaml", Path("."), "t")
    (problem,) = caught.value.problems
    assert problem.line == 3
    assert "state machine 'm' is per 'client' on line 2" in problem.message


def test_per_values_are_checked():
    with pytest.raises(ScenarioError) as caught:
        load_text(
            "routes:\n  - {state: {machine: m, per: body}, respond: {}}\n", "t", Path("."), "t"
        )
    assert "'per' must be one of global, client, header:NAME, cookie:NAME, query:NAME" in str(
        caught.value
    )
