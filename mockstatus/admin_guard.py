"""Who may call the admin API: the token, browsers kept out of mutations, DNS rebinding.

With a token configured, every call needs `Authorization: Bearer <token>` except the open reads
(health, catalog, clock, metrics). Browsers are kept out of mutations whatever the token
(`cross_site`), and, when the server listens on loopback only, a `Host` that is not a loopback
name is refused. No admin response carries CORS headers, so a page of another origin cannot read
one. Pure functions of the request's header fields (case-insensitive lookups); no aiohttp.
"""

from __future__ import annotations

import hmac
import ipaddress
import urllib.parse
from collections.abc import Mapping

from mockstatus.admin_reply import AdminError
from mockstatus.journal import as_text

READ_METHODS = frozenset({"GET", "HEAD"})
_CHALLENGE = 'Bearer realm="mockstatus-admin"'


def check_host(headers: Mapping[str, str], loopback_only: bool) -> None:
    """Refuse (403) a Host that is not a loopback name while listening on loopback only."""
    if loopback_only and not loopback_host(headers.get("Host")):
        raise AdminError(
            403,
            f"the admin API answers only loopback Host names (localhost, 127.0.0.1, "
            f"[::1]) while the server listens on loopback only; Host "
            f"{as_text(headers.get('Host', ''))[0][:200]!r} is refused "
            "(DNS rebinding)",
        )


def check_caller(
    headers: Mapping[str, str], method: str, open_read: bool, token: str | None
) -> None:
    """Refuse a cross-site mutation (403) and a call without the token it needs (401)."""
    mutation = method not in READ_METHODS
    if mutation:
        refused = cross_site(headers)
        if refused is not None:
            raise AdminError(
                403,
                f"cross-site admin mutations are refused ({refused}): call the admin "
                "API from a test, a script or curl, not from a web page",
            )
    if (mutation or not open_read) and not authorised(headers, token):
        status, error, problem = _refusal(headers)
        challenge = _CHALLENGE if error is None else f'{_CHALLENGE}, error="{error}"'
        raise AdminError(
            status,
            "this admin call needs Authorization: Bearer <token> (MOCKSTATUS_ADMIN_TOKEN); "
            f"only health, catalog, clock and metrics are open ({problem})",
            headers=(("WWW-Authenticate", challenge),),
        )


def _authorizations(headers: Mapping[str, str]) -> list[str]:
    """Every Authorization field (the request's headers are a multidict; a plain mapping has one)."""
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return list(getall("Authorization", ()))
    return [headers["Authorization"]] if "Authorization" in headers else []


def _bearer_credentials(value: str) -> str | None:
    """The credentials of a `Bearer` Authorization value; None for another scheme. RFC 9110
    §11.1: the scheme is case-insensitive; §11.4: one or more spaces before the credentials."""
    scheme, _, rest = value.partition(" ")
    return rest.lstrip(" ") if scheme.lower() == "bearer" else None


def _refusal(headers: Mapping[str, str]) -> tuple[int, str | None, str]:
    """RFC 6750 §3.1: no error code without Bearer credentials (none, or another scheme); 400
    `invalid_request` when they are empty or sent twice; 401 `invalid_token` when wrong (any
    other text, even one outside `b64token`: it is a token that does not match)."""
    given = _authorizations(headers)
    if len(given) > 1:
        return 400, "invalid_request", "Authorization was sent more than once"
    credentials = _bearer_credentials(given[0]) if given else None
    if credentials is None:
        return 401, None, "no Bearer credentials were sent"
    if not credentials:
        return 400, "invalid_request", "the Bearer credentials are empty: 'Bearer <token>'"
    return 401, "invalid_token", "the token does not match"


def authorised(headers: Mapping[str, str], token: str | None) -> bool:
    if not token:
        return True
    given = _authorizations(headers)
    credentials = _bearer_credentials(given[0]) if len(given) == 1 else None
    if credentials is None:  # none, another scheme, or two fields (RFC 6750 §3.1: refused)
        return False
    # compare the bytes (surrogateescape: a non-UTF-8 value never raises), in constant time
    presented = credentials.encode("utf-8", "surrogateescape")
    return hmac.compare_digest(presented, token.encode("utf-8", "surrogateescape"))


def loopback_host(host: str | None) -> bool:
    """Whether a Host field names this machine's loopback: localhost, 127.x.x.x or [::1], with
    an optional port. No Host (HTTP/1.0) is not a browser's request: accepted."""
    return host is None or _loopback_name(_host_name(host))


def _loopback_name(name: str | None) -> bool:
    if name is None:
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_name(authority: str) -> str | None:
    """The lower-cased host of `host[:port]` (IPv6 without brackets); None when malformed."""
    try:
        parts = urllib.parse.urlsplit("//" + authority.strip())
        _ = parts.port  # ValueError on a bad port
    except ValueError:
        return None
    if parts.username is not None or parts.path or parts.query or parts.fragment:
        return None
    return parts.hostname or None


def cross_site(headers: Mapping[str, str]) -> str | None:
    """Why a mutation comes from another site's web page, or None. Browsers send simple POSTs
    to localhost without a preflight; they also say where a request comes from: the Fetch
    metadata `Sec-Fetch-Site`, and `Origin` (`null` for sandboxed and file: pages). A page on the
    host the client addressed (any port) is the same site; loopback names are one site."""
    if headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
        return "Sec-Fetch-Site: cross-site"
    origin = headers.get("Origin")
    if origin is None:
        return None
    shown = as_text(origin)[0][:200]
    try:
        parts = urllib.parse.urlsplit(origin.strip())
        origin_host = parts.hostname if parts.scheme in ("http", "https") else None
    except ValueError:
        origin_host = None
    target = _host_name(headers.get("Host", ""))
    if origin_host is None or target is None:
        return f"Origin: {shown}"
    if origin_host == target or (_loopback_name(origin_host) and _loopback_name(target)):
        return None
    return f"Origin: {shown}"
