"""pytest plugin: a mockstatus server for the test session, and a `mockstatus` fixture per test.

Installing mockstatus enables it (the `pytest11` entry point). Without `MOCKSTATUS_URL`, one
server per test session (per xdist worker) runs in a background thread on 127.0.0.1, port 0,
with a manual clock: `mockstatus.clock.advance(30)` moves outages, windows and buckets on without
sleeping. With `MOCKSTATUS_URL` (e.g. a CI service container), the same fixture drives that
server through its admin API. Both modes go through `mockstatus.client.Client`; only the
transport differs (in process: the admin API's own dispatch, without a socket).

    def test_retries(mockstatus):
        mockstatus.load('''
            routes:
              - match: {path: /orders}
                sequence:
                  - {status: 503, headers: {Retry-After: "1"}, times: 2}
                  - {status: 200}
        ''')
        client_under_test.get(mockstatus.url("/orders"))
        assert [r["status"] for r in mockstatus.requests(path="/orders")] == [503, 503, 200]

Every test starts from a clean server: counters, states, rate-limit buckets and scenario clocks
reset, the journal emptied, and the scenarios loaded by earlier tests removed.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockstatus import client as msclient
from mockstatus.client import (
    URL_ENV,
    AdminCallError,
    ClockNotControllable,
    MockstatusPluginError,
    ScenarioRejected,
    WaitTimeout,
)
from mockstatus.limits import JOURNAL_PAGE
from mockstatus.pytest_views import Entries, MockstatusClock, MockstatusSession

__all__ = [
    "AdminCallError",
    "ClockNotControllable",
    "MockstatusClock",
    "MockstatusFixture",
    "MockstatusPluginError",
    "MockstatusServer",
    "MockstatusSession",
    "ScenarioRejected",
    "WaitTimeout",
]


class MockstatusServer:
    """The server of this test session (the `mockstatus_server` fixture)."""

    def __init__(self, transport: msclient.Transport) -> None:
        self.transport = transport
        # Tags this run's uploads (per xdist worker): purge removes them and nothing else.
        self.owner = f"pytest-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.client = msclient.Client(transport=transport, owner=self.owner)
        self.folder_touched = False  # a test removed a folder scenario: reload before the next

    @classmethod
    def start_in_process(
        cls, *, scenarios: Path | None = None, seed: int = 0, journal_size: int = 1000
    ) -> MockstatusServer:
        start = msclient.InProcessTransport.start
        return cls(start(scenarios=scenarios, seed=seed, journal_size=journal_size))

    @classmethod
    def connect(cls, url: str, token: str | None = None) -> MockstatusServer:
        try:
            server = cls(msclient.HttpTransport(url, token))
            status, doc = server.client.call("GET", "/health", timeout=10.0)
        except msclient.MockstatusError as err:
            raise type(err)(f"{URL_ENV}={url}: {err}") from err
        if status != 200:
            said = msclient.failure(status, doc)
            raise MockstatusPluginError(
                f"{URL_ENV}={url}: GET /__mockstatus/health answered {said}; is it mockstatus?"
            )
        return server

    @property
    def external(self) -> bool:
        """True when the tests talk to a server given by MOCKSTATUS_URL."""
        return self.transport.external

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def app(self) -> Any:
        """The in-process `Mockstatus` app (else None); its state belongs to the server thread."""
        return getattr(self.transport, "app", None)

    def url(self, path: str = "/") -> str:
        return self.client.url(path)

    def purge(self) -> None:
        """Before each test, in both modes: `POST /purge` this run's uploads (a CI step's stay;
        a private server's are all ours, even those made over HTTP without the plugin), reload
        the folder if a test removed one of its scenarios, reseed an in-process server."""
        self.client.purge(self.owner if self.external else None)
        if self.folder_touched:
            self.client.call("POST", "/reload")  # a broken folder keeps its last good set
            self.folder_touched = False
        if isinstance(self.transport, msclient.InProcessTransport):
            self.transport.reseed()

    def close(self) -> None:
        self.client.close()


class MockstatusFixture:
    """What the `mockstatus` fixture gives a test; `client` is the full admin-API client."""

    def __init__(self, server: MockstatusServer, label: str = "test") -> None:
        self.server = server
        self.client = server.client
        self._label = label
        self._loaded: list[str] = []
        self._counter = itertools.count(1)
        self.clock = MockstatusClock(self)

    @property
    def external(self) -> bool:
        return self.server.external

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def url(self, path: str = "/") -> str:
        """The absolute URL of `path` on the server, e.g. `url("/status/503")`."""
        return self.client.url(path)

    def admin_url(self, path: str = "") -> str:
        return self.client.admin_url(path)

    def load(self, source: msclient.ScenarioSource, *, name: str | None = None) -> str:
        """Load a scenario for this test only: YAML text, a dict of the same shape, or the path of
        a .yaml/.yml file. Returns its name (`name=`, else its `name:`, else the file's stem,
        else one made from the test's name). Raises ScenarioRejected listing every problem."""
        name = self.client.load(
            source, name=name, default_name=lambda: f"{self._label}-{next(self._counter)}"
        )
        if name not in self._loaded:
            self._loaded.append(name)
        return name

    def unload(self, name: str) -> None:
        """Remove a scenario now (a folder scenario comes back before the next test)."""
        self.client.delete_scenario(name)
        if name in self._loaded:
            self._loaded.remove(name)
        else:
            self.server.folder_touched = True

    def scenarios(self) -> list[msclient.ScenarioInfo]:
        """The loaded scenarios, as `GET /__mockstatus/scenarios` describes them."""
        return self.client.scenarios()["scenarios"]

    def requests(self, **filters: Any) -> Entries:
        """This test's journal entries, oldest first (`Client.requests`: the filters, paging)."""
        return self.client.requests(page_size=JOURNAL_PAGE, **filters)

    def assert_all_matched(self) -> None:
        """Fail naming every request of this test that no route matched, with its near misses."""
        self.client.assert_all_matched()

    def wait_for(self, count: int = 1, *, timeout: float = 5.0, **filters: Any) -> Entries:
        """`Client.wait_for`: for clients in other threads or processes; a client on the test's
        own loop needs `await wait_for_async(...)`."""
        return self.client.wait_for(count, timeout=timeout, **filters)

    async def wait_for_async(
        self, count: int = 1, *, timeout: float = 5.0, **filters: Any
    ) -> Entries:
        """`wait_for` without blocking the running event loop."""
        return await asyncio.to_thread(self.wait_for, count, timeout=timeout, **filters)

    def reset(self, *, journal: bool = True) -> None:
        """Reset every session's state (and empty the journal); this test's scenarios stay."""
        self.client.reset()
        if journal:
            self.client.clear_requests()

    def session(self, session_id: str | None = None) -> MockstatusSession:
        """A handle for one `X-Mockstatus-Session` (a fresh id unless one is given)."""
        if session_id is None:
            session_id = f"{self._label}-s{next(self._counter)}"
        return MockstatusSession(self, session_id)

    def metrics(self) -> str:
        """`GET /__mockstatus/metrics`: the Prometheus text."""
        return self.client.metrics()

    def catalog(self, code: int | None = None) -> Any:
        """What every status code emits (`GET /__mockstatus/catalog`), or one code's entry."""
        return self.client.catalog(code)

    def _begin(self) -> None:
        self.server.purge()
        self.reset()

    def _end(self) -> None:
        for name in reversed(self._loaded):
            try:
                self.client.delete_scenario(name, missing_ok=True)
            except msclient.MockstatusError as err:
                message = f"mockstatus: could not remove the scenario {name!r}: {err}"
                warnings.warn(message, pytest.PytestWarning, stacklevel=1)
        self._loaded.clear()

    def __repr__(self) -> str:
        mode = "external" if self.external else "in-process"
        return f"<mockstatus {mode} server {self.base_url}>"


# --- pytest hooks and fixtures ---------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    folder_help = "folder of scenario files the in-process server loads (relative to the ini file)"
    parser.addini("mockstatus_scenarios", folder_help, default="")
    seed_help = "seed of the in-process server's random source (reseeded before each test)"
    parser.addini("mockstatus_seed", seed_help, default="0")
    httpbin_help = "serve pytest-httpbin's fixtures (httpbin, httpbin_secure, ...) from mockstatus"
    parser.addini("mockstatus_httpbin", httpbin_help, type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    if config.getini("mockstatus_httpbin"):  # imported only when asked: it loads the server
        from mockstatus import httpbin_fixtures

        httpbin_fixtures.check_no_collision(config)
        config.pluginmanager.register(httpbin_fixtures, "mockstatus-httpbin")


def pytest_report_header(config: pytest.Config) -> str | None:
    url = os.environ.get(URL_ENV, "").strip()
    return f"mockstatus: external server {url} ({URL_ENV})" if url else None


def _server_from_config(config: pytest.Config) -> MockstatusServer:
    url = os.environ.get(URL_ENV, "").strip()
    if url:
        return MockstatusServer.connect(url, os.environ.get(msclient.TOKEN_ENV) or None)
    folder_opt = str(config.getini("mockstatus_scenarios") or "").strip()
    folder = None
    if folder_opt:
        base = config.inipath.parent if config.inipath else config.rootpath
        folder = (base / folder_opt).resolve()
        if not folder.is_dir():
            raise pytest.UsageError(f"mockstatus_scenarios: {folder} is not a folder")
    seed_opt = str(config.getini("mockstatus_seed") or "0").strip()
    try:
        seed = int(seed_opt)
    except ValueError:
        raise pytest.UsageError(f"mockstatus_seed: {seed_opt!r} is not an integer") from None
    return MockstatusServer.start_in_process(scenarios=folder, seed=seed)


@pytest.fixture(scope="session")
def mockstatus_server(request: pytest.FixtureRequest) -> Iterator[MockstatusServer]:
    """The session's mockstatus server: in process (one per xdist worker), or MOCKSTATUS_URL's."""
    server = _server_from_config(request.config)
    yield server  # pytest resumes a fixture after its tests whatever their outcome
    server.close()


@pytest.fixture
def mockstatus(
    mockstatus_server: MockstatusServer, request: pytest.FixtureRequest
) -> Iterator[MockstatusFixture]:
    """A clean mockstatus server for this test: `url()`, `load()`, `requests()`, `wait_for()`,
    `reset()`, `session()`, `clock.advance()`."""
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name).strip("-.")[:80] or "test"
    fixture = MockstatusFixture(mockstatus_server, label)
    fixture._begin()
    yield fixture
    fixture._end()
