"""Per-code contract of STATUS-SEMANTICS.md, checked on plans (pure, no server)."""

from __future__ import annotations

import json
import random

import pytest

from mockstatus import codes, queries, semantics
from mockstatus.errors import RequestError
from mockstatus.types import DEFAULT_OPTIONS, Options, Query, RequestFacts


def plan(code: int, method: str = "GET", fmt: str = "text", **opts):
    sem = semantics.StatusSemantics(random.Random(1))
    return sem.plan(code, method, fmt, Options(**opts) if opts else DEFAULT_OPTIONS)


def header(p, name: str) -> str | None:
    values = [v for n, v in p.headers if n.lower() == name.lower()]
    return values[0] if values else None


def header_names(p) -> set[str]:
    return {n.lower() for n, _ in p.headers}


# --- registry ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (413, "Content Too Large"),
        (422, "Unprocessable Content"),
        (416, "Range Not Satisfiable"),
        (306, "(Unused)"),
        (418, "I'm a teapot"),
        (103, "Early Hints"),
        (226, "IM Used"),
        (451, "Unavailable For Legal Reasons"),
        (511, "Network Authentication Required"),
    ],
)
def test_reason_phrases_follow_rfc_9110(code, reason):
    assert codes.lookup(code).reason == reason


def test_every_code_100_to_599_is_registered_with_class():
    assert sorted(codes.CODES) == list(range(100, 600))
    assert codes.lookup(299).reason == "Successful"
    assert codes.lookup(299).registered is False
    assert codes.lookup(503).rfc == "RFC 9110 §15.6.4"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Payload Too Large", 413),
        ("Unprocessable Entity", 422),
        ("requested range not satisfiable", 416),
    ],
)
def test_old_names_are_aliases(name, code):
    by_name = {alias.lower(): c for alias, c in codes.aliases().items()}
    assert by_name[name.lower()] == code


# --- codes and code lists ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", ["99", "600", "abc", "", "-1", "1e3", "２００", "200,", ",503", "200:x"]
)
def test_invalid_code_specs_name_the_valid_range(spec):
    with pytest.raises(RequestError) as err:
        queries.parse_code_spec(spec)
    assert err.value.status == 400


def test_bad_code_message_names_range():
    with pytest.raises(RequestError, match="100 to 599"):
        queries.parse_code_spec("600")


def test_uniform_and_weighted_choices():
    uniform = queries.parse_code_spec("200,503")
    assert uniform.codes == (200, 503) and uniform.weights is None
    weighted = queries.parse_code_spec("200:0.9,503:0.1")
    assert weighted.weights == (0.9, 0.1)
    rng = random.Random(7)
    picks = [weighted.pick(rng) for _ in range(1000)]
    assert 850 < picks.count(200) < 950  # deterministic for seed 7


def test_seed_makes_the_pick_repeatable():
    sem = semantics.StatusSemantics(random.Random())
    choice = queries.parse_code_spec("200,201,202,503,504")
    opts = Options(seed=42)
    assert len({sem.choose(choice, opts) for _ in range(20)}) == 1


def test_zero_weights_only_is_invalid():
    with pytest.raises(RequestError, match="above 0"):
        queries.parse_code_spec("200:0,503:0")


# --- query options -----------------------------------------------------------------------------


def q(**kw) -> Query:
    items = []
    for k, v in kw.items():
        for item in v if isinstance(v, list) else [v]:
            items.append((k, item))
    return Query(tuple(items))


@pytest.mark.parametrize(
    ("query", "param"),
    [
        (q(sleep="-1"), "sleep"),
        (q(sleep="nan"), "sleep"),
        (q(sleep="inf"), "sleep"),
        (q(sleep="300001"), "sleep"),
        (q(format="yaml"), "format"),
        (q(header="X-A:1\r\nX-B: 2"), "header"),
        (q(header="Bad Name:1"), "header"),
        (q(header="novalue"), "header"),
        (q(header="X-A:a\x00b"), "header"),
        (q(reason="Bad\nReason"), "reason"),
        (q(reason=""), "reason"),
        (q(location="/x\r\nSet-Cookie: a=b"), "location"),
        (q(retry_after="soon"), "retry_after"),
        (q(scheme="Negotiate"), "scheme"),
        (q(final="103"), "final"),
        (q(interim="104"), "interim"),
        (q(size="-5"), "size"),
        (q(seed="x"), "seed"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_invalid_queries_are_400_naming_the_parameter(query, param):
    with pytest.raises(RequestError) as err:
        queries.parse_options(query)
    assert err.value.status == 400
    assert err.value.param == param
    assert param in err.value.message


def test_valid_queries_parse():
    opts = queries.parse_options(
        q(sleep="250", header=["X-A: 1", "X-B:2"], retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    )
    assert opts.sleep == 0.25
    assert opts.headers == (("X-A", "1"), ("X-B", "2"))
    assert opts.retry_after == "Wed, 21 Oct 2026 07:28:00 GMT"


# --- negotiation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        (None, "text"),
        ("*/*", "text"),
        ("application/json", "json"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "html"),
        ("application/json;q=0.5, text/html;q=0.9", "html"),
        ("image/png", "text"),
        ("application/json;q=0", "text"),
        ("text/plain, application/json", "text"),
    ],
)
def test_negotiation(accept, fmt):
    assert semantics.negotiate(accept) == fmt


def test_bodies_in_three_formats():
    assert plan(503).body == b"503 Service Unavailable"
    doc = json.loads(plan(503, fmt="json").body)
    assert doc["code"] == 503 and doc["reason"] == "Service Unavailable" and doc["description"]
    assert b"<title>503 Service Unavailable</title>" in plan(503, fmt="html").body
    assert header(plan(503, fmt="json"), "Content-Type") == "application/json"
    assert header(plan(503), "Vary") == "Accept"


# --- per code ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [204, 304])
def test_no_body_no_framing_on_204_304(code):
    p = plan(code)
    assert p.body == b"" and p.bodiless
    assert not header_names(p) & {"content-type", "content-length", "transfer-encoding"}


def test_205_has_content_length_zero_and_no_body():
    p = plan(205)
    assert p.body == b"" and p.content_length_zero and "content-type" not in header_names(p)


@pytest.mark.parametrize("code", [500, 502, 503, 504, 429, 599])
def test_temporary_conditions_are_not_stored(code):
    assert header(plan(code), "Cache-Control") == "no-store"


def test_every_response_has_server_and_cors():
    p = plan(404)
    assert header(p, "Server").startswith("mockstatus/")
    assert header(p, "Access-Control-Allow-Origin") == "*"
    assert "Retry-After" in header(p, "Access-Control-Expose-Headers")


def test_503_retry_after_default_and_override():
    assert header(plan(503), "Retry-After") == "120"
    assert header(plan(503, retry_after="5"), "Retry-After") == "5"


def test_429_carries_ratelimit_fields():
    p = plan(429)
    assert header(p, "Retry-After") == "60"
    assert header(p, "RateLimit-Policy") == '"default";q=60;w=60'
    assert header(p, "RateLimit") == '"default";r=0;t=60'
    assert header(p, "X-RateLimit-Remaining") == "0"
    assert header(p, "X-RateLimit-Limit") == "60"


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirects_point_at_the_echo_endpoint(code):
    assert header(plan(code), "Location") == "/anything"
    assert (
        header(plan(code, location="https://example.org/x"), "Location") == "https://example.org/x"
    )


def test_201_and_202_have_locations_this_server_answers():
    assert header(plan(201), "Location").startswith("/anything/")
    p202 = plan(202)
    doc = json.loads(p202.body)
    assert doc["status"] == "queued" and doc["job"]
    assert header(p202, "Location") == f"/anything/jobs/{doc['job']}"


def test_401_and_407_challenges():
    assert header(plan(401), "WWW-Authenticate").startswith('Basic realm="mockstatus"')
    # RFC 6750 §3.1: no credentials, no error code (tests/test_bearer.py has the other cases).
    assert header(plan(401, scheme="Bearer"), "WWW-Authenticate") == 'Bearer realm="mockstatus"'
    assert header(plan(407), "Proxy-Authenticate").startswith('Basic realm="mockstatus"')


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "PURGE"])
def test_405_allow_never_has_the_request_method(method):
    allow = [m.strip() for m in header(plan(405, method), "Allow").split(",")]
    assert allow and method not in allow


def test_416_content_range_and_426_upgrade_and_451_link():
    assert header(plan(416), "Content-Range") == "bytes */1024"
    assert header(plan(426), "Upgrade") and header(plan(426), "Connection") == "Upgrade"
    assert 'rel="blocked-by"' in header(plan(451), "Link")


def test_408_and_413_close_the_connection():
    for code in (408, 413):
        p = plan(code)
        assert p.close and header(p, "Connection") == "close"


def test_418_teapot_body_and_306_unused_empty():
    assert plan(418).body == b"418 I'm a teapot"
    assert "teapot" in json.loads(plan(418, fmt="json").body)["description"]
    p306 = plan(306)
    assert p306.reason == "(Unused)" and p306.body == b""


def test_304_carries_the_validators_of_the_200():
    p200, p304 = plan(200), plan(304)
    assert header(p304, "ETag") == header(p200, "ETag")
    assert header(p304, "Cache-Control") == header(p200, "Cache-Control")
    assert header(p304, "Vary") == "Accept"


def test_dav_207_is_multistatus_xml():
    p = plan(207)
    assert header(p, "Content-Type").startswith("application/xml")
    assert b"<D:multistatus" in p.body


def test_226_im_headers():
    p = plan(226)
    assert header(p, "IM") == "feed" and header(p, "ETag") and header(p, "Delta-Base")


def test_511_is_html_with_login_link():
    p = plan(511)
    assert header(p, "Content-Type").startswith("text/html") and b"/anything/login" in p.body


def test_300_lists_alternatives():
    p = plan(300)
    links = [v for n, v in p.headers if n == "Link"]
    assert len(links) == 2 and all('rel="alternate"' in v for v in links)


def test_415_advertises_accepted_types():
    assert header(plan(415, "POST"), "Accept-Post")
    assert header(plan(415, "PATCH"), "Accept-Patch")


def test_428_names_if_match():
    assert (
        b"If-Match" in plan(428).body
        or "If-Match" in json.loads(plan(428, fmt="json").body)["description"]
    )


def test_user_headers_replace_defaults_and_framing_is_dropped():
    p = plan(503, headers=(("Retry-After", "1"), ("Content-Length", "999")))
    assert header(p, "Retry-After") == "1"
    assert [v for n, v in p.headers if n == "Retry-After"] == ["1"]
    assert "content-length" not in header_names(p)


def test_custom_reason():
    assert plan(200, reason="Totally Fine").reason == "Totally Fine"


def test_unregistered_code_gets_class_phrase():
    p = plan(599)
    assert p.reason == "Server Error" and p.body == b"599 Server Error"


def test_head_plans_equal_get_plans_but_flagged():
    get, head = plan(503), plan(503, "HEAD")
    assert get.headers == head.headers and head.head


def test_error_plan_has_the_shared_error_shape():
    facts = RequestFacts(method="GET", path="/status/600", headers={"accept": "application/json"})
    p = semantics.error_plan(RequestError("bad code", param="code"), facts)
    assert p.status == 400
    assert json.loads(p.body) == {
        "code": 400,
        "reason": "Bad Request",
        "error": "bad code",
        "param": "code",
    }


def test_interims_never_go_to_http_10():
    opts = Options(interim=(103,))
    assert semantics.interims_for(0, opts, (1, 0)) == ()
    (hint,) = semantics.interims_for(0, opts, (1, 1))
    assert hint.status == 103 and hint.headers == (("Link", "</style.css>; rel=preload; as=style"),)
