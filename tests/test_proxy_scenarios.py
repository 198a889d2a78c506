"""Route behaviours in front of real traffic (issue 14): `respond: {proxy: ...}` behind
rate_limit, outage, chaos, latency and sequence steps; the allow-list and the located errors of
bad proxy settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mockstatus.errors import ScenarioError
from mockstatus.proxy import POLICY, UpstreamPolicy
from mockstatus.scenarios.loader import load_text
from tests import rawhttp
from tests.proxyhelp import Upstream, body_json, header_of, proxy_server


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    up = Upstream().start()
    yield up
    up.stop()


def _folder(tmp_path: Path, text: str) -> Path:
    (tmp_path / "front.yaml").write_text(text)
    return tmp_path


def _advance(base: str, seconds: float) -> None:
    r = requests.post(f"{base}/__mockstatus/clock/advance?seconds={seconds}", timeout=5)
    assert r.status_code == 200, r.text


def test_rate_limit_in_front_of_the_upstream(tmp_path: Path, upstream: Upstream) -> None:
    folder = _folder(
        tmp_path,
        "routes:\n"
        "  - match: {path: /api/**}\n"
        "    rate_limit: {limit: 2, window: 1s}\n"
        f"    respond: {{proxy: {{to: '{upstream.url()}', strip_prefix: /api}}}}\n",
    )
    with proxy_server(upstream.url(), scenarios=folder) as server:
        before = len(upstream.seen)
        first = requests.get(server.url("/api/status/200"), timeout=5)
        second = requests.get(server.url("/api/status/201"), timeout=5)
        third = requests.get(server.url("/api/status/202"), timeout=5)
        assert [first.status_code, second.status_code, third.status_code] == [200, 201, 429]
        assert first.text == "upstream says 200\n"  # /api stripped on the way
        # The limiter's fields ride on the upstream's answer too.
        assert first.headers["RateLimit-Policy"] == '"default";q=2;w=1'
        assert first.headers["RateLimit"] == '"default";r=1;t=1'
        assert first.headers["X-Up-Code"] == "200"
        assert third.headers["Retry-After"] == "1"
        assert len(upstream.seen) == before + 2  # the rejected call never went out
        assert [s["path_qs"] for s in upstream.seen[-2:]] == ["/status/200", "/status/201"]
        _advance(server.base_url, 1)
        assert requests.get(server.url("/api/status/203"), timeout=5).status_code == 203
        entries = requests.get(server.url("/__mockstatus/requests"), timeout=5).json()["requests"]
        statuses = [(e["status"], (e["upstream"] or {}).get("status")) for e in entries[-4:]]
        assert statuses == [(200, 200), (201, 201), (429, None), (203, 203)]


def test_outage_then_the_real_thing(tmp_path: Path, upstream: Upstream) -> None:
    folder = _folder(
        tmp_path,
        "routes:\n"
        "  - match: {path: /status/**}\n"
        "    outage: {start: 0s, duration: 30s}\n"
        f"    respond: {{proxy: {{to: '{upstream.url()}'}}}}\n",
    )
    with proxy_server(upstream.url(), scenarios=folder) as server:
        down = requests.get(server.url("/status/200"), timeout=5)
        assert (down.status_code, down.headers["Retry-After"]) == (503, "30")
        _advance(server.base_url, 30)
        up = requests.get(server.url("/status/200"), timeout=5)
        assert (up.status_code, up.text) == (200, "upstream says 200\n")


def test_sequence_mixes_canned_and_proxied_steps(tmp_path: Path, upstream: Upstream) -> None:
    folder = _folder(
        tmp_path,
        "routes:\n"
        "  - match: {path: /orders}\n"
        "    sequence:\n"
        "      - {status: 503, times: 2}\n"
        f"      - proxy: {{to: '{upstream.url()}', headers: {{X-Api-Key: k1}}}}\n",
    )
    with proxy_server(upstream.url(), scenarios=folder) as server:
        codes = [requests.get(server.url("/orders"), timeout=5).status_code for _ in range(4)]
        assert codes == [503, 503, 200, 200]
        head = body_json(requests.get(server.url("/orders"), timeout=5).content)
        assert header_of(head, "X-Api-Key") == ["k1"]  # `headers` added upstream


def test_chaos_fault_instead_of_forwarding(tmp_path: Path, upstream: Upstream) -> None:
    folder = _folder(
        tmp_path,
        "routes:\n"
        "  - match: {path: /flaky}\n"
        "    chaos: {probability: 1, fault: reset}\n"
        f"    respond: {{proxy: {{to: '{upstream.url()}'}}}}\n",
    )
    with proxy_server(upstream.url(), scenarios=folder) as server:
        before = len(upstream.seen)
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url("/flaky"), timeout=5)
        assert len(upstream.seen) == before


def test_latency_then_forward(tmp_path: Path, upstream: Upstream) -> None:
    folder = _folder(
        tmp_path,
        "routes:\n"
        "  - match: {path: /slowish}\n"
        "    latency: 5ms\n"
        f"    respond: {{delay: 5ms, proxy: {{to: '{upstream.url()}', forwarded: rfc7239,"
        " preserve_host: true}}\n",
    )
    with proxy_server(upstream.url(), scenarios=folder) as server:
        _, final = rawhttp.request(server.port, "GET", "/slowish", {"Host": "front.test"})
        head = body_json(final.body)
        assert header_of(head, "Host") == ["front.test"]
        assert header_of(head, "Forwarded") == ["for=127.0.0.1;host=front.test;proto=http"]
        assert header_of(head, "X-Forwarded-For") == []


def test_serve_mode_proxies_only_matched_routes(tmp_path: Path, upstream: Upstream) -> None:
    folder = _folder(
        tmp_path,
        "routes:\n"
        "  - match: {path: /real/**}\n"
        f"    respond: {{proxy: {{to: '{upstream.url()}', strip_prefix: /real}}}}\n",
    )
    with proxy_server(None, scenarios=folder, allow=(("127.0.0.1", upstream.port),)) as server:
        proxied = requests.get(server.url("/real/status/404"), timeout=5)
        assert (proxied.status_code, proxied.text) == (404, "upstream says 404\n")
        own = requests.get(server.url("/status/404"), timeout=5)
        assert own.status_code == 404 and own.text != "upstream says 404\n"
        assert own.headers["Server"].startswith("mockstatus/")  # the built-in answered


def test_upload_to_an_unlisted_upstream_is_refused(upstream: Upstream) -> None:
    with proxy_server(upstream.url()) as server:
        text = "routes:\n  - respond: {proxy: {to: 'http://169.254.169.254/'}}\n"
        r = requests.put(server.url("/__mockstatus/scenarios/evil"), data=text, timeout=5)
        assert r.status_code == 400
        assert "upstream 'http://169.254.169.254/' is not allowed" in r.text
        ok = f"routes:\n  - respond: {{proxy: {{to: '{upstream.url()}'}}}}\n"
        assert requests.put(server.url("/__mockstatus/scenarios/ok"), data=ok, timeout=5).ok


# --- located load errors ------------------------------------------------------------------------


@pytest.fixture
def allow_local() -> Iterator[None]:
    token = POLICY.set(UpstreamPolicy((("127.0.0.1", 9000),)))
    yield
    POLICY.reset(token)


@pytest.mark.parametrize(
    ("respond", "column", "message"),
    [
        ("{proxy: {to: 'ftp://127.0.0.1:9000'}}", 27, "must use http or https, not scheme 'ftp'"),
        ("{proxy: {to: 'http://127.0.0.1:99999'}}", 27, "is malformed"),
        ("{proxy: {to: 'http://other:9000'}}", 27, "is not allowed (allowed: 127.0.0.1:9000)"),
        ("{proxy: {to: 'http://127.0.0.1:9001'}}", 27, "--allow-upstream 127.0.0.1:9001"),
        ("{proxy: {}}", 22, "'proxy' needs 'to'"),
        ("{proxy: {to: 'http://127.0.0.1:9000', forwarded: xff}}", 63, "must be one of none"),
        ("{proxy: {to: 'http://127.0.0.1:9000', verify: nope.pem}}", 60, "is not a file"),
        ("{proxy: {to: 'http://127.0.0.1:9000', timeout: 0s}}", 61, "timeout"),
        ("{proxy: {to: 'http://127.0.0.1:9000', headers: {Host: x}}}", 62, "set by the proxy"),
        ("{proxy: {to: 'http://127.0.0.1:9000'}, status: 503}", 53, "cannot be used with 'proxy'"),
        ("{proxy: {to: 'http://127.0.0.1:9000', colour: red}}", 52, "unknown key 'colour'"),
        ("{verbatim: false, status: 200}", 25, "'verbatim' must be true"),
        ("{verbatim: true, json: {a: 1}}", 31, "cannot be used with 'verbatim'"),
    ],
)
def test_bad_proxy_settings_are_located(
    allow_local: None, tmp_path: Path, respond: str, column: int, message: str
) -> None:
    text = f"routes:\n  - match: {{path: /x}}\n    respond: {respond}\n"
    with pytest.raises(ScenarioError) as info:
        load_text(text, "front.yaml", tmp_path, "front")
    problems = info.value.problems
    assert any(message in p.message for p in problems), [str(p) for p in problems]
    hit = next(p for p in problems if message in p.message)
    assert (hit.file, hit.line) == ("front.yaml", 3)
    assert hit.column == column, str(hit)


def test_no_policy_means_no_upstream(tmp_path: Path) -> None:
    token = POLICY.set(UpstreamPolicy())
    try:
        with pytest.raises(ScenarioError, match="none is allowed"):
            load_text(
                "routes:\n  - respond: {proxy: {to: 'http://127.0.0.1:9000'}}\n",
                "f.yaml",
                tmp_path,
                "f",
            )
    finally:
        POLICY.reset(token)


def test_expect_with_a_canned_answer_closes_without_100(tmp_path: Path, upstream: Upstream) -> None:
    folder = _folder(
        tmp_path,
        "routes:\n"
        "  - match: {path: /up}\n"
        "    outage: {start: 0s, duration: 1h}\n"
        f"    respond: {{proxy: {{to: '{upstream.url()}'}}}}\n",
    )
    with proxy_server(upstream.url(), scenarios=folder) as server:
        with rawhttp.connect(server.port) as sock:
            sock.sendall(
                rawhttp.build("POST", "/up", {"Expect": "100-continue", "Content-Length": "10"})
            )
            reader = rawhttp.Reader(sock)
            interims, final = reader.read_response()
            assert interims == []  # no 100: the body is not wanted
            assert final.status == 503
            assert final.header("Connection") == "close"


def test_body_matcher_reads_the_body_and_forwards_it(tmp_path: Path, upstream: Upstream) -> None:
    folder = _folder(
        tmp_path,
        "routes:\n"
        "  - match: {path: /pay, body: {json: {currency: EUR}}}\n"
        f"    respond: {{proxy: {{to: '{upstream.url()}'}}}}\n"
        "  - match: {path: /pay}\n"
        "    respond: {status: 422}\n",
    )
    with proxy_server(upstream.url(), scenarios=folder) as server:
        eur = requests.post(server.url("/pay"), json={"currency": "EUR"}, timeout=5)
        usd = requests.post(server.url("/pay"), json={"currency": "USD"}, timeout=5)
    assert (eur.status_code, usd.status_code) == (200, 422)
    head = body_json(eur.content)
    assert head["size"] == len(b'{"currency": "EUR"}')
    assert header_of(head, "Content-Length") == [str(head["size"])]


def test_http10_client_gets_a_close_delimited_body(upstream: Upstream) -> None:
    with proxy_server(upstream.url()) as server:
        _, final = rawhttp.request(server.port, "GET", "/big?n=100000", version="HTTP/1.0")
    assert final.status == 200
    assert final.header("Transfer-Encoding") is None  # HTTP/1.0 has no chunked coding
    assert len(final.body) == 100_000
