"""Stream benchmarks (issue 13): timing fidelity and idle-stream memory.

    python bench/stream.py timing [--streams 100] [--events 40] [--every 50ms] [--json PATH]
    python bench/stream.py idle   [--streams 1000] [--hold 5] [--json PATH]

`timing`: N concurrent SSE streams, each `--events` events `--every` apart. Every event's
arrival is compared with its schedule (head arrival + k × every); p50/p99/max error in ms.
Target: p99 ≤ 5 ms. The server's event-loop lag (a 10 ms sampler on its loop) is reported
beside it, and the client's, so a late event can be blamed on the right side.
`idle`: N SSE streams that only send heartbeats (1 s) are held open for `--hold` seconds.
Server RSS before and with them open, and server CPU over the hold, per stream.
Target: < 50 KiB RSS per idle stream.

The server runs in its own process (`--serve`, a BackgroundServer plus the lag sampler), so its
RSS and CPU are its own. Every loop here is bounded in count and time; 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This script's folder first on the path would make bench/h2.py shadow the h2 library the
# server imports: the repository root instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

SCENARIO = """
name: bench-streams
routes:
  - match: {{path: /timed}}
    respond: {{stream: {{sse: [{{data: tick, id: auto, delay: {every}}}], repeat: {events}}}}}
  - match: {{path: /idle}}
    respond: {{stream: {{sse: [{{data: late, delay: 300s}}], heartbeat: 1s}}}}
"""


# --- the server process --------------------------------------------------------------------------


def serve(port_file: str, folder: str) -> None:
    from mockstatus.app import Mockstatus
    from mockstatus.runner import BackgroundServer
    from mockstatus.types import SystemClock

    app = Mockstatus(clock=SystemClock(), rng=random.Random(1), scenarios_dir=Path(folder))
    app.store.load_initial()
    server = BackgroundServer(app, shutdown_timeout=0.5).start()
    lags: list[float] = []

    async def sampler() -> None:
        loop = asyncio.get_running_loop()
        while len(lags) < 1_000_000:
            start = loop.time()
            await asyncio.sleep(0.01)
            lags.append((loop.time() - start - 0.01) * 1000)

    assert server.loop is not None
    sampling = asyncio.run_coroutine_threadsafe(sampler(), server.loop)
    Path(port_file).write_text(str(server.port))
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    deadline = time.monotonic() + 600
    while not stop and time.monotonic() < deadline:
        time.sleep(0.05)
    sample = list(lags)
    Path(port_file + ".lag").write_text(json.dumps(_stats(sample)))
    server.loop.call_soon_threadsafe(sampling.cancel)
    server.stop()


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3)

    return {
        "n": len(ordered),
        "p50": pct(0.50),
        "p99": pct(0.99),
        "max": round(ordered[-1], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


class Server:
    def __init__(self, every: str = "50ms", events: int = 40) -> None:
        self.dir = tempfile.TemporaryDirectory()
        folder = Path(self.dir.name) / "scenarios"
        folder.mkdir()
        (folder / "s.yaml").write_text(SCENARIO.format(every=every, events=events))
        self.port_file = str(Path(self.dir.name) / "port")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", self.port_file, str(folder)], cwd=ROOT
        )
        deadline = time.monotonic() + 30
        while not Path(self.port_file).exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.05)
        time.sleep(0.1)
        self.port = int(Path(self.port_file).read_text())

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> dict[str, float]:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        lag_file = Path(self.port_file + ".lag")
        lag = json.loads(lag_file.read_text()) if lag_file.exists() else {}
        self.dir.cleanup()
        return lag


# --- the client side -----------------------------------------------------------------------------


async def _open(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def _timed_stream(port: int, events: int, every: float, errors: list[float]) -> None:
    loop = asyncio.get_running_loop()
    reader, writer = await _open(port, "/timed")
    head_at = loop.time()
    seen, buf = 0, b""
    async with asyncio.timeout(events * every + 30):
        while seen < events:
            data = await reader.read(65536)
            if not data:
                break
            now = loop.time()
            buf += data
            while b"data: tick\n\n" in buf:
                _, buf = buf.split(b"data: tick\n\n", 1)
                seen += 1
                # Event k (1-based) is due (k - 1) × every after the head... plus `every`: each
                # event waits its delay, the first included.
                errors.append((now - (head_at + seen * every)) * 1000)
    writer.close()


async def _client_lag(stop: asyncio.Event, lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set() and len(lags) < 1_000_000:
        start = loop.time()
        await asyncio.sleep(0.01)
        lags.append((loop.time() - start - 0.01) * 1000)


async def timing(streams: int, events: int, every: float) -> dict[str, object]:
    server = Server(every=f"{every * 1000:g}ms", events=events)
    errors: list[float] = []
    lags: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_client_lag(stop, lags))
    try:
        await asyncio.gather(
            *(_timed_stream(server.port, events, every, errors) for _ in range(streams))
        )
    finally:
        stop.set()
        await sampler
        server_lag = server.stop()
    # The first event's error also holds the head's own transit; each later one is measured
    # against the same head, so the schedule drifting would show as growing errors.
    return {
        "streams": streams,
        "events_per_stream": events,
        "every_ms": every * 1000,
        "events_received": len(errors),
        "error_ms": _stats(errors),
        "abs_error_ms": _stats([abs(e) for e in errors]),
        "server_loop_lag_ms": server_lag,
        "client_loop_lag_ms": _stats(lags),
        "target_p99_ms": 5.0,
    }


async def idle(streams: int, hold: float) -> dict[str, object]:
    server = Server()
    await asyncio.sleep(0.5)
    before = server.rss_kib()
    conns = []
    heartbeats = 0
    try:
        for start in range(0, streams, 100):
            conns += await asyncio.gather(
                *(_open(server.port, "/idle") for _ in range(min(100, streams - start)))
            )
        await asyncio.sleep(1.5)  # every stream past its first heartbeat
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        await asyncio.sleep(hold)
        cpu = server.cpu_seconds() - cpu0
        elapsed = time.monotonic() - t0
        during = server.rss_kib()
        for reader, _ in conns:
            try:
                data = await asyncio.wait_for(reader.read(65536), 0.01)
            except TimeoutError:
                continue
            heartbeats += data.count(b": heartbeat")
    finally:
        for _, writer in conns:
            writer.close()
        server_lag = server.stop()
    return {
        "streams": len(conns),
        "rss_before_kib": before,
        "rss_open_kib": during,
        "rss_per_stream_kib": round((during - before) / max(1, len(conns)), 2),
        "cpu_ms_per_stream_per_s": round(cpu * 1000 / max(1, len(conns)) / elapsed, 4),
        "heartbeats_buffered": heartbeats,
        "server_loop_lag_ms": server_lag,
        "target_kib_per_stream": 50,
    }


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if args[:1] == ["--serve"]:
        serve(args[1], args[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("timing", "idle"))
    parser.add_argument("--streams", type=int)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--every", default="50ms")
    parser.add_argument("--hold", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    opts = parser.parse_args(args)
    from mockstatus.durations import parse_duration

    if opts.mode == "timing":
        streams = min(opts.streams or 100, 1000)
        result = asyncio.run(timing(streams, min(opts.events, 1000), parse_duration(opts.every)))
    else:
        result = asyncio.run(idle(min(opts.streams or 1000, 5000), min(opts.hold, 60.0)))
    text = json.dumps(result, indent=2)
    print(text)
    if opts.json:
        opts.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
