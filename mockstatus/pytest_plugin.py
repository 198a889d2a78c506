"""pytest plugin: a mockstatus server for the test session, and a `mockstatus` fixture per test.

Installing mockstatus enables it (the `pytest11` entry point). Without `MOCKSTATUS_URL`, one
server per test session (per xdist worker) runs in a background thread on 127.0.0.1, port 0,
with a manual clock: `mockstatus.clock.advance(30)` moves outages, windows and buckets on without
sleeping. With `MOCKSTATUS_URL` (e.g. a CI service container), the same fixture drives that
server through its admin API, using only the standard library.

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
import concurrent.futures
import datetime
import itertools
import json
import math
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mockstatus.http_syntax import ADMIN_PREFIX, JOURNAL_FILTERS, SESSION_HEADER
from mockstatus.limits import JOURNAL_PAGE

if TYPE_CHECKING:
    from mockstatus.runner import BackgroundServer

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

URL_ENV = "MOCKSTATUS_URL"
TOKEN_ENV = "MOCKSTATUS_ADMIN_TOKEN"
CALL_TIMEOUT = 30.0  # seconds one admin call may take (a wait adds its own timeout)


# --- errors ----------------------------------------------------------------------------------


class MockstatusPluginError(Exception):
    """The mockstatus server could not be reached or refused a call."""


class AdminCallError(MockstatusPluginError):
    """An admin API call answered an error; `status` and `doc` hold what the server said."""

    def __init__(self, message: str, status: int = 0, doc: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.doc = doc


class ScenarioRejected(AdminCallError):
    """`load()` was given a scenario that does not fit the contract; `problems` lists each as
    `file:line:column: message`."""

    def __init__(self, message: str, problems: list[str], status: int = 400, doc: Any = None):
        super().__init__(message, status, doc)
        self.problems = problems


class ClockNotControllable(AdminCallError):
    """`clock.advance()` against an external server that runs on the system clock."""


class WaitTimeout(AdminCallError, TimeoutError):
    """`wait_for()` ended before enough matching requests arrived; `requests` holds those that
    did."""

    def __init__(self, message: str, requests: list[dict[str, Any]], doc: Any = None) -> None:
        super().__init__(message, 408, doc)
        self.requests = requests


# --- transports: the same admin API, in process or over HTTP -----------------------------------


class _InProcess:
    """Calls `Admin.dispatch` on the server's own loop: the code behind the HTTP admin API, minus
    the socket (the server's state is not thread-safe, so nothing runs on the test's thread)."""

    external = False

    def __init__(self, server: BackgroundServer, seed: int) -> None:
        self.server = server
        self.app = server.app
        self.seed = seed

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        *,
        base_dir: Path | None = None,
        timeout: float = CALL_TIMEOUT,
    ) -> tuple[int, Any]:
        assert self.server.loop is not None
        coro = self.app.admin.dispatch(method, path, dict(query or {}), body, base_dir=base_dir)
        future = asyncio.run_coroutine_threadsafe(coro, self.server.loop)
        try:
            reply = future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise MockstatusPluginError(
                f"the in-process mockstatus server did not answer {method} {path} "
                f"within {timeout:g} s"
            ) from None
        if reply.text is not None:
            return reply.status, reply.text
        # The body the HTTP face would send: the same values as over HTTP (non-UTF-8 bytes as
        # ISO-8859-1 included), and no shared mutable state.
        from mockstatus.admin import reply_json

        return reply.status, json.loads(reply_json(reply))

    def reseed(self) -> None:
        """Reseed the server's random source, so that each test's random choices do not depend
        on the order of the tests (the one step only a private server can take)."""
        self.server.call(self.app.rng.seed, self.seed)

    def close(self) -> None:
        self.server.stop()


class _External:
    """The admin API of a server given by MOCKSTATUS_URL, over HTTP with urllib (no dependency).
    Proxy variables are ignored: the test server is reached directly."""

    external = True

    def __init__(self, base_url: str, token: str | None) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise MockstatusPluginError(
                f"{URL_ENV}={base_url!r} is not an http(s) URL (e.g. http://localhost:8080)"
            )
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        *,
        base_dir: Path | None = None,  # in-process only: a remote server resolves `file:` itself
        timeout: float = CALL_TIMEOUT,
    ) -> tuple[int, Any]:
        url = self.base_url + ADMIN_PREFIX + urllib.parse.quote(path, safe="/")
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            headers["Content-Type"] = "application/yaml; charset=utf-8"
        elif method in ("POST", "PUT"):
            body = b""
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                status, ctype, raw = resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as err:
            status, ctype = err.code, err.headers.get("Content-Type", "")
            raw = err.read()
            err.close()
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise MockstatusPluginError(
                f"cannot reach the mockstatus server at {self.base_url} ({URL_ENV}): {reason}"
            ) from err
        if ctype.startswith("application/json"):
            try:
                return status, json.loads(raw)
            except ValueError:
                pass
        return status, raw.decode("utf-8", "replace")

    def reseed(self) -> None:
        """A shared server's random source is not ours to reseed."""

    def close(self) -> None:
        pass


def _failure(status: int, doc: Any) -> str:
    if isinstance(doc, dict) and "error" in doc:
        return f"{status} {doc['error']}"
    return f"{status} {str(doc)[:500]}"


# --- the session-wide server -----------------------------------------------------------------


class MockstatusServer:
    """The server of this test session (the `mockstatus_server` fixture)."""

    def __init__(self, transport: _InProcess | _External) -> None:
        self.transport = transport
        # Tags this run's uploads (per xdist worker): purge removes them and nothing else.
        self.owner = f"pytest-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.folder_touched = False  # a test removed a folder scenario: reload before the next

    @classmethod
    def start_in_process(
        cls, *, scenarios: Path | None = None, seed: int = 0, journal_size: int = 1000
    ) -> MockstatusServer:
        import random

        from mockstatus.app import Mockstatus
        from mockstatus.errors import ScenarioError
        from mockstatus.runner import BackgroundServer
        from mockstatus.types import ManualClock

        app = Mockstatus(
            clock=ManualClock(),
            rng=random.Random(seed),
            scenarios_dir=scenarios,
            journal_size=journal_size,
            clock_controllable=True,
            journal_redact=frozenset(),  # asserting the credentials a client sent is a main use
        )
        try:
            app.store.load_initial()
        except ScenarioError as err:
            raise MockstatusPluginError(
                f"mockstatus: the scenarios in {scenarios} are invalid:\n{err}"
            ) from None
        return cls(_InProcess(BackgroundServer(app).start(), seed))

    @classmethod
    def connect(cls, url: str, token: str | None = None) -> MockstatusServer:
        server = cls(_External(url, token))
        status, doc = server.transport.call("GET", "/health", timeout=10.0)
        if status != 200:
            raise MockstatusPluginError(
                f"{URL_ENV}={url}: GET {ADMIN_PREFIX}/health answered {_failure(status, doc)}; "
                "is it a mockstatus server?"
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
        """The in-process `mockstatus.app.Mockstatus` (None for an external server). Its state
        belongs to the server thread: use the fixture's methods rather than touching it."""
        return getattr(self.transport, "app", None)

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def purge(self) -> None:
        """Before each test, the same in both modes: remove this run's uploads (`POST /purge`;
        what others uploaded, e.g. a CI step, stays), reload the folder if a test removed one
        of its scenarios, and reseed the random source of an in-process server."""
        # A private (in-process) server holds only this run's uploads: remove them all, also
        # those a test made over HTTP without the plugin.
        query = {"owner": self.owner} if self.external else {}
        status, doc = self.transport.call("POST", "/purge", query)
        if status != 200:
            raise AdminCallError(
                f"mockstatus admin API: POST /purge answered {_failure(status, doc)}", status, doc
            )
        if self.folder_touched:
            self.transport.call("POST", "/reload")
            self.folder_touched = False
        self.transport.reseed()

    def close(self) -> None:
        self.transport.close()


# --- the per-test fixture --------------------------------------------------------------------


class MockstatusClock:
    """The server's clock. In process it is always manual; an external server's is manual only
    when it was started with `--clock manual`."""

    def __init__(self, fixture: MockstatusFixture) -> None:
        self._fx = fixture

    def advance(self, seconds: float | datetime.timedelta) -> float:
        """Move the server's clock forward (outages, rate-limit windows, token buckets and the
        journal's `time` follow); returns the new wall time (epoch seconds)."""
        if isinstance(seconds, datetime.timedelta):
            seconds = seconds.total_seconds()
        seconds = float(seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"a clock only moves forward: {seconds!r} is not a number >= 0")
        status, doc = self._fx._call_raw("POST", "/clock/advance", {"seconds": repr(seconds)})
        if status == 409:
            raise ClockNotControllable(
                f"cannot advance the clock of the mockstatus server at {self._fx.base_url}: it "
                "runs on the system clock. Start it with `mockstatus serve --clock manual` "
                "(or MOCKSTATUS_CLOCK=manual in its environment), or unset "
                f"{URL_ENV} to use the in-process server, whose clock is always manual. "
                f"(The server said: {_failure(status, doc)})",
                status,
                doc,
            )
        self._fx._check(status, doc, "POST /clock/advance")
        return float(doc["wall"])

    def time(self) -> float:
        """The server's wall time (epoch seconds): what the journal's `time` is measured in."""
        return float(self._fx._call("GET", "/clock")["wall"])

    def monotonic(self) -> float:
        return float(self._fx._call("GET", "/clock")["monotonic"])

    @property
    def controllable(self) -> bool:
        return bool(self._fx._call("GET", "/clock")["controllable"])


class MockstatusSession:
    """One `X-Mockstatus-Session`: its own counters, states, buckets and scenario clock.

    Send `session.headers` with the requests (e.g. `httpx.Client(headers=session.headers)`);
    `session.requests()` then lists only them.
    """

    def __init__(self, fixture: MockstatusFixture, session_id: str) -> None:
        self._fx = fixture
        self.id = session_id

    @property
    def headers(self) -> dict[str, str]:
        return {SESSION_HEADER: self.id}

    def url(self, path: str = "/") -> str:
        return self._fx.url(path)

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        return self._fx.requests(session=self.id, **filters)

    def wait_for(
        self, count: int = 1, *, timeout: float = 5.0, **filters: Any
    ) -> list[dict[str, Any]]:
        return self._fx.wait_for(count, timeout=timeout, session=self.id, **filters)

    async def wait_for_async(
        self, count: int = 1, *, timeout: float = 5.0, **filters: Any
    ) -> list[dict[str, Any]]:
        return await self._fx.wait_for_async(count, timeout=timeout, session=self.id, **filters)

    def reset(self, *, journal: bool = True) -> None:
        """Reset this session's counters, states, buckets and clock (and its journal entries)."""
        self._fx._call("POST", "/reset", {"session": self.id})
        if journal:
            self._fx._call("DELETE", "/requests", {"session": self.id})

    def __repr__(self) -> str:
        return f"<MockstatusSession {self.id!r}>"


class MockstatusFixture:
    """What the `mockstatus` fixture gives a test."""

    def __init__(self, server: MockstatusServer, label: str = "test") -> None:
        self.server = server
        self._t = server.transport
        self._label = label
        self._loaded: list[str] = []
        self._counter = itertools.count(1)
        self.clock = MockstatusClock(self)

    # --- addresses ---------------------------------------------------------------------------

    @property
    def external(self) -> bool:
        return self.server.external

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def url(self, path: str = "/") -> str:
        """The absolute URL of `path` on the server, e.g. `url("/status/503")`."""
        return self.server.url(path)

    def admin_url(self, path: str = "") -> str:
        return self.base_url + ADMIN_PREFIX + path

    # --- scenarios ---------------------------------------------------------------------------

    def load(
        self, source: str | bytes | Mapping[str, Any] | os.PathLike[str], *, name: str | None = None
    ) -> str:
        """Load a scenario for this test only: YAML text, a dict of the same shape, or the path of
        a .yaml/.yml file. Returns its name (`name=`, else its `name:`, else the file's stem,
        else one made from the test's name). Raises ScenarioRejected listing every problem."""
        text, origin, base_dir = _scenario_source(source)
        if name is None:
            name = _declared_name(text)
        if name is None and origin is not None:
            name = Path(origin).stem
        if name is None:
            name = f"{self._label}-{next(self._counter)}"
        status, doc = self._call_raw(
            "PUT",
            f"/scenarios/{name}",
            {"owner": self.server.owner},
            body=text.encode("utf-8"),
            base_dir=base_dir,
        )
        if status == 400 and isinstance(doc, dict) and "problems" in doc:
            problems = [str(p) for p in doc["problems"]]
            if origin is not None:
                problems = [p.replace(f"<upload:{name}>", origin, 1) for p in problems]
            where = f" from {origin}" if origin else ""
            listing = "\n".join(f"  {p}" for p in problems)
            hint = (
                "\n(line numbers refer to the YAML the dict was dumped to:\n" + text + ")"
                if isinstance(source, Mapping)
                else ""
            )
            raise ScenarioRejected(
                f"mockstatus rejected the scenario {name!r}{where}:\n{listing}{hint}",
                problems,
                status,
                doc,
            )
        self._check(status, doc, f"PUT /scenarios/{name}")
        if name not in self._loaded:
            self._loaded.append(name)
        return name

    def unload(self, name: str) -> None:
        """Remove a scenario now (those loaded by a test are removed after it anyway; a folder
        scenario comes back before the next test)."""
        self._call("DELETE", f"/scenarios/{name}")
        if name in self._loaded:
            self._loaded.remove(name)
        else:
            self.server.folder_touched = True

    def scenarios(self) -> list[dict[str, Any]]:
        """The loaded scenarios, as `GET /__mockstatus/scenarios` describes them."""
        return self._call("GET", "/scenarios")["scenarios"]

    # --- the journal -------------------------------------------------------------------------

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The journal entries of this test, oldest first: dicts with `seq`, `time` (the server's
        clock), `method`, `path`, `query`, `headers`, `body`, `scenario`, `route`, `session`,
        `status`, `fault`, `duration_ms`. Filters: route, path, session, method, scenario,
        status, since (a seq or a time), limit (the last N). A long journal is read in pages."""
        query = _filters(filters)
        limit = query.pop("limit", None)
        if limit is not None and "since" not in query:
            return self._call("GET", "/requests", {**query, "limit": limit})["requests"]
        # Walk forward from `since` one page at a time: no answer is bigger than a page.
        found: list[dict[str, Any]] = []
        query.setdefault("since", "0")
        while True:
            doc = self._call("GET", "/requests", {**query, "limit": str(JOURNAL_PAGE)})
            found += doc["requests"]
            if not doc.get("more"):
                break
            query["since"] = str(doc["next_since"])
        return found[-int(limit) :] if limit is not None else found

    def wait_for(
        self, count: int = 1, *, timeout: float = 5.0, **filters: Any
    ) -> list[dict[str, Any]]:
        """Block until `count` matching requests are in the journal (at most `timeout` seconds;
        then WaitTimeout). For clients running in other threads or processes; in an async test
        whose client runs on the test's loop, use `await wait_for_async(...)`."""
        deadline = time.monotonic() + float(timeout)
        while True:
            left = max(deadline - time.monotonic(), 0.0)
            query = {**_filters(filters), "count": str(count), "timeout": repr(left)}
            status, doc = self._call_raw(
                "GET", "/requests/wait", query, timeout=left + CALL_TIMEOUT
            )
            if status != 503 or left <= 0:
                break
            time.sleep(min(1.0, left))  # the server's waiter table is full (Retry-After: 1)
        if status == 408 and isinstance(doc, dict):
            got = doc.get("requests", [])
            seen = ", ".join(f"{r['method']} {r['path']} -> {r['status']}" for r in got) or "none"
            raise WaitTimeout(
                f"waited {timeout:g} s for {count} request(s) matching {filters or 'anything'}; "
                f"{len(got)} arrived: {seen}",
                got,
                doc,
            )
        self._check(status, doc, "GET /requests/wait")
        return doc["requests"]

    async def wait_for_async(
        self, count: int = 1, *, timeout: float = 5.0, **filters: Any
    ) -> list[dict[str, Any]]:
        """`wait_for` without blocking the running event loop."""
        return await asyncio.to_thread(self.wait_for, count, timeout=timeout, **filters)

    # --- state -------------------------------------------------------------------------------

    def reset(self, *, journal: bool = True) -> None:
        """Reset counters, states, rate-limit buckets and scenario clocks of every session (and
        empty the journal); the scenarios loaded by this test stay."""
        self._call("POST", "/reset")
        if journal:
            self._call("DELETE", "/requests")

    def session(self, session_id: str | None = None) -> MockstatusSession:
        """A handle for one `X-Mockstatus-Session` (a fresh id unless one is given)."""
        if session_id is None:
            session_id = f"{self._label}-s{next(self._counter)}"
        return MockstatusSession(self, session_id)

    def metrics(self) -> str:
        """`GET /__mockstatus/metrics`: the Prometheus text."""
        return self._call("GET", "/metrics")

    def catalog(self, code: int | None = None) -> dict[str, Any]:
        """What every status code emits (`GET /__mockstatus/catalog`), or one code's entry."""
        return self._call("GET", "/catalog" if code is None else f"/catalog/{int(code)}")

    # --- plumbing ----------------------------------------------------------------------------

    def _call_raw(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        return self._t.call(method, path, query, body, **kwargs)

    def _check(self, status: int, doc: Any, what: str) -> None:
        if not 200 <= status < 300:
            raise AdminCallError(
                f"mockstatus admin API: {what} answered {_failure(status, doc)}", status, doc
            )

    def _call(
        self, method: str, path: str, query: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Any:
        status, doc = self._call_raw(method, path, query, **kwargs)
        self._check(status, doc, f"{method} {path}")
        return doc

    def _begin(self) -> None:
        self.server.purge()
        self.reset()

    def _end(self) -> None:
        for name in reversed(self._loaded):
            status, doc = self._call_raw("DELETE", f"/scenarios/{name}")
            if status not in (200, 404):
                warnings.warn(
                    f"mockstatus: could not remove the scenario {name!r}: {_failure(status, doc)}",
                    pytest.PytestWarning,
                    stacklevel=1,
                )
        self._loaded.clear()

    def __repr__(self) -> str:
        mode = "external" if self.external else "in-process"
        return f"<mockstatus {mode} server {self.base_url}>"


def _filters(filters: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in filters.items():
        if key not in JOURNAL_FILTERS:
            raise TypeError(
                f"unknown journal filter {key!r}; the filters are: {', '.join(JOURNAL_FILTERS)}"
            )
        if value is None:
            continue
        out[key] = repr(float(value)) if key == "since" else str(value)
    return out


def _scenario_source(
    source: str | bytes | Mapping[str, Any] | os.PathLike[str],
) -> tuple[str, str | None, Path | None]:
    """(YAML text, the file it came from, the folder its `file:` bodies resolve in)."""
    if isinstance(source, Mapping):
        import yaml

        return yaml.safe_dump(dict(source), sort_keys=False, allow_unicode=True), None, None
    if isinstance(source, bytes):
        return source.decode("utf-8"), None, None
    if isinstance(source, str) and (
        "\n" in source or not source.strip().lower().endswith((".yaml", ".yml"))
    ):
        return source, None, None
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no scenario file {str(path)!r}")
        return path.read_text(encoding="utf-8"), str(path), path.resolve().parent
    raise TypeError(
        f"a scenario is YAML text, a dict or the path of a .yaml file, not {type(source).__name__}"
    )


def _declared_name(text: str) -> str | None:
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    name = doc.get("name") if isinstance(doc, dict) else None
    if isinstance(name, str) and name and "/" not in name and name.isprintable():
        return name
    return None


def _label(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:80] or "test"


# --- pytest hooks and fixtures ---------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "mockstatus_scenarios",
        "folder of scenario files the in-process mockstatus server loads at start "
        "(relative to the ini file)",
        default="",
    )
    parser.addini(
        "mockstatus_seed",
        "seed of the in-process mockstatus server's random source (reseeded before each test)",
        default="0",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    url = os.environ.get(URL_ENV, "").strip()
    if url:
        return f"mockstatus: external server {url} ({URL_ENV})"
    return None


def _server_from_config(config: pytest.Config) -> MockstatusServer:
    url = os.environ.get(URL_ENV, "").strip()
    if url:
        return MockstatusServer.connect(url, os.environ.get(TOKEN_ENV) or None)
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
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def mockstatus(
    mockstatus_server: MockstatusServer, request: pytest.FixtureRequest
) -> Iterator[MockstatusFixture]:
    """A clean mockstatus server for this test: `url()`, `load()`, `requests()`, `wait_for()`,
    `reset()`, `session()`, `clock.advance()`."""
    fixture = MockstatusFixture(mockstatus_server, _label(request.node.name))
    fixture._begin()
    try:
        yield fixture
    finally:
        fixture._end()
