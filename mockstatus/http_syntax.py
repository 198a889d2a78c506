"""HTTP grammar and the protocol names of our own, each defined once.

Pure: no imports beyond the standard library, so every layer (the scenario loader, the
semantics, the wire, the client) may use it.
"""

from __future__ import annotations

import functools
import re

SESSION_HEADER = "X-Mockstatus-Session"  # a scenario session (state, sequences, draws) per value
ADMIN_PREFIX = "/__mockstatus"  # every admin endpoint lives under it (no trailing slash)
JOURNAL_FILTERS = ("route", "path", "session", "method", "scenario", "status", "since", "limit")

# RFC 9110 §5.6.2: token = 1*tchar (field names, methods, range units). Use with fullmatch.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.5: a field value (or a reason phrase, RFC 9112 §4) holds visible characters, SP,
# HTAB and obs-text; never CR, LF, NUL or another control. Use with search.
FIELD_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# RFC 9110 §7.2 with RFC 3986 §3.2.2: Host = uri-host [":" port], uri-host an IP literal in
# brackets, or an IPv4 address or reg-name (unreserved, pct-encoded, sub-delims; empty when the
# target has no authority). RFC 9112 §3.2: any other value is answered 400.
_HOST = re.compile(
    r"(?:\[[0-9A-Za-z:.\-_~!$&'()*+,;=]+\]|[0-9A-Za-z\-._~%!$&'()*+,;=]*)(?::[0-9]*)?"
)


def ascii_float(text: str) -> float:
    """float() of an ASCII numeral only: Python's float() also reads "١" (ARABIC-INDIC ONE) and
    "２" (FULLWIDTH TWO) as digits, which no HTTP client means (ValueError for those)."""
    if not text.isascii():
        raise ValueError(f"not an ASCII number: {text!r}")
    return float(text)


@functools.lru_cache(maxsize=64)  # a handful of distinct Host values per server
def valid_host(value: str) -> bool:
    """Whether a Host field value is `uri-host [":" port]` (RFC 9112 §3.2)."""
    return _HOST.fullmatch(value) is not None


# Message framing and the connection are the server's (RFC 9112 §6, §9.6): a user-set
# Content-Length or Transfer-Encoding desynchronises the client, Connection decides keep-alive.
# Lower-case, like every header-name set here.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


def expects_continue(value: str | None) -> bool:
    """RFC 9110 §10.1.1: whether an Expect field value is `100-continue` (case-insensitive)."""
    return value is not None and value.strip().lower() == "100-continue"


def weight(params: list[str]) -> float:
    """The weight of one member of Accept, Accept-Encoding, … from its `;`-parameters (RFC 9110
    §12.4.2): 1 without `q`; 0 for a `q` that is not a number from 0 to 1 (it never wins)."""
    q = 1.0
    for param in params:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                q = ascii_float(value)
            except ValueError:
                q = 0.0
            if not 0.0 <= q <= 1.0:  # also NaN
                q = 0.0
    return q
