"""The dashboard's cost (issue 18): request throughput with 50 open event feeds vs none, and the
p99 latency at a fixed request rate while they are open.

1. Closed loop: wrk when installed, else bench/loadgen.py (`-c` keep-alive connections, one
   request in flight each) against `mockstatus serve --quiet`, alternating rounds with 0 and `--feeds` open
   `/__mockstatus/events` subscribers (a separate process reading and decoding every byte,
   as a browser does, with one selector and one buffer). The median req/s of each side and
   their ratio (target >= 0.9), and the server's CPU microseconds per request on each side
   (their ratio is the throughput ratio a server with a core of its own would see). On two or
   more CPUs the server runs on the first and the load generator and readers on the others
   (`--no-pin`: anywhere), so the readers' work is not counted as the server's.
2. Open loop: requests paced at `--rate` per second over `--paced-connections` connections,
   with the feeds open; p50/p99 measured from each request's scheduled send time (so a stall
   is not hidden by the pacing) and the rate actually achieved.

Every phase is bounded in time and request count; loopback only.

Run: python bench/dashboard.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from loadgen import Target, loop_factory, percentile, read_response  # noqa: E402

PATHS = {"status": "/status/503", "route": "/bench/orders/1"}
RATES = (5000.0, 3000.0, 2000.0, 1000.0, 500.0)  # paced rates tried, highest first


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, cpus: set[int] | None = None) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "mockstatus", "serve", "--quiet", "--port", str(port),
        "--host", "127.0.0.1", "--scenarios", str(HERE / "scenarios"),
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pin(cpus)
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start within 20 s")


# --- feed subscribers (run as a child process: `--subscribe PORT N SECONDS`) ---------------------


class FeedReader:
    """One dashboard's socket, read as a browser reads it (asking for gzip as every browser
    does), at the least CPU a reader can spend: the bench measures the server, so its readers
    must not take the CPU from it. `recv_into` one buffer, de-chunk, inflate, count events."""

    def __init__(self, port: int, gzip: bool = True) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(
            b"GET /__mockstatus/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + (b"Accept-Encoding: gzip, deflate\r\n" if gzip else b"")
            + b"\r\n"
        )
        self.sock.setblocking(False)
        self.pending = b""  # received, not yet de-chunked
        self.head_done = False
        self.inflate: Any = None  # a zlib decompressor when the feed is gzip-encoded
        self.need = 0  # bytes left in the current chunk's data
        self.events = 0
        self.wire_bytes = 0
        self.tail = b""  # the end of the decoded text, for an event marker split across reads

    def feed(self, data: bytes) -> None:
        self.wire_bytes += len(data)
        buf = self.pending + data
        if not self.head_done:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.pending = buf
                return
            head = buf[:end].lower()
            if b"content-encoding: gzip" in head:
                self.inflate = zlib.decompressobj(wbits=31)
            self.head_done = True
            buf = buf[end + 4 :]
        pos, out = 0, []
        while pos < len(buf):
            if self.need:
                take = buf[pos : pos + self.need]
                out.append(take)
                self.need -= len(take)
                pos += len(take)
                if not self.need:
                    pos += 2  # the CRLF after a chunk's data
                continue
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                break
            self.need = int(buf[pos:line_end], 16)
            pos = line_end + 2
        self.pending = buf[pos:]
        text = b"".join(out)
        if self.inflate is not None:
            text = self.inflate.decompress(text)
        text = self.tail + text
        self.events += text.count(b"event: ")
        self.tail = text[-6:]


def subscribe(port: int, n: int, seconds: float, gzip: bool) -> None:
    readers = [FeedReader(port, gzip) for _ in range(n)]
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    selector = selectors.DefaultSelector()
    for reader in readers:
        selector.register(reader.sock, selectors.EVENT_READ, reader)
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    time.sleep(0.3)
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    while not stop[0] and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.2):
            try:
                got = key.fileobj.recv_into(buffer)  # type: ignore[union-attr]
            except (BlockingIOError, InterruptedError):
                continue
            if not got:
                selector.unregister(key.fileobj)
                continue
            key.data.feed(bytes(view[:got]))
    print(json.dumps({"events": sum(r.events for r in readers),
                      "wire_bytes": sum(r.wire_bytes for r in readers),
                      "gzip": sum(r.inflate is not None for r in readers)}), flush=True)  # fmt: skip


def pin(cpus: set[int] | None) -> Any:
    """A preexec_fn running the child on `cpus` (None: wherever the scheduler likes)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def open_feeds(port: int, n: int, seconds: float, gzip: bool = True) -> Any:
    """The readers run at nice 19: on a small machine they share a core with the load generator,
    and a browser's 50 decoders waking 20 times a second took that core from it (wrk got less
    done, so the server idled: in one run it was busy 93 % of the time with feeds and 99.6 %
    without). Niced, they read in what wrk leaves; `received_per_request` shows they still
    read every event."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--subscribe", str(port), str(n), str(seconds), str(int(gzip))],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.nice(19),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise SystemExit(f"the feed subscribers did not start: {line!r}")
    return proc


def close_feeds(proc: subprocess.Popen[str]) -> dict[str, int]:
    """Stop the readers: what they received (events, bytes on the wire, gzip-encoded feeds)."""
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return {}
    for line in out.splitlines():
        if line.startswith("{"):
            return dict(json.loads(line))
    return {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid: int, port: int, path: str, connections: int, seconds: float) -> dict[str, Any]:
    """A closed-loop run with the server's CPU microseconds per request (the figure to trust
    on a shared machine: req/s also measures what the other processes leave us)."""
    before, ticks_before = cpu_seconds(pid), tick_cpu(port)
    run = closed_loop(port, path, connections, seconds)
    used, ticks = cpu_seconds(pid) - before, tick_cpu(port) - ticks_before
    run["cpu_us_per_req"] = round(used * 1e6 / run["requests"], 1) if run["requests"] else None
    # The share of the server's CPU the feed's ticks took: measured in the same process over
    # the same seconds, so what the neighbours take cancels out.
    run["tick_cpu_share"] = round(ticks / used, 4) if used else None
    return run


def tick_cpu(port: int, name: str = "mockstatus_events_tick_cpu_seconds_total") -> float:
    """A counter from the server's metrics (by default the feed ticks' CPU seconds)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"GET /__mockstatus/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        text = b""
        while data := sock.recv(65536):
            text += data
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


# --- load ---------------------------------------------------------------------------------------


def closed_loop(port: int, path: str, connections: int, seconds: float) -> dict[str, Any]:
    """wrk when installed (one thread: C, so the server is the bottleneck, not the load
    generator), else bench/loadgen.py."""
    if shutil.which("wrk") and not os.environ.get("BENCH_LOADGEN"):
        from run import parse_wrk

        wrk = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
             "--latency", f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, timeout=seconds + 30, check=True,
        )  # fmt: skip
        result = parse_wrk(wrk.stdout)
        return {"tool": "wrk", "rps": result.rps, "requests": result.requests}
    out = subprocess.run(
        [sys.executable, str(HERE / "loadgen.py"), f"http://127.0.0.1:{port}{path}",
         "-c", str(connections), "-d", str(seconds), "--json", "--max-requests", "2000000"],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout))


async def _paced(
    port: int, path: str, rate: float, connections: int, seconds: float
) -> dict[str, Any]:
    target = Target("127.0.0.1", port, path)
    request = target.request()
    latencies: list[int] = []
    errors = 0
    last = [0.0]  # when the latest response arrived
    interval = connections / rate  # each connection sends every `interval` seconds
    start = time.perf_counter() + 0.2
    end = start + seconds

    async def one(k: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        due = start + k * interval / connections
        try:
            while due < end:
                now = time.perf_counter()
                if due > now:
                    await asyncio.sleep(due - now)
                writer.write(request)
                try:
                    await read_response(reader)
                except Exception:
                    errors += 1
                    return
                last[0] = time.perf_counter()
                latencies.append(int((last[0] - due) * 1e9))
                due += interval
        finally:
            writer.close()

    tasks = [asyncio.create_task(one(k)) for k in range(connections)]
    await asyncio.wait(tasks, timeout=seconds + 10)
    for t in tasks:
        t.cancel()
    done = sorted(latencies)
    elapsed = max(last[0] - start, 1e-9)
    return {
        "target_rps": rate,
        "achieved_rps": round(len(done) / elapsed, 1),
        "requests": len(done),
        "p50_ms": round(percentile(done, 50) / 1e6, 3),
        "p99_ms": round(percentile(done, 99) / 1e6, 3),
        "errors": errors,
    }


def paced(port: int, path: str, rate: float, connections: int, seconds: float) -> dict[str, Any]:
    with asyncio.Runner(loop_factory=loop_factory(True)) as runner:
        return runner.run(_paced(port, path, rate, connections, seconds))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round (CI smoke)")
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--paced-connections", type=int, default=50)
    parser.add_argument("--path", choices=sorted(PATHS), default="status")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="do not keep the server on CPU 0 and the clients off it",
    )
    parser.add_argument(
        "--identity", action="store_true", help="the readers do not ask for gzip (curl's way)"
    )
    parser.add_argument("--subscribe", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.subscribe:
        port, n, seconds = int(args.subscribe[0]), int(args.subscribe[1]), float(args.subscribe[2])
        subscribe(port, n, min(seconds, 600), args.subscribe[3] == "1")
        return 0
    if args.quick:
        args.rounds, args.seconds = 1, 1.5
    path = PATHS[args.path]
    port = free_port()
    # The server on CPU 0, this process and its children (load generator, feed readers) on the
    # others: readers sharing the server's core would be measured as the feed's cost.
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus = None
    if len(cpus) >= 2 and not args.no_pin:
        server_cpus = {cpus[0]}
        os.sched_setaffinity(0, set(cpus[1:]))
    server = start_server(port, server_cpus)
    results: dict[str, Any] = {
        "path": path,
        "feeds": args.feeds,
        "cpus": len(cpus),
        "server_cpus": sorted(server_cpus) if server_cpus else "any",
    }
    try:
        closed_loop(port, path, args.connections, 1.0)  # warm-up
        rounds: dict[str, list[float]] = {"none": [], "feeds": []}
        cpu: dict[str, list[float]] = {"none": [], "feeds": []}
        shares: list[float] = []
        received: dict[str, int] = {"events": 0, "wire_bytes": 0}
        requests_with_feeds = 0
        for _ in range(args.rounds):
            run = measured(server.pid, port, path, args.connections, args.seconds)
            rounds["none"].append(run["rps"])
            cpu["none"].append(run["cpu_us_per_req"])
            feeds = open_feeds(port, args.feeds, args.seconds + 20, not args.identity)
            run = measured(server.pid, port, path, args.connections, args.seconds)
            requests_with_feeds += run["requests"]
            rounds["feeds"].append(run["rps"])
            cpu["feeds"].append(run["cpu_us_per_req"])
            shares.append(run["tick_cpu_share"])
            got = close_feeds(feeds)
            received["events"] += got.get("events", 0)
            received["wire_bytes"] += got.get("wire_bytes", 0)
            received["gzip_feeds"] = got.get("gzip", 0)
        none, with_feeds = statistics.median(rounds["none"]), statistics.median(rounds["feeds"])
        cpu_none, cpu_feeds = statistics.median(cpu["none"]), statistics.median(cpu["feeds"])
        results["closed_loop"] = {
            "rounds": rounds,
            "median_rps_none": none,
            "median_rps_feeds": with_feeds,
            "ratio": round(with_feeds / none, 3) if none else None,
            "cpu_us_per_req": cpu,
            "cpu_ratio": round(cpu_none / cpu_feeds, 3) if cpu_feeds else None,
            "tick_cpu_share": shares,
            "received": received,
            "wire_bytes_per_event": round(received["wire_bytes"] / received["events"], 1)
            if received["events"]
            else None,
            # Events each reader got per request measured (a little above 1: the metrics reads
            # and the snapshot are events too); well below 1 would mean readers fell behind.
            "received_per_request": round(
                received["events"] / (args.feeds * requests_with_feeds), 3
            )
            if requests_with_feeds
            else None,
            "dropped": tick_cpu(port, "mockstatus_events_dropped_total"),
        }
        # The highest of these rates the box sustains (achieved >= 95 % of the target) with
        # the feeds open, then the same rate without them.
        tried = []
        for rate in [r for r in RATES if r <= args.rate] or [args.rate]:
            feeds = open_feeds(port, args.feeds, args.seconds + 30, not args.identity)
            run_with_feeds = paced(port, path, rate, args.paced_connections, args.seconds)
            close_feeds(feeds)
            tried.append(run_with_feeds)
            if run_with_feeds["achieved_rps"] >= 0.95 * rate:
                break
        results["paced_with_feeds"] = tried
        results["paced_without_feeds"] = paced(
            port, path, tried[-1]["target_rps"], args.paced_connections, args.seconds
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
