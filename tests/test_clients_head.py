"""HEAD on a scenario route declared `method: GET` answers as GET would, without the content
(RFC 9110 §9.3.2): `curl -I`, requests' `head()` and Node's `fetch(…, {method: 'HEAD'})` used to
get a 404 from every GET-only route, the bundled `/v1/models` and `/flaky/orders` among them."""

from __future__ import annotations

import httpx
import pytest

from tests import rawhttp

SCENARIO = """
name: head-check
routes:
  - name: models
    match: {method: GET, path: /models}
    respond: {status: 200, json: {data: [{id: m1}]}, headers: {X-Route: models}}
  - name: listed
    match: {method: [GET, POST], path: /listed}
    respond: {status: 201, body: "listed\\n"}
  - name: post-only
    match: {method: POST, path: /post-only}
    respond: {status: 200, body: "posted\\n"}
"""


@pytest.fixture
def head_server(make_server):
    return make_server({"head.yaml": SCENARIO})


def test_head_on_a_get_route_has_the_get_head_and_no_body(head_server) -> None:
    port = head_server.port
    _, get = rawhttp.request(port, "GET", "/models")
    with rawhttp.connect(port) as sock:
        # HEAD then GET on one connection: the HEAD's Content-Length must not frame a body
        sock.sendall(rawhttp.build("HEAD", "/models") + rawhttp.build("GET", "/models"))
        reader = rawhttp.Reader(sock)
        _, head = reader.read_response("HEAD")
        _, after = reader.read_response("GET")
    assert (get.status, head.status, after.status) == (200, 200, 200)
    assert head.body == b"" and after.body == get.body == b'{"data": [{"id": "m1"}]}'
    for name in ("Content-Type", "Content-Length", "X-Route", "ETag"):
        assert head.header(name) == get.header(name), name
    assert head.header("Content-Length") == str(len(get.body))


def test_head_on_a_method_list_with_get(head_server) -> None:
    _, head = rawhttp.request(head_server.port, "HEAD", "/listed")
    assert (head.status, head.header("Content-Length"), head.body) == (201, "7", b"")


def test_a_route_without_get_still_does_not_answer_head(head_server) -> None:
    _, head = rawhttp.request(head_server.port, "HEAD", "/post-only")
    _, post = rawhttp.request(head_server.port, "POST", "/post-only", body=b"x")
    assert (head.status, post.status) == (404, 200)


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2c"])
def test_httpx_head_matches_get_over_both_protocols(head_server, http2: bool) -> None:
    with httpx.Client(http1=not http2, http2=http2, base_url=head_server.base_url) as client:
        get = client.get("/models")
        head = client.head("/models")
    assert head.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
    assert (get.status_code, head.status_code, head.content) == (200, 200, b"")
    assert head.headers["content-length"] == str(len(get.content)) == "24"
    assert head.headers["x-route"] == "models"
