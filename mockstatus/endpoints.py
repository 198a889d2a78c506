"""Plans of the built-in endpoints: /status, echo, redirect chains, ranges, conditionals, the
index page, CORS preflights, and the dispatch between them.

Pure functions of RequestFacts; no aiohttp.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
from urllib.parse import parse_qsl

from mockstatus import codes, conditional, httpbin, ranges
from mockstatus.errors import RequestError
from mockstatus.limits import MAX_REDIRECTS
from mockstatus.queries import (
    check_header,
    compress_of,
    echo_of,
    fault_of,
    is_token,
    options_of,
    parse_code_spec,
    parse_digits,
    redirect_of,
)
from mockstatus.rules import STANDARD_METHODS
from mockstatus.semantics import (
    StatusSemantics,
    answer_preconditions,
    build_plan,
    error_plan,
    finish,
    has_preconditions,
    interims_for,
    negotiate,
    repeat_hints,
    without_preconditions,
)
from mockstatus.types import (
    DEFAULT_OPTIONS,
    ENCODING_FAULTS,
    FORMATS,
    Headers,
    Options,
    RequestFacts,
    ResponsePlan,
)


def _json_plan(
    status: int, doc: object, facts: RequestFacts, headers: Headers = ()
) -> ResponsePlan:
    return finish(
        ResponsePlan(
            status=status,
            reason=codes.lookup(status).reason,
            headers=(("Content-Type", "application/json"), *headers),
            body=json.dumps(doc, indent=2).encode() + b"\n",
            head=facts.method == "HEAD",
        )
    )


def describe_request(facts: RequestFacts) -> dict[str, object]:
    """The request as the echo endpoint reports it."""
    body = facts.body or b""
    try:
        text: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    content_type = (facts.header("content-type") or "").split(";")[0].strip().lower()
    parsed_json: object = None
    if text and (content_type.endswith("json") or content_type == ""):
        try:
            parsed_json = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the stack
            parsed_json = None
    form: dict[str, str | list[str]] = {}
    if text and content_type == "application/x-www-form-urlencoded":
        for key, value in parse_qsl(text, keep_blank_values=True):
            prior = form.get(key)
            form[key] = (
                value if prior is None else [*([prior] if isinstance(prior, str) else prior), value]
            )
    headers: dict[str, str] = {}
    for name, value in facts.header_items:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    fields = httpbin.body_fields(facts)  # httpbin's data, files (and multipart form)
    return {
        "method": facts.method,
        "url": f"{facts.scheme}://{facts.host}{facts.raw_path or facts.path}",
        "path": facts.path,
        "args": facts.query.to_dict(),
        "headers": headers,
        "body": text if text is not None else base64.b64encode(body).decode(),
        "body_encoding": "utf-8" if text is not None else "base64",
        "json": parsed_json,
        "form": form or fields.form,
        "data": fields.data,
        "files": fields.files,
        "origin": facts.remote,
        "client": facts.remote,
        # The journal's names ("HTTP/1.1", "HTTP/1.0", "HTTP/2"): HTTP/2 has no minor version
        "http_version": "HTTP/2"
        if facts.version[0] == 2
        else f"HTTP/{facts.version[0]}.{facts.version[1]}",
    }


def echo_plan(facts: RequestFacts) -> ResponsePlan:
    status, extra = echo_of(facts)
    return _json_plan(status, describe_request(facts), facts, extra)


def redirect_plan(tail: str, facts: RequestFacts) -> ResponsePlan:
    """`/redirect/{n}`: a 302 to `/redirect/{n-1}` … and then `/get`, like httpbin."""
    n = parse_digits(
        tail, "n", MAX_REDIRECTS, f"an integer from 0 to {MAX_REDIRECTS}", what="redirect count"
    )
    status, given, absolute = redirect_of(facts)
    if n == 0:
        return _json_plan(200, describe_request(facts), facts)
    suffix = f"?status={status}" if given else ""
    if absolute:
        suffix += ("&" if suffix else "?") + "absolute=" + absolute
    location = httpbin.redirect_location(facts, n, suffix, absolute.lower() == "true")
    fmt = negotiate(facts.header("accept"))
    reason = codes.lookup(status).reason
    return finish(
        ResponsePlan(
            status=status,
            reason=reason,
            headers=(("Content-Type", FORMATS["text"]), ("Location", location)),
            body=f"{status} {reason}: {n} redirect(s) left, next {location}".encode()
            if fmt != "json"
            else json.dumps({"code": status, "location": location, "remaining": n}).encode(),
            head=facts.method == "HEAD",
        )
    )


# Every built-in endpoint (path, what it does): the index page and the admin catalog list them.
_OWN_ENDPOINTS = (
    ("/status/{code}", "answers that status code (or a weighted list of codes)"),
    ("/anything", "any method: echoes the request as JSON"),
    ("/redirect/{n}", "n redirects, then /get (?status=, ?absolute=true)"),
    ("/conditional", "a resource evaluating preconditions (304, 412)"),
    ("/__mockstatus/health", "200 while the server runs"),
)
ENDPOINTS: tuple[tuple[str, str], ...] = (
    *_OWN_ENDPOINTS,
    *(e for e in httpbin.CATALOG if e[0] not in {p for p, _ in _OWN_ENDPOINTS}),
)


def _index_json() -> bytes:
    return json.dumps(
        {
            "codes": [
                {
                    "code": info.code,
                    "reason": info.reason,
                    "class": info.status_class,
                    "description": info.description,
                    "rfc": info.rfc,
                    "url": f"/status/{info.code}",
                }
                for info in codes.CODES.values()
                if info.registered
            ],
            "endpoints": [path for path, _ in ENDPOINTS],
        },
        indent=2,
    ).encode()


def _index_html() -> bytes:
    rows = "\n".join(
        f'<tr><td><a href="/status/{i.code}">{i.code}</a></td><td>{html.escape(i.reason)}</td>'
        f"<td>{html.escape(i.description)}</td><td>{html.escape(i.rfc)}</td></tr>"
        for i in codes.CODES.values()
        if i.registered
    )
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8"><title>mockstatus</title></head>\n'
        "<body><h1>mockstatus</h1><p>Every HTTP status code, answered the way a real server "
        'would. Try <a href="/status/503">/status/503</a>, '
        '<a href="/anything">/anything</a>, <a href="/redirect/3">/redirect/3</a>. '
        "Any code from 100 to 599 works; the registered ones:</p>\n"
        "<table><thead><tr><th>code</th><th>reason</th><th>meaning</th><th>defined in</th>"
        f"</tr></thead>\n<tbody>\n{rows}\n</tbody></table>\n{_httpbin_html()}</body></html>\n"
    ).encode()


def _httpbin_html() -> str:
    items = "\n".join(
        f"<li><code>{html.escape(path)}</code>: {html.escape(what)}</li>"
        for path, what in httpbin.CATALOG
    )
    return f"<h2>httpbin endpoints</h2>\n<ul>\n{items}\n</ul>\n"


_INDEX = {"json": _index_json(), "html": _index_html()}


def index_plan(facts: RequestFacts) -> ResponsePlan:
    fmt = "json" if negotiate(facts.header("accept")) == "json" else "html"
    return finish(
        ResponsePlan(
            status=200,
            reason="OK",
            headers=(("Content-Type", FORMATS[fmt]), ("Vary", "Accept")),
            body=_INDEX[fmt],
            head=facts.method == "HEAD",
        )
    )


# The methods this server answers on any resource: `OPTIONS *` and a refused CONNECT list them.
SERVER_ALLOW = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"


def asterisk_plan(facts: RequestFacts) -> ResponsePlan:
    """The `*` request target (RFC 9112 §3.2.4) is for `OPTIONS *`, which asks about the server
    itself (RFC 9110 §9.3.7): 200 with `Allow` and no content; any other method is a 400."""
    if facts.method != "OPTIONS":
        err = RequestError(f"the request target '*' is only for OPTIONS, not {facts.method}")
        return error_plan(err, facts)
    return finish(ResponsePlan(status=200, reason="OK", headers=(("Allow", SERVER_ALLOW),)))


def connect_plan(facts: RequestFacts) -> ResponsePlan:
    """CONNECT asks for a tunnel (RFC 9110 §9.3.6): this server is not a proxy. Closed after,
    as the client may already be sending tunnel bytes."""
    err = RequestError("CONNECT is not supported: this is not a proxy", status=405)
    plan = error_plan(err, facts)
    return plan.evolve(headers=(("Allow", SERVER_ALLOW), *plan.headers), close=True)


def not_found_plan(facts: RequestFacts) -> ResponsePlan:
    err = RequestError(
        f"no route for {facts.path}: try /status/{{code}}, /anything, /redirect/{{n}} or /",
        status=404,
    )
    return error_plan(err, facts)


def range_plan(facts: RequestFacts, size: int | None) -> ResponsePlan:
    """`/status/206`: real byte ranges of a deterministic representation (RFC 9110 §14).

    Preconditions come first (§13.2.2: If-Match, If-Unmodified-Since, If-None-Match,
    If-Modified-Since → 412/304), then If-Range and Range. Without a Range header the request is
    answered as if `bytes=0-511` had been asked (that is what the path promises), whatever the
    method; an empty representation has no bytes to range over and is sent whole with 200.
    """
    size = ranges.DEFAULT_SIZE if size is None else size
    head = facts.method == "HEAD"
    etag = ranges.entity_tag(size)
    failed = conditional.evaluate(facts.method, facts.headers, etag, ranges.LAST_MODIFIED_EPOCH)
    if failed is not None:
        validators = (
            ("Accept-Ranges", "bytes"),
            ("ETag", etag),
            ("Last-Modified", ranges.LAST_MODIFIED),
        )
        reason = codes.lookup(failed).reason
        if failed == 304:
            return finish(ResponsePlan(status=304, reason=reason, headers=validators, head=head))
        return finish(
            ResponsePlan(
                status=412,
                reason=reason,
                headers=(("Content-Type", FORMATS["text"]),),
                body=f"412 {reason}: a precondition does not hold for ETag {etag}\n".encode(),
                head=head,
            )
        )
    range_header = facts.header("range")
    method = facts.method
    if range_header is None:
        if size == 0:
            range_header = None  # nothing to range over: 200 with the empty representation
        else:
            range_header = ranges.DEFAULT_206_RANGE
            method = "HEAD" if head else "GET"  # the synthetic range is honoured for any method
    outcome = ranges.plan_range(method, range_header, facts.header("if-range"), size)
    return finish(
        ResponsePlan(
            status=outcome.status,
            reason=codes.lookup(outcome.status).reason,
            headers=outcome.headers,
            body=outcome.body,
            head=head,
        )
    )


def conditional_plan(facts: RequestFacts, etag: str | None = None) -> ResponsePlan:
    """A resource that really evaluates preconditions (RFC 9110 §13.2.2): 304 or 412 or 200.

    `/conditional` has a fixed ETag and Last-Modified; `/etag/{etag}` uses the given ETag.
    """
    if etag is None:
        tag = CONDITIONAL_ETAG
    else:
        if (
            not etag
            or len(etag) > 200
            or not all(0x21 <= ord(c) <= 0x7E and c != '"' for c in etag)
        ):
            raise RequestError(
                "invalid etag: 1 to 200 visible ASCII characters, no double quote", param="etag"
            )
        tag = f'"{etag}"'
    validators = (
        ("ETag", tag),
        ("Last-Modified", ranges.LAST_MODIFIED),
        ("Cache-Control", "no-cache"),
    )
    status = (
        conditional.evaluate(facts.method, facts.headers, tag, ranges.LAST_MODIFIED_EPOCH) or 200
    )
    reason = codes.lookup(status).reason
    if status == 304:  # §15.4.5: the 200's validators and Vary
        return finish(
            ResponsePlan(status=304, reason=reason, headers=(*validators, ("Vary", "Accept")))
        )
    fmt = negotiate(facts.header("accept"))
    body = json.dumps({"code": status, "etag": tag, "last_modified": ranges.LAST_MODIFIED}).encode()
    if fmt != "json":
        body = f"{status} {reason}\nETag: {tag}\nLast-Modified: {ranges.LAST_MODIFIED}\n".encode()
    return finish(
        ResponsePlan(
            status=status,
            reason=reason,
            headers=(
                ("Content-Type", "application/json" if fmt == "json" else FORMATS["text"]),
                ("Vary", "Accept"),
                *(validators if status == 200 else ()),
            ),
            body=body,
            head=facts.method == "HEAD",
        )
    )


CONDITIONAL_ETAG = '"ms-conditional-v1"'


def _is_anything(path: str) -> bool:
    return path == "/anything" or path.startswith("/anything/")


def is_echo(path: str) -> bool:
    """Whether the built-in endpoint at `path` needs the request body (the app reads it)."""
    return _is_anything(path) or httpbin.reads_body(path)


def builtin_plan(facts: RequestFacts, sem: StatusSemantics) -> ResponsePlan:
    """The built-in endpoints, after no scenario route matched. The caller has read the body of
    an /anything request (`is_echo`).

    A content-coded GET or HEAD (`?compress=`, a coding fault) with preconditions is planned
    without them, coded, and only then evaluated: the ETag differs per coding, and a client's
    If-None-Match names the one it received (RFC 9110 §8.8.3, §13.1.2)."""
    if (
        facts.query
        and (facts.method == "GET" or facts.method == "HEAD")
        and has_preconditions(facts)
        and _coded(facts)
    ):
        # (the request without preconditions does not come back here)
        plan = builtin_plan(without_preconditions(facts), sem)
        return answer_preconditions(plan, facts, sem.clock)
    path = facts.path

    if path.startswith("/status/") or path == "/status":
        plan = status_plan(facts, path[8:], sem)
    elif _is_anything(path):
        plan = echo_plan(facts)
    elif path.startswith("/redirect/"):
        plan = redirect_plan(path[10:], facts)
    elif path == "/conditional":
        plan = conditional_plan(facts)
    elif path.startswith("/etag/"):
        plan = conditional_plan(facts, path[6:])
    elif path == "/":
        plan = index_plan(facts)
    elif path == "/sse" or path.startswith("/stream/"):
        from mockstatus import stream_endpoints

        if path == "/sse":
            plan = stream_endpoints.sse_plan(facts, sem.clock)
        else:
            plan = stream_endpoints.stream_lines_plan(facts, path[8:])
    elif facts.method == "CONNECT":
        return connect_plan(facts)
    elif path == "*":
        return asterisk_plan(facts)
    else:
        found = httpbin.plan(facts, sem._rng, sem.clock)  # the httpbin catalog (docs/httpbin.md)
        if found is None:
            return not_found_plan(facts)
        plan = found
    if facts.query:
        fault, drip = fault_of(facts)
        if fault is not None or drip is not None:
            plan = plan.evolve(fault=fault, drip=drip)
            if fault is not None and fault.after is not None:
                from mockstatus.positions import check_reachable

                check_reachable(plan)  # 400 for an `after` past the body (docs/streams.md)
            if fault is not None and fault.kind == "slow-headers":
                plan = plan.evolve(delay=0.0)  # its `sleep` is the pace of the head
        compress = compress_of(facts)
        if compress is not None or (fault is not None and fault.kind in ENCODING_FAULTS):
            from mockstatus.encoding import compress_query

            plan = compress_query(plan, facts, compress or "gzip")  # docs/streams.md
    return plan


def _coded(facts: RequestFacts) -> bool:
    fault = fault_of(facts)[0]
    return compress_of(facts) is not None or (fault is not None and fault.kind in ENCODING_FAULTS)


def status_plan(facts: RequestFacts, spec: str, sem: StatusSemantics) -> ResponsePlan:
    """`/status/{code}` (or a code list) with its queries."""
    choice = parse_code_spec(spec.rstrip("/"))
    opts = options_of(facts) if facts.query else DEFAULT_OPTIONS  # hot path: no call
    code = sem.choose(choice, opts)
    accept = facts.headers.get("accept")
    fmt = negotiate(accept) if accept else "text"
    if code == 101:
        return switching_plan(facts, fmt)
    if code == 206:
        return range_plan(facts, opts.size)
    plan = sem.plan(code, facts.method, fmt, opts, facts.headers)
    if plan.status == 200:
        # RFC 9110 §13.2: If-None-Match / If-Modified-Since → 304 (If-Match → 412), as a real
        # resource answers them; checked on the final 200 before any 1xx is added.
        plan = answer_preconditions(plan, facts, sem.clock)
    if code < 200:
        # /status/1xx: the code itself is the interim (`?interim=` replaces it), then the final
        # (`?final=`, default 200). Whether it is sent (HTTP/1.0, interim mode, Expect) is
        # decided in with_interims. 101 was handled above.
        interims = interims_for(code, opts, (1, 1))
        plan = plan.evolve(interims=interims)
        if code == 103 and opts.interim is None:
            plan = plan.evolve(headers=repeat_hints(plan.headers, interims))
    return plan


def switching_plan(facts: RequestFacts, fmt: str) -> ResponsePlan:
    """`/status/101`: switch to the client's first offered protocol, or 426 without one.

    RFC 9110 §7.8: `Upgrade` counts only with `Connection: upgrade` and only from HTTP/1.1+.
    """
    opts = options_of(facts)
    if facts.version[0] >= 2:
        # RFC 9113 §8.6: HTTP/2 has no 101 (nor Upgrade); the wire resets the stream with
        # HTTP_1_1_REQUIRED so the client may retry over HTTP/1.1.
        return build_plan(101, facts.method, fmt, opts)[0].evolve(upgrade="")
    offered = facts.header("upgrade") or ""
    connection = ",".join(v for n, v in facts.header_items if n.lower() == "connection")
    tokens = {t.strip().lower() for t in connection.split(",")}
    token = offered.split(",")[0].strip(" \t")
    if not token or "upgrade" not in tokens or facts.version < (1, 1):
        return upgrade_required_plan(facts.method, fmt, opts)
    name, slash, version = token.partition("/")
    if not is_token(name) or (slash and not is_token(version)):
        raise RequestError(
            f"invalid Upgrade {token[:60]!r}: protocol-name[/protocol-version], both tokens",
            param="Upgrade",
        )
    plan, _ = build_plan(101, facts.method, fmt, opts)
    return plan.evolve(upgrade=token)


def upgrade_required_plan(
    method: str, fmt: str, opts: Options = DEFAULT_OPTIONS, *fields: tuple[str, str]
) -> ResponsePlan:
    """426 naming the protocol we can switch to (RFC 9110 §15.5.22: it sends `Upgrade`):
    `Upgrade: websocket` first, then `fields`, then the rest of the 426's headers."""
    plan, _ = build_plan(426, method, fmt, opts)
    headers = [(n, v) for n, v in plan.headers if n.lower() != "upgrade"]
    return plan.evolve(headers=(("Upgrade", "websocket"), *fields, *headers))


def checked_upgrade(plan: ResponsePlan, facts: RequestFacts) -> ResponsePlan:
    """A 101 to WebSocket asked with a version we do not speak becomes the 426 that names ours
    (RFC 6455 §4.2.2); the wire checks the rest of the handshake."""
    if (plan.upgrade or "").lower() != "websocket" or facts.method != "GET":
        return plan
    if (facts.header("sec-websocket-version") or "").strip() == "13":
        return plan
    fmt = negotiate(facts.header("accept"))
    return upgrade_required_plan(
        facts.method, fmt, DEFAULT_OPTIONS, ("Sec-WebSocket-Version", "13")
    )


def preflight_plan(facts: RequestFacts) -> ResponsePlan:
    """CORS preflight (Fetch standard): allow what was asked, for a day."""
    headers = [
        ("Access-Control-Allow-Methods", ", ".join(STANDARD_METHODS)),
        ("Access-Control-Max-Age", "86400"),
    ]
    asked = facts.header("access-control-request-headers")
    if asked:
        with contextlib.suppress(RequestError):
            headers.append(check_header("Access-Control-Allow-Headers", asked))
    return finish(ResponsePlan(status=204, reason="No Content", headers=tuple(headers)))
