"""Every per-code rule of `rules.CODE_RULES`, pinned by value on the plan (pure, no server).

Each assertion names the exact header value or body a real server sends: a rule that adds the
right header with a wrong value must fail here. (The 200/304 ETag value and the Bearer `error`
parameter are left to their own tests: issue 9 changes them.)
"""

from __future__ import annotations

import json
import random
import re

import pytest

from mockstatus import codes, rules, semantics
from mockstatus.queries import parse_options
from mockstatus.types import DEFAULT_OPTIONS, Query, ResponsePlan

_NOT_RULE_HEADERS = {
    "server",
    "access-control-allow-origin",
    "access-control-expose-headers",
    "cache-control",
    "content-type",
    "vary",
}


def plan(
    code: int,
    method: str = "GET",
    fmt: str = "text",
    *,
    sem: semantics.StatusSemantics | None = None,
    **query: str,
) -> ResponsePlan:
    """The plan of `code` for a request with `query`; through `sem` (memoising) when given, else
    built directly (StatusSemantics pre-plans every code, too slow to make per test)."""
    opts = parse_options(Query(tuple(query.items()))) if query else DEFAULT_OPTIONS
    if sem is not None:
        return sem.plan(code, method, fmt, opts)
    return semantics.build_plan(code, method, fmt, opts, rng=random.Random(1))[0]


def values(p: ResponsePlan, name: str) -> list[str]:
    return [v for n, v in p.headers if n.lower() == name.lower()]


def one(p: ResponsePlan, name: str) -> str | None:
    found = values(p, name)
    assert len(found) <= 1, f"{name} sent {len(found)} times: {found}"
    return found[0] if found else None


def rule_headers(p: ResponsePlan) -> list[tuple[str, str]]:
    """The headers a rule added: everything but the ones every response carries."""
    return [(n, v) for n, v in p.headers if n.lower() not in _NOT_RULE_HEADERS]


# --- 201, 202 ------------------------------------------------------------------------------------


def test_201_location_default_and_override():
    assert rule_headers(plan(201)) == [("Location", "/anything/created/1")]
    assert one(plan(201, location="/made/9"), "Location") == "/made/9"


def _job(seed: int | None, rng: random.Random | None = None) -> str:
    source = rng if rng is not None else random.Random(seed)
    return f"{source.getrandbits(48):012x}"


def test_202_unseeded_job_ids_come_from_the_injected_source_and_are_never_memoised():
    sem = semantics.StatusSemantics(random.Random(5))
    first, second = plan(202, sem=sem), plan(202, sem=sem)
    assert first.reused is False and second.reused is False
    job1 = json.loads(first.body)["job"]
    job2 = json.loads(second.body)["job"]
    assert job1 != job2
    assert re.fullmatch(r"[0-9a-f]{12}", job1) and re.fullmatch(r"[0-9a-f]{12}", job2)
    assert one(first, "Location") == f"/anything/jobs/{job1}"
    assert one(second, "Location") == f"/anything/jobs/{job2}"
    # Two servers with the same seed hand out the same ids, in the same order.
    again = semantics.StatusSemantics(random.Random(5))
    assert [json.loads(plan(202, sem=again).body)["job"] for _ in range(2)] == [job1, job2]


def test_202_seed_gives_a_reproducible_job_id_independent_of_the_server_source():
    job = _job(7)
    for rng_seed in (1, 2):
        p = plan(202, sem=semantics.StatusSemantics(random.Random(rng_seed)), seed="7")
        assert one(p, "Location") == f"/anything/jobs/{job}"
        assert json.loads(p.body) == {
            "code": 202,
            "reason": "Accepted",
            "description": json.loads(p.body)["description"],
            "status": "queued",
            "job": job,
        }
    assert json.loads(plan(202, seed="8").body)["job"] == _job(8) != job


def test_202_body_is_json_whatever_was_negotiated_and_location_can_be_set():
    p = plan(202, fmt="html", seed="7", location="/q/1")
    assert one(p, "Content-Type") == "application/json"
    assert one(p, "Vary") is None  # not negotiated: the same JSON for every Accept
    assert one(p, "Location") == "/q/1"
    assert json.loads(p.body)["job"] == _job(7)


def test_203_describes_the_transformation():
    p = plan(203, fmt="json")
    assert json.loads(p.body)["description"] == (
        "This content was transformed by a proxy between the origin and you."
    )


# --- 207, 208, 226 -------------------------------------------------------------------------------


def _multistatus(second: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<D:multistatus xmlns:D="DAV:">\n'
        "  <D:response><D:href>/anything/a</D:href>"
        "<D:status>HTTP/1.1 200 OK</D:status></D:response>\n"
        "  <D:response><D:href>/anything/b</D:href>"
        f"<D:status>{second}</D:status></D:response>\n"
        "  <D:response><D:href>/anything/c</D:href>"
        "<D:status>HTTP/1.1 404 Not Found</D:status></D:response>\n"
        "</D:multistatus>\n"
    ).encode()


@pytest.mark.parametrize(
    ("code", "second"), [(207, "HTTP/1.1 200 OK"), (208, "HTTP/1.1 208 Already Reported")]
)
@pytest.mark.parametrize("fmt", ["text", "json", "html"])
def test_multistatus_bodies(code, second, fmt):
    p = plan(code, fmt=fmt)
    assert p.body == _multistatus(second)
    assert one(p, "Content-Type") == "application/xml; charset=utf-8"
    assert one(p, "Vary") is None


def test_226_delta_headers():
    assert rule_headers(plan(226)) == [
        ("IM", "feed"),
        ("ETag", '"ms-226-delta"'),
        ("Delta-Base", '"ms-226-base"'),
    ]


@pytest.mark.parametrize(
    ("a_im", "im"),
    [
        (None, "feed"),  # no A-IM: the default manipulation
        ("", "feed"),
        ("vcdiff", "vcdiff"),
        ("diffe, vcdiff", "diffe"),  # the first listed
        ("diffe, vcdiff, gzip", "diffe"),  # the first of three, not all but the last
        ("gzip;q=0.5;x=1", "gzip"),  # every parameter dropped, not only the last
        ("gzip;q=0.5,vcdiff", "gzip"),  # its parameters dropped
        ("  vcdiff ; q=1 ", "vcdiff"),  # whitespace around it
        ("vc diff", "feed"),  # not a token: never echoed
        ('"quoted"', "feed"),
        (",vcdiff", "feed"),  # an empty first member
    ],
)
def test_226_im_names_the_first_manipulation_the_client_offered(a_im, im):
    headers = {} if a_im is None else {"a-im": a_im}
    p, cacheable = semantics.build_plan(
        226, "GET", "text", DEFAULT_OPTIONS, rng=random.Random(1), request_headers=headers
    )
    assert one(p, "IM") == im
    assert cacheable is False  # it reads a request header: never memoised or prepared


# --- 3xx -----------------------------------------------------------------------------------------


def test_300_location_is_the_first_alternative_and_links_name_both():
    p = plan(300, fmt="json")
    assert rule_headers(p) == [
        ("Link", '</anything/choice-a>; rel="alternate"'),
        ("Link", '</anything/choice-b>; rel="alternate"'),
        ("Location", "/anything/choice-a"),
    ]
    doc = json.loads(p.body)
    assert doc["alternatives"] == ["/anything/choice-a", "/anything/choice-b"]
    assert doc["description"] == (
        codes.lookup(300).description + " Alternatives: /anything/choice-a, /anything/choice-b."
    )
    assert one(plan(300, location="/pick"), "Location") == "/pick"


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_location_default_and_override(code):
    assert rule_headers(plan(code)) == [("Location", "/anything")]
    assert one(plan(code, location="/next?a=1"), "Location") == "/next?a=1"


def test_305_names_a_proxy_and_306_is_empty():
    assert rule_headers(plan(305)) == [("Location", "http://proxy.invalid:3128/")]
    p = plan(306, fmt="json")
    assert p.body == b"" and one(p, "Content-Type") is None and one(p, "Vary") is None


# --- 401, 407: challenges ------------------------------------------------------------------------

BASIC = 'Basic realm="mockstatus", charset="UTF-8"'
DIGEST = 'Digest realm="mockstatus", qop="auth", algorithm=SHA-256, nonce="bW9ja3N0YXR1cw"'


@pytest.mark.parametrize(
    ("code", "field"), [(401, "WWW-Authenticate"), (407, "Proxy-Authenticate")]
)
def test_challenges_follow_the_scheme(code, field):
    other = "Proxy-Authenticate" if field == "WWW-Authenticate" else "WWW-Authenticate"
    assert rule_headers(plan(code)) == [(field, BASIC)]
    assert rule_headers(plan(code, scheme="digest")) == [(field, DIGEST)]
    assert rule_headers(plan(code, scheme="basic")) == [(field, BASIC)]
    bearer = one(plan(code, scheme="Bearer"), field)
    assert bearer is not None and bearer.startswith('Bearer realm="mockstatus"')
    assert one(plan(code, scheme="digest"), other) is None


# --- 405, 406, 408, 413, 415, 416 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "allow"),
    [
        ("GET", "POST, PUT, PATCH, DELETE, OPTIONS"),
        ("HEAD", "POST, PUT, PATCH, DELETE, OPTIONS"),
        ("POST", "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"),
        ("PUT", "GET, HEAD, POST, PATCH, DELETE, OPTIONS"),
        ("PATCH", "GET, HEAD, POST, PUT, DELETE, OPTIONS"),
        ("DELETE", "GET, HEAD, POST, PUT, PATCH, OPTIONS"),
        ("OPTIONS", "GET, HEAD, POST, PUT, PATCH, DELETE"),
        ("BREW", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
    ],
)
def test_405_allow_never_names_the_request_method(method, allow):
    assert rules.allowed_methods(method) == allow
    assert rule_headers(plan(405, method)) == [("Allow", allow)]


def test_406_lists_the_available_formats():
    p = plan(406, fmt="json")
    available = ["text/plain; charset=utf-8", "application/json", "text/html; charset=utf-8"]
    doc = json.loads(p.body)
    assert doc["available"] == available
    assert doc["description"] == (
        codes.lookup(406).description + " Available: " + ", ".join(available) + "."
    )


def test_408_closes_the_connection():
    p = plan(408)
    assert p.close is True and rule_headers(p) == [("Connection", "close")]
    assert plan(200).close is False


def test_413_closes_and_sends_retry_after_only_when_asked():
    p = plan(413)
    assert p.close is True and rule_headers(p) == [("Connection", "close")]
    asked = plan(413, retry_after="30")
    assert asked.close is True
    assert rule_headers(asked) == [("Retry-After", "30"), ("Connection", "close")]


@pytest.mark.parametrize(
    ("method", "fields"),
    [
        ("POST", [("Accept-Post", "application/json, text/plain")]),
        ("PATCH", [("Accept-Patch", "application/json, text/plain")]),
        (
            "PUT",
            [
                ("Accept-Post", "application/json, text/plain"),
                ("Accept-Patch", "application/json, text/plain"),
            ],
        ),
    ],
)
def test_415_advertises_the_accepted_types_for_the_method(method, fields):
    assert rule_headers(plan(415, method)) == fields


def test_416_content_range_follows_size():
    assert rule_headers(plan(416)) == [("Content-Range", "bytes */1024")]
    assert rule_headers(plan(416, size="5000")) == [("Content-Range", "bytes */5000")]
    assert rule_headers(plan(416, size="0")) == [("Content-Range", "bytes */0")]


# --- 418, 426, 428, 429, 451, 503, 511 -----------------------------------------------------------


def test_418_is_a_teapot():
    assert json.loads(plan(418, fmt="json").body)["description"] == (
        "I'm a teapot: short and stout. I refuse to brew coffee."
    )


def test_426_names_the_upgrade():
    assert rule_headers(plan(426)) == [("Upgrade", "TLS/1.3, HTTP/1.1"), ("Connection", "Upgrade")]


def test_428_asks_for_if_match():
    doc = json.loads(plan(428, fmt="json").body)
    assert doc["required"] == "If-Match"
    assert doc["description"] == (
        "This request must be conditional: send If-Match with the current ETag."
    )


def _rate_fields(retry: str, reset: str) -> list[tuple[str, str]]:
    return [
        ("Retry-After", retry),
        ("RateLimit-Policy", '"default";q=60;w=60'),
        ("RateLimit", f'"default";r=0;t={reset}'),
        ("X-RateLimit-Limit", "60"),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", reset),
    ]


def test_429_default_fields():
    assert rule_headers(plan(429)) == _rate_fields("60", "60")
    assert one(plan(429), "Cache-Control") == "no-store"


def test_429_retry_after_seconds_become_the_reset():
    assert rule_headers(plan(429, retry_after="7")) == _rate_fields("7", "7")


def test_429_retry_after_date_keeps_the_window_as_reset():
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert rule_headers(plan(429, retry_after=date)) == _rate_fields(date, "60")


def test_451_links_the_blocking_authority():
    assert rule_headers(plan(451)) == [("Link", '</anything/legal-authority>; rel="blocked-by"')]


def test_503_retry_after_default_and_override():
    assert rule_headers(plan(503)) == [("Retry-After", "120")]
    assert rule_headers(plan(503, retry_after="5")) == [("Retry-After", "5")]
    assert one(plan(503), "Cache-Control") == "no-store"


NETWORK_LOGIN = (
    b"<!doctype html>\n<html><head><title>Network Authentication Required</title>"
    b'<meta http-equiv="refresh" content="0; url=/anything/login"></head>\n'
    b'<body><p>You need to <a href="/anything/login">authenticate with the local network</a>'
    b" in order to gain access.</p></body></html>\n"
)


@pytest.mark.parametrize("fmt", ["text", "html"])
def test_511_names_a_login_page_in_html(fmt):
    p = plan(511, fmt=fmt)
    assert p.body == NETWORK_LOGIN
    assert one(p, "Content-Type") == "text/html; charset=utf-8"


def test_511_is_json_when_json_is_negotiated():
    p = plan(511, fmt="json")
    assert one(p, "Content-Type") == "application/json"
    doc = json.loads(p.body)
    assert (doc["code"], doc["reason"]) == (511, "Network Authentication Required")


@pytest.mark.parametrize("fmt", ["text", "json", "html"])
def test_200_and_304_carry_the_same_validators(fmt):
    ok, not_modified = plan(200, fmt=fmt), plan(304, fmt=fmt)
    assert one(ok, "Cache-Control") == one(not_modified, "Cache-Control") == "no-cache"
    assert one(ok, "ETag") is not None
    assert one(not_modified, "ETag") == one(ok, "ETag")  # RFC 9110 §15.4.5: the 200's validator


# --- the table itself ----------------------------------------------------------------------------


def test_the_code_rules_table_covers_exactly_these_codes():
    assert sorted(rules.CODE_RULES) == [
        200, 201, 202, 203, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308,
        401, 405, 406, 407, 408, 413, 415, 416, 418, 426, 428, 429, 451, 503, 511,
    ]  # fmt: skip


def test_constants():
    assert rules.STANDARD_METHODS == ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    assert rules.DEFAULT_LOCATION == "/anything"
    assert rules.DEFAULT_RETRY_AFTER == {503: "120", 429: "60"}
    assert rules.RATE_LIMIT_DEFAULT == 60


@pytest.mark.parametrize("code", [204, 404, 418, 500, 599])
def test_codes_without_a_header_rule_add_no_header(code):
    assert rule_headers(plan(code)) == []
