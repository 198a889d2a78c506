"""Every row of `rules.CODE_RULES` on the wire, one table row each, every field by value.

Mutation tools cannot change a dict row or a constant in a way a plan test notices if the same
constant is read back; so this table states each value literally and reads the bytes off a real
listening socket (tests/rawhttp.py). It also pins the header names and the caps a client can hit.
The 200/304 ETag value and the Bearer `error` parameter are pinned elsewhere (issue 9 changes
them): here only their presence is checked.
"""

from __future__ import annotations

import json
import re

import pytest

from mockstatus import __version__, rules
from mockstatus.limits import MAX_RANGE_SIZE, MAX_RANGES, MAX_REDIRECTS, MAX_SLEEP_MS
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

EXPOSED = (
    "Retry-After, Location, Content-Range, Accept-Ranges, ETag, Last-Modified, Link, Allow, "
    "WWW-Authenticate, Proxy-Authenticate, RateLimit, RateLimit-Policy, X-RateLimit-Limit, "
    "X-RateLimit-Remaining, X-RateLimit-Reset, Upgrade, IM, Delta-Base, Accept-Post, Accept-Patch"
)
IMF_FIXDATE = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT")
TEXT, JSON, HTML, XML = (
    "text/plain; charset=utf-8",
    "application/json",
    "text/html; charset=utf-8",
    "application/xml; charset=utf-8",
)
COMMON = {
    "date",
    "server",
    "content-length",
    "content-type",
    "vary",
    "cache-control",
    "access-control-allow-origin",
    "access-control-expose-headers",
}
RATE = [
    ("RateLimit-Policy", '"default";q=60;w=60'),
    ("RateLimit", '"default";r=0;t=60'),
    ("X-RateLimit-Limit", "60"),
    ("X-RateLimit-Remaining", "0"),
    ("X-RateLimit-Reset", "60"),
]
DIGEST = 'Digest realm="mockstatus", qop="auth", algorithm=SHA-256, nonce="bW9ja3N0YXR1cw"'
BASIC = 'Basic realm="mockstatus", charset="UTF-8"'
ANY = object()  # a body checked by its own test


def multistatus(second: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">\n'
        "  <D:response><D:href>/anything/a</D:href><D:status>HTTP/1.1 200 OK</D:status>"
        "</D:response>\n"
        f"  <D:response><D:href>/anything/b</D:href><D:status>{second}</D:status></D:response>\n"
        "  <D:response><D:href>/anything/c</D:href><D:status>HTTP/1.1 404 Not Found</D:status>"
        "</D:response>\n</D:multistatus>\n"
    ).encode()


LOGIN = (
    b"<!doctype html>\n<html><head><title>Network Authentication Required</title>"
    b'<meta http-equiv="refresh" content="0; url=/anything/login"></head>\n'
    b'<body><p>You need to <a href="/anything/login">authenticate with the local network</a>'
    b" in order to gain access.</p></body></html>\n"
)

# (id, method, target, reason, content type, vary, cache-control, rule headers, body)
# `rule headers` are every header but the COMMON ones, in wire order; the ETag of 200/304 is
# checked for presence only.
ROWS = [
    ("200", "GET", "/status/200", "OK", TEXT, True, "no-cache", [("ETag", ANY)], b"200 OK"),
    ("201", "GET", "/status/201", "Created", TEXT, True, None,
     [("Location", "/anything/created/1")], b"201 Created"),
    ("201-location", "GET", "/status/201?location=/made/2", "Created", TEXT, True, None,
     [("Location", "/made/2")], b"201 Created"),
    # random.Random(7).getrandbits(48), as 12 hex digits
    ("202-seeded", "GET", "/status/202?seed=7", "Accepted", JSON, False, None,
     [("Location", "/anything/jobs/f2a752e6b438")], ANY),
    ("203", "GET", "/status/203", "Non-Authoritative Information", TEXT, True, None, [],
     b"203 Non-Authoritative Information"),
    ("207", "GET", "/status/207", "Multi-Status", XML, False, None, [],
     multistatus("HTTP/1.1 200 OK")),
    ("208", "GET", "/status/208", "Already Reported", XML, False, None, [],
     multistatus("HTTP/1.1 208 Already Reported")),
    ("226", "GET", "/status/226", "IM Used", TEXT, True, None,
     [("IM", "feed"), ("ETag", '"ms-226-delta"'), ("Delta-Base", '"ms-226-base"')],
     b"226 IM Used"),
    ("300", "GET", "/status/300", "Multiple Choices", TEXT, True, None,
     [("Link", '</anything/choice-a>; rel="alternate"'),
      ("Link", '</anything/choice-b>; rel="alternate"'),
      ("Location", "/anything/choice-a")], b"300 Multiple Choices"),
    ("301", "GET", "/status/301", "Moved Permanently", TEXT, True, None,
     [("Location", "/anything")], b"301 Moved Permanently"),
    ("302", "GET", "/status/302", "Found", TEXT, True, None, [("Location", "/anything")],
     b"302 Found"),
    ("303", "GET", "/status/303", "See Other", TEXT, True, None, [("Location", "/anything")],
     b"303 See Other"),
    ("304", "GET", "/status/304", "Not Modified", None, True, "no-cache", [("ETag", ANY)], b""),
    ("305", "GET", "/status/305", "Use Proxy", TEXT, True, None,
     [("Location", "http://proxy.invalid:3128/")], b"305 Use Proxy"),
    ("306", "GET", "/status/306", "(Unused)", None, False, None, [], b""),
    ("307", "GET", "/status/307", "Temporary Redirect", TEXT, True, None,
     [("Location", "/anything")], b"307 Temporary Redirect"),
    ("308", "GET", "/status/308", "Permanent Redirect", TEXT, True, None,
     [("Location", "/anything")], b"308 Permanent Redirect"),
    ("401", "GET", "/status/401", "Unauthorized", TEXT, True, None,
     [("WWW-Authenticate", BASIC)], b"401 Unauthorized"),
    ("401-digest", "GET", "/status/401?scheme=digest", "Unauthorized", TEXT, True, None,
     [("WWW-Authenticate", DIGEST)], b"401 Unauthorized"),
    ("405-get", "GET", "/status/405", "Method Not Allowed", TEXT, True, None,
     [("Allow", "POST, PUT, PATCH, DELETE, OPTIONS")], b"405 Method Not Allowed"),
    ("405-delete", "DELETE", "/status/405", "Method Not Allowed", TEXT, True, None,
     [("Allow", "GET, HEAD, POST, PUT, PATCH, OPTIONS")], b"405 Method Not Allowed"),
    ("406", "GET", "/status/406", "Not Acceptable", TEXT, True, None, [],
     b"406 Not Acceptable"),
    ("407", "GET", "/status/407", "Proxy Authentication Required", TEXT, True, None,
     [("Proxy-Authenticate", BASIC)], b"407 Proxy Authentication Required"),
    ("407-digest", "GET", "/status/407?scheme=Digest", "Proxy Authentication Required", TEXT,
     True, None, [("Proxy-Authenticate", DIGEST)], b"407 Proxy Authentication Required"),
    ("408", "GET", "/status/408", "Request Timeout", TEXT, True, None,
     [("Connection", "close")], b"408 Request Timeout"),
    ("413", "GET", "/status/413", "Content Too Large", TEXT, True, None,
     [("Connection", "close")], b"413 Content Too Large"),
    ("413-retry", "GET", "/status/413?retry_after=30", "Content Too Large", TEXT, True, None,
     [("Retry-After", "30"), ("Connection", "close")], b"413 Content Too Large"),
    ("415-post", "POST", "/status/415", "Unsupported Media Type", TEXT, True, None,
     [("Accept-Post", "application/json, text/plain")], b"415 Unsupported Media Type"),
    ("415-patch", "PATCH", "/status/415", "Unsupported Media Type", TEXT, True, None,
     [("Accept-Patch", "application/json, text/plain")], b"415 Unsupported Media Type"),
    ("415-put", "PUT", "/status/415", "Unsupported Media Type", TEXT, True, None,
     [("Accept-Post", "application/json, text/plain"),
      ("Accept-Patch", "application/json, text/plain")], b"415 Unsupported Media Type"),
    ("416", "GET", "/status/416", "Range Not Satisfiable", TEXT, True, None,
     [("Content-Range", "bytes */1024")], b"416 Range Not Satisfiable"),
    ("416-size", "GET", "/status/416?size=77", "Range Not Satisfiable", TEXT, True, None,
     [("Content-Range", "bytes */77")], b"416 Range Not Satisfiable"),
    ("418", "GET", "/status/418", "I'm a teapot", TEXT, True, None, [], b"418 I'm a teapot"),
    ("426", "GET", "/status/426", "Upgrade Required", TEXT, True, None,
     [("Upgrade", "TLS/1.3, HTTP/1.1"), ("Connection", "Upgrade")], b"426 Upgrade Required"),
    ("428", "GET", "/status/428", "Precondition Required", TEXT, True, None, [],
     b"428 Precondition Required"),
    ("429", "GET", "/status/429", "Too Many Requests", TEXT, True, "no-store",
     [("Retry-After", "60"), *RATE], b"429 Too Many Requests"),
    ("429-retry", "GET", "/status/429?retry_after=9", "Too Many Requests", TEXT, True,
     "no-store",
     [("Retry-After", "9"), ("RateLimit-Policy", '"default";q=60;w=60'),
      ("RateLimit", '"default";r=0;t=9'), ("X-RateLimit-Limit", "60"),
      ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "9")], b"429 Too Many Requests"),
    ("451", "GET", "/status/451", "Unavailable For Legal Reasons", TEXT, True, None,
     [("Link", '</anything/legal-authority>; rel="blocked-by"')],
     b"451 Unavailable For Legal Reasons"),
    ("503", "GET", "/status/503", "Service Unavailable", TEXT, True, "no-store",
     [("Retry-After", "120")], b"503 Service Unavailable"),
    ("503-retry", "GET", "/status/503?retry_after=5", "Service Unavailable", TEXT, True,
     "no-store", [("Retry-After", "5")], b"503 Service Unavailable"),
    ("511", "GET", "/status/511", "Network Authentication Required", HTML, True, "no-store",
     [], LOGIN),
]  # fmt: skip


def test_the_table_has_a_row_for_every_rule():
    covered = {int(row[0].partition("-")[0]) for row in ROWS}
    assert covered == set(rules.CODE_RULES)


@pytest.mark.parametrize(
    ("method", "target", "reason", "ctype", "vary", "cache", "fields", "body"),
    [pytest.param(*row[1:], id=row[0]) for row in ROWS],
)
def test_code_row_on_the_wire(server, method, target, reason, ctype, vary, cache, fields, body):
    _, r = rawhttp.request(server.port, method, target)
    code = int(target.split("/")[2].split("?")[0])
    assert (r.version, r.status, r.reason) == ("HTTP/1.1", code, reason)
    assert r.header("Content-Type") == ctype
    assert r.all("Vary") == (["Accept"] if vary else [])
    assert r.all("Cache-Control") == ([cache] if cache else [])
    assert r.all("Access-Control-Allow-Origin") == ["*"]
    assert r.all("Access-Control-Expose-Headers") == [EXPOSED]
    assert r.all("Server") == [f"mockstatus/{__version__}"]
    assert IMF_FIXDATE.fullmatch(r.header("Date") or "")
    rest = [(n, v) for n, v in r.headers if n.lower() not in COMMON]
    assert [n for n, _ in rest] == [n for n, _ in fields]
    for (_, got), (_, want) in zip(rest, fields, strict=True):
        assert want is ANY or got == want
    if code == 304:
        assert r.header("Content-Length") is None
    else:
        assert r.header("Content-Length") == str(len(r.body))
    if body is not ANY:
        assert r.body == body


def test_202_seeded_body_on_the_wire(server):
    _, r = rawhttp.request(server.port, "GET", "/status/202?seed=7")
    doc = json.loads(r.body)
    assert (doc["code"], doc["reason"], doc["status"], doc["job"]) == (
        202,
        "Accepted",
        "queued",
        "f2a752e6b438",
    )


def test_511_is_json_when_json_is_asked_for(server):
    _, r = rawhttp.request(server.port, "GET", "/status/511", {"Accept": "application/json"})
    assert r.header("Content-Type") == JSON
    doc = json.loads(r.body)
    assert (doc["code"], doc["reason"]) == (511, "Network Authentication Required")


def test_405_to_head_leaves_get_and_head_out(server):
    _, r = rawhttp.request(server.port, "HEAD", "/status/405")
    assert r.header("Allow") == "POST, PUT, PATCH, DELETE, OPTIONS"


@pytest.mark.parametrize("code", [408, 413])
def test_closing_codes_close_the_connection(server, code):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(rawhttp.build("GET", f"/status/{code}") + rawhttp.build("GET", "/status/200"))
        reader = rawhttp.Reader(sock)
        _, first = reader.read_response()
        assert first.status == code
        assert reader.read_to_close() == b""  # the pipelined request was never answered


# --- caps on the wire ------------------------------------------------------------------------


def _ranges(n: int) -> str:
    return "bytes=" + ",".join(f"{2 * i}-{2 * i}" for i in range(n))


def test_max_ranges_on_the_wire(server):
    assert MAX_RANGES == 50
    _, at_cap = rawhttp.request(server.port, "GET", "/status/206", {"Range": _ranges(MAX_RANGES)})
    assert at_cap.status == 206
    assert at_cap.header("Content-Type").startswith("multipart/byteranges; boundary=")
    _, over = rawhttp.request(server.port, "GET", "/status/206", {"Range": _ranges(MAX_RANGES + 1)})
    assert (over.status, over.header("Content-Length")) == (200, "1024")


def test_max_range_size_on_the_wire(server):
    assert MAX_RANGE_SIZE == 10 * 1024 * 1024
    _, at_cap = rawhttp.request(
        server.port, "HEAD", f"/status/206?size={MAX_RANGE_SIZE}", {"Range": "bytes=-5"}
    )
    assert (at_cap.status, at_cap.header("Content-Range")) == (
        206,
        f"bytes {MAX_RANGE_SIZE - 5}-{MAX_RANGE_SIZE - 1}/{MAX_RANGE_SIZE}",
    )
    _, over = rawhttp.request(
        server.port, "GET", f"/status/206?size={MAX_RANGE_SIZE + 1}", {"Accept": JSON}
    )
    assert over.status == 400 and json.loads(over.body)["param"] == "size"


def test_max_redirects_on_the_wire(server):
    assert MAX_REDIRECTS == 100
    _, at_cap = rawhttp.request(server.port, "GET", f"/redirect/{MAX_REDIRECTS}")
    assert (at_cap.status, at_cap.header("Location")) == (302, f"/redirect/{MAX_REDIRECTS - 1}")
    _, over = rawhttp.request(
        server.port, "GET", f"/redirect/{MAX_REDIRECTS + 1}", {"Accept": JSON}
    )
    assert over.status == 400 and json.loads(over.body)["param"] == "n"


def test_max_sleep_on_the_wire(server):
    assert MAX_SLEEP_MS == 300_000
    _, over = rawhttp.request(
        server.port, "GET", f"/status/200?sleep={MAX_SLEEP_MS + 1}", {"Accept": JSON}
    )
    assert over.status == 400 and json.loads(over.body)["param"] == "sleep"
