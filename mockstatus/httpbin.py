"""The httpbin catalog: httpbin's endpoints and JSON shapes, with RFC 9110 semantics.

Pure: request facts in, a `ResponsePlan` out (no aiohttp). `endpoints.builtin_plan` calls
`plan()` for a path none of its own endpoints owns; `reads_body()` tells the app which paths need
the request body. Where httpbin is wrong by an RFC we answer correctly (405 with Allow, 400 for
bad parameters, real preconditions on /cache): docs/httpbin.md lists each difference.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from mockstatus import codes, conditional, encoding, httpbin_content, ranges
from mockstatus.errors import RequestError
from mockstatus.http_syntax import ascii_float, weight
from mockstatus.httpbin_auth import (
    BASIC_REALM,
    QOPS,
    DigestChallenge,
    DigestVerifier,
    canonical_algorithm,
    parse_basic,
    parse_bearer,
    parse_digest,
)
from mockstatus.limits import (
    MAX_DRIP_WRITES,
    MAX_HTTPBIN_BYTES,
    MAX_HTTPBIN_DELAY,
    MAX_HTTPBIN_LINKS,
    MAX_HTTPBIN_STREAM,
    MAX_REDIRECTS,
    MAX_SEED_DIGITS,
)
from mockstatus.queries import check_header, location_uri, parse_code, response_headers_of
from mockstatus.semantics import finish
from mockstatus.types import Clock, Drip, Headers, RandomSource, RequestFacts, ResponsePlan

JSON_TYPE = "application/json"
ANY = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE"})
GET = frozenset({"GET", "HEAD"})

# The catalog as the index page and `/__mockstatus/catalog` list it: (path, what it does).
CATALOG: tuple[tuple[str, str], ...] = (
    ("/get", "the request's args, headers, origin and url"),
    ("/post", "POST: the above plus data, files, form and json"),
    ("/put", "PUT: as /post"),
    ("/patch", "PATCH: as /post"),
    ("/delete", "DELETE: as /post"),
    ("/anything", "any method: everything about the request"),
    ("/headers", "the request headers"),
    ("/ip", "the client's address"),
    ("/user-agent", "the User-Agent"),
    ("/uuid", "a UUID4"),
    ("/delay/{s}", f"answers after s seconds (at most {MAX_HTTPBIN_DELAY:g})"),
    ("/bytes/{n}", f"n random bytes (?seed= for the same bytes; at most {MAX_HTTPBIN_BYTES})"),
    ("/stream-bytes/{n}", "n random bytes in chunks (?seed=, ?chunk_size=)"),
    ("/stream/{n}", f"n JSON lines (at most {MAX_HTTPBIN_STREAM})"),
    ("/drip", "?numbytes= bytes over ?duration= seconds after ?delay=, with ?code="),
    ("/range/{n}", "n bytes honouring Range and If-Range (RFC 9110 §14)"),
    ("/cookies", "the request's cookies"),
    ("/cookies/set", "?name=value sets cookies, then 302 to /cookies"),
    ("/cookies/set/{name}/{value}", "sets one cookie, then 302 to /cookies"),
    ("/cookies/delete", "?name expires cookies, then 302 to /cookies"),
    ("/basic-auth/{user}/{passwd}", "Basic authentication (401 with a challenge)"),
    ("/hidden-basic-auth/{user}/{passwd}", "Basic authentication, 404 when it fails"),
    ("/bearer", "Bearer token authentication"),
    (
        "/digest-auth/{qop}/{user}/{passwd}/{algorithm}/{stale_after}",
        "Digest authentication (RFC 7616: MD5, SHA-256, SHA-512; -sess)",
    ),
    ("/cache", "304 for a matching If-None-Match or If-Modified-Since"),
    ("/cache/{n}", "Cache-Control: public, max-age=n"),
    ("/etag/{etag}", "preconditions against the given ETag"),
    ("/response-headers", "?Name=value response headers, echoed in the body"),
    ("/base64/{value}", "the decoded URL-safe base64 value"),
    ("/links/{n}/{offset}", f"a page of n links (at most {MAX_HTTPBIN_LINKS})"),
    ("/html", "an HTML page"),
    ("/json", "a JSON document"),
    ("/xml", "an XML document"),
    ("/robots.txt", "robots rules"),
    ("/deny", "the page robots.txt denies"),
    ("/encoding/utf8", "a UTF-8 page"),
    ("/gzip", "gzip-encoded JSON"),
    ("/deflate", "deflate-encoded JSON"),
    ("/brotli", "brotli-encoded JSON (when the brotli module is installed)"),
    ("/image", "an image chosen by Accept (webp, svg, jpeg, png)"),
    ("/image/{png,jpeg,webp,svg}", "that image"),
    ("/forms/post", "an HTML form posting to /post"),
    ("/redirect/{n}", "n redirects, then /get (?absolute=true)"),
    ("/redirect-to", "?url= with ?status_code= (3xx, default 302)"),
    ("/relative-redirect/{n}", "n relative redirects, then /get"),
    ("/absolute-redirect/{n}", "n absolute redirects, then /get"),
    ("/websocket/echo", "a WebSocket echo"),
)

_VERIFIER = DigestVerifier()


@dataclass(frozen=True, slots=True)
class Ctx:
    """What a handler may use besides the request: the injected random source and clock."""

    rng: RandomSource
    clock: Clock


Handler = Callable[[RequestFacts, Ctx, list[str]], ResponsePlan]


@dataclass(frozen=True, slots=True)
class Route:
    methods: frozenset[str]
    handler: Handler
    arity: tuple[int, int]  # path segments after the first: (least, most)


# --- shared pieces -----------------------------------------------------------------------------


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def request_headers(facts: RequestFacts) -> dict[str, str]:
    """httpbin's `headers`: canonical capitalisation, repeated fields joined with ", "."""
    out: dict[str, str] = {}
    for name, value in facts.header_items:
        key = _title(name)
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _url(facts: RequestFacts) -> str:
    return f"{facts.scheme}://{facts.host}{facts.raw_path or facts.path}"


def _get_doc(facts: RequestFacts) -> dict[str, Any]:
    return {
        "args": facts.query.to_dict(),
        "headers": request_headers(facts),
        "origin": facts.remote,
        "url": _url(facts),
    }


def _text_or_data_url(body: bytes, media: str = "application/octet-stream") -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return f"data:{media};base64,{base64.b64encode(body).decode()}"


def _add(target: dict[str, Any], key: str, value: str) -> None:
    prior = target.get(key)
    if prior is None:
        target[key] = value
    else:
        target[key] = [*([prior] if isinstance(prior, str) else prior), value]


@dataclass(frozen=True, slots=True)
class BodyFields:
    """httpbin's view of a request body: raw `data` (empty for forms), `form`, `files`, `json`."""

    data: str
    form: dict[str, Any]
    files: dict[str, Any]
    json: Any


def body_fields(facts: RequestFacts) -> BodyFields:
    body = facts.body or b""
    content_type = facts.header("content-type") or ""
    media = content_type.split(";")[0].strip().lower()
    form: dict[str, Any] = {}
    files: dict[str, Any] = {}
    if media == "application/x-www-form-urlencoded":
        for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            _add(form, key, value)
        return BodyFields("", form, files, None)
    if media == "multipart/form-data":
        _multipart(content_type, body, form, files)
        return BodyFields("", form, files, None)
    data = _text_or_data_url(body)
    parsed: Any = None
    if data and not data.startswith("data:"):
        try:
            parsed = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the stack
            parsed = None
    return BodyFields(data, form, files, parsed)


def _multipart(content_type: str, body: bytes, form: dict[str, Any], files: dict[str, Any]) -> None:
    """multipart/form-data (RFC 7578) through the standard library's MIME parser."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("utf-8", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise RequestError("the multipart/form-data body cannot be parsed (no boundary)")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        raw = part.get_payload(decode=True)
        payload = raw if isinstance(raw, bytes) else b""
        if part.get_filename() is not None:
            media = part.get_content_type() if "content-type" in part else None
            _add(files, name, _text_or_data_url(payload, media or "application/octet-stream"))
        else:
            try:
                text = payload.decode(part.get_content_charset() or "utf-8", "replace")
            except LookupError:  # a charset Python does not know
                text = payload.decode("utf-8", "replace")
            _add(form, name, text)


def _post_doc(facts: RequestFacts) -> dict[str, Any]:
    fields = body_fields(facts)
    return {
        "args": facts.query.to_dict(),
        "data": fields.data,
        "files": fields.files,
        "form": fields.form,
        "headers": request_headers(facts),
        "json": fields.json,
        "origin": facts.remote,
        "url": _url(facts),
    }


def _plan(
    facts: RequestFacts,
    body: bytes,
    content_type: str | None,
    *,
    status: int = 200,
    headers: Headers = (),
) -> ResponsePlan:
    head: Headers = (("Content-Type", content_type),) if content_type else ()
    return finish(
        ResponsePlan(
            status=status,
            reason=codes.lookup(status).reason,
            headers=(*head, *headers),
            body=body,
            head=facts.method == "HEAD",
        )
    )


def _json(
    facts: RequestFacts, doc: object, *, status: int = 200, headers: Headers = ()
) -> ResponsePlan:
    body = json.dumps(doc, indent=2, ensure_ascii=False).encode() + b"\n"
    return _plan(facts, body, JSON_TYPE, status=status, headers=headers)


def _redirect(facts: RequestFacts, location: str, status: int = 302) -> ResponsePlan:
    reason = codes.lookup(status).reason
    body = f"{status} {reason}: see {location}\n".encode()
    return _plan(
        facts,
        body,
        "text/plain; charset=utf-8",
        status=status,
        headers=(("Location", location),),
    )


def _origin(facts: RequestFacts) -> str:
    return f"{facts.scheme}://{facts.host}"


def _number(text: str, param: str, high: float) -> float:
    """A finite, non-negative decimal (`/delay/1.5`); over `high` is clamped like httpbin."""
    try:
        value = ascii_float(text)
    except ValueError:
        value = -1.0
    if not (value >= 0 and len(text) <= 32):  # also rejects NaN; inf is clamped
        raise RequestError(f"invalid {param} {text[:40]!r}: a number of seconds >= 0", param=param)
    return min(value, high)


def _count(text: str, param: str, high: int, *, clamp: bool = True) -> int:
    """A decimal count; over `high` is clamped (httpbin's rule) or refused."""
    if not (text.isascii() and text.isdigit()):
        raise RequestError(f"invalid {param} {text[:40]!r}: a non-negative integer", param=param)
    if len(text.lstrip("0")) > len(str(high)) or int(text) > high:
        if clamp:
            return high
        raise RequestError(f"invalid {param} {text[:40]}: at most {high}", param=param)
    return int(text)


def _rng_for(facts: RequestFacts, ctx: Ctx) -> RandomSource:
    seed = facts.query.get("seed")
    if seed is None:
        return ctx.rng
    digits = seed.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > MAX_SEED_DIGITS:
        raise RequestError(f"invalid seed {seed[:40]!r}: an integer", param="seed")
    return random.Random(int(seed))


def _random_bytes(rng: RandomSource, n: int) -> bytes:
    return rng.getrandbits(n * 8).to_bytes(n, "little") if n else b""


# --- handlers ----------------------------------------------------------------------------------


def _h_get(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    return _json(facts, _get_doc(facts))


def _h_body(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    return _json(facts, _post_doc(facts))


def _h_headers(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    return _json(facts, {"headers": request_headers(facts)})


def _h_ip(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    return _json(facts, {"origin": facts.remote})


def _h_user_agent(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    return _json(facts, {"user-agent": facts.header("user-agent")})


def _h_uuid(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    value = uuid.UUID(int=ctx.rng.getrandbits(128), version=4)
    return _json(facts, {"uuid": str(value)})


def _h_delay(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    seconds = _number(args[0], "delay", MAX_HTTPBIN_DELAY)
    return _json(facts, _post_doc(facts)).evolve(delay=seconds)


def _h_bytes(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    n = _count(args[0], "n", MAX_HTTPBIN_BYTES)
    body = _random_bytes(_rng_for(facts, ctx), n)
    return _plan(facts, body, "application/octet-stream")


def _h_stream_bytes(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    n = _count(args[0], "n", MAX_HTTPBIN_BYTES)
    chunk_text = facts.query.get("chunk_size", "10240") or ""
    chunk = max(1, _count(chunk_text, "chunk_size", MAX_HTTPBIN_BYTES), -(-n // MAX_DRIP_WRITES))
    body = _random_bytes(_rng_for(facts, ctx), n)
    return _plan(facts, body, "application/octet-stream").evolve(drip=Drip(chunk=chunk, every=0.0))


def _h_drip(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    q = facts.query
    duration = _number(q.get("duration", "2") or "", "duration", MAX_HTTPBIN_DELAY)
    delay = _number(q.get("delay", "0") or "", "delay", MAX_HTTPBIN_DELAY)
    numbytes = _count(q.get("numbytes", "10") or "", "numbytes", MAX_HTTPBIN_BYTES, clamp=False)
    if numbytes < 1:
        raise RequestError("invalid numbytes 0: at least 1", param="numbytes")
    status = 200
    if (code := q.get("code")) is not None:
        status = parse_code(code, param="code", allow_1xx=False)
    plan = _plan(facts, b"*" * numbytes, "application/octet-stream", status=status)
    chunk = -(-numbytes // MAX_DRIP_WRITES)  # one byte at a time up to MAX_DRIP_WRITES bytes
    writes = -(-numbytes // chunk)
    return plan.evolve(delay=delay, drip=Drip(chunk=chunk, every=duration / writes))


def _h_range(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    n = _count(args[0], "n", MAX_HTTPBIN_BYTES, clamp=False)
    head = facts.method == "HEAD"
    etag = ranges.entity_tag(n)
    failed = conditional.evaluate(facts.method, facts.headers, etag, ranges.LAST_MODIFIED_EPOCH)
    if failed is not None:  # RFC 9110 §13.2.2: preconditions before Range
        validators = (("ETag", etag), ("Last-Modified", ranges.LAST_MODIFIED))
        return _plan(facts, b"", None, status=failed, headers=validators)
    outcome = ranges.plan_range(
        facts.method,
        facts.header("range"),
        facts.header("if-range"),
        n,
        content_type="application/octet-stream",
    )
    return finish(
        ResponsePlan(
            status=outcome.status,
            reason=codes.lookup(outcome.status).reason,
            headers=outcome.headers,
            body=outcome.body,
            head=head,
        )
    )


# --- cookies (RFC 6265) ------------------------------------------------------------------------

_COOKIE_OCTETS = frozenset(
    chr(c) for c in range(0x21, 0x7F) if chr(c) not in '",;\\'
)  # RFC 6265 §4.1.1 cookie-octet
_EXPIRED = "Thu, 01 Jan 1970 00:00:00 GMT"


def request_cookies(facts: RequestFacts) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in facts.header_items:
        if name.lower() != "cookie":
            continue
        for pair in value.split(";"):
            key, sep, val = pair.strip().partition("=")
            if sep and key:
                out.setdefault(key, val)
    return out


def _set_cookie(name: str, value: str, *, expire: bool = False) -> tuple[str, str]:
    check_header(name, "", param="cookie")  # a cookie-name is a token (RFC 6265 §4.1.1)
    inner = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if not all(c in _COOKIE_OCTETS for c in inner):
        raise RequestError(
            f"invalid cookie value for {name}: RFC 6265 cookie-octets only (no space, "
            "double quote, comma, semicolon, backslash or control character; percent-encode them)",
            param=name,
        )
    if expire:
        return "Set-Cookie", f"{name}=; Expires={_EXPIRED}; Max-Age=0; Path=/"
    return "Set-Cookie", f"{name}={value}; Path=/"


def _h_cookies(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    return _json(facts, {"cookies": request_cookies(facts)})


def _h_cookies_set(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    if args:
        if len(args) != 2:
            raise RequestError(
                "use /cookies/set/{name}/{value} or /cookies/set?name=value", status=404
            )
        pairs: tuple[tuple[str, str], ...] = ((args[0], args[1]),)
    else:
        pairs = facts.query.items()
    headers = tuple(_set_cookie(name, value) for name, value in pairs)
    plan = _redirect(facts, "/cookies")
    return plan.evolve(headers=(*headers, *plan.headers))


def _h_cookies_delete(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    headers = tuple(
        _set_cookie(name, "", expire=True)
        for name in dict.fromkeys(k for k, _ in facts.query.items())
    )
    plan = _redirect(facts, "/cookies")
    return plan.evolve(headers=(*headers, *plan.headers))


def _cookies_route(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    if not args:
        return _h_cookies(facts, ctx, args)
    if args[0] == "set":
        return _h_cookies_set(facts, ctx, args[1:])
    if args[0] == "delete" and len(args) == 1:
        return _h_cookies_delete(facts, ctx, [])
    raise RequestError(
        f"no route for {facts.path}: try /cookies, /cookies/set, /cookies/delete", status=404
    )


# --- authentication ----------------------------------------------------------------------------


def _h_basic(
    facts: RequestFacts, ctx: Ctx, args: list[str], *, hidden: bool = False
) -> ResponsePlan:
    user, password = args
    given = parse_basic(facts.header("authorization"))
    if given == (user, password):
        return _json(facts, {"authenticated": True, "user": user})
    if hidden:  # httpbin's point: a resource that does not admit it exists (RFC 9110 §15.5.5)
        return _json(facts, {"authenticated": False}, status=404)
    challenge = ("WWW-Authenticate", f'Basic realm="{BASIC_REALM}"')
    return _json(facts, {"authenticated": False}, status=401, headers=(challenge,))


def _h_hidden_basic(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    return _h_basic(facts, ctx, args, hidden=True)


def _h_bearer(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    token = parse_bearer(facts.header("authorization"))
    if token is None:  # RFC 6750 §3: no credentials → a challenge without an error code
        challenge = ("WWW-Authenticate", "Bearer")
        return _json(facts, {"authenticated": False}, status=401, headers=(challenge,))
    return _json(facts, {"authenticated": True, "token": token})


def _h_digest(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    qop_text, user, password = args[:3]
    algorithm = canonical_algorithm(args[3]) if len(args) > 3 else "MD5"
    if algorithm is None:
        raise RequestError(
            f"invalid algorithm {args[3][:40]!r}: MD5, SHA-256 or SHA-512 (or a -sess variant)",
            param="algorithm",
        )
    stale_after = args[4] if len(args) > 4 else "never"
    if stale_after != "never" and not (
        stale_after.isascii() and stale_after.isdigit() and len(stale_after) <= 9
    ):
        raise RequestError(
            "invalid stale_after: a count (at most 9 digits) or 'never'", param="stale_after"
        )
    qop = qop_text if qop_text in QOPS else None  # httpbin: anything else offers both
    cookies = request_cookies(facts)
    require_cookie = (facts.query.get("require-cookie") or "").lower() in ("1", "t", "true")
    fake = _set_cookie("fake", "fake_value")
    params = parse_digest(facts.header("authorization"))

    def challenge(stale: bool, *extra: tuple[str, str]) -> ResponsePlan:
        rand = ctx.rng.getrandbits(128)
        value = _VERIFIER.challenge(DigestChallenge(qop, algorithm, stale), rand)
        headers = (
            ("WWW-Authenticate", value),
            _set_cookie("stale_after", stale_after),
            *extra,
            fake,
        )
        return _plan(facts, b"", None, status=401, headers=headers)

    if params is None or (require_cookie and "cookie" not in facts.headers):
        return challenge(False)
    if require_cookie and cookies.get("fake") != "fake_value":
        return _json(
            facts, {"errors": ["missing cookie set on challenge"]}, status=403, headers=(fake,)
        )
    nonce = params.get("nonce", "")
    stale_value = cookies.get("stale_after")
    last_nonce = _set_cookie("last_nonce", nonce) if _is_cookie_safe(nonce) else fake
    if cookies.get("last_nonce") == nonce or stale_value == "0":
        return challenge(True, last_nonce)
    ok = _VERIFIER.check(
        params,
        method=facts.method,
        target=facts.raw_path or facts.path,
        user=user,
        password=password,
        qop=qop,
        algorithm=algorithm,
        body=facts.body or b"",
    )
    if not ok:
        return challenge(False, last_nonce)
    headers: tuple[tuple[str, str], ...] = (fake,)
    if stale_value:
        counts = stale_value.isascii() and stale_value.isdigit() and len(stale_value) <= 9
        following = str(int(stale_value) - 1) if counts else "never"
        headers += (_set_cookie("stale_after", following),)
    return _json(facts, {"authenticated": True, "user": user}, headers=headers)


def _is_cookie_safe(value: str) -> bool:
    return bool(value) and all(c in _COOKIE_OCTETS for c in value)


# --- caching -----------------------------------------------------------------------------------

CACHE_ETAG = '"ms-cache-v1"'


def _h_cache(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    if args:
        seconds = _count(args[0], "n", 2_147_483_648, clamp=False)  # RFC 9111 §1.2.2
        return _json(
            facts, _get_doc(facts), headers=(("Cache-Control", f"public, max-age={seconds}"),)
        )
    validators = (("ETag", CACHE_ETAG), ("Last-Modified", ranges.LAST_MODIFIED))
    status = conditional.evaluate(
        facts.method, facts.headers, CACHE_ETAG, ranges.LAST_MODIFIED_EPOCH, now=ctx.clock.wall()
    )
    if status is not None:
        return _plan(facts, b"", None, status=status, headers=validators)
    return _json(facts, _get_doc(facts), headers=validators)


# --- documents and headers ---------------------------------------------------------------------


def _h_response_headers(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    # Each ?Name=value becomes a header; framing headers are refused (the issue-8 rule).
    headers = response_headers_of(facts)
    doc: dict[str, Any] = {}
    for name, value in headers:
        _add(doc, name, value)
    has_type = any(n.lower() == "content-type" for n, _ in headers)
    if not has_type:
        doc["Content-Type"] = JSON_TYPE
    body = json.dumps(doc, indent=2).encode() + b"\n"
    return _plan(facts, body, None if has_type else JSON_TYPE, headers=headers)


_URLSAFE = str.maketrans("-_", "+/")


def _h_base64(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    value = args[0]
    try:
        padded = value.translate(_URLSAFE) + "=" * (-len(value) % 4)
        decoded = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(
            f"invalid base64 value {value[:40]!r}: URL-safe base64 (RFC 4648 §5)", param="value"
        ) from None
    return _plan(facts, decoded, "text/html; charset=utf-8")


def _h_links(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    n = _count(args[0], "n", MAX_HTTPBIN_LINKS)
    if len(args) == 1:
        return _redirect(facts, f"/links/{n}/0")
    offset = _count(args[1], "offset", MAX_HTTPBIN_LINKS)
    links = " ".join(
        str(i) if i == offset else f"<a href='/links/{n}/{i}'>{i}</a>" for i in range(n)
    )
    body = f"<html><head><title>Links</title></head><body>{links} </body></html>".encode()
    return _plan(facts, body, "text/html; charset=utf-8")


def _static(body: bytes, content_type: str) -> Handler:
    def handler(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
        return _plan(facts, body, content_type)

    return handler


def _h_encoding(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    if args != ["utf8"]:
        raise RequestError(f"no route for {facts.path}: try /encoding/utf8", status=404)
    return _plan(facts, httpbin_content.UTF8, "text/html; charset=utf-8")


def _h_forms(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    if args != ["post"]:
        raise RequestError(f"no route for {facts.path}: try /forms/post", status=404)
    return _plan(facts, httpbin_content.FORMS_POST, "text/html; charset=utf-8")


def _compress(coding: str, data: bytes) -> bytes | None:
    """One content coding (RFC 9110 §8.4.1) by the one encoder (mockstatus.encoding); None when
    brotli is not installed."""
    if coding == "br" and not encoding.brotli_available():
        return None
    return encoding.encode(data, coding)


def _encoded(coding: str, flag: str) -> Handler:
    def handler(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
        doc = {
            flag: True,
            "headers": request_headers(facts),
            "method": facts.method,
            "origin": facts.remote,
        }
        body = _compress(coding, json.dumps(doc, indent=2).encode() + b"\n")
        if body is None:
            raise RequestError(
                "brotli is not installed on this server (pip install brotli)", status=501
            )
        return _plan(
            facts,
            body,
            JSON_TYPE,
            headers=(("Content-Encoding", coding), ("Vary", "Accept-Encoding")),
        )

    return handler


# --- images ------------------------------------------------------------------------------------

_IMAGE_ORDER = ("webp", "svg", "jpeg", "png")  # httpbin's preference on a tie


def choose_image(accept: str | None) -> str | None:
    """The image for an Accept header (RFC 9110 §12.5.1: q-values, the most specific range
    wins); png without Accept; None when no image is acceptable (406)."""
    if not accept:
        return "png"
    best: tuple[float, int] = (0.0, 0)
    choice: str | None = None
    for rank, name in enumerate(_IMAGE_ORDER):
        media = httpbin_content.IMAGES[name][0]
        q, specificity = 0.0, -1
        for part in accept.split(","):
            rng, *params = part.split(";")
            rng = rng.strip().lower()
            level = 2 if rng == media else 1 if rng == "image/*" else 0 if rng == "*/*" else -1
            if level <= specificity:
                continue
            q, specificity = weight(params), level
        if not 0 < q <= 1:
            continue
        # Among equal q, a type named explicitly beats one reached through */* or image/*.
        rated = (q, specificity * 10 - rank)
        if choice is None or rated > best:
            best, choice = rated, name
    return choice


def _h_image(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    if args:
        name = args[0]
        if name not in httpbin_content.IMAGES:
            raise RequestError(f"no image {name[:40]!r}: png, jpeg, webp or svg", status=404)
        media, data = httpbin_content.IMAGES[name]
        return _plan(facts, data, media)
    name_or_none = choose_image(facts.header("accept"))
    if name_or_none is None:
        doc = {
            "message": "Client did not request a supported media type.",
            "accept": [httpbin_content.IMAGES[n][0] for n in _IMAGE_ORDER],
        }
        return _json(facts, doc, status=406, headers=(("Vary", "Accept"),))
    media, data = httpbin_content.IMAGES[name_or_none]
    return _plan(facts, data, media, headers=(("Vary", "Accept"),))


# --- redirects ---------------------------------------------------------------------------------


def _h_redirect_to(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    url = facts.query.get("url")
    if not url:
        raise RequestError("missing url: /redirect-to?url=…", param="url")
    check_header("Location", url, param="url")
    # RFC 9110 §10.2.2: Location is a URI-reference; non-ASCII and spaces are percent-encoded
    # (httpbin sends the raw UTF-8 bytes). Reserved characters and existing escapes stay.
    url = location_uri(url)
    status = 302
    if (code := facts.query.get("status_code")) is not None:
        status = parse_code(code, param="status_code")
        if not 300 <= status <= 399:
            raise RequestError("invalid status_code: a 3xx code", param="status_code")
    return _redirect(facts, url, status)


def _chain(absolute: bool) -> Handler:
    kind = "absolute" if absolute else "relative"

    def handler(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
        n = _count(args[0], "n", MAX_REDIRECTS, clamp=False)
        if n < 1:
            raise RequestError("invalid n 0: at least 1 redirect", param="n")
        base = _origin(facts) if absolute else ""
        target = "/get" if n == 1 else f"/{kind}-redirect/{n - 1}"
        return _redirect(facts, base + target)

    return handler


def redirect_location(facts: RequestFacts, n: int, suffix: str, absolute: bool) -> str:
    """The next hop of `/redirect/{n}`: `/redirect/{n-1}`, and `/get` after the last
    (absolute URLs with `?absolute=true`, as httpbin: `queries.redirect_of`)."""
    path = f"/redirect/{n - 1}{suffix}" if n > 1 else "/get"
    return (_origin(facts) + path) if absolute else path


def _h_websocket(facts: RequestFacts, ctx: Ctx, args: list[str]) -> ResponsePlan:
    if args != ["echo"]:
        raise RequestError(f"no route for {facts.path}: try /websocket/echo", status=404)
    connection = {t.strip().lower() for t in (facts.header("connection") or "").split(",")}
    if (
        facts.header("upgrade") or ""
    ).strip().lower() != "websocket" or "upgrade" not in connection:
        # RFC 9110 §15.5.22: 426 names the protocol to upgrade to.
        body = b"426 Upgrade Required: this is a WebSocket echo; send Upgrade: websocket\n"
        headers = (("Upgrade", "websocket"), ("Connection", "Upgrade"))
        return _plan(facts, body, "text/plain; charset=utf-8", status=426, headers=headers)
    return ResponsePlan(status=101, reason="Switching Protocols", upgrade="websocket")


# --- dispatch ----------------------------------------------------------------------------------

_ROUTES: dict[str, Route] = {
    "get": Route(GET, _h_get, (0, 0)),
    "post": Route(frozenset({"POST"}), _h_body, (0, 0)),
    "put": Route(frozenset({"PUT"}), _h_body, (0, 0)),
    "patch": Route(frozenset({"PATCH"}), _h_body, (0, 0)),
    "delete": Route(frozenset({"DELETE"}), _h_body, (0, 0)),
    "headers": Route(GET, _h_headers, (0, 0)),
    "ip": Route(GET, _h_ip, (0, 0)),
    "user-agent": Route(GET, _h_user_agent, (0, 0)),
    "uuid": Route(GET, _h_uuid, (0, 0)),
    "delay": Route(ANY, _h_delay, (1, 1)),
    "bytes": Route(GET, _h_bytes, (1, 1)),
    "stream-bytes": Route(GET, _h_stream_bytes, (1, 1)),
    "drip": Route(GET, _h_drip, (0, 0)),
    "range": Route(GET, _h_range, (1, 1)),
    "cookies": Route(GET, _cookies_route, (0, 3)),
    "basic-auth": Route(GET, _h_basic, (2, 2)),
    "hidden-basic-auth": Route(GET, _h_hidden_basic, (2, 2)),
    "bearer": Route(GET, _h_bearer, (0, 0)),
    "digest-auth": Route(GET, _h_digest, (3, 5)),
    "cache": Route(GET, _h_cache, (0, 1)),
    "response-headers": Route(frozenset({"GET", "HEAD", "POST"}), _h_response_headers, (0, 0)),
    "base64": Route(GET, _h_base64, (1, 1)),
    "links": Route(GET, _h_links, (1, 2)),
    "html": Route(GET, _static(httpbin_content.HTML, "text/html; charset=utf-8"), (0, 0)),
    "json": Route(GET, _static(httpbin_content.JSON, JSON_TYPE), (0, 0)),
    "xml": Route(GET, _static(httpbin_content.XML, "application/xml"), (0, 0)),
    "robots.txt": Route(GET, _static(httpbin_content.ROBOTS_TXT, "text/plain"), (0, 0)),
    "deny": Route(GET, _static(httpbin_content.DENY, "text/plain"), (0, 0)),
    "encoding": Route(GET, _h_encoding, (1, 1)),
    "gzip": Route(GET, _encoded("gzip", "gzipped"), (0, 0)),
    "deflate": Route(GET, _encoded("deflate", "deflated"), (0, 0)),
    "brotli": Route(GET, _encoded("br", "brotli"), (0, 0)),
    "image": Route(GET, _h_image, (0, 1)),
    "forms": Route(GET, _h_forms, (1, 1)),
    "redirect-to": Route(ANY, _h_redirect_to, (0, 0)),
    "relative-redirect": Route(ANY, _chain(False), (1, 1)),
    "absolute-redirect": Route(ANY, _chain(True), (1, 1)),
    "websocket": Route(frozenset({"GET"}), _h_websocket, (1, 1)),
}

_BODY_ROUTES = frozenset({"post", "put", "patch", "delete", "delay", "digest-auth"})


def _split(path: str) -> tuple[str, list[str]]:
    first, _, rest = path[1:].partition("/")
    return first, (rest.split("/") if rest else [])


def reads_body(path: str) -> bool:
    """Whether the endpoint at `path` reports or checks the request body (httpbin's echo paths,
    /delay, Digest's auth-int): the app reads the body only for these."""
    return _split(path)[0] in _BODY_ROUTES


def _allow(methods: frozenset[str]) -> str:
    return ", ".join(sorted(methods | {"OPTIONS"}))


def plan(facts: RequestFacts, rng: RandomSource, clock: Clock) -> ResponsePlan | None:
    """The plan of an httpbin endpoint, or None when `facts.path` is not one."""
    first, args = _split(facts.path)
    route = _ROUTES.get(first)
    if route is None:
        return None
    least, most = route.arity
    if not least <= len(args) <= most or (args and args[-1] == "" and most == least == 0):
        return None
    if facts.method == "OPTIONS":
        return _plan(facts, b"", None, status=204, headers=(("Allow", _allow(route.methods)),))
    if facts.method not in route.methods:
        # RFC 9110 §15.5.6: a 405 lists the methods the resource supports.
        err = f"405 Method Not Allowed: {facts.path} supports {_allow(route.methods)}\n"
        return _plan(
            facts,
            err.encode(),
            "text/plain; charset=utf-8",
            status=405,
            headers=(("Allow", _allow(route.methods)),),
        )
    return route.handler(facts, Ctx(rng, clock), args)
