#!/usr/bin/env python3
"""Soak mockstatus with a mixed workload and check it neither bloats nor slows down (issue 10).

One `mockstatus serve --quiet` process (pinned to core 0 with taskset when available) gets, for a
bounded time:

* the **mix**: keep-alive connections cycling `/status/200`, `/status/503`, a weighted
  `/status/200:90,503:10`, the matched scenario route and the rate-limited route of
  bench/scenarios, plus a side task that uploads, hits and deletes scenarios and sends bad bytes
  (a 0xff header value, a 0xff session, a broken request line);
* in the **stressed** phase only, on top of the mix: 50 pending `/__mockstatus/requests/wait`
  calls (on a path nobody requests, re-armed when they time out) and 1,000 slow clients held by a
  separate process (half trickle a request one byte at a time, half connect and stay idle).

Timeline: warm-up (fills the journal), then the calm phase, then the stressed phase, each half of
the measured time. Server RSS and open file descriptors are read from /proc at the start (after
warm-up) and at the end (after the slow clients left). Targets: RSS growth ≤ 10 % after warm-up;
mix p99 in the stressed phase ≤ 2× the calm phase's p99. Any 5xx the workload did not ask for, and
any request the server never answered, is counted and also fails `--strict`.

Run: python bench/soak.py [--duration 60] [--quick] [--strict] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "bench" / "scenarios"
HOST = "127.0.0.1"
START_TIMEOUT = 20.0
REQUEST_TIMEOUT = 10.0  # a mix request not answered by then counts as a hang
WANTED_FDS = 8192  # soft RLIMIT_NOFILE asked for (capped by the hard limit)
RSS_GROWTH_TARGET = 0.10
P99_RATIO_TARGET = 2.0

# (path, statuses that are the expected answer): a 5xx outside these is a server failure
MIX = (
    ("/status/200", {200}),
    ("/status/503", {503}),
    ("/status/200:90,503:10", {200, 503}),
    ("/bench/orders/42", {503}),
    ("/bench/limited", {200}),
)
UPLOAD = """name: {name}
routes:
  - name: hit
    match: {{path: "/soak/{name}/{{id}}"}}
    respond: {{status: 202, json: {{id: "{{{{ path.id }}}}"}}}}
"""
WAIT_TARGET = "/__mockstatus/requests/wait?path=/soak/never&timeout=30"
TRICKLE_REQUEST = b"GET /status/204 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: yes\r\n\r\n"


# --------------------------------------------------------------------------- process helpers


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to WANTED_FDS (children, the server included, inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = WANTED_FDS if hard == resource.RLIM_INFINITY else min(WANTED_FDS, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pin(core: int) -> list[str]:
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return []
    return ["taskset", "-c", str(core)]


def start_server(port: int) -> subprocess.Popen[bytes]:
    cmd = [
        *pin(0),
        sys.executable,
        "-m",
        "mockstatus",
        "serve",
        "--quiet",
        "--host",
        HOST,
        "--port",
        str(port),
        "--scenarios",
        str(SCENARIO_DIR),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKSTATUS_")}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start listening")


def stop_server(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc.stderr.read().decode(errors="replace") if proc.stderr else ""


@dataclass
class Sample:
    rss_kib: int
    fds: int


def sample(pid: int) -> Sample:
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return Sample(rss, len(os.listdir(f"/proc/{pid}/fd")))


# --------------------------------------------------------------------------- raw HTTP client


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep-alive) of one response; the body is read by Content-Length or chunks."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, close = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and "close" in value:
            close = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, not close


@dataclass
class PhaseStats:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    hangs: int = 0
    side_requests: int = 0

    def p(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000

    def summary(self) -> dict[str, Any]:
        return {
            "phase": self.name,
            "seconds": round(self.seconds, 2),
            "requests": len(self.latencies),
            "req_per_s": round(len(self.latencies) / self.seconds, 1) if self.seconds else None,
            "p50_ms": self.p(0.50),
            "p99_ms": self.p(0.99),
            "statuses": dict(sorted(self.statuses.items())),
            "unexpected": dict(self.unexpected),
            "hangs": self.hangs,
            "side_requests": self.side_requests,
        }


class Workload:
    """The mix on keep-alive connections, recording into whichever phase is current."""

    def __init__(self, port: int, connections: int) -> None:
        self.port = port
        self.connections = connections
        self.phase = PhaseStats("warm-up")
        self.stopping = False

    async def _connection(self, index: int) -> None:
        i = index
        reader = writer = None
        while not self.stopping:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, self.port)
            path, expected = MIX[i % len(MIX)]
            i += 1
            phase = self.phase
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            try:
                status, keep = await asyncio.wait_for(read_response(reader), REQUEST_TIMEOUT)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
                phase.hangs += isinstance(exc, TimeoutError)
                phase.unexpected[f"{path}: {type(exc).__name__}"] += 1
                writer.close()
                reader = writer = None
                continue
            phase.latencies.append(time.perf_counter() - started)
            phase.statuses[status] += 1
            if status not in expected:
                phase.unexpected[f"{path}: {status}"] += 1
            if not keep:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    async def _one(self, data: bytes) -> int | None:
        """One raw request on its own connection: the status, or None if closed without one."""
        reader, writer = await asyncio.open_connection(HOST, self.port)
        try:
            writer.write(data)
            status, _ = await asyncio.wait_for(read_response(reader), REQUEST_TIMEOUT)
            return status
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        finally:
            writer.close()

    async def _side(self) -> None:
        """Uploads, hits, deletes and bad bytes, a few per second, in every phase."""
        n = 0
        while not self.stopping:
            phase = self.phase
            name = f"soak-{n % 5}"
            body = UPLOAD.format(name=name).encode()
            checks: list[tuple[str, bytes, set[int]]] = [
                (
                    "upload",
                    f"PUT /__mockstatus/scenarios/{name} HTTP/1.1\r\nHost: {HOST}\r\n"
                    f"Content-Type: application/yaml\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body,
                    {200, 201},
                ),
                ("hit", f"GET /soak/{name}/{n} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode(), {202}),
                (
                    "0xff header",
                    b"GET /status/200 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bad: \xff\xfe\r\n\r\n",
                    {200, 400},
                ),
                (
                    "0xff session",
                    b"GET /status/200 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"X-Mockstatus-Session: s\xff\r\n\r\n",
                    {200, 400},
                ),
                ("bad line", b"GET /\xff\x00 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", {400}),
                (
                    "journal",
                    b"GET /__mockstatus/requests?limit=50 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                    {200},
                ),
                (
                    "scenarios",
                    b"GET /__mockstatus/scenarios HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                    {200},
                ),
            ]
            if n % 3 == 2:
                checks.append(
                    (
                        "delete",
                        f"DELETE /__mockstatus/scenarios/{name} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode(),
                        {200, 204},
                    )
                )
            for label, data, expected in checks:
                try:
                    status = await self._one(data)
                except TimeoutError:
                    phase.hangs += 1
                    phase.unexpected[f"{label}: hang"] += 1
                    continue
                phase.side_requests += 1
                if status not in expected:
                    phase.unexpected[f"{label}: {status}"] += 1
            n += 1
            await asyncio.sleep(0.2)

    async def run(self) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(self._connection(i)) for i in range(self.connections)]
        tasks.append(asyncio.create_task(self._side()))
        return tasks


async def waiter(port: int, stop: asyncio.Event, counts: Counter[str]) -> None:
    """One pending `/requests/wait` call, re-armed each time it returns."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            counts["connect-error"] += 1
            await asyncio.sleep(0.1)
            continue
        writer.write(f"GET {WAIT_TARGET} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        read = asyncio.create_task(read_response(reader))
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({read, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if read in done:
            try:
                counts[str(read.result()[0])] += 1
            except (asyncio.IncompleteReadError, ConnectionError):
                counts["closed"] += 1
        else:
            read.cancel()
        stopped.cancel()
        writer.close()


async def waiters_pending(port: int) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(f"GET /__mockstatus/metrics HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    text = (await reader.readexactly(length)).decode()
    writer.close()
    for line in text.splitlines():
        if line.startswith("mockstatus_journal_waiters "):
            return int(float(line.split()[1]))
    return -1


# --------------------------------------------------------------------------- slow clients


def slow_clients_main(port: int, count: int, ready: Any, stop: Any, result: Any) -> None:
    """In a child process: `count` connections, half trickling a request one byte every 100 ms
    (reading each answer), half connected and idle, until `stop` is set."""
    with contextlib.suppress(Exception):
        os.sched_setaffinity(0, {1})

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, k: int) -> None:
        await asyncio.sleep((k % 100) / 1000)  # spread the writes over the tick
        while True:
            for offset in range(len(TRICKLE_REQUEST)):
                writer.write(TRICKLE_REQUEST[offset : offset + 1])
                await asyncio.sleep(0.1)
            counts["trickled requests"] += 1
            await read_response(reader)
            counts["trickled answered"] += 1

    async def main() -> None:
        socks: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        for _ in range(count):
            try:
                socks.append(await asyncio.open_connection(HOST, port))
            except OSError:
                counts["connect-error"] += 1
        counts["connected"] = len(socks)
        tasks = [asyncio.create_task(trickle(r, w, k)) for k, (r, w) in enumerate(socks[::2])]
        ready.set()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, stop.wait)
        for task in tasks:
            if task.done() and task.exception() is not None:
                counts[f"trickle {type(task.exception()).__name__}"] += 1
            task.cancel()
        counts["closed by server"] = sum(1 for r, _ in socks if r.at_eof())
        for _, writer in socks:
            writer.close()

    counts: Counter[str] = Counter()
    asyncio.run(main())
    result.update(counts)


# --------------------------------------------------------------------------- the run


class Stress:
    """The 50 waiters (on this loop) and the 1,000 slow clients (in a child process)."""

    def __init__(self, port: int, args: argparse.Namespace) -> None:
        self.port, self.args = port, args
        self.waiter_counts: Counter[str] = Counter()

    async def up(self) -> None:
        self.manager = multiprocessing.Manager()
        self.ready, self.stop_slow = self.manager.Event(), self.manager.Event()
        self.result = self.manager.dict()
        self.slow = multiprocessing.Process(
            target=slow_clients_main,
            args=(self.port, self.args.slow_clients, self.ready, self.stop_slow, self.result),
        )
        self.slow.start()
        self.stop_waiters = asyncio.Event()
        self.waiters = [
            asyncio.create_task(waiter(self.port, self.stop_waiters, self.waiter_counts))
            for _ in range(self.args.waiters)
        ]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.ready.wait, 60)
        await asyncio.sleep(0.5)  # the waiters' requests reach the server

    async def down(self) -> dict[str, int]:
        self.stop_waiters.set()
        self.stop_slow.set()
        await asyncio.gather(*self.waiters, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(None, self.slow.join, 30)
        counts = dict(self.result)
        self.manager.shutdown()
        return counts


async def soak(args: argparse.Namespace, port: int, pid: int) -> dict[str, Any]:
    """Warm-up (the mix, then one pass of waiters and slow clients, so that the start sample is
    taken after every part of the workload has run once), calm, stressed, cool-down."""
    warmup = max(3.0, args.duration * 0.2)
    half = (args.duration - warmup) / 2
    load = Workload(port, args.connections)
    tasks = await load.run()
    await asyncio.sleep(warmup / 2)
    mix_only = sample(pid)
    stress = Stress(port, args)
    await stress.up()
    await asyncio.sleep(warmup / 2)
    warm_counts = await stress.down()
    await asyncio.sleep(1.0)  # let the server close what the clients left
    start = sample(pid)

    calm = PhaseStats("calm")
    load.phase = calm
    t0 = time.perf_counter()
    await asyncio.sleep(half)
    calm.seconds = time.perf_counter() - t0

    stress = Stress(port, args)
    await stress.up()  # connected before the stressed phase starts (not measured)
    pending_before = await waiters_pending(port)
    stressed = PhaseStats("stressed")
    load.phase = stressed
    t0 = time.perf_counter()
    await asyncio.sleep(half)
    stressed.seconds = time.perf_counter() - t0
    pending_after = await waiters_pending(port)
    during = sample(pid)

    # Cool-down: waiters and slow clients leave, the mix goes on (not measured) so that the end
    # sample is taken in the same state as the start one.
    load.phase = PhaseStats("cool-down")
    slow_counts = await stress.down()
    await asyncio.sleep(1.0)
    end = sample(pid)
    load.stopping = True
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "mix_only": asdict(mix_only),
        "start": asdict(start),
        "stressed": asdict(during),
        "end": asdict(end),
        "phases": [calm.summary(), stressed.summary()],
        "waiters": {
            "pending_at_stress_start": pending_before,
            "pending_at_stress_end": pending_after,
            "answers": dict(stress.waiter_counts),
        },
        "slow_clients": slow_counts,
        "slow_clients_warm_up": warm_counts,
    }


def evaluate(report: dict[str, Any]) -> list[dict[str, Any]]:
    start, end = report["start"], report["end"]
    calm, stressed = report["phases"]
    growth = (end["rss_kib"] - start["rss_kib"]) / start["rss_kib"]
    ratio = (
        stressed["p99_ms"] / calm["p99_ms"]
        if calm["p99_ms"] and stressed["p99_ms"] is not None
        else None
    )
    failures = sum(sum(p["unexpected"].values()) for p in report["phases"])
    return [
        {
            "check": "RSS growth after warm-up",
            "value": f"{growth:+.1%}",
            "target": f"<= {RSS_GROWTH_TARGET:.0%}",
            "ok": growth <= RSS_GROWTH_TARGET,
        },
        {
            "check": "p99 stressed / calm",
            "value": "n/a" if ratio is None else f"{ratio:.2f}x",
            "target": f"<= {P99_RATIO_TARGET:.0f}x",
            "ok": ratio is not None and ratio <= P99_RATIO_TARGET,
        },
        {
            "check": "unexpected answers, resets and hangs",
            "value": str(failures),
            "target": "0",
            "ok": failures == 0,
        },
        {
            "check": "waiters pending through the stressed phase",
            "value": f"{report['waiters']['pending_at_stress_start']} -> "
            f"{report['waiters']['pending_at_stress_end']}",
            "target": f"{report['args']['waiters']}",
            "ok": report["waiters"]["pending_at_stress_start"] == report["args"]["waiters"],
        },
    ]


def print_report(report: dict[str, Any], checks: list[dict[str, Any]]) -> None:
    args = report["args"]
    print(
        f"soak: {args['duration']:.0f} s, {args['connections']} mix connections, "
        f"{args['waiters']} waiters, {args['slow_clients']} slow clients, "
        f"pinned={report['pinned']}, fd limit {report['fd_limit']}, load avg {report['loadavg']}"
    )
    print(
        f"{'phase':10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'side':>6}  unexpected"
    )
    for p in report["phases"]:
        p50 = "n/a" if p["p50_ms"] is None else f"{p['p50_ms']:.2f}"
        p99 = "n/a" if p["p99_ms"] is None else f"{p['p99_ms']:.2f}"
        print(
            f"{p['phase']:10} {p['req_per_s'] or 0:>9,.0f} {p50:>8} {p99:>8} "
            f"{p['requests']:>9,} {p['side_requests']:>6}  {p['unexpected'] or '-'}"
        )
    s, e = report["start"], report["end"]
    m, d = report["mix_only"], report["stressed"]
    print(
        f"server RSS {s['rss_kib'] / 1024:.1f} -> {e['rss_kib'] / 1024:.1f} MiB, open FDs "
        f"{s['fds']} -> {e['fds']} (start -> end); mix-only warm-up {m['rss_kib'] / 1024:.1f} "
        f"MiB / {m['fds']} FDs; stressed {d['rss_kib'] / 1024:.1f} MiB / {d['fds']} FDs"
    )
    print(f"waiters: {report['waiters']}")
    print(f"slow clients: {report['slow_clients']}")
    for c in checks:
        print(
            f"  [{'ok' if c['ok'] else 'MISS'}] {c['check']}: {c['value']} (target {c['target']})"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=None, help="seconds (default 60)")
    parser.add_argument("--quick", action="store_true", help="10 s smoke run")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive mix connections")
    parser.add_argument("--waiters", type=int, default=50)
    parser.add_argument("--slow-clients", type=int, default=1000)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 10.0 if args.quick else 60.0
    if not 5.0 <= args.duration <= 3600.0:
        parser.error("--duration must be between 5 and 3600 seconds")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fd_limit = raise_fd_limit()
    if pin(1):  # the clients on the other core than the server, like bench/run.py
        os.sched_setaffinity(0, {1})
    port = free_port()
    proc = start_server(port)
    try:
        report = asyncio.run(soak(args, port, proc.pid))
    finally:
        stderr = stop_server(proc)
    report.update(
        args={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        pinned=bool(pin(0)),
        fd_limit=fd_limit,
        loadavg=Path("/proc/loadavg").read_text().split()[0],
        server_stderr_bytes=len(stderr),
    )
    checks = evaluate(report)
    report["checks"] = checks
    print_report(report, checks)
    if stderr:
        print(f"server stderr ({len(stderr)} bytes): {stderr[-500:]!r}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if args.strict and not all(c["ok"] for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
