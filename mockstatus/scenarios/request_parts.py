"""Parts of a request that matchers and templates read: cookies, form fields, the host name.

Each is parsed at most once per request (the caller's `memo`), and only when a route asks.
Hand-written because the pure layer may not import aiohttp/multidict, and each rule is short:
cookies per RFC 6265 §5.4 (name=value pairs split on ';'), urlencoded forms by `urllib.parse`,
multipart forms by the standard library's MIME parser.
"""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from mockstatus.limits import MAX_FORM_FIELDS
from mockstatus.types import RequestFacts


def cookies(facts: RequestFacts, memo: dict[str, Any]) -> dict[str, str]:
    """Cookie name → value (the first of a repeated name, as servers commonly do)."""
    found: dict[str, str] | None = memo.get("cookies")
    if found is None:
        found = memo["cookies"] = parse_cookie_header(facts.headers.get("cookie") or "")
    return found


def parse_cookie_header(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in text.split(";")[:MAX_FORM_FIELDS]:
        name, eq, value = pair.partition("=")
        name = name.strip()
        if not eq or not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':  # RFC 6265: DQUOTE cookie-octets
            value = value[1:-1]
        out.setdefault(name, value)
    return out


def form(facts: RequestFacts, memo: dict[str, Any]) -> dict[str, list[str]]:
    """Form field → values, from an urlencoded or multipart/form-data body ({} otherwise).
    A file part gives its file name as its value."""
    found: dict[str, list[str]] | None = memo.get("form")
    if found is None:
        found = memo["form"] = _parse_form(facts)
    return found


def _parse_form(facts: RequestFacts) -> dict[str, list[str]]:
    body = facts.body
    if not body:
        return {}
    ctype = facts.headers.get("content-type") or ""
    media = ctype.partition(";")[0].strip().lower()
    out: dict[str, list[str]] = {}
    if media == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return {}
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
        except ValueError:  # more fields than the cap
            return {}
        for name, value in pairs:
            out.setdefault(name, []).append(value)
        return out
    if media == "multipart/form-data":
        head = b"Content-Type: " + ctype.encode("latin-1", "replace") + b"\r\n\r\n"
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        if not message.is_multipart():
            return {}
        for count, part in enumerate(message.iter_parts()):
            if count >= MAX_FORM_FIELDS:
                break
            field = _param(part, "name")
            if field is None:
                continue
            shown = _param(part, "filename")  # a file part: its file name
            if shown is None:
                payload = part.get_payload(decode=True) or b""
                charset = part.get_content_charset() or "utf-8"
                try:
                    shown = payload.decode(charset, "replace") if isinstance(payload, bytes) else ""
                except LookupError:  # an unknown charset
                    shown = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            out.setdefault(field, []).append(shown)
    return out


def _param(part: Message, name: str) -> str | None:
    value = part.get_param(name, header="content-disposition")
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231 (charset, language, text)
        return str(value[2])
    return str(value)


def host_name(facts: RequestFacts) -> str:
    """The Host without its port, lower-case (RFC 9110 §4.2.3: host names are case-insensitive)."""
    host = facts.host
    if host.startswith("["):  # an IPv6 literal: [::1]:8080
        end = host.find("]")
        return host[: end + 1].lower() if end > 0 else host.lower()
    return host.rpartition(":")[0].lower() if ":" in host else host.lower()
