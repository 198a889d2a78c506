"""What the admin API answers: `Reply` (a JSON document or the metrics text), `AdminError` (bad
input, a 4xx `Reply`), and the one JSON encoding both of the plugin's modes see. A reply goes out
as a `ResponsePlan` through the same wire path as every other response (`reply_plan`). Pure: no
aiohttp."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mockstatus import codes
from mockstatus.errors import RequestError
from mockstatus.journal import as_text
from mockstatus.semantics import SERVER
from mockstatus.types import Headers, ResponsePlan


@dataclass(frozen=True, slots=True)
class Reply:
    """What an admin endpoint answers: a JSON document (or `text` for the metrics)."""

    status: int
    doc: Any = None
    text: str | None = None
    content_type: str = "application/json"
    headers: Headers = ()
    close: bool = False
    compact: bool = False  # large documents (the catalog) are sent without indentation
    encoded: bytes | None = None  # `doc` encoded once already (the cached catalog)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class AdminError(RequestError):
    """Bad input to the admin API: becomes a 4xx JSON reply (`extra` adds fields to it)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: Headers = (),
        close: bool = False,
        **extra: Any,
    ) -> None:
        super().__init__(message, status=status)
        self.headers = headers
        self.close = close
        self.extra = extra

    def reply(self) -> Reply:
        return error_reply(
            self.status, self.message, headers=self.headers, close=self.close, **self.extra
        )


def error_reply(
    status: int, message: str, *, headers: Headers = (), close: bool = False, **extra: Any
) -> Reply:
    """The one shape of every admin error: code, reason, error, and any `extra` fields."""
    doc = {"code": status, "reason": codes.lookup(status).reason, "error": message, **extra}
    return Reply(status, doc, headers=headers, close=close)


def reply_json(reply: Reply) -> bytes:
    """The JSON body of a reply, exactly as the HTTP face sends it (the client's in-process mode
    decodes this, so both of its modes see the same values)."""
    return reply.encoded if reply.encoded is not None else _encode(reply.doc, reply.compact)


def reply_plan(reply: Reply, method: str) -> ResponsePlan:
    """The response an admin reply goes out as (never cached by anyone, no CORS headers)."""
    if reply.text is not None:
        body, content_type = reply.text.encode(), reply.content_type
    else:
        body, content_type = reply_json(reply), "application/json; charset=utf-8"
    named = {name.lower() for name, _ in reply.headers}
    own = (("Content-Type", content_type), ("Server", SERVER), ("Cache-Control", "no-store"))
    headers = tuple(h for h in own if h[0].lower() not in named) + reply.headers
    return ResponsePlan(
        status=reply.status,
        reason=codes.lookup(reply.status).reason,
        headers=headers,
        body=body,
        close=reply.close,
        head=method == "HEAD",
    )


def _encode(doc: Any, compact: bool) -> bytes:
    """JSON as UTF-8. A string holding a non-UTF-8 byte (a lone surrogate from aiohttp's
    surrogateescape decoding, e.g. a session name in the scenario states) is written decoded as
    ISO-8859-1, as the journal does: valid Unicode for every JSON parser, never a 500."""
    indent = None if compact else 2
    text = json.dumps(doc, indent=indent, ensure_ascii=False)
    try:
        return text.encode() + b"\n"
    except UnicodeEncodeError:
        text = json.dumps(_valid_text(doc), indent=indent, ensure_ascii=False)
        return text.encode() + b"\n"


def _valid_text(value: Any) -> Any:
    if isinstance(value, str):
        return as_text(value)[0]
    if isinstance(value, dict):
        return {_valid_text(k): _valid_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_valid_text(v) for v in value]
    return value
