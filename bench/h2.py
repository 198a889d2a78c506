#!/usr/bin/env python3
"""HTTP/2 against HTTP/1.1 on the same mockstatus server, with one load generator (h2load).

    python bench/h2.py [--requests 20000] [--rounds 2] [--json PATH] [--strict]

One `mockstatus serve --quiet --scenarios none` pinned to core 0 (when taskset exists); h2load
pinned to core 1 runs `-c 50 -m 10` against /status/503 over h2c (prior knowledge) and, in the
same run, with `--h1` (HTTP/1.1, pipelining depth 10), alternating the two `rounds` times. The
best run per protocol is kept (a shared machine only slows runs down). p99 comes from h2load's
per-request log. Target (issue 12): HTTP/2 req/s >= 0.35 x HTTP/1.1 req/s.

Needs h2load (Debian: nghttp2-client); exits 2 without it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.35
URL_PATH = "/status/503"


def start_server() -> tuple[subprocess.Popen[str], int]:
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") and os.cpu_count() != 1 else []
    cmd = [
        *pin,
        sys.executable,
        "-m",
        "mockstatus",
        "serve",
        "--quiet",
        "--scenarios",
        "none",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if found:
            return proc, int(found.group(1))
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("mockstatus did not start")


def run_h2load(port: int, requests: int, h1: bool) -> dict[str, float]:
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "requests.log"
        cmd = [
            *pin,
            "h2load",
            "-n",
            str(requests),
            "-c",
            "50",
            "-m",
            "10",
            "--log-file",
            str(log),
            *(["--h1"] if h1 else []),
            f"http://127.0.0.1:{port}{URL_PATH}",
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False).stdout
        durations = sorted(
            int(parts[2])
            for parts in (ln.split("\t") for ln in log.read_text().splitlines())
            if len(parts) >= 3 and parts[1] == "503"
        )
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
    status = re.search(r"status codes: \d+ 2xx, \d+ 3xx, \d+ 4xx, (\d+) 5xx", out)
    if not (rate and done and status and durations):
        raise SystemExit(f"h2load failed:\n{out}")
    p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))] / 1000.0
    return {"req_per_s": float(rate.group(1)), "p99_ms": p99, "answered_503": int(status.group(1))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if shutil.which("h2load") is None:
        print("h2load not found: install nghttp2-client", file=sys.stderr)
        return 2
    proc, port = start_server()
    runs: dict[str, list[dict[str, float]]] = {"h2c": [], "http/1.1": []}
    try:
        for _ in range(args.rounds):
            runs["h2c"].append(run_h2load(port, args.requests, h1=False))
            runs["http/1.1"].append(run_h2load(port, args.requests, h1=True))
    finally:
        proc.terminate()
        proc.wait(10)
    best = {name: max(rs, key=lambda r: r["req_per_s"]) for name, rs in runs.items()}
    ratio = best["h2c"]["req_per_s"] / best["http/1.1"]["req_per_s"]
    for name, r in best.items():
        print(f"{name:9} {r['req_per_s']:9.0f} req/s   p99 {r['p99_ms']:8.1f} ms")
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    print(f"ratio h2c / http/1.1 = {ratio:.2f} (target >= {TARGET_RATIO}: {verdict})")
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "best": best, "ratio": ratio}, indent=2))
    return 1 if args.strict and ratio < TARGET_RATIO else 0


if __name__ == "__main__":
    raise SystemExit(main())
