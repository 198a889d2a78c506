"""Bundled HTTP/1.1 load generator, used by bench/run.py when wrk is not installed.

N keep-alive connections over raw asyncio streams (the aiohttp client is too slow
to saturate an aiohttp server), one request in flight per connection (no
pipelining), bounded both in time and in request count.

Run: python bench/loadgen.py http://127.0.0.1:8080/status/503 -c 32 -d 5 [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

DEFAULT_MAX_REQUESTS = 3_000_000
# After the deadline, in-flight requests get this long to finish before they are
# cancelled and counted as timeouts: keeps the run bounded even if the server stalls.
GRACE_SECONDS = 2.0
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class ProtocolError(Exception):
    """The server sent something we cannot frame."""


@dataclass
class Stats:
    """Everything the workers record; shared by all of them (one event loop, no locks)."""

    max_requests: int
    issued: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    last_done: float = 0.0

    def take(self) -> bool:
        """Reserve one request from the hard cap."""
        if self.issued >= self.max_requests:
            return False
        self.issued += 1
        return True


@dataclass
class Target:
    host: str
    port: int
    path: str
    method: str = "GET"
    headers: tuple[str, ...] = ()  # "Name: value" lines
    body: bytes = b""

    def request(self) -> bytes:
        head = f"{self.method} {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        for line in self.headers:
            head += line + "\r\n"
        if self.body:
            head += f"Content-Length: {len(self.body)}\r\n"
        return (head + "\r\n").encode() + self.body


def parse_url(url: str) -> Target:
    """Split an http:// URL; only loopback hosts are accepted."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"expected an http:// URL, got {url!r}")
    if parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"refusing to load a non-loopback host: {parts.hostname}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.hostname, parts.port or 80, path)


def _header_value(lowered: bytes, head: bytes, name: bytes) -> bytes | None:
    # Searching the lowered head once is cheaper than splitting every header line.
    idx = lowered.find(b"\r\n" + name + b":")
    if idx < 0:
        return None
    start = idx + len(name) + 3
    end = lowered.find(b"\r\n", start)
    return head[start:end].strip()


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            await _skip_trailers(reader)
            return
        await reader.readexactly(size + 2)


async def _skip_trailers(reader: asyncio.StreamReader) -> None:
    while (await reader.readuntil(b"\r\n")) != b"\r\n":
        pass


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return (status, connection still usable)."""
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):
        raise ProtocolError(f"bad status line: {head[:40]!r}")
    status = int(head[9:12])
    lowered = head.lower()
    keep = head.startswith(b"HTTP/1.1") and b"\r\nconnection: close" not in lowered
    if status < 200 or status in (204, 304):
        return status, keep
    encoding = _header_value(lowered, head, b"transfer-encoding")
    if encoding is not None and b"chunked" in encoding.lower():
        await _read_chunked(reader)
        return status, keep
    length = _header_value(lowered, head, b"content-length")
    if length is None:
        await reader.read()  # body runs to EOF: the connection is spent
        return status, False
    await reader.readexactly(int(length))
    return status, keep


async def _run_connection(
    target: Target, stats: Stats, deadline: float, clock: Callable[[], float]
) -> None:
    reader, writer = await asyncio.open_connection(target.host, target.port)
    request = target.request()
    try:
        while clock() < deadline and stats.take():
            start = time.perf_counter_ns()
            writer.write(request)
            status, keep = await read_response(reader)
            stats.latencies_ns.append(time.perf_counter_ns() - start)
            stats.statuses[status] += 1
            stats.last_done = clock()
            if not keep:
                return
    finally:
        writer.close()


async def _worker(target: Target, stats: Stats, deadline: float) -> None:
    clock = time.perf_counter
    while clock() < deadline and stats.issued < stats.max_requests:
        try:
            await _run_connection(target, stats, deadline, clock)
        except (OSError, EOFError, asyncio.IncompleteReadError, ProtocolError, ValueError) as exc:
            stats.errors[type(exc).__name__] += 1
            await asyncio.sleep(0.01)  # a dead server must not turn this into a busy loop


async def run_load(
    target: Target, connections: int, duration: float, max_requests: int = DEFAULT_MAX_REQUESTS
) -> dict[str, Any]:
    """Load `target` for `duration` seconds (or `max_requests`) and summarise."""
    stats = Stats(max_requests=max_requests)
    start = time.perf_counter()
    stats.last_done = start
    deadline = start + duration
    tasks = [asyncio.create_task(_worker(target, stats, deadline)) for _ in range(connections)]
    _, pending = await asyncio.wait(tasks, timeout=duration + GRACE_SECONDS)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if pending:
        stats.errors["timeout"] += len(pending)
    return summarise(stats, stats.last_done - start, connections)


def percentile(sorted_values: list[int], pct: float) -> int:
    """Nearest-rank percentile of an already sorted list (0 when empty)."""
    if not sorted_values:
        return 0
    rank = max(1, round(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarise(stats: Stats, elapsed: float, connections: int) -> dict[str, Any]:
    latencies = sorted(stats.latencies_ns)
    count = len(latencies)
    classes: Counter[str] = Counter()
    for status, n in stats.statuses.items():
        classes[f"{status // 100}xx"] += n
    return {
        "requests": count,
        "elapsed_s": round(elapsed, 3),
        "connections": connections,
        "rps": round(count / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(percentile(latencies, 50) / 1e6, 3),
        "p99_ms": round(percentile(latencies, 99) / 1e6, 3),
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "status_classes": dict(sorted(classes.items())),
        "errors": dict(stats.errors),
    }


def format_summary(summary: dict[str, Any]) -> str:
    lines = [
        f"requests   {summary['requests']} in {summary['elapsed_s']} s "
        f"({summary['connections']} connections)",
        f"req/s      {summary['rps']}",
        f"latency    p50 {summary['p50_ms']} ms   p99 {summary['p99_ms']} ms",
        f"statuses   {summary['statuses']}",
    ]
    if summary["errors"]:
        lines.append(f"errors     {summary['errors']}")
    return "\n".join(lines)


def loop_factory(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop when available: the client must be cheaper than the server it loads."""
    if use_uvloop:
        try:
            import uvloop

            return uvloop.new_event_loop
        except ImportError:
            pass
    return asyncio.new_event_loop


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Bounded keep-alive HTTP/1.1 load generator.")
    parser.add_argument("url", help="http://127.0.0.1:PORT/path")
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("-d", "--duration", type=float, default=5.0, help="seconds")
    parser.add_argument("--max-requests", type=int, default=DEFAULT_MAX_REQUESTS)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("-X", "--method", default="GET")
    parser.add_argument("-H", "--header", action="append", default=[], help="Name: value")
    parser.add_argument("--body", default="", help="request body (UTF-8)")
    args = parser.parse_args(argv)
    if args.connections < 1 or args.duration <= 0 or args.max_requests < 1:
        parser.error("connections, duration and max-requests must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        target = parse_url(args.url)
        target = replace(
            target, method=args.method, headers=tuple(args.header), body=args.body.encode()
        )
    except ValueError as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 2
    load = run_load(target, args.connections, args.duration, args.max_requests)
    with asyncio.Runner(loop_factory=loop_factory(not args.no_uvloop)) as runner:
        summary = runner.run(load)
    print(json.dumps(summary) if args.json else format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
