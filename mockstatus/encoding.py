"""Content codings (RFC 9110 §8.4.1): gzip, deflate and br, chosen from Accept-Encoding.

`compress: off|auto|gzip|deflate|br` on a response (default off). `auto` sends the coding the
client prefers among those it lists (identity when it sends no Accept-Encoding); a named coding
is sent when the client accepts it (§12.5.3: no Accept-Encoding means any coding is acceptable),
identity otherwise. Either way the response says `Vary: Accept-Encoding`, and an ETag names the
coding (a different representation has a different entity-tag, §8.8.3).

`deflate` is the zlib format (RFC 1950), as §8.4.1.2 defines it. `br` needs the optional
`brotli` package (`pip install mockstatus[brotli]`).

The faults `corrupt-encoding` (bytes in the middle of the compressed data flipped),
`truncate-encoding` (the compressed data ends early, the HTTP framing is complete) and
`wrong-encoding` (Content-Encoding names another coding) are applied here. Pure: no I/O.
"""

from __future__ import annotations

import zlib
from typing import Any, Protocol

from mockstatus.http_syntax import weight
from mockstatus.types import Headers, RequestFacts, ResponsePlan

COMPRESS_CHOICES = ("off", "auto", "gzip", "deflate", "br")
CODINGS = ("br", "gzip", "deflate")  # `auto`'s preference among equal q-values
# What `wrong-encoding` labels each coding as; identity is labelled gzip.
_WRONG_LABEL = {"gzip": "deflate", "deflate": "gzip", "br": "gzip", None: "gzip"}


def brotli_available() -> bool:
    try:
        import brotli  # noqa: F401
    except ImportError:
        return False
    return True


class Encoder(Protocol):
    def compress(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...

    def finish(self) -> bytes: ...


class _Zlib:
    """gzip (wbits 31) or zlib/deflate (wbits 15). `flush` is a sync flush: what was compressed
    so far can be decoded by the client now (an event arrives as an event, not later)."""

    __slots__ = ("_c",)

    def __init__(self, wbits: int) -> None:
        self._c = zlib.compressobj(6, zlib.DEFLATED, wbits)

    def compress(self, data: bytes) -> bytes:
        return self._c.compress(data)

    def flush(self) -> bytes:
        return self._c.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._c.flush(zlib.Z_FINISH)


class _Brotli:
    __slots__ = ("_c",)

    def __init__(self) -> None:
        import brotli

        self._c: Any = brotli.Compressor(quality=5)

    def compress(self, data: bytes) -> bytes:
        return bytes(self._c.process(data))

    def flush(self) -> bytes:
        return bytes(self._c.flush())

    def finish(self) -> bytes:
        return bytes(self._c.finish())


def encoder(coding: str) -> Encoder:
    """A streaming encoder for `coding` (gzip, deflate or br)."""
    if coding == "gzip":
        return _Zlib(31)
    if coding == "deflate":
        return _Zlib(15)
    if coding == "br":
        return _Brotli()
    raise ValueError(f"unknown content coding {coding!r}")


def encode(data: bytes, coding: str) -> bytes:
    """The whole of `data` in `coding`."""
    enc = encoder(coding)
    return enc.compress(data) + enc.finish()


def _accepted(header: str | None) -> dict[str, float]:
    """Accept-Encoding as {coding: q} (lower-case; `*` kept). Malformed members are skipped."""
    out: dict[str, float] = {}
    if header is None:
        return out
    for member in header.split(",")[:64]:
        name, *params = member.split(";")
        name = name.strip().lower()
        if not name:
            continue
        out[name] = weight(params)
    return out


def _acceptable(coding: str, accepted: dict[str, float]) -> float:
    # §12.5.3: "x-gzip" is gzip; `*` covers codings not listed.
    if coding == "gzip" and "x-gzip" in accepted and "gzip" not in accepted:
        return accepted["x-gzip"]
    return accepted.get(coding, accepted.get("*", 0.0))


def choose(compress: str, accept_encoding: str | None) -> str | None:
    """The coding to send for `compress` given the request's Accept-Encoding (None: identity)."""
    if compress == "off":
        return None
    br_ok = brotli_available()
    if accept_encoding is None:
        if compress == "auto" or (compress == "br" and not br_ok):
            return None
        return compress
    accepted = _accepted(accept_encoding)
    if compress != "auto":
        if compress == "br" and not br_ok:
            return None
        return compress if _acceptable(compress, accepted) > 0 else None
    best, best_q = None, 0.0
    for coding in CODINGS:
        if coding == "br" and not br_ok:
            continue
        q = _acceptable(coding, accepted)
        if q > best_q:
            best, best_q = coding, q
    return best


def _merge_vary(headers: Headers) -> Headers:
    """Add Accept-Encoding to the Vary field (one field, `Accept, Accept-Encoding`)."""
    out, values = [], []
    for name, value in headers:
        if name.lower() == "vary":
            values += [v.strip() for v in value.split(",") if v.strip()]
        else:
            out.append((name, value))
    if "*" in values:
        return headers
    if not any(v.lower() == "accept-encoding" for v in values):
        values.append("Accept-Encoding")
    return (*out, ("Vary", ", ".join(values)))


def _coded_etag(value: str, coding: str) -> str:
    """`"abc"` → `"abc-gzip"`, `W/"abc"` → `W/"abc-gzip"`."""
    if value.endswith('"') and len(value) >= 2:
        return f'{value[:-1]}-{coding}"'
    return value


def coding_headers(headers: Headers, coding: str | None, fault: str | None = None) -> Headers:
    """Headers for a response in `coding`: Vary merged, ETag per coding, Content-Encoding (what
    `wrong-encoding` says instead), a stale Content-Encoding or Content-MD5 dropped."""
    kept = []
    for name, value in headers:
        lower = name.lower()
        if lower in ("content-encoding", "content-md5"):
            continue
        if lower == "etag" and coding is not None:
            value = _coded_etag(value, coding)
        kept.append((name, value))
    label = _WRONG_LABEL[coding] if fault == "wrong-encoding" else coding
    if label is not None:
        kept.append(("Content-Encoding", label))
    return _merge_vary(tuple(kept))


def corrupt(data: bytes) -> bytes:
    """Flip every bit of a run of bytes in the middle (past any header): a decoder fails."""
    if not data:
        return data
    mid = len(data) // 2
    run = max(1, min(16, len(data) - mid))
    return data[:mid] + bytes(b ^ 0xFF for b in data[mid : mid + run]) + data[mid + run :]


def cut(data: bytes) -> bytes:
    """The coded data ending early: its second half (and so its trailer) is missing."""
    return data[: max(1, len(data) // 2)] if len(data) > 1 else data


def compress_plan(plan: ResponsePlan, coding: str | None, fault: str | None = None) -> ResponsePlan:
    """`plan` with its body in `coding` and the headers that go with it. Bodiless responses and
    streams keep their body (a stream is coded piece by piece on the wire). A fault on the
    coded data codes the body even where the client did not ask for it (the fault is the
    point); a 206 keeps its identity ranges."""
    if plan.status == 206:
        return plan
    if coding is None and fault in ("corrupt-encoding", "truncate-encoding"):
        coding = "gzip"
    headers = coding_headers(plan.headers, coding, fault)
    if plan.stream is not None:
        return plan.evolve(
            headers=headers,
            stream=_with_coding(plan.stream, coding),
            reused=False,
        )
    if plan.bodiless or (coding is None and fault is None):
        return plan.evolve(headers=headers, reused=False)
    body = encode(plan.body, coding) if coding is not None else plan.body
    if fault == "corrupt-encoding":
        body = corrupt(body)
    elif fault == "truncate-encoding":
        body = cut(body)
    return plan.evolve(headers=headers, body=body, reused=False)


def _with_coding(stream: Any, coding: str | None) -> Any:
    from dataclasses import replace

    return replace(stream, coding=coding)


def compress_query(plan: ResponsePlan, facts: RequestFacts, value: str) -> ResponsePlan:
    """`?compress=off|auto|gzip|deflate|br` on a built-in endpoint (`value`, validated by
    `queries.compress_of`; gzip for a coding fault without it)."""
    fault = plan.fault.kind if plan.fault is not None else None
    if value == "off" or plan.upgrade is not None:
        return plan
    return compress_plan(plan, choose(value, facts.header("accept-encoding")), fault)
