"""Issue 18 (tool 20): the dashboard's event feed and route overrides, on a real listening
server with a manual clock. The feed is read as raw SSE over a socket; batches are flushed by
the bus's own 50 ms tick (the reads wait for events, never for a fixed time)."""

from __future__ import annotations

import json
import re
import socket

import httpx
import pytest

from mockstatus.events import EventBus, encode
from mockstatus.journal import Journal
from mockstatus.types import ManualClock

SCENARIO = """
name: shop
routes:
  - name: orders
    match: {path: /orders}
    respond: {status: 200, body: ok}
  - match: {path: /limited}
    rate_limit: {limit: 2, window: 60s, key: global}
    respond: {status: 200}
  - name: login
    match: {path: /login}
    state: {machine: auth, set: in}
    respond: {status: 200}
  - name: flaky
    match: {path: /flaky}
    outage: [{every: 60s, duration: 10s, offset: 30s}]
    respond: {status: 200}
"""
TOKEN = "t0ken"


class Feed:
    """A raw SSE reader: the events (type, document) in order."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        lines = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall(
            f"GET /__mockstatus/events HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}\r\n".encode("latin-1")
        )
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        self.status = int(head.split()[1])
        self.head = head.decode()

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(self.buf[:300])
            self.buf += data
        out, _, self.buf = self.buf.partition(marker)
        return out

    def next(self) -> tuple[str, dict]:
        while True:
            block = self._until(b"\n\n")
            # chunked framing: drop chunk-size lines (hex digits only)
            lines = [
                ln.strip("\r")
                for ln in block.decode().split("\n")
                if ln.strip("\r") and not all(c in "0123456789abcdefABCDEF" for c in ln.strip("\r"))
            ]
            kind = next((ln[7:] for ln in lines if ln.startswith("event: ")), None)
            data = next((ln[6:] for ln in lines if ln.startswith("data: ")), None)
            if kind and data:
                return kind, json.loads(data)

    def until(self, kind: str, pred=lambda doc: True, limit: int = 200) -> dict:
        for _ in range(limit):
            got, doc = self.next()
            if got == kind and pred(doc):
                return doc
        raise AssertionError(f"no {kind} event in {limit}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def shop(make_server):
    clock = ManualClock()
    server = make_server({"shop.yaml": SCENARIO}, clock=clock, clock_controllable=True)
    return server, clock


def test_snapshot_comes_first_then_request_events_in_order(shop):
    server, _ = shop
    httpx.get(server.url("/status/418"))
    feed = Feed(server.port)
    try:
        assert feed.status == 200
        assert "text/event-stream" in feed.head
        kind, snap = feed.next()
        assert kind == "snapshot"
        assert [r["status"] for r in snap["requests"]] == [418]
        assert snap["workers"] == 1 and snap["token"] is False
        (shop_view,) = snap["scenarios"]
        assert [r["name"] for r in shop_view["routes"]] == ["orders", "route-1", "login", "flaky"]
        for path in ("/orders", "/status/503", "/nothing-here"):
            httpx.get(server.url(path))
        docs = [feed.until("request") for _ in range(3)]
        # compact rows: a null, empty or usual field is left out (docs/dashboard.md)
        assert [{k: v for k, v in d.items() if k not in ("seq", "duration_ms")}
                for d in docs] == [
            {"method": "GET", "path": "/orders", "status": 200, "scenario": "shop",
             "route": "orders"},
            {"method": "GET", "path": "/status/503", "status": 503},
            {"method": "GET", "path": "/nothing-here", "status": 404, "unmatched": True},
        ]  # fmt: skip
        assert docs[0]["seq"] < docs[1]["seq"] < docs[2]["seq"]
        assert all(type(d["duration_ms"]) is float and d["duration_ms"] >= 0 for d in docs)
    finally:
        feed.close()


def test_ratelimit_and_state_events_follow_requests(shop):
    server, _ = shop
    feed = Feed(server.port)
    try:
        feed.until("snapshot")
        for _ in range(3):
            httpx.get(server.url("/limited"))
        seen_refused = 0
        while seen_refused == 0:
            doc = feed.until("ratelimit")
            (policy,) = doc["policies"]
            assert policy["limit"] == 2 and policy["key"] == "global"
            seen_refused += doc["refused"]
        assert policy["buckets"][0]["remaining"] == 0
        assert 0 < policy["buckets"][0]["reset"] <= 60
        httpx.get(server.url("/login"))
        state = feed.until("state")
        assert state == {"scenario": "shop", "machine": "auth", "session": "", "states": {"": "in"}}
    finally:
        feed.close()


def test_override_outage_follows_the_manual_clock_and_is_published(shop):
    server, clock = shop
    base = server.url("/__mockstatus/scenarios/shop/routes/orders/override")
    feed = Feed(server.port)
    try:
        feed.until("snapshot")
        assert httpx.get(server.url("/orders")).status_code == 200
        body = {"outage": {"for": "30s", "respond": {"status": 503, "body": "down"}}}
        resp = httpx.post(base, json=body)
        assert resp.status_code == 200, resp.text
        assert resp.json()["kind"] == "outage" and resp.json()["remaining"] == 30
        event = feed.until("override")
        assert (event["action"], event["route"], event["status"]) == ("set", "orders", 503)
        down = httpx.get(server.url("/orders"))
        assert (down.status_code, down.text, down.headers["Retry-After"]) == (503, "down", "30")
        clock.advance(29.5)
        assert httpx.get(server.url("/orders")).headers["Retry-After"] == "1"
        clock.advance(0.5)
        assert httpx.get(server.url("/orders")).status_code == 200  # ended with the clock
    finally:
        feed.close()


def test_override_fault_for_one_session_and_delete_cancels(shop):
    server, _ = shop
    base = server.url("/__mockstatus/scenarios/shop/routes/route-1/override")
    assert httpx.post(base + "?session=a", json={"fault": "reset", "for": "1h"}).status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url("/limited"), headers={"X-Mockstatus-Session": "a"})
    other = httpx.get(server.url("/limited"), headers={"X-Mockstatus-Session": "b"})
    assert other.status_code == 200  # other sessions are untouched
    assert httpx.delete(base + "?session=a").status_code == 200
    ok = httpx.get(server.url("/limited"), headers={"X-Mockstatus-Session": "a"})
    assert ok.status_code == 200
    gone = httpx.delete(base + "?session=a")
    assert gone.status_code == 404 and "no override" in gone.json()["error"]


def test_override_beats_the_fast_lane_and_the_prepared_answer_returns(shop):
    server, _ = shop
    base = server.url("/__mockstatus/scenarios/shop/routes/orders/override")
    with httpx.Client() as client:  # keep-alive: the fast lane's own connection path
        assert client.get(server.url("/orders")).status_code == 200
        client.post(base, json={"outage": {"for": "10s"}})
        assert client.get(server.url("/orders")).status_code == 503
        client.delete(base)
        assert client.get(server.url("/orders")).text == "ok"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"nope", 400, "must be JSON"),
        (b"{}", 400, "must be one of"),
        (b'{"fault": "reset"}', 400, "'for' is required"),
        (b'{"fault": "explode", "for": "3s"}', 400, "unknown fault 'explode'"),
        (b'{"fault": "reset", "for": "0s"}', 400, "above 0"),
        (b'{"outage": {"for": "3s", "respond": {"status": 99}}}', 400, "100 to 599"),
        (b'{"outage": {"for": "3s", "respond": {"file": "/etc/passwd"}}}', 400, "no 'file'"),
        (b'{"outage": {"for": "3s", "extra": 1}}', 400, "unknown outage key 'extra'"),
    ],
    ids=["not-json", "empty", "no-for", "bad-fault", "zero", "bad-status", "file", "extra"],
)
def test_bad_overrides_are_400s_naming_the_problem(shop, body, status, needle):
    server, _ = shop
    url = server.url("/__mockstatus/scenarios/shop/routes/orders/override")
    resp = httpx.post(url, content=body)
    assert resp.status_code == status
    assert needle in resp.json()["error"]


def test_override_of_unknown_scenario_or_route_is_404(shop):
    server, _ = shop
    r = httpx.post(server.url("/__mockstatus/scenarios/nope/routes/x/override"), json={})
    assert r.status_code == 404 and "no scenario named 'nope'" in r.json()["error"]
    r = httpx.post(server.url("/__mockstatus/scenarios/shop/routes/x/override"), json={})
    assert r.status_code == 404 and "routes: orders, route-1, login, flaky" in r.json()["error"]


def test_feed_and_overrides_need_the_token_page_does_not(make_server):
    server = make_server({"shop.yaml": SCENARIO}, admin_token=TOKEN)
    assert Feed(server.port).status == 401
    ok = Feed(server.port, {"Authorization": f"Bearer {TOKEN}"})
    assert ok.status == 200 and ok.next()[0] == "snapshot"
    ok.close()
    url = server.url("/__mockstatus/scenarios/shop/routes/orders/override")
    assert httpx.post(url, json={"fault": "reset", "for": "1s"}).status_code == 401
    page = httpx.get(server.url("/__mockstatus/ui"))
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]


def test_page_and_assets_carry_the_exact_csp(server):
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    for path, kind in (("/ui", "text/html"), ("/ui/app.js", "text/javascript"),
                       ("/ui/style.css", "text/css")):  # fmt: skip
        resp = httpx.get(server.url("/__mockstatus" + path))
        assert resp.status_code == 200
        assert resp.headers["Content-Security-Policy"] == csp
        assert resp.headers["Content-Type"].startswith(kind)
    assert httpx.get(server.url("/__mockstatus/ui/../admin.py")).status_code == 404
    html = httpx.get(server.url("/__mockstatus/ui")).text
    assert " on" + "click=" not in html.lower() and "<script>" not in html


def test_upload_and_reset_events(shop):
    server, _ = shop
    feed = Feed(server.port)
    try:
        feed.until("snapshot")
        bad = httpx.put(server.url("/__mockstatus/scenarios/extra"), content="routes: [1]\n")
        assert bad.status_code == 400
        up = feed.until("upload")
        assert up["ok"] is False and up["details"][0]["line"] == 1
        good = "routes:\n  - match: {path: /x}\n    respond: {status: 204}\n"
        assert httpx.put(server.url("/__mockstatus/scenarios/extra"), content=good).is_success
        reload = feed.until("reload")  # the swap, then the upload's outcome
        assert "extra" in reload["uploads"]
        assert feed.until("upload")["ok"] is True
        httpx.post(server.url("/__mockstatus/reset"))
        assert feed.until("snapshot")["clock"]["controllable"] is True
    finally:
        feed.close()


def test_metrics_count_subscribers_and_drops(shop):
    server, _ = shop
    text = httpx.get(server.url("/__mockstatus/metrics")).text
    assert "mockstatus_events_dropped_total 0" in text
    assert "mockstatus_events_subscribers 0" in text
    assert "mockstatus_events_tick_cpu_seconds_total 0.000000" in text


# --- the bus itself (no server: flushes by hand) -------------------------------------------------


def test_bus_costs_nothing_without_subscribers_and_bounds_each_buffer():
    journal = Journal(10)
    bus = EventBus(journal, buffer=3)
    assert journal.on_entry is None
    bus.publish("state", {"x": 1})
    assert bus.flush() == 0
    fast, slow = bus.subscribe(), bus.subscribe()
    assert journal.on_entry is not None
    for i in range(2):
        bus.publish("state", {"i": i})
    assert bus.flush() == 2
    assert fast.take() == encode("state", {"i": 0}) + encode("state", {"i": 1})
    for i in range(2, 4):
        bus.publish("state", {"i": i})
    bus.flush()
    # slow never read: 2 + 2 events for a buffer of 3 -> one dropped, for slow alone
    assert (fast.pending, slow.pending, fast.dropped, slow.dropped) == (2, 3, 0, 1)
    assert bus.dropped == 1
    assert slow.take().count(b"event: state") == 3
    bus.unsubscribe(fast)
    bus.unsubscribe(slow)
    assert journal.on_entry is None


def test_each_event_is_serialised_once_for_all_subscribers(monkeypatch):
    bus = EventBus()
    subs = [bus.subscribe() for _ in range(5)]
    calls = []
    doc = {"k": "v"}
    bus.publish("override", lambda: calls.append(1) or doc)
    bus.flush()
    assert calls == [1]
    chunks = {id(s.chunks[0]) for s in subs}
    assert len(chunks) == 1  # the very same bytes object in every buffer


def test_typed_client_forces_and_cancels_overrides(shop):
    from mockstatus.client import AdminCallError, Client

    server, _ = shop
    with Client(server.base_url) as client:
        doc = client.force_outage("shop", "orders", "20s", respond={"status": 503, "body": "x"})
        assert (doc["kind"], doc["remaining"], doc["status"]) == ("outage", 20, 503)
        assert httpx.get(server.url("/orders")).text == "x"
        client.force_fault("shop", "orders", "close", 5, session="s1")
        with pytest.raises(httpx.TransportError):
            httpx.get(server.url("/orders"), headers={"X-Mockstatus-Session": "s1"})
        assert client.cancel_override("shop", "orders") is True
        assert client.cancel_override("shop", "orders", missing_ok=True) is False
        assert httpx.get(server.url("/orders")).text == "ok"
        with pytest.raises(AdminCallError) as err:
            client.force_fault("shop", "orders", "nope", 5)
        assert err.value.status == 400


@pytest.mark.parametrize(
    ("path", "session", "route", "note"),
    [
        ("/status/503", None, None, None),
        ('/a"b\\c\n', "s\u00e9", "orders", "rate limit 'x': cost 3"),
        ("/\udcff", "\udc80", None, None),  # bytes aiohttp decoded with surrogateescape
        ("/100%25%d", "%s", "orders", "50% off %(x)s"),  # `%` in what fills a template
    ],
    ids=["plain", "escapes", "surrogates", "percent"],
)
def test_the_written_out_request_event_equals_the_generic_encoding(path, session, route, note):
    from mockstatus.events import encode_request, summary

    journal = Journal(5)
    journal.record(
        1_767_225_600.25, "GET", path, "a=1", {"Host": "x"}, None, route and "shop", route,
        session, 503, None, 0.1234567, "HTTP/1.1", near_misses=(), note=note,
    )  # fmt: skip
    entry = journal.entries[-1]
    written, generic = encode_request(entry), encode("request", summary(entry))
    # the same event and document (numbers may be spelt differently: 0.050 and 0.05)
    assert written.split(b"data: ")[0] == generic.split(b"data: ")[0] == b"event: request\n"
    assert written.endswith(b"}\n\n") and written.count(b"\n") == 3
    doc = json.loads(written.split(b"data: ")[1])
    assert doc == json.loads(generic.split(b"data: ")[1])
    assert list(doc) == list(summary(entry))  # the same order of fields
    assert (doc["duration_ms"], doc["query"], doc["unmatched"]) == (0.123, "a=1", True)
    assert "time" not in doc  # the journal has it (the table does not show it)
    # The same shape again: the kept template, filled with the new seq and duration.
    journal.record(
        1_767_225_601.0, "GET", path, "a=1", {"Host": "x"}, None, route and "shop", route,
        session, 503, None, 7.0, "HTTP/1.1", near_misses=(), note=note,
    )  # fmt: skip
    again = journal.entries[-1]
    assert json.loads(encode_request(again).split(b"data: ")[1]) == {
        **doc,
        "seq": 2,
        "duration_ms": 7.0,
    }


def test_request_event_templates_are_bounded():
    from mockstatus import events
    from mockstatus.limits import FEED_TEMPLATES

    journal = Journal(5)
    for n in range(FEED_TEMPLATES + 5):
        journal.record(1.0, "GET", f"/p/{n}", "", {}, None, None, None, None, 200, None, 1.0)
        event = events.encode_request(journal.entries[-1])
        assert json.loads(event.split(b"data: ")[1])["path"] == f"/p/{n}"
        assert len(events._templates) <= FEED_TEMPLATES


def test_a_plain_request_event_carries_only_what_is_set():
    """Each open feed is sent every byte of every row: the usual values are left out."""
    from mockstatus.events import encode_request

    journal = Journal(5)
    journal.record(
        1_767_225_600.25, "GET", "/status/503", "", {}, None, None, None, None, 503, None,
        0.05, "HTTP/1.1",
    )  # fmt: skip
    journal.record(
        1_767_225_601.0, "POST", "/x", "", {}, None, None, None, "", 200, None, 1.0, "HTTP/2"
    )
    first, second = journal.entries
    assert encode_request(first) == (
        b'event: request\ndata: {"seq":1,"method":"GET",'
        b'"path":"/status/503","status":503,"duration_ms":0.050}\n\n'
    )
    assert encode_request(second).endswith(b',"session":"","http_version":"HTTP/2"}\n\n')


def test_reset_ends_overrides_of_all_or_of_one_session(shop):
    server, _ = shop
    url = server.url("/__mockstatus/scenarios/shop/routes/orders/override")
    httpx.post(url, json={"outage": {"for": "1h"}})
    httpx.post(url + "?session=a", json={"outage": {"for": "1h"}})
    httpx.post(server.url("/__mockstatus/reset?session=a"))
    assert httpx.delete(url + "?session=a").status_code == 404  # gone with session a
    assert httpx.get(server.url("/orders")).status_code == 503  # the every-session one stays
    httpx.post(server.url("/__mockstatus/reset"))
    assert httpx.get(server.url("/orders")).status_code == 200


def test_a_slow_dashboard_drops_its_own_events_and_slows_nobody(shop):
    server, _ = shop
    bus = server.app.admin.feed
    bus.buffer = 20  # small, so a few hundred requests overflow it
    reader = Feed(server.port)
    reader.until("snapshot")
    # A dashboard whose socket never drains: a subscriber nobody writes out (made on the
    # server's loop, as the transport makes one); the kernel's buffers would hide a raw one.
    stuck = server.call(bus.subscribe)
    try:
        with httpx.Client() as client:
            statuses = {
                client.get(server.url(f"/status/503?n={i}")).status_code for i in range(300)
            }
        assert statuses == {503}  # every request answered
        last = reader.until("request", lambda d: d["query"] == "n=299", limit=400)
        assert last["status"] == 503  # the reading dashboard got everything, in order
        metrics = httpx.get(server.url("/__mockstatus/metrics")).text
        dropped = int(re.search(r"^mockstatus_events_dropped_total (\d+)$", metrics, re.M)[1])
        assert dropped == stuck.dropped == 300 - 20  # the stuck one's alone
        assert stuck.pending == 20
        assert "mockstatus_events_subscribers 2" in metrics
        tick_cpu = re.search(r"^mockstatus_events_tick_cpu_seconds_total ([\d.]+)$", metrics, re.M)
        assert float(tick_cpu[1]) > 0  # 300 requests went out in ticks
    finally:
        server.call(bus.unsubscribe, stuck)
        reader.close()


def test_a_broken_folder_reload_shows_located_errors_with_the_source_line(shop):
    server, _ = shop
    folder = server.app.store.folder
    feed = Feed(server.port)
    try:
        feed.until("snapshot")
        (folder / "broken.yaml").write_text(
            "routes:\n  - match: {path: /b}\n    respond: {stauts: 503}\n"
        )
        assert httpx.post(server.url("/__mockstatus/reload")).status_code == 400
        doc = feed.until("reload")
        (error,) = doc["errors"]
        assert (error["file"].endswith("broken.yaml"), error["line"]) == (True, 3)
        assert error["source_line"].strip() == "respond: {stauts: 503}"
        assert [s["name"] for s in doc["scenarios"]] == ["shop"]  # the last good configuration
    finally:
        feed.close()


def test_the_feed_carries_bytes_that_are_not_utf8_as_valid_json(shop):
    server, _ = shop
    feed = Feed(server.port, {"X-Odd": "\xff"})  # latin-1 on the wire: a 0xff byte
    try:
        feed.until("snapshot")
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(
                b"GET /orders?q=%FF HTTP/1.1\r\nHost: x\r\nX-Mockstatus-Session: s\xff\r\n"
                b"Connection: close\r\n\r\n"
            )
            while sock.recv(65536):
                pass
        doc = feed.until("request")
        assert (doc["path"], doc["query"], doc["session"]) == ("/orders", "q=%FF", "s\u00ff")
    finally:
        feed.close()


def test_head_of_the_feed_has_no_body_and_the_connection_stays_usable(shop):
    from tests import rawhttp

    server, _ = shop
    with rawhttp.connect(server.port) as sock:
        sock.sendall(
            b"HEAD /__mockstatus/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            b"GET /status/418 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        reader = rawhttp.Reader(sock)
        _, head = reader.read_response("HEAD")
        _, teapot = reader.read_response("GET")
    assert head.status == 200 and head.body == b""
    assert head.header("Content-Type") == "text/event-stream; charset=utf-8"
    assert teapot.status == 418
