"""Sequences, state machines, sessions and templates, driven through ScenarioRuntime (no server)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mockstatus import semantics
from mockstatus.scenarios.loader import load_text
from mockstatus.scenarios.model import ScenarioSet
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.types import ManualClock, Query, RequestFacts


def runtime(yaml_text: str, tmp_path: Path, clock: ManualClock | None = None) -> ScenarioRuntime:
    scenario = load_text(yaml_text, "test.yaml", tmp_path, "test")
    return ScenarioRuntime(
        ScenarioSet((scenario,)), clock=clock or ManualClock(), rng=random.Random(1)
    )


SEM = semantics.StatusSemantics(random.Random(1))


def call(rt: ScenarioRuntime, method: str = "GET", path: str = "/x", **kw):
    headers = {k.lower(): v for k, v in kw.pop("headers", {}).items()}
    query = Query(tuple(kw.pop("query", {}).items()))
    facts = RequestFacts(method=method, path=path, headers=headers, query=query, **kw)
    answer = rt.respond(facts)
    return None if answer is None else answer[0]


def statuses(rt, n, **kw):
    return [call(rt, **kw).status for _ in range(n)]


def header(plan, name):
    return next((v for n, v in plan.headers if n.lower() == name.lower()), None)


SEQ = """
routes:
  - match: {path: /x}
    sequence:
      - {status: 503, headers: {Retry-After: "1"}, times: 2}
      - {status: 200}
    after: %s
    per: %s
"""


def test_sequence_fails_twice_then_repeats_last(tmp_path):
    rt = runtime(SEQ % ("repeat-last", "global"), tmp_path)
    plans = [call(rt) for _ in range(4)]
    assert [p.status for p in plans] == [503, 503, 200, 200]
    assert header(plans[0], "Retry-After") == "1"  # the scenario's value replaces the 503 default


def test_sequence_loop(tmp_path):
    rt = runtime(SEQ % ("loop", "global"), tmp_path)
    assert statuses(rt, 6) == [503, 503, 200, 503, 503, 200]


def test_sequence_per_client(tmp_path):
    rt = runtime(SEQ % ("repeat-last", "client"), tmp_path)
    assert statuses(rt, 3, remote="10.0.0.1") == [503, 503, 200]
    assert statuses(rt, 1, remote="10.0.0.2") == [503]


def test_sequence_per_header(tmp_path):
    rt = runtime(SEQ % ("repeat-last", "header:X-Test-Id"), tmp_path)
    assert statuses(rt, 3, headers={"X-Test-Id": "a"}) == [503, 503, 200]
    assert statuses(rt, 2, headers={"X-Test-Id": "b"}) == [503, 503]


STATE = """
routes:
  - name: login
    match: {method: POST, path: /login}
    respond: {status: 200}
    state: {machine: auth, set: in}
  - name: me
    match: {path: /me}
    state: {machine: auth, when: in}
    respond: {status: 200, body: "hello"}
  - name: me-anon
    match: {path: /me}
    respond: {status: 401}
  - name: logout
    match: {method: POST, path: /logout}
    state: {machine: auth, when: [in], set: start}
    respond: {status: 204}
"""


def test_state_machine_transitions(tmp_path):
    rt = runtime(STATE, tmp_path)
    assert call(rt, path="/me").status == 401
    assert call(rt, "POST", "/logout") is None  # not in state "in": falls through to built-ins
    assert call(rt, "POST", "/login").status == 200
    me = call(rt, path="/me")
    assert me.status == 200 and me.body == b"hello"
    assert call(rt, "POST", "/logout").status == 204
    assert call(rt, path="/me").status == 401


def test_sessions_isolate_states_and_counters(tmp_path):
    rt = runtime(STATE, tmp_path)
    a, b = {"X-Mockstatus-Session": "a"}, {"X-Mockstatus-Session": "b"}
    call(rt, "POST", "/login", headers=a)
    assert call(rt, path="/me", headers=a).status == 200
    assert call(rt, path="/me", headers=b).status == 401
    assert call(rt, path="/me").status == 401  # the default session is separate too
    rt.reset("a")
    assert call(rt, path="/me", headers=a).status == 401


def test_reset_restarts_sequences(tmp_path):
    rt = runtime(SEQ % ("repeat-last", "global"), tmp_path)
    assert statuses(rt, 3) == [503, 503, 200]
    rt.reset()
    assert statuses(rt, 1) == [503]


TEMPLATES = """
routes:
  - match: {path: "/items/{id}"}
    respond:
      status: 201
      headers: {Location: "/items/{{ path.id }}", X-Method: "{{ method }}", X-Q: "{{ query.q }}"}
      json: {id: "{{ path.id }}", n: "{{ count }}", ua: "{{ headers.user-agent }}", missing: "{{ query.nope }}",
             body: "{{ body }}", when: "{{ now }}", uid: "{{ uuid }}"}
"""


def test_templates_render_request_values(tmp_path):
    clock = ManualClock(wall=1_767_225_600.0)
    rt = runtime(TEMPLATES, tmp_path, clock)
    plan = call(
        rt, "POST", "/items/42", headers={"User-Agent": "t/1"}, query={"q": "z"}, body=b"hi"
    )
    assert plan.status == 201
    assert header(plan, "Location") == "/items/42"
    assert header(plan, "X-Method") == "POST" and header(plan, "X-Q") == "z"
    doc = json.loads(plan.body)
    assert doc["id"] == "42" and doc["n"] == "1" and doc["ua"] == "t/1"
    assert doc["missing"] == "" and doc["body"] == "hi"
    assert doc["when"] == "Thu, 01 Jan 2026 00:00:00 GMT"  # from the injected clock
    assert len(doc["uid"]) == 36
    assert json.loads(call(rt, path="/items/7").body)["n"] == "2"


def test_template_values_cannot_inject_headers(tmp_path):
    rt = runtime(TEMPLATES, tmp_path)
    plan = call(rt, path="/items/1", query={"q": "a\r\nSet-Cookie: x=y"})
    assert "\r" not in header(plan, "X-Q") and "\n" not in header(plan, "X-Q")
    assert header(plan, "Set-Cookie") is None


def test_per_code_defaults_are_added_unless_set(tmp_path):
    rt = runtime(
        """
routes:
  - match: {path: /a}
    respond: {status: 503}
  - match: {path: /b}
    respond: {status: 401, headers: {WWW-Authenticate: 'Bearer realm="api"'}}
""",
        tmp_path,
    )
    a = call(rt, path="/a")
    assert header(a, "Retry-After") == "120" and header(a, "Cache-Control") == "no-store"
    b = call(rt, path="/b")
    assert [v for n, v in b.headers if n == "WWW-Authenticate"] == ['Bearer realm="api"']


def test_weighted_status_with_seed_is_repeatable(tmp_path):
    text = """
seed: 3
routes:
  - match: {path: /w}
    respond: {status: {200: 0.5, 503: 0.5}}
"""
    first = statuses(runtime(text, tmp_path), 20, path="/w")
    second = statuses(runtime(text, tmp_path), 20, path="/w")
    assert first == second and set(first) == {200, 503}


def test_unmatched_requests_fall_through(tmp_path):
    rt = runtime(SEQ % ("repeat-last", "global"), tmp_path)
    assert call(rt, path="/status/200") is None


def test_interims_from_a_scenario(tmp_path):
    rt = runtime(
        """
routes:
  - match: {path: /hint}
    respond: {status: 200, interim: [103]}
""",
        tmp_path,
    )
    plan = call(rt, path="/hint")
    assert [i.status for i in plan.interims] == [103]
    (hint,) = plan.interims
    assert hint.headers == (("Link", "</style.css>; rel=preload; as=style"),)
    assert header(plan, "Link") == "</style.css>; rel=preload; as=style"  # RFC 8297: repeated
    # Whether an HTTP/1.0 client gets it is the wire's decision (interim mode), not the plan's.
    assert call(rt, path="/hint", version=(1, 0)).interims == plan.interims


def test_scenario_links_are_the_early_hints(tmp_path):
    rt = runtime(
        """
routes:
  - match: {path: /hint}
    respond: {status: 200, interim: [103], headers: {Link: "</app.js>; rel=preload; as=script"}}
""",
        tmp_path,
    )
    plan = call(rt, path="/hint")
    assert plan.interims[0].headers == (("Link", "</app.js>; rel=preload; as=script"),)
    assert [v for n, v in plan.headers if n == "Link"] == ["</app.js>; rel=preload; as=script"]


def test_describe_shows_routes_states_and_calls(tmp_path):
    rt = runtime(STATE, tmp_path)
    call(rt, "POST", "/login")
    (doc,) = rt.describe()
    assert doc["states"] == {"auth": "in"}
    assert {r["name"]: r["calls"] for r in doc["routes"]}["login"] == 1


@pytest.mark.parametrize("count", [1, 5])
def test_count_is_calls_so_far(tmp_path, count):
    rt = runtime(
        """
routes:
  - match: {path: /c}
    respond: {body: "call {{ count }}"}
""",
        tmp_path,
    )
    plans = [call(rt, path="/c") for _ in range(count)]
    assert plans[-1].body == f"call {count}".encode()


def test_a_103_repeats_the_default_hint_once_in_the_final_headers(tmp_path):
    rt = runtime(
        """
routes:
  - match: {path: /hint}
    respond: {status: 200, interim: [100, 103]}
""",
        tmp_path,
    )
    plan = call(rt, path="/hint")
    assert [(i.status, i.headers) for i in plan.interims] == [
        (100, ()),
        (103, (("Link", "</style.css>; rel=preload; as=style"),)),
    ]
    assert [v for n, v in plan.headers if n.lower() == "link"] == [
        "</style.css>; rel=preload; as=style"
    ]


def test_scenario_links_are_hinted_in_order_and_not_repeated_twice(tmp_path):
    rt = runtime(
        """
routes:
  - match: {path: /hint}
    respond:
      status: 200
      interim: [103]
      headers: {Link: ["</a.js>; rel=preload; as=script", "</b.css>; rel=preload; as=style"]}
""",
        tmp_path,
    )
    plan = call(rt, path="/hint")
    links = ["</a.js>; rel=preload; as=script", "</b.css>; rel=preload; as=style"]
    assert [v for _, v in plan.interims[0].headers] == links
    assert [v for n, v in plan.headers if n.lower() == "link"] == links


def test_no_interim_leaves_the_headers_without_a_link(tmp_path):
    rt = runtime(
        """
routes:
  - match: {path: /plain}
    respond: {status: 200}
""",
        tmp_path,
    )
    plan = call(rt, path="/plain")
    assert plan.interims == ()
    assert [n for n, _ in plan.headers if n.lower() == "link"] == []
