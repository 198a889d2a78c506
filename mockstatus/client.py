"""A typed client for the mockstatus admin API (`/__mockstatus/...`), for any test framework or
script. Standard library only at import (urllib; PyYAML only when a dict or a file is loaded):
no pytest, no aiohttp.

    from mockstatus.client import Client

    with Client("http://localhost:8080", owner="my-run") as ms:   # token: MOCKSTATUS_ADMIN_TOKEN
        ms.load("routes:\\n  - match: {path: /x}\\n    respond: {status: 503}\\n", name="x")
        ...                                      # the code under test calls /x
        assert [e["status"] for e in ms.requests(path="/x")] == [503]
        ms.purge(owner="my-run")                 # only this run's uploads go

`AsyncClient` offers the same methods as coroutines. It runs the sync client in a worker thread
(`asyncio.to_thread`) rather than using aiohttp: the same code, errors and transports in both
(the pytest plugin's in-process transport included), and no aiohttp at import. A pending
`wait_for` holds one worker thread of the loop's default executor.

Errors: every failure is a `MockstatusError`; an answer outside 2xx is an `AdminCallError`
(`.status`, `.doc`, the server's message in the text), and three calls have their own:

    MockstatusError                      (alias MockstatusPluginError, its name in the plugin)
    ├── MockstatusUnreachable            the server did not answer (connection, timeout)
    └── AdminCallError                   4xx/5xx: .status, .doc
        ├── ScenarioRejected             load/put_scenario: .problems, each file:line:col: message
        ├── ClockNotControllable         advance() on a server running on the system clock
        └── WaitTimeout (+ TimeoutError) wait_for() ran out: .requests holds those that came
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import json
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, cast

from mockstatus import assertions
from mockstatus.http_syntax import ADMIN_PREFIX, JOURNAL_FILTERS
from mockstatus.limits import JOURNAL_PAGE

if TYPE_CHECKING:
    from mockstatus.app import Mockstatus
    from mockstatus.runner import BackgroundServer

__all__ = [
    "CALL_TIMEOUT",
    "TOKEN_ENV",
    "URL_ENV",
    "AdminCallError",
    "AsyncClient",
    "Client",
    "ClockNotControllable",
    "ClockReading",
    "HttpTransport",
    "InProcessTransport",
    "JournalEntry",
    "JournalPage",
    "MockstatusError",
    "MockstatusPluginError",
    "MockstatusUnreachable",
    "ScenarioInfo",
    "ScenarioListing",
    "ScenarioRejected",
    "Transport",
    "WaitTimeout",
]

URL_ENV = "MOCKSTATUS_URL"
TOKEN_ENV = "MOCKSTATUS_ADMIN_TOKEN"
CALL_TIMEOUT = 30.0  # seconds one admin call may take (a wait adds its own timeout)
WAIT_RETRY = 1.0  # seconds between tries while the server's waiter table is full (Retry-After)

ScenarioSource = str | bytes | Mapping[str, Any] | os.PathLike[str]


# --- answers -----------------------------------------------------------------------------------


class JournalEntry(TypedDict):
    """One journalled request (`GET /requests`); `time` is the server's clock (epoch seconds)."""

    seq: int
    time: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: str | None  # the first KiB, decoded as UTF-8 with replacement
    body_size: int
    scenario: str | None
    route: str | None
    session: str | None
    status: int
    fault: str | None
    duration_ms: float
    latin1: list[str]  # the fields whose non-UTF-8 bytes are shown as ISO-8859-1
    http_version: str  # "HTTP/1.1", "HTTP/1.0" or "HTTP/2"
    truncated: list[str]
    note: str | None  # why a scenario answered as it did, when not obvious (rate-limit costs)


class JournalPage(TypedDict):
    count: int
    requests: list[JournalEntry]
    next_since: int | None
    more: bool


class RouteInfo(TypedDict):
    name: str
    behaviours: list[str]
    calls: int


class ScenarioInfo(TypedDict, total=False):
    """One scenario as `GET /scenarios` lists it (`source` and `rank`: its place in route
    order); a `PUT` answer adds `created`, `shadows` and `shadowed_by`."""

    name: str
    description: str | None
    file: str | None
    routes: list[RouteInfo]
    states: dict[str, str]
    sessions: list[str]
    source: str
    rank: int
    created: bool


class LoadError(TypedDict):
    file: str
    line: int
    column: int
    message: str
    text: str


class ScenarioListing(TypedDict):
    folder: str | None
    scenarios: list[ScenarioInfo]
    uploads: list[str]
    errors: list[LoadError]
    reloads: int
    load_failures: int


class ClockReading(TypedDict, total=False):
    monotonic: float
    wall: float
    controllable: bool
    advanced: float  # only in the answer of `advance`


# --- errors ------------------------------------------------------------------------------------


class MockstatusError(Exception):
    """The mockstatus server could not be reached or refused a call."""


MockstatusPluginError = MockstatusError  # the name the pytest plugin has always exported


class MockstatusUnreachable(MockstatusError):
    """No answer: connection refused or reset, DNS, or the call's timeout."""


class AdminCallError(MockstatusError):
    """An admin API call answered an error; `status` and `doc` hold what the server said."""

    def __init__(self, message: str, status: int = 0, doc: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.doc = doc


class ScenarioRejected(AdminCallError):
    """A scenario that does not fit the contract; `problems` lists each as
    `file:line:column: message`."""

    def __init__(
        self, message: str, problems: list[str], status: int = 400, doc: Any = None
    ) -> None:
        super().__init__(message, status, doc)
        self.problems = problems


class ClockNotControllable(AdminCallError):
    """`advance()` against a server that runs on the system clock."""


class WaitTimeout(AdminCallError, TimeoutError):
    """`wait_for()` ended before enough matching requests arrived; `requests` holds those that
    did."""

    def __init__(self, message: str, requests: list[JournalEntry], doc: Any = None) -> None:
        super().__init__(message, 408, doc)
        self.requests = requests


def failure(status: int, doc: Any) -> str:
    """`401 <the server's message>` for an error answer."""
    if isinstance(doc, dict) and "error" in doc:
        return f"{status} {doc['error']}"
    return f"{status} {str(doc)[:500]}"


# --- transports --------------------------------------------------------------------------------


class Transport(Protocol):
    """Carries one admin call; `path` is without the /__mockstatus prefix. Answers the status
    and the decoded JSON document (or the text of a non-JSON answer)."""

    base_url: str
    external: bool

    def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        *,
        base_dir: Path | None = None,
        timeout: float = CALL_TIMEOUT,
    ) -> tuple[int, Any]: ...

    def close(self) -> None: ...


class HttpTransport:
    """The admin API over HTTP with urllib. Proxy variables are ignored: a test server is
    reached directly. Thread-safe (one connection per call)."""

    external = True

    def __init__(self, base_url: str, token: str | None = None) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise MockstatusError(
                f"{base_url!r} is not an http(s) URL (e.g. http://localhost:8080)"
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
            raise MockstatusUnreachable(
                f"cannot reach the mockstatus server at {self.base_url}: {reason}"
            ) from err
        if ctype.startswith("application/json"):
            try:
                return status, json.loads(raw)
            except ValueError:
                pass
        return status, raw.decode("utf-8", "replace")

    def close(self) -> None:
        pass


class InProcessTransport:
    """A `Transport` to a server running in this process (a `mockstatus.runner.BackgroundServer`):
    it calls `Admin.dispatch` on the server's own loop, the code behind the HTTP admin API minus
    the socket (the server's state is not thread-safe, so nothing runs on the caller's thread).
    Unlike HTTP it passes `base_dir`, so a loaded file's `file:` bodies resolve next to it.
    `start()` makes the server: aiohttp is imported then, not with this module."""

    external = False

    def __init__(self, server: BackgroundServer, seed: int = 0) -> None:
        self.server = server
        self.app: Mockstatus = server.app
        self.seed = seed
        self.base_url = server.base_url

    @classmethod
    def start(
        cls, *, scenarios: Path | None = None, seed: int = 0, journal_size: int = 1000
    ) -> InProcessTransport:
        """A server on 127.0.0.1 (a free port) with a manual clock, `random.Random(seed)`, the
        scenarios of the folder `scenarios`, and a journal that keeps credentials (asserting
        what a client sent is what a test server is for). MockstatusError if the folder is
        invalid."""
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
            journal_redact=frozenset(),
        )
        try:
            app.store.load_initial()
        except ScenarioError as err:
            raise MockstatusError(
                f"mockstatus: the scenarios in {scenarios} are invalid:\n{err}"
            ) from None
        return cls(BackgroundServer(app).start(), seed)

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
            raise MockstatusUnreachable(
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


# --- the client --------------------------------------------------------------------------------


class Client:
    """The admin API of one mockstatus server. `url` defaults to MOCKSTATUS_URL and `token` to
    MOCKSTATUS_ADMIN_TOKEN; `owner` tags the scenarios this client uploads, so that
    `purge(owner=...)` removes them and nothing else. `transport` replaces HTTP (the pytest
    plugin's in-process server)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        owner: str | None = None,
        timeout: float = CALL_TIMEOUT,
        transport: Transport | None = None,
    ) -> None:
        if transport is None:
            url = url if url is not None else os.environ.get(URL_ENV, "").strip()
            if not url:
                raise MockstatusError(f"no server URL: pass one or set {URL_ENV}")
            token = token if token is not None else os.environ.get(TOKEN_ENV) or None
            transport = HttpTransport(url, token)
        self.transport = transport
        self.owner = owner
        self.timeout = timeout

    @classmethod
    def start_in_process(
        cls, *, scenarios: Path | None = None, seed: int = 0, owner: str | None = None
    ) -> Client:
        """A client of a new private server in this process (see `InProcessTransport.start`);
        `close()` stops the server."""
        return cls(transport=InProcessTransport.start(scenarios=scenarios, seed=seed), owner=owner)

    # --- plumbing ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    def url(self, path: str = "/") -> str:
        """The absolute URL of `path` on the server, e.g. `url("/status/503")`."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def admin_url(self, path: str = "") -> str:
        return self.base_url + ADMIN_PREFIX + path

    def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        *,
        base_dir: Path | None = None,
        timeout: float | None = None,
    ) -> tuple[int, Any]:
        """One admin call, unchecked: (status, document)."""
        wait = self.timeout if timeout is None else timeout
        return self.transport.call(method, path, query, body, base_dir=base_dir, timeout=wait)

    def _checked(
        self, method: str, path: str, query: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Any:
        status, doc = self.call(method, path, query, **kwargs)
        if not 200 <= status < 300:
            raise AdminCallError(
                f"mockstatus admin API: {method} {path} answered {failure(status, doc)}",
                status,
                doc,
            )
        return doc

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<mockstatus.Client {self.base_url}>"

    # --- server --------------------------------------------------------------------------------

    def health(self) -> dict[str, str]:
        """`{"status": "ok"}`, or AdminCallError / MockstatusUnreachable."""
        return cast(dict[str, str], self._checked("GET", "/health"))

    def metrics(self) -> str:
        """The Prometheus text of `GET /metrics`."""
        return cast(str, self._checked("GET", "/metrics"))

    def catalog(self, code: int | None = None, *, status_class: str | None = None) -> Any:
        """What every status code sends by default, those of one class ("4xx"), or one code's."""
        if code is not None:
            return self._checked("GET", f"/catalog/{int(code)}")
        return self._checked("GET", "/catalog", {"class": status_class} if status_class else None)

    # --- scenarios -----------------------------------------------------------------------------

    def scenarios(self) -> ScenarioListing:
        """`GET /scenarios`: the scenarios in route order, the uploads, the folder's errors."""
        return cast(ScenarioListing, self._checked("GET", "/scenarios"))

    def scenario(self, name: str) -> ScenarioInfo:
        return cast(ScenarioInfo, self._checked("GET", f"/scenarios/{name}"))

    def put_scenario(
        self,
        name: str,
        text: str | bytes,
        *,
        owner: str | None = None,
        base_dir: Path | None = None,
        origin: str | None = None,
    ) -> ScenarioInfo:
        """Upload YAML as scenario `name` (tagged with `owner`, else the client's). Raises
        ScenarioRejected listing every problem (as `origin:line:col` when an origin is given)."""
        owner = owner if owner is not None else self.owner
        raw = text.encode("utf-8") if isinstance(text, str) else text
        query = {"owner": owner} if owner is not None else None
        status, doc = self.call("PUT", f"/scenarios/{name}", query, raw, base_dir=base_dir)
        if status == 400 and isinstance(doc, dict) and "problems" in doc:
            problems = [str(p) for p in doc["problems"]]
            if origin is not None:
                problems = [p.replace(f"<upload:{name}>", origin, 1) for p in problems]
            where = f" from {origin}" if origin else ""
            listing = "\n".join(f"  {p}" for p in problems)
            raise ScenarioRejected(
                f"mockstatus rejected the scenario {name!r}{where}:\n{listing}", problems, 400, doc
            )
        if not 200 <= status < 300:
            raise AdminCallError(
                f"mockstatus admin API: PUT /scenarios/{name} answered {failure(status, doc)}",
                status,
                doc,
            )
        return cast(ScenarioInfo, doc)

    def load(
        self,
        source: ScenarioSource,
        *,
        name: str | None = None,
        owner: str | None = None,
        default_name: Callable[[], str] | None = None,
    ) -> str:
        """Upload YAML text, a dict of the same shape, or a .yaml/.yml file (its `file:` bodies
        resolve next to it in process). Returns the name: `name=`, else its `name:`, else the
        file's stem, else `default_name()`, else a random one."""
        text, origin, base_dir = scenario_source(source)
        name = name or declared_name(text) or (Path(origin).stem if origin else None)
        if name is None:
            name = default_name() if default_name else f"upload-{uuid.uuid4().hex[:12]}"
        try:
            self.put_scenario(name, text, owner=owner, base_dir=base_dir, origin=origin)
        except ScenarioRejected as err:
            if isinstance(source, Mapping):  # the line numbers are those of the dumped YAML
                hint = "\n(line numbers refer to the YAML the dict was dumped to:\n" + text + ")"
                raise ScenarioRejected(str(err) + hint, err.problems, err.status, err.doc) from None
            raise
        return name

    def delete_scenario(self, name: str, *, missing_ok: bool = False) -> bool:
        """Remove an upload, or hide a folder scenario until the folder reloads. False when there
        was none and `missing_ok` (else AdminCallError 404)."""
        status, doc = self.call("DELETE", f"/scenarios/{name}")
        if status == 404 and missing_ok:
            return False
        if status != 200:
            raise AdminCallError(
                f"mockstatus admin API: DELETE /scenarios/{name} answered {failure(status, doc)}",
                status,
                doc,
            )
        return True

    def reload(self) -> ScenarioListing:
        """Re-read the scenarios folder; AdminCallError (400, `.doc["errors"]`) if it is invalid
        (the last good configuration keeps serving)."""
        return cast(ScenarioListing, self._checked("POST", "/reload"))

    def purge(self, owner: str | None = None) -> list[str]:
        """Remove the uploads tagged with `owner`, or every upload without one (the folder's
        scenarios stay). Returns the names removed."""
        doc = self._checked("POST", "/purge", {"owner": owner} if owner is not None else None)
        return cast(list[str], doc["removed"])

    # --- state ---------------------------------------------------------------------------------

    def reset(self, session: str | None = None) -> None:
        """Reset counters, states, rate-limit buckets and scenario clocks: of every session, or
        of one. The journal stays (see `clear_requests`)."""
        self._checked("POST", "/reset", {"session": session} if session is not None else None)

    def clear_requests(self, session: str | None = None) -> int:
        """Empty the journal (or one session's entries); returns how many went."""
        query = {"session": session} if session is not None else None
        return int(self._checked("DELETE", "/requests", query)["removed"])

    # --- overrides (docs/dashboard.md) -----------------------------------------------------------

    def force_outage(
        self,
        scenario: str,
        route: str,
        seconds: float | str | datetime.timedelta,
        *,
        respond: Mapping[str, Any] | None = None,
        session: str | None = None,
    ) -> dict[str, Any]:
        """Force route `route` (its name, `route-N` when unnamed) into an outage for `seconds`
        on the server's clock: `respond` as an outage window's (default a 503)."""
        outage: dict[str, Any] = {"for": _for(seconds)}
        if respond is not None:
            outage["respond"] = dict(respond)
        return self._override(scenario, route, {"outage": outage}, session)

    def force_fault(
        self,
        scenario: str,
        route: str,
        fault: str,
        seconds: float | str | datetime.timedelta,
        *,
        session: str | None = None,
    ) -> dict[str, Any]:
        """Make every call of the route fail with `fault` (reset, close, ...) for `seconds`."""
        return self._override(scenario, route, {"fault": fault, "for": _for(seconds)}, session)

    def cancel_override(
        self, scenario: str, route: str, *, session: str | None = None, missing_ok: bool = False
    ) -> bool:
        """End an override now; False (with `missing_ok`) when none was set."""
        query = {"session": session} if session is not None else None
        status, doc = self.call("DELETE", _override_path(scenario, route), query)
        if status == 404 and missing_ok and "no override" in str(failure(status, doc)):
            return False
        if not 200 <= status < 300:
            raise AdminCallError(
                f"mockstatus admin API: DELETE override answered {failure(status, doc)}",
                status,
                doc,
            )
        return True

    def _override(
        self, scenario: str, route: str, body: dict[str, Any], session: str | None
    ) -> dict[str, Any]:
        query = {"session": session} if session is not None else None
        raw = json.dumps(body).encode()
        return cast(
            dict[str, Any], self._checked("POST", _override_path(scenario, route), query, body=raw)
        )

    # --- the journal ---------------------------------------------------------------------------

    def requests_page(
        self,
        *,
        route: str | None = None,
        path: str | None = None,
        session: str | None = None,
        method: str | None = None,
        scenario: str | None = None,
        status: int | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> JournalPage:
        """One `GET /requests` answer: with `since`, the first `limit` matches after it (`more`
        and `next_since` say where the next page starts); without, the last `limit`."""
        query = journal_query(
            route=route, path=path, session=session, method=method, scenario=scenario,
            status=status, since=since, limit=limit,
        )  # fmt: skip
        return cast(JournalPage, self._checked("GET", "/requests", query))

    def iter_requests(
        self, *, page_size: int = JOURNAL_PAGE, **filters: Any
    ) -> Iterator[JournalEntry]:
        """Every matching entry after `since` (default: all), oldest first, one page at a time:
        no answer is bigger than `page_size` entries. `limit` is not a filter here."""
        query = journal_query(**filters)
        if "limit" in query:
            raise TypeError("iter_requests pages by itself: use requests(limit=N) for the last N")
        query.setdefault("since", "0")
        while True:
            doc = self._checked("GET", "/requests", {**query, "limit": str(page_size)})
            yield from doc["requests"]
            if not doc.get("more") or doc.get("next_since") is None:
                return
            query["since"] = str(doc["next_since"])

    def requests(self, *, page_size: int = JOURNAL_PAGE, **filters: Any) -> list[JournalEntry]:
        """The journal entries, oldest first. Filters: route, path, session, method, scenario,
        status, since (a seq or an epoch time: entries after it), limit (the last N). Read in
        pages of `page_size` (following `next_since` while `more`), except `limit` alone, which
        is one call."""
        journal_query(**filters)  # an unknown filter is a TypeError before any call
        limit = filters.pop("limit", None)
        if limit is not None and filters.get("since") is None:
            return self.requests_page(limit=int(limit), **filters)["requests"]
        found = list(self.iter_requests(page_size=page_size, **filters))
        return found[-int(limit) :] if limit is not None else found

    def unmatched(self, **filters: Any) -> list[JournalEntry]:
        """`GET /requests/unmatched`: requests no route matched (near misses or the final 404)."""
        doc = self._checked("GET", "/requests/unmatched", journal_query(**filters))
        return cast(list[JournalEntry], doc["requests"])

    def assert_all_matched(self, **filters: Any) -> None:
        """Fail (UnmatchedRequests, an AssertionError) naming each unmatched request and why
        the closest routes did not match. Filters as for `requests` (e.g. since=, session=)."""
        assertions.check_all_matched(self.unmatched(**filters))

    def wait_for(
        self, count: int = 1, *, timeout: float = 5.0, **filters: Any
    ) -> list[JournalEntry]:
        """Block until `count` requests matching the filters are in the journal (then return
        them), at most `timeout` seconds; then WaitTimeout, whose `.requests` holds those that
        came. A full waiter table (503) is retried until the timeout."""
        query = journal_query(**filters)
        deadline = time.monotonic() + float(timeout)
        while True:
            left = max(deadline - time.monotonic(), 0.0)
            wait = {**query, "count": str(count), "timeout": repr(left)}
            status, doc = self.call("GET", "/requests/wait", wait, timeout=left + self.timeout)
            if status != 503 or left <= 0:
                break
            time.sleep(min(WAIT_RETRY, left))
        if status == 408 and isinstance(doc, dict):
            got = cast(list[JournalEntry], doc.get("requests", []))
            seen = ", ".join(f"{r['method']} {r['path']} -> {r['status']}" for r in got) or "none"
            shown = {k: v for k, v in filters.items() if v is not None} or "anything"
            raise WaitTimeout(
                f"waited {timeout:g} s for {count} request(s) matching {shown}; "
                f"{len(got)} arrived: {seen}",
                got,
                doc,
            )
        if not 200 <= status < 300:
            raise AdminCallError(
                f"mockstatus admin API: GET /requests/wait answered {failure(status, doc)}",
                status,
                doc,
            )
        return cast(list[JournalEntry], doc["requests"])

    # --- the clock -----------------------------------------------------------------------------

    def clock(self) -> ClockReading:
        """`{"monotonic", "wall", "controllable"}`: the server's clock."""
        return cast(ClockReading, self._checked("GET", "/clock"))

    def advance(self, seconds: float | datetime.timedelta) -> ClockReading:
        """Move a manual clock forward (outages, windows, buckets and the journal's `time`
        follow). ClockNotControllable when the server runs on the system clock."""
        if isinstance(seconds, datetime.timedelta):
            seconds = seconds.total_seconds()
        seconds = float(seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"a clock only moves forward: {seconds!r} is not a number >= 0")
        status, doc = self.call("POST", "/clock/advance", {"seconds": repr(seconds)})
        if status == 409:
            raise ClockNotControllable(
                f"cannot advance the clock of the mockstatus server at {self.base_url}: it "
                "runs on the system clock. Start it with `mockstatus serve --clock manual` "
                "(or MOCKSTATUS_CLOCK=manual in its environment). "
                f"(The server said: {failure(status, doc)})",
                status,
                doc,
            )
        if status != 200:
            raise AdminCallError(
                f"mockstatus admin API: POST /clock/advance answered {failure(status, doc)}",
                status,
                doc,
            )
        return cast(ClockReading, doc)


def _override_path(scenario: str, route: str) -> str:
    return f"/scenarios/{scenario}/routes/{route}/override"


def _for(seconds: float | str | datetime.timedelta) -> str | float:
    if isinstance(seconds, datetime.timedelta):
        return seconds.total_seconds()
    return seconds


class AsyncClient:
    """`Client`'s methods as coroutines: each runs the sync call in a worker thread, so the
    event loop never blocks (see the module docstring for why not aiohttp)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        owner: str | None = None,
        timeout: float = CALL_TIMEOUT,
        transport: Transport | None = None,
    ) -> None:
        self.sync = Client(url, token=token, owner=owner, timeout=timeout, transport=transport)

    @property
    def base_url(self) -> str:
        return self.sync.base_url

    def url(self, path: str = "/") -> str:
        return self.sync.url(path)

    def admin_url(self, path: str = "") -> str:
        return self.sync.admin_url(path)

    async def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        *,
        timeout: float | None = None,
    ) -> tuple[int, Any]:
        return await asyncio.to_thread(self.sync.call, method, path, query, body, timeout=timeout)

    async def health(self) -> dict[str, str]:
        return await asyncio.to_thread(self.sync.health)

    async def metrics(self) -> str:
        return await asyncio.to_thread(self.sync.metrics)

    async def catalog(self, code: int | None = None, *, status_class: str | None = None) -> Any:
        return await asyncio.to_thread(self.sync.catalog, code, status_class=status_class)

    async def scenarios(self) -> ScenarioListing:
        return await asyncio.to_thread(self.sync.scenarios)

    async def scenario(self, name: str) -> ScenarioInfo:
        return await asyncio.to_thread(self.sync.scenario, name)

    async def put_scenario(
        self, name: str, text: str | bytes, *, owner: str | None = None
    ) -> ScenarioInfo:
        return await asyncio.to_thread(self.sync.put_scenario, name, text, owner=owner)

    async def load(
        self,
        source: ScenarioSource,
        *,
        name: str | None = None,
        owner: str | None = None,
        default_name: Callable[[], str] | None = None,
    ) -> str:
        return await asyncio.to_thread(
            self.sync.load, source, name=name, owner=owner, default_name=default_name
        )

    async def delete_scenario(self, name: str, *, missing_ok: bool = False) -> bool:
        return await asyncio.to_thread(self.sync.delete_scenario, name, missing_ok=missing_ok)

    async def reload(self) -> ScenarioListing:
        return await asyncio.to_thread(self.sync.reload)

    async def purge(self, owner: str | None = None) -> list[str]:
        return await asyncio.to_thread(self.sync.purge, owner)

    async def reset(self, session: str | None = None) -> None:
        await asyncio.to_thread(self.sync.reset, session)

    async def clear_requests(self, session: str | None = None) -> int:
        return await asyncio.to_thread(self.sync.clear_requests, session)

    async def requests(
        self, *, page_size: int = JOURNAL_PAGE, **filters: Any
    ) -> list[JournalEntry]:
        return await asyncio.to_thread(self.sync.requests, page_size=page_size, **filters)

    async def unmatched(self, **filters: Any) -> list[JournalEntry]:
        return await asyncio.to_thread(self.sync.unmatched, **filters)

    async def assert_all_matched(self, **filters: Any) -> None:
        await asyncio.to_thread(self.sync.assert_all_matched, **filters)

    async def wait_for(
        self, count: int = 1, *, timeout: float = 5.0, **filters: Any
    ) -> list[JournalEntry]:
        return await asyncio.to_thread(self.sync.wait_for, count, timeout=timeout, **filters)

    async def clock(self) -> ClockReading:
        return await asyncio.to_thread(self.sync.clock)

    async def force_outage(
        self, scenario: str, route: str, seconds: float | str | datetime.timedelta, **kw: Any
    ) -> dict[str, Any]:
        return await asyncio.to_thread(self.sync.force_outage, scenario, route, seconds, **kw)

    async def force_fault(
        self, scenario: str, route: str, fault: str, seconds: float | str | datetime.timedelta,
        **kw: Any,
    ) -> dict[str, Any]:  # fmt: skip
        return await asyncio.to_thread(self.sync.force_fault, scenario, route, fault, seconds, **kw)

    async def cancel_override(self, scenario: str, route: str, **kw: Any) -> bool:
        return await asyncio.to_thread(self.sync.cancel_override, scenario, route, **kw)

    async def advance(self, seconds: float | datetime.timedelta) -> ClockReading:
        return await asyncio.to_thread(self.sync.advance, seconds)

    async def close(self) -> None:
        self.sync.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<mockstatus.AsyncClient {self.base_url}>"


# --- helpers -----------------------------------------------------------------------------------


def journal_query(**filters: Any) -> dict[str, str]:
    """The query string of a journal filter; TypeError names an unknown one. None is no filter."""
    out: dict[str, str] = {}
    for key, value in filters.items():
        if key not in JOURNAL_FILTERS:
            raise TypeError(
                f"unknown journal filter {key!r}; the filters are: {', '.join(JOURNAL_FILTERS)}"
            )
        if value is None:
            continue
        out[key] = repr(float(value)) if key == "since" else str(value)
    return out


def scenario_source(source: ScenarioSource) -> tuple[str, str | None, Path | None]:
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


def declared_name(text: str) -> str | None:
    """The scenario's own `name:`, when it is one a URL can carry."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    name = doc.get("name") if isinstance(doc, dict) else None
    if isinstance(name, str) and name and "/" not in name and name.isprintable():
        return name
    return None
