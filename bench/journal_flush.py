#!/usr/bin/env python3
"""The client-side cost of sharing the journal on Redis (`--state`, docs/scale-out.md): CPU µs
per entry to record it (journal + outbox) and to write it to the stream (encoding, the script
call, the reply), measured in this process against a private `redis-server` (persistence off).

Run: python bench/journal_flush.py [--entries 10000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from multidict import CIMultiDict

from mockstatus.journal import Journal
from mockstatus.state.journal_share import JournalShare
from mockstatus.state.redis_store import RedisStateStore
from tests import redis_server

HEADERS = CIMultiDict({"Host": "127.0.0.1:8080", "User-Agent": "wrk", "Accept": "*/*"})


async def measure(url: str, entries: int, profile: bool) -> None:
    store = RedisStateStore(url)
    journal = Journal(entries)
    share = JournalShare(journal, store, "bench", entries)
    await share.start()

    def record(n: int) -> None:
        for _ in range(n):
            journal.record(
                time.time(), "GET", "/status/503", "", HEADERS, None, None, None, None, 503,
                None, 0.1,
            )  # fmt: skip

    record(1000)  # warm up (the script is loaded once)
    await share.flush()
    start = time.process_time()
    record(entries)
    recorded = time.process_time()
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    await share.flush()
    if profiler:
        profiler.disable()
    flushed = time.process_time()
    per = 1e6 / entries
    print(f"record (journal + outbox): {(recorded - start) * per:.1f} µs per entry")
    print(f"write to the stream:       {(flushed - recorded) * per:.1f} µs per entry")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)
    await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    if not redis_server.available():
        print("journal_flush.py: redis-server is not installed")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for server in redis_server.serve(Path(tmp)):
            asyncio.run(measure(server.url, args.entries, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
