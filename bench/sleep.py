"""Delay fidelity (issue 19): `/status/200?sleep=100` at 50 and 1,000 connections, p50/p99.

One `mockstatus serve --quiet --scenarios none` pinned to core 0 (lane on, and again with
`--fast-lane off`), the load generator on core 1, each connection one request in flight. The
target is p99 ≤ 103 ms at both: every answer should wait 100 ms and not much more.
Then `bench/floor.py`, a server that only waits and writes, shows the floor: what this
machine's timers and loopback and the load generator add, which no server can remove.
Beside p50/p99 it prints the server's CPU per answer and how many connection attempts the
kernel's accept queues overflowed meanwhile (TcpExt ListenOverflows, machine-wide): with
aiohttp's backlog of 128, 1,000 connections opened at once overflowed it by thousands, and the
dropped handshakes came back after TCP's 1-3 s retransmission timeouts (that was the p99).

    python bench/sleep.py                 # 5 s per run
    python bench/sleep.py --duration 2 --json /tmp/sleep.json
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402  (bench/run.py: the servers, pinning and load tools)

SLEEP_MS = 100
CONNECTIONS = (50, 1000)
TARGET_P99_MS = 103.0


def listen_overflows(netstat: Path = Path("/proc/net/netstat")) -> int | None:
    """The kernel's count of connections dropped because an accept queue was full (Linux)."""
    try:
        lines = netstat.read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            found = table.get("ListenOverflows")
            return int(found) if found is not None else None
    return None


def _raise_open_files(wanted: int = 8192) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    _raise_open_files()
    tool = run.choose_tool(args.loadgen)
    cores = run.choose_cores()
    py = sys.executable
    specs = [
        run.ServerSpec("quiet", "lane on", (py, "-m", "mockstatus", "serve", "--quiet")),
        run.ServerSpec(
            "nolane",
            "lane off",
            (py, "-m", "mockstatus", "serve", "--quiet", "--fast-lane", "off"),
        ),
        # What the machine itself adds: no server can beat this one (bench/floor.py).
        run.ServerSpec("floor", "floor", (py, str(HERE / "floor.py"), "--sleep", str(SLEEP_MS))),
    ]
    path = f"/status/200?sleep={SLEEP_MS}"
    rows: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="mockstatus-sleep-") as tmp,
        run.ServerPool(cores, Path(tmp)) as pool,
    ):
        for spec in specs:
            server = pool.start(spec)
            if isinstance(server, str):
                print(f"error: {spec.label} {server}", file=sys.stderr)
                return 1
            for connections in CONNECTIONS:
                load = argparse.Namespace(connections=connections, duration=args.duration)
                before = listen_overflows()
                result = run.run_load(tool, server, path, load, cores)
                after = listen_overflows()
                overflows = after - before if before is not None and after is not None else None
                rows.append(
                    {
                        "server": spec.label,
                        "connections": connections,
                        "rps": result.rps,
                        "p50_ms": result.p50_ms,
                        "p99_ms": result.p99_ms,
                        "cpu_us_per_req": result.cpu_us_per_req,
                        "errors": result.errors,
                        "listen_overflows": overflows,
                    }
                )
                print(
                    f"{spec.label:<9} {connections:>5} conns  {result.rps:>8,.0f} req/s  "
                    f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  "
                    f"(target p99 <= {TARGET_P99_MS:g})  errors {result.errors}  "
                    f"cpu {result.cpu_us_per_req or 0:.1f} µs/req  listen overflows {overflows}",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps({"sleep_ms": SLEEP_MS, "runs": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
