"""HTTP/2's own faults in a plan (`rst_stream`, `goaway`): their error codes, their defaults, and
what the HTTP/1.1 wire does with them (docs/http2.md).

One grammar for both sources: a query (`?fault=rst_stream&error=NAME&after=headers|POS`,
`?fault=goaway&error=NAME&graceful=1`, parsed by `queries.parse_fault_options`) and a scenario's
`fault:` mapping (`{kind: rst_stream, error: CANCEL, after: headers}`, read by
`scenarios.responses`). Both build a `types.Fault`; the HTTP/2 wire executes it from the plan.
Pure: imports only `h2.errors` (an enum), never the protocol machinery.
"""

from __future__ import annotations

from h2.errors import ErrorCodes

from mockstatus.types import After, Fault, ResponsePlan

# RFC 9113 §7: every error code, by name.
ERROR_CODES: dict[str, int] = {code.name: int(code) for code in ErrorCodes}
ERROR_HINT = f"one of {', '.join(ERROR_CODES)} (RFC 9113 §7)"
# `after: headers`: the final HEADERS frame, then the reset (zero body bytes).
AFTER_HEADERS = After("bytes", 0)


def default_error(kind: str) -> int:
    """`rst_stream` says INTERNAL_ERROR unless told otherwise; `goaway` says NO_ERROR."""
    return int(ErrorCodes.NO_ERROR if kind == "goaway" else ErrorCodes.INTERNAL_ERROR)


def error_code(name: str) -> int | None:
    """The code of an RFC 9113 error name (case-insensitive); None when there is none."""
    return ERROR_CODES.get(name.strip().upper())


def error_name(code: int) -> str:
    try:
        return ErrorCodes(code).name
    except ValueError:
        return f"0x{code:x}"


def http1_equivalent(plan: ResponsePlan) -> ResponsePlan:
    """What an HTTP/1.1 connection does with an HTTP/2 fault: the nearest thing it has.

    - `rst_stream`: the TCP connection is reset (`reset`) at the same place: before the head,
      after it (`after: headers`) or after N body bytes; an HTTP/1.1 connection carries one
      response at a time, so resetting it resets exactly this exchange.
    - `goaway` immediate: the connection is reset before the head (no answer, as on HTTP/2).
    - `goaway` graceful: the answer, then the connection closes (`Connection: close`): this
      request finishes, the next one needs a new connection.
    """
    fault = plan.fault
    if fault is None:
        return plan
    if fault.kind == "rst_stream":
        return plan.evolve(fault=Fault("reset", after=fault.after))
    if fault.kind == "goaway":
        if fault.graceful:
            return plan.evolve(fault=None, close=True)
        return plan.evolve(fault=Fault("reset"))
    return plan
