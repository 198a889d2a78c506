"""Byte ranges (/status/206, /status/416) and conditional requests (/status/304, /conditional,
/etag/{etag}) on the wire (RFC 9110 §13, §14)."""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import shutil
import subprocess

import httpx
import pytest
import requests

from mockstatus.ranges import LAST_MODIFIED, MAX_SIZE, entity_tag, representation
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

DATA = representation(1024)
ETAG = entity_tag(1024)


def get(server, target: str, headers: dict[str, str] | None = None, method: str = "GET"):
    interims, resp = rawhttp.request(server.port, method, target, headers)
    assert interims == []
    return resp


def parse_byteranges(resp: rawhttp.RawResponse) -> list[tuple[dict[str, str], bytes]]:
    """Strict multipart/byteranges parser (RFC 9110 §14.6, RFC 2046 §5.1.1)."""
    m = re.fullmatch(r"multipart/byteranges; boundary=([0-9A-Za-z'()+_,\-./:=?]+)",
                     resp.header("Content-Type"))  # fmt: skip
    assert m, resp.header("Content-Type")
    delim = b"--" + m.group(1).encode()
    body = resp.body
    assert body.startswith(delim + b"\r\n") and body.endswith(b"\r\n" + delim + b"--\r\n")
    inner = body[len(delim) + 2 : -len(delim) - 6]
    parts = []
    for part in inner.split(b"\r\n" + delim + b"\r\n"):
        head, data = part.split(b"\r\n\r\n", 1)
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        parts.append((headers, data))
    return parts


# --- /status/206: single ranges ------------------------------------------------------------------


def test_206_without_range_serves_the_first_512_bytes(server):
    r = get(server, "/status/206")
    assert (r.status, r.reason) == (206, "Partial Content")
    assert r.header("Content-Range") == "bytes 0-511/1024"
    assert r.header("Content-Length") == "512" and r.body == DATA[:512]
    assert r.header("Accept-Ranges") == "bytes"
    assert r.header("ETag") == ETAG and r.header("Last-Modified") == LAST_MODIFIED
    assert r.header("Content-Type") == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, 1023),  # open
        ("bytes=-50", 974, 1023),  # suffix
        ("bytes=1000-5000", 1000, 1023),  # last-pos clamped
        ("bytes=-5000", 0, 1023),  # suffix longer than the representation
        ("bytes=1023-1023", 1023, 1023),
        ("BYTES=0-0", 0, 0),  # the unit is case-insensitive
        ("bytes=0-99999999999999999999999999999", 0, 1023),  # absurd last-pos
    ],
)
def test_single_ranges(server, spec, first, last):
    r = get(server, "/status/206", {"Range": spec})
    assert r.status == 206
    assert r.header("Content-Range") == f"bytes {first}-{last}/1024"
    assert r.body == DATA[first : last + 1]
    assert r.header("Content-Length") == str(last - first + 1)


def test_size_query_and_stable_validators(server):
    a, b = get(server, "/status/206?size=100"), get(server, "/status/206?size=100")
    assert a.header("Content-Range") == "bytes 0-99/100" and a.body == representation(100)
    assert a.header("ETag") == b.header("ETag") == entity_tag(100) != ETAG
    assert a.header("Last-Modified") == b.header("Last-Modified") == LAST_MODIFIED


def test_the_representation_is_self_describing(server):
    r = get(server, "/status/206", {"Range": "bytes=128-191"})
    assert r.body.startswith(b"0000000128 abc") and r.body.endswith(b"XYZ\n")


def test_empty_representation_is_200(server):
    r = get(server, "/status/206?size=0")
    assert r.status == 200 and r.header("Content-Length") == "0" and r.body == b""


def test_largest_size_serves_its_tail(server):
    r = get(server, f"/status/206?size={MAX_SIZE}", {"Range": "bytes=-10"})
    assert r.status == 206
    assert r.header("Content-Range") == f"bytes {MAX_SIZE - 10}-{MAX_SIZE - 1}/{MAX_SIZE}"
    assert r.body == representation(MAX_SIZE)[-10:]


@pytest.mark.parametrize("size", [str(MAX_SIZE + 1), "-1", "abc", "1e3", ""])
def test_size_cap_and_invalid_sizes_are_400(server, size):
    r = get(server, f"/status/206?size={size}", {"Accept": "application/json"})
    assert r.status == 400
    doc = json.loads(r.body)
    assert doc["param"] == "size" and str(MAX_SIZE) in doc["error"] and "cap" in doc["error"]


# --- several ranges: multipart/byteranges --------------------------------------------------------


def test_several_ranges_are_multipart_byteranges(server):
    r = get(server, "/status/206", {"Range": "bytes=0-9, 100-119,-5"})
    assert r.status == 206 and r.header("Content-Range") is None
    assert int(r.header("Content-Length")) == len(r.body)
    parts = parse_byteranges(r)
    assert [(h["Content-Range"], data) for h, data in parts] == [
        ("bytes 0-9/1024", DATA[0:10]),
        ("bytes 100-119/1024", DATA[100:120]),
        ("bytes 1019-1023/1024", DATA[1019:]),
    ]
    assert all(h["Content-Type"] == "text/plain; charset=utf-8" for h, _ in parts)


def test_multipart_parses_with_the_stdlib_mime_parser(server):
    r = get(server, "/status/206", {"Range": "bytes=10-19,30-39"})
    raw = f"Content-Type: {r.header('Content-Type')}\r\n\r\n".encode() + r.body
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    assert msg.is_multipart()
    parts = list(msg.iter_parts())
    assert [p["Content-Range"] for p in parts] == ["bytes 10-19/1024", "bytes 30-39/1024"]
    assert [p.get_payload(decode=True) for p in parts] == [DATA[10:20], DATA[30:40]]


def test_overlapping_ranges_are_coalesced(server):
    r = get(server, "/status/206", {"Range": "bytes=0-49,40-99,200-209"})
    parts = parse_byteranges(r)
    assert [h["Content-Range"] for h, _ in parts] == ["bytes 0-99/1024", "bytes 200-209/1024"]


def test_one_satisfiable_range_among_unsatisfiable_is_single_part(server):
    r = get(server, "/status/206", {"Range": "bytes=5000-6000,0-3"})
    assert r.status == 206 and r.header("Content-Range") == "bytes 0-3/1024"
    assert r.body == DATA[:4]


# --- 416 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", ["bytes=1024-", "bytes=2000-3000", "bytes=-0", "bytes=5000-,6000-"]
)
def test_unsatisfiable_is_416_with_star_content_range(server, spec):
    r = get(server, "/status/206", {"Range": spec})
    assert (r.status, r.reason) == (416, "Range Not Satisfiable")
    assert r.header("Content-Range") == "bytes */1024"
    assert int(r.header("Content-Length")) == len(r.body) > 0


def test_status_416_names_the_size(server):
    assert get(server, "/status/416").header("Content-Range") == "bytes */1024"
    assert get(server, "/status/416?size=10").header("Content-Range") == "bytes */10"


# --- garbage never 500 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "bytes=abc",
        "bytes=5-1",  # last < first: invalid, ignored
        "items=0-5",  # unknown unit: ignored (§14.2)
        "bytes= 0-5",
        "bytes=-",
        "bytes",
        "=0-5",
        "bytes=0-5;x",
        "bytes=--5",
        "bytes=1-2-3",
        "bytes=,",
        "bytes=0x10-0x20",
        "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 102, 2)),  # 51 ranges: over the cap
        "bytes=\xff-\xfe",  # not ASCII on the wire
    ],
)
def test_garbage_ranges_are_ignored(server, spec):
    r = get(server, "/status/206", {"Range": spec})
    assert r.status == 200
    assert r.body == DATA and r.header("Content-Range") is None
    assert r.header("Accept-Ranges") == "bytes"


def test_absurd_first_pos_is_416_not_500(server):
    r = get(server, "/status/206", {"Range": "bytes=" + "9" * 5000 + "-"})
    assert r.status == 416


# --- methods, HEAD, If-Range ---------------------------------------------------------------------


def test_head_gets_the_get_headers_without_a_body(server):
    for spec in ("bytes=0-99", "bytes=0-9,20-29"):
        g = get(server, "/status/206", {"Range": spec})
        with rawhttp.connect(server.port) as sock:
            sock.sendall(
                rawhttp.build("HEAD", "/status/206", {"Range": spec})
                + rawhttp.build("GET", "/status/204")
            )
            reader = rawhttp.Reader(sock)
            _, h = reader.read_response("HEAD")
            _, after = reader.read_response()
        assert h.status == 206 and h.header("Content-Length") == g.header("Content-Length")
        assert h.header("Content-Range") == g.header("Content-Range")
        assert h.header("Content-Type") == g.header("Content-Type")
        assert after.status == 204  # no body bytes were sent after the HEAD


def test_range_is_ignored_for_post_but_the_path_default_is_not(server):
    r = get(server, "/status/206", {"Range": "bytes=0-9"}, method="POST")
    assert r.status == 200 and r.body == DATA  # §14.2: Range is defined only for GET
    r = get(server, "/status/206", method="POST")
    assert r.status == 206 and r.header("Content-Range") == "bytes 0-511/1024"


@pytest.mark.parametrize(
    ("if_range", "status"),
    [
        (ETAG, 206),
        ('"something-else"', 200),
        ("W/" + ETAG, 200),  # a weak tag never matches (strong comparison)
        (LAST_MODIFIED, 206),  # an exact Last-Modified date
        ("Tue, 02 Jan 2024 00:00:00 GMT", 200),
        ("not a validator", 200),
    ],
)
def test_if_range(server, if_range, status):
    r = get(server, "/status/206", {"Range": "bytes=0-9", "If-Range": if_range})
    assert r.status == status
    assert r.body == (DATA[:10] if status == 206 else DATA)


def test_preconditions_come_before_the_range(server):
    r = get(server, "/status/206", {"Range": "bytes=0-9", "If-None-Match": ETAG})
    assert r.status == 304 and r.body == b"" and r.header("ETag") == ETAG
    assert r.header("Content-Length") is None
    r = get(server, "/status/206", {"Range": "bytes=0-9", "If-Match": '"stale"'})
    assert r.status == 412
    r = get(server, "/status/206", {"Range": "bytes=0-9", "If-Match": ETAG})
    assert r.status == 206


# --- real clients --------------------------------------------------------------------------------


def test_httpx_and_requests_ranges(server):
    r = httpx.get(server.url("/status/206"), headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == DATA[10:20]
    r = requests.get(server.url("/status/206?size=64"), headers={"Range": "bytes=-4"})
    assert r.status_code == 206 and r.content == representation(64)[-4:]
    assert r.headers["Content-Range"] == "bytes 60-63/64"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_range(server):
    out = subprocess.run(
        ["curl", "-s", "--max-time", "5", "-r", "0-15", server.url("/status/206")],
        capture_output=True,
        check=True,
    )
    assert out.stdout == DATA[:16]


# --- conditional requests ------------------------------------------------------------------------


def test_304_carries_the_validators_of_the_200(server):
    ok, nm = get(server, "/status/200"), get(server, "/status/304")
    assert (nm.status, nm.reason, nm.body) == (304, "Not Modified", b"")
    for name in ("ETag", "Cache-Control", "Vary"):
        assert nm.header(name) == ok.header(name), name
    names = {n.lower() for n, _ in nm.headers}
    assert not names & {"content-length", "content-type", "transfer-encoding"}


COND_ETAG = '"ms-conditional-v1"'
EARLIER = "Sun, 31 Dec 2023 00:00:00 GMT"
LATER = "Tue, 02 Jan 2024 00:00:00 GMT"


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        ("GET", {}, 200),
        ("GET", {"If-None-Match": COND_ETAG}, 304),
        ("GET", {"If-None-Match": "W/" + COND_ETAG}, 304),  # weak comparison
        ("GET", {"If-None-Match": '"a", ' + COND_ETAG}, 304),
        ("GET", {"If-None-Match": '"other"'}, 200),
        ("GET", {"If-None-Match": "*"}, 304),
        ("HEAD", {"If-None-Match": COND_ETAG}, 304),
        ("PUT", {"If-None-Match": "*"}, 412),  # not GET/HEAD: 412 instead of 304
        ("GET", {"If-Modified-Since": LAST_MODIFIED}, 304),
        ("GET", {"If-Modified-Since": LATER}, 304),
        ("GET", {"If-Modified-Since": EARLIER}, 200),
        ("GET", {"If-Modified-Since": "yesterday"}, 200),  # invalid date: ignored
        # If-None-Match takes precedence over If-Modified-Since (§13.2.2 step 3 before 4)
        ("GET", {"If-None-Match": '"other"', "If-Modified-Since": LATER}, 200),
        ("GET", {"If-Match": COND_ETAG}, 200),
        ("GET", {"If-Match": "*"}, 200),
        ("GET", {"If-Match": '"other"'}, 412),
        ("GET", {"If-Match": "W/" + COND_ETAG}, 412),  # strong comparison
        ("PUT", {"If-Match": '"other"'}, 412),
        ("GET", {"If-Unmodified-Since": EARLIER}, 412),
        ("GET", {"If-Unmodified-Since": LAST_MODIFIED}, 200),
        # If-Match before If-None-Match: 412 wins over 304
        ("GET", {"If-Match": '"other"', "If-None-Match": COND_ETAG}, 412),
        # If-Match present: If-Unmodified-Since is not evaluated
        ("GET", {"If-Match": COND_ETAG, "If-Unmodified-Since": EARLIER}, 200),
    ],
)
def test_conditional_evaluation(server, method, headers, status):
    r = get(server, "/conditional", headers, method=method)
    assert r.status == status
    if status == 304:
        assert r.body == b"" and r.header("Content-Length") is None
        assert r.header("ETag") == COND_ETAG and r.header("Last-Modified") == LAST_MODIFIED
    if status == 200:
        assert r.header("ETag") == COND_ETAG and r.header("Last-Modified") == LAST_MODIFIED


def test_etag_path(server):
    r = get(server, "/etag/v42")
    assert r.status == 200 and r.header("ETag") == '"v42"'
    assert get(server, "/etag/v42", {"If-None-Match": '"v42"'}).status == 304
    assert get(server, "/etag/v42", {"If-None-Match": '"v41"'}).status == 200
    assert get(server, "/etag/v42", {"If-Match": '"v41"'}).status == 412
    assert get(server, "/etag/v42", {"If-Match": '"v42"'}).status == 200
    assert get(server, "/etag/bad%22quote").status == 400


def test_304_keeps_the_connection_usable(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(
            rawhttp.build("GET", "/conditional", {"If-None-Match": COND_ETAG})
            + rawhttp.build("GET", "/status/418")
        )
        reader = rawhttp.Reader(sock)
        _, first = reader.read_response()
        _, second = reader.read_response()
    assert first.status == 304 and second.status == 418


def test_client_cache_revalidation(server):
    with httpx.Client() as client:
        first = client.get(server.url("/conditional"))
        assert first.status_code == 200 and first.content
        etag = first.headers["ETag"]
        second = client.get(server.url("/conditional"), headers={"If-None-Match": etag})
        assert second.status_code == 304 and second.content == b""
        assert second.headers["ETag"] == etag
        lm = first.headers["Last-Modified"]
        third = client.get(server.url("/conditional"), headers={"If-Modified-Since": lm})
        assert third.status_code == 304 and third.content == b""


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_etag_save_and_compare(server, tmp_path):
    jar = tmp_path / "etag"
    base = ["curl", "-s", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}"]
    url = server.url("/etag/cached-v1")
    first = subprocess.run([*base, "--etag-save", str(jar), url], capture_output=True, text=True)
    assert first.stdout == "200" and jar.read_text().strip() == '"cached-v1"'
    again = subprocess.run([*base, "--etag-compare", str(jar), url], capture_output=True, text=True)
    assert again.stdout == "304"
