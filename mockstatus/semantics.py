"""Pure status semantics: (request facts, options from `queries`) -> ResponsePlan. No aiohttp.

Per-code behaviour is a table (`rules.CODE_RULES`): each entry adds the headers and body a real server
would send for that code (STATUS-SEMANTICS.md). Plans without per-request inputs are memoised, so
the hot path of `/status/503` is a dict lookup, and a 200's derived ETag (code + SHA-256 of the
encoded body) is hashed once per memoised plan. `answer_preconditions` turns a GET/HEAD 200 into
the 304 or 412 its request's preconditions call for (RFC 9110 §13.2.2).
"""

from __future__ import annotations

import html
import json
import random
from collections.abc import Mapping, Set
from dataclasses import replace
from functools import lru_cache

from mockstatus import __version__, codes, conditional
from mockstatus.codes import is_bodiless
from mockstatus.errors import RequestError
from mockstatus.http_syntax import FRAMING_HEADERS, expects_continue, weight
from mockstatus.idcache import IdentityCache
from mockstatus.queries import (
    CodeChoice,
    interim_mode_of,
    interims_of,
    interval_of,
)
from mockstatus.rules import CODE_RULES, STANDARD_METHODS, Draft
from mockstatus.types import (
    DEFAULT_OPTIONS,
    FORMATS,
    Clock,
    Headers,
    Interim,
    Options,
    RandomSource,
    RequestFacts,
    ResponsePlan,
    SystemClock,
)

SERVER = f"mockstatus/{__version__}"
_SYSTEM_CLOCK = SystemClock()  # when no clock is injected (If-Modified-Since "in the future")

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
        q = weight(params)
        specific = 0 if media == "*/*" else (1 if media.endswith("/*") else 2)
        if q > 0 and (q > best_q or (q == best_q and specific > best_specific)):
            best, best_q, best_specific = fmt, q, specific
    if len(_ACCEPT_CACHE) < 1024:  # bounded: Accept values are client-controlled
        _ACCEPT_CACHE[accept] = best
    return best


# --- bodies ---------------------------------------------------------------------------------


def render_body(
    code: int, reason: str, description: str, fmt: str, extra: dict[str, object] | None = None
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
        # RFC 9110 §15.3.6: 205 has no content; §8.3: no Content-Type without content. A 304
        # keeps its Vary: it must be the one the 200 would have sent (§15.4.5).
        dropped = ("content-type",) if status == 304 else ("content-type", "vary")
        headers = [(n, v) for n, v in headers if n.lower() not in dropped]
    return plan.evolve(
        headers=tuple(headers),
        body=b"" if bodiless or status == 205 else plan.body,
        bodiless=bodiless,
        content_length_zero=status == 205,
    )


def _merge_user_headers(defaults: list[tuple[str, str]], user: Headers) -> Headers:
    """User headers replace defaults of the same name; framing headers are dropped."""
    if not user:
        return tuple(defaults)
    # Queries refuse framing headers (400); here they are dropped from any other source too.
    kept = tuple((n, v) for n, v in user if n.lower() not in FRAMING_HEADERS)
    return override_fields(kept, tuple(defaults), names={n.lower() for n, _ in user})


# timeit (arch2, min of 15 runs): 2.5 µs cached vs 3.2 µs recomputed per 429 with 5 base fields.
_LOWER_NAMES: IdentityCache[Headers, tuple[str, ...]] = IdentityCache(1024)


def override_fields(
    front: Headers, base: Headers, *, reused: bool = False, names: Set[str] | None = None
) -> Headers:
    """`front`, then the fields of `base` whose names `front` does not set (case-insensitive):
    the one way a per-request field reaches a plan (issue 11): `?header=` and a scenario's
    `headers:` over the code's defaults (`build_plan`), rate-limit fields over a memoised
    scenario plan, a limiter's fields over the memoised 429 (`scenarios.runtime`).

    `reused`: `base` is a memoised plan's headers, whose lower-cased names are kept by identity
    (`idcache`); `names`: the lower-cased names that replace (default: `front`'s).
    """
    if reused:
        entry = _LOWER_NAMES.get(id(base))
        lowered = (
            _LOWER_NAMES.put(base, tuple(n.lower() for n, _ in base)) if entry is None else entry[1]
        )
    else:
        lowered = tuple(n.lower() for n, _ in base)
    replaced = {n.lower() for n, _ in front} if names is None else names
    return front + tuple(h for h, n in zip(base, lowered, strict=True) if n not in replaced)


def build_plan(
    code: int,
    method: str,
    fmt: str,
    opts: Options = DEFAULT_OPTIONS,
    *,
    body: bytes | None = None,
    content_type: str | None = None,
    rng: RandomSource | None = None,
    request_headers: Mapping[str, str] | None = None,
) -> tuple[ResponsePlan, bool]:
    """The plan of `code` per STATUS-SEMANTICS.md; returns (plan, cacheable).

    `body`/`content_type` override the default body (scenarios); `opts.headers` override any
    default header of the same name. `opts.etag`: None derives the ETag where the code's rule
    asks for one (200, and 304 naming the 200), False sends none, a string (a quoted
    entity-tag) is sent whatever the code. `opts.body_digest` is `conditional.body_digest(body)`
    when the caller computed it once (a scenario's fixed body). `request_headers` (lower-case names)
    are for the rules that answer the request's own fields, such as Bearer's error code.
    """
    info = codes.lookup(code)
    reason = opts.reason or info.reason
    d = Draft(
        code,
        reason,
        info.description,
        opts.fmt or fmt,
        method,
        opts,
        [],
        rng=rng,
        request_headers=request_headers,
    )
    rule = CODE_RULES.get(code)
    if rule is not None:
        rule(d)
    body_digest = None
    if body is not None:
        d.body, d.content_type, d.negotiated = body, content_type, False
        body_digest = opts.body_digest  # the digest of `body`, when the caller has it
    if d.body is None:
        d.body = render_body(code, reason, d.description, d.fmt, d.extra)
        d.content_type = FORMATS[d.fmt]
    headers: list[tuple[str, str]] = []
    if d.body or d.content_type:
        headers.append(("Content-Type", d.content_type or FORMATS[d.fmt]))
        if d.negotiated:
            headers.append(("Vary", "Accept"))
    tag = _entity_tag(d, opts.etag, body_digest)
    if tag is not None:
        headers.append(("ETag", tag))
    headers += d.headers
    if d.close:
        headers.append(("Connection", "close"))
    plan = ResponsePlan(
        status=code,
        reason=reason,
        headers=_merge_user_headers(headers, opts.headers),
        body=d.body,
        head=method == "HEAD",
        close=d.close,
        delay=opts.sleep,
    )
    return finish(plan), not d.dynamic


def _entity_tag(d: Draft, etag: str | bool | None, digest: str | None) -> str | None:
    """The ETag field of a draft whose body is final (see build_plan's `opts.etag`)."""
    if etag is False:
        return None
    if isinstance(etag, str):
        return etag
    if d.etag_from is None:
        return None
    if d.etag_from != d.code:  # a 304: the validator of the negotiated 200 (RFC 9110 §15.4.5)
        return _default_entity_tag(d.etag_from, d.fmt)
    assert d.body is not None
    return conditional.derived_entity_tag(d.code, digest or conditional.body_digest(d.body))


@lru_cache(maxsize=64)  # (code, format): a handful of entries
def _default_entity_tag(code: int, fmt: str) -> str | None:
    """The ETag of `code`'s default response in `fmt`, as `/status/{code}` sends it."""
    plan, _ = build_plan(code, "GET", fmt)
    return next((v for n, v in plan.headers if n == "ETag"), None)


# RFC 9110 §13.2.2: the preconditions a GET or HEAD can carry, in the order they are evaluated.
_PRECONDITION_FIELDS = ("if-match", "if-unmodified-since", "if-none-match", "if-modified-since")
# §15.4.5: a 304 SHOULD NOT carry representation metadata beyond the validators, Cache-Control,
# Expires, Vary and Content-Location (Last-Modified is kept: it guides cache updates).
_NOT_IN_304 = frozenset(
    {
        "content-type",
        "content-encoding",
        "content-language",
        "content-length",
        "content-range",
        "content-disposition",
    }
)


def has_preconditions(facts: RequestFacts) -> bool:
    """The request carries one of the §13.2.2 precondition fields."""
    given = facts.headers
    return (
        "if-none-match" in given
        or "if-modified-since" in given
        or "if-match" in given
        or "if-unmodified-since" in given
    )


def without_preconditions(facts: RequestFacts) -> RequestFacts:
    """The request without its precondition fields (to plan a representation first, then
    evaluate them against it: `endpoints.builtin_plan`)."""
    headers: dict[str, str] = {}
    for name, value in facts.headers.items():
        if name.lower() not in _PRECONDITION_FIELDS:
            headers.setdefault(name.lower(), value)  # first value wins, as RequestFacts says
    items = tuple(
        (n, v) for n, v in (facts.header_items or ()) if n.lower() not in _PRECONDITION_FIELDS
    )
    return replace(facts, headers=headers, header_items=items)


def answer_preconditions(
    plan: ResponsePlan, facts: RequestFacts, clock: Clock | None = None
) -> ResponsePlan:
    """RFC 9110 §13.2: a GET or HEAD answered 200 is conditional, as on a real resource.

    The validators are the ones the 200 carries: its ETag, and its Last-Modified only where one is
    sent (without it, If-Modified-Since and If-Unmodified-Since are ignored). In §13.2.2 order:
    If-Match, else If-Unmodified-Since, fail → 412; then If-None-Match, else If-Modified-Since,
    not modified → 304 with the 200's validators and caching fields. Other plans pass through;
    a request without preconditions costs two comparisons and four lookups (~0.4 µs).
    """
    if plan.status != 200 or (facts.method != "GET" and facts.method != "HEAD"):
        return plan
    given = facts.headers
    # Spelled out: any() over _PRECONDITION_FIELDS costs ~0.6 µs more per 200 (timeit), and
    # calling has_preconditions (the same test) ~0.1 µs more (280 vs 390 ns, timeit).
    if not (
        "if-none-match" in given
        or "if-modified-since" in given
        or "if-match" in given
        or "if-unmodified-since" in given
    ):
        return plan
    # A field sent on several lines is one comma-separated list (RFC 9110 §5.3): every line of
    # If-None-Match counts; two If-Modified-Since lines make an invalid date, which is ignored.
    fields: dict[str, str] = {}
    for name, value in facts.header_items or facts.headers.items():
        low = name.lower()
        if low in _PRECONDITION_FIELDS:
            fields[low] = f"{fields[low]}, {value}" if low in fields else value
    etag = last_modified = None
    for name, value in plan.headers:
        low = name.lower()
        if low == "etag":
            etag = value
        elif low == "last-modified":
            last_modified = value
    now = (clock or _SYSTEM_CLOCK).wall()
    modified = conditional.parse_http_date(last_modified, now=now)
    failed = conditional.evaluate(facts.method, fields, etag or "", modified, now=now)
    if failed is None:
        return plan
    if failed == 304:
        kept = tuple((n, v) for n, v in plan.headers if n.lower() not in _NOT_IN_304)
        return finish(
            plan.evolve(status=304, reason=codes.lookup(304).reason, headers=kept, reused=False)
        )
    refused, _ = build_plan(412, facts.method, negotiate(facts.header("accept")))
    return plan.evolve(
        status=412,
        reason=refused.reason,
        headers=refused.headers,
        body=refused.body,
        bodiless=refused.bodiless,
        reused=False,
    )


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


def repeat_hints(headers: Headers, interims: tuple[Interim, ...]) -> Headers:
    """RFC 8297 §2: the final response repeats the Link fields its 103s hinted (each once, and
    not when the final already carries it)."""
    present = {v for n, v in headers if n.lower() == "link"}
    hinted = dict.fromkeys(v for i in interims if i.status == 103 for _, v in i.headers)
    return headers + tuple(("Link", v) for v in hinted if v not in present)


class StatusSemantics:
    """Plans for `/status/{code}`, memoised for requests with no per-request options.

    Holds the injected random source for multi-code picks. Pure: no I/O, no aiohttp.
    """

    def __init__(self, rng: random.Random, clock: Clock | None = None) -> None:
        self._rng = rng
        self.clock = clock or _SYSTEM_CLOCK  # If-Modified-Since dates after "now" are ignored
        self._cache: dict[tuple[int, str, str], ResponsePlan] = {}
        for code in codes.CODES:
            for fmt in FORMATS:
                self.plan(code, "GET", fmt, DEFAULT_OPTIONS)

    def plan(
        self,
        code: int,
        method: str,
        fmt: str,
        opts: Options,
        request_headers: Mapping[str, str] | None = None,
    ) -> ResponsePlan:
        """The plan of `code`; memoised (ETag hashed once) when no option or header shapes it."""
        if opts is DEFAULT_OPTIONS:
            key = (code, method, fmt)
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        final = code
        if code < 200:
            final = opts.final or 200
        plan, cacheable = build_plan(
            final, method, fmt, opts, rng=self._rng, request_headers=request_headers
        )
        if code < 200 and code != 101:
            plan = replace(plan, interims=())
        if opts is DEFAULT_OPTIONS and cacheable and method in STANDARD_METHODS:
            plan = self._cache[(code, method, fmt)] = plan.evolve(reused=True)
        return plan

    def prepared(self, code: int, method: str, fmt: str) -> ResponsePlan | None:
        """`/status/{code}`'s plan without query when it can be rendered in advance (issue 19):
        memoisable (no rng, no request header) and `preparable`; None otherwise. Never draws."""
        if code < 200 or code in (101, 206) or method not in STANDARD_METHODS:
            return None  # 1xx carry interims; 101 upgrades; 206 reads Range (endpoints)
        if (code, method, fmt) not in self._cache and not build_plan(
            code, method, fmt, rng=random.Random(0)
        )[1]:
            return None  # a dynamic rule: asking self.plan would draw from the shared rng
        plan = self.plan(code, method, fmt, DEFAULT_OPTIONS)
        return plan if preparable(plan) else None

    def choose(self, choice: CodeChoice, opts: Options) -> int:
        if opts.seed is not None:
            return choice.pick(random.Random(opts.seed))
        return choice.pick(self._rng)


def preparable(plan: ResponsePlan) -> bool:
    """Whether a plan that depends only on method, path and format can be answered with bytes
    rendered in advance: nothing to wait for, interleave, break, upgrade or close, and no
    Connection or Date field of its own (the wire adds those per request)."""
    if plan.interims or plan.delay or plan.fault or plan.drip or plan.upgrade or plan.close:
        return False
    if plan.stream is not None:  # a timed body (wire/streams)
        return False
    return plan.status >= 200 and not any(
        n.lower() in ("connection", "date") for n, _ in plan.headers
    )


# --- interims requested by query -----------------------------------------------------------


def with_interims(plan: ResponsePlan, facts: RequestFacts, default_mode: str) -> ResponsePlan:
    """Decide which interims go out before `plan` (the wire only executes the decision)."""
    query = facts.query
    if not query and not plan.interims:
        return plan  # the hot path: no query, nothing to send
    mode = interim_mode_of(facts, default_mode)
    interims = plan.interims
    headers = plan.headers
    interval = plan.processing_interval
    listed, links = interims_of(facts)
    if listed is not None:
        # `?interim=` on any path replaces the plan's interims, in the order given.
        interims = interims_for(0, Options(interim=listed, links=links), (1, 1))
        headers = repeat_hints(headers, interims)
    if mode == "off" or (mode == "auto" and facts.version < (1, 1)):
        interims = ()  # RFC 9110 §15.2: no 1xx to an HTTP/1.0 client (force sends anyway)
    elif interims and expects_continue(facts.header("expect")):
        # The transport sent (or deliberately withheld) the 100 before reading the body
        # (`expect.answer_expect`).
        interims = tuple(i for i in interims if i.status != 100)
    if plan.delay > 0 and any(i.status == 102 for i in interims):
        # 102 repeats every `?interval=` ms (default 1 s) while the delay runs. Parsed only
        # here: on other paths (/anything echoes its query) `interval` is just a parameter.
        interval = interval_of(facts) or interval or 1.0
    return plan.evolve(interims=interims, headers=headers, processing_interval=interval)
