"""The per-code table of STATUS-SEMANTICS.md: what each status adds to a response.

Each rule receives a draft (code, reason, negotiated format, method, options) and adds the headers
and body a real server sends with that code. semantics.build_plan assembles drafts into plans.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mockstatus.http_syntax import TOKEN
from mockstatus.scenarios.ratelimit_styles import default_fields  # the one home of the format
from mockstatus.types import FORMATS, Options, RandomSource

STANDARD_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_LOCATION = "/anything"
DEFAULT_RETRY_AFTER = {503: "120", 429: "60"}
RATE_LIMIT_DEFAULT = 60  # requests per 60 s window advertised by a bare /status/429


@dataclass(slots=True)
class Draft:
    """A plan being built by a rule; mutable only while semantics.build_plan runs."""

    code: int
    reason: str
    description: str
    fmt: str
    method: str
    opts: Options
    headers: list[tuple[str, str]]
    body: bytes | None = None  # None: the negotiated default body
    content_type: str | None = None
    extra: dict[str, object] | None = None
    negotiated: bool = True
    close: bool = False
    dynamic: bool = False  # depends on something per request (rng, a header): never memoise
    rng: RandomSource | None = None
    # The status whose representation the derived ETag names: the response's own code (its
    # encoded body is hashed once the body is known), or 200 for a 304. None: no derived ETag.
    etag_from: int | None = None
    # The request's header fields (lower-case names), for the few rules that answer them; a rule
    # that reads them sets `dynamic`. None: not known (a plan built without a request).
    request_headers: Mapping[str, str] | None = None


Rule = Callable[[Draft], None]


def _location(d: Draft, default: str = DEFAULT_LOCATION) -> None:
    d.headers.append(("Location", d.opts.location or default))


def _retry_after(d: Draft) -> None:
    d.headers.append(("Retry-After", d.opts.retry_after or DEFAULT_RETRY_AFTER.get(d.code, "120")))


def _rule_201(d: Draft) -> None:
    _location(d, "/anything/created/1")


def _rule_202(d: Draft) -> None:
    rng = d.rng if d.opts.seed is None and d.rng is not None else random.Random(d.opts.seed)
    job = f"{rng.getrandbits(48):012x}"
    d.dynamic = d.opts.seed is None
    d.headers.append(("Location", d.opts.location or f"/anything/jobs/{job}"))
    d.extra = {"status": "queued", "job": job}
    d.fmt, d.negotiated = "json", False


def _rule_203(d: Draft) -> None:
    d.description = "This content was transformed by a proxy between the origin and you."


def _rule_dav(d: Draft) -> None:
    status_line = "HTTP/1.1 200 OK" if d.code == 207 else "HTTP/1.1 208 Already Reported"
    d.body = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<D:multistatus xmlns:D="DAV:">\n'
        "  <D:response><D:href>/anything/a</D:href>"
        "<D:status>HTTP/1.1 200 OK</D:status></D:response>\n"
        "  <D:response><D:href>/anything/b</D:href>"
        f"<D:status>{status_line}</D:status></D:response>\n"
        "  <D:response><D:href>/anything/c</D:href>"
        "<D:status>HTTP/1.1 404 Not Found</D:status></D:response>\n"
        "</D:multistatus>\n"
    ).encode()
    d.content_type = "application/xml; charset=utf-8"
    d.negotiated = False


def _rule_226(d: Draft) -> None:
    # RFC 3229 §10.5.3: IM names the instance-manipulation applied: the first the client's A-IM
    # lists (a token; parameters such as q dropped), else `feed`.
    d.dynamic = True  # reads a request header: never memoised or prepared
    offered = ((d.request_headers or {}).get("a-im") or "").split(",", 1)[0]
    first = offered.split(";", 1)[0].strip()
    im = first if TOKEN.fullmatch(first) else "feed"
    d.headers += [("IM", im), ("ETag", '"ms-226-delta"'), ("Delta-Base", '"ms-226-base"')]


def _rule_300(d: Draft) -> None:
    choices = ("/anything/choice-a", "/anything/choice-b")
    d.headers += [("Link", f'<{c}>; rel="alternate"') for c in choices]
    _location(d, choices[0])
    d.extra = {"alternatives": list(choices)}
    d.description += " Alternatives: " + ", ".join(choices) + "."


def _rule_redirect(d: Draft) -> None:
    _location(d)


def _rule_305(d: Draft) -> None:
    _location(d, "http://proxy.invalid:3128/")


def _rule_306(d: Draft) -> None:
    d.body, d.negotiated = b"", False


# no-cache makes clients revalidate (RFC 9111 §5.2.2.4), so the conditional requests a 200
# answers (If-None-Match → 304) are exercised on every request.
CACHE_CONTROL_REVALIDATE = ("Cache-Control", "no-cache")


def _rule_200(d: Draft) -> None:
    # A strong ETag must change with the representation (RFC 9110 §8.8.3): derived from the
    # code and the encoded body, so each format (and a scenario's own body) has its own.
    d.etag_from = 200
    d.headers.append(CACHE_CONTROL_REVALIDATE)


def _rule_304(d: Draft) -> None:
    # RFC 9110 §15.4.5: a 304 carries the validators and Cache-Control the 200 would have sent
    # (the 200 of the negotiated format; its Vary comes from build_plan as for the 200).
    d.etag_from = 200
    d.headers.append(CACHE_CONTROL_REVALIDATE)


def _rule_401(d: Draft) -> None:
    scheme = d.opts.scheme or "Basic"
    d.headers.append(("WWW-Authenticate", _challenge(d, scheme, "authorization")))


def _rule_407(d: Draft) -> None:
    scheme = d.opts.scheme or "Basic"
    d.headers.append(("Proxy-Authenticate", _challenge(d, scheme, "proxy-authorization")))


def _challenge(d: Draft, scheme: str, credentials_field: str) -> str:
    if scheme == "Bearer":
        # RFC 6750 §3.1: a request without Bearer credentials (none at all, or another scheme)
        # gets a challenge without an error code; a presented token was rejected: invalid_token.
        d.dynamic = True
        fields = d.request_headers or {}
        presented = (fields.get(credentials_field) or "").split(None, 1)
        if presented and presented[0].lower() == "bearer":  # auth-scheme is case-insensitive
            return 'Bearer realm="mockstatus", error="invalid_token"'
        return 'Bearer realm="mockstatus"'
    if scheme == "Digest":
        return 'Digest realm="mockstatus", qop="auth", algorithm=SHA-256, nonce="bW9ja3N0YXR1cw"'
    return 'Basic realm="mockstatus", charset="UTF-8"'  # RFC 7617 §2


def allowed_methods(method: str) -> str:
    """Methods the resource accepts: never the request's own (RFC 9110 §15.5.6)."""
    excluded = {"GET", "HEAD"} if method in ("GET", "HEAD") else {method}
    return ", ".join(m for m in STANDARD_METHODS if m not in excluded)


def _rule_405(d: Draft) -> None:
    d.headers.append(("Allow", allowed_methods(d.method)))


def _rule_406(d: Draft) -> None:
    available = list(FORMATS.values())
    d.extra = {"available": available}
    d.description += " Available: " + ", ".join(available) + "."


def _rule_408(d: Draft) -> None:
    d.close = True


def _rule_413(d: Draft) -> None:
    d.close = True  # the unread body would otherwise be parsed as the next request
    if d.opts.retry_after:
        d.headers.append(("Retry-After", d.opts.retry_after))


def _rule_415(d: Draft) -> None:
    types = "application/json, text/plain"
    if d.method != "PATCH":
        d.headers.append(("Accept-Post", types))
    if d.method != "POST":
        d.headers.append(("Accept-Patch", types))


def _rule_416(d: Draft) -> None:
    d.headers.append(
        ("Content-Range", f"bytes */{d.opts.size if d.opts.size is not None else 1024}")
    )


def _rule_418(d: Draft) -> None:
    d.description = "I'm a teapot: short and stout. I refuse to brew coffee."


def _rule_426(d: Draft) -> None:
    d.headers += [("Upgrade", "TLS/1.3, HTTP/1.1"), ("Connection", "Upgrade")]


def _rule_428(d: Draft) -> None:
    d.description = "This request must be conditional: send If-Match with the current ETag."
    d.extra = {"required": "If-Match"}


def _rule_429(d: Draft) -> None:
    _retry_after(d)
    window = RATE_LIMIT_DEFAULT
    retry_after = d.opts.retry_after
    reset = retry_after if retry_after is not None and retry_after.isdigit() else str(window)
    d.headers += default_fields(RATE_LIMIT_DEFAULT, window, 0, reset)


def _rule_451(d: Draft) -> None:
    d.headers.append(("Link", '</anything/legal-authority>; rel="blocked-by"'))  # RFC 7725 §4


def _rule_503(d: Draft) -> None:
    _retry_after(d)


def _rule_511(d: Draft) -> None:
    if d.fmt == "text":
        d.fmt = "html"  # RFC 6585 §6: the response names a login page
    d.body = (
        b"<!doctype html>\n<html><head><title>Network Authentication Required</title>"
        b'<meta http-equiv="refresh" content="0; url=/anything/login"></head>\n'
        b'<body><p>You need to <a href="/anything/login">authenticate with the local network</a>'
        b" in order to gain access.</p></body></html>\n"
        if d.fmt == "html"
        else None
    )


CODE_RULES: dict[int, Rule] = {
    200: _rule_200,
    201: _rule_201,
    202: _rule_202,
    203: _rule_203,
    207: _rule_dav,
    208: _rule_dav,
    226: _rule_226,
    300: _rule_300,
    301: _rule_redirect,
    302: _rule_redirect,
    303: _rule_redirect,
    305: _rule_305,
    306: _rule_306,
    307: _rule_redirect,
    308: _rule_redirect,
    304: _rule_304,
    401: _rule_401,
    405: _rule_405,
    406: _rule_406,
    407: _rule_407,
    408: _rule_408,
    413: _rule_413,
    415: _rule_415,
    416: _rule_416,
    418: _rule_418,
    426: _rule_426,
    428: _rule_428,
    429: _rule_429,
    451: _rule_451,
    503: _rule_503,
    511: _rule_511,
}
