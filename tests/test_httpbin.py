"""The httpbin catalog on the wire: status, headers and body shape of each endpoint, against a
real listening server (requests, httpx, raw sockets where clients hide the bytes)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib

import httpx
import pytest
import requests
from requests.auth import HTTPDigestAuth

from mockstatus import httpbin_content
from mockstatus.limits import MAX_HTTPBIN_BYTES, MAX_HTTPBIN_LINKS, MAX_HTTPBIN_STREAM
from tests import rawhttp

GET_KEYS = {"args", "headers", "origin", "url"}
POST_KEYS = {"args", "data", "files", "form", "headers", "json", "origin", "url"}


@pytest.fixture
def base(server) -> str:
    return server.base_url


def test_get_shape(base: str) -> None:
    r = requests.get(f"{base}/get?a=1&a=2&b=x", headers={"x-custom": "v"})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    doc = r.json()
    assert set(doc) == GET_KEYS
    assert doc["args"] == {"a": ["1", "2"], "b": "x"}
    assert doc["headers"]["X-Custom"] == "v"  # canonical capitalisation, like httpbin
    assert doc["origin"] == "127.0.0.1"
    assert doc["url"] == f"{base}/get?a=1&a=2&b=x"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_body_methods_shape(base: str, method: str) -> None:
    r = requests.request(method, f"{base}/{method.lower()}", json={"k": [1, 2]})
    doc = r.json()
    assert r.status_code == 200
    assert set(doc) == POST_KEYS
    assert doc["json"] == {"k": [1, 2]}
    assert doc["data"] == '{"k": [1, 2]}'
    assert (doc["form"], doc["files"]) == ({}, {})


def test_post_form_and_files(base: str) -> None:
    r = requests.post(
        f"{base}/post",
        data={"x": ["1", "2"], "y": "é"},
        files={"f": ("a.txt", b"hello"), "bin": ("b.bin", b"\xff\x00")},
    )
    doc = r.json()
    assert doc["form"] == {"x": ["1", "2"], "y": "é"}
    assert doc["files"] == {
        "f": "hello",
        "bin": "data:application/octet-stream;base64," + base64.b64encode(b"\xff\x00").decode(),
    }
    assert (doc["data"], doc["json"]) == ("", None)
    urlencoded = requests.post(f"{base}/post", data={"a": "1"}).json()
    assert (urlencoded["form"], urlencoded["data"]) == ({"a": "1"}, "")


def test_binary_body_is_a_data_url(base: str) -> None:
    doc = requests.post(f"{base}/post", data=b"\x80\x81").json()
    assert doc["data"] == "data:application/octet-stream;base64,gIE="
    assert doc["json"] is None


def test_anything_gains_data_files_origin(base: str) -> None:
    doc = requests.put(f"{base}/anything/x", files={"f": ("a", b"1")}).json()
    assert doc["files"] == {"f": "1"}
    assert doc["origin"] == "127.0.0.1"
    assert doc["data"] == ""
    assert doc["method"] == "PUT"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/get", "GET, HEAD, OPTIONS"),
        ("GET", "/post", "OPTIONS, POST"),
        ("DELETE", "/put", "OPTIONS, PUT"),
        ("POST", "/bytes/3", "GET, HEAD, OPTIONS"),
    ],
)
def test_wrong_method_is_405_with_allow(base: str, method: str, path: str, allow: str) -> None:
    r = requests.request(method, base + path)
    assert r.status_code == 405  # RFC 9110 §15.5.6
    assert r.headers["Allow"] == allow


def test_options_lists_allow(base: str) -> None:
    r = requests.options(f"{base}/post")
    assert (r.status_code, r.headers["Allow"], r.content) == (204, "OPTIONS, POST", b"")


def test_head_has_get_headers_and_no_body(server) -> None:
    _, head = rawhttp.request(server.port, "HEAD", "/json")
    assert (head.status, head.body) == (200, b"")
    assert head.header("content-length") == str(len(httpbin_content.JSON))


def test_headers_ip_user_agent_uuid(base: str) -> None:
    assert requests.get(f"{base}/headers", headers={"A": "1"}).json()["headers"]["A"] == "1"
    assert requests.get(f"{base}/ip").json() == {"origin": "127.0.0.1"}
    ua = requests.get(f"{base}/user-agent", headers={"User-Agent": "probe/1"}).json()
    assert ua == {"user-agent": "probe/1"}
    first = requests.get(f"{base}/uuid").json()["uuid"]
    second = requests.get(f"{base}/uuid").json()["uuid"]
    assert first != second and first[14] == "4"  # version 4


def test_bytes_seeded_and_capped(base: str) -> None:
    a = requests.get(f"{base}/bytes/64?seed=7")
    b = requests.get(f"{base}/bytes/64?seed=7")
    assert a.headers["Content-Type"] == "application/octet-stream"
    assert len(a.content) == 64 and a.content == b.content
    assert requests.get(f"{base}/bytes/64?seed=8").content != a.content
    assert len(requests.get(f"{base}/bytes/999999999").content) == MAX_HTTPBIN_BYTES
    assert requests.get(f"{base}/bytes/x").status_code == 400
    assert requests.get(f"{base}/bytes/1?seed=abc").status_code == 400


def test_stream_bytes_same_bytes_as_bytes(base: str) -> None:
    streamed = requests.get(f"{base}/stream-bytes/100?seed=3&chunk_size=7", stream=True)
    chunks = b"".join(streamed.iter_content(None))
    assert chunks == requests.get(f"{base}/bytes/100?seed=3").content


def test_stream_lines(base: str) -> None:
    lines = requests.get(f"{base}/stream/3").text.splitlines()
    docs = [json.loads(line) for line in lines]
    assert [d["id"] for d in docs] == [0, 1, 2]
    assert set(docs[0]) == GET_KEYS | {"id"}
    assert len(requests.get(f"{base}/stream/1000").text.splitlines()) == MAX_HTTPBIN_STREAM


def test_drip(base: str) -> None:
    r = requests.get(f"{base}/drip?numbytes=5&duration=0&code=201")
    assert (r.status_code, r.content) == (201, b"*****")
    assert r.headers["Content-Length"] == "5"
    assert requests.get(f"{base}/drip?numbytes=0").status_code == 400
    assert requests.get(f"{base}/drip?code=abc").status_code == 400
    assert requests.get(f"{base}/drip?duration=-1").status_code == 400


def test_delay_zero_and_bad(base: str) -> None:
    r = requests.post(f"{base}/delay/0", data="x")
    assert r.status_code == 200 and r.json()["data"] == "x"
    assert requests.get(f"{base}/delay/abc").status_code == 400
    assert requests.get(f"{base}/delay/nan").status_code == 400


def test_delay_cancelled_when_client_leaves(base: str) -> None:
    # The 10 s delay ends for the server when the client gives up: the next request is served.
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{base}/delay/10", timeout=(5, 0.2))
    assert requests.get(f"{base}/get", timeout=5).status_code == 200


def test_range(base: str) -> None:
    whole = requests.get(f"{base}/range/100")
    assert whole.status_code == 200 and len(whole.content) == 100
    assert whole.headers["Accept-Ranges"] == "bytes"
    part = requests.get(f"{base}/range/100", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == "bytes 10-19/100"
    assert part.content == whole.content[10:20]
    bad = requests.get(f"{base}/range/100", headers={"Range": "bytes=200-"})
    assert (bad.status_code, bad.headers["Content-Range"]) == (416, "bytes */100")
    etag = whole.headers["ETag"]
    assert requests.get(f"{base}/range/100", headers={"If-None-Match": etag}).status_code == 304
    assert requests.get(f"{base}/range/{MAX_HTTPBIN_BYTES + 1}").status_code == 400


def test_cookies_set_and_delete(base: str) -> None:
    s = requests.Session()
    r = s.get(f"{base}/cookies/set?a=1&b=two")
    assert r.history[0].status_code == 302
    assert r.history[0].headers["Location"] == "/cookies"
    assert r.json() == {"cookies": {"a": "1", "b": "two"}}
    assert s.get(f"{base}/cookies/set/c/3").json()["cookies"]["c"] == "3"
    r = s.get(f"{base}/cookies/delete?a")
    assert (
        "a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/"
        in (r.history[0].headers["Set-Cookie"])
    )
    assert r.json() == {"cookies": {"b": "two", "c": "3"}}


def test_cookie_values_follow_rfc_6265(base: str) -> None:
    s = requests.Session()
    s.get(f'{base}/cookies/set?q="a:b"')
    assert s.cookies["q"] == '"a:b"'
    bad = requests.get(f"{base}/cookies/set?x=a%20b", allow_redirects=False)
    assert bad.status_code == 400  # a space is no cookie-octet (RFC 6265 §4.1.1)
    assert requests.get(f"{base}/cookies/set?a%20b=1", allow_redirects=False).status_code == 400


def test_basic_auth(base: str) -> None:
    ok = requests.get(f"{base}/basic-auth/u/p", auth=("u", "p"))
    assert (ok.status_code, ok.json()) == (200, {"authenticated": True, "user": "u"})
    bad = requests.get(f"{base}/basic-auth/u/p", auth=("u", "x"))
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"] == 'Basic realm="Fake Realm"'
    hidden = requests.get(f"{base}/hidden-basic-auth/u/p", auth=("u", "x"))
    assert hidden.status_code == 404 and "WWW-Authenticate" not in hidden.headers
    assert requests.get(f"{base}/hidden-basic-auth/u/p", auth=("u", "p")).status_code == 200
    garbage = requests.get(f"{base}/basic-auth/u/p", headers={"Authorization": "Basic !!"})
    assert garbage.status_code == 401


def test_bearer(base: str) -> None:
    missing = requests.get(f"{base}/bearer")
    assert (missing.status_code, missing.headers["WWW-Authenticate"]) == (401, "Bearer")
    ok = requests.get(f"{base}/bearer", headers={"Authorization": "Bearer abc"})
    assert ok.json() == {"authenticated": True, "token": "abc"}


ALGORITHMS = ["MD5", "SHA-256", "SHA-512"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_digest_with_requests(base: str, algorithm: str) -> None:
    url = f"{base}/digest-auth/auth/user/pass/{algorithm}/never"
    r = requests.get(url, auth=HTTPDigestAuth("user", "pass"))
    assert (r.status_code, r.json()) == (200, {"authenticated": True, "user": "user"})
    assert r.cookies["fake"] == "fake_value"
    challenge = requests.get(url)
    assert challenge.status_code == 401
    www = challenge.headers["WWW-Authenticate"]
    assert www.startswith('Digest realm="mockstatus", nonce="')
    assert f'qop="auth", algorithm={algorithm}, stale=FALSE' in www
    wrong = requests.get(url, auth=HTTPDigestAuth("user", "nope"))
    assert wrong.status_code == 401
    s = requests.Session()
    s.auth = HTTPDigestAuth("user", "pass")
    assert s.get(url).status_code == 200
    assert s.get(url).status_code == 200  # the session reuses the nonce with nc=2


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_digest_with_httpx(base: str, algorithm: str) -> None:
    url = f"{base}/digest-auth/auth/user/pass/{algorithm}"
    r = httpx.get(url, auth=httpx.DigestAuth("user", "pass"))
    assert (r.status_code, r.json()["authenticated"]) == (200, True)
    assert httpx.get(url, auth=httpx.DigestAuth("user", "bad")).status_code == 401


def test_digest_stale_after_counts_down(base: str) -> None:
    s = requests.Session()
    s.auth = HTTPDigestAuth("user", "pass")
    url = f"{base}/digest-auth/auth/user/pass/MD5/1"
    first = s.get(url)
    assert first.status_code == 200 and s.cookies["stale_after"] == "0"
    second = s.get(url)  # stale_after=0: the nonce is stale, requests answers the new challenge
    assert second.history and "stale=TRUE" in second.history[0].headers["WWW-Authenticate"]


def test_digest_require_cookie(base: str) -> None:
    url = f"{base}/digest-auth/auth/user/pass/MD5?require-cookie=true"
    assert requests.get(url, auth=HTTPDigestAuth("user", "pass")).status_code == 200
    forged = requests.get(
        url,
        headers={"Authorization": 'Digest username="user", nonce="x"', "Cookie": "a=b"},
    )
    assert forged.status_code == 403
    assert forged.json() == {"errors": ["missing cookie set on challenge"]}


def test_digest_bad_algorithm_and_nonce(base: str) -> None:
    assert requests.get(f"{base}/digest-auth/auth/u/p/CRC32").status_code == 400
    assert requests.get(f"{base}/digest-auth/auth/u/p/MD5/soon").status_code == 400
    invented = requests.get(
        f"{base}/digest-auth/auth/u/p",
        headers={"Authorization": 'Digest username="u", realm="mockstatus", nonce="00", uri="/"'},
    )
    assert invented.status_code == 401


def test_cache(base: str) -> None:
    first = requests.get(f"{base}/cache")
    assert first.status_code == 200 and set(first.json()) == GET_KEYS
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert requests.get(f"{base}/cache", headers={"If-None-Match": etag}).status_code == 304
    assert requests.get(f"{base}/cache", headers={"If-None-Match": '"other"'}).status_code == 200
    assert requests.get(f"{base}/cache", headers={"If-Modified-Since": modified}).status_code == 304
    r = requests.get(f"{base}/cache/60")
    assert r.headers["Cache-Control"] == "public, max-age=60"


def test_response_headers(base: str) -> None:
    r = requests.get(f"{base}/response-headers?X-A=1&X-A=2&Location=/x")
    assert r.status_code == 200
    assert r.headers["X-A"] == "1, 2" and r.headers["Location"] == "/x"
    assert r.json() == {"X-A": ["1", "2"], "Location": "/x", "Content-Type": "application/json"}
    typed = requests.get(f"{base}/response-headers?Content-Type=text/plain")
    assert typed.headers["Content-Type"] == "text/plain"
    assert requests.get(f"{base}/response-headers?Content-Length=1").status_code == 400
    assert requests.get(f"{base}/response-headers?Transfer-Encoding=x").status_code == 400


def test_base64(base: str) -> None:
    r = requests.get(f"{base}/base64/SFRUUEJJTiBpcyBhd2Vzb21l")
    assert (r.status_code, r.text) == (200, "HTTPBIN is awesome")
    assert requests.get(f"{base}/base64/!!!").status_code == 400


def test_links(base: str) -> None:
    r = requests.get(f"{base}/links/3/1")
    assert r.text == (
        "<html><head><title>Links</title></head><body><a href='/links/3/0'>0</a> 1 "
        "<a href='/links/3/2'>2</a> </body></html>"
    )
    moved = requests.get(f"{base}/links/3", allow_redirects=False)
    assert (moved.status_code, moved.headers["Location"]) == (302, "/links/3/0")
    many = requests.get(f"{base}/links/100000/0").text
    assert many.count("<a ") == MAX_HTTPBIN_LINKS - 1


@pytest.mark.parametrize(
    ("path", "media", "body"),
    [
        ("/html", "text/html; charset=utf-8", httpbin_content.HTML),
        ("/json", "application/json", httpbin_content.JSON),
        ("/xml", "application/xml", httpbin_content.XML),
        ("/robots.txt", "text/plain", b"User-agent: *\nDisallow: /deny\n"),
        ("/deny", "text/plain", httpbin_content.DENY),
        ("/encoding/utf8", "text/html; charset=utf-8", httpbin_content.UTF8),
        ("/forms/post", "text/html; charset=utf-8", httpbin_content.FORMS_POST),
    ],
)
def test_documents(base: str, path: str, media: str, body: bytes) -> None:
    r = requests.get(base + path)
    assert (r.status_code, r.headers["Content-Type"], r.content) == (200, media, body)


def test_json_is_httpbins_slideshow(base: str) -> None:
    doc = requests.get(f"{base}/json").json()
    assert doc["slideshow"]["title"] == "Sample Slide Show"
    assert [s["title"] for s in doc["slideshow"]["slides"]] == [
        "Wake up to WonderWidgets!",
        "Overview",
    ]


def test_encodings(server) -> None:
    # Raw bytes: a client would decode them and hide what was sent.
    for path, coding, decode, flag in (
        ("/gzip", "gzip", gzip.decompress, "gzipped"),
        ("/deflate", "deflate", zlib.decompress, "deflated"),
    ):
        _, final = rawhttp.request(server.port, "GET", path)
        assert final.status == 200
        assert final.header("content-encoding") == coding
        doc = json.loads(decode(final.body))
        assert doc[flag] is True and doc["method"] == "GET" and doc["origin"] == "127.0.0.1"


def test_brotli(base: str) -> None:
    try:
        import brotli
    except ImportError:
        r = requests.get(f"{base}/brotli")
        assert r.status_code == 501
        return
    r = requests.get(f"{base}/brotli", headers={"Accept-Encoding": "identity"}, stream=True)
    assert r.headers["Content-Encoding"] == "br"
    assert json.loads(brotli.decompress(r.raw.read()))["brotli"] is True


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "image/png"),
        ("image/webp", "image/webp"),
        ("image/svg+xml", "image/svg+xml"),
        ("image/jpeg", "image/jpeg"),
        ("image/png", "image/png"),
        ("image/*", "image/webp"),
        ("image/png, image/webp;q=0.5", "image/png"),
        ("*/*", "image/webp"),
    ],
)
def test_image_negotiation(base: str, accept: str | None, media: str) -> None:
    headers = {"Accept": accept} if accept else {}
    r = requests.get(f"{base}/image", headers=headers)
    if accept is None:  # requests sends */* by default
        r = httpx.get(f"{base}/image", headers={"Accept": ""})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == media
    name = media.split("/")[1].removesuffix("+xml")
    assert r.content == httpbin_content.IMAGES[name][1]


def test_image_not_acceptable(base: str) -> None:
    r = requests.get(f"{base}/image", headers={"Accept": "text/plain"})
    assert r.status_code == 406
    assert r.json()["accept"] == ["image/webp", "image/svg+xml", "image/jpeg", "image/png"]


@pytest.mark.parametrize("name", ["png", "jpeg", "webp", "svg"])
def test_image_files_are_real_images(base: str, name: str) -> None:
    body = requests.get(f"{base}/image/{name}").content
    magic = {"png": b"\x89PNG", "jpeg": b"\xff\xd8\xff", "webp": b"RIFF", "svg": b"<svg"}
    assert body.startswith(magic[name])
    assert requests.get(f"{base}/image/gif").status_code == 404


def test_redirect_chain_ends_at_get(base: str) -> None:
    r = requests.get(f"{base}/redirect/3")
    assert [h.headers["Location"] for h in r.history] == ["/redirect/2", "/redirect/1", "/get"]
    assert r.url == f"{base}/get"
    absolute = requests.get(f"{base}/redirect/2?absolute=true")
    assert absolute.history[-1].headers["Location"] == f"{base}/get"


def test_relative_and_absolute_redirects(base: str) -> None:
    r = requests.get(f"{base}/relative-redirect/3")
    assert [h.headers["Location"] for h in r.history] == [
        "/relative-redirect/2",
        "/relative-redirect/1",
        "/get",
    ]
    a = requests.get(f"{base}/absolute-redirect/2")
    assert [h.headers["Location"] for h in a.history] == [
        f"{base}/absolute-redirect/1",
        f"{base}/get",
    ]
    assert requests.get(f"{base}/relative-redirect/0").status_code == 400


def test_redirect_to(base: str) -> None:
    r = requests.post(f"{base}/redirect-to?url=/post&status_code=307", data="x")
    assert r.history[0].status_code == 307 and r.json()["data"] == "x"
    plain = requests.get(f"{base}/redirect-to?url=http://example.invalid/", allow_redirects=False)
    assert (plain.status_code, plain.headers["Location"]) == (302, "http://example.invalid/")
    assert requests.get(f"{base}/redirect-to").status_code == 400
    encoded = requests.get(f"{base}/redirect-to?url=/caf%C3%A9%20x?a=%252F", allow_redirects=False)
    assert encoded.headers["Location"] == "/caf%C3%A9%20x?a=%2F"  # an escape in url= stays
    assert requests.get(f"{base}/redirect-to?url=/x&status_code=200").status_code == 400
    assert requests.get(f"{base}/redirect-to?url=/x%0d%0aX:1").status_code == 400


async def test_websocket_echo(server) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{server.base_url}/websocket/echo") as ws:
            await ws.send_str("hello")
            assert (await ws.receive_str()) == "hello"
            await ws.send_bytes(b"\x00\x01")
            assert (await ws.receive_bytes()) == b"\x00\x01"
    plain = requests.get(f"{server.base_url}/websocket/echo")
    assert (plain.status_code, plain.headers["Upgrade"]) == (426, "websocket")


def test_unknown_paths_stay_404(base: str) -> None:
    for path in ("/nope", "/get/x", "/cookies/x", "/encoding/latin1", "/forms/get"):
        assert requests.get(base + path).status_code == 404, path


def test_index_lists_the_catalog(base: str) -> None:
    listed = requests.get(base + "/", headers={"Accept": "application/json"}).json()["endpoints"]
    assert "/digest-auth/{qop}/{user}/{passwd}/{algorithm}/{stale_after}" in listed
    assert "/get" in listed and listed.count("/anything") == 1
    assert "<code>/image/{png,jpeg,webp,svg}</code>" in requests.get(base + "/").text


# --- regressions: inputs that raised instead of answering ---------------------------------------


@pytest.mark.parametrize("path", ["/post", "/anything"])
def test_deeply_nested_json_body_is_no_500(base: str, path: str) -> None:
    # json.loads raises RecursionError (not ValueError) past the stack: it was a 500.
    r = requests.post(base + path, data="[" * 100_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    assert r.json()["json"] is None


def test_unknown_multipart_charset_is_no_500(base: str) -> None:
    body = (
        b'--x\r\nContent-Disposition: form-data; name="a"\r\n'
        b"Content-Type: text/plain; charset=bogus\r\n\r\nhi\r\n--x--\r\n"
    )
    r = requests.post(
        f"{base}/post", data=body, headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert (r.status_code, r.json()["form"]) == (200, {"a": "hi"})
    broken = requests.post(
        f"{base}/post", data=b"junk", headers={"Content-Type": "multipart/form-data"}
    )
    assert broken.status_code == 400


def test_huge_stale_after_cookie_is_no_500(base: str) -> None:
    # int() of over 4,300 digits raises ValueError: a client-sent counter is length-checked.
    s = requests.Session()
    s.auth = HTTPDigestAuth("user", "pass")
    s.cookies.set("stale_after", "9" * 5000)
    r = s.get(f"{base}/digest-auth/auth/user/pass/MD5/3")
    assert r.status_code == 200
    assert requests.get(f"{base}/digest-auth/auth/u/p/MD5/{'9' * 10}").status_code == 400


def test_drip_and_stream_bytes_writes_are_bounded() -> None:
    from mockstatus import httpbin
    from mockstatus.limits import MAX_DRIP_WRITES
    from mockstatus.types import ManualClock, Query, RequestFacts

    def plan(path: str, query: tuple[tuple[str, str], ...]):
        facts = RequestFacts(method="GET", path=path, query=Query(query))
        return httpbin.plan(facts, __import__("random").Random(0), ManualClock())

    drip = plan("/drip", (("numbytes", str(MAX_HTTPBIN_BYTES)), ("duration", "10")))
    assert drip.drip is not None
    writes = -(-len(drip.body) // drip.drip.chunk)
    assert writes <= MAX_DRIP_WRITES
    assert drip.drip.every * writes == pytest.approx(10.0)
    small = plan("/drip", (("numbytes", "10"), ("duration", "1")))
    assert (small.drip.chunk, small.drip.every) == (1, pytest.approx(0.1))
    streamed = plan(f"/stream-bytes/{MAX_HTTPBIN_BYTES}", (("chunk_size", "1"),))
    assert -(-len(streamed.body) // streamed.drip.chunk) <= MAX_DRIP_WRITES


def test_non_ascii_header_values_are_sent(base: str) -> None:
    r = requests.get(f"{base}/response-headers", params={"X-Name": "é"})
    assert r.status_code == 200
    assert r.json()["X-Name"] == "é"


def test_admin_catalog_lists_the_endpoints(base: str) -> None:
    doc = requests.get(f"{base}/__mockstatus/catalog").json()
    paths = [e["path"] for e in doc["endpoints"]]
    assert paths[:2] == ["/status/{code}", "/anything"]
    assert "/digest-auth/{qop}/{user}/{passwd}/{algorithm}/{stale_after}" in paths
    assert len(paths) == len(set(paths))
    assert all(e["description"] for e in doc["endpoints"])


def test_expect_100_continue_on_post_reads_the_body(server) -> None:
    # /post reports the body, so the server sends 100 Continue and reads it before answering.
    with rawhttp.connect(server.port) as sock:
        sock.sendall(
            rawhttp.build("POST", "/post", {"Expect": "100-continue", "Content-Length": "5"})
        )
        reader = rawhttp.Reader(sock)
        assert reader.read_head().status == 100
        sock.sendall(b"hello")
        final = reader.read_head()
        body = reader.read_exact(int(final.header("content-length") or 0))
    assert final.status == 200
    assert json.loads(body)["data"] == "hello"
