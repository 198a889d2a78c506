"""Admin API query parameters and names: each bad value is an `AdminError` 400 that says what
would be accepted. Pure: no aiohttp."""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping
from typing import overload

from mockstatus import codes
from mockstatus.admin_reply import AdminError
from mockstatus.journal import Filter
from mockstatus.limits import MAX_ADMIN_TEXT as MAX_TEXT_PARAM
from mockstatus.limits import MAX_NAME


def check_params(query: Mapping[str, str], accepted: tuple[str, ...], where: str) -> None:
    for key in query:
        if key not in accepted:
            names = ", ".join(accepted) if accepted else "none"
            raise AdminError(
                400, f"unknown parameter {key!r} for {where}; accepted parameters: {names}"
            )


@overload
def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int: ...
@overload
def int_param(
    query: Mapping[str, str], name: str, default: None, low: int, high: int
) -> int | None: ...
def int_param(
    query: Mapping[str, str], name: str, default: int | None, low: int, high: int
) -> int | None:
    text = query.get(name)
    if text is None:
        return default
    text = text.strip()
    # Length first: int() of 4,301+ digits raises Python's own message, not ours.
    digits = text.lstrip("0") or "0"
    if (
        not (text.isascii() and text.isdigit())
        or len(digits) > len(str(high))
        or not low <= int(digits) <= high
    ):
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise AdminError(400, f"invalid {name} {shown!r}: an integer from {low} to {high}")
    return int(digits)


@overload
def float_param(
    query: Mapping[str, str], name: str, default: float, low: float, high: float
) -> float: ...
@overload
def float_param(
    query: Mapping[str, str], name: str, default: None, low: float, high: float
) -> float | None: ...
def float_param(
    query: Mapping[str, str], name: str, default: float | None, low: float, high: float
) -> float | None:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        raise AdminError(400, f"invalid {name} {text!r}: a number from {low:g} to {high:g}")
    return value


def text_param(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    if value is not None and (len(value) > MAX_TEXT_PARAM or any(ord(c) < 32 for c in value)):
        raise AdminError(
            400, f"invalid {name}: at most {MAX_TEXT_PARAM} characters, no control characters"
        )
    return value


def journal_filter(query: Mapping[str, str]) -> tuple[Filter, int | None]:
    """The journal filter a query asks for (`route`, `path`, `session`, `method`, `scenario`,
    `status`, `since`, `limit`). `since` is a journal `seq` (below 1e9) or an epoch time."""
    status = int_param(query, "status", None, codes.MIN_CODE, codes.MAX_CODE)
    method = text_param(query, "method")
    flt = Filter(
        route=text_param(query, "route"),
        path=text_param(query, "path"),
        session=text_param(query, "session"),
        method=method.upper() if method else None,
        scenario=text_param(query, "scenario"),
        status=status,
        since=float_param(query, "since", None, 0.0, 1e12),
    )
    return flt, int_param(query, "limit", None, 1, 10**9)


def check_utf8_path(raw_path: str) -> None:
    """A 400 when the percent-decoded path is not UTF-8 (RFC 3986 §2.5: names are UTF-8)."""
    raw = raw_path.partition("?")[0]
    try:
        urllib.parse.unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise AdminError(
            400,
            f"the path {raw[:MAX_NAME]!r} is not UTF-8 once percent-decoded: "
            "names in admin paths are UTF-8 text",
        ) from None


def scenario_name(name: str) -> str:
    if not name or "/" in name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise AdminError(
            400,
            f"invalid scenario name {name[:MAX_NAME]!r}: one path segment of at most "
            f"{MAX_NAME} characters, no control characters",
        )
    return name


def status_code(arg: str) -> int:
    text = arg.strip()
    if not (text.isascii() and text.isdigit()) or not (
        codes.MIN_CODE <= int(text) <= codes.MAX_CODE
    ):
        raise AdminError(400, f"invalid status code {arg!r}: valid codes are {codes.VALID_RANGE}")
    return int(text)


def as_received(shown: str | None) -> str | None:
    """The string aiohttp made of a header whose bytes the journal shows as ISO-8859-1 (the
    inverse of `journal.as_text` for such values); `shown` itself when it is no such value."""
    if shown is None or shown.isascii():
        return shown
    try:
        raw = shown.encode("latin-1")
    except UnicodeEncodeError:
        return shown
    return raw.decode("utf-8", "surrogateescape")
