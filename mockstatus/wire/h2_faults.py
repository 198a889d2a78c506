"""What only the HTTP/2 wire reads: `?window=0`, and the bytes of the `garbage` fault.

HTTP/2's own faults (`rst_stream`, `goaway`) are no longer here: they are planned like every other
fault (`h2_fault`, from a query or a scenario's `fault:`) and executed from the plan by
`wire.h2` / `wire.h2_streams`.
"""

from __future__ import annotations

from mockstatus.types import Query

# Not a frame: the `garbage` fault writes these where a frame header should be.
GARBAGE = b"\x00\x8f\xfe NOT HTTP/2 FRAMES \x01\x02\x03" + bytes(range(128, 256))


def window_zero(query: Query) -> bool:
    """`?window=0`: the server never reopens the client's upload window. Read from the raw
    `:path` before the request is planned: DATA may follow the HEADERS in the same read."""
    return query.get("window") == "0"
