"""HTTP/2's own faults, from the query: what the HTTP/2 wire does instead of (or besides) a plan.

    ?fault=rst_stream&error=NAME&after=headers|POS RST_STREAM before the headers (no `after`),
                                                   after them, or at POS: N bytes, Nevents or
                                                   a duration (the grammar of every placed fault)
    ?fault=goaway&error=NAME&graceful=1            GOAWAY: graceful (this and in-flight streams
                                                   finish, new ones are refused) or immediate
    ?window=0                                      the client's upload window is never reopened

`?fault=stall` (the stream and connection stay open, no DATA) is the HTTP/1.1 `stall` fault, which
the planner places (`after`); the HTTP/2 wire sends it as HEADERS and no DATA (wire.h2_streams).
`error` is any RFC 9113 §7 error code name (case-insensitive). These kinds exist only on HTTP/2:
the HTTP/2 wire takes them out of the query before the request is planned, so HTTP/1.1 answers
`?fault=rst_stream` with its usual 400 (an unknown fault).
"""

from __future__ import annotations

from dataclasses import dataclass

from h2.errors import ErrorCodes

from mockstatus.errors import RequestError
from mockstatus.positions import parse_after
from mockstatus.types import After, Query

H2_FAULT_KINDS = ("goaway", "rst_stream")
ERROR_NAMES = {code.name: int(code) for code in ErrorCodes}
AFTER_HEADERS = After("bytes", 0)  # `after=headers`: the HEADERS frame, then the reset
# Not a frame: the `garbage` fault writes these where a frame header should be.
GARBAGE = b"\x00\x8f\xfe NOT HTTP/2 FRAMES \x01\x02\x03" + bytes(range(128, 256))


@dataclass(frozen=True, slots=True)
class H2Fault:
    """One HTTP/2 fault. `after`: None = before the headers, or where in the body (AFTER_HEADERS:
    right after the HEADERS frame)."""

    kind: str
    error: int = 0
    after: After | None = None
    graceful: bool = False


def is_h2_fault(query: Query) -> bool:
    return query.get("fault") in H2_FAULT_KINDS


def without_h2_fault(query: Query) -> Query:
    """The query with the HTTP/2 `fault=` taken out (the planner knows only HTTP/1.1 faults)."""
    return Query(
        tuple((k, v) for k, v in query.items() if not (k == "fault" and v in H2_FAULT_KINDS))
    )


def parse_h2_fault(query: Query) -> H2Fault:
    """The fault a query with an HTTP/2 `fault=` asks for; RequestError (400) when malformed."""
    kind = query.get("fault") or ""
    default = "NO_ERROR" if kind == "goaway" else "INTERNAL_ERROR"
    name = (query.get("error") or default).upper()
    error = ERROR_NAMES.get(name)
    if error is None:
        raise RequestError(
            f"invalid error {name[:40]!r}: one of {', '.join(ERROR_NAMES)} (RFC 9113 §7)",
            param="error",
        )
    after: After | None = None
    if kind == "rst_stream" and (text := query.get("after")) is not None:
        if text == "headers":
            after = AFTER_HEADERS
        else:
            try:  # the `after` grammar of every placed fault (positions.py)
                after = parse_after(text, query=True)
            except ValueError as exc:
                raise RequestError(
                    f"invalid {exc}, or 'headers' (RST_STREAM after the HEADERS frame)",
                    param="after",
                ) from None
    graceful = query.get("graceful") in ("1", "true", "yes")
    return H2Fault(kind=kind, error=error, after=after, graceful=graceful)


def window_zero(query: Query) -> bool:
    """`?window=0`: the server never reopens the client's upload window."""
    return query.get("window") == "0"
