#!/usr/bin/env python3
"""What the proxy path costs (issue 14): added latency and throughput through `mockstatus proxy`
against the same upstream reached directly.

The upstream is bench/bare.py (a fixed 503). Three processes share this machine's cores (the
upstream, the proxy, the load), so besides wall-clock figures it reports CPU µs per request of
the proxy process (utime + stime from /proc, which host steal time does not inflate).

- latency: one keep-alive connection, one request at a time, direct and proxied interleaved in
  blocks; p50 and p99 of each and the difference (target: p50 added ≤ 1 ms);
- throughput: bench/loadgen.py at 50 connections for `--duration` seconds, direct then proxied,
  `--rounds` times, best of each kept (target: proxied ≥ 0.5 × direct);
- the same two measurements through bench/proxy_baseline.py, the least a proxy on aiohttp's
  server and client does (one handler, one pooled ClientSession), started beside mockstatus
  and pinned like it: the share of the cost that is aiohttp's and the extra hop's, and the share
  that is mockstatus's own. CPU figures are medians over the rounds.

Run: python bench/proxy.py [--requests 2000] [--duration 5] [--rounds 2] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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


def _pinned(argv: list[str], core: int | None) -> list[str]:
    if core is not None and shutil.which("taskset") and (os.cpu_count() or 1) > core:
        return ["taskset", "-c", str(core), *argv]
    return argv


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


def measure_throughput(port: int, duration: float, core: int | None) -> dict[str, Any]:
    argv = [sys.executable, str(ROOT / "bench" / "loadgen.py"), f"http://{HOST}:{port}/x"]
    argv += ["-c", str(CONNECTIONS), "-d", str(duration), "--json"]
    out = subprocess.run(
        _pinned(argv, core), capture_output=True, timeout=duration + 60, check=True
    )
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="latency samples per path")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a smoke run (CI)")
    parser.add_argument("--json", type=Path, help="also write the figures there")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.duration, args.rounds = 200, 1.0, 1
    started = time.monotonic()
    up_port, proxy_port, base_port = _free_port(), _free_port(), _free_port()
    up = subprocess.Popen(
        _pinned([sys.executable, str(ROOT / "bench" / "bare.py"), "--port", str(up_port)], 0),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy_argv = [sys.executable, "-m", "mockstatus", "proxy", "--quiet", "--host", HOST]
    proxy_argv += ["--port", str(proxy_port), "--upstream", f"http://{HOST}:{up_port}"]
    proxy = subprocess.Popen(
        _pinned(proxy_argv, 1), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base_argv = [sys.executable, str(ROOT / "bench" / "proxy_baseline.py"), "--host", HOST]
    base_argv += ["--port", str(base_port), "--upstream", f"http://{HOST}:{up_port}"]
    baseline = subprocess.Popen(
        _pinned(base_argv, 1), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_port(up_port, up)
        _wait_port(proxy_port, proxy)
        _wait_port(base_port, baseline)
        ports = {"direct": up_port, "baseline": base_port, "proxied": proxy_port}
        latency = measure_latency(ports, args.requests)
        best: dict[str, dict[str, Any]] = {}
        cpus: dict[str, list[float]] = {name: [] for name in ports}
        for _ in range(args.rounds):
            if time.monotonic() - started > MAX_SECONDS:
                break
            for name, port in ports.items():
                middle = {"baseline": baseline, "proxied": proxy}.get(name, proxy)
                cpu_before = _cpu_seconds(middle.pid), _cpu_seconds(up.pid)
                run = measure_throughput(port, args.duration, None)
                cpu = [
                    _cpu_seconds(p.pid) - b for p, b in zip((middle, up), cpu_before, strict=True)
                ]
                n = run["requests"] or 1
                run["proxy_cpu_us_per_request"] = round(cpu[0] / n * 1e6, 1)
                run["upstream_cpu_us_per_request"] = round(cpu[1] / n * 1e6, 1)
                cpus[name].append(
                    run[
                        "upstream_cpu_us_per_request"
                        if name == "direct"
                        else "proxy_cpu_us_per_request"
                    ]
                )
                if name not in best or run["rps"] > best[name]["rps"]:
                    best[name] = run
        ratio = best["proxied"]["rps"] / best["direct"]["rps"] if best["direct"]["rps"] else 0.0
        base_ratio = (
            best["baseline"]["rps"] / best["direct"]["rps"] if best["direct"]["rps"] else 0.0
        )
        figures = {
            "latency": latency,
            "throughput": {
                "connections": CONNECTIONS,
                "direct_rps": best["direct"]["rps"],
                "proxied_rps": best["proxied"]["rps"],
                "ratio": round(ratio, 3),
                "proxied_p50_ms": best["proxied"]["p50_ms"],
                "proxied_p99_ms": best["proxied"]["p99_ms"],
                "proxied_statuses": best["proxied"]["statuses"],
                "proxy_cpu_us_per_request": round(statistics.median(cpus["proxied"]), 1),
                # the yardstick: a bare aiohttp server's CPU per request, in the direct run
                "upstream_cpu_us_per_request": round(statistics.median(cpus["direct"]), 1),
                "baseline_rps": best["baseline"]["rps"],
                "baseline_ratio": round(base_ratio, 3),
                "baseline_cpu_us_per_request": round(statistics.median(cpus["baseline"]), 1),
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
    print(
        f"throughput ({CONNECTIONS} connections): direct {thr['direct_rps']} req/s, proxied "
        f"{thr['proxied_rps']} req/s (×{thr['ratio']}); proxy CPU "
        f"{thr['proxy_cpu_us_per_request']} µs/request (a bare aiohttp server: "
        f"{thr['upstream_cpu_us_per_request']} µs/request); aiohttp-client baseline "
        f"{thr['baseline_rps']} req/s (×{thr['baseline_ratio']}), CPU "
        f"{thr['baseline_cpu_us_per_request']} µs/request"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    ok = lat["added_p50_ms"] <= 1.0 and thr["ratio"] >= 0.5
    print("targets met" if ok else "targets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
