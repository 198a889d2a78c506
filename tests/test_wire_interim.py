"""1xx interim responses on the wire (100, 102, 103), the interim switch, and what real clients do.

Raw-socket tests show the exact bytes; the client tests back the compatibility table in
the README client-compatibility table (each row names the test that proves it).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from urllib.parse import urlencode

import httpx
import pytest
import requests

from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

HINT = "</style.css>; rel=preload; as=style"
QUIET = 0.2  # seconds a socket waits to show that nothing was sent


def status_line(resp: rawhttp.RawResponse) -> bytes:
    return resp.head.split(b"\r\n", 1)[0]


def nothing_arrives(sock: socket.socket, reader: rawhttp.Reader) -> bool:
    """True if the server sends nothing within QUIET seconds (a socket timeout, not a sleep)."""
    if reader.buf:
        return False
    sock.settimeout(QUIET)
    try:
        data = sock.recv(65536)
    except TimeoutError:
        return True
    finally:
        sock.settimeout(rawhttp.TIMEOUT)
    reader.buf += data
    return False


def closed_without_answer(reader: rawhttp.Reader) -> bool:
    """True if the server closes the connection (FIN or RST) without sending anything more."""
    try:
        return reader.read_to_close() == b""
    except ConnectionResetError:
        return reader.buf == b""


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send `data`, read until the server has answered one response and gone quiet."""
    with rawhttp.connect(port) as sock:
        sock.sendall(data)
        reader = rawhttp.Reader(sock)
        interims, final = reader.read_response()
        return b"".join(r.head + b"\r\n\r\n" for r in [*interims, final]) + final.body


# --- exact bytes, order ----------------------------------------------------------------------


def test_103_exact_bytes_and_final_repeats_the_link(server):
    raw = raw_exchange(server.port, rawhttp.build("GET", "/status/103"))
    expected_interim = f"HTTP/1.1 103 Early Hints\r\nLink: {HINT}\r\n\r\n".encode()
    assert raw.startswith(expected_interim)
    final = raw[len(expected_interim) :]
    assert final.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f"\r\nLink: {HINT}\r\n".encode() in final  # RFC 8297: the final repeats the hint
    assert final.endswith(b"\r\n\r\n200 OK")


def test_interims_in_the_order_asked_then_the_final(server):
    raw = raw_exchange(server.port, rawhttp.build("GET", "/status/200?interim=103,102,100"))
    assert raw.startswith(
        f"HTTP/1.1 103 Early Hints\r\nLink: {HINT}\r\n\r\n".encode()
        + b"HTTP/1.1 102 Processing\r\n\r\n"
        + b"HTTP/1.1 100 Continue\r\n\r\n"
        + b"HTTP/1.1 200 OK\r\n"
    )


@pytest.mark.parametrize(
    ("code", "line"),
    [(100, b"HTTP/1.1 100 Continue"), (102, b"HTTP/1.1 102 Processing")],
)
def test_status_1xx_sends_the_interim_alone_then_200(server, code, line):
    interims, final = rawhttp.request(server.port, "GET", f"/status/{code}")
    assert [status_line(i) for i in interims] == [line]
    assert interims[0].headers == []  # a bare interim: no framing, no Date, nothing
    assert (final.status, final.body) == (200, b"200 OK")


def test_unassigned_1xx_is_sent_as_an_interim(server):
    # RFC 9110 §15.2: a client must parse 1xx responses it does not expect.
    interims, final = rawhttp.request(server.port, "GET", "/status/150")
    assert [status_line(i) for i in interims] == [b"HTTP/1.1 150 Informational"]
    assert final.status == 200
    assert httpx.get(server.url("/status/150")).status_code == 200


def test_status_1xx_final_code(server):
    interims, final = rawhttp.request(server.port, "GET", "/status/103?final=404")
    assert [i.status for i in interims] == [103]
    assert final.status == 404 and final.all("Link") == [HINT]


def test_interim_query_replaces_the_paths_own_interim(server):
    interims, final = rawhttp.request(server.port, "GET", "/status/102?interim=103")
    assert [i.status for i in interims] == [103]
    assert final.status == 200 and final.all("Link") == [HINT]


def test_several_links_in_the_103_and_the_final(server):
    links = ["</a.js>; rel=preload; as=script", '</b.css>; rel="preload"; as=style']
    target = "/status/103?" + urlencode([("link", v) for v in links])
    interims, final = rawhttp.request(server.port, "GET", target)
    (hint,) = interims
    assert hint.all("Link") == links
    assert final.all("Link") == links


def test_non_ascii_link_is_sent_identically_in_both(server):
    interims, final = rawhttp.request(server.port, "GET", "/status/103?link=%3C/%C3%A9.css%3E")
    assert interims[0].head.decode("utf-8").endswith("Link: </é.css>")
    assert final.status == 200 and "Link: </é.css>" in final.head.decode("utf-8")


@pytest.mark.parametrize(
    "target", ["/anything?interim=103", "/redirect/1?interim=103", "/conditional?interim=103"]
)
def test_interims_on_any_path(server, target):
    interims, final = rawhttp.request(server.port, "GET", target)
    assert [i.status for i in interims] == [103]
    assert final.status in (200, 302) and HINT in final.all("Link")


def test_interval_is_only_an_interim_parameter_where_102_repeats(server):
    # /anything echoes any query: `interval` there is not validated unless a 102 would repeat.
    _, final = rawhttp.request(server.port, "GET", "/anything?interval=soon")
    assert final.status == 200 and json.loads(final.body)["args"] == {"interval": "soon"}


@pytest.mark.parametrize(
    "query",
    ["interim=104", "interim=101", "interim=", "interim=103,abc", "interim_mode=sometimes"],
)
def test_invalid_interim_queries_are_400(server, query):
    interims, final = rawhttp.request(
        server.port, "GET", f"/status/200?{query}", {"Accept": "application/json"}
    )
    assert interims == [] and final.status == 400
    assert json.loads(final.body)["param"] in query


# --- 100 Continue ------------------------------------------------------------------------------


def expect_request(target: str, body: bytes, version: str = "HTTP/1.1") -> bytes:
    return rawhttp.build(
        "POST",
        target,
        {"Content-Length": str(len(body)), "Expect": "100-continue", "Content-Type": "text/plain"},
        version=version,
    )


def test_100_continue_arrives_before_the_body_is_sent(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(expect_request("/anything", b"hello"))  # headers only
        reader = rawhttp.Reader(sock)
        cont = reader.read_head()
        assert cont.head == b"HTTP/1.1 100 Continue"
        assert nothing_arrives(sock, reader)  # no final response before the body
        sock.sendall(b"hello")
        interims, final = reader.read_response()
    assert interims == []  # exactly one 100, not repeated before the final
    assert final.status == 200 and json.loads(final.body)["body"] == "hello"


def test_expect_on_a_status_path_reads_the_body_then_answers(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(expect_request("/status/201", b"payload"))
        reader = rawhttp.Reader(sock)
        assert reader.read_head().status == 100
        assert nothing_arrives(sock, reader)
        sock.sendall(b"payload")
        _, final = reader.read_response()
        assert final.status == 201
        # The body was consumed: the next request on the connection is parsed cleanly.
        sock.sendall(rawhttp.build("GET", "/status/418"))
        _, after = reader.read_response()
    assert after.status == 418


def test_status_100_with_expect_sends_one_100_only(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(expect_request("/status/100", b"x"))
        reader = rawhttp.Reader(sock)
        assert reader.read_head().status == 100
        sock.sendall(b"x")
        interims, final = reader.read_response()
    assert interims == [] and final.status == 200


def test_continue_withhold_sends_no_100_and_waits_for_the_body(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(expect_request("/anything?continue=withhold", b"late body"))
        reader = rawhttp.Reader(sock)
        assert nothing_arrives(sock, reader)  # neither a 100 nor a final response
        sock.sendall(b"late body")  # what a client does after its own Expect timeout
        interims, final = reader.read_response()
    assert interims == []
    assert final.status == 200 and json.loads(final.body)["body"] == "late body"


def test_continue_delay_still_sends_the_100(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(expect_request("/anything?continue=50", b"abc"))
        reader = rawhttp.Reader(sock)
        assert reader.read_head().status == 100
        sock.sendall(b"abc")
        _, final = reader.read_response()
    assert json.loads(final.body)["body"] == "abc"


def test_continue_reject_is_417_and_closes(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(expect_request("/status/201?continue=reject", b"never sent"))
        reader = rawhttp.Reader(sock)
        interims, final = reader.read_response()
        assert interims == []
        assert (final.status, final.reason) == (417, "Expectation Failed")
        assert final.header("Connection") == "close"
        # A client that reuses the connection anyway is never answered: what it sends is read as
        # the announced body and discarded (lingering close, RFC 9112 §9.6), then the server
        # closes. No desynchronised response to the wrong request.
        sock.sendall(rawhttp.build("GET", "/status/418"))
        assert closed_without_answer(reader)


def test_expect_with_a_body_over_the_limit_is_413_instead_of_100(server):
    headers = {"Content-Length": str(2 * 1024 * 1024), "Expect": "100-continue"}
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("PUT", "/status/200", headers))  # the body is never sent
        reader = rawhttp.Reader(sock)
        interims, final = reader.read_response()
        assert interims == []
        assert (final.status, final.reason) == (413, "Content Too Large")
        assert final.header("Connection") == "close"


def test_unknown_expectation_is_417(server):
    _, final = rawhttp.request(server.port, "GET", "/status/200", {"Expect": "teapot"})
    assert final.status == 417 and final.header("Connection") == "close"


def test_invalid_continue_is_400_and_closes(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(expect_request("/status/200?continue=later", b"x"))
        reader = rawhttp.Reader(sock)
        interims, final = reader.read_response()
        assert interims == [] and final.status == 400 and b"continue" in final.body
        assert final.header("Connection") == "close"
        sock.sendall(rawhttp.build("GET", "/status/418"))
        assert closed_without_answer(reader)


def test_unsolicited_100_without_expect(server):
    interims, final = rawhttp.request(server.port, "POST", "/status/100", body=b"data")
    assert [status_line(i) for i in interims] == [b"HTTP/1.1 100 Continue"]
    assert final.status == 200


def test_expect_from_http_10_is_ignored(server):
    data = expect_request("/anything", b"hi", version="HTTP/1.0") + b"hi"
    with rawhttp.connect(server.port) as sock:
        sock.sendall(data)
        interims, final = rawhttp.Reader(sock).read_response()
    assert interims == [] and final.version == "HTTP/1.0"
    assert json.loads(final.body)["body"] == "hi"


# --- HTTP/1.0 and the interim switch -----------------------------------------------------------


@pytest.mark.parametrize("target", ["/status/103", "/status/200?interim=103,102,100"])
def test_no_interim_for_http_10(server, target):
    interims, final = rawhttp.request(server.port, "GET", target, version="HTTP/1.0")
    assert interims == []
    assert (final.version, final.status) == ("HTTP/1.0", 200)
    assert final.header("Link") == HINT  # the final still carries the hint


def test_force_mode_sends_interims_even_to_http_10(server):
    interims, final = rawhttp.request(
        server.port, "GET", "/status/103?interim_mode=force", version="HTTP/1.0"
    )
    assert [status_line(i) for i in interims] == [b"HTTP/1.1 103 Early Hints"]
    assert final.version == "HTTP/1.0" and final.status == 200


def test_server_default_force(make_server):
    srv = make_server(interim_mode="force")
    interims, _ = rawhttp.request(srv.port, "GET", "/status/102", version="HTTP/1.0")
    assert [i.status for i in interims] == [102]
    interims, _ = rawhttp.request(
        srv.port, "GET", "/status/102?interim_mode=auto", version="HTTP/1.0"
    )
    assert interims == []


def test_off_mode_sends_none(server):
    interims, final = rawhttp.request(
        server.port, "GET", "/status/200?interim=103,102,100&interim_mode=off"
    )
    assert interims == [] and final.status == 200 and final.header("Link") == HINT


def test_server_default_off_also_withholds_the_100(make_server):
    srv = make_server(interim_mode="off")
    interims, final = rawhttp.request(srv.port, "GET", "/status/103")
    assert interims == [] and final.status == 200
    with rawhttp.connect(srv.port) as sock:
        sock.sendall(expect_request("/anything", b"body"))
        reader = rawhttp.Reader(sock)
        assert nothing_arrives(sock, reader)
        sock.sendall(b"body")
        interims, final = reader.read_response()
    assert interims == [] and json.loads(final.body)["body"] == "body"
    interims, _ = rawhttp.request(srv.port, "GET", "/status/103?interim_mode=auto")
    assert [i.status for i in interims] == [103]  # the query overrides the server default


# --- keep-alive, HEAD, 102 repetition ----------------------------------------------------------


def test_keep_alive_after_interims(server):
    with rawhttp.connect(server.port) as sock:
        reader = rawhttp.Reader(sock)
        sock.sendall(rawhttp.build("GET", "/status/200?interim=103,102,100"))
        interims, first = reader.read_response()
        assert [i.status for i in interims] == [103, 102, 100] and first.body == b"200 OK"
        sock.sendall(rawhttp.build("GET", "/status/418"))
        interims, second = reader.read_response()
    assert interims == [] and second.status == 418 and second.body == b"418 I'm a teapot"


def test_pipelined_requests_after_interims(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", "/status/103") + rawhttp.build("GET", "/status/102"))
        reader = rawhttp.Reader(sock)
        first = reader.read_response()
        second = reader.read_response()
    assert [i.status for i in first[0]] == [103] and first[1].status == 200
    assert [i.status for i in second[0]] == [102] and second[1].status == 200


def test_head_with_interims(server):
    _, get = rawhttp.request(server.port, "GET", "/status/103")
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("HEAD", "/status/103") + rawhttp.build("GET", "/status/204"))
        reader = rawhttp.Reader(sock)
        interims, head = reader.read_response("HEAD")
        _, after = reader.read_response()
    assert [status_line(i) for i in interims] == [b"HTTP/1.1 103 Early Hints"]
    assert head.status == 200 and head.header("Content-Length") == str(len(get.body))
    assert head.all("Link") == [HINT]
    assert after.status == 204  # no body bytes followed the HEAD response


def test_102_repeats_while_the_sleep_runs(server):
    interims, final = rawhttp.request(server.port, "GET", "/status/102?sleep=250&interval=100")
    # One at once, then one per interval strictly before the end: 1 + floor(250/100) = 3.
    assert all(status_line(i) == b"HTTP/1.1 102 Processing" for i in interims)
    assert 2 <= len(interims) <= 4
    assert final.status == 200


def test_102_repeats_on_interim_query_too(server):
    interims, final = rawhttp.request(
        server.port, "GET", "/status/503?interim=103,102&sleep=250&interval=100"
    )
    assert [i.status for i in interims[:2]] == [103, 102]
    assert 3 <= len(interims) <= 5 and {i.status for i in interims[2:]} <= {102}
    assert final.status == 503


def test_hot_path_has_no_interims(server):
    interims, final = rawhttp.request(server.port, "GET", "/status/503")
    assert interims == [] and final.status == 503


# --- real clients ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/status/103", "/status/102", "/status/100"])
def test_httpx_skips_interims(server, path):
    r = httpx.get(server.url(path))
    assert r.status_code == 200 and r.text == "200 OK"
    if path.endswith("103"):
        assert r.headers["Link"] == HINT


@pytest.mark.parametrize("path", ["/status/103", "/status/102", "/status/100"])
async def test_aiohttp_client_skips_interims(server, path):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(server.url(path)) as r:
            assert r.status == 200 and await r.text() == "200 OK"
            if path.endswith("103"):
                assert r.headers.getall("Link") == [HINT]


async def test_aiohttp_client_after_102_then_103_with_sleep(server):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(server.url("/status/200?interim=102,103&sleep=150")) as r:
            assert r.status == 200 and await r.text() == "200 OK"


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["curl", "-si", "--max-time", "5", *args], capture_output=True, text=True, check=False
    )


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_prints_interims_and_final(server):
    out = curl(server.url("/status/200?interim=103,102,100"))
    assert out.returncode == 0
    lines = [line for line in out.stdout.splitlines() if line.startswith("HTTP/")]
    assert lines == [
        "HTTP/1.1 103 Early Hints",
        "HTTP/1.1 102 Processing",
        "HTTP/1.1 100 Continue",
        "HTTP/1.1 200 OK",
    ]
    assert out.stdout.endswith("200 OK")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_expect_100_continue(server):
    expect = ("-H", "Expect: 100-continue", "-H", "Content-Type: text/plain")
    out = curl(*expect, "--data-binary", "hello", server.url("/anything"))
    assert out.stdout.startswith("HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK")  # text mode: \n
    assert json.loads(out.stdout.split("\n\n", 2)[2])["body"] == "hello"
    out = curl(*expect, "--data-binary", "hello", server.url("/anything?continue=reject"))
    assert out.stdout.startswith("HTTP/1.1 417 Expectation Failed")


NODE_FETCH = """
const fetchOne = (url) => fetch(url).then(
  async (r) => ({status: r.status, link: r.headers.get("link"), body: await r.text()}),
  (e) => ({error: e.message, cause: e.cause && e.cause.code, detail: e.cause && e.cause.message}),
);
(async () => {
  const out = [];
  for (const url of process.argv.slice(1)) out.push(await fetchOne(url));  // one at a time
  console.log(JSON.stringify(out));
})();
"""


def node_fetch(*urls: str) -> list[dict]:
    """Node's global fetch (undici) on each URL in turn, in one node process."""
    out = subprocess.run(
        ["node", "-e", NODE_FETCH, *urls], capture_output=True, text=True, timeout=20, check=True
    )
    return json.loads(out.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_node_fetch_skips_103_and_102(server):
    hint, processing = node_fetch(
        server.url("/status/103"), server.url("/status/102?sleep=150&interval=50")
    )
    assert hint == {"status": 200, "link": HINT, "body": "200 OK"}
    assert processing == {"status": 200, "link": None, "body": "200 OK"}


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_node_fetch_fails_on_an_unsolicited_100(server):
    # Documented incompatibility: undici (Node's fetch) treats a 100 it did not ask for as a
    # protocol error ("bad response"). `?interim_mode=off` is the workaround.
    failed, fixed = node_fetch(
        server.url("/status/100"), server.url("/status/100?interim_mode=off")
    )
    assert failed["error"] == "fetch failed" and failed["cause"] == "UND_ERR_SOCKET"
    assert failed["detail"] == "bad response"
    assert fixed["status"] == 200


def test_requests_returns_the_103_as_the_final_response(server):
    # Documented mis-handling (http.client/urllib3): the first 1xx other than 100 is returned as
    # the response, with an empty body; the real 200 is never seen.
    r = requests.get(server.url("/status/103"))
    assert r.status_code == 103 and r.content == b""
    assert r.headers["Link"] == HINT
    assert requests.get(server.url("/status/102")).status_code == 102
    # An unsolicited 100 is skipped correctly (http.client special-cases 100).
    r = requests.get(server.url("/status/100"))
    assert r.status_code == 200 and r.text == "200 OK"


def test_requests_session_hands_a_late_final_to_the_next_request(server):
    # With the final response delayed, the pooled connection looks clean when it is reused, so
    # the *next* request reads the first request's 200.
    with requests.Session() as session:
        first = session.get(server.url("/status/103?sleep=500"))
        second = session.get(server.url("/status/418"))
    assert first.status_code == 103
    assert second.status_code == 200 and second.text == "200 OK"  # not the 418 it asked for


def test_interim_mode_off_fixes_requests(server):
    r = requests.get(server.url("/status/103?interim_mode=off"))
    assert r.status_code == 200 and r.text == "200 OK" and r.headers["Link"] == HINT
    with requests.Session() as session:
        session.get(server.url("/status/102?sleep=200&interim_mode=off"))
        assert session.get(server.url("/status/418")).status_code == 418


def test_server_wide_off_fixes_requests(make_server):
    srv = make_server(interim_mode="off")
    r = requests.get(srv.url("/status/103"))
    assert r.status_code == 200 and r.headers["Link"] == HINT


SCENARIO_HINT = """
routes:
  - match: {path: /hinted}
    respond: {status: 200, interim: [103], body: done}
"""


@pytest.mark.parametrize(
    ("version", "mode", "expected"),
    [("HTTP/1.1", "auto", [103]), ("HTTP/1.0", "auto", []), ("HTTP/1.0", "force", [103])],
)
def test_scenario_interims_follow_the_interim_mode(make_server, version, mode, expected):
    server = make_server({"hint.yaml": SCENARIO_HINT}, interim_mode=mode)
    interims, final = rawhttp.request(
        server.port, "GET", "/hinted", headers={"Connection": "close"}, version=version
    )
    assert [i.status for i in interims] == expected
    assert final.status == 200 and final.body == b"done"
    assert final.header("Link") == "</style.css>; rel=preload; as=style"
