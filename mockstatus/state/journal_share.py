"""The journal shared by every replica: a capped Redis stream (`ms:journal`).

Each replica appends what it answered to an outbox (the only work on a request's path) and
writes it every STATE_BATCH_INTERVAL in one pipeline, `MAXLEN` = `--journal-size`; it reads the
other replicas' entries into its own `Journal`, so `/__mockstatus/requests` and `/requests/wait`
on any replica see every request (late by at most one batch and one read). Header values the
journal redacts are redacted before they leave the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any

from mockstatus.limits import (
    STATE_BATCH_INTERVAL,
    STATE_BATCH_MAX,
    STATE_JOURNAL_READ,
    STATE_RETRY_INTERVAL,
)
from mockstatus.state.redis_store import RedisStateStore, text_of

JOURNAL = "ms:journal"
READ_BLOCK_MS = 500  # a blocking read of the stream waits at most this (below STATE_TIMEOUT)


class JournalShare:
    def __init__(self, journal: Any, store: RedisStateStore, replica: str, size: int) -> None:
        self.journal = journal
        self.store = store
        self.client = store.client
        self.replica = replica
        self.journal_size = size
        self.outbox: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.dropped = 0  # entries not shared (store down, or the outbox full)
        self._record = journal.record  # the journal's own method (remote entries go here)
        self._last_id = "0-0"

    async def start(self) -> None:
        """Read what the stream holds, then record through the outbox."""
        with contextlib.suppress(Exception):  # the reader catches up once the store answers
            self._last_id = await self._backfill()
        self.journal.record = self._recording

    def _recording(self, *args: Any, **kwargs: Any) -> None:
        self._record(*args, **kwargs)
        if len(self.outbox) < STATE_BATCH_MAX * 10:
            self.outbox.append((args, kwargs))
        else:
            self.dropped += 1

    async def flusher(self) -> None:
        while True:
            await asyncio.sleep(STATE_BATCH_INTERVAL)
            if self.outbox:
                try:
                    await self.flush()
                except Exception:
                    await asyncio.sleep(STATE_RETRY_INTERVAL)

    async def flush(self) -> None:
        batch, self.outbox = self.outbox[:STATE_BATCH_MAX], self.outbox[STATE_BATCH_MAX:]
        redact = self.journal.redact
        pipe = self.client.pipeline(transaction=False)
        for args, kwargs in batch:
            doc = _entry_doc(args, kwargs, redact)
            fields = {"r": self.replica, "e": json.dumps(doc)}
            pipe.xadd(JOURNAL, fields, maxlen=self.journal_size, approximate=False)  # type: ignore[arg-type]
        try:
            await self.store.bounded(pipe.execute())
        except Exception:
            self.dropped += len(batch)
            raise

    async def _backfill(self) -> str:
        """The stream's current entries (a replica that starts later sees them too)."""
        items: Any = await self.store.bounded(
            self.client.xrevrange(JOURNAL, count=self.journal_size)
        )
        last = "0-0"
        for entry_id, fields in reversed(items):
            last = text_of(entry_id)
            self._apply_entry(fields)
        return last

    async def reader(self) -> None:
        while True:
            try:
                got: Any = await self.client.xread(
                    {JOURNAL: self._last_id}, STATE_JOURNAL_READ, READ_BLOCK_MS
                )
            except Exception:
                await asyncio.sleep(STATE_RETRY_INTERVAL)
                continue
            for _stream, items in got or ():
                for entry_id, fields in items:
                    self._last_id = text_of(entry_id)
                    self._apply_entry(fields)

    def _apply_entry(self, fields: Mapping[Any, Any]) -> None:
        replica = text_of(fields.get(b"r", fields.get("r", b"")))
        if replica == self.replica:
            return
        try:
            doc = json.loads(text_of(fields.get(b"e", fields.get("e", b"{}"))))
            args, kwargs = _entry_args(doc)
        except (ValueError, KeyError, TypeError):
            return  # not ours to answer for: another version's entry
        journal = self.journal
        self._record(*args, **kwargs)
        entries = journal.entries
        if entries:  # shared values are already redacted: never hashed twice
            entries[-1] = entries[-1]._replace(redact=frozenset())


_JOURNAL_ARGS = (
    "time", "method", "path", "query", "headers", "body", "scenario", "route", "session",
    "status", "fault", "duration_ms", "http_version",
)  # fmt: skip


def _entry_doc(
    args: tuple[Any, ...], kwargs: dict[str, Any], redact: frozenset[str]
) -> dict[str, Any]:
    from mockstatus.journal import redacted

    doc = dict(zip(_JOURNAL_ARGS, args, strict=False))
    doc.update(kwargs)
    headers = doc.get("headers") or {}
    doc["headers"] = [
        (k, redacted(v) if k.lower() in redact else v)
        for k, v in (headers.items() if hasattr(headers, "items") else headers)
    ]
    body = doc.get("body")
    doc["body"] = body.decode("latin-1") if isinstance(body, bytes | bytearray) else None
    if doc.get("near_misses") is not None:
        doc["near_misses"] = [dict(m) for m in doc["near_misses"]]
    return doc


def _entry_args(doc: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    from multidict import CIMultiDict

    body = doc.get("body")
    values = {
        **doc,
        "headers": CIMultiDict(doc.get("headers") or ()),
        "body": body.encode("latin-1") if isinstance(body, str) else None,
    }
    args = tuple(values[name] for name in _JOURNAL_ARGS if name in values)
    kwargs = {}
    if values.get("near_misses") is not None:
        kwargs["near_misses"] = tuple(values["near_misses"])
    for name in ("upstream", "note"):
        if values.get(name) is not None:
            kwargs[name] = values[name]
    return args, kwargs
