"""The dashboard's admin endpoints (docs/dashboard.md): the page and its assets
(`GET /__mockstatus/ui`, sent with a strict Content-Security-Policy), the event feed's snapshot
and publishing, and route overrides (`POST`/`DELETE
/__mockstatus/scenarios/{name}/routes/{route}/override`). `admin.Admin` keeps one row per
endpoint and delegates here; the feed's transport is `wire/feed.py`. Pure: no aiohttp.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockstatus import live
from mockstatus.admin_params import text_param
from mockstatus.admin_reply import AdminError, Reply, error_reply
from mockstatus.events import EventBus, summary
from mockstatus.limits import FEED_BUFFER, FEED_SNAPSHOT_REQUESTS, FEED_TICK
from mockstatus.scenarios.override import OverrideError, parse

if TYPE_CHECKING:
    from mockstatus.admin import Admin, Call, Route

FEED = "/events"
OVERRIDE = "/scenarios/{name}/routes/{route}/override"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
UI_DIR = Path(__file__).parent / "ui"
# The page's files: the only ones served (no path is ever joined from the request).
ASSETS = {
    "": ("index.html", "text/html; charset=utf-8"),
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "style.css": ("style.css", "text/css; charset=utf-8"),
}
PAGE_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


def setup(admin: Admin) -> EventBus:
    """The admin's event bus: fed by the journal, the store's swaps and the admin calls."""
    bus = EventBus(admin.journal)
    changes = live.Changes(lambda: admin.store.runtime)
    bus.derive = changes

    def swapped() -> None:
        if bus.subscribers:
            changes.forget()
            bus.publish("reload", lambda: reload_doc(admin))

    admin.store.on_swap.append(swapped)
    return bus


@cache
def _asset(name: str) -> str:
    return (UI_DIR / name).read_text(encoding="utf-8")


def ui_reply(call: Call) -> Reply:
    found = ASSETS.get(call.arg)
    if found is None:
        return error_reply(404, f"no dashboard file {call.arg[:100]!r}: {', '.join(ASSETS)}")
    name, content_type = found
    return Reply(200, text=_asset(name), content_type=content_type, headers=PAGE_HEADERS)


def feed_over_dispatch(call: Call) -> Reply:
    """The feed is a stream: only the HTTP face (wire/feed.py) serves it. HEAD says what a GET
    would be, without a body (a stream's body must never follow a HEAD)."""
    if call.method == "HEAD":
        return Reply(200, text="", content_type="text/event-stream; charset=utf-8")
    return error_reply(400, "the event feed is a stream: GET /__mockstatus/events over HTTP/1.1")


# --- documents ----------------------------------------------------------------------------------


def _errors(admin: Admin) -> list[dict[str, Any]]:
    return [
        {"file": p.file, "line": p.line, "column": p.column, "message": p.message,
         "source_line": p.source_line, "text": str(p)}
        for p in admin.store.errors
    ]  # fmt: skip


def reload_doc(admin: Admin) -> dict[str, Any]:
    store = admin.store
    return {
        "scenarios": live.scenarios_view(store.runtime),
        "errors": _errors(admin),
        "uploads": sorted(store.uploads),
        "reloads": store.reloads,
        "load_failures": store.load_failures,
    }


def snapshot(admin: Admin) -> dict[str, Any]:
    """The first event of every feed (and again after a reset or a clock advance)."""
    bus = admin.feed
    return {
        "clock": {
            "monotonic": admin.clock.monotonic(),
            "wall": admin.clock.wall(),
            "controllable": admin.clock_controllable,
        },
        "token": bool(admin.token),
        "workers": 1,  # under --workers the feed shows the worker that serves it
        **reload_doc(admin),
        "requests": [summary(e) for e in admin.journal.select(limit=FEED_SNAPSHOT_REQUESTS)],
        "feed": {
            "subscribers": len(bus.subscribers),
            "dropped": bus.dropped,
            "buffer": FEED_BUFFER,
            "tick": FEED_TICK,
        },
    }


def after_call(admin: Admin, route: Route, call: Call, reply: Reply) -> None:
    """Publish what an admin call changed (only called while a feed is open)."""
    bus = admin.feed
    template, method = route.template, route.method
    if template == "/scenarios/{name}" and method == "PUT":
        doc = reply.doc if isinstance(reply.doc, dict) else {}
        bus.publish("upload", {"name": call.arg, "ok": reply.ok, "status": reply.status, **doc})
    elif template == "/reload" and not reply.ok:
        bus.publish("reload", lambda: reload_doc(admin))
    elif reply.ok and (template in ("/reset", "/clock/advance") or "/state/" in template):
        if isinstance(bus.derive, live.Changes):
            bus.derive.forget()
        bus.publish("snapshot", lambda: snapshot(admin))


# --- overrides ----------------------------------------------------------------------------------


def override(admin: Admin, call: Call) -> Reply:
    name, _, rest = call.arg.partition("/routes/")
    route_name = rest.removesuffix("/override")
    session = text_param(call.query, "session")
    runtime = admin.store.runtime
    scenario = runtime.set.get(name) if runtime is not None else None
    if runtime is None or scenario is None:
        raise AdminError(404, f"no scenario named {name[:100]!r}")
    if not any(r.name == route_name for r in scenario.routes):
        names = ", ".join(r.name for r in scenario.routes)
        raise AdminError(
            404, f"scenario {name!r} has no route {route_name[:100]!r} (routes: {names})"
        )
    key = f"{name}/{route_name}"
    now = admin.clock.monotonic()
    where: dict[str, Any] = {"scenario": name, "route": route_name, "session": session}
    if call.method == "DELETE":
        gone = runtime.overrides.cancel(key, session)
        if gone is None:
            whose = "every session" if session is None else f"session {session!r}"
            raise AdminError(404, f"no override of {key!r} for {whose}")
        _changed(admin)
        doc = {**where, "cancelled": True, "kind": gone.kind}
        admin.feed.publish("override", {**doc, "action": "cancel"})
        return Reply(200, doc)
    try:
        forced = parse(call.body, session, now)
        runtime.overrides.put(key, forced)
    except OverrideError as err:
        raise AdminError(400, str(err), problems=list(err.problems)) from None
    _changed(admin)
    doc = {**where, **forced.describe(now), "until_wall": admin.clock.wall() + forced.seconds}
    admin.feed.publish("override", {**doc, "action": "set"})
    return Reply(200, doc)


def _changed(admin: Admin) -> None:
    """An override changes what a route answers: the wire's prepared answers start over (the
    fast lane's swap hook; the feed's own hook is not a swap)."""
    for hook in admin.store.on_swap:
        if getattr(hook, "__name__", "") != "swapped":
            hook()


def metrics_lines(bus: EventBus) -> str:
    return (
        "# HELP mockstatus_events_dropped_total Dashboard feed events dropped because a"
        " subscriber's buffer was full.\n"
        "# TYPE mockstatus_events_dropped_total counter\n"
        f"mockstatus_events_dropped_total {bus.dropped}\n"
        "# HELP mockstatus_events_subscribers Open dashboard event feeds.\n"
        "# TYPE mockstatus_events_subscribers gauge\n"
        f"mockstatus_events_subscribers {len(bus.subscribers)}\n"
        "# HELP mockstatus_events_tick_cpu_seconds_total CPU time the feed's ticks took"
        " (serialising, compressing and writing batches).\n"
        "# TYPE mockstatus_events_tick_cpu_seconds_total counter\n"
        f"mockstatus_events_tick_cpu_seconds_total {bus.tick_cpu:.6f}\n"
    )
