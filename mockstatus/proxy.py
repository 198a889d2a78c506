"""Forwarding to an upstream, the pure part: where a request goes and with which header fields.

A `ProxyTarget` is the "forward to" a plan carries (a scenario's `respond: {proxy: ...}` or the
`mockstatus proxy --upstream` default); `wire.proxy` executes it. Everything here is standard
library only, so the scenario loader and the plan layer can use it (tests/test_layers.py).

RFC 9110 §7.6: a proxy removes the hop-by-hop fields (`Connection` and the fields it names,
`Keep-Alive`, `TE`, `Transfer-Encoding`, `Upgrade`, `Proxy-*`) and adds `Via`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from mockstatus.http_syntax import FIELD_CONTROL

Forwarded = Literal["none", "x-forwarded", "rfc7239"]
FORWARDED_MODES: tuple[Forwarded, ...] = ("none", "x-forwarded", "rfc7239")
DEFAULT_TIMEOUT = 30.0  # seconds, for connecting and again for the response head
VIA = "1.1 mockstatus"  # RFC 9110 §7.6.3: received-protocol and a pseudonym for this hop

# RFC 9110 §7.6.1, plus Proxy-* (matched by prefix in `hop_by_hop`). Lower-case.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "te",
        "transfer-encoding",
        "upgrade",
        "trailer",
        "proxy-connection",
    }
)
# Set again by us or by aiohttp's client: never copied from the client's request.
_REQUEST_OWN = frozenset({"host", "content-length", "expect"})


@dataclass(frozen=True, slots=True)
class ProxyTarget:
    """Where to forward: `scheme://host:port` plus an optional base path (no trailing slash).

    `verify`: True (system trust store), False (no verification) or a CA file path.
    `timeout`: seconds for connecting and for the response head each.
    """

    url: str  # as written, for messages and the journal
    scheme: str
    host: str
    port: int
    base_path: str = ""
    strip_prefix: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    preserve_host: bool = False
    forwarded: Forwarded = "x-forwarded"
    verify: bool | str = True
    timeout: float = DEFAULT_TIMEOUT

    @property
    def authority(self) -> str:
        return authority(self.host, self.port, self.scheme)

    def url_for(self, path: str, query_string: str) -> str:
        """The upstream URL of a request for `path` (raw, still percent-encoded) and query."""
        if self.strip_prefix and (
            path == self.strip_prefix or path.startswith(self.strip_prefix + "/")
        ):
            path = path[len(self.strip_prefix) :] or "/"
        host = f"[{self.host}]" if ":" in self.host else self.host
        url = f"{self.scheme}://{host}:{self.port}{self.base_path}{path}"
        return f"{url}?{query_string}" if query_string else url


def authority(host: str, port: int, scheme: str = "http") -> str:
    """host[:port] as a Host field writes it (the default port left out)."""
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return shown if port == default else f"{shown}:{port}"


def parse_url(text: str) -> tuple[str, str, int, str]:
    """`http(s)://host[:port][/base]` → (scheme, host, port, base path); ValueError says why."""
    if FIELD_CONTROL.search(text) or " " in text:
        raise ValueError(f"upstream URL {text!r} contains spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"upstream URL {text!r} is malformed: {exc}") from None
    if parts.scheme not in ("http", "https"):
        shown = f"'{parts.scheme}'" if parts.scheme else "none"
        raise ValueError(f"upstream URL {text!r} must use http or https, not scheme {shown}")
    if not parts.hostname:
        raise ValueError(f"upstream URL {text!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"upstream URL {text!r} must not carry credentials: use 'headers'")
    if parts.query or parts.fragment:
        raise ValueError(f"upstream URL {text!r} must not have a query or fragment")
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname.lower(), port, parts.path.rstrip("/")


def parse_allowed(text: str) -> tuple[str, int | None]:
    """`--allow-upstream HOST[:PORT]` → (host, port or None for any port)."""
    text = text.strip()
    if not text or "/" in text or FIELD_CONTROL.search(text) or " " in text:
        raise ValueError(f"--allow-upstream wants HOST or HOST:PORT, got {text!r}")
    try:
        parts = urlsplit(f"//{text}")
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"--allow-upstream {text!r}: {exc}") from None
    if not parts.hostname or parts.username is not None:
        raise ValueError(f"--allow-upstream wants HOST or HOST:PORT, got {text!r}")
    return parts.hostname.lower(), port


@dataclass(frozen=True, slots=True)
class UpstreamPolicy:
    """Which upstreams scenarios may name: the `--upstream` and every `--allow-upstream`."""

    allowed: tuple[tuple[str, int | None], ...] = ()

    def allows(self, host: str, port: int) -> bool:
        return any(h == host and p in (None, port) for h, p in self.allowed)

    def describe(self) -> str:
        if not self.allowed:
            return "none is allowed"
        names = sorted(h if p is None else authority(h, p, "") for h, p in self.allowed)
        return "allowed: " + ", ".join(names)


# The policy the scenario loader checks `proxy.to` against. Set by whoever builds the server
# (the CLI, the runner's thread); unset means no upstream may be named (not an open proxy).
POLICY: ContextVar[UpstreamPolicy] = ContextVar("mockstatus_upstream_policy")


def current_policy() -> UpstreamPolicy:
    return POLICY.get(UpstreamPolicy())


def hop_by_hop(items: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The lower-case names that must not be forwarded: the fixed set plus those `Connection`
    names (RFC 9110 §7.6.1)."""
    return _named_by_connection([v for n, v in items if n.lower() == "connection"], HOP_BY_HOP)


def _named_by_connection(values: Iterable[str], base: frozenset[str]) -> frozenset[str]:
    named = set(base)
    for value in values:
        named.update(t.strip().lower() for t in value.split(",") if t.strip())
    return frozenset(named)


# Never copied from a client's request: hop-by-hop, or set again by us or aiohttp's client.
_REQUEST_SKIP = HOP_BY_HOP | _REQUEST_OWN
# Dropped from an upstream's response: hop-by-hop, and the framing the wire sets again.
_RESPONSE_SKIP = HOP_BY_HOP | {"content-length"}


def request_headers(
    items: Iterable[tuple[str, str]],
    target: ProxyTarget,
    *,
    host: str,
    scheme: str,
    remote: str,
    connection: Iterable[str] | None = None,
) -> list[tuple[str, str]]:
    """The header fields sent upstream: the client's end-to-end fields, `Via`, `Host`, the
    forwarding fields chosen by `target.forwarded`, then `target.headers` (which replace any
    client field of the same name).

    `connection`: the request's `Connection` values when the caller has them at hand (a
    case-insensitive lookup); otherwise they are found in `items`. One pass over the fields:
    this runs for every forwarded request (bench/proxy.py)."""
    items, skip = _hop_by_hop(items, connection, _REQUEST_SKIP)
    if target.headers:
        skip = skip | {n.lower() for n, _ in target.headers}
    mode = target.forwarded
    # The client's own forwarding fields, replaced by ours with its values first.
    prior_name = {"x-forwarded": "x-forwarded-for", "rfc7239": "forwarded"}.get(mode)
    out: list[tuple[str, str]] = []
    vias: list[str] = []
    prior: list[str] = []
    for name, value in items:
        low = name.lower()
        if low in skip or low.startswith("proxy-"):
            continue
        if low == "via":
            vias.append(value)
        elif low == prior_name:
            prior.append(value)
        elif mode != "x-forwarded" or not low.startswith("x-forwarded-"):
            out.append((name, value))
    vias.append(VIA)
    out.append(("Via", ", ".join(vias)))
    out.append(("Host", host if target.preserve_host else target.authority))
    if mode == "x-forwarded":
        prior.append(remote)
        out.append(("X-Forwarded-For", ", ".join(prior)))
        out.append(("X-Forwarded-Proto", scheme))
        out.append(("X-Forwarded-Host", host))
    elif mode == "rfc7239":
        prior.append(forwarded_element(remote, host, scheme))
        out.append(("Forwarded", ", ".join(prior)))
    out.extend(target.headers)
    return out


def _hop_by_hop(
    items: Iterable[tuple[str, str]], connection: Iterable[str] | None, base: frozenset[str]
) -> tuple[Iterable[tuple[str, str]], frozenset[str]]:
    """The field names not to pass on (`base` plus those `Connection` names, RFC 9110 §7.6.1);
    `connection` None: read from `items` (then returned as a list, read twice)."""
    if connection is None:
        items = list(items)
        connection = [v for n, v in items if n.lower() == "connection"]
    return items, (_named_by_connection(connection, base) if connection else base)


def forwarded_element(remote: str, host: str, scheme: str) -> str:
    """One RFC 7239 §4 element; an IPv6 node and a host with a port are quoted (§6)."""
    try:
        node = f'"[{remote}]"' if ipaddress.ip_address(remote).version == 6 else remote
    except ValueError:
        node = "unknown"  # §6.3: no address (a Unix socket)
    host_value = f'"{host}"' if (":" in host or not host) else host
    return f"for={node};host={host_value};proto={scheme}"


def response_headers(
    items: Iterable[tuple[str, str]],
    extra: Iterable[tuple[str, str]] = (),
    connection: Iterable[str] | None = None,
) -> list[tuple[str, str]]:
    """The upstream's response fields the client gets: hop-by-hop and framing removed (the wire
    frames the body again), `Via` appended, then the `extra` fields (a rate limit's) whose
    names the upstream did not send. `connection` as in `request_headers`."""
    items, skip = _hop_by_hop(items, connection, _RESPONSE_SKIP)
    out: list[tuple[str, str]] = []
    vias: list[str] = []
    for name, value in items:
        low = name.lower()
        if low in skip or low.startswith("proxy-"):
            continue
        if low == "via":
            vias.append(value)
        else:
            out.append((str(name), value))  # aiohttp's names are `istr`: plain str for YAML
    vias.append(VIA)
    out.append(("Via", ", ".join(vias)))
    if extra:
        own = {n.lower() for n, _ in out}
        out += [h for h in extra if h[0].lower() not in own]
    return out
