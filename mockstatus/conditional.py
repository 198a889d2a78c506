"""Conditional requests (RFC 9110 §13): HTTP-dates, entity tags, §13.2.2 order of evaluation.

Pure functions: header text in, a status (or None) out. Nothing here imports aiohttp, and nothing
here raises on header text a client sent: a malformed validator is ignored or fails to match, as
the RFC says.

`format_http_date` / `parse_http_date` are the one place the project turns epochs into HTTP-dates
and back; `derived_entity_tag` / `quote_entity_tag` the one place ETag values are made. Other
modules reuse them.
"""

from __future__ import annotations

import calendar
import hashlib
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "EntityTag",
    "body_digest",
    "derived_entity_tag",
    "evaluate",
    "format_http_date",
    "parse_entity_tag",
    "parse_entity_tag_list",
    "parse_http_date",
    "quote_entity_tag",
    "strong_match",
    "weak_match",
]

_OWS = " \t"

# ---------------------------------------------------------------------------------------------
# HTTP-date (RFC 9110 §5.6.7)
# ---------------------------------------------------------------------------------------------

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # time.struct_time.tm_wday order
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name.lower(): number for number, name in enumerate(_MONTHS, 1)}

# ASCII | IGNORECASE: robust to case (§5.6.7 encourages robust parsing) without letting Unicode case
# folding match look-alikes such as U+017F "ſ" for "s".
_FLAGS = re.ASCII | re.IGNORECASE
_TIME = r"([0-9]{2}):([0-9]{2}):([0-9]{2})"
# IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) ([a-z]{3}) ([0-9]{4}) " + _TIME + " GMT", _FLAGS
)
# obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
_RFC850_DATE = re.compile(
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
    r"([0-9]{2})-([a-z]{3})-([0-9]{2}) " + _TIME + " GMT",
    _FLAGS,
)
# obsolete asctime: Sun Nov  6 08:49:37 1994 (day is 2DIGIT or SP DIGIT)
_ASCTIME_DATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([a-z]{3}) ([0-9]{2}| [0-9]) " + _TIME + " ([0-9]{4})",
    _FLAGS,
)


def format_http_date(epoch: float) -> str:
    """IMF-fixdate for `epoch` (seconds, floored), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.

    Raises ValueError for a non-finite epoch or one outside the years 0001-9999 (an HTTP-date has a
    4-digit year).
    """
    try:
        seconds = math.floor(epoch)
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"cannot format {epoch!r} as an HTTP-date") from exc
    return _format_seconds(seconds)


@lru_cache(maxsize=256)
def _format_seconds(seconds: int) -> str:
    # Cached: Date / Last-Modified headers repeat the same second many times under load.
    try:
        t = time.gmtime(seconds)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"cannot format {seconds!r} as an HTTP-date") from exc
    if not 1 <= t.tm_year <= 9999:
        raise ValueError(f"cannot format {seconds!r} as an HTTP-date: year {t.tm_year}")
    return (
        f"{_DAY_NAMES[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def parse_http_date(text: str | None, *, now: float | None = None) -> int | None:
    """Epoch seconds of an HTTP-date in any of its three forms (§5.6.7), or None if it is not one.

    A recipient MUST accept IMF-fixdate, RFC 850 and asctime. Anything else (numeric zones, missing
    weekday, an impossible day such as 31 Feb) is invalid, so the header that carried it is ignored.
    The weekday is checked for form, not for consistency with the date (robustness, §5.6.7).
    `now` (epoch seconds, default: the real clock) only matters for RFC 850's two-digit year.

    Not built on email.utils.parsedate_to_datetime: it accepts non-HTTP forms, pivots two-digit
    years at 69 rather than by §5.6.7's "50 years" rule, and is several times slower.
    """
    if not text:
        return None
    value = text.strip(_OWS)
    if m := _IMF_FIXDATE.fullmatch(value):
        day, month, year, hour, minute, second = m.groups()
        return _epoch(int(year), month, day, hour, minute, second)
    if m := _RFC850_DATE.fullmatch(value):
        day, month, yy, hour, minute, second = m.groups()
        return _epoch(_rfc850_year(int(yy), now), month, day, hour, minute, second)
    if m := _ASCTIME_DATE.fullmatch(value):
        month, day, hour, minute, second, year = m.groups()
        return _epoch(int(year), month, day.lstrip(), hour, minute, second)
    return None


def _rfc850_year(yy: int, now: float | None) -> int:
    # §5.6.7: a two-digit year that appears to be more than 50 years in the future is the most
    # recent past year with the same last two digits.
    current = time.gmtime(time.time() if now is None else now).tm_year
    horizon = current + 50
    return horizon - (horizon - yy) % 100


def _epoch(year: int, month: str, day: str, hour: str, minute: str, second: str) -> int | None:
    number = _MONTH_NUMBER.get(month.lower())
    d, h, mi, s = int(day), int(hour), int(minute), int(second)
    if number is None or year < 1 or h > 23 or mi > 59 or s > 60:  # 60: leap second (§5.6.7)
        return None
    if not 1 <= d <= calendar.monthrange(year, number)[1]:
        return None
    return calendar.timegm((year, number, d, h, mi, s, 0, 0, 0))


# ---------------------------------------------------------------------------------------------
# Entity tags (RFC 9110 §8.8.3)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntityTag:
    """A parsed entity-tag: `opaque` is the text between the quotes."""

    opaque: str
    weak: bool = False

    def __str__(self) -> str:
        return f'{"W/" if self.weak else ""}"{self.opaque}"'


# entity-tag = [ weak ] opaque-tag; weak = %s"W/" (case-sensitive);
# etagc = %x21 / %x23-7E / obs-text (everything from %x80 is taken as obs-text).
_ENTITY_TAG = re.compile(r'(W/)?"([^"\x00-\x20\x7f]*)"')


def parse_entity_tag(text: str | None) -> EntityTag | None:
    """The single entity-tag `text` holds (surrounding OWS allowed), or None if it is not one."""
    if text is None:
        return None
    m = _ENTITY_TAG.fullmatch(text.strip(_OWS))
    return EntityTag(m[2], weak=m[1] is not None) if m else None


def parse_entity_tag_list(text: str) -> tuple[EntityTag, ...]:
    """The entity-tags of a `#entity-tag` list (§5.6.1): OWS around commas, empty elements skipped.

    A member that is not a valid entity-tag (including `*` inside a list) is dropped: it can never
    match, which is the safe reading for both If-Match (→ 412) and If-None-Match (→ proceed).
    Opaque tags may contain commas, so the list is scanned, not split.
    """
    tags: list[EntityTag] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in " \t,":
            i += 1
            continue
        m = _ENTITY_TAG.match(text, i)
        end = m.end() if m else i
        while end < n and text[end] in _OWS:
            end += 1
        if m and (end == n or text[end] == ","):
            tags.append(EntityTag(m[2], weak=m[1] is not None))
            i = end
        else:
            # Not an entity-tag: drop everything up to the next comma.
            comma = text.find(",", i)
            i = n if comma < 0 else comma + 1
    return tuple(tags)


def body_digest(body: bytes) -> str:
    """The variable part of a derived ETag: the first 64 bits of SHA-256 of the encoded body, hex.

    Hashed once per memoised plan (or at load time for a scenario's fixed body), never per request
    on the hot path; 64 bits make an accidental collision between two bodies of one resource
    negligible.
    """
    return hashlib.sha256(body).hexdigest()[:16]


def derived_entity_tag(code: int, digest: str) -> str:
    """The strong ETag mockstatus derives for a response: `"<code>-<body_digest>"` (§8.8.3).

    It changes whenever the bytes sent change (another format, another body, later another
    content coding), as a strong validator must (§8.8.1); a client can recompute it as
    `'"200-' + sha256(body).hexdigest()[:16] + '"'`.
    """
    return f'"{code}-{digest}"'


_ETAGC = re.compile(r'[^"\x00-\x20\x7f]+')


def quote_entity_tag(text: str) -> str | None:
    """An ETag field value from what a user wrote, or None if it cannot be one.

    A complete entity-tag (`"v1"`, `W/"v1"`) is kept as written; bare etagc characters (`v1`) are
    quoted (a strong tag). Spaces, controls and inner double quotes cannot be in an opaque tag.
    """
    text = text.strip(_OWS)
    if _ENTITY_TAG.fullmatch(text):
        return text
    if _ETAGC.fullmatch(text):
        return f'"{text}"'
    return None


def strong_match(a: EntityTag | None, b: EntityTag | None) -> bool:
    """§8.8.3.2 strong comparison: neither is weak and the opaque tags are identical."""
    return a is not None and b is not None and not a.weak and not b.weak and a.opaque == b.opaque


def weak_match(a: EntityTag | None, b: EntityTag | None) -> bool:
    """§8.8.3.2 weak comparison: the opaque tags are identical, weak or not."""
    return a is not None and b is not None and a.opaque == b.opaque


# ---------------------------------------------------------------------------------------------
# Preconditions (RFC 9110 §13.1, §13.2)
# ---------------------------------------------------------------------------------------------

_Matcher = Callable[[EntityTag | None, EntityTag | None], bool]
_SAFE_READS = frozenset({"GET", "HEAD"})
# §13.2.1: methods that neither select nor modify a representation ignore every precondition.
_NO_REPRESENTATION = frozenset({"CONNECT", "OPTIONS", "TRACE"})


def evaluate(
    method: str,
    headers: Mapping[str, str],
    etag: str,
    last_modified_epoch: int | None,
    *,
    exists: bool = True,
    now: float | None = None,
) -> int | None:
    """Evaluate the preconditions of a request in the order of RFC 9110 §13.2.2.

    `headers` has lower-cased names. `etag` is the current representation's entity-tag (as sent in
    ETag); `last_modified_epoch` its Last-Modified (None: the resource has no modification date);
    `exists` is False when the target has no current representation. `now` (default: real clock)
    is used to reject If-Modified-Since dates in the future and for RFC 850 years.

    Returns 412 or 304 when a precondition fails, None when the request should proceed (If-Range,
    step 5, is `ranges.if_range_allows`). The caller applies §13.2.1: preconditions are evaluated
    only when the response without them would have been 2xx or 412.
    """
    if method in _NO_REPRESENTATION:
        return None
    current = parse_entity_tag(etag) if exists else None
    modified = last_modified_epoch if exists else None  # no date → date conditions are ignored

    # Step 1: If-Match (§13.1.1), strong comparison; "*" is true iff a representation exists.
    # (We never apply the "state change already succeeded" exception: there is no state to check.)
    if_match = headers.get("if-match")
    if if_match is not None:
        if not _any_listed(if_match, current, exists, strong_match):
            return 412
    # Step 2: If-Unmodified-Since (§13.1.4), only without If-Match; an invalid date is ignored.
    elif modified is not None:
        ius = parse_http_date(headers.get("if-unmodified-since"), now=now)
        if ius is not None and modified > ius:
            return 412

    # Step 3: If-None-Match (§13.1.2), weak comparison; false → 304 for GET/HEAD, else 412.
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if _any_listed(if_none_match, current, exists, weak_match):
            return 304 if method in _SAFE_READS else 412
    # Step 4: If-Modified-Since (§13.1.3), only GET/HEAD and only without If-None-Match.
    elif method in _SAFE_READS and modified is not None:
        ims = parse_http_date(headers.get("if-modified-since"), now=now)
        clock = time.time() if now is None else now
        # Not modified since → 304; a date later than the server's current time is invalid
        # (§13.1.3), hence ignored.
        if ims is not None and modified <= ims <= clock:
            return 304
    return None


def _any_listed(value: str, current: EntityTag | None, exists: bool, match: _Matcher) -> bool:
    """True if the field value (`*` or a list of tags) matches the current representation."""
    if value.strip(_OWS) == "*":
        return exists
    return any(match(tag, current) for tag in parse_entity_tag_list(value))
