"""The transport-neutral seam: `Mockstatus.decide(facts, body)` and `record`, driven without any
aiohttp request object (what an HTTP/2 transport does), and the pure Expect decision."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from mockstatus.app import Mockstatus
from mockstatus.errors import RequestError
from mockstatus.expect import CONTINUE, answer_expect
from mockstatus.http_syntax import ADMIN_PREFIX
from mockstatus.types import Decision, Interim, ManualClock, Query, RequestFacts


class FakeBody:
    """A BodySource as a second transport would offer it; logs what it was asked to do."""

    def __init__(self, data: bytes = b"", *, limit: int = 1024, fail: int | None = None) -> None:
        self.data = data
        self.exists = bool(data)
        self.length: int | None = len(data) if data else None
        self.limit = limit
        self.fail = fail
        self.calls: list[object] = []

    async def read(self) -> bytes:
        self.calls.append("read")
        if self.fail is not None:
            err = RequestError("no body", status=self.fail)
            err.unread_body = True  # type: ignore[attr-defined]
            raise err
        return self.data

    async def send_continue(self, interim: Interim | None, delay: float) -> bool:
        self.calls.append(("continue", interim.status if interim else None, delay))
        return True


def facts(path: str, *, method: str = "GET", query: str = "", **headers: str) -> RequestFacts:
    items = tuple(tuple(p.split("=", 1)) for p in query.split("&") if p)
    lowered = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    return RequestFacts(method=method, path=path, query=Query(items), headers=lowered)  # type: ignore[arg-type]


@pytest.fixture
def app(tmp_path) -> Mockstatus:
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=tmp_path)
    app.store.load_initial()
    return app


def decide(app: Mockstatus, f: RequestFacts, body: FakeBody) -> Decision:
    return asyncio.run(app.decide(f, body))


def test_status_503_is_decided_without_reading_the_body(app: Mockstatus) -> None:
    body = FakeBody()
    d = decide(app, facts("/status/503"), body)
    assert (d.plan.status, d.scenario, d.route, d.facts.body) == (503, None, None, None)
    assert ("Retry-After", "120") in d.plan.headers
    assert body.calls == []


def test_interims_are_applied_in_the_decision(app: Mockstatus) -> None:
    d = decide(app, facts("/status/200", query="interim=103&link=</a.css>"), FakeBody())
    assert [i.status for i in d.plan.interims] == [103]
    assert ("Link", "</a.css>") in d.plan.headers  # RFC 8297: the final repeats the hint


def test_echo_reads_the_body_into_the_decision_facts(app: Mockstatus) -> None:
    body = FakeBody(b"hello")
    d = decide(app, facts("/anything", method="POST"), body)
    assert d.plan.status == 200 and d.facts.body == b"hello"
    assert b"hello" in d.plan.body
    assert body.calls == ["read"]


@pytest.mark.parametrize(("fail", "status"), [(408, 408), (413, 413), (400, 400)])
def test_a_body_read_error_is_its_status_and_closes(app: Mockstatus, fail, status) -> None:
    d = decide(app, facts("/anything", method="POST"), FakeBody(b"x", fail=fail))
    assert (d.plan.status, d.plan.close) == (status, True)


def test_a_request_error_becomes_the_plan(app: Mockstatus) -> None:
    d = decide(app, facts("/status/9999"), FakeBody())
    assert d.plan.status == 400 and b"9999" in d.plan.body


def test_expect_sends_the_100_then_reads_then_answers(app: Mockstatus) -> None:
    body = FakeBody(b"data")
    d = decide(app, facts("/status/201", method="POST", expect="100-continue"), body)
    assert body.calls == [("continue", 100, 0.0), "read"]
    assert d.plan.status == 201 and d.facts.body == b"data"


def test_expect_413_goes_out_instead_of_the_100(app: Mockstatus) -> None:
    body = FakeBody(b"data")
    d = decide(app, facts("/status/413", method="POST", expect="100-continue"), body)
    assert (d.plan.status, d.plan.close, body.calls) == (413, True, [])


def test_record_journals_the_protocol_version(app: Mockstatus) -> None:
    f = facts("/status/503", x_mockstatus_session="s1")
    d = decide(app, f, FakeBody())
    app.record(d, 0.0, "", {"x-mockstatus-session": "s1"}, "HTTP/2")
    (entry,) = [e.to_dict() for e in app.journal.select()]
    assert (entry["path"], entry["status"], entry["http_version"]) == ("/status/503", 503, "HTTP/2")
    assert entry["session"] == "s1"


def test_http1_requests_are_journalled_as_http_1_1(server) -> None:
    httpx.get(server.url("/status/418"))
    entry = httpx.get(server.url(f"{ADMIN_PREFIX}/requests")).json()["requests"][-1]
    assert (entry["status"], entry["http_version"]) == (418, "HTTP/1.1")


# --- the pure Expect decision ----------------------------------------------------------------


def expect(query: str = "", *, version=(1, 1), value="100-continue", length=None, limit=100):
    f = facts("/status/200", method="POST", query=query)
    f.version = version
    return answer_expect(f, value, "auto", length, limit)


@pytest.mark.parametrize(
    ("query", "kw", "final_status", "interim", "delay", "first"),
    [
        ("", {}, None, CONTINUE, 0.0, True),
        ("continue=send", {}, None, CONTINUE, 0.0, False),
        ("continue=withhold", {}, None, None, 0.0, False),
        ("continue=250", {}, None, CONTINUE, 0.25, False),
        ("continue=reject", {}, 417, None, 0.0, False),
        ("continue=417", {}, 417, None, 0.0, False),
        ("continue=soon", {}, 400, None, 0.0, False),
        ("continue=-1", {}, 400, None, 0.0, False),
        ("", {"value": "200-ok"}, 417, None, 0.0, False),
        ("", {"length": 101}, 413, None, 0.0, False),
        ("interim_mode=off", {}, None, None, 0.0, True),
        ("interim_mode=bogus", {}, 400, None, 0.0, False),
    ],
    ids=["default", "send", "withhold", "delay", "reject", "417", "bad", "negative",
         "unknown-expectation", "too-large", "interims-off", "bad-mode"],
)  # fmt: skip
def test_answer_expect(query, kw, final_status, interim, delay, first) -> None:
    answer = expect(query, **kw)
    assert answer is not None
    if final_status is None:
        assert answer.final is None
        assert (answer.interim, answer.delay, answer.decide_first) == (interim, delay, first)
    else:
        assert answer.final is not None
        assert (answer.final.status, answer.final.close) == (final_status, True)


def test_http_1_0_expect_is_ignored_unless_forced() -> None:
    assert expect(version=(1, 0)) is None
    forced = expect("interim_mode=force", version=(1, 0))
    assert forced is not None and forced.interim == CONTINUE


@pytest.mark.parametrize(("version", "status"), [("13", 101), ("8", 426), ("", 426)])
def test_the_websocket_version_is_decided_in_the_pure_layer(app, version, status) -> None:
    f = facts("/status/101", upgrade="websocket", connection="Upgrade")
    f.header_items = tuple(f.headers.items())
    if version:
        f.headers["sec-websocket-version"] = version  # type: ignore[index]
    d = decide(app, f, FakeBody())
    assert d.plan.status == status
    if status == 426:  # RFC 6455 §4.2.2: names the version we speak; the journal says 426
        assert d.plan.headers[:2] == (("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"))
    else:
        assert d.plan.upgrade == "websocket"
