"""Issue 11: the query is parsed once per request into `types.PlanRequest` (queries.*_of), and the
planners (`endpoints.status_plan`, `semantics.with_interims`, `expect`) read that, not the query."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from mockstatus import queries
from mockstatus.app import Mockstatus
from mockstatus.errors import RequestError
from mockstatus.types import DEFAULT_OPTIONS, Decision, ManualClock, Query, RequestFacts

LINK = "</a.css>; rel=preload; as=style"


class CountingQuery(Query):
    """A Query that counts how often each parameter is read."""

    __slots__ = ("reads",)

    def __init__(self, items: tuple[tuple[str, str], ...]) -> None:
        super().__init__(items)
        self.reads: Counter[str] = Counter()

    def get(self, key: str, default: str | None = None) -> str | None:
        self.reads[key] += 1
        return super().get(key, default)

    def getall(self, key: str) -> list[str]:
        self.reads[key] += 1
        return super().getall(key)

    def to_dict(self) -> dict[str, str | list[str]]:
        # /anything echoes its query as data (`args`): copying it is not a parameter read.
        return Query(self.items()).to_dict()


class NoBody:
    exists = False
    length = None
    limit = 1024

    async def read(self) -> bytes:
        return b""

    async def send_continue(self, interim: object, delay: float) -> bool:
        return True


@pytest.fixture
def app(tmp_path) -> Mockstatus:
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=tmp_path)
    app.store.load_initial()
    return app


def decide(app: Mockstatus, path: str, query: Query) -> Decision:
    facts = RequestFacts(method="GET", path=path, query=query, headers={})
    return asyncio.run(app.decide(facts, NoBody()))


def test_each_parameter_is_read_once_per_request(app: Mockstatus) -> None:
    query = CountingQuery(
        (("interim", "103"), ("link", LINK), ("interim_mode", "force"), ("reason", "Fine"))
    )
    plan = decide(app, "/status/200", query).plan
    assert (plan.status, plan.reason) == (200, "Fine")
    assert [(i.status, i.headers) for i in plan.interims] == [(103, (("Link", LINK),))]
    assert [v for n, v in plan.headers if n == "Link"] == [LINK]
    assert {k: n for k, n in query.reads.items() if n > 1} == {}
    assert query.reads["interim"] == query.reads["link"] == query.reads["interim_mode"] == 1


def test_the_102_interval_is_parsed_once(app: Mockstatus) -> None:
    query = CountingQuery((("sleep", "500"), ("interval", "20"), ("interim", "102")))
    plan = decide(app, "/status/200", query).plan
    assert [i.status for i in plan.interims] == [102]
    assert (plan.delay, plan.processing_interval) == (0.5, 0.02)
    assert query.reads["interval"] == 1


def test_other_paths_validate_only_what_they_use(app: Mockstatus) -> None:
    # /anything echoes its query: /status parameters are not validated there.
    plan = decide(app, "/anything", Query((("format", "bogus"), ("link", "\x01")))).plan
    assert plan.status == 200
    # ?interim= applies on any path, and then its ?link= values are checked.
    bad = decide(app, "/anything", Query((("interim", "103"), ("link", "a\x01b")))).plan
    assert bad.status == 400
    ok = decide(app, "/anything", Query((("interim", "103"), ("link", LINK)))).plan
    assert [(i.status, i.headers) for i in ok.interims] == [(103, (("Link", LINK),))]
    assert [v for n, v in ok.headers if n == "Link"] == [LINK]


def test_a_bad_interim_mode_is_a_400_naming_it(app: Mockstatus) -> None:
    facts = RequestFacts(method="GET", path="/status/200", query=Query((("interim_mode", "x"),)))
    with pytest.raises(RequestError) as err:
        queries.interim_mode_of(facts, "auto")
    assert (err.value.status, err.value.param) == (400, "interim_mode")
    assert decide(app, "/status/200", facts.query).plan.status == 400


def test_the_plan_request_is_kept_on_the_facts_and_remade_for_a_new_query() -> None:
    facts = RequestFacts(method="GET", path="/status/200", query=Query((("interim", "100"),)))
    opts = queries.options_of(facts)
    assert opts.interim == (100,)
    assert queries.options_of(facts) is opts
    assert queries.interims_of(facts) == ((100,), ())
    assert queries.interim_mode_of(facts, "off") == "off"
    facts.query = Query((("interim", "103"),))
    assert queries.options_of(facts).interim == (103,)


def test_no_query_costs_no_plan_request() -> None:
    facts = RequestFacts(method="GET", path="/status/503")
    assert queries.options_of(facts) is DEFAULT_OPTIONS
    assert queries.interims_of(facts) == (None, ())
    assert queries.interval_of(facts) is None
    assert queries.interim_mode_of(facts, "auto") == "auto"
    assert facts.plan_request is None


# --- endpoint-specific parameters: parsed once into the PlanRequest too -------------------------


@pytest.mark.parametrize(
    ("path", "items", "status"),
    [
        ("/status/200", (("fault", "drip"), ("drip", "4/20ms")), 200),
        ("/status/200", (("compress", "gzip"), ("fault", "corrupt-encoding")), 200),
        ("/status/200", (("fault", "rst_stream"), ("error", "CANCEL"), ("after", "headers")), 200),
        ("/anything", (("status", "201"), ("header", "X-A:1"), ("header", "X-B:2")), 201),
        ("/redirect/2", (("status", "307"), ("absolute", "true")), 307),
        ("/response-headers", (("X-One", "1"), ("X-Two", "2")), 200),
    ],
    ids=["fault-drip", "compress", "rst_stream", "echo", "redirect", "response-headers"],
)
def test_endpoint_parameters_are_read_once(
    app: Mockstatus, path: str, items: tuple[tuple[str, str], ...], status: int
) -> None:
    query = CountingQuery(items)
    plan = decide(app, path, query).plan
    assert plan.status == status
    assert {k: n for k, n in query.reads.items() if n > 1} == {}


def test_endpoint_groups_are_kept_on_the_plan_request() -> None:
    facts = RequestFacts(
        method="GET",
        path="/redirect/2",
        query=Query((("status", "307"), ("absolute", "true"), ("compress", "br"))),
    )
    assert queries.redirect_of(facts) == (307, True, "true")
    assert facts.plan_request is not None
    assert facts.plan_request.endpoint["redirect"] == (307, True, "true")
    facts.query = Query((("status", "301"),))  # a new query: parsed afresh
    assert queries.redirect_of(facts) == (301, True, "")


def test_endpoint_values_pin_what_the_plans_carry(app: Mockstatus) -> None:
    echo = decide(app, "/anything", Query((("status", "202"), ("header", "X-A: 1")))).plan
    assert echo.status == 202 and ("X-A", "1") in echo.headers
    hop = decide(app, "/redirect/2", Query((("status", "308"),))).plan
    assert dict(hop.headers)["Location"] == "/redirect/1?status=308"
    fault = decide(app, "/status/503", Query((("fault", "rst_stream"), ("error", "cancel")))).plan
    assert fault.fault is not None and (fault.fault.kind, fault.fault.error) == ("rst_stream", 8)
    bad = decide(app, "/status/200", Query((("compress", ""),))).plan
    assert bad.status == 400 and b"invalid compress" in bad.body


def test_no_query_costs_no_endpoint_group() -> None:
    facts = RequestFacts(method="GET", path="/anything")
    assert queries.fault_of(facts) == (None, None)
    assert queries.compress_of(facts) is None
    assert queries.echo_of(facts) == (200, ())
    assert queries.redirect_of(facts) == (302, False, "")
    assert queries.continue_of(facts) is None
    assert queries.response_headers_of(facts) == ()
    assert facts.plan_request is None
