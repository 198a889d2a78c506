"""The admin API under /__mockstatus (SCENARIOS.md): scenarios, reset, journal, wait, clock,
token, catalog. Bad input is always a 4xx JSON error, never a 500. No sleeps: waits are bounded
and time moves on the injected manual clock."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import urllib.parse

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockstatus import admin, codes
from mockstatus.app import Mockstatus
from mockstatus.types import ManualClock
from tests import rawhttp

SEQ = """
name: seq
routes:
  - name: r
    match: {path: /seq}
    sequence:
      - {status: 503, times: 1}
      - {status: 200}
"""

BAD = """
routes:
  - name: r
    match: {pth: /x}
    respond: {status: 200}
"""

FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def api(server, path: str) -> str:
    return server.url("/__mockstatus" + path)


def put(server, name: str, text: str | bytes, **kwargs) -> httpx.Response:
    body = text.encode() if isinstance(text, str) else text
    return httpx.put(api(server, f"/scenarios/{name}"), content=body, **kwargs)


def json_error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc["code"] == status and doc["error"]
    return doc


# --- routing -----------------------------------------------------------------------------------


def test_health(server):
    r = httpx.get(api(server, "/health"))
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["Cache-Control"] == "no-store"


def test_unknown_endpoint_is_a_404_listing_the_endpoints(server):
    doc = json_error(httpx.get(api(server, "/nope")), 404)
    assert "GET, PUT, DELETE /__mockstatus/scenarios/{name}" in doc["endpoints"]
    json_error(httpx.get(api(server, "/")), 404)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/health", "GET, HEAD"),
        ("PATCH", "/scenarios/x", "GET, PUT, DELETE, HEAD"),
        ("GET", "/reset", "POST"),
        ("PUT", "/requests", "GET, DELETE, HEAD"),
        ("GET", "/clock/advance", "POST"),
    ],
)
def test_wrong_method_is_a_405_with_allow(server, method, path, allow):
    r = httpx.request(method, api(server, path))
    json_error(r, 405)
    assert r.headers["Allow"] == allow


def test_head_gets_the_headers_without_a_body(server):
    r = httpx.head(api(server, "/requests"))
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Type"].startswith("application/json")


def test_admin_requests_are_not_journaled(server):
    httpx.get(api(server, "/health"))
    httpx.get(server.url("/status/204"))
    doc = httpx.get(api(server, "/requests")).json()
    assert [e["path"] for e in doc["requests"]] == ["/status/204"]


# --- scenarios ---------------------------------------------------------------------------------


def test_put_get_delete_round_trip(server):
    r = put(server, "seq", SEQ)
    assert r.status_code == 201
    doc = r.json()
    assert doc["name"] == "seq" and doc["created"] is True
    assert [route["name"] for route in doc["routes"]] == ["r"]
    assert httpx.get(server.url("/seq")).status_code == 503

    r = put(server, "seq", SEQ.replace("503", "502"))
    assert r.status_code == 200 and r.json()["created"] is False

    listing = httpx.get(api(server, "/scenarios")).json()
    assert "seq" in [s["name"] for s in listing["scenarios"]]
    assert listing["uploads"] == ["seq"]
    one = httpx.get(api(server, "/scenarios/seq")).json()
    assert one["name"] == "seq" and one["file"] == "<upload:seq>"

    assert httpx.delete(api(server, "/scenarios/seq")).json() == {"deleted": "seq"}
    assert httpx.get(server.url("/seq")).status_code == 404
    json_error(httpx.delete(api(server, "/scenarios/seq")), 404)
    json_error(httpx.get(api(server, "/scenarios/seq")), 404)


def test_put_names_the_scenario_after_the_url(server):
    assert put(server, "other", SEQ).json()["name"] == "other"
    r = httpx.get(server.url("/seq"))
    assert r.status_code == 503
    assert httpx.get(api(server, "/requests")).json()["requests"][0]["scenario"] == "other"


def test_a_rejected_scenario_lists_file_line_problems(server):
    doc = json_error(put(server, "bad", BAD), 400)
    assert doc["problems"], doc
    assert all(re.match(r"^<upload:bad>:\d+:\d+: ", p) for p in doc["problems"])
    assert any("pth" in p and "path" in p for p in doc["problems"])  # a close match suggested
    first = doc["details"][0]
    assert {"file", "line", "column", "message"} <= first.keys() and first["line"] == 4
    assert httpx.get(api(server, "/scenarios/bad")).status_code == 404  # nothing was loaded


def test_yaml_syntax_errors_are_400_with_a_line(server):
    doc = json_error(put(server, "broken", "routes: [\n  - {match: \n"), 400)
    assert re.match(r"^<upload:broken>:\d+:\d+: ", doc["problems"][0])


@pytest.mark.parametrize(
    "body", [b"", b"\xff\xfe not utf-8", b"[1, 2]", b"routes: 7", b"name: {a: 1}\nroutes: []"]
)
def test_unusable_uploads_are_400(server, body):
    json_error(put(server, "x", body), 400)


@pytest.mark.parametrize("name", ["a%2Fb", "x" * 201, "tab%09name"])
def test_bad_scenario_names_are_400(server, name):
    json_error(put(server, name, SEQ), 400)


def test_an_oversized_upload_is_413_without_reading_it(server):
    head = rawhttp.build(
        "PUT",
        "/__mockstatus/scenarios/big",
        {"Content-Length": str(admin.MAX_UPLOAD + 1), "Content-Type": "application/yaml"},
    )
    with rawhttp.connect(server.port) as sock:
        sock.sendall(head)  # the body never comes: the answer must not wait for it
        _, resp = rawhttp.Reader(sock).read_response()
    assert resp.status == 413 and json.loads(resp.body)["code"] == 413
    assert (resp.header("Connection") or "").lower() == "close"


def test_an_oversized_chunked_upload_is_413(server):
    chunk = b"# " + b"x" * (64 * 1024 - 3) + b"\n"
    chunks = [chunk] * (admin.MAX_UPLOAD // len(chunk) + 2)
    r = httpx.put(api(server, "/scenarios/big"), content=iter(chunks))
    json_error(r, 413)


def test_the_upload_limit_also_holds_in_process():
    app = Mockstatus(clock=ManualClock())
    reply = asyncio.run(
        app.admin.dispatch("PUT", "/scenarios/big", {}, b"#" * (admin.MAX_UPLOAD + 1))
    )
    assert reply.status == 413


def test_expect_100_continue_is_answered_before_the_body(server):
    body = SEQ.encode()
    head = rawhttp.build(
        "PUT",
        "/__mockstatus/scenarios/seq",
        {"Content-Length": str(len(body)), "Expect": "100-continue"},
    )
    with rawhttp.connect(server.port) as sock:
        sock.sendall(head)
        reader = rawhttp.Reader(sock)
        assert reader.read_head().status == 100
        sock.sendall(body)
        _, resp = reader.read_response()
    assert resp.status == 201


def test_delete_hides_a_folder_scenario_until_reload(make_server):
    server = make_server({"seq.yaml": SEQ})
    assert httpx.get(server.url("/seq")).status_code == 503
    assert httpx.delete(api(server, "/scenarios/seq")).status_code == 200
    assert httpx.get(server.url("/seq")).status_code == 404
    assert httpx.post(api(server, "/reload")).status_code == 200
    assert httpx.get(server.url("/seq")).status_code == 200  # back, with its counter kept


def test_reload_of_a_broken_folder_is_400_and_keeps_serving(make_server):
    server = make_server({"seq.yaml": SEQ})
    (server.app.store.folder / "seq.yaml").write_text(BAD)
    doc = json_error(httpx.post(api(server, "/reload")), 400)
    assert doc["errors"] and doc["errors"][0]["text"].endswith(doc["errors"][0]["message"])
    assert httpx.get(server.url("/seq")).status_code == 503
    assert httpx.get(api(server, "/scenarios")).json()["load_failures"] == 1


# --- reset -------------------------------------------------------------------------------------


def test_reset_restarts_counters(server):
    put(server, "seq", SEQ)
    assert [httpx.get(server.url("/seq")).status_code for _ in range(3)] == [503, 200, 200]
    assert httpx.post(api(server, "/reset")).json() == {"reset": "all"}
    assert httpx.get(server.url("/seq")).status_code == 503


def test_reset_of_one_session_leaves_the_others(server):
    put(server, "seq", SEQ)
    a = {"X-Mockstatus-Session": "a"}
    assert [httpx.get(server.url("/seq"), headers=a).status_code for _ in range(2)] == [503, 200]
    assert [httpx.get(server.url("/seq")).status_code for _ in range(2)] == [503, 200]
    assert httpx.post(api(server, "/reset?session=a")).json() == {"reset": "a"}
    assert httpx.get(server.url("/seq"), headers=a).status_code == 503
    assert httpx.get(server.url("/seq")).status_code == 200


# --- the journal -------------------------------------------------------------------------------


def journal(server, query: str = "") -> list[dict]:
    r = httpx.get(api(server, "/requests" + query))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["count"] == len(doc["requests"])
    return doc["requests"]


def test_journal_entries_carry_what_was_asked_and_answered(server):
    put(server, "seq", SEQ)
    httpx.post(server.url("/status/201?x=1"), content=b'{"amount": 5}', headers={"X-Test": "t"})
    httpx.get(server.url("/seq"), headers={"X-Mockstatus-Session": "s1"})
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url("/status/200?fault=close"))
    first, second, third = journal(server)
    assert first["method"] == "POST" and first["path"] == "/status/201"
    assert first["query"] == "x=1" and first["body"] == '{"amount": 5}'
    assert first["headers"]["X-Test"] == "t" and first["status"] == 201
    assert first["scenario"] is None and first["route"] is None and first["session"] is None
    assert first["duration_ms"] >= 0 and first["seq"] < second["seq"] < third["seq"]
    assert second["scenario"] == "seq" and second["route"] == "r"
    assert second["session"] == "s1" and second["status"] == 503
    assert third["fault"] == "close"


def test_journal_keeps_the_body_an_endpoint_read(server):
    httpx.post(server.url("/anything/x"), content=b"hello")  # no scenario needed the body
    assert journal(server)[0]["body"] == "hello"


def test_journal_time_is_the_servers_clock(make_server):
    clock = ManualClock()
    server = make_server(clock=clock)
    httpx.get(server.url("/status/200"))
    server.call(clock.advance, 2.5)
    httpx.get(server.url("/status/200"))
    a, b = journal(server)
    assert a["time"] == clock.wall() - 2.5 and b["time"] - a["time"] == 2.5


def test_journal_filters(make_server):
    clock = ManualClock()
    server = make_server(clock=clock)
    put(server, "seq", SEQ)
    httpx.get(server.url("/status/200"))
    httpx.get(server.url("/seq"), headers={"X-Mockstatus-Session": "a"})
    server.call(clock.advance, 10)
    httpx.post(server.url("/status/503"))
    httpx.get(server.url("/seq"))

    def paths(query: str) -> list[str]:
        return [e["path"] for e in journal(server, query)]

    assert paths("") == ["/status/200", "/seq", "/status/503", "/seq"]
    assert paths("?route=r") == ["/seq", "/seq"]
    assert paths("?scenario=seq&session=a") == ["/seq"]
    assert paths("?path=/status/503") == ["/status/503"]
    assert paths("?method=post") == ["/status/503"]
    assert paths("?status=503") == ["/seq", "/status/503", "/seq"]  # each session's first call
    assert paths("?limit=2") == ["/status/503", "/seq"]
    second = journal(server)[1]
    assert paths(f"?since={second['seq']}") == ["/status/503", "/seq"]
    assert paths(f"?since={second['time']}") == ["/status/503", "/seq"]  # an epoch time
    assert paths(f"?since={second['time']}&route=r&limit=1") == ["/seq"]


@pytest.mark.parametrize(
    "query",
    [
        "limit=abc",
        "limit=0",
        "limit=-1",
        "limit=1.5",
        "since=abc",
        "since=nan",
        "since=inf",
        "since=-1",
        "status=999",
        "status=abc",
        "foo=1",
        "session=a%00b",
    ],
)
def test_bad_journal_queries_are_400(server, query):
    doc = json_error(httpx.get(api(server, "/requests?" + query)), 400)
    assert query.split("=")[0] in doc["error"]


def test_delete_requests_all_or_one_session(server):
    httpx.get(server.url("/status/200"), headers={"X-Mockstatus-Session": "a"})
    httpx.get(server.url("/status/200"), headers={"X-Mockstatus-Session": "b"})
    httpx.get(server.url("/status/200"))
    r = httpx.delete(api(server, "/requests?session=a"))
    assert r.json() == {"cleared": "a", "removed": 1}
    assert [e["session"] for e in journal(server)] == ["b", None]
    assert httpx.delete(api(server, "/requests")).json() == {"cleared": "all", "removed": 2}
    assert journal(server) == []


def test_the_journal_keeps_the_newest(make_server):
    server = make_server(journal_size=3)
    for code in (200, 201, 202, 203):
        httpx.get(server.url(f"/status/{code}"))
    assert [e["status"] for e in journal(server)] == [201, 202, 203]


# --- waiting for requests ----------------------------------------------------------------------


def test_wait_returns_once_the_requests_arrived(server):
    result: dict = {}

    def waiter() -> None:
        result["r"] = httpx.get(
            api(server, "/requests/wait?count=2&path=/status/202&timeout=10"), timeout=20
        )

    thread = threading.Thread(target=waiter)
    thread.start()
    httpx.get(server.url("/status/200"))  # does not match
    httpx.get(server.url("/status/202"))
    httpx.get(server.url("/status/202"))
    thread.join(20)
    assert not thread.is_alive()
    r = result["r"]
    assert r.status_code == 200
    doc = r.json()
    assert doc["complete"] is True and doc["count"] == 2 and doc["wanted"] == 2
    assert [e["path"] for e in doc["requests"]] == ["/status/202", "/status/202"]


def test_wait_that_times_out_is_408_with_what_arrived(server):
    httpx.get(server.url("/status/202"))
    r = httpx.get(api(server, "/requests/wait?count=3&path=/status/202&timeout=0"))
    assert r.status_code == 408
    doc = r.json()
    assert doc["complete"] is False and doc["count"] == 1


@pytest.mark.parametrize(
    "query",
    ["count=0", "count=x", "count=1001", "timeout=61", "timeout=-1", "timeout=nan", "bogus=1"],
)
def test_bad_wait_queries_are_400(server, query):
    if "timeout" not in query:
        query += "&timeout=0"  # were it valid, the answer would not wait
    json_error(httpx.get(api(server, "/requests/wait?" + query)), 400)


# --- the clock ---------------------------------------------------------------------------------


def test_clock_advance_when_controllable(make_server):
    clock = ManualClock()
    server = make_server(clock=clock, clock_controllable=True)
    before = httpx.get(api(server, "/clock")).json()
    assert before["controllable"] is True
    r = httpx.post(api(server, "/clock/advance?seconds=2.5"))
    assert r.status_code == 200
    doc = r.json()
    assert doc["advanced"] == 2.5
    assert doc["monotonic"] - before["monotonic"] == 2.5 and doc["wall"] - before["wall"] == 2.5


def test_clock_advance_on_a_system_clock_is_409(server):
    doc = json_error(httpx.post(api(server, "/clock/advance?seconds=1")), 409)
    assert "--clock manual" in doc["error"]
    assert httpx.get(api(server, "/clock")).json()["controllable"] is False


@pytest.mark.parametrize(
    "query", ["", "?seconds=-1", "?seconds=nan", "?seconds=x", "?seconds=1e20"]
)
def test_bad_clock_advances_are_400(make_server, query):
    server = make_server(clock_controllable=True)
    json_error(httpx.post(api(server, "/clock/advance" + query)), 400)


# --- the admin token ---------------------------------------------------------------------------


@pytest.fixture
def guarded(make_server):
    return make_server(admin_token="s3cret")


AUTH = {"Authorization": "Bearer s3cret"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/scenarios/seq"),
        ("DELETE", "/scenarios/seq"),
        ("POST", "/reset"),
        ("POST", "/reload"),
        ("DELETE", "/requests"),
        ("POST", "/clock/advance?seconds=1"),
        ("POST", "/purge?owner=o"),
    ],
)
def test_mutations_need_the_token(guarded, method, path):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        r = httpx.request(method, api(guarded, path), headers=headers, content=SEQ.encode())
        json_error(r, 401)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_with_the_token_mutations_work_and_only_the_open_reads_need_none(guarded):
    assert put(guarded, "seq", SEQ, headers=AUTH).status_code == 201
    assert httpx.post(api(guarded, "/reset"), headers=AUTH).status_code == 200
    for path in ("/health", "/metrics", "/clock", "/catalog", "/catalog/503"):
        assert httpx.get(api(guarded, path)).status_code == 200, path
    for path in ("/scenarios", "/scenarios/seq", "/requests", "/requests/wait?timeout=0&count=1"):
        json_error(httpx.get(api(guarded, path)), 401)
        json_error(httpx.get(api(guarded, path), headers={"Authorization": "Bearer no"}), 401)
        assert httpx.get(api(guarded, path), headers=AUTH).status_code in (200, 408), path


def test_a_non_ascii_authorization_header_is_a_401_not_a_500(guarded):
    head = rawhttp.build("POST", "/__mockstatus/reset", {"Content-Length": "0"})
    head = head.replace(b"\r\n\r\n", b"\r\nAuthorization: Bearer \xff\xfe\r\n\r\n")
    with rawhttp.connect(guarded.port) as sock:
        sock.sendall(head)
        _, resp = rawhttp.Reader(sock).read_response()
    assert resp.status == 401


# --- the catalog -------------------------------------------------------------------------------


def test_catalog_lists_every_code(server):
    doc = httpx.get(api(server, "/catalog")).json()
    assert doc["count"] == 500 and [e["code"] for e in doc["codes"]] == list(range(100, 600))
    assert doc["formats"]["json"] == "application/json"
    assert ["Server", "mockstatus/" + doc["server"].split("/")[1]] in doc["every_response"]
    by_code = {e["code"]: e for e in doc["codes"]}
    e503 = by_code[503]
    assert (e503["reason"], e503["class"], e503["rfc"]) == (
        "Service Unavailable",
        "5xx",
        "RFC 9110 §15.6.4",
    )
    assert ["Retry-After", "120"] in e503["headers"] and ["Cache-Control", "no-store"] in e503[
        "headers"
    ]
    assert e503["bodies"]["json"]["content_type"] == "application/json"
    assert json.loads(e503["bodies"]["json"]["body"])["code"] == 503
    assert e503["bodies"]["text"]["body"] == "503 Service Unavailable"
    assert by_code[204]["bodiless"] and by_code[204]["bodies"]["json"]["content_type"] is None
    assert (
        by_code[205]["content_length_zero"]
        and by_code[205]["bodies"]["text"]["content_length"] == 0
    )
    assert "Payload Too Large" in by_code[413]["aliases"]
    assert by_code[103]["interims"][0]["status"] == 103 and by_code[103]["final_status"] == 200
    assert by_code[202]["dynamic"] and not by_code[200]["dynamic"]
    assert by_code[599]["registered"] is False and by_code[599]["reason"] == "Server Error"
    assert "notes" in by_code[101] and by_code[101]["final_status"] is None


def test_catalog_by_class_and_code(server):
    doc = httpx.get(api(server, "/catalog?class=4xx")).json()
    assert doc["count"] == 100 and {e["class"] for e in doc["codes"]} == {"4xx"}
    one = httpx.get(api(server, "/catalog/418")).json()
    assert one["code"] == 418 and "teapot" in one["reason"]


@pytest.mark.parametrize(
    "path", ["/catalog/99", "/catalog/600", "/catalog/abc", "/catalog?class=6xx"]
)
def test_bad_catalog_queries_are_400(server, path):
    doc = json_error(httpx.get(api(server, path)), 400)
    assert "100-599" in doc["error"] or "class" in doc["error"]


ACCEPT = {"text": "text/plain", "json": "application/json", "html": "text/html"}
WIRE = ("date", "content-length", "content-type", "connection")  # framing: the wire's job


def test_the_catalog_says_what_the_server_sends(server):
    """Every code, every format: the catalog and GET /status/{code} agree (the same rules)."""
    doc = httpx.get(api(server, "/catalog")).json()
    every = [tuple(h) for h in doc["every_response"] if h[0] != "Date"]
    with httpx.Client() as client:
        for entry in doc["codes"]:
            if entry["final_status"] is None or entry["dynamic"]:
                continue
            for fmt, body in entry["bodies"].items():
                r = client.get(
                    server.url(f"/status/{entry['code']}"), headers={"Accept": ACCEPT[fmt]}
                )
                where = f"{entry['code']} {fmt}"
                assert r.status_code == entry["final_status"], where
                sent = [(n, v) for n, v in r.headers.multi_items() if n.lower() not in WIRE]
                expected = [tuple(h) for h in entry["headers"] + body["headers"]] + every
                expected = [(n, v) for n, v in expected if n.lower() not in WIRE]
                assert sorted((n.lower(), v) for n, v in sent) == sorted(
                    (n.lower(), v) for n, v in expected
                ), where
                assert r.headers.get("Content-Type") == body["content_type"], where
                assert r.content.decode() == body["body"], where


# --- never a 500 -------------------------------------------------------------------------------


@pytest.fixture
def client():
    with httpx.Client(timeout=10) as c:
        yield c


QUERY_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
PARAMS = st.dictionaries(
    st.sampled_from([*admin.JOURNAL_FILTERS, "count", "timeout", "seconds", "class", "x"]),
    QUERY_TEXT,
    max_size=4,
)


@FUZZ
@given(params=PARAMS, path=st.sampled_from(["/requests", "/requests/wait", "/reset", "/catalog"]))
def test_no_query_makes_a_500(server, client, params, path):
    method = "POST" if path == "/reset" else "GET"
    query = {"timeout": "0", **params} if path == "/requests/wait" else params
    if path == "/requests/wait":
        query["timeout"] = "0"
    r = client.request(method, api(server, path), params=query)
    assert r.status_code < 500, r.text
    assert r.headers["Content-Type"].startswith("application/json")


@FUZZ
@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_no_upload_makes_a_500(server, client, body):
    r = client.put(api(server, "/scenarios/fuzz"), content=body)
    assert r.status_code in (200, 201, 400), r.text


@FUZZ
@given(segment=st.text(min_size=1, max_size=30))
def test_no_path_makes_a_500(server, client, segment):
    for prefix in ("/scenarios/", "/catalog/", "/"):
        r = client.get(api(server, prefix) + urllib.parse.quote(segment, safe=""))
        assert r.status_code < 500, r.text


def test_codes_constant_matches_the_catalog():
    assert admin.catalog()["range"] == codes.VALID_RANGE
