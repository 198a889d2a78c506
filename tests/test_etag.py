"""Derived ETags and conditional 200s (issue 9 item 5; RFC 9110 §8.8.3, §13.2.2, §15.4.5).

The ETag of a response is `"<code>-<first 16 hex digits of SHA-256 of the encoded body>"`, so it
changes whenever the bytes sent change; a GET or HEAD answered 200 evaluates its preconditions
against the validators that 200 carries. Pure plans first, then scenarios, then the wire.
"""

from __future__ import annotations

import hashlib
import random
import textwrap
from pathlib import Path

import httpx
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from mockstatus import conditional, endpoints, semantics
from mockstatus.errors import ScenarioError
from mockstatus.scenarios.loader import load_text
from mockstatus.scenarios.model import ScenarioSet
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.types import DEFAULT_OPTIONS, FORMATS, ManualClock, Options, Query, RequestFacts
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

SEM = semantics.StatusSemantics(random.Random(1), clock=ManualClock())
LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"
EARLIER = "Sun, 31 Dec 2023 00:00:00 GMT"
LATER = "Tue, 02 Jan 2024 00:00:00 GMT"
AFTER_THE_CLOCK = "Fri, 01 Jan 2027 00:00:00 GMT"  # ManualClock() is at 2026-01-01
# What /status/200 sends as text: sha256(b"200 OK") starts f9bafc82ba5f8fb0.
TEXT_200_ETAG = '"200-f9bafc82ba5f8fb0"'


def tag_of(code: int, body: bytes) -> str:
    """The documented formula, written out independently of the implementation."""
    return f'"{code}-{hashlib.sha256(body).hexdigest()[:16]}"'


def header(plan, name: str) -> str | None:
    return next((v for n, v in plan.headers if n.lower() == name.lower()), None)


def names(plan) -> list[str]:
    return [n for n, _ in plan.headers]


def facts(path: str, method: str = "GET", query: str = "", **headers: str) -> RequestFacts:
    pairs = tuple(tuple(kv.split("=", 1)) for kv in query.split("&") if kv)
    fields = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    return RequestFacts(method=method, path=path, query=Query(pairs), headers=fields)  # type: ignore[arg-type]


def status(path: str, method: str = "GET", query: str = "", **headers: str):
    return endpoints.builtin_plan(facts(path, method, query, **headers), SEM)


# --- derived ETags ---------------------------------------------------------------------------


def test_status_200_etag_is_derived_from_the_text_body():
    plan = status("/status/200")
    assert plan.body == b"200 OK"
    assert header(plan, "ETag") == TEXT_200_ETAG == tag_of(200, b"200 OK")
    assert header(plan, "Cache-Control") == "no-cache"


@pytest.mark.parametrize("fmt", ["text", "json", "html"])
def test_each_format_has_the_etag_of_its_own_body(fmt):
    plan = SEM.plan(200, "GET", fmt, DEFAULT_OPTIONS)
    assert header(plan, "ETag") == tag_of(200, plan.body)


def test_the_three_formats_have_three_etags():
    tags = {header(SEM.plan(200, "GET", f, DEFAULT_OPTIONS), "ETag") for f in FORMATS}
    assert len(tags) == 3


def test_head_has_the_etag_of_get():
    get, head = (
        SEM.plan(200, "GET", "json", DEFAULT_OPTIONS),
        SEM.plan(200, "HEAD", "json", DEFAULT_OPTIONS),
    )
    assert header(head, "ETag") == header(get, "ETag") == tag_of(200, get.body)


def test_a_query_that_changes_the_body_changes_the_etag():
    plan = status("/status/200", query="reason=Fine")
    assert plan.body == b"200 Fine" and header(plan, "ETag") == tag_of(200, b"200 Fine")


def test_a_user_etag_header_replaces_the_derived_one():
    plan = status("/status/200", query='header=ETag:"mine"')
    assert [v for n, v in plan.headers if n == "ETag"] == ['"mine"']


@pytest.mark.parametrize("fmt", ["text", "json", "html"])
def test_status_304_carries_the_etag_the_negotiated_200_would(fmt):
    ok = SEM.plan(200, "GET", fmt, DEFAULT_OPTIONS)
    nm = SEM.plan(304, "GET", fmt, DEFAULT_OPTIONS)
    assert (nm.status, nm.body) == (304, b"")
    assert header(nm, "ETag") == header(ok, "ETag") == tag_of(200, ok.body)
    assert header(nm, "Cache-Control") == "no-cache" and header(nm, "Vary") == "Accept"
    assert "Content-Type" not in names(nm)


def test_status_304_with_format_query_names_that_formats_200():
    json_200 = SEM.plan(200, "GET", "json", DEFAULT_OPTIONS)
    nm = status("/status/304", query="format=json")
    assert header(nm, "ETag") == header(json_200, "ETag")


def test_only_200_and_304_get_a_derived_etag():
    for code in (201, 204, 404, 503):
        assert header(SEM.plan(code, "GET", "text", DEFAULT_OPTIONS), "ETag") is None
    assert header(SEM.plan(226, "GET", "text", DEFAULT_OPTIONS), "ETag") == '"ms-226-delta"'


def test_etags_are_hashed_when_plans_are_memoised_not_per_request(monkeypatch):
    calls = []
    real = conditional.body_digest
    monkeypatch.setattr(conditional, "body_digest", lambda body: calls.append(body) or real(body))
    sem = semantics.StatusSemantics(random.Random(1))
    built = len(calls)
    assert built >= 3  # the 200 of each format, hashed at construction
    first = sem.plan(200, "GET", "json", DEFAULT_OPTIONS)
    for _ in range(100):
        assert sem.plan(200, "GET", "json", DEFAULT_OPTIONS) is first
    assert len(calls) == built


def test_build_plan_etag_options():
    def etag_of(code: int, **opts) -> str | None:
        body = opts.pop("body", None)
        plan, _ = semantics.build_plan(code, "GET", "text", Options(**opts), body=body)
        return header(plan, "ETag")

    assert etag_of(200, etag=False) is None
    assert etag_of(201, etag='"v1"') == '"v1"'
    assert etag_of(200, body=b"x") == tag_of(200, b"x")
    # the load-time digest is used for the body it belongs to, and only then
    assert etag_of(200, body=b"x", body_digest="0123456789abcdef") == '"200-0123456789abcdef"'
    assert etag_of(200, body_digest="0123456789abcdef") == TEXT_200_ETAG


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("v1", '"v1"'),
        ('"v1"', '"v1"'),
        ('W/"v1"', 'W/"v1"'),
        ("  v1 ", '"v1"'),
        ("W/v1", '"W/v1"'),  # not a weak tag: W/ must precede a quoted tag
        ("a b", None),
        ('a"b', None),
        ("", None),
        ("tab\there", None),
    ],
)
def test_quote_entity_tag(written, sent):
    assert conditional.quote_entity_tag(written) == sent


# --- conditional 200s (pure) -------------------------------------------------------------------


def test_if_none_match_hit_is_304_with_the_validators():
    plan = status("/status/200", if_none_match=TEXT_200_ETAG)
    assert (plan.status, plan.reason, plan.body, plan.bodiless) == (304, "Not Modified", b"", True)
    assert header(plan, "ETag") == TEXT_200_ETAG
    assert header(plan, "Cache-Control") == "no-cache"
    assert header(plan, "Vary") == "Accept"
    assert header(plan, "Content-Type") is None
    assert not plan.reused


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"if_none_match": TEXT_200_ETAG}, 304, id="inm-hit"),
        pytest.param({"if_none_match": "W/" + TEXT_200_ETAG}, 304, id="inm-weak-comparison"),
        pytest.param({"if_none_match": '"other", ' + TEXT_200_ETAG}, 304, id="inm-list"),
        pytest.param({"if_none_match": "*"}, 304, id="inm-star"),
        pytest.param({"if_none_match": '"200-0000000000000000"'}, 200, id="inm-miss"),
        pytest.param(
            {"if_none_match": '"ms-200"'}, 200, id="the-old-constant-tag-no-longer-matches"
        ),
        # No Last-Modified on /status/200: If-Modified-Since has nothing to compare with.
        pytest.param({"if_modified_since": LATER}, 200, id="ims-without-last-modified"),
        pytest.param({"if_match": TEXT_200_ETAG}, 200, id="if-match-hit"),
        pytest.param({"if_match": '"other"'}, 412, id="if-match-miss"),
        pytest.param({"if_unmodified_since": EARLIER}, 200, id="ius-without-last-modified"),
    ],
)
def test_status_200_preconditions(fields, expected):
    assert status("/status/200", **fields).status == expected


def test_json_200_does_not_match_the_text_etag():
    assert (
        status("/status/200", accept="application/json", if_none_match=TEXT_200_ETAG).status == 200
    )
    json_tag = header(SEM.plan(200, "GET", "json", DEFAULT_OPTIONS), "ETag")
    assert status("/status/200", accept="application/json", if_none_match=json_tag).status == 304


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_only_get_and_head_are_conditional(method):
    plan = status("/status/200", method, if_none_match="*", if_match='"nope"')
    assert plan.status == 200


def test_head_gets_304():
    plan = status("/status/200", "HEAD", if_none_match=TEXT_200_ETAG)
    assert (plan.status, plan.head) == (304, True)


LM_QUERY = "header=Last-Modified:" + LAST_MODIFIED.replace(" ", "%20")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"if_modified_since": LAST_MODIFIED}, 304, id="ims-same"),
        pytest.param({"if_modified_since": LATER}, 304, id="ims-later"),
        pytest.param({"if_modified_since": EARLIER}, 200, id="ims-earlier"),
        pytest.param({"if_modified_since": AFTER_THE_CLOCK}, 200, id="ims-in-the-future"),
        pytest.param({"if_modified_since": "yesterday"}, 200, id="ims-invalid"),
        # §13.2.2: If-None-Match present → If-Modified-Since is not evaluated.
        pytest.param(
            {"if_none_match": '"nope"', "if_modified_since": LATER}, 200, id="inm-wins-over-ims"
        ),
        pytest.param({"if_unmodified_since": EARLIER}, 412, id="ius-fails"),
        pytest.param({"if_unmodified_since": LATER}, 200, id="ius-holds"),
    ],
)
def test_if_modified_since_where_a_last_modified_is_sent(fields, expected):
    query = LM_QUERY.replace("%20", " ")
    plan = status("/status/200", query=query, **fields)
    assert plan.status == expected
    if expected == 304:
        assert header(plan, "Last-Modified") == LAST_MODIFIED
        assert header(plan, "ETag") == TEXT_200_ETAG


def test_412_has_the_412_body():
    plan = status("/status/200", if_match='"other"')
    assert (plan.status, plan.reason, plan.body) == (
        412,
        "Precondition Failed",
        b"412 Precondition Failed",
    )
    assert header(plan, "ETag") is None


def test_other_statuses_are_never_turned_into_304():
    for code in (201, 404, 503):
        assert status(f"/status/{code}", if_none_match="*").status == code


# --- scenarios ---------------------------------------------------------------------------------


def load(text: str, base: Path):
    return load_text(textwrap.dedent(text), "s.yaml", base, "s")


def runtime(text: str, base: Path) -> ScenarioRuntime:
    return ScenarioRuntime(
        ScenarioSet((load(text, base),)), clock=ManualClock(), rng=random.Random(1)
    )


def call(rt: ScenarioRuntime, path: str = "/x", method: str = "GET", **headers: str):
    answer = rt.respond(facts(path, method, **headers))
    assert answer is not None
    return answer[0]


SCENARIO = """
routes:
  - match: {path: /plain}
    respond: {body: "hello"}
  - match: {path: /json}
    respond: {json: {a: 1}}
  - match: {path: /file}
    respond: {file: data.bin}
  - match: {path: /off}
    respond: {body: "hello", etag: false}
  - match: {path: /fixed}
    respond: {body: "hello", etag: v1}
  - match: {path: /weak}
    respond: {body: "hello", etag: 'W/"v1"'}
  - match: {path: /created}
    respond: {status: 201, body: "made", etag: '"c1"'}
  - match: {path: "/items/{id}"}
    respond: {body: "item {{ path.id }}"}
  - match: {path: /dated}
    respond: {body: "hello", headers: {Last-Modified: "Mon, 01 Jan 2024 00:00:00 GMT"}}
  - match: {path: /missing}
    respond: {status: 404, body: "no"}
"""


@pytest.fixture
def rt(tmp_path):
    (tmp_path / "data.bin").write_bytes(b"\x00\x01binary")
    return runtime(SCENARIO, tmp_path)


def test_scenario_etags_are_derived_from_their_bodies(rt):
    assert header(call(rt, "/plain"), "ETag") == tag_of(200, b"hello")
    assert header(call(rt, "/json"), "ETag") == tag_of(200, b'{"a": 1}')
    assert header(call(rt, "/file"), "ETag") == tag_of(200, b"\x00\x01binary")
    assert header(call(rt, "/missing"), "ETag") is None


def test_fixed_bodies_are_hashed_at_load_time(tmp_path):
    (tmp_path / "data.bin").write_bytes(b"\x00\x01binary")
    routes = load(SCENARIO, tmp_path).routes
    digests = [r.respond.body_digest for r in routes]
    assert digests[0] == hashlib.sha256(b"hello").hexdigest()[:16]
    assert digests[2] == hashlib.sha256(b"\x00\x01binary").hexdigest()[:16]
    assert digests[7] is None  # templated: hashed per rendered body
    assert digests[3] is None and digests[4] is None  # etag given: nothing to derive


def test_templated_bodies_get_the_etag_of_the_rendered_body(rt):
    one, two = call(rt, "/items/1"), call(rt, "/items/2")
    assert header(one, "ETag") == tag_of(200, b"item 1")
    assert header(two, "ETag") == tag_of(200, b"item 2")


def test_etag_key(rt):
    assert header(call(rt, "/off"), "ETag") is None
    assert header(call(rt, "/off"), "Cache-Control") == "no-cache"
    assert header(call(rt, "/fixed"), "ETag") == '"v1"'
    assert header(call(rt, "/weak"), "ETag") == 'W/"v1"'
    assert header(call(rt, "/created"), "ETag") == '"c1"'


def test_scenario_200_answers_if_none_match(rt):
    plan = call(rt, "/plain", if_none_match=tag_of(200, b"hello"))
    assert (plan.status, plan.body) == (304, b"")
    assert header(plan, "ETag") == tag_of(200, b"hello")
    assert header(plan, "Content-Type") is None
    assert header(plan, "Vary") is None  # the 200 does not vary on Accept: nor does its 304
    assert call(rt, "/plain", if_none_match='"nope"').status == 200
    assert call(rt, "/fixed", if_none_match='"v1"').status == 304
    assert call(rt, "/weak", if_none_match='"v1"').status == 304  # weak comparison
    assert call(rt, "/created", if_none_match='"c1"').status == 201  # only 200s


def test_scenario_if_modified_since_uses_its_last_modified(rt):
    plan = call(rt, "/dated", if_modified_since=LATER)
    assert plan.status == 304 and header(plan, "Last-Modified") == LAST_MODIFIED
    assert call(rt, "/dated", if_modified_since=EARLIER).status == 200
    assert call(rt, "/plain", if_modified_since=LATER).status == 200  # no Last-Modified sent


def problems(text: str, base: Path) -> list[tuple[int, int, str]]:
    with pytest.raises(ScenarioError) as info:
        load(text, base)
    return [(p.line, p.column, p.message) for p in info.value.problems]


@pytest.mark.parametrize(
    ("respond", "column", "fragment"),
    [
        ('{etag: "a b"}', 21, "'etag' must be false, true or an entity-tag"),
        ("{etag: 'a\"b'}", 21, "no spaces or inner double quotes"),
        ("{etag: [1]}", 21, "'etag' must be a string"),
        ("{etag: v1, headers: {ETag: x}}", 21, "with 'etag' or in 'headers', not both"),
    ],
)
def test_etag_key_problems_are_located(tmp_path, respond, column, fragment):
    found = problems(f"routes:\n  - respond: {respond}\n", tmp_path)
    assert len(found) == 1, found
    assert found[0][:2] == (2, column) and fragment in found[0][2], found


def test_etag_true_is_the_default(tmp_path):
    spec = load("routes:\n  - respond: {body: x, etag: true}\n", tmp_path).routes[0].respond
    assert spec.etag is None and spec.body_digest == hashlib.sha256(b"x").hexdigest()[:16]


# --- on the wire -------------------------------------------------------------------------------


def get(server, target: str, method: str = "GET", **headers: str):
    fields = {k.replace("_", "-"): v for k, v in headers.items()}
    return rawhttp.request(server.port, method, target, fields)[1]


def test_wire_etags_differ_per_format(server):
    text = get(server, "/status/200")
    json_ = get(server, "/status/200", Accept="application/json")
    html = get(server, "/status/200", Accept="text/html")
    assert text.header("ETag") == TEXT_200_ETAG == tag_of(200, text.body)
    assert json_.header("ETag") == tag_of(200, json_.body)
    assert html.header("ETag") == tag_of(200, html.body)
    assert len({text.header("ETag"), json_.header("ETag"), html.header("ETag")}) == 3


def test_wire_304_on_if_none_match_keeps_the_connection_in_sync(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(
            rawhttp.build("GET", "/status/200", {"If-None-Match": TEXT_200_ETAG})
            + rawhttp.build("GET", "/status/200")
        )
        reader = rawhttp.Reader(sock)
        _, nm = reader.read_response()
        _, ok = reader.read_response()
    assert (nm.version, nm.status, nm.reason, nm.body) == ("HTTP/1.1", 304, "Not Modified", b"")
    assert nm.header("ETag") == TEXT_200_ETAG
    assert nm.header("Cache-Control") == "no-cache"
    assert nm.header("Vary") == "Accept"
    assert nm.header("Access-Control-Allow-Origin") == "*"
    present = {n.lower() for n, _ in nm.headers}
    assert not present & {"content-length", "content-type", "transfer-encoding"}
    assert (ok.status, ok.body, ok.header("ETag")) == (200, b"200 OK", TEXT_200_ETAG)


def test_wire_head_if_none_match_is_304(server):
    r = get(server, "/status/200", "HEAD", If_None_Match="W/" + TEXT_200_ETAG)
    assert (r.status, r.header("ETag")) == (304, TEXT_200_ETAG)


def test_wire_status_304_names_the_negotiated_200(server):
    ok = get(server, "/status/200", Accept="application/json")
    nm = get(server, "/status/304", Accept="application/json")
    assert nm.status == 304 and nm.header("ETag") == ok.header("ETag") == tag_of(200, ok.body)
    # and that tag revalidates the 200 it names
    again = get(server, "/status/200", Accept="application/json", If_None_Match=nm.header("ETag"))
    assert again.status == 304


def test_wire_if_modified_since_needs_a_last_modified(server):
    lm = LAST_MODIFIED.replace(" ", "%20")
    assert get(server, "/status/200", If_Modified_Since=LATER).status == 200
    r = get(server, f"/status/200?header=Last-Modified:{lm}", If_Modified_Since=LATER)
    assert (r.status, r.header("Last-Modified"), r.body) == (304, LAST_MODIFIED, b"")
    r = get(server, f"/status/200?header=Last-Modified:{lm}", If_Modified_Since=EARLIER)
    assert (r.status, r.body) == (200, b"200 OK")


def test_wire_if_match_miss_is_412(server):
    r = get(server, "/status/200", If_Match='"nope"')
    assert (r.status, r.body) == (412, b"412 Precondition Failed")


def test_wire_post_is_not_conditional(server):
    r = get(server, "/status/200", "POST", If_None_Match="*")
    assert (r.status, r.body) == (200, b"200 OK")


WIRE_SCENARIO = """
routes:
  - match: {path: /doc}
    respond: {json: {v: 1}}
  - match: {path: /off}
    respond: {body: "x", etag: false}
  - match: {path: /fixed}
    respond: {body: "x", etag: release-7}
"""


def test_wire_scenario_etags_and_304(make_server):
    server = make_server({"s.yaml": WIRE_SCENARIO})
    doc = get(server, "/doc")
    assert doc.body == b'{"v": 1}' and doc.header("ETag") == tag_of(200, b'{"v": 1}')
    nm = get(server, "/doc", If_None_Match=doc.header("ETag"))
    assert (nm.status, nm.body, nm.header("ETag")) == (304, b"", doc.header("ETag"))
    assert nm.header("Content-Type") is None and nm.header("Content-Length") is None
    assert get(server, "/off").header("ETag") is None
    fixed = get(server, "/fixed")
    assert fixed.header("ETag") == '"release-7"'
    assert get(server, "/fixed", If_None_Match='"release-7"').status == 304


def test_wire_if_none_match_on_two_lines_is_one_list(server):
    head = (
        b'GET /status/200 HTTP/1.1\r\nHost: x\r\nIf-None-Match: "a"\r\n'
        b"If-None-Match: " + TEXT_200_ETAG.encode() + b"\r\n\r\n"
    )
    with rawhttp.connect(server.port) as sock:
        sock.sendall(head)
        _, r = rawhttp.Reader(sock).read_response()
    assert (r.status, r.header("ETag")) == (304, TEXT_200_ETAG)


def test_real_clients_revalidate_on_one_keep_alive_connection(server):
    with requests.Session() as session:
        first = session.get(server.url("/status/200"), headers={"Accept": "application/json"})
        tag = first.headers["ETag"]
        again = session.get(
            server.url("/status/200"), headers={"Accept": "application/json", "If-None-Match": tag}
        )
        after = session.get(server.url("/status/503"))
    assert (first.status_code, tag) == (200, tag_of(200, first.content))
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", tag)
    assert (after.status_code, after.content) == (503, b"503 Service Unavailable")
    with httpx.Client() as client:
        r = client.get(server.url("/status/200"), headers={"If-None-Match": TEXT_200_ETAG})
        assert (r.status_code, r.headers["ETag"]) == (304, TEXT_200_ETAG)
        assert client.get(server.url("/status/200")).text == "200 OK"


PRECONDITION_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["*", TEXT_200_ETAG, "W/" + TEXT_200_ETAG, LATER, EARLIER, AFTER_THE_CLOCK]),
)


@given(
    fields=st.dictionaries(
        st.sampled_from(["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]),
        PRECONDITION_VALUES,
    ),
    method=st.sampled_from(["GET", "HEAD"]),
    last_modified=st.sampled_from(["", LM_QUERY.replace("%20", " ")]),
)
def test_preconditions_on_200_never_raise(fields, method, last_modified):
    request = RequestFacts(
        method=method,
        path="/status/200",
        query=Query(tuple(tuple(kv.split("=", 1)) for kv in [last_modified] if kv)),  # type: ignore[arg-type]
        headers=fields,
    )
    plan = endpoints.builtin_plan(request, SEM)
    assert plan.status in (200, 304, 412)
    if plan.status == 304:
        assert plan.body == b"" and header(plan, "ETag") == TEXT_200_ETAG
