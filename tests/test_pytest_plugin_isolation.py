"""The plugin's client side after issues 10 and 11: uploads tagged with an owner and purged through
`POST /purge` in both modes (an external server keeps what CI uploaded), journal pages read
automatically, entries with non-UTF-8 bytes, and credentials kept by the in-process server."""

from __future__ import annotations

import httpx
import pytest

from tests.test_pytest_plugin import INI, QUIET_PLUGINS, TOKEN_ENV, URL_ENV, plugin_args

pytest_plugins = ["pytester"]


@pytest.fixture
def run(pytester, monkeypatch):
    """Inner runs, as in test_pytest_plugin.py: in-process unless a test sets MOCKSTATUS_URL."""
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)

    def run_inner(*args: str, ini: str = ""):
        pytester.makeini(INI.format(extra=ini))
        return pytester.runpytest(*plugin_args(), *QUIET_PLUGINS, *args)

    return run_inner


ROUTE = "routes:\n  - match: {path: /%s}\n    respond: {status: 200}\n"


def test_external_purge_removes_this_runs_uploads_only(run, pytester, make_server, monkeypatch):
    server = make_server()
    ci = httpx.put(server.url("/__mockstatus/scenarios/ci"), content=ROUTE % "ci")
    assert ci.status_code == 201  # uploaded by a CI step: no owner
    monkeypatch.setenv(URL_ENV, server.base_url)
    pytester.makepyfile(
        test_purge=f"""
import httpx

ROUTE = {ROUTE!r}

def uploads(mockstatus):
    return httpx.get(mockstatus.admin_url("/scenarios")).json()["uploads"]

def test_load_then_purge(mockstatus):
    mockstatus.load(ROUTE % "mine", name="mine")
    assert uploads(mockstatus) == ["ci", "mine"]
    mockstatus.server.purge()
    assert uploads(mockstatus) == ["ci"]
    assert httpx.get(mockstatus.url("/ci")).status_code == 200

def test_next_test_starts_without_our_uploads(mockstatus):
    mockstatus.load(ROUTE % "again", name="again")
    assert uploads(mockstatus) == ["again", "ci"] or uploads(mockstatus) == ["ci", "again"]
"""
    )
    run().assert_outcomes(passed=2)
    doc = httpx.get(server.url("/__mockstatus/scenarios")).json()
    assert doc["uploads"] == ["ci"]


def test_in_process_purge_goes_through_the_admin_api(run, pytester):
    pytester.makepyfile(
        test_inproc=f"""
import httpx

ROUTE = {ROUTE!r}

def test_upload_behind_the_plugins_back(mockstatus):
    r = httpx.put(mockstatus.admin_url("/scenarios/raw"), content=ROUTE % "raw")
    assert r.status_code == 201

def test_it_is_gone(mockstatus):
    assert httpx.get(mockstatus.url("/raw")).status_code == 404

def test_purge_calls_the_endpoint(mockstatus):
    calls = []
    real = mockstatus.server.transport.call
    def spy(method, path, *args, **kwargs):
        calls.append((method, path))
        return real(method, path, *args, **kwargs)
    mockstatus.server.transport.call = spy
    mockstatus.server.purge()
    assert calls == [("POST", "/purge")]  # the endpoint, not the server's internals
"""
    )
    run().assert_outcomes(passed=3)


@pytest.mark.parametrize("mode", ["external", "in-process"])
def test_both_modes_read_non_utf8_entries_alike(run, pytester, make_server, monkeypatch, mode):
    server = make_server()
    if mode == "external":
        monkeypatch.setenv(URL_ENV, server.base_url)
    pytester.makepyfile(
        test_bytes="""
import json
import socket

def test_odd_bytes(mockstatus):
    port = int(mockstatus.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"GET /status/200 HTTP/1.1\\r\\nHost: x\\r\\nX-Odd: a\\xffb\\r\\n"
            b"X-Mockstatus-Session: s\\xff\\r\\nConnection: close\\r\\n\\r\\n"
        )
        while sock.recv(65536):
            pass
    (entry,) = mockstatus.wait_for(1, path="/status/200", timeout=5)
    assert entry["headers"]["X-Odd"].encode("latin-1") == b"a\\xffb"
    assert entry["latin1"] == ["header:X-Odd", "header:X-Mockstatus-Session", "session"]
    assert mockstatus.requests(session="s\\u00ff") == [entry]
    # A scenario's sessions too: they come from the same header.
    mockstatus.load("routes:\\n  - match: {path: /c}\\n    sequence: [{status: 200}]\\n")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"GET /c HTTP/1.1\\r\\nHost: x\\r\\nX-Mockstatus-Session: s\\xff\\r\\n"
            b"Connection: close\\r\\n\\r\\n"
        )
        while sock.recv(65536):
            pass
    shown = json.dumps(mockstatus.scenarios(), ensure_ascii=False)
    assert "s\\u00ff" in shown and "\\udcff" not in shown
"""
    )
    run().assert_outcomes(passed=1)


def test_in_process_keeps_credentials_and_pages_the_journal(run, pytester):
    pytester.makepyfile(
        test_pages="""
import httpx
import mockstatus.pytest_plugin as plugin

def test_pages(mockstatus, monkeypatch):
    with httpx.Client(headers={"Authorization": "Bearer t0ken"}) as client:
        for code in range(200, 207):
            client.get(mockstatus.url(f"/status/{code}"))
    monkeypatch.setattr(plugin, "JOURNAL_PAGE", 2)
    calls = []
    real = mockstatus.server.transport.call
    def spy(method, path, query=None, *args, **kwargs):
        calls.append(dict(query or {}))
        return real(method, path, query, *args, **kwargs)
    monkeypatch.setattr(mockstatus.server.transport, "call", spy)
    entries = mockstatus.requests()
    assert [e["status"] for e in entries] == list(range(200, 207))
    assert [c["since"] for c in calls] == ["0", "2", "4", "6"]
    assert entries[0]["headers"]["Authorization"] == "Bearer t0ken"
    calls.clear()
    assert [e["status"] for e in mockstatus.requests(limit=2)] == [205, 206]
    assert len(calls) == 1
    since = entries[1]["seq"]
    assert [e["status"] for e in mockstatus.requests(since=since, limit=2)] == [205, 206]
"""
    )
    run().assert_outcomes(passed=1)


def test_a_folder_scenario_a_test_removed_comes_back(run, pytester):
    folder = pytester.mkdir("scen")
    (folder / "f.yaml").write_text(ROUTE % "f")
    pytester.makepyfile(
        test_folder="""
import httpx

def test_remove(mockstatus):
    mockstatus.unload("f")
    assert httpx.get(mockstatus.url("/f")).status_code == 404

def test_back(mockstatus):
    assert httpx.get(mockstatus.url("/f")).status_code == 200
"""
    )
    run(ini="mockstatus_scenarios = scen").assert_outcomes(passed=2)


def test_wait_for_outlasts_a_full_waiter_table(run, pytester):
    """503 + Retry-After from a full waiter table is retried until the timeout; the last try is
    a poll, which needs no waiter: the test sees WaitTimeout (or its requests), never a 503."""
    pytester.makepyfile(
        test_full="""
import httpx
import pytest
from mockstatus.pytest_plugin import WaitTimeout

def test_full(mockstatus):
    journal = mockstatus.server.app.journal
    mockstatus.server.transport.server.call(setattr, journal, "max_waiters", 0)
    with pytest.raises(WaitTimeout):
        mockstatus.wait_for(1, path="/status/201", timeout=0.2)
    httpx.get(mockstatus.url("/status/201"))
    assert len(mockstatus.wait_for(1, path="/status/201", timeout=0.2)) == 1
"""
    )
    run().assert_outcomes(passed=1)
