"""Bearer challenges (issue 9 item 8; RFC 6750 §3.1).

A request without Bearer credentials — none at all, or another scheme — gets a challenge without
an error code; a request that presented a bearer token gets `error="invalid_token"`. 407 reads
Proxy-Authorization the same way.
"""

from __future__ import annotations

import random

import pytest

from mockstatus import endpoints, semantics
from mockstatus.queries import parse_options
from mockstatus.types import DEFAULT_OPTIONS, Query, RequestFacts
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

SEM = semantics.StatusSemantics(random.Random(1))
BARE = 'Bearer realm="mockstatus"'
INVALID = 'Bearer realm="mockstatus", error="invalid_token"'


def challenge(code: int, **fields: str) -> str | None:
    headers = {k.replace("_", "-").lower(): v for k, v in fields.items()}
    facts = RequestFacts(
        method="GET", path=f"/status/{code}", query=Query((("scheme", "Bearer"),)), headers=headers
    )
    plan = endpoints.builtin_plan(facts, SEM)
    name = "WWW-Authenticate" if code == 401 else "Proxy-Authenticate"
    assert plan.status == code
    return next((v for n, v in plan.headers if n == name), None)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({}, BARE, id="no-credentials"),
        pytest.param({"authorization": "Bearer mF_9.B5f-4.1JqM"}, INVALID, id="bearer-token"),
        pytest.param({"authorization": "bearer abc"}, INVALID, id="scheme-is-case-insensitive"),
        pytest.param({"authorization": "Basic dXNlcjpwYXNz"}, BARE, id="another-scheme"),
        pytest.param({"authorization": ""}, BARE, id="empty-field"),
        pytest.param({"proxy_authorization": "Bearer abc"}, BARE, id="proxy-credentials-on-401"),
    ],
)
def test_401_bearer_challenge(fields, expected):
    assert challenge(401, **fields) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({}, BARE, id="no-credentials"),
        pytest.param({"proxy_authorization": "Bearer abc"}, INVALID, id="proxy-bearer-token"),
        pytest.param({"authorization": "Bearer abc"}, BARE, id="origin-credentials-on-407"),
    ],
)
def test_407_bearer_challenge(fields, expected):
    assert challenge(407, **fields) == expected


def test_the_challenge_depends_on_the_request_so_it_is_not_memoised():
    assert challenge(401, authorization="Bearer abc") == INVALID
    assert challenge(401) == BARE
    assert challenge(401, authorization="Bearer abc") == INVALID


def test_basic_is_unchanged_by_credentials():
    facts = RequestFacts(method="GET", path="/status/401", headers={"authorization": "Basic x"})
    plan = endpoints.builtin_plan(facts, SEM)
    assert dict(plan.headers)["WWW-Authenticate"] == 'Basic realm="mockstatus", charset="UTF-8"'


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({}, BARE, id="no-credentials"),
        pytest.param({"Authorization": "Bearer t0k3n"}, INVALID, id="bearer-token"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, BARE, id="basic"),
    ],
)
def test_wire_401_bearer_challenge(server, fields, expected):
    _, r = rawhttp.request(server.port, "GET", "/status/401?scheme=Bearer", fields)
    assert r.status == 401 and r.all("WWW-Authenticate") == [expected]


def test_wire_407_bearer_challenge(server):
    _, bare = rawhttp.request(server.port, "GET", "/status/407?scheme=bearer")
    _, invalid = rawhttp.request(
        server.port, "GET", "/status/407?scheme=bearer", {"Proxy-Authorization": "Bearer x"}
    )
    assert bare.all("Proxy-Authenticate") == [BARE]
    assert invalid.all("Proxy-Authenticate") == [INVALID]


def test_a_bearer_challenge_is_never_memoised():
    """The challenge depends on the request's credentials, so its plan must not be reused for the
    next request: a fresh StatusSemantics answers a credential-less request, then a bearer one."""
    sem = semantics.StatusSemantics(random.Random(1))
    query = Query((("scheme", "Bearer"),))
    answers = []
    for headers in ({}, {"authorization": "Bearer abc"}, {}):
        facts = RequestFacts(method="GET", path="/status/401", query=query, headers=headers)
        plan = endpoints.builtin_plan(facts, sem)
        answers.append(next(v for n, v in plan.headers if n == "WWW-Authenticate"))
    assert answers == [BARE, INVALID, BARE]


def test_build_plan_marks_bearer_plans_uncacheable_and_basic_ones_cacheable():
    opts = parse_options(Query((("scheme", "Bearer"),)))
    _, cacheable = semantics.build_plan(401, "GET", "text", opts, request_headers={})
    assert cacheable is False
    _, cacheable = semantics.build_plan(401, "GET", "text", DEFAULT_OPTIONS, request_headers={})
    assert cacheable is True


def test_only_the_first_word_of_the_credentials_is_the_scheme():
    """`Bearer a b` presented a bearer token (a malformed one): invalid_token, not a bare challenge.
    The scheme is the first word, not the last-but-one."""
    assert challenge(401, authorization="Bearer abc def") == INVALID
    assert challenge(401, authorization="Basic Bearer x") == BARE
