"""HEAD on a scenario route declared `method: GET` answers as GET would, without the content
(RFC 9110 §9.3.2): `curl -I`, requests' `head()` and Node's `fetch(…, {method: 'HEAD'})` used to
get a 404 from every GET-only route, the bundled `/v1/models` and `/flaky/orders` among them."""

from __future__ import annotations

import shutil
import subprocess

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


# HEAD of a streamed answer (/sse, /stream/{n}, a scenario `stream`): the GET's length is not known in
# advance, so no content-length at all. HTTP/2 used to say `content-length: 0`, claiming an
# empty GET body (RFC 9110 §8.6), where HTTP/1.1 rightly sent no framing.
STREAMED = [
    ("/sse?count=2&interval=1ms", "text/event-stream"),
    ("/stream/2", "application/json"),
]


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2c"])
@pytest.mark.parametrize(("path", "media"), STREAMED)
def test_head_of_a_stream_has_no_content_length(server, http2: bool, path: str, media: str) -> None:
    with httpx.Client(http1=not http2, http2=http2, base_url=server.base_url) as client:
        get = client.get(path)
        head = client.head(path)
        again = client.get(path)  # the connection is still good after the HEAD
    assert head.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
    assert (get.status_code, head.status_code, again.status_code) == (200, 200, 200)
    assert (
        head.headers["content-type"].split(";")[0]
        == media
        == get.headers["content-type"].split(";")[0]
    )
    assert "content-length" not in head.headers and "content-length" not in get.headers
    assert (
        head.content == b""
        and len(get.content) > 0
        and again.content.count(b"\n") == get.content.count(b"\n")
    )


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_head_of_sse_over_h2c_has_no_content_length(server) -> None:
    curl = shutil.which("curl")
    assert curl is not None
    out = subprocess.run(
        [
            curl,
            "-sI",
            "--http2-prior-knowledge",
            "--max-time",
            "10",
            server.url("/sse?count=2&interval=1ms"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if "HTTP/2" not in out.stdout.partition("\n")[0]:
        pytest.skip("curl without HTTP/2")
    lines = out.stdout.lower().splitlines()
    assert out.returncode == 0 and lines[0].strip() == "http/2 200"
    assert "content-type: text/event-stream" in [line.split(";")[0].strip() for line in lines]
    assert not [line for line in lines if line.startswith("content-length")]
