"""Byte ranges (RFC 9110 §14) over the deterministic representation that /status/206 serves.

Pure functions: facts in, plain data out; nothing here imports aiohttp. `plan_range` is the entry
point — it turns (method, Range, If-Range, size) into a status, body and headers the caller copies
into its response. The pieces it is built from are public so scenarios and tests can use them.

Preconditions other than If-Range (If-Match, If-None-Match, ...) are `conditional.evaluate`, which
the caller runs first (§13.2.2: If-Range is step 5, after them).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from mockstatus.conditional import (
    format_http_date,
    parse_entity_tag,
    parse_http_date,
    strong_match,
)
from mockstatus.http_syntax import TOKEN
from mockstatus.limits import MAX_RANGE_SIZE as MAX_SIZE
from mockstatus.limits import MAX_RANGES
from mockstatus.types import Headers

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_206_RANGE",
    "DEFAULT_SIZE",
    "LAST_MODIFIED",
    "LAST_MODIFIED_EPOCH",
    "MAX_RANGES",
    "MAX_SIZE",
    "RangeDecision",
    "RangeOutcome",
    "boundary_for",
    "clear_caches",
    "content_range",
    "entity_tag",
    "if_range_allows",
    "multipart_byteranges",
    "parse_range",
    "plan_range",
    "representation",
    "unsatisfied_range",
]

DEFAULT_SIZE = 1024  # /status/206 without ?size=
DEFAULT_206_RANGE = "bytes=0-511"  # what /status/206 answers when the request has no Range
CONTENT_TYPE = "text/plain; charset=utf-8"

# A fixed Last-Modified, well in the past, so it is a strong validator (§8.8.2.2) and If-Range
# dates can match it exactly.
LAST_MODIFIED_EPOCH = 1_704_067_200
LAST_MODIFIED = format_http_date(LAST_MODIFIED_EPOCH)  # "Mon, 01 Jan 2024 00:00:00 GMT"

# Bump when the representation's bytes change, so every ETag changes with them.
_REPRESENTATION_VERSION = "1"

# ---------------------------------------------------------------------------------------------
# The representation
# ---------------------------------------------------------------------------------------------

# 64-byte lines "0000000064 abc…XYZ\n": each line starts with its own decimal offset, so any
# slice shows where it came from; column c (11 ≤ c < 63) is a letter.
_LINE = 64
_LINE_TAIL = b" abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
_block = b""


def _check_size(size: int) -> None:
    if not 0 <= size <= MAX_SIZE:
        raise ValueError(f"size must be between 0 and {MAX_SIZE} bytes (MAX_SIZE), not {size}")


def _block_at_least(size: int) -> bytes:
    """A cached prefix of the pattern, at least `size` bytes; grown (doubling) on demand."""
    global _block
    if len(_block) < size:
        target = min(MAX_SIZE, max(size, 2 * len(_block), 64 * 1024))
        offsets = range(0, target, _LINE)  # whole lines, covering target
        _block = b"".join([b"%010d" % offset + _LINE_TAIL for offset in offsets])
    return _block


def clear_caches() -> None:
    """Forget the pattern block and the ETags: tests start cold, so no test depends on what an
    earlier one computed (and code behind a cache runs in every test that needs it)."""
    global _block
    _block = b""
    entity_tag.cache_clear()


def representation(size: int) -> bytes:
    """The deterministic body of exactly `size` bytes (printable ASCII, 64-byte lines)."""
    _check_size(size)
    return _block_at_least(size)[:size]


@lru_cache(maxsize=128)
def entity_tag(size: int) -> str:
    """A strong ETag (§8.8.3) for the representation of `size` bytes, stable across runs."""
    digest = hashlib.sha256(f"mockstatus:{_REPRESENTATION_VERSION}:{size}".encode()).hexdigest()
    return f'"ms-{size}-{digest[:8]}"'


# ---------------------------------------------------------------------------------------------
# Range header (RFC 9110 §14.1.1, §14.1.2)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RangeDecision:
    """What a Range header asks for, resolved against a representation of known size.

    kind: "none" (no header), "ignore" (serve the whole representation with 200),
    "satisfiable" (206; `ranges` are inclusive (first, last) pairs within [0, size)),
    "unsatisfiable" (416). `reason` says why, for logs and the journal; it is not compared.
    """

    kind: str
    ranges: tuple[tuple[int, int], ...] = ()
    reason: str = field(default="", compare=False)


_INT_RANGE = re.compile(r"([0-9]+)-([0-9]*)")  # int-range = first-pos "-" [ last-pos ]
_SUFFIX_RANGE = re.compile(r"-([0-9]+)")  # suffix-range = "-" suffix-length
_HUGE = 1 << 63  # stands in for any position beyond every size we serve


def _position(digits: str) -> int:
    # 1*DIGIT can be absurdly long, and int() refuses more than 4300 digits: anything over
    # 18 digits is past every representation we serve anyway.
    digits = digits.lstrip("0")
    return _HUGE if len(digits) > 18 else int(digits or "0")


def _digits_less(a: str, b: str) -> bool:
    """Numeric a < b for digit strings of any length, without int()."""
    a, b = a.lstrip("0"), b.lstrip("0")
    return (len(a), a) < (len(b), b)


def _ignore(reason: str) -> RangeDecision:
    return RangeDecision("ignore", reason=reason)


def parse_range(header: str | None, size: int) -> RangeDecision:
    """Resolve a Range header against a representation of `size` bytes. Never raises on `header`.

    Invalid or foreign headers are ignored (200 with the whole representation): §14.2 lets a server
    ignore an invalid ranges-specifier and requires it to ignore a unit it does not understand.
    """
    if size < 0:
        raise ValueError(f"size must not be negative, not {size}")
    if header is None:
        return RangeDecision("none", reason="no Range header")
    # ranges-specifier = range-unit "=" range-set; no whitespace around "=" (§14.1.1).
    unit, equals, range_set = header.strip(" \t").partition("=")
    if not equals or not TOKEN.fullmatch(unit):  # range-unit = token
        return _ignore('not a ranges-specifier (range-unit "=" range-set)')
    if unit.lower() != "bytes":  # range units are case-insensitive (§14.1)
        return _ignore(f"range unit {unit!r} is not bytes (§14.2: ignored)")
    # range-set = 1#range-spec: OWS only next to commas, empty elements skipped (§5.6.1), so the
    # set may not start with whitespace.
    if range_set.startswith((" ", "\t")):
        return _ignore("whitespace after '=' (OWS is only allowed around commas)")

    specs: list[tuple[int | None, int]] = []  # (first, last or -1 for open) / (None, suffix)
    for element in range_set.split(","):
        spec = element.strip(" \t")
        if not spec:
            continue
        if m := _INT_RANGE.fullmatch(spec):
            first, last = m.groups()
            if last and _digits_less(last, first):  # §14.1.1: last-pos < first-pos is invalid
                return _ignore(f"invalid range {spec!r}: last-pos is less than first-pos")
            specs.append((_position(first), _position(last) if last else -1))
        elif m := _SUFFIX_RANGE.fullmatch(spec):
            specs.append((None, _position(m[1])))
        else:  # includes other-range, which has no meaning for bytes
            return _ignore(f"invalid range-spec {spec[:40]!r}")
    if not specs:
        return _ignore("empty range-set")
    if len(specs) > MAX_RANGES:
        # §14.2 lets a server "ignore or reject" abusive range sets. Ignoring (200, whole body)
        # is the safer choice for clients: they still get the data, and a 416 would suggest the
        # ranges were out of bounds, which they may not be.
        return _ignore(f"{len(specs)} ranges, more than MAX_RANGES ({MAX_RANGES})")

    if size == 0 and any(first is None and n > 0 for first, n in specs):
        # §14.1.1: a non-zero suffix-range is satisfiable even for a zero-length representation,
        # but Content-Range cannot express an empty range (§14.4), so send the (empty) whole.
        return _ignore("zero-length representation: the whole of it is the suffix")

    resolved: list[tuple[int, int]] = []
    for first, last in specs:
        if first is None:
            if last > 0:  # suffix-length 0 is unsatisfiable (§14.1.1)
                # §14.1.2: a suffix longer than the representation selects all of it.
                resolved.append((max(0, size - last), size - 1))
        elif first < size:  # first-pos ≥ size is unsatisfiable (§14.1.1); last is clamped
            resolved.append((first, size - 1 if last < 0 or last >= size else last))
    if not resolved:
        return RangeDecision("unsatisfiable", reason=f"no range overlaps the {size} bytes")
    # A satisfiable set drops its unsatisfiable members (§14.1.1: satisfiable if any one is).
    return RangeDecision("satisfiable", _coalesce(resolved), reason=f"{len(specs)} range-spec(s)")


def _coalesce(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Merge ranges that share a byte (§14.2 allows it): no byte is sent twice, so a body never
    exceeds the representation plus part headers. Order is the client's, a merged range taking
    the earliest slot; ranges that merely touch stay separate parts."""
    out: list[tuple[int, int]] = []
    for first, last in ranges:
        slot = None
        i = 0
        while i < len(out):
            a, b = out[i]
            if a <= last and first <= b:  # overlap: the union of two is one interval
                first, last = min(a, first), max(b, last)
                slot = i if slot is None else slot
                del out[i]
            else:
                i += 1
        out.insert(len(out) if slot is None else slot, (first, last))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# If-Range (RFC 9110 §13.1.5)
# ---------------------------------------------------------------------------------------------


def if_range_allows(
    if_range: str | None, etag: str, last_modified_epoch: int, *, now: float | None = None
) -> bool:
    """True if a Range may be honoured given If-Range (True when there is no If-Range).

    §13.1.5: an entity-tag must match strongly (a weak tag never matches); an HTTP-date must equal
    Last-Modified exactly (compared as instants, so any of the three date forms works); anything
    else is false. `now` only matters for RFC 850 two-digit years.
    """
    if if_range is None:
        return True
    value = if_range.strip(" \t")
    if value.startswith(('"', "W/")):
        return strong_match(parse_entity_tag(value), parse_entity_tag(etag))
    date = parse_http_date(value, now=now)
    return date is not None and date == last_modified_epoch


# ---------------------------------------------------------------------------------------------
# Response pieces (RFC 9110 §14.4, §14.6)
# ---------------------------------------------------------------------------------------------


def content_range(first: int, last: int, size: int) -> str:
    """Content-Range for a satisfied range (§14.4): `bytes first-last/size`."""
    return f"bytes {first}-{last}/{size}"


def unsatisfied_range(size: int) -> str:
    """Content-Range for a 416 (§14.4, §15.5.17): `bytes */size`."""
    return f"bytes */{size}"


def boundary_for(etag: str) -> str:
    """A deterministic multipart boundary for a representation (same ETag → same boundary).

    Only letters, digits and '-' (RFC 2046 bchars), 35 characters (the limit is 70). The
    representation never contains "--", so the delimiter cannot occur in a part.
    """
    return "ms-byteranges-" + hashlib.sha256(etag.encode("utf-8", "replace")).hexdigest()[:21]


_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")  # RFC 2046


def multipart_byteranges(
    data: bytes,
    ranges: Iterable[tuple[int, int]],
    size: int,
    content_type: str,
    boundary: str,
) -> bytes:
    """The multipart/byteranges body of §14.6: one part per range, each with its own
    Content-Type and Content-Range, then the closing delimiter.

    `data` holds the representation (at least `size` bytes); ranges are inclusive and must lie
    within [0, size). The caller picks a boundary that does not occur in `data`.
    """
    if not _BOUNDARY.fullmatch(boundary):
        raise ValueError(f"invalid multipart boundary {boundary!r} (RFC 2046)")
    if len(data) < size:
        raise ValueError(f"data has {len(data)} bytes, fewer than size {size}")
    delimiter = f"--{boundary}\r\n".encode("ascii")
    part_type = f"Content-Type: {content_type}\r\n".encode("latin-1")
    parts: list[bytes] = []
    for first, last in ranges:
        if not 0 <= first <= last < size:
            raise ValueError(f"range {first}-{last} is not within [0, {size})")
        head = f"Content-Range: {content_range(first, last, size)}\r\n\r\n".encode("ascii")
        parts += (delimiter, part_type, head, data[first : last + 1], b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(parts)


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RangeOutcome:
    """A 200, 206 or 416 ready to send: copy `status`, `headers` and `body` into the response.

    For HEAD, `body` is still what GET would send (so the wire can give the same Content-Length);
    the wire layer drops it. `decision` says how the Range header was read.
    """

    status: int
    headers: Headers
    body: bytes
    decision: RangeDecision


def plan_range(
    method: str,
    range_header: str | None,
    if_range: str | None,
    size: int,
    *,
    content_type: str = CONTENT_TYPE,
    now: float | None = None,
) -> RangeOutcome:
    """Answer a request for the representation of `size` bytes, honouring Range and If-Range.

    The caller substitutes DEFAULT_206_RANGE for a missing Range on /status/206, and runs
    `conditional.evaluate` first. Raises ValueError if `size` is outside [0, MAX_SIZE].
    """
    _check_size(size)
    etag = entity_tag(size)
    validators = (
        ("Accept-Ranges", "bytes"),
        ("ETag", etag),
        ("Last-Modified", LAST_MODIFIED),
    )
    if range_header is None:
        decision = parse_range(None, size)
    elif method not in ("GET", "HEAD"):
        # §14.2: range handling is defined only for GET; HEAD mirrors GET's headers (§9.3.2).
        decision = _ignore(f"Range is not defined for {method[:20]}")
    elif not if_range_allows(if_range, etag, LAST_MODIFIED_EPOCH, now=now):
        # §13.1.5: If-Range is evaluated only with a Range; false → ignore the Range, send 200.
        decision = _ignore("If-Range does not match the current representation")
    else:
        decision = parse_range(range_header, size)

    data = _block_at_least(size)
    if decision.kind == "unsatisfiable":
        # §15.5.17: a 416 to a byte-range request SHOULD carry Content-Range: bytes */size.
        body = (
            f"416 Range Not Satisfiable: no requested range overlaps the {size}-byte "
            f"representation ({unsatisfied_range(size)}).\n"
        ).encode("ascii")
        headers: Headers = (
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Range", unsatisfied_range(size)),
            *validators,
        )
        return RangeOutcome(416, headers, body, decision)
    if decision.kind != "satisfiable":
        return RangeOutcome(
            200, (("Content-Type", content_type), *validators), data[:size], decision
        )
    if len(decision.ranges) == 1:
        # §14.6: one range → a single-part 206 with Content-Range, never multipart.
        first, last = decision.ranges[0]
        headers = (
            ("Content-Type", content_type),
            ("Content-Range", content_range(first, last, size)),
            *validators,
        )
        return RangeOutcome(206, headers, data[first : last + 1], decision)
    # §14.6: several ranges → multipart/byteranges; no Content-Range on the whole response.
    boundary = boundary_for(etag)
    body = multipart_byteranges(data, decision.ranges, size, content_type, boundary)
    headers = (("Content-Type", f"multipart/byteranges; boundary={boundary}"), *validators)
    return RangeOutcome(206, headers, body, decision)
