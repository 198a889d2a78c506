"""mockstatus.client on its own: `Client` and `AsyncClient` against a real listening server
(BackgroundServer, HTTP through urllib) and through the in-process transport; tokens, journal
paging, purge by owner, errors carrying the server's message, and an import with pytest and
aiohttp made unimportable."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import httpx
import pytest

import mockstatus.pytest_plugin as plugin
from mockstatus.client import (
    TOKEN_ENV,
    URL_ENV,
    AdminCallError,
    AsyncClient,
    Client,
    ClockNotControllable,
    InProcessTransport,
    MockstatusError,
    MockstatusUnreachable,
    ScenarioRejected,
    WaitTimeout,
)
from mockstatus.types import SystemClock

ROOT = Path(__file__).resolve().parent.parent
SEQ = (
    "routes:\n  - name: r\n    match: {path: /seq}\n    sequence:\n"
    "      - {status: 503, times: 2}\n      - {status: 200}\n"
)
ROUTE = "routes:\n  - match: {path: /%s}\n    respond: {status: 200}\n"
BAD = "routes:\n  - match: {pth: /x}\n    respond: {status: 200}\n"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)


class Spy:
    """Records the (method, path, query) of every call a client's transport carries."""

    def __init__(self, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        real = client.transport.call

        def call(method, path, query=None, *args, **kwargs):
            self.calls.append((method, path, dict(query or {})))
            return real(method, path, query, *args, **kwargs)

        monkeypatch.setattr(client.transport, "call", call)


def hit(url: str, n: int = 1, **kwargs) -> list[int]:
    with httpx.Client(trust_env=False) as c:
        return [c.get(url, **kwargs).status_code for _ in range(n)]


# --- the plugin's names are the client's ---------------------------------------------------------


def test_the_plugin_re_exports_the_clients_exceptions():
    for name in ("AdminCallError", "ClockNotControllable", "ScenarioRejected", "WaitTimeout"):
        assert getattr(plugin, name) is getattr(sys.modules["mockstatus.client"], name)
    assert plugin.MockstatusPluginError is MockstatusError
    assert issubclass(WaitTimeout, TimeoutError) and issubclass(ScenarioRejected, AdminCallError)
    assert issubclass(MockstatusUnreachable, MockstatusError)


# --- sync client over HTTP -----------------------------------------------------------------------


def test_health_urls_and_the_environment(server, monkeypatch):
    with pytest.raises(MockstatusError, match=f"no server URL: pass one or set {URL_ENV}"):
        Client()
    monkeypatch.setenv(URL_ENV, server.base_url + "/")
    with Client() as client:
        assert client.health() == {"status": "ok"}
        assert client.base_url == server.base_url
        assert client.url("status/503") == server.base_url + "/status/503"
        assert client.admin_url("/health") == server.base_url + "/__mockstatus/health"


def test_unreachable_and_bad_urls_are_clear_errors():
    with pytest.raises(
        MockstatusUnreachable,
        match=re.escape("cannot reach the mockstatus server at http://127.0.0.1:1"),
    ):
        Client("http://127.0.0.1:1", timeout=5).health()
    with pytest.raises(MockstatusError, match=re.escape("'localhost:8080' is not an http(s) URL")):
        Client("localhost:8080")


def test_the_token_argument_and_the_environment(make_server, monkeypatch):
    server = make_server(admin_token="s3cret")
    with pytest.raises(AdminCallError) as info:
        Client(server.base_url).put_scenario("x", ROUTE % "x")
    assert info.value.status == 401
    assert "PUT /scenarios/x answered 401 this admin call needs Authorization: Bearer" in str(
        info.value
    )
    assert info.value.doc["error"].startswith("this admin call needs Authorization")
    with pytest.raises(AdminCallError, match="answered 401"):
        Client(server.base_url, token="wrong").requests()
    assert Client(server.base_url, token="s3cret").put_scenario("x", ROUTE % "x")["created"]
    monkeypatch.setenv(TOKEN_ENV, "s3cret")
    assert Client(server.base_url).delete_scenario("x") is True


def test_scenarios_put_list_get_delete(server):
    client = Client(server.base_url, owner="run-1")
    first = client.put_scenario("seq", SEQ)
    assert first["created"] is True and first["name"] == "seq" and first["rank"] == 1
    assert client.put_scenario("seq", SEQ.encode())["created"] is False
    assert hit(server.url("/seq"), 3) == [503, 503, 200]
    listing = client.scenarios()
    assert listing["uploads"] == ["seq"] and listing["errors"] == []
    (item,) = listing["scenarios"]
    assert item["routes"] == [{"name": "r", "behaviours": ["sequence"], "calls": 3}]
    assert client.scenario("seq")["name"] == "seq"
    assert client.delete_scenario("seq") is True
    assert client.delete_scenario("seq", missing_ok=True) is False
    with pytest.raises(AdminCallError) as info:
        client.delete_scenario("seq")
    assert info.value.status == 404 and "no scenario named 'seq'" in str(info.value)


def test_load_names_a_scenario_from_its_source(server, tmp_path):
    client = Client(server.base_url)
    assert client.load("name: declared\n" + ROUTE % "a") == "declared"
    assert (
        client.load({"routes": [{"match": {"path": "/b"}, "respond": {"status": 202}}]}, name="b")
        == "b"
    )
    path = tmp_path / "from-file.yaml"
    path.write_text(ROUTE % "c")
    assert client.load(path) == "from-file"
    assert client.load(ROUTE % "d", default_name=lambda: "made") == "made"
    assert client.load(ROUTE % "e").startswith("upload-")
    assert hit(server.url("/b")) == [202]
    with pytest.raises(FileNotFoundError):
        client.load("missing.yaml")


def test_a_rejected_scenario_lists_every_problem(server, tmp_path):
    client = Client(server.base_url)
    with pytest.raises(ScenarioRejected) as info:
        client.put_scenario("bad", BAD)
    assert info.value.status == 400
    assert info.value.problems[0].startswith("<upload:bad>:2:")
    assert "did you mean 'path'" in str(info.value)
    path = tmp_path / "broken.yaml"
    path.write_text(BAD)
    with pytest.raises(ScenarioRejected) as info:
        client.load(path)
    assert info.value.problems[0].startswith(f"{path}:2:")
    with pytest.raises(ScenarioRejected, match="line numbers refer to the YAML the dict"):
        client.load({"routes": [{"match": {"pth": "/x"}}]})


def test_purge_removes_one_owners_uploads(server):
    mine, theirs = Client(server.base_url, owner="a"), Client(server.base_url, owner="b")
    mine.put_scenario("m1", ROUTE % "m1")
    mine.put_scenario("m2", ROUTE % "m2", owner="other")  # the argument wins over the client's
    theirs.put_scenario("t", ROUTE % "t")
    Client(server.base_url).put_scenario("ci", ROUTE % "ci")  # no owner
    assert mine.purge("a") == ["m1"]
    assert mine.scenarios()["uploads"] == ["ci", "m2", "t"]
    assert hit(server.url("/m1")) == [404] and hit(server.url("/t")) == [200]
    assert sorted(mine.purge()) == ["ci", "m2", "t"]  # no owner: every upload
    with pytest.raises(AdminCallError, match="invalid owner ''"):
        mine.purge("")


def test_reload_and_its_errors(make_server):
    server = make_server({"f.yaml": ROUTE % "f"})
    client = Client(server.base_url)
    client.delete_scenario("f")
    assert hit(server.url("/f")) == [404]
    assert [s["name"] for s in client.reload()["scenarios"]] == ["f"]
    assert hit(server.url("/f")) == [200]
    (Path(client.reload()["folder"]) / "g.yaml").write_text(BAD)
    with pytest.raises(AdminCallError) as info:
        client.reload()
    assert info.value.status == 400 and "the scenarios folder is invalid" in str(info.value)
    assert info.value.doc["errors"][0]["line"] == 2


def test_reset_and_clear_all_or_one_session(server):
    client = Client(server.base_url)
    client.put_scenario("seq", SEQ)
    a, b = {"X-Mockstatus-Session": "a"}, {"X-Mockstatus-Session": "b"}
    assert hit(server.url("/seq"), 2, headers=a) + hit(server.url("/seq"), 1, headers=b) == [
        503,
        503,
        503,
    ]
    client.reset("a")
    assert hit(server.url("/seq"), 1, headers=a) + hit(server.url("/seq"), 1, headers=b) == [
        503,
        503,
    ]
    assert client.clear_requests("a") == 3
    assert [e["session"] for e in client.requests()] == ["b", "b"]
    client.reset()
    assert hit(server.url("/seq"), 1, headers=b) == [503]
    assert client.clear_requests() == 3 and client.requests() == []


# --- the journal ---------------------------------------------------------------------------------


def test_requests_page_through_a_journal_with_next_since(server, monkeypatch):
    client = Client(server.base_url)
    with httpx.Client(headers={"Authorization": "Bearer t0ken"}, trust_env=False) as c:
        for code in range(200, 207):
            c.get(server.url(f"/status/{code}"))
    spy = Spy(client, monkeypatch)
    entries = client.requests(page_size=2)
    assert [e["status"] for e in entries] == list(range(200, 207))
    assert [e["seq"] for e in entries] == list(range(1, 8))
    assert [q["since"] for _, _, q in spy.calls] == ["0", "2", "4", "6"]
    assert {q["limit"] for _, _, q in spy.calls} == {"2"}
    assert entries[0]["headers"]["Authorization"].startswith("<redacted:sha256:")  # default
    spy.calls.clear()
    assert [e["status"] for e in client.requests(limit=2)] == [205, 206]
    assert len(spy.calls) == 1  # the last N: one call
    assert [e["path"] for e in client.requests(since=5, page_size=1)] == [
        "/status/205",
        "/status/206",
    ]
    assert [e["status"] for e in client.requests(since=1, limit=2, page_size=2)] == [205, 206]
    page = client.requests_page(since=0, limit=3)
    assert page["count"] == 3 and page["more"] is True and page["next_since"] == 3
    assert client.requests(path="/status/203", status=203)[0]["seq"] == 4
    with pytest.raises(TypeError, match="unknown journal filter 'rout'"):
        client.requests(rout="r")


def test_a_small_journal_keeps_the_newest(make_server):
    server = make_server(journal_size=3)
    hit(server.url("/status/200"), 5)
    client = Client(server.base_url)
    assert [e["seq"] for e in client.requests(page_size=2)] == [3, 4, 5]


def test_wait_for_and_its_timeout(server):
    client = Client(server.base_url)
    thread = threading.Thread(target=hit, args=(server.url("/status/202"),))
    thread.start()
    got = client.wait_for(1, path="/status/202", timeout=10)
    thread.join(10)
    assert [e["status"] for e in got] == [202]
    with pytest.raises(WaitTimeout) as info:
        client.wait_for(2, path="/status/202", timeout=0)
    assert info.value.status == 408 and len(info.value.requests) == 1
    assert "1 arrived: GET /status/202 -> 202" in str(info.value)


def test_wait_for_outlasts_a_full_waiter_table(server):
    server.call(setattr, server.app.journal, "max_waiters", 0)
    with pytest.raises(WaitTimeout):  # 503 + Retry-After retried, then a poll: never a 503
        Client(server.base_url).wait_for(1, timeout=0.05)


# --- clock, metrics, catalog ---------------------------------------------------------------------


def test_the_clock(make_server):
    client = Client(make_server(clock_controllable=True).base_url)
    before = client.clock()
    assert before["controllable"] is True
    after = client.advance(5)
    assert after["wall"] == before["wall"] + 5 and after["advanced"] == 5.0
    with pytest.raises(ValueError, match="only moves forward"):
        client.advance(-1)
    with pytest.raises(AdminCallError, match="answered 400 invalid seconds") as info:
        client.advance(1e11)  # more than ten years at once
    assert info.value.status == 400
    system = Client(make_server(clock=SystemClock()).base_url)
    with pytest.raises(ClockNotControllable) as info:
        system.advance(1)
    assert info.value.status == 409 and "--clock manual" in str(info.value)


def test_metrics_and_the_catalog(server):
    client = Client(server.base_url)
    hit(server.url("/status/503"))
    assert "# TYPE mockstatus_requests_total counter" in client.metrics()
    assert client.catalog(503)["headers"][1] == ["Retry-After", "120"]
    fours = client.catalog(status_class="4xx")["codes"]
    assert {e["class"] for e in fours} == {"4xx"} and len(fours) == 100
    with pytest.raises(AdminCallError) as info:
        client.catalog(999)
    assert info.value.status == 400 and "invalid status code '999'" in str(info.value)


# --- in-process transport ------------------------------------------------------------------------


def test_the_in_process_transport(tmp_path):
    client = Client.start_in_process(seed=3)
    assert isinstance(client.transport, InProcessTransport) and not client.transport.external
    try:
        (tmp_path / "x.json").write_text('{"from": "file"}')
        path = tmp_path / "f.yaml"
        path.write_text(
            "routes:\n  - match: {path: /f}\n    respond: {status: 200, file: x.json}\n"
        )
        assert client.load(path) == "f"  # `file:` resolves next to the YAML
        with httpx.Client(headers={"Authorization": "Bearer t0ken"}, trust_env=False) as c:
            assert c.get(client.url("/f")).json() == {"from": "file"}
        (entry,) = client.requests()
        assert entry["headers"]["Authorization"] == "Bearer t0ken"  # a test server keeps it
        assert client.advance(2)["advanced"] == 2.0
    finally:
        client.close()


def test_an_invalid_folder_is_a_located_error(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD)
    with pytest.raises(MockstatusError, match=r"are invalid:\n.*bad.yaml:2:"):
        InProcessTransport.start(scenarios=tmp_path)


# --- async client ----------------------------------------------------------------------------------


async def test_the_async_client(make_server):
    server = make_server(clock_controllable=True)
    async with AsyncClient(server.base_url, owner="async") as client:
        assert await client.health() == {"status": "ok"}
        assert await client.load(SEQ, name="seq") == "seq"
        async with httpx.AsyncClient(trust_env=False) as http:
            waiting = asyncio.create_task(client.wait_for(3, route="r", timeout=10))
            codes = [(await http.get(client.url("/seq"))).status_code for _ in range(3)]
            got = await waiting
        assert codes == [503, 503, 200] and [e["status"] for e in got] == codes
        assert [e["status"] for e in await client.requests(page_size=1)] == codes
        assert (await client.advance(1))["advanced"] == 1.0
        assert (await client.clock())["controllable"] is True
        with pytest.raises(ScenarioRejected):
            await client.put_scenario("bad", BAD)
        with pytest.raises(WaitTimeout):
            await client.wait_for(4, route="r", timeout=0)
        assert (await client.scenarios())["uploads"] == ["seq"]
        assert await client.purge("async") == ["seq"]
        assert await client.clear_requests() == 3


# --- importable without pytest and aiohttp ---------------------------------------------------------


def test_importable_and_usable_without_pytest_or_aiohttp(server):
    """A script in a fresh interpreter with pytest and aiohttp blocked imports the client and
    drives a real server with it."""
    script = textwrap.dedent(
        f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("pytest", "_pytest", "aiohttp"):
                    raise ImportError(f"{{name}} is blocked")

        sys.meta_path.insert(0, Block())
        import mockstatus.client as c
        client = c.Client({server.base_url!r}, owner="script")
        assert client.health() == {{"status": "ok"}}
        assert client.load({ROUTE % "script"!r}) .startswith("upload-")
        try:
            client.put_scenario("bad", {BAD!r})
        except c.ScenarioRejected as err:
            assert err.problems[0].startswith("<upload:bad>:2:")
        assert client.purge("script")
        blocked = [m for m in sys.modules if m.split(".")[0] in ("pytest", "_pytest", "aiohttp")]
        assert blocked == [], blocked
        print("ok")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
