"""The journal shared by every replica: a capped Redis stream (`ms:journal`).

Writing is the only work on a request's path: each replica appends what it answered to an
outbox and writes it every STATE_BATCH_INTERVAL in one pipeline (`MAXLEN` = `--journal-size`).
Header values the journal redacts are redacted before they leave the process.

Reading happens only when someone asks: `GET /__mockstatus/requests`, `/requests/unmatched`
and `/requests/wait` first read the stream's entries this replica has not seen into its own
`Journal` (one XREAD; the other replicas' entries only), then answer from it as one process
does. A pending wait also follows the stream (XREAD BLOCK, at most READ_BLOCK_MS a call) until
it ends, so it sees what other replicas serve within a batch interval and one read. So the
journal costs each replica its own requests, whatever the number of replicas (the cost used to
be every replica's requests: `bench/workers.py`).

A clear (`DELETE /requests`) is a marker in the stream: every replica drops, when it reads the
marker, the entries that came before it (the other replicas' entries it has read, and its own
entries that reached the stream before the marker); an entry written after the marker stays.
A clear of everything also trims the stream to the marker, so a replica that starts later does
not read what was cleared.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Mapping
from typing import Any

from mockstatus.limits import (
    STATE_BATCH_INTERVAL,
    STATE_BATCH_MAX,
    STATE_JOURNAL_READ,
    STATE_RETRY_INTERVAL,
)
from mockstatus.state.base import StoreUnavailable
from mockstatus.state.redis_store import RedisStateStore, text_of

JOURNAL = "ms:journal"
# One batch in one script call: a pipeline of XADDs cost the client ~80 µs an entry to encode
# and parse, one command with 2 arguments an entry ~22 µs (bench/journal_flush.py). The stream is capped once per batch, to `--journal-size` exactly.
# KEYS[1]: the stream; ARGV: MAXLEN, replica, then seq and entry for each entry.
WRITE_SCRIPT = """
for i = 3, #ARGV - 1, 2 do
  redis.call('XADD', KEYS[1], '*', 'r', ARGV[2], 'n', ARGV[i], 'e', ARGV[i + 1])
end
redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[1])
return (#ARGV - 2) / 2
"""
READ_BLOCK_MS = 500  # a blocking read of the stream waits at most this (below STATE_TIMEOUT)


def _stream_id(value: Any) -> tuple[int, int]:
    ms, _, n = text_of(value).partition("-")
    return int(ms), int(n or 0)


def _field(fields: Mapping[Any, Any], name: str) -> Any:
    return fields.get(name.encode(), fields.get(name))


class JournalShare:
    def __init__(self, journal: Any, store: RedisStateStore, replica: str, size: int) -> None:
        self.journal = journal
        self.store = store
        self.client = store.client
        self.replica = replica
        self.journal_size = size
        self.outbox: list[tuple[int, tuple[Any, ...], dict[str, Any]]] = []
        self.dropped = 0  # entries not shared (store down, or the outbox full)
        self.cleared = 0  # entries this replica's view dropped for clears (its own or others')
        self._record = journal.record  # the journal's own methods (remote entries go here)
        self._wait = journal.wait
        self._last = (0, 0)  # the newest stream entry read
        self._own_upto = 0  # the newest of this replica's own entries (its seq) read back
        # Seqs of other replicas' entries in the journal (a clear drops them): the newest
        # `size` are enough, the journal holds no more.
        self._remote: deque[int] = deque(maxlen=journal.size)
        self._flushing = asyncio.Lock()
        self._write = self.client.register_script(WRITE_SCRIPT)
        self._followers = 0  # pending waits that follow the stream
        self._follower: asyncio.Task[None] | None = None
        self._retry_at = 0.0  # a failed read is not retried before (loop time)
        # A read fetches STATE_JOURNAL_READ entries; the stream holds at most `size` (and
        # the clear markers among them): this many reads catch up with all of it.
        self._max_reads = size // STATE_JOURNAL_READ + 2

    async def start(self) -> None:
        """Record through the outbox; waits read the stream (the rest reads it by `pull`)."""
        self.journal.record = self._recording
        self.journal.wait = self._waiting

    def _recording(self, *args: Any, **kwargs: Any) -> None:
        self._record(*args, **kwargs)
        if len(self.outbox) < STATE_BATCH_MAX * 10:
            self.outbox.append((self.journal.entries[-1].seq, args, kwargs))
        else:
            self.dropped += 1

    # --- writing ---------------------------------------------------------------------------

    async def flusher(self) -> None:
        while True:
            await asyncio.sleep(STATE_BATCH_INTERVAL)
            if self.outbox:
                try:
                    await self.flush()
                except Exception:
                    await asyncio.sleep(STATE_RETRY_INTERVAL)

    async def flush(self) -> None:
        async with self._flushing:  # batches reach the stream in the order they were taken
            while self.outbox:
                await self._flush_batch()

    async def _flush_batch(self) -> None:
        batch, self.outbox = self.outbox[:STATE_BATCH_MAX], self.outbox[STATE_BATCH_MAX:]
        redact = self.journal.redact
        values: list[Any] = [self.journal_size, self.replica]
        for seq, args, kwargs in batch:
            values += (seq, json.dumps(_entry_doc(args, kwargs, redact)))
        try:
            await self.store.bounded(self._write(keys=(JOURNAL,), args=values))
        except Exception:
            self.dropped += len(batch)
            raise

    # --- reading ---------------------------------------------------------------------------

    async def pull(self, *, strict: bool = False) -> None:
        """Read the stream's entries this replica has not seen (the whole stream at most).
        The store lost: the journal answers with what it holds (the next read retries), or
        StoreUnavailable when `strict`."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at and not strict:
            return
        try:
            for _ in range(self._max_reads):
                last = "{}-{}".format(*self._last)
                read = self.client.xread({JOURNAL: last}, count=STATE_JOURNAL_READ)
                if self._apply(await self.store.bounded(read)) < STATE_JOURNAL_READ:
                    return
        except StoreUnavailable:
            self._retry_at = loop.time() + STATE_RETRY_INTERVAL
            if strict:
                raise

    def _apply(self, got: Any) -> int:
        """Apply one XREAD answer, in stream order; entries already read are skipped (a wait's
        blocking read and a `pull` may overlap). Returns how many entries the answer held."""
        read = 0
        for _stream, items in got or ():
            for entry_id, fields in items:
                read += 1
                at = _stream_id(entry_id)
                if at <= self._last:
                    continue
                self._last = at
                if _field(fields, "clear") is not None:
                    self._apply_clear(fields)
                elif text_of(_field(fields, "r") or b"") == self.replica:
                    self._own_upto = max(self._own_upto, int(_field(fields, "n") or 0))
                else:
                    self._apply_entry(fields)
        return read

    def _apply_entry(self, fields: Mapping[Any, Any]) -> None:
        try:
            doc = json.loads(text_of(_field(fields, "e") or b"{}"))
            args, kwargs = _entry_args(doc)
        except (ValueError, KeyError, TypeError):
            return  # not ours to answer for: another version's entry
        journal = self.journal
        redact, journal.redact = journal.redact, frozenset()
        try:  # shared values are redacted already: never hashed twice
            self._record(*args, **kwargs)
        finally:
            journal.redact = redact
        self._remote.append(journal.entries[-1].seq)

    def _apply_clear(self, fields: Mapping[Any, Any]) -> None:
        try:
            session = json.loads(text_of(_field(fields, "clear")))
        except ValueError:
            return
        if session is not None and not isinstance(session, str):
            return
        remote, own_upto = set(self._remote), self._own_upto

        def before_marker(seq: int) -> bool:
            return seq in remote or seq <= own_upto

        self.cleared += self.journal.clear(session, only=before_marker)
        kept = {e.seq for e in self.journal.entries}
        self._remote = deque((s for s in self._remote if s in kept), maxlen=self._remote.maxlen)

    async def clear(self, session: str | None) -> int:
        """`DELETE /requests` on this replica: a marker every replica applies. Returns how many
        entries this replica's view dropped; StoreUnavailable when the store is lost (the
        caller then clears only this replica)."""
        before = self.cleared
        await self.flush()  # what this replica served before the clear precedes the marker
        marker = {"r": self.replica, "clear": json.dumps(session)}
        at: Any = await self.store.bounded(
            self.client.xadd(JOURNAL, marker, maxlen=self.journal_size, approximate=False)  # type: ignore[arg-type]
        )
        if session is None:  # nothing before the marker is anyone's any more
            await self.store.bounded(self.client.xtrim(JOURNAL, minid=text_of(at)))
        await self.pull(strict=True)  # this replica applies its own marker like every other
        return self.cleared - before

    async def _waiting(
        self, flt: Any, count: int, timeout: float, keep: int | None = None
    ) -> list[Any]:
        """The journal's wait, on a view that follows the stream while the wait lasts."""
        await self.pull()
        if timeout <= 0:
            return list(await self._wait(flt, count, timeout, keep))
        self._followers += 1
        if self._follower is None or self._follower.done():
            self._follower = asyncio.create_task(self._follow())
        try:
            return list(await self._wait(flt, count, timeout, keep))
        finally:
            self._followers -= 1

    async def _follow(self) -> None:
        """Read the stream as it grows while a wait is pending (one blocking read at a time,
        each at most READ_BLOCK_MS), then stop: no read at all when nobody waits."""
        while self._followers > 0:
            try:
                last = "{}-{}".format(*self._last)
                read = self.client.xread({JOURNAL: last}, STATE_JOURNAL_READ, READ_BLOCK_MS)
                self._apply(await self.store.bounded(read))
            except StoreUnavailable:
                await asyncio.sleep(STATE_RETRY_INTERVAL)

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(BaseException):
                await self._follower


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
