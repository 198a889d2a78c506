"""Issue 10 item 12, the admin API's part: with a token, reads need it too (except health,
catalog, clock and metrics); web pages of other sites cannot mutate (Origin, Sec-Fetch-Site);
no admin response carries CORS; a loopback-only server refuses non-loopback Host names (DNS
rebinding). Checked on the wire with raw requests, where the exact headers matter."""

from __future__ import annotations

import json

import httpx
import pytest

from tests import rawhttp

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def call(server, method: str, target: str, headers: dict[str, str] | None = None):
    hdrs = {"Host": f"127.0.0.1:{server.port}", **(headers or {})}
    if method in ("POST", "PUT", "DELETE"):
        hdrs.setdefault("Content-Length", "0")
    _, resp = rawhttp.request(server.port, method, "/__mockstatus" + target, hdrs)
    return resp


def error(resp, status: int) -> str:
    assert resp.status == status, resp.body[:300]
    doc = json.loads(resp.body)
    assert doc["code"] == status
    return doc["error"]


# --- the token guards reads too ----------------------------------------------------------------

PROTECTED_READS = [
    "/scenarios",
    "/scenarios/any",
    "/requests",
    "/requests/wait?timeout=0",
]
OPEN_READS = ["/health", "/catalog", "/catalog/503", "/clock", "/metrics"]


@pytest.mark.parametrize("target", PROTECTED_READS)
def test_with_a_token_journal_and_scenario_reads_need_it(make_server, target):
    server = make_server(admin_token=TOKEN)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        for method in ("GET", "HEAD"):
            resp = call(server, method, target, headers)
            assert resp.status == 401, (method, headers)
            # RFC 6750 §3.1: an error code only when Bearer credentials were presented
            challenge = 'Bearer realm="mockstatus-admin"'
            if headers.get("Authorization", "").startswith("Bearer "):
                challenge += ', error="invalid_token"'
            assert resp.header("WWW-Authenticate") == challenge
    assert call(server, "GET", target, AUTH).status in (200, 404, 408)


@pytest.mark.parametrize("target", OPEN_READS)
def test_with_a_token_health_catalog_clock_and_metrics_stay_open(make_server, target):
    server = make_server(admin_token=TOKEN)
    assert call(server, "GET", target).status == 200


def test_without_a_token_reads_stay_open(server):
    for target in PROTECTED_READS[:1] + PROTECTED_READS[2:]:
        assert call(server, "GET", target).status in (200, 408)


# --- cross-site mutations ----------------------------------------------------------------------

MUTATIONS = [
    ("POST", "/reset"),
    ("POST", "/reload"),
    ("POST", "/clock/advance?seconds=1"),
    ("DELETE", "/requests"),
    ("DELETE", "/scenarios/x"),
    ("PUT", "/scenarios/x"),
    ("POST", "/purge?owner=o"),
]


@pytest.mark.parametrize(("method", "target"), MUTATIONS)
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://127.0.0.1"},
    ],
    ids=["other-site", "null", "lookalike", "fetch-metadata", "metadata-wins"],
)
def test_mutations_from_another_site_are_refused(make_server, method, target, headers):
    server = make_server(clock_controllable=True)
    message = error(call(server, method, target, headers), 403)
    assert "cross-site admin mutations are refused" in message


def test_a_cross_site_refusal_holds_with_a_token(make_server):
    server = make_server(admin_token=TOKEN)
    resp = call(server, "POST", "/reset", {**AUTH, "Origin": "https://evil.example"})
    assert "Origin: https://evil.example" in error(resp, 403)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://127.0.0.1:{port}"},
        {"Origin": "http://localhost:3000"},  # another local app: loopback is one site
        {"Origin": "http://[::1]:3000"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "none"},  # typed in the address bar
    ],
    ids=["no-origin", "same-origin", "localhost", "ipv6-loopback", "same-origin-meta",
         "same-site-meta", "user-initiated"],
)  # fmt: skip
def test_mutations_from_the_same_site_or_no_browser_pass(make_server, headers):
    server = make_server()
    headers = {k: v.format(port=server.port) for k, v in headers.items()}
    assert call(server, "POST", "/reset", headers).status == 200


def test_an_origin_naming_the_host_the_client_addressed_passes(make_server):
    server = make_server()
    resp = call(
        server, "POST", "/reset", {"Host": "mock.internal:8080", "Origin": "http://mock.internal"}
    )
    assert resp.status == 200


def test_cross_site_reads_are_not_refused_but_carry_no_cors(server):
    # A page can send a read, but without Access-Control-Allow-Origin it cannot see the answer.
    resp = call(server, "GET", "/requests", {"Origin": "https://evil.example"})
    assert resp.status == 200
    assert not any(n.lower().startswith("access-control-") for n, _ in resp.headers)


@pytest.mark.parametrize(
    ("method", "target"),
    [("GET", "/health"), ("GET", "/catalog/200"), ("GET", "/nope"), ("POST", "/health"),
     ("OPTIONS", "/reset"), ("POST", "/reset")],
)  # fmt: skip
def test_no_admin_response_carries_cors_headers(server, method, target):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    resp = call(server, method, target, headers)
    assert resp.status != 200 or method == "GET"
    assert resp.header("Access-Control-Allow-Origin") is None
    assert not any(n.lower().startswith("access-control-") for n, _ in resp.headers)
    # The status endpoints keep their CORS: this is the admin API's rule only.
    _, plain = rawhttp.request(server.port, "GET", "/status/200")
    assert plain.header("Access-Control-Allow-Origin") == "*"


# --- DNS rebinding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:8080", "127.0.0.1", "127.0.0.1:8080", "127.1.2.3:9", "[::1]",
     "[::1]:8080", "LOCALHOST:1"],
)  # fmt: skip
def test_loopback_only_accepts_loopback_host_names(make_server, host):
    server = make_server(loopback_only=True)
    assert call(server, "GET", "/health", {"Host": host}).status == 200
    assert call(server, "POST", "/reset", {"Host": host}).status == 200


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8080", "localhost.evil.example", "10.0.0.1:8080",
     "[::2]", ""],
)  # fmt: skip
def test_loopback_only_refuses_other_host_names(make_server, host):
    server = make_server(loopback_only=True)
    for method, target in (("GET", "/health"), ("GET", "/requests"), ("POST", "/reset")):
        message = error(call(server, method, target, {"Host": host}), 403)
        assert "DNS rebinding" in message
    # The status endpoints answer any Host: only the admin API is guarded.
    _, resp = rawhttp.request(server.port, "GET", "/status/204", {"Host": host or "x"})
    assert resp.status == 204


@pytest.mark.parametrize("host", ["127.0.0.1@evil.example", "local host"])
def test_a_host_that_is_not_host_port_is_a_400_before_the_admin_guard(make_server, host):
    # RFC 9112 §3.2: not `uri-host [":" port]` at all, so a 400 for every path, admin or not.
    server = make_server(loopback_only=True)
    for method, target in (("GET", "/health"), ("POST", "/reset")):
        resp = call(server, method, target, {"Host": host})
        assert resp.status == 400
        assert (
            resp.body
            == (
                "400 Bad Request: the Host field is not a valid host[:port] (RFC 9112 §3.2)\n"
            ).encode()
        )
    _, resp = rawhttp.request(server.port, "GET", "/status/204", {"Host": host})
    assert resp.status == 400


def test_without_loopback_only_any_host_reaches_the_admin_api(server):
    assert call(server, "GET", "/health", {"Host": "mockstatus:8080"}).status == 200


def test_real_clients_pass_every_check(make_server):
    server = make_server(admin_token=TOKEN, loopback_only=True)
    with httpx.Client(headers=AUTH) as client:
        assert client.post(server.url("/__mockstatus/reset")).status_code == 200
        assert client.get(server.url("/__mockstatus/requests")).status_code == 200
    local = f"http://localhost:{server.port}/__mockstatus/requests"
    assert httpx.get(local, headers=AUTH).status_code == 200
