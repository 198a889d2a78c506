#!/usr/bin/env python3
"""Benchmark the event loop and `--workers` (docs/scale-out.md), in one run on one machine.

(1) uvloop: `/status/503` from mockstatus on uvloop against bench/bare.py on uvloop (one aiohttp
    handler), both pinned to one core and loaded from the other: the req/s ratio and the CPU µs
    per request ratio. The asyncio pair is measured alongside for context.
(2) workers: `mockstatus serve --workers 2` against `--workers 1`, both on one Redis
    (`--state`), unpinned (the two workers and the load generator share this machine's cores):
    absolute req/s, and CPU-normalised throughput — requests per CPU-second of all server
    processes (supervisor and workers; redis-server not counted) — whose target is ≥ 0.9× one
    worker's. One worker in memory is measured alongside: the store's own cost per request.

Every run is bounded (duration, rounds, wrk's own timeout); the best run per target is kept.

Run: python bench/workers.py [--duration 5] [--rounds 2] [--quick] [--json PATH]
     [--only loop|workers] [--baseline DIR]

`--baseline DIR` measures (2) for another copy of the package too (DIR holds its `mockstatus/`,
e.g. `git archive main mockstatus | tar -x -C DIR`), interleaved with this one, round by round:
a before/after comparison on a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import run as harness  # noqa: E402  (bench/run.py: processes, CPU ticks, wrk parsing)

PATH = "/status/503"
CPU_TARGET = 0.9  # workers=2 requests per CPU-second ÷ workers=1's


@dataclass
class Measured:
    label: str
    runs: list[tuple[float, float | None]] = field(default_factory=list)  # (req/s, req/CPU-s)

    @property
    def rps(self) -> float | None:
        return max((r for r, _ in self.runs), default=None)

    @property
    def per_cpu_second(self) -> float | None:
        return max((c for _, c in self.runs if c is not None), default=None)


def server_ticks(pid: int) -> int | None:
    """CPU ticks of `pid` and its children (the supervisor and its workers)."""
    total = 0
    for each in (pid, *harness.child_pids(pid)):
        ticks = harness.cpu_ticks(each)
        if ticks is None:
            return None
        total += ticks
    return total


@contextlib.contextmanager
def redis_url(logdir: Path) -> Iterator[str]:
    """A private redis-server for `--state` (persistence off); a placeholder URL without one."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield "redis://127.0.0.1:6379/0"
        return
    port = harness.free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(logdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        harness.wait_for_port(proc, port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        harness.stop_process(proc)  # (start_new_session: stop_process signals its group)


def wrk(url: str, connections: int, threads: int, duration: float, pin: list[str]) -> Any:
    seconds = max(1, round(duration))
    cmd = [*pin, "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    cmd += ["--latency", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=True)
    return harness.parse_wrk(out.stdout)


def measure(
    server: harness.Server, target: Measured, args: argparse.Namespace, *, pinned: bool
) -> None:
    cores = harness.choose_cores() if pinned else None
    url = f"http://{harness.HOST}:{server.port}{PATH}"
    assert harness.get_status(server.port, PATH) == 503
    pid = server.proc.pid
    before = server_ticks(pid)
    if shutil.which("wrk"):
        result = wrk(
            url, args.connections, 1 if pinned else 2, args.duration, harness.pin(cores, 1)
        )
    else:
        cmd = harness.pin(cores, 1) + harness.load_command(
            "python", url, args.connections, args.duration
        )
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 30)
        result = harness.parse_loadgen(out.stdout)
    after = server_ticks(pid)
    per_cpu = None
    if before is not None and after is not None and harness.CLK_TCK and after > before:
        per_cpu = result.requests / ((after - before) / harness.CLK_TCK)
    target.runs.append((result.rps, per_cpu))
    cpu = f"{per_cpu:,.0f} req/CPU-s" if per_cpu else "cpu n/a"
    print(f"  {target.label:<34} {result.rps:>9,.0f} req/s  {cpu}", file=sys.stderr, flush=True)


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s: a smoke run")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", choices=("loop", "workers"), help="measure one group")
    parser.add_argument(
        "--baseline", type=Path, help="a folder holding another mockstatus/ to compare (2) with"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 1.0, 1
    try:
        import uvloop  # noqa: F401
    except ImportError:
        print("workers.py: uvloop is not installed (pip install 'mockstatus[speed]')")
        return 1
    py = sys.executable
    ms = (py, "-m", "mockstatus", "serve", "--quiet", "--scenarios", "none")
    bare = (py, str(BENCH_DIR / "bare.py"))
    with tempfile.TemporaryDirectory() as tmp, redis_url(Path(tmp)) as state:
        loop_specs = {
            "bare-uvloop": ((*bare, "--uvloop"), "bare aiohttp, uvloop"),
            "ms-uvloop": ((*ms, "--loop", "uvloop"), "mockstatus, uvloop"),
            "bare-asyncio": (bare, "bare aiohttp, asyncio"),
            "ms-asyncio": ((*ms, "--loop", "asyncio"), "mockstatus, asyncio"),
        }
        # Both worker counts on the same store: `--state redis` has a cost of its own per
        # request (the journal stream), measured apart as redis ÷ memory for one worker.
        worker_specs = {
            "w1": ((*ms, "--workers", "1"), "--workers 1, memory"),
            "w1r": ((*ms, "--workers", "1", "--state", state), "--workers 1 --state redis"),
            "w2r": ((*ms, "--workers", "2", "--state", state), "--workers 2 --state redis"),
        }
        if args.baseline:
            base = ("env", f"PYTHONPATH={args.baseline.resolve()}", *ms)
            worker_specs["w1r-base"] = (
                (*base, "--workers", "1", "--state", state),
                "baseline: --workers 1 --state redis",
            )
            worker_specs["w2r-base"] = (
                (*base, "--workers", "2", "--state", state),
                "baseline: --workers 2 --state redis",
            )
        results: dict[str, Measured] = {}
        groups = (("loop", loop_specs, True), ("workers", worker_specs, False))
        for group, specs, pinned in groups:
            if args.only and group != args.only:
                continue
            cores = harness.choose_cores() if pinned else None
            with harness.ServerPool(cores, Path(tmp)) as pool:
                servers = {}
                for key, (argv_, label) in specs.items():
                    started = pool.start(harness.ServerSpec(key, label, argv_))
                    if not isinstance(started, harness.Server):
                        print(f"workers.py: {label} {started}")
                        return 1
                    servers[key] = started
                    results[key] = Measured(label)
                print(f"{group} ({'pinned' if pinned else 'unpinned'}):", file=sys.stderr)
                for _ in range(args.rounds):
                    for key, server in servers.items():
                        measure(server, results[key], args, pinned=pinned)
    for key in (*loop_specs, *worker_specs):
        results.setdefault(key, Measured(key))  # a group not measured: n/a
    figures = {
        "uvloop: mockstatus ÷ bare req/s": ratio(
            results["ms-uvloop"].rps, results["bare-uvloop"].rps
        ),
        "uvloop: mockstatus ÷ bare req/CPU-s": ratio(
            results["ms-uvloop"].per_cpu_second, results["bare-uvloop"].per_cpu_second
        ),
        "asyncio: mockstatus ÷ bare req/s": ratio(
            results["ms-asyncio"].rps, results["bare-asyncio"].rps
        ),
        "mockstatus: uvloop ÷ asyncio req/s": ratio(
            results["ms-uvloop"].rps, results["ms-asyncio"].rps
        ),
        "workers 2 ÷ 1 req/s (redis)": ratio(results["w2r"].rps, results["w1r"].rps),
        "workers 2 ÷ 1 req/CPU-s (redis)": ratio(
            results["w2r"].per_cpu_second, results["w1r"].per_cpu_second
        ),
        "one worker: redis ÷ memory req/CPU-s": ratio(
            results["w1r"].per_cpu_second, results["w1"].per_cpu_second
        ),
    }
    if args.baseline:
        figures["baseline: workers 2 ÷ 1 req/s (redis)"] = ratio(
            results["w2r-base"].rps, results["w1r-base"].rps
        )
        figures["baseline: workers 2 ÷ 1 req/CPU-s (redis)"] = ratio(
            results["w2r-base"].per_cpu_second, results["w1r-base"].per_cpu_second
        )
    print()
    print(f"{'target':<34} {'best req/s':>11} {'req/CPU-s':>11}")
    for m in results.values():
        if not m.runs:
            continue
        cpu = f"{m.per_cpu_second:,.0f}" if m.per_cpu_second else "n/a"
        print(f"{m.label:<34} {m.rps or 0:>11,.0f} {cpu:>11}")
    print()
    for name, value in figures.items():
        print(f"{name:<40} {value if value is not None else 'n/a'}")
    normalised = figures["workers 2 ÷ 1 req/CPU-s (redis)"]
    verdict = "met" if normalised is not None and normalised >= CPU_TARGET else "MISSED"
    print(f"target: workers 2 req/CPU-s ≥ {CPU_TARGET}× workers 1: {verdict}")
    if args.json:
        doc = {
            "duration": args.duration,
            "rounds": args.rounds,
            "connections": args.connections,
            "best": {
                k: {"rps": m.rps, "req_per_cpu_s": m.per_cpu_second} for k, m in results.items()
            },
            "figures": figures,
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    with harness.exit_on_signals():  # SIGTERM: the servers and redis-server are stopped
        sys.exit(main())
