"""The admin API under /__mockstatus (SCENARIOS.md): health, scenarios, reset, journal, metrics.

Mutations require `Authorization: Bearer <token>` when a token is configured.
"""

from __future__ import annotations

import hmac
import json
import math
from typing import Any

from aiohttp import web

from mockstatus import codes, semantics
from mockstatus.errors import ScenarioError
from mockstatus.journal import Filter, Journal
from mockstatus.metrics import CONTENT_TYPE as METRICS_TYPE
from mockstatus.metrics import Metrics
from mockstatus.scenarios.store import ScenarioStore
from mockstatus.types import Clock

PREFIX = "/__mockstatus"
MAX_UPLOAD = 1024 * 1024
MAX_WAIT = 60.0


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(doc, indent=2).encode() + b"\n",
        content_type="application/json",
        headers={"Server": semantics.SERVER, "Cache-Control": "no-store"},
    )


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return _json(
        {"code": status, "reason": codes.lookup(status).reason, "error": message, **extra}, status
    )


class Admin:
    def __init__(
        self,
        *,
        store: ScenarioStore,
        journal: Journal,
        metrics: Metrics,
        clock: Clock,
        token: str | None,
        clock_controllable: bool,
    ) -> None:
        self.store = store
        self.journal = journal
        self.metrics = metrics
        self.clock = clock
        self.token = token
        self.clock_controllable = clock_controllable

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path[len(PREFIX) :].rstrip("/") or "/"
        method = request.method
        if method not in ("GET", "HEAD") and not self._authorised(request):
            resp = _error(401, "admin mutations need Authorization: Bearer <token>")
            resp.headers["WWW-Authenticate"] = 'Bearer realm="mockstatus-admin"'
            return resp
        try:
            if path == "/health":
                return _json({"status": "ok"})
            if path == "/scenarios" and method in ("GET", "HEAD"):
                return _json(self.describe_scenarios())
            if path.startswith("/scenarios/"):
                return await self._scenario(request, path[len("/scenarios/") :])
            if path == "/reset" and method == "POST":
                session = request.query.get("session")
                self.store.reset(session)
                return _json({"reset": session or "all"})
            if path == "/requests":
                return self._requests(request)
            if path == "/requests/wait" and method == "GET":
                return await self._wait(request)
            if path == "/clock/advance" and method == "POST":
                return self._advance(request)
            if path == "/clock" and method == "GET":
                return _json({"monotonic": self.clock.monotonic(), "wall": self.clock.wall()})
            if path == "/metrics" and method in ("GET", "HEAD"):
                return self._metrics()
            if path == "/reload" and method == "POST":
                ok = self.store.reload()
                return _json(self.describe_scenarios(), 200 if ok else 400)
        except ValueError as err:
            return _error(400, str(err))
        return _error(404, f"no admin endpoint {method} {PREFIX}{path}")

    def _authorised(self, request: web.BaseRequest) -> bool:
        if not self.token:
            return True
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode())

    # --- scenarios ---------------------------------------------------------------------------

    def describe_scenarios(self) -> dict[str, Any]:
        runtime = self.store.runtime
        return {
            "folder": str(self.store.folder) if self.store.folder else None,
            "scenarios": runtime.describe() if runtime is not None else [],
            "errors": [
                {
                    "file": p.file,
                    "line": p.line,
                    "column": p.column,
                    "message": p.message,
                    "text": str(p),
                }
                for p in self.store.errors
            ],
            "reloads": self.store.reloads,
        }

    async def _scenario(self, request: web.BaseRequest, name: str) -> web.StreamResponse:
        if not name or "/" in name:
            return _error(400, "a scenario name is one path segment")
        if request.method == "PUT":
            raw = await request.content.read(MAX_UPLOAD + 1)
            if len(raw) > MAX_UPLOAD:
                return _error(413, f"a scenario upload is at most {MAX_UPLOAD} bytes")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                return _error(400, "the scenario must be UTF-8 YAML")
            try:
                scenario = self.store.put(name, text)
            except ScenarioError as err:
                return _error(
                    400,
                    "the scenario was rejected",
                    problems=[str(p) for p in err.problems],
                )
            return _json({"name": scenario.name, "routes": len(scenario.routes)}, 201)
        if request.method == "DELETE":
            if self.store.delete(name):
                return _json({"deleted": name})
            return _error(404, f"no scenario named {name!r}")
        if request.method in ("GET", "HEAD"):
            for item in self.describe_scenarios()["scenarios"]:
                if item["name"] == name:
                    return _json(item)
            return _error(404, f"no scenario named {name!r}")
        return _error(405, "use GET, PUT or DELETE")

    # --- journal -----------------------------------------------------------------------------

    def _filter(self, request: web.BaseRequest) -> tuple[Filter, int | None]:
        q = request.query
        since = None
        if "since" in q:
            since = float(q["since"])
            if not math.isfinite(since):
                raise ValueError("since must be a number (a journal seq or an epoch time)")
        limit = None
        if "limit" in q:
            limit = int(q["limit"])
            if limit < 1:
                raise ValueError("limit must be at least 1")
        flt = Filter(
            route=q.get("route"),
            path=q.get("path"),
            session=q.get("session"),
            method=q.get("method"),
            scenario=q.get("scenario"),
            since=since,
        )
        return flt, limit

    def _requests(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.method == "DELETE":
            self.journal.clear(request.query.get("session"))
            return _json({"cleared": True})
        flt, limit = self._filter(request)
        entries = self.journal.select(flt, limit)
        return _json({"count": len(entries), "requests": [e.to_dict() for e in entries]})

    async def _wait(self, request: web.BaseRequest) -> web.StreamResponse:
        flt, _limit = self._filter(request)
        count = int(request.query.get("count", "1"))
        timeout = float(request.query.get("timeout", "10"))
        if not 0 <= timeout <= MAX_WAIT:
            raise ValueError(f"timeout must be between 0 and {MAX_WAIT} seconds")
        entries = await self.journal.wait(flt, count, timeout)
        done = len(entries) >= count
        return _json(
            {"count": len(entries), "complete": done, "requests": [e.to_dict() for e in entries]},
            200 if done else 408,
        )

    # --- clock -------------------------------------------------------------------------------

    def _advance(self, request: web.BaseRequest) -> web.StreamResponse:
        if not self.clock_controllable:
            return _error(
                409, "the clock is not controllable: start the server with --clock manual"
            )
        seconds = float(request.query.get("seconds", "0"))
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("seconds must be a finite number >= 0")
        self.clock.advance(seconds)  # type: ignore[attr-defined]
        return _json({"monotonic": self.clock.monotonic(), "wall": self.clock.wall()})

    def _metrics(self) -> web.Response:
        store = self.store
        text = self.metrics.render(
            reloads=store.reloads,
            load_failures=store.load_failures,
            load_errors=len(store.errors),
            scenarios=len(store.current.scenarios),
        )
        return web.Response(
            body=text.encode(), headers={"Content-Type": METRICS_TYPE, "Server": semantics.SERVER}
        )
