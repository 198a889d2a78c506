"""`respond: {proxy: {...}}` and `verbatim: true`: the scenario keys of issue 14, validated from
located values. A proxy target outside the upstream policy (`--upstream`, `--allow-upstream`)
is a located error: an uploaded scenario must not reach hosts the operator did not name.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mockstatus import codes
from mockstatus.http_syntax import FIELD_CONTROL, FRAMING_HEADERS, TOKEN
from mockstatus.limits import MAX_UPSTREAM_TIMEOUT
from mockstatus.proxy import (
    DEFAULT_TIMEOUT,
    FORWARDED_MODES,
    HOP_BY_HOP,
    Forwarded,
    ProxyTarget,
    current_policy,
    parse_url,
)
from mockstatus.scenarios.templates import literal
from mockstatus.scenarios.values import _V, _describe
from mockstatus.types import RequestFacts, ResponsePlan

if TYPE_CHECKING:
    from mockstatus.scenarios.model import ResponseSpec
    from mockstatus.scenarios.responses import _Responses as _Reader

PROXY_KEYS = (
    *("to", "strip_prefix", "headers", "preserve_host", "forwarded", "verify", "timeout"),
)
# What may stand beside `proxy` in a response: the wait before forwarding (and a step's count).
PROXY_SIBLINGS = frozenset({"proxy", "delay", "times"})


def read_proxy(reader: _Reader, v: _V) -> ProxyTarget | None:
    m = reader.mapping(v, "proxy", PROXY_KEYS)
    if m is None:
        return None
    if "to" not in m:
        reader.missing(v, "'proxy'", "to")
        return None
    url = reader.string(m["to"], "to")
    if url is None:
        return None
    try:
        scheme, host, port, base = parse_url(url)
    except ValueError as exc:
        reader.problem(m["to"], str(exc))
        return None
    policy = current_policy()
    if not policy.allows(host, port):
        reader.problem(
            m["to"],
            f"upstream {url!r} is not allowed ({policy.describe()}): start the server with "
            f"--allow-upstream {host}:{port}",
        )
    strip = ""
    if "strip_prefix" in m and (text := reader.string(m["strip_prefix"], "strip_prefix")):
        if not text.startswith("/") or FIELD_CONTROL.search(text):
            reader.problem(
                m["strip_prefix"], f"'strip_prefix' must be a path starting with /, got {text!r}"
            )
        strip = text.rstrip("/")
    headers: list[tuple[str, str]] = []
    hm = reader.mapping(m["headers"], "headers", None) if "headers" in m else None
    for name, item in (hm or {}).items():
        at = m["headers"].keys[name]  # type: ignore[index]
        low = name.lower()
        if not TOKEN.fullmatch(name):
            reader.problem(at, f"header name {name!r} is not a valid HTTP field name")
        elif low in FRAMING_HEADERS or low in HOP_BY_HOP or low == "host":
            reader.problem(at, f"'{name}' is set by the proxy, not by 'headers'")
        elif (text := reader.string(item, f"headers.{name}")) is not None:
            if FIELD_CONTROL.search(text):
                reader.problem(item, f"header '{name}' must not contain control characters")
            else:
                headers.append((name, text))
    preserve = False
    if "preserve_host" in m:
        preserve = _boolean(reader, m["preserve_host"], "preserve_host") or False
    forwarded: Forwarded = "x-forwarded"
    if "forwarded" in m:
        forwarded = reader.choice(m["forwarded"], "forwarded", FORWARDED_MODES) or forwarded
    verify: bool | str = True
    if "verify" in m:
        verify = _verify(reader, m["verify"])
    timeout = DEFAULT_TIMEOUT
    if "timeout" in m:
        timeout = (
            reader.duration(m["timeout"], "timeout", positive=True, cap=MAX_UPSTREAM_TIMEOUT)
            or timeout
        )
    return ProxyTarget(
        url, scheme, host, port, base, strip, tuple(headers), preserve, forwarded, verify, timeout
    )


def _boolean(reader: _Reader, v: _V, name: str) -> bool | None:
    if v.kind == "bool":
        return bool(v.value)
    if v.kind != "bad":
        reader.problem(v, f"'{name}' must be true or false, got {_describe(v)}")
    return None


def _verify(reader: _Reader, v: _V) -> bool | str:
    """`true` (system trust store), `false`, or a CA file inside the scenarios folder."""
    if v.kind == "bool":
        return bool(v.value)
    text = reader.string(v, "verify")
    if text is None:
        return True
    base = reader.base_dir
    path = Path(text) if Path(text).is_absolute() or base is None else base / text
    if not path.is_file():
        reader.problem(v, f"'verify' must be true, false or a CA file; {text!r} is not a file")
        return True
    return str(path)


def check_proxy_siblings(reader: _Reader, v: _V, keys: dict[str, _V]) -> None:
    """A proxied response is the upstream's: only `delay` (and a step's `times`) go beside it."""
    for key in keys:
        if key not in PROXY_SIBLINGS:
            reader.problem(
                v.keys[key],  # type: ignore[index]
                f"'{key}' cannot be used with 'proxy' (the upstream answers); "
                "use a route behaviour or a sequence step instead",
            )


VERBATIM_KEYS = ("verbatim", "status", "reason", "headers", "body", "file")


def read_verbatim(reader: _Reader, v: _V, m: dict[str, _V]) -> ResponseSpec | None:
    """`verbatim: true`: the status, reason, headers and body exactly as written (a recording);
    the body and header values are literal text, never templates."""
    from mockstatus.scenarios.model import ResponseSpec

    for key in m:
        if key not in VERBATIM_KEYS:
            reader.problem(
                v.keys[key],  # type: ignore[index]
                f"'{key}' cannot be used with 'verbatim' (valid: {', '.join(VERBATIM_KEYS)})",
            )
    flag = m["verbatim"]
    if not (flag.kind == "bool" and flag.value):
        reader.problem(flag, f"'verbatim' must be true (or left out), got {_describe(flag)}")
        return None
    code = reader.status_code(m["status"], m["status"]) if "status" in m else 200
    reason = reader.string(m["reason"], "reason") if "reason" in m else None
    if reason is not None and FIELD_CONTROL.search(reason):
        reader.problem(m["reason"], "'reason' must not contain control characters (CR, LF, NUL…)")
    headers = []
    hm = reader.mapping(m["headers"], "headers", None) if "headers" in m else None
    for name, item in (hm or {}).items():
        at = m["headers"].keys[name]  # type: ignore[index]
        if not TOKEN.fullmatch(name) or name.lower() in FRAMING_HEADERS:
            reader.problem(at, f"header {name!r} cannot be sent verbatim (framing is the server's)")
            continue
        for value in reader.items(item, name):
            text = reader.string(value, f"headers.{name}")
            if text is not None and FIELD_CONTROL.search(text):
                reader.problem(value, f"header '{name}' must not contain control characters")
            elif text is not None:
                headers.append((name, literal(text)))
    if "body" in m and "file" in m:
        reader.problem(v, "a verbatim response has 'body' or 'file', not both")
    body = b""
    if "body" in m and (text := reader.string(m["body"], "body")) is not None:
        body = text.encode("utf-8")
    if "file" in m and (relative := reader.string(m["file"], "file")) is not None:
        body = reader.body_file(m["file"], relative) or b""
    if code is None:
        return None
    return ResponseSpec(((code, 1.0),), reason, tuple(headers), file=body, verbatim=True)


def plan_for(
    spec: ResponseSpec, facts: RequestFacts, extra_headers: tuple[tuple[str, str], ...]
) -> ResponsePlan:
    """The plan of a proxied or verbatim response (no per-code defaults, no CORS, no Server)."""
    if spec.proxy is not None:
        # The status is the wire's to find out; 502 stands in until the upstream answers.
        return ResponsePlan(502, "Bad Gateway", extra_headers, delay=spec.delay, forward=spec.proxy)
    from mockstatus.codes import is_bodiless

    code = spec.status
    bodiless = is_bodiless(code) or code == 205
    headers = tuple((n, t.static or "") for n, t in spec.headers)
    own = {n.lower() for n, _ in headers}
    headers += tuple(h for h in extra_headers if h[0].lower() not in own)
    return ResponsePlan(
        code,
        spec.reason or codes.lookup(code).reason,
        headers,
        b"" if bodiless else (spec.file or b""),
        head=facts.method == "HEAD",
        bodiless=bodiless,
        content_length_zero=code == 205,
    )
