"""`/status/{code}`, echo, redirects and the index, as seen on the wire and by real clients."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import pytest
import requests

from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def test_503_on_the_wire(server):
    _, r = rawhttp.request(server.port, "GET", "/status/503")
    assert (r.version, r.status, r.reason) == ("HTTP/1.1", 503, "Service Unavailable")
    assert r.header("Retry-After") == "120"
    assert r.header("Cache-Control") == "no-store"
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    assert r.header("Date") and r.header("Server").startswith("mockstatus/")
    assert r.header("Access-Control-Allow-Origin") == "*"
    assert r.body == b"503 Service Unavailable"
    assert int(r.header("Content-Length")) == len(r.body)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (413, "Content Too Large"),
        (422, "Unprocessable Content"),
        (418, "I'm a teapot"),
        (306, "(Unused)"),
        (599, "Server Error"),
    ],
)
def test_reason_phrases_on_the_wire(server, code, reason):
    _, r = rawhttp.request(server.port, "GET", f"/status/{code}")
    assert (r.status, r.reason) == (code, reason)


@pytest.mark.parametrize("code", [204, 304])
def test_bodiless_codes_have_no_framing(server, code):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", f"/status/{code}") + rawhttp.build("GET", "/status/200"))
        reader = rawhttp.Reader(sock)
        _, first = reader.read_response()
        names = {n.lower() for n, _ in first.headers}
        assert not names & {"content-length", "content-type", "transfer-encoding"}
        _, second = reader.read_response()  # keep-alive intact: the next response parses cleanly
        assert second.status == 200 and second.body == b"200 OK"


def test_205_has_content_length_zero(server):
    _, r = rawhttp.request(server.port, "GET", "/status/205")
    assert r.header("Content-Length") == "0" and r.body == b""
    assert r.header("Content-Type") is None


def test_head_gets_the_get_headers_and_no_body(server):
    _, get = rawhttp.request(server.port, "GET", "/status/503")
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("HEAD", "/status/503") + rawhttp.build("GET", "/status/200"))
        reader = rawhttp.Reader(sock)
        _, head = reader.read_response("HEAD")
        _, after = reader.read_response()
    strip = {"date"}
    assert [(n, v) for n, v in head.headers if n.lower() not in strip] == [
        (n, v) for n, v in get.headers if n.lower() not in strip
    ]
    assert head.header("Content-Length") == str(len(get.body))
    assert after.body == b"200 OK"  # no stray body bytes were sent after the HEAD


def test_negotiated_bodies(server):
    r = requests.get(server.url("/status/404"), headers={"Accept": "application/json"})
    assert r.status_code == 404
    assert r.json() == {"code": 404, "reason": "Not Found", "description": r.json()["description"]}
    assert r.headers["Vary"] == "Accept"
    r = requests.get(server.url("/status/404?format=html"))
    assert (
        r.headers["Content-Type"] == "text/html; charset=utf-8"
        and "<h1>404 Not Found</h1>" in r.text
    )


@pytest.mark.parametrize(
    "target", ["/status/600", "/status/99", "/status/abc", "/status/", "/status"]
)
def test_invalid_codes_are_400_naming_the_range(server, target):
    r = httpx.get(server.url(target))
    assert r.status_code == 400
    assert "100 to 599" in r.text


@pytest.mark.parametrize(
    "query",
    [
        "sleep=-5",
        "sleep=999999999",
        "format=xml",
        "header=X-A:1%0d%0aX-B:2",
        "header=Bad%20Name:1",
        "reason=a%0ab",
        "location=%2Fx%0d%0aSet-Cookie:a",
        "retry_after=later",
    ],
)
def test_invalid_queries_are_400_never_written(server, query):
    r = httpx.get(server.url(f"/status/200?{query}"), headers={"Accept": "application/json"})
    assert r.status_code == 400
    doc = r.json()
    assert doc["param"] in query and doc["error"]
    assert "X-B" not in r.headers and "Set-Cookie" not in r.headers


def test_query_overrides(server):
    r = httpx.get(
        server.url(
            "/status/503?retry_after=7&header=X-Trace:abc&header=X-Other:%20two&reason=Down%20For%20Lunch"
        )
    )
    assert r.status_code == 503 and r.reason_phrase == "Down For Lunch"
    assert r.headers["Retry-After"] == "7"
    assert r.headers["X-Trace"] == "abc" and r.headers["X-Other"] == "two"


def test_401_bearer_scheme(server):
    r = httpx.get(server.url("/status/401?scheme=Bearer"))
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="mockstatus"'  # RFC 6750 §3.1
    r = httpx.get(server.url("/status/401?scheme=Bearer"), headers={"Authorization": "Bearer t0k"})
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="mockstatus", error="invalid_token"'


def test_405_allow_excludes_the_method(server):
    r = httpx.post(server.url("/status/405"))
    allow = [m.strip() for m in r.headers["Allow"].split(",")]
    assert "POST" not in allow and "GET" in allow


def test_429_headers_on_the_wire(server):
    r = httpx.get(server.url("/status/429"))
    assert r.headers["Retry-After"] == "60" and r.headers["Cache-Control"] == "no-store"
    assert r.headers["RateLimit"] and r.headers["RateLimit-Policy"]
    assert r.headers["X-RateLimit-Remaining"] == "0"


def test_408_closes_the_connection(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/408"))
        reader = rawhttp.Reader(sock)
        _, r = reader.read_response()
        assert r.header("Connection") == "close"
        assert reader.read_to_close() == b""  # the server closed its side


def test_weighted_pick_with_seed_is_repeatable(server):
    codes = {httpx.get(server.url("/status/200,500,503?seed=3")).status_code for _ in range(5)}
    assert len(codes) == 1
    seen = {httpx.get(server.url("/status/200,503")).status_code for _ in range(40)}
    assert seen == {200, 503}  # rng seeded in the fixture: deterministic


def test_following_a_307_resends_post_and_body(server):
    r = requests.post(
        server.url("/status/307"), data=b"payload", headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 200 and r.history[0].status_code == 307
    echo = r.json()
    assert echo["method"] == "POST" and echo["body"] == "payload"


def test_following_a_303_switches_to_get(server):
    r = requests.post(server.url("/status/303"), data=b"payload")
    assert r.json()["method"] == "GET"


def test_redirect_chain_ends_in_200(server):
    r = requests.get(server.url("/redirect/3"))
    assert r.status_code == 200 and len(r.history) == 3
    assert [h.status_code for h in r.history] == [302, 302, 302]


def test_echo_reports_the_request(server):
    r = httpx.post(
        server.url("/anything/a/b?x=1&x=2&y=z&status=201"),
        json={"k": [1, 2]},
        headers={"X-Custom": "v"},
    )
    assert r.status_code == 201
    doc = r.json()
    assert doc["method"] == "POST" and doc["path"] == "/anything/a/b"
    assert doc["args"] == {"x": ["1", "2"], "y": "z", "status": "201"}
    assert doc["headers"]["X-Custom"] == "v"
    assert doc["json"] == {"k": [1, 2]}
    assert doc["http_version"] == "HTTP/1.1" and doc["client"] == "127.0.0.1"


def test_echo_form_and_binary(server):
    r = httpx.post(server.url("/anything"), data={"a": "1", "b": "2"})
    assert r.json()["form"] == {"a": "1", "b": "2"}
    r = httpx.put(server.url("/anything"), content=b"\xff\xfe\x00")
    assert r.json()["body_encoding"] == "base64" and r.json()["body"] == "//4A"


def test_index_html_and_json(server):
    r = httpx.get(server.url("/"))
    assert r.status_code == 200 and 'href="/status/418"' in r.text
    doc = httpx.get(server.url("/"), headers={"Accept": "application/json"}).json()
    assert any(c["code"] == 451 for c in doc["codes"])


def test_health(server):
    r = httpx.get(server.url("/__mockstatus/health"))
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_cors_preflight(server):
    r = httpx.options(
        server.url("/status/200"),
        headers={
            "Origin": "http://example.test",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "X-Custom",
        },
    )
    assert r.status_code == 204
    assert "PUT" in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Allow-Headers"] == "X-Custom"
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_unknown_path_is_404(server):
    assert httpx.get(server.url("/nope")).status_code == 404


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_sees_503_and_retry_after(server):
    out = subprocess.run(
        ["curl", "-si", "--max-time", "5", server.url("/status/503")],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert out.startswith("HTTP/1.1 503 Service Unavailable")
    assert "Retry-After: 120" in out


async def test_aiohttp_client_gets_json(server):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(
            server.url("/status/418"), headers={"Accept": "application/json"}
        ) as r:
            assert r.status == 418 and r.reason == "I'm a teapot"
            assert json.loads(await r.text())["code"] == 418


@pytest.mark.parametrize(
    ("code", "header", "expected"),
    [
        (226, "IM", "feed"),
        (305, "Location", "http://proxy.invalid:3128/"),
        (415, "Accept-Patch", "application/json, text/plain"),
        (416, "Content-Range", "bytes */1024"),
        (451, "Link", '</anything/legal-authority>; rel="blocked-by"'),
        (407, "Proxy-Authenticate", 'Basic realm="mockstatus", charset="UTF-8"'),
        (426, "Connection", "Upgrade"),
    ],
)
def test_per_code_headers_on_the_wire(server, code, header, expected):
    r = httpx.get(server.url(f"/status/{code}"))
    assert r.status_code == code and r.headers[header] == expected


def test_created_and_accepted_point_at_urls_this_server_answers(server):
    with httpx.Client(base_url=server.url("")) as client:
        created = client.post("/status/201")
        assert client.get(created.headers["Location"]).status_code == 200
        accepted = client.post("/status/202")
        job = accepted.json()
        assert job["status"] == "queued" and accepted.headers["Location"].endswith(job["job"])
        assert client.get(accepted.headers["Location"]).status_code == 200


def test_multiple_choices_lists_alternates(server):
    r = httpx.get(server.url("/status/300"))
    links = r.headers.get_list("Link")
    assert len(links) == 2 and all(link.endswith('rel="alternate"') for link in links)
    assert r.headers["Location"] in links[0]


@pytest.mark.parametrize("code", [207, 208])
def test_webdav_multistatus_body(server, code):
    r = httpx.get(server.url(f"/status/{code}"))
    assert r.headers["Content-Type"].startswith("application/xml")
    assert "<D:multistatus" in r.text and "HTTP/1.1 404 Not Found" in r.text


def test_406_428_and_511_bodies(server):
    json_accept = {"Accept": "application/json"}
    assert (
        "application/json"
        in httpx.get(server.url("/status/406"), headers=json_accept).json()["available"]
    )
    assert (
        httpx.get(server.url("/status/428"), headers=json_accept).json()["required"] == "If-Match"
    )
    r = httpx.get(server.url("/status/511"))
    assert r.headers["Content-Type"].startswith("text/html") and 'href="/anything/login"' in r.text


def test_413_closes_the_connection_without_reading_the_body(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("POST", "/status/413", body=b"x" * 10))
        reader = rawhttp.Reader(sock)
        _, r = reader.read_response()
        assert r.status == 413 and r.header("Connection") == "close"
        assert reader.read_to_close() == b""


def test_304_carries_the_200_validators_on_the_wire(server):
    ok, not_modified = httpx.get(server.url("/status/200")), httpx.get(server.url("/status/304"))
    assert not_modified.status_code == 304 and not_modified.content == b""
    for name in ("ETag", "Cache-Control"):
        assert not_modified.headers[name] == ok.headers[name]
    assert not_modified.headers["Vary"] == "Accept"
