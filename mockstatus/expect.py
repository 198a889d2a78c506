"""`Expect: 100-continue` (RFC 9110 §10.1.1): what to do before a request body is read.

Pure: request facts and the body's announced size in, an `ExpectAnswer` out. The transport
executes it (HTTP/1.1: `wire.body.RequestBody.send_continue`; HTTP/2 writes a 100 HEADERS frame).
"""

from __future__ import annotations

from dataclasses import dataclass

from mockstatus.errors import RequestError
from mockstatus.http_syntax import ascii_float, expects_continue
from mockstatus.limits import MAX_CONTINUE_DELAY_MS
from mockstatus.queries import continue_of, interim_mode_of
from mockstatus.semantics import build_plan, error_plan, interims_for, negotiate
from mockstatus.types import DEFAULT_OPTIONS, Interim, RequestFacts, ResponsePlan

(CONTINUE,) = interims_for(100, DEFAULT_OPTIONS, (1, 1))  # `100 Continue`, no fields


@dataclass(frozen=True, slots=True)
class ExpectAnswer:
    """What the transport does before the body. With `final`, answer it now: no 100, the body
    unread, the connection closed. Otherwise wait `delay` seconds, write `interim` (None: the
    100 is withheld, the client sends the body after its own timeout), then read the body.
    `decide_first`: the final status may be planned before the 100, and a 413 or 417 sent
    instead of it."""

    final: ResponsePlan | None = None
    interim: Interim | None = None
    delay: float = 0.0
    decide_first: bool = False


def closing_plan(facts: RequestFacts, code: int) -> ResponsePlan:
    """A final plan that closes the connection: the body was not (fully) read, so it must not be
    parsed as the next request."""
    return build_plan(code, facts.method, negotiate(facts.header("accept")))[0].evolve(close=True)


def continue_delay(how: str) -> float | None:
    """`?continue=<ms>` in milliseconds (0 for send/withhold); None when invalid."""
    if how in ("send", "withhold"):
        return 0.0
    try:
        delay = ascii_float(how)
    except ValueError:
        return None
    return delay if 0 <= delay <= MAX_CONTINUE_DELAY_MS else None  # also rejects nan


def answer_expect(
    facts: RequestFacts, expect: str, default_mode: str, length: int | None, limit: int
) -> ExpectAnswer | None:
    """The answer to an `Expect` field, before anything is sent; None: ignore it (§10.1.1: a
    100-continue from an HTTP/1.0 client, unless `?interim_mode=force`).

    `length` is the announced body size (None: unknown), `limit` the largest body accepted.
    `?continue=send` (default) sends `100 Continue`, `withhold` nothing, `<ms>` waits first,
    `reject`/`417` answers 417. The status is decided first only without an explicit
    `?continue=` (which always wins).
    """
    try:
        mode = interim_mode_of(facts, default_mode)
        if facts.version < (1, 1) and mode != "force":
            return None
        if not expects_continue(expect):
            return ExpectAnswer(final=closing_plan(facts, 417))  # an expectation we cannot meet
        how = continue_of(facts)
        if how in ("reject", "417"):
            return ExpectAnswer(final=closing_plan(facts, 417))
        if length is not None and length > limit:
            # what Expect is for: refuse before the body
            return ExpectAnswer(final=closing_plan(facts, 413))
        delay = continue_delay(how or "send")
        if delay is None:
            raise RequestError(
                f"invalid continue {how!r}: send, withhold, reject, or a delay in ms "
                f"(0 to {MAX_CONTINUE_DELAY_MS})",
                param="continue",
            )
    except RequestError as err:
        return ExpectAnswer(final=error_plan(err, facts).evolve(close=True))
    send = how != "withhold" and mode != "off"
    return ExpectAnswer(
        interim=CONTINUE if send else None, delay=delay / 1000.0, decide_first=how is None
    )
