"""Request parameters: status codes and code lists, the `/status` queries, interim and fault
switches. Every user-supplied header, reason and location is validated here, once.

Pure: a Query in, validated values (or a RequestError naming the parameter) out.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from mockstatus import codes
from mockstatus.durations import parse_duration
from mockstatus.errors import RequestError
from mockstatus.http_syntax import FIELD_CONTROL, FRAMING_HEADERS, TOKEN, ascii_float
from mockstatus.limits import (
    MAX_FAULT_INTERVAL,
    MAX_INTERIMS,
    MAX_SEED_DIGITS,
    MAX_SLEEP_MS,
    MIN_DRIP_EVERY,
)
from mockstatus.types import (
    DEFAULT_OPTIONS,
    FAULT_KINDS,
    H2_FAULTS,
    After,
    Drip,
    Fault,
    Headers,
    Options,
    PlanRequest,
    Query,
    RequestFacts,
)

_FORMAT_ALIASES = {"txt": "text", "plain": "text", "text": "text", "json": "json", "html": "html"}
AUTH_SCHEMES = {"basic": "Basic", "bearer": "Bearer", "digest": "Digest"}
INTERIM_MODES = ("auto", "off", "force")


# --- validation helpers (one place for every user-supplied header, reason and location) ------


def is_token(name: str) -> bool:
    return TOKEN.fullmatch(name) is not None


def check_header(name: str, value: str, *, param: str = "header") -> tuple[str, str]:
    """Validate one user-supplied header; raise RequestError naming `param` when invalid."""
    if not name or not is_token(name):
        raise RequestError(
            f"invalid {param} name {name!r}: a header name is a token (letters, digits, !#$%&'*+-.^_`|~)",
            param=param,
        )
    if FIELD_CONTROL.search(value):
        raise RequestError(
            f"invalid {param} value for {name}: CR, LF, NUL and other control characters are not allowed",
            param=param,
        )
    return name, value.strip(" \t")


def parse_header_param(item: str, *, param: str = "header") -> tuple[str, str]:
    """One `?header=Name:Value`: a valid field that is not a framing header (400 naming `param`)."""
    name, sep, value = item.partition(":")
    if not sep:
        raise RequestError(f"invalid {param} {item!r}: use {param}=Name:Value", param=param)
    name, value = check_header(name.strip(), value, param=param)
    if name.lower() in FRAMING_HEADERS:
        raise RequestError(
            f"invalid {param} {name}: Content-Length, Transfer-Encoding and Connection frame the "
            "message and are set by the server (for a body shorter than promised, use "
            "fault=truncate)",
            param=param,
        )
    return name, value


def parse_digits(text: str, param: str, high: int, expected: str, *, what: str = "") -> int:
    """A decimal integer from 0 to `high`, or a RequestError naming `param` (`what` in words).

    The length is checked before `int()`: Python refuses to convert more than 4,300 digits
    (ValueError, a 500 if it escaped), and a number that long is out of range anyway.
    """
    significant = text.lstrip("0") or "0"  # leading zeros count towards the limit too
    if (
        not (text.isascii() and text.isdigit())
        or len(significant) > len(str(high))
        or int(significant) > high
    ):
        raise RequestError(f"invalid {what or param} {_shown(text)}: {expected}", param=param)
    return int(significant)


def _shown(text: str) -> str:
    """`text` quoted for an error message, cut when long (a client chose its length)."""
    return repr(text) if len(text) <= 40 else f"{text[:20]!r}… ({len(text)} characters)"


def check_reason(reason: str) -> str:
    # RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
    if not reason or FIELD_CONTROL.search(reason):
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
            f"invalid {param} {_shown(text)}: valid status codes are integers from {low} to {codes.MAX_CODE}",
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
                f"invalid code list {_shown(spec)}: empty entry; use e.g. 200,503 or 200:0.9,503:0.1",
                param="code",
            )
        found.append(parse_code(code_text))
        if sep:
            weighted = True
            try:
                weight = ascii_float(weight_text)
            except ValueError:
                weight = -1.0
            if not math.isfinite(weight) or weight < 0:
                raise RequestError(
                    f"invalid weight {_shown(weight_text)} for {_shown(code_text)}: a finite number >= 0",
                    param="code",
                )
            weights.append(weight)
        else:
            weights.append(1.0)
    if weighted:
        total = sum(weights)
        if total <= 0:
            raise RequestError("invalid weights: at least one must be above 0", param="code")
        if not math.isfinite(total):
            # random.choices refuses an infinite total (1e308 + 1e308): say so here, not in a 500.
            raise RequestError(
                "invalid weights: their sum must be a finite number (weights are relative: "
                "use e.g. 200:0.9,503:0.1)",
                param="code",
            )
    return CodeChoice(tuple(found), tuple(weights) if weighted else None)


# --- options from the query -----------------------------------------------------------------


def _parse_ms(value: str, param: str, cap_ms: float = MAX_SLEEP_MS) -> float:
    try:
        ms = ascii_float(value)
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
        FIELD_CONTROL.search(value) is None and parse_http_date(value)
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


# --- the typed plan request: each group parsed once per request (types.PlanRequest) ---------


def plan_request(facts: RequestFacts) -> PlanRequest:
    """The request's `PlanRequest`, made on first use (and again if `facts.query` was replaced)."""
    req = facts.plan_request
    if req is None or req.query is not facts.query:
        req = facts.plan_request = PlanRequest(facts.query)
    return req


def options_of(facts: RequestFacts) -> Options:
    """Every `/status/{code}` parameter, validated once per request."""
    if not facts.query:
        return DEFAULT_OPTIONS  # the hot path: nothing to parse, nothing to keep
    req = plan_request(facts)
    if req.options is None:
        req.options = _parse_options(req)
    return req.options


def interims_of(facts: RequestFacts) -> tuple[tuple[int, ...] | None, tuple[str, ...]]:
    """`?interim=` (None: absent) and the `?link=` values (validated), once per request."""
    if not facts.query:
        return None, ()
    req = plan_request(facts)
    if req.interims is None:
        query = req.query
        listed = query.get("interim")
        if listed is None:
            req.interims = (None, ())  # `?link=` counts only with `?interim=` (or on /status)
        else:
            links = tuple(check_header("Link", v, param="link")[1] for v in query.getall("link"))
            req.interims = (parse_interim_list(listed), links)
    return req.interims


def interval_of(facts: RequestFacts) -> float | None:
    """`?interval=` in seconds (at least 10 ms), None when absent; once per request."""
    if not facts.query:
        return None
    req = plan_request(facts)
    if req.interval is None:
        req.interval = (
            _parse_interval(v) if (v := req.query.get("interval")) is not None else None,
        )
    return req.interval[0]


def interim_mode_of(facts: RequestFacts, default: str) -> str:
    """`?interim_mode=auto|off|force`, else the server's default (`--interim`); once per request."""
    if not facts.query:
        return default
    req = plan_request(facts)
    if req.mode is None:
        req.mode = interim_mode(req.query, "")
    return req.mode or default


def _endpoint_group(facts: RequestFacts, name: str, parse: Callable[[Query], object]) -> object:
    """An endpoint's own parameters (`name`), parsed by `parse` once per request."""
    groups = plan_request(facts).endpoint
    if name not in groups:
        groups[name] = parse(facts.query)
    return groups[name]


def fault_of(facts: RequestFacts) -> tuple[Fault | None, Drip | None]:
    """`?fault=` (with its `after`, `error`, …) and `?drip=` on a built-in path, once."""
    if not facts.query:
        return None, None
    return _endpoint_group(facts, "fault", parse_fault_options)  # type: ignore[return-value]


def compress_of(facts: RequestFacts) -> str | None:
    """`?compress=off|auto|gzip|deflate|br` (an empty value: gzip), None when absent; once."""
    if not facts.query:
        return None
    return _endpoint_group(facts, "compress", _parse_compress)  # type: ignore[return-value]


def echo_of(facts: RequestFacts) -> tuple[int, Headers]:
    """`/anything`'s `?status=` (200 by default, no 1xx) and `?header=Name:Value` fields."""
    if not facts.query:
        return 200, ()
    return _endpoint_group(facts, "echo", _parse_echo)  # type: ignore[return-value]


def redirect_of(facts: RequestFacts) -> tuple[int, bool, str]:
    """`/redirect/{n}`'s `?status=` (301, 302, 303, 307, 308; default 302), whether it was
    given, and `?absolute=` as sent ("" when absent), once."""
    if not facts.query:
        return 302, False, ""
    return _endpoint_group(facts, "redirect", _parse_redirect)  # type: ignore[return-value]


def continue_of(facts: RequestFacts) -> str | None:
    """`?continue=` (how `Expect: 100-continue` is answered, `expect.continue_delay`), once."""
    if not facts.query:
        return None
    return _endpoint_group(facts, "continue", lambda q: q.get("continue"))  # type: ignore[return-value]


def response_headers_of(facts: RequestFacts) -> Headers:
    """httpbin's `/response-headers`: every `?Name=value` is a field (each checked as one)."""
    if not facts.query:
        return ()
    parse = _parse_response_headers
    return _endpoint_group(facts, "response-headers", parse)  # type: ignore[return-value]


def _parse_compress(query: Query) -> str | None:
    from mockstatus.encoding import COMPRESS_CHOICES, brotli_available

    value = query.get("compress")
    if value is None:
        return None
    if value not in COMPRESS_CHOICES:
        raise RequestError(
            f"invalid compress {value[:40]!r}: one of {', '.join(COMPRESS_CHOICES)}",
            param="compress",
        )
    if value == "br" and not brotli_available():
        raise RequestError(
            "compress=br needs the brotli package (pip install mockstatus[brotli])",
            param="compress",
        )
    return value


def _parse_echo(query: Query) -> tuple[int, Headers]:
    status = 200
    if (value := query.get("status")) is not None:
        status = parse_code(value, param="status", allow_1xx=False)
    return status, tuple(parse_header_param(item) for item in query.getall("header"))


_REDIRECT_CODES = (301, 302, 303, 307, 308)


def _parse_redirect(query: Query) -> tuple[int, bool, str]:
    status, given = 302, False
    if (value := query.get("status")) is not None:
        status = parse_code(value, param="status")
        if status not in _REDIRECT_CODES:
            raise RequestError("invalid status: one of 301, 302, 303, 307, 308", param="status")
        given = bool(value)
    return status, given, query.get("absolute") or ""


def _parse_response_headers(query: Query) -> Headers:
    # Framing headers are refused (the issue-8 rule), each naming its parameter.
    return tuple(parse_header_param(f"{k}:{v}", param=k) for k, v in query.items())


def parse_options(query: Query) -> Options:
    """Validate the common `/status/{code}` queries; unknown parameters are ignored (cache busters)."""
    if not query:
        return DEFAULT_OPTIONS
    return _parse_options(PlanRequest(query))


def _parse_interval(value: str) -> float:
    interval = _parse_ms(value, "interval")
    if interval < 0.01:
        raise RequestError("invalid interval: at least 10 ms", param="interval")
    return interval


def _parse_options(req: PlanRequest) -> Options:
    query = req.query
    kw: dict[str, object] = {}
    if (v := query.get("format")) is not None:
        kw["fmt"] = parse_format(v)
    if (v := query.get("reason")) is not None:
        kw["reason"] = check_reason(v)
    if (v := query.get("location")) is not None:
        if not v:
            raise RequestError("invalid location: must not be empty", param="location")
        kw["location"] = location_uri(check_header("Location", v, param="location")[1])
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
        kw["seed"] = parse_seed(v)
    if (v := query.get("final")) is not None:
        kw["final"] = parse_code(v, param="final", allow_1xx=False)
    if (v := query.get("interim")) is not None:
        kw["interim"] = parse_interim_list(v)
    if (v := query.get("size")) is not None:
        kw["size"] = parse_size(v)
    if (v := query.get("interval")) is not None:
        req.interval = (_parse_interval(v),)
        kw["interval"] = req.interval[0]
    links = query.getall("link")
    if links:
        kw["links"] = tuple(check_header("Link", v, param="link")[1] for v in links)
    req.interims = (kw.get("interim"), kw.get("links", ()))  # type: ignore[assignment]
    headers = query.getall("header")
    if headers:
        kw["headers"] = tuple(parse_header_param(item) for item in headers)
    return Options(**kw) if kw else DEFAULT_OPTIONS  # type: ignore[arg-type]


def parse_interim_list(value: str) -> tuple[int, ...]:
    items = value.split(",")
    if len(items) > MAX_INTERIMS:  # each is a response head written: bound what one URL asks
        raise RequestError(
            f"invalid interim: {len(items)} interim responses, at most {MAX_INTERIMS}",
            param="interim",
        )
    found = []
    for item in items:
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

    return parse_digits(
        value, "size", MAX_SIZE, f"bytes, an integer from 0 to {MAX_SIZE} (the cap)"
    )


def parse_seed(value: str) -> int:
    text = value.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > MAX_SEED_DIGITS:
        raise RequestError(
            f"invalid seed {_shown(value)}: an integer of at most {MAX_SEED_DIGITS} digits",
            param="seed",
        )
    return int(text)


# --- interims and faults -----------------------------------------------------------------


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


def parse_fault_options(query: Query) -> tuple[Fault | None, Drip | None]:
    """`?fault=reset` and `?drip=10/100ms` on any built-in path (no scenario file needed).

    `?drip=CHUNK/EVERY` (EVERY a duration, default 100ms, from MIN_DRIP_EVERY to 60 s) drips any
    body: a shorter interval would keep a core busy writing;
    `?fault=KIND` is one of FAULT_KINDS. For `slow-headers` the head is spread over `?delay=`
    (a duration, default 2s, at most 60 s) or, when only `?sleep=` is given, over `sleep` ms.
    """
    fault = drip = None
    if (value := query.get("drip")) is not None:
        chunk, _sep, every = value.partition("/")
        try:
            if not (chunk.isascii() and chunk.isdigit()):
                raise ValueError
            seconds = parse_duration(every or "100ms")
            # int() of over 4,300 digits raises ValueError too: a 400 like any bad chunk.
            if int(chunk) < 1 or not MIN_DRIP_EVERY <= seconds <= MAX_FAULT_INTERVAL:
                raise ValueError
            drip = Drip(chunk=int(chunk), every=seconds)
        except ValueError:
            raise RequestError(
                f"invalid drip {_shown(value)}: CHUNK/EVERY, e.g. 10/100ms (chunk >= 1 byte, every from "
                f"{MIN_DRIP_EVERY * 1000:g}ms to 60s)",
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
                    param = "sleep"  # before float(): a bad value is named as `sleep`
                    delay = ascii_float(text) / 1000.0
                else:
                    delay = 2.0
                if not 0 < delay <= MAX_FAULT_INTERVAL:  # also rejects NaN
                    raise ValueError
            except ValueError:
                hint = "a duration like 500ms or 2s" if param == "delay" else "milliseconds"
                raise RequestError(
                    f"invalid {param} {text!r} for slow-headers: {hint}, more than 0 and at most 60 s",
                    param=param,
                ) from None
        if value in H2_FAULTS:
            return _h2_fault(value, query), drip
        from mockstatus.positions import fault_extras_from_query

        extras = fault_extras_from_query(value, query)  # after=, hold=, rate= (docs/streams.md)
        fault = Fault(kind=value, delay=delay, drip=drip, **extras)  # type: ignore[arg-type]
    return fault, drip


def _h2_fault(kind: str, query: Query) -> Fault:
    """`?fault=rst_stream&error=NAME&after=headers|POS`, `?fault=goaway&error=NAME&graceful=1`
    (docs/http2.md); each bad value a 400 naming its parameter."""
    from mockstatus.h2_fault import AFTER_HEADERS, ERROR_HINT, default_error, error_code

    error = default_error(kind)
    if (name := query.get("error")) is not None:
        code = error_code(name)
        if code is None:
            raise RequestError(f"invalid error {_shown(name)}: {ERROR_HINT}", param="error")
        error = code
    after: After | None = None
    if query.get("after") == "headers" and kind == "rst_stream":
        after = AFTER_HEADERS
    elif "after" in query:
        from mockstatus.positions import fault_extras_from_query

        placed = fault_extras_from_query(kind, query).get("after")  # a 400 for goaway
        after = placed if isinstance(placed, After) else None
    graceful = kind == "goaway" and query.get("graceful") in ("1", "true", "yes")
    return Fault(kind=kind, after=after, error=error, graceful=graceful)


def location_uri(url: str) -> str:
    """`url` as a `Location` value: RFC 9110 §10.2.2 makes it a URI-reference, so non-ASCII and
    spaces are percent-encoded; reserved characters and existing escapes stay as given."""
    return quote(url, safe="!#$%&'()*+,/:;=?@[]~")
