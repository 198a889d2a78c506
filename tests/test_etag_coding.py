"""Issue 13 (docs/streams.md, compression): the ETag differs per content coding, and a
precondition is evaluated against the ETag the client actually received. A client that cached
`/status/200?compress=gzip` and sends its coded ETag back gets 304, not 200 (it did before: the
precondition was evaluated on the identity representation, before coding)."""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator

import pytest

from mockstatus import endpoints, semantics
from mockstatus.app import Mockstatus
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock, Query, RequestFacts
from tests import rawhttp

# /status/200 as text: sha256(b"200 OK") starts f9bafc82ba5f8fb0 (tests/test_etag.py).
IDENTITY = '"200-f9bafc82ba5f8fb0"'
GZIP = '"200-f9bafc82ba5f8fb0-gzip"'
SEM = semantics.StatusSemantics(random.Random(1), clock=ManualClock())


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    folder = tmp_path_factory.mktemp("etagcoding")
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=folder)
    app.store.load_initial()
    with BackgroundServer(app) as server:
        yield server


def get(srv: BackgroundServer, target: str, **headers: str) -> rawhttp.RawResponse:
    fields = {k.replace("_", "-"): v for k, v in headers.items()}
    return rawhttp.request(srv.port, "GET", target, fields)[1]


def test_the_coded_response_carries_the_coded_etag(srv: BackgroundServer) -> None:
    resp = get(srv, "/status/200?compress=gzip", Accept_Encoding="gzip")
    assert (resp.status, resp.header("ETag"), resp.header("Content-Encoding")) == (
        200,
        GZIP,
        "gzip",
    )
    assert gzip.decompress(resp.body) == b"200 OK"


def test_the_coded_etag_sent_back_is_304_with_that_etag(srv: BackgroundServer) -> None:
    resp = get(srv, "/status/200?compress=gzip", Accept_Encoding="gzip", If_None_Match=GZIP)
    assert resp.status == 304
    assert resp.header("ETag") == GZIP
    assert resp.header("Vary") == "Accept, Accept-Encoding"
    assert resp.header("Content-Encoding") is None and resp.header("Content-Length") is None
    assert resp.body == b""


def test_the_identity_etag_does_not_match_the_coded_representation(srv: BackgroundServer) -> None:
    resp = get(srv, "/status/200?compress=gzip", Accept_Encoding="gzip", If_None_Match=IDENTITY)
    assert (resp.status, resp.header("ETag")) == (200, GZIP)
    assert gzip.decompress(resp.body) == b"200 OK"


def test_without_gzip_accepted_the_identity_etag_is_the_one_compared(srv: BackgroundServer) -> None:
    resp = get(srv, "/status/200?compress=gzip", Accept_Encoding="identity", If_None_Match=IDENTITY)
    assert (resp.status, resp.header("ETag")) == (304, IDENTITY)
    coded = get(srv, "/status/200?compress=gzip", Accept_Encoding="identity", If_None_Match=GZIP)
    assert (coded.status, coded.header("ETag"), coded.body) == (200, IDENTITY, b"200 OK")


def test_head_and_a_weak_comparison_match_the_coded_etag(srv: BackgroundServer) -> None:
    # If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/ on either side still matches.
    resp = get(srv, "/status/200?compress=gzip", Accept_Encoding="gzip", If_None_Match="W/" + GZIP)
    assert (resp.status, resp.header("ETag")) == (304, GZIP)
    head = rawhttp.request(
        srv.port,
        "HEAD",
        "/status/200?compress=gzip",
        {"Accept-Encoding": "gzip", "If-None-Match": GZIP},
    )[1]
    assert (head.status, head.header("ETag")) == (304, GZIP)


def test_if_match_with_the_coded_etag_passes(srv: BackgroundServer) -> None:
    ok = get(srv, "/status/200?compress=gzip", Accept_Encoding="gzip", If_Match=GZIP)
    assert (ok.status, ok.header("ETag")) == (200, GZIP)
    refused = get(srv, "/status/200?compress=gzip", Accept_Encoding="gzip", If_Match='"other"')
    assert refused.status == 412


def test_without_preconditions_the_request_is_planned_once() -> None:
    facts = RequestFacts(
        method="GET",
        path="/status/200",
        query=Query((("compress", "gzip"),)),
        headers={"accept-encoding": "gzip"},
    )
    plan = endpoints.builtin_plan(facts, SEM)
    assert (plan.status, dict(plan.headers)["ETag"]) == (200, GZIP)


def test_without_preconditions_keeps_the_other_fields() -> None:
    facts = RequestFacts(
        method="GET",
        path="/x",
        headers={"if-none-match": GZIP, "accept-encoding": "gzip", "if-match": "*"},
        header_items=(("If-None-Match", GZIP), ("Accept-Encoding", "gzip"), ("If-Match", "*")),
    )
    bare = semantics.without_preconditions(facts)
    assert dict(bare.headers) == {"accept-encoding": "gzip"}
    assert tuple(bare.header_items) == (("Accept-Encoding", "gzip"),)
    assert semantics.has_preconditions(facts) and not semantics.has_preconditions(bare)
