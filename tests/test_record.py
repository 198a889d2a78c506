"""Record → replay (issue 14): a session through `mockstatus proxy --record` against a local
upstream is replayed by `mockstatus serve --scenarios DIR`, byte for byte except `Date`."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mockstatus.app import Mockstatus
from mockstatus.record import Recorder
from mockstatus.runner import BackgroundServer
from mockstatus.scenarios.check import run_check
from tests import rawhttp
from tests.proxyhelp import Upstream, proxy_server
from tests.test_proxy_cli import Cli

# (method, target, body) of the recorded session
SESSION = [
    ("GET", "/status/200", b""),
    ("GET", "/status/404", b""),
    ("DELETE", "/status/204", b""),
    ("POST", "/echo/orders?dry_run=true", b'{"amount": 5}'),
    ("GET", "/echo/orders?dry_run=false", b""),
    ("GET", "/echo/orders", b""),
    ("GET", "/blob?n=70000", b""),  # above 64 KiB and not UTF-8: a side file
    ("GET", "/echo/a%2Fb/{x}*", b""),  # characters the path syntax reads: an escaped regex
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    up = Upstream().start()
    yield up
    up.stop()


def _wire(port: int, method: str, target: str, body: bytes) -> bytes:
    """The response as bytes on the wire, `Date` line removed."""
    with rawhttp.connect(port) as sock:
        sock.sendall(rawhttp.build(method, target, {"Host": "front.test"}, body))
        reader = rawhttp.Reader(sock)
        _, final = reader.read_response(method)
    lines = [ln for ln in final.head.split(b"\r\n") if not ln.lower().startswith(b"date:")]
    return b"\r\n".join(lines) + b"\r\n\r\n" + final.body


def _record(upstream: Upstream, folder: Path, **options: bool) -> list[bytes]:
    recorder = Recorder(folder, upstream=upstream.url(), **options)
    with proxy_server(upstream.url(), recorder=recorder) as server:
        return [_wire(server.port, m, t, b) for m, t, b in SESSION]


def test_record_then_replay_byte_for_byte(tmp_path: Path, upstream: Upstream) -> None:
    folder = tmp_path / "recorded"
    originals = _record(upstream, folder)
    out = io.StringIO()
    assert run_check([str(folder)], out) == 0, out.getvalue()
    app = Mockstatus(scenarios_dir=folder)  # `serve --scenarios DIR`: no proxy, no upstream
    app.store.load_initial()
    with BackgroundServer(app) as replay:
        replayed = [_wire(replay.port, m, t, b) for m, t, b in SESSION]
    for (method, target, _), original, again in zip(SESSION, originals, replayed, strict=True):
        assert again == original, f"{method} {target}"
    assert originals[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nVia: 1.1 mockstatus\r\n" in originals[0]


def test_recorded_files_are_deterministic_and_sorted(tmp_path: Path, upstream: Upstream) -> None:
    _record(upstream, tmp_path / "one")
    _record(upstream, tmp_path / "two")

    def contents(folder: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and "echo" not in p.name  # echoes name the proxy's port
        }

    one, two = contents(tmp_path / "one"), contents(tmp_path / "two")
    assert one == two and len(one) >= 5
    names = sorted(p.name for p in (tmp_path / "one").glob("*.yaml"))
    orders = [n for n in names if n.startswith("echo-orders.get.")]
    # The query-specific route sorts before the plain one (which matches any query).
    assert [n.split(".")[2][0] for n in orders] == ["a", "b"]
    assert not list((tmp_path / "one").glob(".*.tmp"))  # atomic writes leave no temporaries
    blob = yaml.safe_load((tmp_path / "one" / names[0]).read_text())
    assert blob["routes"][0]["match"] == {"method": "GET", "path": "/blob", "query": {"n": "70000"}}
    side = blob["routes"][0]["respond"]["file"]
    assert side.startswith("bodies/") and (tmp_path / "one" / side).stat().st_size == 70000


def test_redaction_of_headers_and_json_keys(tmp_path: Path, upstream: Upstream) -> None:
    recorder = Recorder(tmp_path, upstream=upstream.url(), redact=frozenset({"token", "X-Trace"}))
    with proxy_server(upstream.url(), recorder=recorder) as server:
        _wire(server.port, "GET", "/cookies", b"")
    (file,) = tmp_path.glob("cookies.*.yaml")
    respond = yaml.safe_load(file.read_text())["routes"][0]["respond"]
    assert respond["headers"]["Set-Cookie"] == ["REDACTED", "REDACTED"]
    assert respond["headers"]["X-Trace"] == "REDACTED"
    assert json.loads(respond["body"]) == {
        "token": "REDACTED",
        "nested": {"password": "p", "ok": [1, {"Token": "REDACTED"}]},
    }


def test_templates_and_sequences(tmp_path: Path, upstream: Upstream) -> None:
    upstream.count = 0
    recorder = Recorder(tmp_path, upstream=upstream.url(), templates=True, sequence=True)
    with proxy_server(upstream.url(), recorder=recorder) as server:
        for _ in range(4):
            _wire(server.port, "GET", "/counter", b"")
        _wire(server.port, "GET", "/status/201", b"")
        _wire(server.port, "GET", "/echo/users/42/orders/7f9c1e8a-0b3c-4d5e-8f70-112233445566", b"")
    (counter,) = tmp_path.glob("counter.*.yaml")
    route = yaml.safe_load(counter.read_text())["routes"][0]
    bodies = [(s["status"], s["body"], s.get("times", 1)) for s in route["sequence"]]
    assert bodies == [
        (200, '{"count": 1}', 1),
        (200, '{"count": 2}', 1),
        (201, '{"count": 3}', 1),
        (201, '{"count": 4}', 1),
    ]
    (templated,) = tmp_path.glob("echo-users-id-orders-id2.*.yaml")
    match = yaml.safe_load(templated.read_text())["routes"][0]["match"]
    assert match["path"] == "/echo/users/{id}/orders/{id2}"
    app = Mockstatus(scenarios_dir=tmp_path)
    app.store.load_initial()
    with BackgroundServer(app) as replay:
        got = [rawhttp.request(replay.port, "GET", "/counter")[1] for _ in range(5)]
        other = rawhttp.request(replay.port, "GET", "/echo/users/9/orders/1")[1]
    assert [(r.status, r.body) for r in got] == [
        (200, b'{"count": 1}'),
        (200, b'{"count": 2}'),
        (201, b'{"count": 3}'),
        (201, b'{"count": 4}'),
        (201, b'{"count": 4}'),  # repeat-last
    ]
    assert other.status == 200  # the template matches other ids


def test_equal_answers_merge_into_times(tmp_path: Path, upstream: Upstream) -> None:
    recorder = Recorder(tmp_path, upstream=upstream.url(), sequence=True)
    with proxy_server(upstream.url(), recorder=recorder) as server:
        for _ in range(3):
            _wire(server.port, "GET", "/status/503", b"")
    (file,) = tmp_path.glob("status-503.*.yaml")
    steps = yaml.safe_load(file.read_text())["routes"][0]["sequence"]
    assert [(s["status"], s.get("times", 1)) for s in steps] == [(503, 3)]


@pytest.mark.slow
def test_cli_record_then_serve(tmp_path: Path, upstream: Upstream) -> None:
    """The commands as documented: `mockstatus proxy --record DIR`, then `serve --scenarios`."""
    folder = tmp_path / "rec"
    proxy = Cli("--upstream", upstream.url(), "--record", str(folder), "--quiet")
    try:
        port = int(proxy.base.rsplit(":", 1)[1])
        originals = [_wire(port, m, t, b) for m, t, b in SESSION[:4]]
    finally:
        proxy.stop()
    serve = Cli("--scenarios", str(folder), "--quiet", command="serve")
    try:
        port = int(serve.base.rsplit(":", 1)[1])
        assert [_wire(port, m, t, b) for m, t, b in SESSION[:4]] == originals
    finally:
        serve.stop()


def test_verbatim_response_is_literal_and_has_no_defaults(tmp_path: Path) -> None:
    (tmp_path / "v.yaml").write_text(
        "routes:\n"
        "  - match: {path: /v}\n"
        "    respond:\n"
        "      verbatim: true\n"
        "      status: 503\n"
        "      reason: Busy Now\n"
        "      headers: {X-Literal: '{{ path }}', Set-Cookie: [a=1, b=2]}\n"
        "      body: '{{ not a template }}'\n"
        "  - match: {path: /plain}\n"
        "    respond: {status: 503}\n"
    )
    app = Mockstatus(scenarios_dir=tmp_path)
    app.store.load_initial()
    with BackgroundServer(app) as server:
        _, got = rawhttp.request(server.port, "GET", "/v")
        _, plain = rawhttp.request(server.port, "GET", "/plain")
    assert (got.status, got.reason, got.body) == (503, "Busy Now", b"{{ not a template }}")
    names = {n.lower() for n, _ in got.headers}
    assert not names & {
        "cache-control",
        "access-control-allow-origin",
        "vary",
        "etag",
        "retry-after",
    }
    assert [n for n, _ in got.headers][:3] == ["X-Literal", "Set-Cookie", "Set-Cookie"]
    assert got.header("X-Literal") == "{{ path }}"
    assert got.all("Set-Cookie") == ["a=1", "b=2"]
    assert not (got.header("Server") or "").startswith("mockstatus/")  # aiohttp's own default
    # The same code without verbatim carries the per-code defaults.
    assert plain.header("Cache-Control") == "no-store"
    assert plain.header("Access-Control-Allow-Origin") == "*"
