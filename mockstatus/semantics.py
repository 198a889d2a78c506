"""Pure status semantics: (request facts, options) -> ResponsePlan. No aiohttp here.

Per-code behaviour is a table (`_CODE_RULES`): each entry adds the headers and body a real server
would send for that code (STATUS-SEMANTICS.md). Plans without per-request inputs are memoised, so
the hot path of `/status/503` is a dict lookup.
"""

from __future__ import annotations

import html
import json
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from mockstatus import __version__, codes
from mockstatus.errors import RequestError
from mockstatus.types import (
    FAULT_KINDS,
    Drip,
    Fault,
    Headers,
    Interim,
    Query,
    RequestFacts,
    ResponsePlan,
)

SERVER = f"mockstatus/{__version__}"
MAX_SLEEP_MS = 300_000  # 5 minutes
FORMATS = {
    "text": "text/plain; charset=utf-8",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
}
_FORMAT_ALIASES = {"txt": "text", "plain": "text", "text": "text", "json": "json", "html": "html"}
AUTH_SCHEMES = {"basic": "Basic", "bearer": "Bearer", "digest": "Digest"}
STANDARD_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_LOCATION = "/anything"
DEFAULT_RETRY_AFTER = {503: "120", 429: "60"}
RATE_LIMIT_DEFAULT = 60  # requests per 60 s window advertised by a bare /status/429

# Headers a browser may read cross-origin (CORS responses expose only "safelisted" ones otherwise).
EXPOSED_HEADERS = (
    "Retry-After, Location, Content-Range, Accept-Ranges, ETag, Last-Modified, Link, Allow, "
    "WWW-Authenticate, Proxy-Authenticate, RateLimit, RateLimit-Policy, X-RateLimit-Limit, "
    "X-RateLimit-Remaining, X-RateLimit-Reset, Upgrade, IM, Delta-Base, Accept-Post, Accept-Patch"
)
CORS_HEADERS: Headers = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", EXPOSED_HEADERS),
)

# RFC 9110 §5.6.2 token characters.
_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# RFC 9110 §5.5: field values are visible characters, SP and HTAB (obs-text allowed).
_BAD_VALUE_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Framing is the server's job: a user may not set these (AIOHTTP-NOTES: sent as given, even if wrong).
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})


# --- validation helpers (one place for every user-supplied header, reason and location) ------


def is_token(name: str) -> bool:
    return bool(_TOKEN_RE.match(name))


def check_header(name: str, value: str, *, param: str = "header") -> tuple[str, str]:
    """Validate one user-supplied header; raise RequestError naming `param` when invalid."""
    if not name or not is_token(name):
        raise RequestError(
            f"invalid {param} name {name!r}: a header name is a token (letters, digits, !#$%&'*+-.^_`|~)",
            param=param,
        )
    if _BAD_VALUE_RE.search(value):
        raise RequestError(
            f"invalid {param} value for {name}: CR, LF, NUL and other control characters are not allowed",
            param=param,
        )
    return name, value.strip(" \t")


def check_reason(reason: str) -> str:
    # RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
    if not reason or _BAD_VALUE_RE.search(reason):
        raise RequestError(
            "invalid reason: 1 or more visible characters, spaces or tabs; no control characters",
            param="reason",
        )
    return reason


# --- codes ----------------------------------------------------------------------------------


def parse_code(text: str, *, param: str = "code", allow_1xx: bool = True) -> int:
    low = 200 if not allow_1xx else codes.MIN_CODE
    try:
        code = int(text, 10)
    except ValueError:
        code = None
    if code is None or not (text.isascii() and text.isdigit()) or not low <= code <= codes.MAX_CODE:
        raise RequestError(
            f"invalid {param} {text!r}: valid status codes are integers from {low} to {codes.MAX_CODE}",
            param=param,
        )
    return code


@dataclass(frozen=True, slots=True)
class CodeChoice:
    """One code, or several to pick from by weight (`/status/200:0.9,503:0.1`)."""

    codes: tuple[int, ...]
    weights: tuple[float, ...] | None  # None: uniform

    def pick(self, rng: random.Random) -> int:
        if len(self.codes) == 1:
            return self.codes[0]
        if self.weights is None:
            return self.codes[rng.randrange(len(self.codes))]
        return rng.choices(self.codes, weights=self.weights, k=1)[0]


_SINGLE_CHOICES: dict[str, CodeChoice] = {
    str(c): CodeChoice((c,), None) for c in range(codes.MIN_CODE, codes.MAX_CODE + 1)
}


def parse_code_spec(spec: str) -> CodeChoice:
    """`503`, `200,503` (uniform) or `200:0.9,503:0.1` (weighted; a missing weight counts 1)."""
    single = _SINGLE_CHOICES.get(spec)
    if single is not None:
        return single
    if "," not in spec and ":" not in spec:
        parse_code(spec)  # raises with the valid range
    items = spec.split(",")
    found: list[int] = []
    weights: list[float] = []
    weighted = False
    for item in items:
        code_text, sep, weight_text = item.strip().partition(":")
        if not code_text:
            raise RequestError(
                f"invalid code list {spec!r}: empty entry; use e.g. 200,503 or 200:0.9,503:0.1",
                param="code",
            )
        found.append(parse_code(code_text))
        if sep:
            weighted = True
            try:
                weight = float(weight_text)
            except ValueError:
                weight = -1.0
            if not math.isfinite(weight) or weight < 0:
                raise RequestError(
                    f"invalid weight {weight_text!r} for {code_text}: a finite number >= 0",
                    param="code",
                )
            weights.append(weight)
        else:
            weights.append(1.0)
    if weighted and sum(weights) <= 0:
        raise RequestError("invalid weights: at least one must be above 0", param="code")
    return CodeChoice(tuple(found), tuple(weights) if weighted else None)


# --- options from the query -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    """Per-request overrides, from `/status/{code}` queries or a scenario response."""

    fmt: str | None = None
    reason: str | None = None
    location: str | None = None
    retry_after: str | None = None
    headers: Headers = ()
    sleep: float = 0.0  # seconds
    scheme: str | None = None
    seed: int | None = None
    final: int | None = None
    interim: tuple[int, ...] | None = None
    links: tuple[str, ...] = ()
    size: int | None = None
    interval: float | None = None

    @property
    def is_default(self) -> bool:
        return self == _DEFAULT_OPTIONS


_DEFAULT_OPTIONS = Options()
DEFAULT_OPTIONS = _DEFAULT_OPTIONS


def _parse_ms(value: str, param: str, cap_ms: float = MAX_SLEEP_MS) -> float:
    try:
        ms = float(value)
    except ValueError:
        ms = math.nan
    if not math.isfinite(ms) or ms < 0 or ms > cap_ms:
        raise RequestError(
            f"invalid {param} {value!r}: milliseconds, a number from 0 to {int(cap_ms)}",
            param=param,
        )
    return ms / 1000.0


def check_retry_after(value: str) -> str:
    """Retry-After = HTTP-date / delay-seconds (RFC 9110 §10.2.3)."""
    from mockstatus.conditional import parse_http_date

    if (value.isascii() and value.isdigit()) or (
        _BAD_VALUE_RE.search(value) is None and parse_http_date(value)
    ):
        return value
    raise RequestError(
        f"invalid retry_after {value!r}: delay-seconds (e.g. 30) or an HTTP-date "
        "(e.g. Wed, 21 Oct 2026 07:28:00 GMT)",
        param="retry_after",
    )


def parse_format(value: str) -> str:
    fmt = _FORMAT_ALIASES.get(value.lower())
    if fmt is None:
        raise RequestError(f"invalid format {value!r}: one of text, json, html", param="format")
    return fmt


def parse_options(query: Query) -> Options:
    """Validate the common `/status/{code}` queries; unknown parameters are ignored (cache busters)."""
    if not query:
        return _DEFAULT_OPTIONS
    kw: dict[str, object] = {}
    if (v := query.get("format")) is not None:
        kw["fmt"] = parse_format(v)
    if (v := query.get("reason")) is not None:
        kw["reason"] = check_reason(v)
    if (v := query.get("location")) is not None:
        if not v:
            raise RequestError("invalid location: must not be empty", param="location")
        kw["location"] = check_header("Location", v, param="location")[1]
    if (v := query.get("retry_after")) is not None:
        kw["retry_after"] = check_retry_after(v)
    if (v := query.get("sleep")) is not None:
        kw["sleep"] = _parse_ms(v, "sleep")
    if (v := query.get("scheme")) is not None:
        scheme = AUTH_SCHEMES.get(v.lower())
        if scheme is None:
            raise RequestError(
                f"invalid scheme {v!r}: one of Basic, Bearer, Digest", param="scheme"
            )
        kw["scheme"] = scheme
    if (v := query.get("seed")) is not None:
        try:
            kw["seed"] = int(v)
        except ValueError:
            raise RequestError(f"invalid seed {v!r}: an integer", param="seed") from None
    if (v := query.get("final")) is not None:
        kw["final"] = parse_code(v, param="final", allow_1xx=False)
    if (v := query.get("interim")) is not None:
        kw["interim"] = parse_interim_list(v)
    if (v := query.get("size")) is not None:
        kw["size"] = parse_size(v)
    if (v := query.get("interval")) is not None:
        interval = _parse_ms(v, "interval")
        if interval < 0.01:
            raise RequestError("invalid interval: at least 10 ms", param="interval")
        kw["interval"] = interval
    links = query.getall("link")
    if links:
        kw["links"] = tuple(check_header("Link", v, param="link")[1] for v in links)
    headers = query.getall("header")
    if headers:
        parsed = []
        for item in headers:
            name, sep, value = item.partition(":")
            if not sep:
                raise RequestError(
                    f"invalid header {item!r}: use header=Name:Value", param="header"
                )
            parsed.append(check_header(name.strip(), value))
        kw["headers"] = tuple(parsed)
    return Options(**kw) if kw else _DEFAULT_OPTIONS  # type: ignore[arg-type]


def parse_interim_list(value: str) -> tuple[int, ...]:
    found = []
    for item in value.split(","):
        item = item.strip()
        if item not in ("100", "102", "103"):
            raise RequestError(
                f"invalid interim {item!r}: a comma-separated list of 100, 102, 103",
                param="interim",
            )
        found.append(int(item))
    return tuple(found)


def parse_size(value: str) -> int:
    from mockstatus.ranges import MAX_SIZE

    if not (value.isascii() and value.isdigit()) or int(value) > MAX_SIZE:
        raise RequestError(
            f"invalid size {value!r}: bytes, an integer from 0 to {MAX_SIZE} (the cap)",
            param="size",
        )
    return int(value)


# --- content negotiation --------------------------------------------------------------------

_ACCEPT_CACHE: dict[str, str] = {}
_MEDIA_TO_FORMAT = {
    "application/json": "json",
    "application/problem+json": "json",
    "text/json": "json",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
    "text/*": "text",
    "*/*": "text",
}


def negotiate(accept: str | None) -> str:
    """Pick text, json or html from an Accept header (RFC 9110 §12.5.1); text when nothing fits."""
    if not accept:
        return "text"
    cached = _ACCEPT_CACHE.get(accept)
    if cached is not None:
        return cached
    best, best_q, best_specific = "text", -1.0, -1
    for part in accept.split(","):
        media, *params = part.split(";")
        media = media.strip().lower()
        fmt = _MEDIA_TO_FORMAT.get(media)
        if fmt is None:
            continue
        q = 1.0
        for p in params:
            key, _, val = p.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(val)
                except ValueError:
                    q = 0.0
        specific = 0 if media == "*/*" else (1 if media.endswith("/*") else 2)
        if q > 0 and (q > best_q or (q == best_q and specific > best_specific)):
            best, best_q, best_specific = fmt, q, specific
    if len(_ACCEPT_CACHE) < 1024:  # bounded: Accept values are client-controlled
        _ACCEPT_CACHE[accept] = best
    return best


# --- bodies ---------------------------------------------------------------------------------


def render_body(
    code: int, reason: str, description: str, fmt: str, extra: dict | None = None
) -> bytes:
    """The default body of a status in a format: the one shape every code (and error) shares."""
    if fmt == "json":
        doc = {"code": code, "reason": reason, "description": description}
        if extra:
            doc.update(extra)
        return json.dumps(doc).encode()
    if fmt == "html":
        title = html.escape(f"{code} {reason}")
        return (
            f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
            f"<body><h1>{title}</h1>\n<p>{html.escape(description)}</p></body></html>\n"
        ).encode()
    return f"{code} {reason}".encode()


def error_plan(err: RequestError, facts: RequestFacts) -> ResponsePlan:
    """The one shape of every request error (bad code, bad query): status, param, message."""
    fmt = negotiate(facts.header("accept"))
    info = codes.lookup(err.status)
    if fmt == "json":
        doc: dict[str, object] = {"code": err.status, "reason": info.reason, "error": err.message}
        if err.param:
            doc["param"] = err.param
        body = json.dumps(doc).encode()
    elif fmt == "html":
        body = render_body(err.status, info.reason, err.message, "html")
    else:
        body = f"{err.status} {info.reason}: {err.message}\n".encode()
    return finish(
        ResponsePlan(
            status=err.status,
            reason=info.reason,
            headers=(("Content-Type", FORMATS[fmt]), ("Vary", "Accept")),
            body=body,
            head=facts.method == "HEAD",
        )
    )


# --- per-code rules -------------------------------------------------------------------------


@dataclass(slots=True)
class _Draft:
    """A plan being built by a rule; mutable only inside this module."""

    code: int
    reason: str
    description: str
    fmt: str
    method: str
    opts: Options
    headers: list[tuple[str, str]]
    body: bytes | None = None  # None: the negotiated default body
    content_type: str | None = None
    extra: dict | None = None
    negotiated: bool = True
    close: bool = False
    dynamic: bool = False  # depends on something per request (rng): never memoise
    rng: random.Random | None = None


Rule = Callable[[_Draft], None]


def _location(d: _Draft, default: str = DEFAULT_LOCATION) -> None:
    d.headers.append(("Location", d.opts.location or default))


def _retry_after(d: _Draft) -> None:
    d.headers.append(("Retry-After", d.opts.retry_after or DEFAULT_RETRY_AFTER.get(d.code, "120")))


def _rule_201(d: _Draft) -> None:
    _location(d, "/anything/created/1")


def _rule_202(d: _Draft) -> None:
    rng = d.rng if d.opts.seed is None and d.rng is not None else random.Random(d.opts.seed)
    job = f"{rng.getrandbits(48):012x}"
    d.dynamic = d.opts.seed is None
    d.headers.append(("Location", d.opts.location or f"/anything/jobs/{job}"))
    d.extra = {"status": "queued", "job": job}
    d.fmt, d.negotiated = "json", False


def _rule_203(d: _Draft) -> None:
    d.description = "This content was transformed by a proxy between the origin and you."


def _rule_dav(d: _Draft) -> None:
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


def _rule_226(d: _Draft) -> None:
    d.headers += [("IM", "feed"), ("ETag", '"ms-226-delta"'), ("Delta-Base", '"ms-226-base"')]


def _rule_300(d: _Draft) -> None:
    choices = ("/anything/choice-a", "/anything/choice-b")
    d.headers += [("Link", f'<{c}>; rel="alternate"') for c in choices]
    _location(d, choices[0])
    d.extra = {"alternatives": list(choices)}
    d.description += " Alternatives: " + ", ".join(choices) + "."


def _rule_redirect(d: _Draft) -> None:
    _location(d)


def _rule_305(d: _Draft) -> None:
    _location(d, "http://proxy.invalid:3128/")


def _rule_306(d: _Draft) -> None:
    d.body, d.negotiated = b"", False


VALIDATOR_HEADERS: Headers = (("ETag", '"ms-200"'), ("Cache-Control", "no-cache"))


def _rule_200(d: _Draft) -> None:
    # The validators a 304 repeats (RFC 9110 §15.4.5): no-cache makes clients revalidate.
    d.headers += VALIDATOR_HEADERS


def _rule_304(d: _Draft) -> None:
    d.headers += VALIDATOR_HEADERS
    d.headers.append(("Vary", "Accept"))


def _rule_401(d: _Draft) -> None:
    d.headers.append(("WWW-Authenticate", _challenge(d.opts.scheme or "Basic")))


def _rule_407(d: _Draft) -> None:
    d.headers.append(("Proxy-Authenticate", _challenge(d.opts.scheme or "Basic")))


def _challenge(scheme: str) -> str:
    if scheme == "Bearer":
        return 'Bearer realm="mockstatus", error="invalid_token"'  # RFC 6750 §3
    if scheme == "Digest":
        return 'Digest realm="mockstatus", qop="auth", algorithm=SHA-256, nonce="bW9ja3N0YXR1cw"'
    return 'Basic realm="mockstatus", charset="UTF-8"'  # RFC 7617 §2


def allowed_methods(method: str) -> str:
    """Methods the resource accepts: never the request's own (RFC 9110 §15.5.6)."""
    excluded = {"GET", "HEAD"} if method in ("GET", "HEAD") else {method}
    return ", ".join(m for m in STANDARD_METHODS if m not in excluded)


def _rule_405(d: _Draft) -> None:
    d.headers.append(("Allow", allowed_methods(d.method)))


def _rule_406(d: _Draft) -> None:
    available = list(FORMATS.values())
    d.extra = {"available": available}
    d.description += " Available: " + ", ".join(available) + "."


def _rule_408(d: _Draft) -> None:
    d.close = True


def _rule_413(d: _Draft) -> None:
    d.close = True  # the unread body would otherwise be parsed as the next request
    if d.opts.retry_after:
        d.headers.append(("Retry-After", d.opts.retry_after))


def _rule_415(d: _Draft) -> None:
    types = "application/json, text/plain"
    if d.method != "PATCH":
        d.headers.append(("Accept-Post", types))
    if d.method != "POST":
        d.headers.append(("Accept-Patch", types))


def _rule_416(d: _Draft) -> None:
    d.headers.append(
        ("Content-Range", f"bytes */{d.opts.size if d.opts.size is not None else 1024}")
    )


def _rule_418(d: _Draft) -> None:
    d.description = "I'm a teapot: short and stout. I refuse to brew coffee."


def _rule_426(d: _Draft) -> None:
    d.headers += [("Upgrade", "TLS/1.3, HTTP/1.1"), ("Connection", "Upgrade")]


def _rule_428(d: _Draft) -> None:
    d.description = "This request must be conditional: send If-Match with the current ETag."
    d.extra = {"required": "If-Match"}


def _rule_429(d: _Draft) -> None:
    _retry_after(d)
    window = RATE_LIMIT_DEFAULT
    reset = d.opts.retry_after if (d.opts.retry_after or "").isdigit() else str(window)
    d.headers += [
        ("RateLimit-Policy", f'"default";q={RATE_LIMIT_DEFAULT};w={window}'),
        ("RateLimit", f'"default";r=0;t={reset}'),
        ("X-RateLimit-Limit", str(RATE_LIMIT_DEFAULT)),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", reset),
    ]


def _rule_451(d: _Draft) -> None:
    d.headers.append(("Link", '</anything/legal-authority>; rel="blocked-by"'))  # RFC 7725 §4


def _rule_503(d: _Draft) -> None:
    _retry_after(d)


def _rule_511(d: _Draft) -> None:
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


_CODE_RULES: dict[int, Rule] = {
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


def is_bodiless(status: int) -> bool:
    """RFC 9110 §6.4.1: 1xx, 204 and 304 never carry content (nor Content-Length)."""
    return status < 200 or status == 204 or status == 304


def finish(plan: ResponsePlan) -> ResponsePlan:
    """Rules that hold for every response: CORS, Server, bodiless codes, no-store on 5xx/429.

    User-set headers win (they were put first and are kept); defaults fill in what is missing.
    """
    status = plan.status
    present = {name.lower() for name, _ in plan.headers}
    headers = list(plan.headers)
    if (status >= 500 or status == 429) and "cache-control" not in present:
        headers.append(("Cache-Control", "no-store"))  # RFC 9111 §5.2.2.5
    for name, value in CORS_HEADERS:
        if name.lower() not in present:
            headers.append((name, value))
    if "server" not in present:
        headers.append(("Server", SERVER))
    bodiless = is_bodiless(status)
    if bodiless or status == 205:
        # RFC 9110 §15.3.6: 205 has no content; §8.3: no Content-Type without content.
        headers = [(n, v) for n, v in headers if n.lower() not in ("content-type", "vary")]
        if status == 304:
            headers.append(("Vary", "Accept"))
    return plan.evolve(
        headers=tuple(headers),
        body=b"" if bodiless or status == 205 else plan.body,
        bodiless=bodiless,
        content_length_zero=status == 205,
    )


def _merge_user_headers(defaults: list[tuple[str, str]], user: Headers) -> list[tuple[str, str]]:
    """User headers replace defaults of the same name; framing headers are dropped."""
    if not user:
        return defaults
    names = {n.lower() for n, _ in user}
    kept = [(n, v) for n, v in user if n.lower() not in _FRAMING]
    return kept + [(n, v) for n, v in defaults if n.lower() not in names]


def build_plan(
    code: int,
    method: str,
    fmt: str,
    opts: Options = _DEFAULT_OPTIONS,
    *,
    body: bytes | None = None,
    content_type: str | None = None,
    rng: random.Random | None = None,
) -> tuple[ResponsePlan, bool]:
    """The plan of `code` per STATUS-SEMANTICS.md; returns (plan, cacheable).

    `body`/`content_type` override the default body (scenarios); `opts.headers` override any
    default header of the same name.
    """
    info = codes.lookup(code)
    reason = opts.reason or info.reason
    d = _Draft(code, reason, info.description, opts.fmt or fmt, method, opts, [], rng=rng)
    rule = _CODE_RULES.get(code)
    if rule is not None:
        rule(d)
    if body is not None:
        d.body, d.content_type, d.negotiated = body, content_type, False
    if d.body is None:
        d.body = render_body(code, reason, d.description, d.fmt, d.extra)
        d.content_type = FORMATS[d.fmt]
    headers: list[tuple[str, str]] = []
    if d.body or d.content_type:
        headers.append(("Content-Type", d.content_type or FORMATS[d.fmt]))
        if d.negotiated:
            headers.append(("Vary", "Accept"))
    headers += d.headers
    if d.close:
        headers.append(("Connection", "close"))
    headers = _merge_user_headers(headers, opts.headers)
    plan = ResponsePlan(
        status=code,
        reason=reason,
        headers=tuple(headers),
        body=d.body,
        head=method == "HEAD",
        close=d.close,
        delay=opts.sleep,
    )
    return finish(plan), not d.dynamic


def interims_for(code: int, opts: Options, version: tuple[int, int]) -> tuple[Interim, ...]:
    """The interim responses to send before the final one (never to HTTP/1.0, RFC 9110 §15.2).

    `opts.interim` (`?interim=`) when given, else the code itself when it is a 1xx other than 101
    (an unassigned one such as 150 too: clients must parse 1xx they do not expect, §15.2).
    """
    if version < (1, 1):
        return ()
    if opts.interim is not None:
        wanted: tuple[int, ...] = opts.interim
    else:
        wanted = (code,) if 100 <= code < 200 and code != 101 else ()
    out = []
    for c in wanted:
        info = codes.lookup(c)
        headers: Headers = ()
        if c == 103:
            headers = tuple(("Link", link) for link in (opts.links or (DEFAULT_EARLY_HINT,)))
        out.append(Interim(c, info.reason, headers))
    return tuple(out)


DEFAULT_EARLY_HINT = "</style.css>; rel=preload; as=style"


class StatusSemantics:
    """Plans for `/status/{code}`, memoised for requests with no per-request options.

    Holds the injected random source for multi-code picks. Pure: no I/O, no aiohttp.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._cache: dict[tuple[int, str, str], ResponsePlan] = {}
        for code in codes.CODES:
            for fmt in FORMATS:
                self.plan(code, "GET", fmt, _DEFAULT_OPTIONS)

    def plan(self, code: int, method: str, fmt: str, opts: Options) -> ResponsePlan:
        if opts is _DEFAULT_OPTIONS:
            key = (code, method, fmt)
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        final = code
        if code < 200:
            final = opts.final or 200
        plan, cacheable = build_plan(final, method, fmt, opts, rng=self._rng)
        if code < 200 and code != 101:
            plan = replace(plan, interims=())
        if opts is _DEFAULT_OPTIONS and cacheable and method in STANDARD_METHODS:
            self._cache[(code, method, fmt)] = plan
        return plan

    def choose(self, choice: CodeChoice, opts: Options) -> int:
        if opts.seed is not None:
            return choice.pick(random.Random(opts.seed))
        return choice.pick(self._rng)


# --- interims and faults requested by query ----------------------------------------------

INTERIM_MODES = ("auto", "off", "force")


def interim_mode(query: Query, default: str) -> str:
    """`?interim_mode=auto|off|force`, else the server's default (`--interim`)."""
    value = query.get("interim_mode") if query else None
    if value is None:
        return default
    if value not in INTERIM_MODES:
        raise RequestError(
            f"invalid interim_mode {value!r}: one of {', '.join(INTERIM_MODES)}",
            param="interim_mode",
        )
    return value


def with_interims(plan: ResponsePlan, facts: RequestFacts, default_mode: str) -> ResponsePlan:
    """Decide which interims go out before `plan` (the wire only executes the decision)."""
    query = facts.query
    if not query and not plan.interims:
        return plan  # the hot path: no query, nothing to send
    mode = interim_mode(query, default_mode) if query else default_mode
    interims = plan.interims
    headers = plan.headers
    interval = plan.processing_interval
    if query:
        listed = query.get("interim")
        if listed is not None:
            # `?interim=` on any path replaces the plan's interims, in the order given.
            links = tuple(check_header("Link", v, param="link")[1] for v in query.getall("link"))
            opts = Options(interim=parse_interim_list(listed), links=links)
            interims = interims_for(0, opts, (1, 1))
            # RFC 8297 §2: the final response repeats the hinted Link fields.
            present = {v for n, v in headers if n.lower() == "link"}
            hinted = dict.fromkeys(v for i in interims if i.status == 103 for _, v in i.headers)
            headers += tuple(("Link", v) for v in hinted if v not in present)
    if mode == "off" or (mode == "auto" and facts.version < (1, 1)):
        interims = ()  # RFC 9110 §15.2: no 1xx to an HTTP/1.0 client (force sends anyway)
    elif interims and (facts.header("expect") or "").strip().lower() == "100-continue":
        # _expect already sent (or deliberately withheld) the 100 before reading the body.
        interims = tuple(i for i in interims if i.status != 100)
    if plan.delay > 0 and any(i.status == 102 for i in interims):
        # 102 repeats every `?interval=` ms (default 1 s) while the delay runs. Parsed only
        # here: on other paths (/anything echoes its query) `interval` is just a parameter.
        value = query.get("interval") if query else None
        if value is not None:
            interval = parse_options(Query((("interval", value),))).interval
        interval = interval or 1.0
    return plan.evolve(interims=interims, headers=headers, processing_interval=interval)


def parse_fault_options(query: Query) -> tuple[Fault | None, Drip | None]:
    """`?fault=reset` and `?drip=10/100ms` on any built-in path (no scenario file needed).

    `?drip=CHUNK/EVERY` (EVERY a duration, default 100ms, at most 60 s) drips any body;
    `?fault=KIND` is one of FAULT_KINDS. For `slow-headers` the head is spread over `?delay=`
    (a duration, default 2s, at most 60 s) or, when only `?sleep=` is given, over `sleep` ms.
    """
    from mockstatus.scenarios.durations import parse_duration

    max_seconds = 60.0
    fault = drip = None
    if (value := query.get("drip")) is not None:
        chunk, _sep, every = value.partition("/")
        try:
            if not (chunk.isascii() and chunk.isdigit()):
                raise ValueError
            drip = Drip(chunk=int(chunk), every=parse_duration(every or "100ms"))
            if drip.chunk < 1 or drip.every > max_seconds:
                raise ValueError
        except ValueError:
            raise RequestError(
                f"invalid drip {value!r}: CHUNK/EVERY, e.g. 10/100ms (chunk >= 1 byte, every <= 60s)",
                param="drip",
            ) from None
    if (value := query.get("fault")) is not None:
        if value not in FAULT_KINDS:
            raise RequestError(
                f"invalid fault {value!r}: one of {', '.join(sorted(FAULT_KINDS))}", param="fault"
            )
        delay = 0.0
        if value == "slow-headers":
            param, text = "delay", query.get("delay")
            try:
                if text is not None:
                    delay = parse_duration(text)
                elif (text := query.get("sleep")) is not None:
                    param, delay = "sleep", float(text) / 1000.0
                else:
                    delay = 2.0
                if not 0 < delay <= max_seconds:  # also rejects NaN
                    raise ValueError
            except ValueError:
                hint = "a duration like 500ms or 2s" if param == "delay" else "milliseconds"
                raise RequestError(
                    f"invalid {param} {text!r} for slow-headers: {hint}, more than 0 and at most 60 s",
                    param=param,
                ) from None
        fault = Fault(kind=value, delay=delay, drip=drip)
    return fault, drip
