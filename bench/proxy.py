#!/usr/bin/env python3
"""What the proxy path costs (issue 14): added latency and throughput through `mockstatus proxy`
against the same upstream reached directly.

The upstream is bench/bare.py (a fixed 503). The issue allows "pinned cores or CPU µs per
request"; this reports both, like for like on two cores:

- the server under test (the upstream in the direct run, `mockstatus proxy` or the baseline in
  a proxied run) is pinned ALONE on core 1; everything else (the load generator, and in a proxied
  run the upstream) shares core 0. Each run thus measures what one core gives through that
  server; the upstream is moved between cores with sched_setaffinity between runs. (Leaving the
  load generator unpinned gave the direct upstream a core of its own while the proxy shared
  one with the load generator.) Without two cores (or sched_setaffinity) nothing is pinned.
- CPU µs per request (utime + stime from /proc, which host steal time does not inflate) of the
  proxy AND of the upstream in the same run, and the load generator's CPU share (near 100 %
  means the load generator, not the server, set the pace: the req/s ratio then flatters the
  proxy and `cpu_ratio` is the figure to judge by). `cpu_ratio` = the upstream's CPU µs per
  request in the direct run / the proxy's: the throughput ratio two pinned cores would give.

- latency: one keep-alive connection, one request at a time, direct and proxied interleaved in
  blocks; p50 and p99 of each and the difference (target: p50 added ≤ 1 ms);
- throughput: bench/loadgen.py at 50 connections for `--duration` seconds, direct then proxied,
  `--rounds` times, best of each kept (target: proxied ≥ 0.5 × direct);
- the same two measurements through bench/proxy_baseline.py, the least a proxy on aiohttp's
  server and client does (one handler, one pooled ClientSession, on the same event loop as
  mockstatus: uvloop when installed), pinned like it: the share of the cost that is aiohttp's
  and the extra hop's, and the share that is mockstatus's own. CPU figures are medians.

Run: python bench/proxy.py [--requests 2000] [--duration 5] [--rounds 2] [--quick] [--json PATH]
     [--no-pin]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT = 20.0
CONNECTIONS = 50
MAX_SECONDS = 300.0  # the whole run, at most


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {START_TIMEOUT} s")


SUT_CORE, OTHER_CORE = 1, 0  # the server under test alone; load generator and upstream
# The cores this run may use, read once (pinning this process later narrows its own set).
_CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


_PIN = [True]  # --no-pin clears it


def _can_pin() -> bool:
    return _PIN[0] and len(_CORES) >= 2


def _pin(pid: int, core: int) -> None:
    if _can_pin():
        os.sched_setaffinity(pid, {_CORES[core]})


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


class _Client:
    """One keep-alive connection, one GET at a time, Content-Length framing only (bare.py and
    the proxy in front of it answer with a Content-Length)."""

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
        self.buf = b""

    def get(self) -> int:
        self.sock.sendall(self.request)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buf) < length:
            self._fill()
        self.buf = self.buf[length:]
        return int(head[9:12])

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        self.buf += data

    def close(self) -> None:
        self.sock.close()


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def measure_latency(ports: dict[str, int], requests: int) -> dict[str, float]:
    clients = {name: _Client(port, "/x") for name, port in ports.items()}
    samples: dict[str, list[float]] = {name: [] for name in ports}
    try:
        for client in clients.values():  # warm-up: connections, caches
            for _ in range(100):
                client.get()
        block = 50
        for _ in range(max(1, requests // block)):
            for name, client in clients.items():
                for _ in range(block):
                    start = time.perf_counter_ns()
                    status = client.get()
                    samples[name].append((time.perf_counter_ns() - start) / 1e6)
                    assert status == 503, status
    finally:
        for client in clients.values():
            client.close()
    out = {}
    for name, values in samples.items():
        out[f"{name}_p50_ms"] = round(_percentile(values, 50), 3)
        out[f"{name}_p99_ms"] = round(_percentile(values, 99), 3)
    out["added_p50_ms"] = round(out["proxied_p50_ms"] - out["direct_p50_ms"], 3)
    out["added_p99_ms"] = round(out["proxied_p99_ms"] - out["direct_p99_ms"], 3)
    if "baseline" in ports:
        out["baseline_added_p50_ms"] = round(out["baseline_p50_ms"] - out["direct_p50_ms"], 3)
        out["baseline_added_p99_ms"] = round(out["baseline_p99_ms"] - out["direct_p99_ms"], 3)
    return out


def measure_throughput(port: int, duration: float) -> dict[str, Any]:
    """One load run on the other core; adds `loadgen_cpu_share` (its CPU seconds / the run's)."""
    argv = [sys.executable, str(ROOT / "bench" / "loadgen.py"), f"http://{HOST}:{port}/x"]
    argv += ["-c", str(CONNECTIONS), "-d", str(duration), "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        argv,
        capture_output=True,
        timeout=duration + 60,
        check=True,
        preexec_fn=lambda: _pin(0, OTHER_CORE),
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run: dict[str, Any] = json.loads(out.stdout)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    run["loadgen_cpu_share"] = round(used / (run["elapsed_s"] or duration), 2)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="latency samples per path")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a smoke run (CI)")
    parser.add_argument("--json", type=Path, help="also write the figures there")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="pin nothing (a box other work keeps busy: a pinned process cannot move away)",
    )
    args = parser.parse_args(argv)
    _PIN[0] = not args.no_pin
    if args.quick:
        args.requests, args.duration, args.rounds = 200, 1.0, 1
    started = time.monotonic()
    up_port, proxy_port, base_port = _free_port(), _free_port(), _free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    up = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "bare.py"), "--port", str(up_port)], **quiet
    )
    proxy_argv = [sys.executable, "-m", "mockstatus", "proxy", "--quiet", "--host", HOST]
    proxy_argv += ["--port", str(proxy_port), "--upstream", f"http://{HOST}:{up_port}"]
    proxy = subprocess.Popen(proxy_argv, **quiet)
    base_argv = [sys.executable, str(ROOT / "bench" / "proxy_baseline.py"), "--host", HOST]
    base_argv += ["--port", str(base_port), "--upstream", f"http://{HOST}:{up_port}"]
    if importlib.util.find_spec("uvloop") is not None:
        base_argv.append("--uvloop")  # `mockstatus proxy` runs on uvloop when installed
    baseline = subprocess.Popen(base_argv, **quiet)
    middles = {"direct": up, "baseline": baseline, "proxied": proxy}
    try:
        _wait_port(up_port, up)
        _wait_port(proxy_port, proxy)
        _wait_port(base_port, baseline)
        _pin(proxy.pid, SUT_CORE)
        _pin(baseline.pid, SUT_CORE)
        ports = {"direct": up_port, "baseline": base_port, "proxied": proxy_port}
        _pin(up.pid, OTHER_CORE)
        _pin(os.getpid(), OTHER_CORE)  # the latency client, beside the upstream
        latency = measure_latency(ports, args.requests)
        best: dict[str, dict[str, Any]] = {}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in ports}
        for _ in range(args.rounds):
            if time.monotonic() - started > MAX_SECONDS:
                break
            for name, port in ports.items():
                _pin(up.pid, SUT_CORE if name == "direct" else OTHER_CORE)
                middle = middles[name]
                cpu_before = _cpu_seconds(middle.pid), _cpu_seconds(up.pid)
                run = measure_throughput(port, args.duration)
                cpu = [
                    _cpu_seconds(p.pid) - b for p, b in zip((middle, up), cpu_before, strict=True)
                ]
                n = run["requests"] or 1
                run["server_cpu_us_per_request"] = round(cpu[0] / n * 1e6, 1)
                run["upstream_cpu_us_per_request"] = round(cpu[1] / n * 1e6, 1)
                runs[name].append(run)
                if name not in best or run["rps"] > best[name]["rps"]:
                    best[name] = run

        def median(name: str, key: str) -> float:
            return round(statistics.median(run[key] for run in runs[name]), 1)

        direct_cpu = median("direct", "server_cpu_us_per_request")
        proxy_cpu = median("proxied", "server_cpu_us_per_request")
        base_cpu = median("baseline", "server_cpu_us_per_request")
        ratio = best["proxied"]["rps"] / best["direct"]["rps"] if best["direct"]["rps"] else 0.0
        base_ratio = (
            best["baseline"]["rps"] / best["direct"]["rps"] if best["direct"]["rps"] else 0.0
        )
        figures = {
            "latency": latency,
            "throughput": {
                "connections": CONNECTIONS,
                "pinned": _can_pin(),
                "direct_rps": best["direct"]["rps"],
                "proxied_rps": best["proxied"]["rps"],
                "ratio": round(ratio, 3),
                "proxied_p50_ms": best["proxied"]["p50_ms"],
                "proxied_p99_ms": best["proxied"]["p99_ms"],
                "proxied_statuses": best["proxied"]["statuses"],
                "proxy_cpu_us_per_request": proxy_cpu,
                # The yardstick: the bare upstream's CPU per request when it is the server under
                # test (direct), and the same upstream's while it serves the proxy (same rate).
                "upstream_cpu_us_per_request": direct_cpu,
                "upstream_cpu_us_per_request_behind_proxy": median(
                    "proxied", "upstream_cpu_us_per_request"
                ),
                "cpu_ratio": round(direct_cpu / proxy_cpu, 3) if proxy_cpu else 0.0,
                "loadgen_cpu_share": {name: median(name, "loadgen_cpu_share") for name in ports},
                "baseline_rps": best["baseline"]["rps"],
                "baseline_ratio": round(base_ratio, 3),
                "baseline_cpu_us_per_request": base_cpu,
                "baseline_cpu_ratio": round(direct_cpu / base_cpu, 3) if base_cpu else 0.0,
            },
            "targets": {"added_p50_ms_at_most": 1.0, "throughput_ratio_at_least": 0.5},
        }
    finally:
        for proc in (proxy, baseline, up):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    lat, thr = figures["latency"], figures["throughput"]
    print(
        f"latency (1 connection): direct p50 {lat['direct_p50_ms']} ms p99 {lat['direct_p99_ms']} ms; "
        f"proxied p50 {lat['proxied_p50_ms']} ms p99 {lat['proxied_p99_ms']} ms; "
        f"added p50 {lat['added_p50_ms']} ms p99 {lat['added_p99_ms']} ms; "
        f"aiohttp-client baseline p50 {lat['baseline_p50_ms']} ms p99 {lat['baseline_p99_ms']} "
        f"ms (added p50 {lat['baseline_added_p50_ms']} ms)"
    )
    pinned = "server under test alone on a core" if thr["pinned"] else "not pinned"
    print(
        f"throughput ({CONNECTIONS} connections, {pinned}): direct {thr['direct_rps']} req/s, "
        f"proxied {thr['proxied_rps']} req/s (×{thr['ratio']}), aiohttp-client baseline "
        f"{thr['baseline_rps']} req/s (×{thr['baseline_ratio']}); load generator CPU share "
        f"{thr['loadgen_cpu_share']}"
    )
    print(
        f"CPU µs/request: proxy {thr['proxy_cpu_us_per_request']}, upstream "
        f"{thr['upstream_cpu_us_per_request']} (direct) / "
        f"{thr['upstream_cpu_us_per_request_behind_proxy']} (behind the proxy), baseline "
        f"{thr['baseline_cpu_us_per_request']}; per-core throughput ratio (upstream ÷ proxy) "
        f"×{thr['cpu_ratio']}, baseline ×{thr['baseline_cpu_ratio']}"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    ok = lat["added_p50_ms"] <= 1.0 and thr["ratio"] >= 0.5
    print("targets met" if ok else "targets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
