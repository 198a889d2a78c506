"""What a replica shares besides scenario state (`--state redis://...`).

- The journal (state.journal_share): a capped stream every replica writes, read on demand.
- Uploads: a PUT or DELETE of an uploaded scenario is kept in `ms:uploads` and published on
  `ms:events`; every replica applies it at once (a replica that starts later loads the hash).
- Scenario clocks: a scenario's clock starts at the first load of its content by any replica
  (`StateStore.epoch`), so outage windows line up across replicas.
- The clock (state.clock): the offset to Redis TIME, or the manual clock's shared total.
- Resets: `POST /__mockstatus/reset` resets the shared state (one INCR) as well.
- Metrics: every replica's, labelled by replica (state.replica_metrics).

Nothing here is on a request's path except appending to the journal's outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mockstatus.limits import (
    STATE_METRICS_INTERVAL,
    STATE_METRICS_STALE,
    STATE_RETRY_INTERVAL,
)
from mockstatus.state.base import StoreUnavailable
from mockstatus.state.clock import CLOCK_SYNC_INTERVAL, SharedManualClock, SharedSystemClock
from mockstatus.state.journal_share import JournalShare
from mockstatus.state.redis_store import RedisStateStore, text_of
from mockstatus.state.replica_metrics import merge
from mockstatus.state.shared import FailurePolicy, SharedResponder

EVENTS = "ms:events"
UPLOADS = "ms:uploads"
CLOCK = "ms:clock"
METRICS = "ms:metrics"  # replica -> its metrics text
METRICS_AT = "ms:metrics_at"  # replica -> when it last shared them (epoch seconds)


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ReplicaLink:
    def __init__(self, app: Any, store: RedisStateStore, journal_size: int) -> None:
        self.app = app
        self.store = store
        self.client = store.client
        self.replica = replica_id()
        self.journal = JournalShare(app.journal, store, self.replica, journal_size)
        self.tasks: list[asyncio.Task[None]] = []
        self._applying = False  # an upload from another replica is not published again
        self._background: set[asyncio.Task[Any]] = set()
        self.others: dict[str, str] = {}  # the other replicas' metrics texts
        self._render: Any = app.metrics.render  # this process's own metrics text

    # --- start / stop ----------------------------------------------------------------------

    async def start(self) -> None:
        await self.store.ping()  # raises StoreUnavailable: the caller exits 2
        app = self.app
        store = app.store
        put, delete = store.put_async, store.delete_async
        self._put, self._delete = put, delete

        async def put_shared(name: str, text: str, base_dir: Path | None = None) -> Any:
            result = await put(name, text, base_dir)
            await self._publish_upload(name, text)
            return result

        async def delete_shared(name: str) -> bool:
            deleted = bool(await delete(name))
            if deleted:
                await self._publish_upload(name, None)
            return deleted

        store.put_async, store.delete_async = put_shared, delete_shared
        self._pubsub: Any = await self._subscribe()  # before serving: no event is missed
        store.on_swap.append(self._epochs_later)
        await self._epochs()
        await self.journal.start()
        app.metrics.render = self._rendering
        journal = self.journal
        jobs = (journal.flusher, self._events, self._clock_keeper, self._metrics)
        for job in jobs:
            self.tasks.append(asyncio.create_task(job()))

    async def close(self) -> None:
        """Stop sharing: the journal's last batch is written, then the connections close (each
        step bounded: shutdown never waits on a store that does not answer)."""
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=self.store.timeout)
        await self.journal.close()
        with contextlib.suppress(Exception):
            await self.journal.flush()
        with contextlib.suppress(Exception):
            await self.store.bounded(self.store.close())

    # --- metrics ---------------------------------------------------------------------------

    def _rendering(self, **values: Any) -> str:
        return merge(self._render(**values), self.replica, self.others)

    def _own_metrics(self) -> str:
        app = self.app
        store, journal = app.store, app.journal
        runtime = store.runtime
        return str(
            self._render(
                rate_limited=runtime.rejections if runtime is not None else {},
                reloads=store.reloads,
                load_failures=store.load_failures,
                load_errors=len(store.errors),
                scenarios=len(store.current.scenarios),
                journal_entries=len(journal.entries),
                journal_bytes=journal.bytes,
                waiters=journal.waiting,
            )
        )

    async def _metrics(self) -> None:
        """Share this replica's metrics and read the others' (every STATE_METRICS_INTERVAL)."""
        bounded = self.store.bounded
        while True:
            try:
                now = time.time()
                await bounded(self.client.hset(METRICS, self.replica, self._own_metrics()))
                await bounded(self.client.hset(METRICS_AT, self.replica, repr(now)))
                texts: Any = await bounded(self.client.hgetall(METRICS))
                seen: Any = await bounded(self.client.hgetall(METRICS_AT))
                fresh = {
                    text_of(k)
                    for k, v in seen.items()
                    if now - float(text_of(v)) < STATE_METRICS_STALE
                }
                self.others = {
                    text_of(k): text_of(v)
                    for k, v in texts.items()
                    if text_of(k) in fresh and text_of(k) != self.replica
                }
            except Exception:
                pass  # the store is lost: the last texts stand until it is back
            await asyncio.sleep(STATE_METRICS_INTERVAL)

    # --- uploads and events ----------------------------------------------------------------

    async def _publish_upload(self, name: str, text: str | None) -> None:
        if self._applying:
            return
        doc = json.dumps({"r": self.replica, "kind": "upload", "name": name, "text": text})
        try:
            if text is None:
                await self.store.bounded(self.client.hdel(UPLOADS, name))
            else:
                await self.store.bounded(self.client.hset(UPLOADS, name, text))
            await self.store.bounded(self.client.publish(EVENTS, doc))
        except Exception as err:
            self.app.log(f"mockstatus: upload {name!r} not shared with other replicas: {err}")

    async def _load_uploads(self) -> None:
        uploads = await self.store.bounded(self.client.hgetall(UPLOADS))
        for name, text in uploads.items():
            await self._apply_upload(text_of(name), text_of(text))

    async def _apply_upload(self, name: str, text: str | None) -> None:
        self._applying = True
        try:
            if text is None:
                await self._delete(name)
            else:
                await self._put(name, text, None)
        except Exception as err:  # refused here (a cap): the other replica's answer stands
            self.app.log(f"mockstatus: shared upload {name!r} not applied: {err}")
        finally:
            self._applying = False

    async def _subscribe(self) -> Any:
        """Subscribe to the events, then catch up with what they would have said (the clock's
        total, the uploads): a replica that starts, or comes back, misses nothing."""
        pubsub = self.client.pubsub()
        try:
            await self.store.bounded(pubsub.subscribe(EVENTS))
            await self._sync_clock()
            await self._load_uploads()
        except BaseException:
            await _close_pubsub(pubsub)
            raise
        return pubsub

    async def _events(self) -> None:
        pubsub = self._pubsub
        while True:
            try:
                if pubsub is None:
                    pubsub = self._pubsub = await self._subscribe()
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    await self._event(json.loads(text_of(message["data"])))
            except asyncio.CancelledError:
                await _close_pubsub(pubsub)
                raise
            except Exception:
                await _close_pubsub(pubsub)
                pubsub = self._pubsub = None
                await asyncio.sleep(STATE_RETRY_INTERVAL)

    async def _event(self, doc: dict[str, Any]) -> None:
        kind = doc.get("kind")
        if kind == "clock":
            clock = self.app.clock
            if isinstance(clock, SharedManualClock):
                clock.set_total(float(doc["total"]))
            return
        if doc.get("r") == self.replica:
            return
        if kind == "upload":
            await self._apply_upload(str(doc["name"]), doc.get("text"))

    # --- clocks ----------------------------------------------------------------------------

    async def _sync_clock(self) -> None:
        clock = self.app.clock
        if isinstance(clock, SharedSystemClock):
            loop = asyncio.get_running_loop()
            before = loop.time()
            now = await self.store.time()
            took = loop.time() - before
            clock.offset = now + took / 2 - time.time()
        elif isinstance(clock, SharedManualClock):
            total = await self.store.bounded(self.client.get(CLOCK))
            clock.set_total(float(total or 0))
            clock.on_advance = self._advance_later

    async def _clock_keeper(self) -> None:
        while True:
            await asyncio.sleep(CLOCK_SYNC_INTERVAL)
            with contextlib.suppress(StoreUnavailable):
                await self._sync_clock()

    def _advance_later(self, seconds: float) -> None:
        self._later(self._advance(seconds))

    async def _advance(self, seconds: float) -> None:
        try:
            total = await self.store.bounded(self.client.incrbyfloat(CLOCK, seconds))
            doc = json.dumps({"kind": "clock", "total": total})
            await self.store.bounded(self.client.publish(EVENTS, doc))
        except Exception as err:
            self.app.log(f"mockstatus: clock advance not shared with other replicas: {err}")

    def _epochs_later(self) -> None:
        self._later(self._epochs())

    async def _epochs(self) -> None:
        """Every loaded scenario's clock starts where the first replica started it."""
        runtime = self.app.store.runtime
        if runtime is None:
            return
        for scenario in runtime.set.scenarios:
            local = runtime.loaded.get(scenario.name)
            if local is None:
                continue
            name = f"{scenario.name}\x00{_digest(scenario.file, scenario.name)}"
            try:
                runtime.loaded[scenario.name] = await self.store.epoch(name, local)
            except StoreUnavailable:
                return  # this replica's own start stands until the next swap

    def _later(self, job: Any) -> None:
        task = asyncio.ensure_future(job)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def connect(
    app: Any, url: str, policy: FailurePolicy, journal_size: int, log: Callable[[str], None]
) -> ReplicaLink:
    """Reach the store (StoreUnavailable when it does not answer), route the app's scenario
    state through it and start sharing the journal, uploads and clocks."""
    store = RedisStateStore(url)
    link = ReplicaLink(app, store, journal_size)
    try:
        await link.start()
    except StoreUnavailable:
        await store.close()
        raise
    except Exception as err:  # a refused AUTH, a wrong database number...
        await store.close()
        raise StoreUnavailable(f"state store {store.name}: {err}") from None
    app.shared = SharedResponder(store, policy, log=log)

    async def reset(session: str | None) -> None:
        await app.shared.reset(session, app.clock.monotonic())

    app.admin.shared_reset = reset

    async def states(runtime: Any, call: Any, doc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name, _, machine = call.arg.partition("/state/")
        body = json.loads(call.body or b"{}") if call.method == "PUT" else {}
        session = call.query.get("session")
        return await app.shared.machine_state(runtime, call.method, name, machine, session, body)

    app.admin.shared_states = states
    app.admin.journal_pull = link.journal.pull
    app.admin.journal_clear = link.journal.clear
    return link


async def _close_pubsub(pubsub: Any) -> None:
    if pubsub is None:
        return
    with contextlib.suppress(Exception):
        close = pubsub.aclose if hasattr(pubsub, "aclose") else pubsub.close
        await asyncio.wait_for(close(), 1.0)


def _digest(file: str, name: str) -> str:
    """A scenario's content as replicas share it: its file's bytes (the same on every machine
    whatever the path), else its name (an upload: its text is the same everywhere)."""
    try:
        return hashlib.sha256(Path(file).read_bytes()).hexdigest()[:16]
    except OSError:
        return hashlib.sha256(name.encode()).hexdigest()[:16]
