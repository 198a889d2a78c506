"""semantics.py by value: negotiation, the three body shapes, the error shape, the rules every
response follows (finish), plan building, preconditions, interims and the memo.

Plain calls; StatusSemantics (which plans all 1,500 defaults when built) is built once per module.
"""

from __future__ import annotations

import json
import random

import pytest

from mockstatus import __version__, conditional, semantics
from mockstatus.errors import RequestError
from mockstatus.queries import CodeChoice
from mockstatus.semantics import (
    build_plan,
    error_plan,
    finish,
    interims_for,
    negotiate,
    preparable,
    render_body,
    repeat_hints,
    with_interims,
)
from mockstatus.types import (
    DEFAULT_OPTIONS,
    Drip,
    Fault,
    Interim,
    ManualClock,
    Options,
    Query,
    RequestFacts,
    ResponsePlan,
    StreamPlan,
)

EXPOSED = (
    "Retry-After, Location, Content-Range, Accept-Ranges, ETag, Last-Modified, Link, Allow, "
    "WWW-Authenticate, Proxy-Authenticate, RateLimit, RateLimit-Policy, X-RateLimit-Limit, "
    "X-RateLimit-Remaining, X-RateLimit-Reset, Upgrade, IM, Delta-Base, Accept-Post, Accept-Patch"
)
SERVER = f"mockstatus/{__version__}"
TAIL = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", EXPOSED),
    ("Server", SERVER),
)
TEXT, JSON, HTML = "text/plain; charset=utf-8", "application/json", "text/html; charset=utf-8"
HINT = "</style.css>; rel=preload; as=style"


@pytest.fixture(scope="module")
def sem() -> semantics.StatusSemantics:
    return semantics.StatusSemantics(random.Random(3), ManualClock())


def facts(method="GET", headers=None, query=(), version=(1, 1), items=None) -> RequestFacts:
    headers = headers or {}
    return RequestFacts(
        method,
        "/status/200",
        Query(tuple(query)),
        headers,
        tuple(headers.items()) if items is None else items,
        version=version,
    )


def test_constants():
    assert semantics.SERVER == SERVER
    assert semantics.EXPOSED_HEADERS == EXPOSED
    cors = semantics.CORS_HEADERS
    assert cors == (
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Expose-Headers", EXPOSED),
    )
    assert semantics.DEFAULT_EARLY_HINT == HINT


# --- negotiation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        (None, "text"),
        ("", "text"),
        ("application/json", "json"),
        ("APPLICATION/JSON", "json"),
        ("application/problem+json", "json"),
        ("text/json", "json"),
        ("text/html", "html"),
        ("application/xhtml+xml", "html"),
        ("text/plain", "text"),
        ("text/*", "text"),
        ("*/*", "text"),
        ("image/png", "text"),
        ("application/json;q=0", "text"),
        ("text/html;q=0.5, application/json;q=0.6", "json"),
        ("application/json;q=0.6, text/html;q=0.5", "json"),
        ("*/*, application/json", "json"),  # equal q: the more specific wins
        ("application/json, */*", "json"),
        ("text/*, text/html", "html"),
        ("text/html, text/*", "html"),
        ("*/*;q=0.9, text/*;q=0.9", "text"),
        ("text/html;q=0.001", "html"),
        ("application/json, text/html", "json"),  # equal q and specificity: the first
        ("text/html, application/json", "html"),
        ("image/png, text/html;q=0.1", "html"),
        (" application/json ; q=1 ", "json"),
    ],
)
def test_negotiate(accept, fmt):
    semantics._ACCEPT_CACHE.clear()
    assert negotiate(accept) == fmt
    assert negotiate(accept) == fmt  # and from the cache


def test_negotiate_cache_is_bounded_at_1024():
    semantics._ACCEPT_CACHE.clear()
    for i in range(1030):
        negotiate(f"application/json, x/{i}")
    assert len(semantics._ACCEPT_CACHE) == 1024
    assert semantics._ACCEPT_CACHE["application/json, x/0"] == "json"
    assert semantics._ACCEPT_CACHE.get("application/json, x/1029") is None
    semantics._ACCEPT_CACHE.clear()
    negotiate("text/html")
    assert semantics._ACCEPT_CACHE == {"text/html": "html"}


def test_negotiate_reads_the_cache():
    semantics._ACCEPT_CACHE.clear()
    semantics._ACCEPT_CACHE["odd/value"] = "html"
    assert negotiate("odd/value") == "html"
    semantics._ACCEPT_CACHE.clear()


# --- bodies -------------------------------------------------------------------------------------


def test_render_body_three_formats():
    assert render_body(404, "Not Found", "Gone <now>", "text") == b"404 Not Found"
    assert render_body(404, "Not Found", "Gone <now>", "json") == (
        b'{"code": 404, "reason": "Not Found", "description": "Gone <now>"}'
    )
    assert render_body(404, "Not Found", "Gone", "json", {"x": 1}) == (
        b'{"code": 404, "reason": "Not Found", "description": "Gone", "x": 1}'
    )
    assert render_body(404, "Not Found", "Gone", "json", {}) == (
        b'{"code": 404, "reason": "Not Found", "description": "Gone"}'
    )
    assert render_body(404, "A&B", 'x <y> & "z"', "html") == (
        b'<!doctype html>\n<html><head><meta charset="utf-8"><title>404 A&amp;B</title></head>\n'
        b"<body><h1>404 A&amp;B</h1>\n<p>x &lt;y&gt; &amp; &quot;z&quot;</p></body></html>\n"
    )


@pytest.mark.parametrize(
    ("accept", "ctype", "body"),
    [
        (None, TEXT, b"400 Bad Request: bad x\n"),
        ("application/json", JSON,
         b'{"code": 400, "reason": "Bad Request", "error": "bad x", "param": "code"}'),
        ("text/html", HTML, render_body(400, "Bad Request", "bad x", "html")),
    ],
)  # fmt: skip
def test_error_plan(accept, ctype, body):
    headers = {"accept": accept} if accept else {}
    plan = error_plan(RequestError("bad x", param="code"), facts(headers=headers))
    assert plan == ResponsePlan(
        status=400,
        reason="Bad Request",
        headers=(("Content-Type", ctype), ("Vary", "Accept"), *TAIL),
        body=body,
        head=False,
    )


def test_error_plan_without_param_other_status_and_head():
    err = RequestError("too big", status=413)
    plan = error_plan(err, facts("HEAD", {"accept": "application/json"}))
    assert (plan.status, plan.reason, plan.head) == (413, "Content Too Large", True)
    assert plan.body == b'{"code": 413, "reason": "Content Too Large", "error": "too big"}'
    plan = error_plan(RequestError("x", status=503), facts())
    assert plan.headers[2] == ("Cache-Control", "no-store")


# --- finish -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "no_store"),
    [(200, False), (428, False), (429, True), (430, False), (499, False), (500, True), (599, True)],
)
def test_finish_no_store(status, no_store):
    plan = finish(ResponsePlan(status, "R", (("X", "1"),), b"b"))
    extra = (("Cache-Control", "no-store"),) if no_store else ()
    assert plan.headers == (("X", "1"), *extra, *TAIL)
    assert (plan.body, plan.bodiless, plan.content_length_zero) == (b"b", False, False)


def test_finish_user_headers_win():
    given = (
        ("cache-control", "max-age=5"),
        ("access-control-allow-origin", "https://a"),
        ("SERVER", "x"),
    )
    plan = finish(ResponsePlan(503, "R", given, b""))
    assert plan.headers == (*given, ("Access-Control-Expose-Headers", EXPOSED))
    only_expose = finish(ResponsePlan(200, "R", (("Access-Control-Expose-Headers", "X"),)))
    assert only_expose.headers == (
        ("Access-Control-Expose-Headers", "X"),
        ("Access-Control-Allow-Origin", "*"),
        ("Server", SERVER),
    )


@pytest.mark.parametrize(
    ("status", "kept", "bodiless", "zero"),
    [
        (100, ("X",), True, False),
        (204, ("X",), True, False),
        (304, ("Vary", "X"), True, False),
        (205, ("X",), False, True),
        (200, ("Content-Type", "Vary", "X"), False, False),
    ],
)
def test_finish_bodiless(status, kept, bodiless, zero):
    given = (("Content-Type", TEXT), ("Vary", "Accept"), ("X", "1"))
    plan = finish(ResponsePlan(status, "R", given, b"body"))
    names = [n for n, _ in plan.headers if n not in ("Cache-Control", *dict(TAIL))]
    assert tuple(names) == kept
    assert plan.body == (b"body" if status == 200 else b"")
    assert (plan.bodiless, plan.content_length_zero) == (bodiless, zero)


def test_merge_user_headers():
    merge = semantics._merge_user_headers
    defaults = [("Content-Type", TEXT), ("Location", "/a"), ("X", "1")]
    assert merge(defaults, ()) == tuple(defaults)
    assert merge(defaults, (("location", "/b"), ("Y", "2"))) == (
        ("location", "/b"),
        ("Y", "2"),
        ("Content-Type", TEXT),
        ("X", "1"),
    )
    # framing headers are dropped, and they still replace a default of that name
    assert merge([("Connection", "close"), ("X", "1")], (("Connection", "keep"),)) == (("X", "1"),)
    assert merge(defaults, (("Content-Length", "5"), ("Transfer-Encoding", "x"))) == tuple(defaults)


def test_override_fields():
    base = (("A", "1"), ("b", "2"), ("C", "3"))
    assert semantics.override_fields((("a", "x"),), base) == (("a", "x"), ("b", "2"), ("C", "3"))
    assert semantics.override_fields((), base) == base
    assert semantics.override_fields((("B", "y"),), base, names={"c"}) == (
        ("B", "y"),
        ("A", "1"),
        ("b", "2"),
    )
    got = semantics.override_fields((("c", "z"),), base, reused=True)
    assert got == (("c", "z"), ("A", "1"), ("b", "2"))
    again = semantics.override_fields((("A", "z"),), base, reused=True)  # from the cache
    assert again == (("A", "z"), ("b", "2"), ("C", "3"))
    entry = semantics._LOWER_NAMES.get(id(base))
    assert entry is not None and entry[1] == ("a", "b", "c")


@pytest.mark.parametrize(
    ("header", "has"),
    [
        ("if-none-match", True),
        ("if-modified-since", True),
        ("if-match", True),
        ("if-unmodified-since", True),
        ("if-range", False),
        ("accept", False),
    ],
)
def test_has_preconditions(header, has):
    assert semantics.has_preconditions(facts(headers={header: "x"})) is has


def test_without_preconditions():
    items = (
        ("If-None-Match", '"a"'),
        ("Accept", "text/html"),
        ("If-Match", '"b"'),
        ("X-Two", "1"),
        ("x-two", "2"),
    )
    headers = {"if-none-match": '"a"', "accept": "text/html", "if-match": '"b"', "x-two": "1"}
    got = semantics.without_preconditions(facts(headers=headers, items=items))
    assert dict(got.headers) == {"accept": "text/html", "x-two": "1"}
    assert tuple(got.header_items) == (("Accept", "text/html"), ("X-Two", "1"), ("x-two", "2"))
    assert (got.method, got.path) == ("GET", "/status/200")
    mixed = RequestFacts("GET", "/", headers={"X-A": "1", "x-a": "2", "If-Match": "x"})
    assert semantics.without_preconditions(mixed).headers == {"x-a": "1"}
    assert semantics.without_preconditions(mixed).header_items == ()


# --- build_plan ---------------------------------------------------------------------------------


def test_build_plan_200_text():
    plan, cacheable = build_plan(200, "GET", "text")
    tag = conditional.derived_entity_tag(200, conditional.body_digest(b"200 OK"))
    assert cacheable is True
    assert plan == ResponsePlan(
        status=200,
        reason="OK",
        headers=(
            ("Content-Type", TEXT),
            ("Vary", "Accept"),
            ("ETag", tag),
            ("Cache-Control", "no-cache"),
            *TAIL,
        ),
        body=b"200 OK",
    )


def test_build_plan_options():
    opts = Options(reason="Fine", fmt="json", sleep=0.5, headers=(("X-A", "1"),))
    plan, _ = build_plan(404, "HEAD", "text", opts)
    assert (plan.status, plan.reason, plan.head, plan.delay, plan.close) == (
        404, "Fine", True, 0.5, False,
    )  # fmt: skip
    doc = json.loads(plan.body)
    assert (doc["code"], doc["reason"]) == (404, "Fine")
    assert plan.headers[:3] == (("X-A", "1"), ("Content-Type", JSON), ("Vary", "Accept"))


def test_build_plan_close_adds_connection_close():
    plan, cacheable = build_plan(408, "GET", "text")
    assert plan.close is True and cacheable is True
    assert plan.headers == (
        ("Content-Type", TEXT),
        ("Vary", "Accept"),
        ("Connection", "close"),
        *TAIL,
    )


def test_build_plan_with_a_given_body():
    plan, _ = build_plan(201, "POST", "json", body=b"<x/>", content_type="application/xml")
    assert plan.body == b"<x/>"
    assert plan.headers[0] == ("Content-Type", "application/xml")
    assert ("Vary", "Accept") not in plan.headers  # a given body is not negotiated
    plan, _ = build_plan(200, "GET", "json", body=b"abc", content_type=None)
    assert plan.headers[:2] == (
        ("Content-Type", JSON),
        ("ETag", conditional.derived_entity_tag(200, conditional.body_digest(b"abc"))),
    )
    plan, _ = build_plan(200, "GET", "json", Options(body_digest="d" * 64), body=b"abc")
    assert plan.headers[1] == ("ETag", conditional.derived_entity_tag(200, "d" * 64))
    empty, _ = build_plan(404, "GET", "text", body=b"", content_type=None)
    assert [n for n, _ in empty.headers] == [n for n, _ in TAIL]


@pytest.mark.parametrize(
    ("code", "etag", "want"),
    [
        (200, False, None),
        (200, '"mine"', '"mine"'),
        (404, '"mine"', '"mine"'),
        (404, None, None),
    ],
)
def test_entity_tag_options(code, etag, want):
    plan, _ = build_plan(code, "GET", "text", Options(etag=etag))
    assert dict(plan.headers).get("ETag") == want


def test_304_names_the_200_of_its_format():
    for fmt in ("text", "json", "html"):
        ok, _ = build_plan(200, "GET", fmt)
        nm, _ = build_plan(304, "GET", fmt)
        assert dict(nm.headers)["ETag"] == dict(ok.headers)["ETag"]
        assert semantics._default_entity_tag(200, fmt) == dict(ok.headers)["ETag"]
    assert semantics._default_entity_tag(404, "text") is None


# --- preconditions ------------------------------------------------------------------------------


def ok_plan(fmt="text"):
    plan, _ = build_plan(200, "GET", fmt)
    return plan.evolve(
        headers=(
            *plan.headers,
            ("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("Content-Language", "en"),
        )
    )


def test_preconditions_pass_through():
    plan = ok_plan()
    tag = dict(plan.headers)["ETag"]
    assert semantics.answer_preconditions(plan, facts()) is plan
    assert semantics.answer_preconditions(plan, facts("POST", {"if-none-match": tag})) is plan
    other = plan.evolve(status=201)
    assert semantics.answer_preconditions(other, facts(headers={"if-none-match": tag})) is other
    assert semantics.answer_preconditions(plan, facts(headers={"if-none-match": '"x"'})) is plan


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_if_none_match_gives_304_with_validators(method):
    plan = ok_plan()
    tag = dict(plan.headers)["ETag"]
    got = semantics.answer_preconditions(plan, facts(method, {"if-none-match": tag}))
    assert (got.status, got.reason, got.body, got.bodiless, got.reused) == (
        304, "Not Modified", b"", True, False,
    )  # fmt: skip
    assert got.headers == (
        ("Vary", "Accept"),
        ("ETag", tag),
        ("Cache-Control", "no-cache"),
        *TAIL,
        ("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
    )


@pytest.mark.parametrize(
    "header",
    ["if-modified-since", "if-match", "if-unmodified-since"],
)
def test_each_precondition_field_is_read(header):
    plan = ok_plan()
    value = {
        "if-modified-since": "Thu, 22 Oct 2015 07:28:00 GMT",
        "if-match": '"nope"',
        "if-unmodified-since": "Tue, 20 Oct 2015 07:28:00 GMT",
    }[header]
    got = semantics.answer_preconditions(plan, facts(headers={header: value}), ManualClock())
    assert got.status == (304 if header == "if-modified-since" else 412)


def test_412_is_the_negotiated_412():
    plan = ok_plan()
    got = semantics.answer_preconditions(
        plan, facts("GET", {"if-match": '"nope"', "accept": "application/json"})
    )
    refused, _ = build_plan(412, "GET", "json")
    assert got == plan.evolve(
        status=412,
        reason="Precondition Failed",
        headers=refused.headers,
        body=refused.body,
        bodiless=False,
        reused=False,
    )
    head = semantics.answer_preconditions(plan, facts("HEAD", {"if-match": '"nope"'}))
    assert head.status == 412 and head.body == build_plan(412, "HEAD", "text")[0].body


def test_precondition_lines_are_joined():
    plan = ok_plan()
    tag = dict(plan.headers)["ETag"]
    items = (("If-None-Match", '"a"'), ("If-None-Match", tag))
    got = semantics.answer_preconditions(plan, facts(headers={"if-none-match": '"a"'}, items=items))
    assert got.status == 304
    only_first = facts(headers={"if-none-match": '"a"'}, items=())  # no items: the mapping
    assert semantics.answer_preconditions(plan, only_first) is plan


def test_last_modified_in_the_future_is_ignored():
    plan = ok_plan()
    clock = ManualClock()
    future = plan.evolve(
        headers=(*plan.headers[:-2], ("Last-Modified", "Fri, 01 Jan 2100 00:00:00 GMT"))
    )
    got = semantics.answer_preconditions(
        future, facts(headers={"if-modified-since": "Sat, 01 Jan 2000 00:00:00 GMT"}), clock
    )
    assert got is future


# --- interims -----------------------------------------------------------------------------------


def test_interims_for():
    assert interims_for(103, DEFAULT_OPTIONS, (1, 1)) == (
        Interim(103, "Early Hints", (("Link", HINT),)),
    )
    assert interims_for(103, DEFAULT_OPTIONS, (1, 0)) == ()
    assert interims_for(103, DEFAULT_OPTIONS, (2, 0)) != ()
    assert interims_for(100, DEFAULT_OPTIONS, (1, 1)) == (Interim(100, "Continue", ()),)
    assert interims_for(150, DEFAULT_OPTIONS, (1, 1)) == (Interim(150, "Informational", ()),)
    assert interims_for(199, DEFAULT_OPTIONS, (1, 1)) == (Interim(199, "Informational", ()),)
    assert interims_for(101, DEFAULT_OPTIONS, (1, 1)) == ()
    assert interims_for(200, DEFAULT_OPTIONS, (1, 1)) == ()
    assert interims_for(99, DEFAULT_OPTIONS, (1, 1)) == ()
    opts = Options(interim=(102, 103, 100), links=("<a>", "<b>"))
    assert interims_for(200, opts, (1, 1)) == (
        Interim(102, "Processing", ()),
        Interim(103, "Early Hints", (("Link", "<a>"), ("Link", "<b>"))),
        Interim(100, "Continue", ()),
    )
    assert interims_for(103, Options(interim=()), (1, 1)) == ()


def test_repeat_hints():
    interims = (
        Interim(103, "Early Hints", (("Link", "<a>"), ("Link", "<b>"))),
        Interim(103, "Early Hints", (("Link", "<a>"),)),
        Interim(100, "Continue", (("Link", "<c>"),)),
    )
    assert repeat_hints((("X", "1"), ("link", "<b>")), interims) == (
        ("X", "1"),
        ("link", "<b>"),
        ("Link", "<a>"),
    )
    assert repeat_hints((), ()) == ()


# --- the memo -----------------------------------------------------------------------------------


def test_plans_are_memoised(sem):
    first = sem.plan(503, "GET", "json", DEFAULT_OPTIONS)
    assert first.reused is True and sem.plan(503, "GET", "json", DEFAULT_OPTIONS) is first
    fresh = semantics.StatusSemantics(random.Random(1))
    # every code in every format is planned up front, except 202 (a fresh job id each time)
    # and 226 (its IM names the request's A-IM)
    assert len(fresh._cache) == 1494
    assert {k for k in fresh._cache if k[0] in (202, 226)} == set()
    assert {k[2] for k in fresh._cache} == {"text", "json", "html"}
    assert fresh.clock is semantics._SYSTEM_CLOCK
    clock = ManualClock()
    assert semantics.StatusSemantics(random.Random(1), clock).clock is clock
    with_opts = sem.plan(503, "GET", "json", Options(reason="x"))
    assert with_opts.reused is False and with_opts.reason == "x"
    odd = sem.plan(200, "BREW", "text", DEFAULT_OPTIONS)
    assert odd.reused is False and (200, "BREW", "text") not in sem._cache


def test_1xx_plans(sem):
    plan = sem.plan(103, "GET", "text", DEFAULT_OPTIONS)
    assert (plan.status, plan.interims) == (200, ())
    final = sem.plan(102, "GET", "text", Options(final=204))
    assert final.status == 204
    switch = sem.plan(101, "GET", "text", DEFAULT_OPTIONS)
    assert switch.status == 200  # the upgrade itself is the endpoint's (wire/upgrade)


def test_prepared(sem):
    assert sem.prepared(200, "GET", "text") is sem.plan(200, "GET", "text", DEFAULT_OPTIONS)
    assert sem.prepared(404, "HEAD", "json") is not None
    for code, method in ((103, "GET"), (101, "GET"), (206, "GET"), (200, "BREW"), (202, "GET")):
        assert sem.prepared(code, method, "text") is None, code
    assert sem.prepared(408, "GET", "text") is None  # closes the connection: not preparable
    assert sem.prepared(199, "GET", "text") is None


def test_choose(sem):
    choice = CodeChoice((200, 500, 503), None)
    assert sem.choose(choice, Options(seed=5)) == choice.pick(random.Random(5))
    assert {sem.choose(choice, Options(seed=5)) for _ in range(5)} == {
        choice.pick(random.Random(5))
    }
    rng = random.Random(9)
    own = semantics.StatusSemantics.__new__(semantics.StatusSemantics)
    own._rng = rng
    assert [own.choose(choice, DEFAULT_OPTIONS) for _ in range(6)] == [
        choice.pick(r) for r in [random.Random(9)] for _ in range(6)
    ]


@pytest.mark.parametrize(
    ("changes", "ok"),
    [
        ({}, True),
        ({"interims": (Interim(100, "Continue"),)}, False),
        ({"delay": 0.1}, False),
        ({"fault": Fault("reset")}, False),
        ({"drip": Drip(1, 0.1)}, False),
        ({"upgrade": "websocket"}, False),
        ({"close": True}, False),
        ({"status": 199}, False),
        ({"status": 200}, True),
        ({"headers": (("connection", "x"),)}, False),
        ({"headers": (("Date", "x"),)}, False),
        ({"headers": (("X-Date", "x"),)}, True),
    ],
)
def test_preparable(changes, ok):
    assert preparable(ResponsePlan(200, "OK").evolve(**changes)) is ok


def test_preparable_refuses_a_stream():
    stream = StreamPlan.__new__(StreamPlan)
    assert preparable(ResponsePlan(200, "OK").evolve(stream=stream)) is False


# --- with_interims ------------------------------------------------------------------------------


def plan_with(*interims: Interim, delay: float = 0.0) -> ResponsePlan:
    return ResponsePlan(200, "OK", (("X", "1"),), b"", interims=interims, delay=delay)


def test_with_interims_hot_path():
    plan = plan_with()
    assert with_interims(plan, facts(), "auto") is plan


def test_with_interims_from_the_query():
    got = with_interims(plan_with(), facts(query=[("interim", "103,100"), ("link", "<a>")]), "auto")
    assert got.interims == (
        Interim(103, "Early Hints", (("Link", "<a>"),)),
        Interim(100, "Continue", ()),
    )
    assert got.headers == (("X", "1"), ("Link", "<a>"))
    assert got.processing_interval is None


@pytest.mark.parametrize(
    ("mode", "version", "sent"),
    [
        ("auto", (1, 1), True),
        ("auto", (1, 0), False),
        ("off", (1, 1), False),
        ("force", (1, 0), True),
    ],
)
def test_with_interims_modes(mode, version, sent):
    plan = plan_with(Interim(103, "Early Hints", (("Link", "<a>"),)))
    got = with_interims(plan, facts(version=version), mode)
    assert got.interims == (plan.interims if sent else ())
    query_mode = with_interims(plan, facts(query=[("interim_mode", mode)], version=version), "x")
    assert query_mode.interims == (plan.interims if sent else ())


def test_with_interims_drops_100_after_expect():
    plan = plan_with(Interim(100, "Continue"), Interim(103, "Early Hints"))
    got = with_interims(plan, facts(headers={"expect": "100-Continue"}), "auto")
    assert got.interims == (Interim(103, "Early Hints"),)
    kept = with_interims(plan, facts(headers={"expect": "other"}), "auto")
    assert kept.interims == plan.interims


@pytest.mark.parametrize(
    ("interims", "delay", "query", "interval"),
    [
        ((Interim(102, "Processing"),), 2.0, [], 1.0),
        ((Interim(102, "Processing"),), 2.0, [("interval", "250")], 0.25),
        ((Interim(102, "Processing"),), 0.0, [("interval", "250")], None),
        ((Interim(103, "Early Hints"),), 2.0, [("interval", "250")], None),
    ],
)
def test_with_interims_102_interval(interims, delay, query, interval):
    got = with_interims(plan_with(*interims, delay=delay), facts(query=query), "auto")
    assert got.processing_interval == interval


def test_with_interims_keeps_a_planned_interval():
    plan = plan_with(Interim(102, "Processing"), delay=1.0).evolve(processing_interval=0.5)
    assert with_interims(plan, facts(), "auto").processing_interval == 0.5


# --- survivors of the first mutation run (plans built inside the tests: a parametrize value is
# built at collection, before a mutant is switched on) -------------------------------------------

ALL_BUT_GET_HEAD = "POST, PUT, PATCH, DELETE, OPTIONS"
JOB_4 = "4da43c6da5d7"  # the job id a 202 draws from random.Random(4)


def test_build_plan_hands_the_rules_method_rng_headers_and_extra():
    allow, _ = build_plan(405, "GET", "text")
    assert dict(allow.headers)["Allow"] == ALL_BUT_GET_HEAD
    job, cacheable = build_plan(202, "GET", "json", rng=random.Random(4))
    assert cacheable is False
    assert json.loads(job.body)["job"] == JOB_4
    assert dict(job.headers)["Location"] == f"/anything/jobs/{JOB_4}"
    bearer, _ = build_plan(
        401, "GET", "text", Options(scheme="Bearer"), request_headers={"authorization": "Bearer t"}
    )
    assert dict(bearer.headers)["WWW-Authenticate"] == (
        'Bearer realm="mockstatus", error="invalid_token"'
    )
    multiple, _ = build_plan(300, "GET", "json")
    assert json.loads(multiple.body)["alternatives"] == [
        "/anything/choice-a",
        "/anything/choice-b",
    ]


def test_status_semantics_plan_hands_build_plan_its_inputs():
    sem = semantics.StatusSemantics(random.Random(4), ManualClock())
    again = semantics.StatusSemantics(random.Random(4), ManualClock())
    # both drew the same numbers while planning the defaults: the next 202 job ids agree
    first = sem.plan(202, "GET", "json", DEFAULT_OPTIONS)
    assert first.body == again.plan(202, "GET", "json", DEFAULT_OPTIONS).body
    allow = sem.plan(405, "GET", "text", Options(reason="x"))
    assert dict(allow.headers)["Allow"] == ALL_BUT_GET_HEAD
    bearer = sem.plan(
        401, "GET", "text", Options(scheme="Bearer"), request_headers={"authorization": "Bearer t"}
    )
    assert dict(bearer.headers)["WWW-Authenticate"] == (
        'Bearer realm="mockstatus", error="invalid_token"'
    )
    # `final` applies to 1xx codes only: a 200 stays a 200
    assert sem.plan(200, "GET", "text", Options(final=204)).status == 200


def test_override_fields_with_a_cold_reused_base():
    # a tuple built now (a literal one is a constant, cached by an earlier run of this test)
    semantics._LOWER_NAMES.clear()
    base = tuple([("ETag", '"b"'), ("Server", "s"), ("X-Fresh", "1")])
    front = (("etag", '"f"'),)
    want = (("etag", '"f"'), ("Server", "s"), ("X-Fresh", "1"))
    assert semantics.override_fields(front, base, reused=True) == want
    assert semantics.override_fields(front, base, reused=True) == want  # now from the cache


def test_a_precondition_answer_is_not_marked_reused():
    plan = ok_plan().evolve(reused=True)
    tag = dict(plan.headers)["ETag"]
    not_modified = semantics.answer_preconditions(plan, facts(headers={"if-none-match": tag}))
    assert (not_modified.status, not_modified.reused) == (304, False)
    refused = semantics.answer_preconditions(plan, facts(headers={"if-match": '"nope"'}))
    assert (refused.status, refused.reused) == (412, False)


def test_precondition_lines_are_joined_when_the_first_matches():
    plan = ok_plan()
    tag = dict(plan.headers)["ETag"]
    items = (("If-None-Match", tag), ("If-None-Match", '"a"'))
    got = semantics.answer_preconditions(plan, facts(headers={"if-none-match": tag}, items=items))
    assert got.status == 304


def test_preconditions_use_the_given_clock():
    y2000 = ManualClock(wall=946_684_800.0)  # 2000-01-01: the real clock is decades later
    plan = ok_plan()
    # RFC 850 "60" is 1960 seen from 2000 (and 2060 from today): not modified since 2000
    rfc850 = plan.evolve(
        headers=(*plan.headers[:-2], ("Last-Modified", "Friday, 01-Jan-60 00:00:00 GMT"))
    )
    ius = facts(headers={"if-unmodified-since": "Sat, 01 Jan 2000 00:00:00 GMT"})
    assert semantics.answer_preconditions(rfc850, ius, y2000) is rfc850
    # If-Modified-Since 2024 is in the future of the clock: ignored, the 200 goes out
    old = plan.evolve(
        headers=(*plan.headers[:-2], ("Last-Modified", "Fri, 01 Jan 1999 00:00:00 GMT"))
    )
    ims = facts(headers={"if-modified-since": "Mon, 01 Jan 2024 00:00:00 GMT"})
    assert semantics.answer_preconditions(old, ims, y2000) is old
    assert semantics.answer_preconditions(old, ims, ManualClock()).status == 304


def test_with_interims_102_interval_under_a_second_of_delay():
    got = with_interims(plan_with(Interim(102, "Processing"), delay=0.5), facts(), "auto")
    assert got.processing_interval == 1.0
