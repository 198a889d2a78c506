#!/usr/bin/env python3
"""A rate-limited route with its state on Redis against the same route in memory (issue: scale
out, bench figure 3): req/s and CPU µs per request of each, their ratio, and the Redis round
trips per request, counted by Redis itself (`INFO commandstats`: script calls per request is
the decision's round trips, target one; every command per request adds the batched journal).

Both servers are measured in the same run, interleaved (memory, redis, memory, redis, ...),
the best round of each kept: on a shared machine only ratios within one run mean anything.

Run: python bench/state.py [--duration 5] [--connections 32] [--rounds 2] [--json PATH]
Needs redis-server (Debian's) and the redis client (`pip install 'mockstatus[redis]'`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = """
routes:
  - name: limited
    match: {path: /bench/limited}
    rate_limit: {limit: 1000000000, window: 1h, key: client}
    respond: {status: 200, body: ok}
"""
PATH = "/bench/limited"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_command(port: int, *parts: str) -> bytes:
    data = f"*{len(parts)}\r\n".encode()
    for p in parts:
        raw = p.encode()
        data += b"$%d\r\n%s\r\n" % (len(raw), raw)
    with socket.create_connection(("127.0.0.1", port), 2) as s:
        s.sendall(data)
        s.settimeout(2)
        out = b""
        while not out.endswith(b"\r\n") or (out.count(b"\r\n") < 2 and out.startswith(b"$")):
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            out += chunk
        return out


def script_calls(port: int) -> dict[str, int]:
    """Calls per command since the last CONFIG RESETSTAT (cmdstat_evalsha:calls=N,...)."""
    text = redis_command(port, "INFO", "commandstats").decode()
    calls = {}
    for line in text.splitlines():
        if line.startswith("cmdstat_"):
            name, _, rest = line.partition(":")
            calls[name[8:]] = int(rest.split("calls=")[1].split(",")[0])
    return calls


def wait_port(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(folder: Path, port: int, state: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "mockstatus", "serve", "--quiet", "--host", "127.0.0.1",
           "--port", str(port), "--scenarios", str(folder), "--state", state,
           "--reload-interval", "0"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    wait_port(port)
    return proc


def load(port: int, connections: int, duration: float) -> dict[str, Any]:
    cmd = [sys.executable, str(ROOT / "bench" / "loadgen.py"), f"http://127.0.0.1:{port}{PATH}",
           "-c", str(connections), "-d", str(duration), "--json"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def call(port: int, method: str, path: str, body: bytes | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def propagation_ms(port_a: int, port_b: int, uploads: int) -> list[float]:
    """Milliseconds from an upload's answer on one replica until the other answers it (polled
    as fast as one client can: the figure includes one poll's round trip)."""
    times = []
    for i in range(uploads):
        text = f"routes:\n  - match: {{path: /bench/up{i}}}\n    respond: {{status: 201}}\n"
        assert call(port_a, "PUT", f"/__mockstatus/scenarios/up{i}", text.encode()) == 201
        start = time.perf_counter()
        deadline = start + 5
        while call(port_b, "GET", f"/bench/up{i}") != 201:
            if time.perf_counter() > deadline:
                times.append(float("inf"))
                break
        else:
            times.append((time.perf_counter() - start) * 1000)
        call(port_a, "DELETE", f"/__mockstatus/scenarios/up{i}")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        print("bench/state.py: redis-server is not installed (apt-get install redis-server)")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "scenarios"
        folder.mkdir()
        (folder / "limited.yaml").write_text(SCENARIO)
        rport = free_port()
        redis = subprocess.Popen(
            [redis_server, "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        servers: dict[str, subprocess.Popen[bytes]] = {}
        try:
            wait_port(rport)
            ports = {"memory": free_port(), "redis": free_port()}
            servers["memory"] = serve(folder, ports["memory"], "memory")
            servers["redis"] = serve(folder, ports["redis"], f"redis://127.0.0.1:{rport}/0")
            ports["redis2"] = free_port()
            servers["redis2"] = serve(folder, ports["redis2"], f"redis://127.0.0.1:{rport}/0")
            propagation = sorted(propagation_ms(ports["redis"], ports["redis2"], 20))
            best: dict[str, dict[str, Any]] = {}
            for _ in range(args.rounds):
                for name in ("memory", "redis"):
                    redis_command(rport, "CONFIG", "RESETSTAT")
                    pid = servers[name].pid
                    cpu_before = cpu_seconds(pid)
                    result = load(ports[name], args.connections, args.duration)
                    time.sleep(0.1)  # the journal's last batch (10 ms) reaches Redis
                    result["cpu_us_per_request"] = round(
                        (cpu_seconds(pid) - cpu_before) * 1e6 / max(1, result["requests"]), 1
                    )
                    if name == "redis":
                        calls = script_calls(rport)
                        scripts = calls.get("evalsha", 0) + calls.get("eval", 0)
                        total = sum(calls.values()) - calls.get("config|resetstat", 0)
                        result["script_calls_per_request"] = round(scripts / result["requests"], 3)
                        result["commands_per_request"] = round(total / result["requests"], 3)
                        result["commands"] = calls
                    if name not in best or result["rps"] > best[name]["rps"]:
                        best[name] = result
        finally:
            for proc in servers.values():
                proc.terminate()
                proc.wait(10)
            redis.terminate()
            redis.wait(10)
    mem, red = best["memory"], best["redis"]
    summary = {
        "memory_rps": mem["rps"],
        "redis_rps": red["rps"],
        "ratio_redis_to_memory": round(red["rps"] / mem["rps"], 3) if mem["rps"] else None,
        "memory_cpu_us_per_request": mem["cpu_us_per_request"],
        "redis_cpu_us_per_request": red["cpu_us_per_request"],
        "redis_script_calls_per_request": red["script_calls_per_request"],
        "redis_commands_per_request": red["commands_per_request"],
        "redis_commands": red["commands"],
        "statuses": {"memory": mem["statuses"], "redis": red["statuses"]},
        "upload_propagation_ms": {
            "median": round(propagation[len(propagation) // 2], 1),
            "max": round(propagation[-1], 1),
        },
        "connections": args.connections,
        "duration_s": args.duration,
    }
    print(json.dumps(summary, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
