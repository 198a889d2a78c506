#!/usr/bin/env python3
"""Benchmark mockstatus against a bare aiohttp app on the same machine, in the same run.

Servers run pinned to one core, the load generator (wrk if installed, else
bench/loadgen.py) to another. Every target is measured `rounds` times,
interleaved (A B C A B C), and the best run per target is kept: on a shared,
noisy machine only ratios measured within one run are meaningful.

Besides req/s, each run records the server process's CPU time (utime + stime
from /proc/<pid>/stat) divided by the requests completed: host steal time is not
charged to the process, so these CPU µs per request ratios corroborate the req/s ones.

Run: python bench/run.py [--duration 5] [--connections 32] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
SCENARIO_DIR = BENCH_DIR / "scenarios"
HOST = "127.0.0.1"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
PROBE_TIMEOUT = 5.0
# Generous per-second ceiling for the bundled generator: only there to bound a run.
MAX_REQUESTS_PER_SECOND = 100_000
PR_SET_PDEATHSIG = 1


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class ServerSpec:
    key: str
    label: str
    argv: tuple[str, ...]
    scenarios: bool = False

    def command(self, port: int, with_scenarios: bool) -> list[str]:
        cmd = [*self.argv, "--host", HOST, "--port", str(port)]
        if with_scenarios:
            cmd += ["--scenarios", str(SCENARIO_DIR)]
        return cmd


@dataclass(frozen=True)
class TargetSpec:
    key: str
    server: str
    route: str
    path: str
    expect: int
    prime: int = 0  # requests sent before probing (uses up a small rate limit)


MS_ROUTES = (
    ("status200", "/status/200", "/status/200", 200, 0),
    ("status503", "/status/503", "/status/503", 503, 0),
    ("matched", "scenario matched", "/bench/orders/42", 503, 0),
    ("post", "matched POST (method, path)", "/bench/cart-plain", 503, 0),
    ("rich", "matched POST (JSONPath + cookie)", "/bench/cart", 503, 0),
    ("limited", "rate-limited (allowed)", "/bench/limited", 200, 0),
    ("limited429", "rate-limited (429)", "/bench/limited-429", 429, 1),
)

SERVER_LABELS = {
    "bare": "bare aiohttp",
    "quiet": "mockstatus --quiet",
    "log": "mockstatus (log on)",
    "nolane": "mockstatus --quiet --fast-lane off",
}
# The lane-off server (issue 19's switch): only the rows that show what the lane earns.
NOLANE_ROUTES = ("status503", "matched")

# (label, cpu label, route, reference "bare" or route on the same server, minimum ratio).
# req/s ratio = route ÷ reference; cpu ratio = reference cpu/req ÷ route cpu/req, so
# both read "1.00 = as cheap as the reference, lower = slower / costlier".
# Issue 19's targets: the fast lane answers /status/503 and the static matched route; the
# rate-limited route (per-request counters) takes the general path and must still keep up.
CHECKS = (
    ("/status/503 vs bare", "cpu/req: bare ÷ /status/503", "status503", "bare", 2.0),
    ("matched vs bare", "cpu/req: bare ÷ matched", "matched", "bare", 2.0),
    ("rate-limited vs bare", "cpu/req: bare ÷ rate-limited", "limited", "bare", 1.0),
    # Issue 13 (rate limits): the fast lane's rate-limit tier keeps a limited route near
    # the prepared bytes of /status/503.
    ("rate-limited vs /status/503", "cpu/req: 503 ÷ rate-limited", "limited", "status503", 0.8),
    ("JSONPath + cookie vs plain POST", "cpu/req: plain POST ÷ rich", "rich", "post", 0.80),
)


def server_specs(bare_stand_in: bool) -> list[ServerSpec]:
    """The bare baseline plus mockstatus with access log off and on."""
    py = sys.executable
    bare = (py, str(BENCH_DIR / "bare.py"))
    if bare_stand_in:  # self-test of the harness while mockstatus is not runnable
        quiet, logged = bare, bare
    else:
        # asyncio, like bare.py: uvloop (in [test]) would flatter the ratio; bench/workers.py
        # compares mockstatus on uvloop with a bare handler on uvloop.
        quiet = (py, "-m", "mockstatus", "serve", "--loop", "asyncio", "--quiet")
        logged = (py, "-m", "mockstatus", "serve", "--loop", "asyncio")
    nolane = bare if bare_stand_in else (*quiet, "--fast-lane", "off")
    return [
        ServerSpec("bare", SERVER_LABELS["bare"], bare),
        ServerSpec("quiet", SERVER_LABELS["quiet"], quiet, scenarios=not bare_stand_in),
        ServerSpec("log", SERVER_LABELS["log"], logged, scenarios=not bare_stand_in),
        ServerSpec("nolane", SERVER_LABELS["nolane"], nolane, scenarios=not bare_stand_in),
    ]


def target_specs() -> list[TargetSpec]:
    targets = [TargetSpec("bare:status503", "bare", "/status/503", "/status/503", 503)]
    for server in ("quiet", "log"):
        for key, route, path, expect, prime in MS_ROUTES:
            targets.append(TargetSpec(f"{server}:{key}", server, route, path, expect, prime))
    for key, route, path, expect, prime in MS_ROUTES:
        if key in NOLANE_ROUTES:
            targets.append(TargetSpec(f"nolane:{key}", "nolane", route, path, expect, prime))
    return targets


# --------------------------------------------------------------------------- results


@dataclass
class RunResult:
    tool: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx_3xx: int
    errors: int
    statuses: dict[str, int] | None = None  # per status code (bundled generator only)
    server_cpu_s: float | None = None  # server utime + stime during the load (None: no /proc)
    cpu_us_per_req: float | None = None  # server_cpu_s / requests, in microseconds


@dataclass
class Outcome:
    target: TargetSpec
    status: int | None = None
    na: str | None = None
    runs: list[RunResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def best(self) -> RunResult | None:
        return max(self.runs, key=lambda r: r.rps, default=None)

    @property
    def best_cpu(self) -> float | None:
        """Lowest server CPU µs per request over the rounds (None: not measurable)."""
        values = [r.cpu_us_per_req for r in self.runs if r.cpu_us_per_req is not None]
        return min(values, default=None)


@dataclass
class Server:
    spec: ServerSpec
    port: int
    proc: subprocess.Popen[bytes]
    note: str = ""
    cpu_pid: int | None = None  # PID whose /proc/<pid>/stat is the server's (None: n/a)
    cpu_note: str = ""  # why cpu_pid is None
    start_s: float | None = None  # spawn → port accepting connections
    idle_rss_mib: float | None = None  # resident memory once listening, before any load


# --------------------------------------------------------------------------- processes


_LIBC: Any = None
with contextlib.suppress(OSError):
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)


def _die_with_parent() -> None:
    # Runs in the child: if the harness is SIGKILLed, the kernel still stops the server.
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def choose_cores() -> tuple[int, int] | None:
    """(server core, client core), or None when pinning is impossible."""
    if shutil.which("taskset") is None:
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else None


def pin(cores: tuple[int, int] | None, which: int) -> list[str]:
    return ["taskset", "-c", str(cores[which])] if cores else []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(proc: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
            return True
        time.sleep(0.05)
    return False


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_TIMEOUT)
            return


def last_line(path: Path) -> str:
    lines = path.read_text(errors="replace").strip().splitlines()
    return lines[-1][:120] if lines else "no output"


# --------------------------------------------------------------------------- server CPU


def clock_ticks_per_second() -> int | None:
    try:
        ticks = os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):  # no sysconf / unknown name
        return None
    return ticks if ticks > 0 else None


CLK_TCK = clock_ticks_per_second()


def cpu_ticks(pid: int) -> int | None:
    """utime + stime (fields 14 and 15 of /proc/<pid>/stat, all threads), in clock ticks."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # Field 2 (comm) is parenthesised and may hold spaces or ")": split after the last ")".
        rest = stat[stat.rindex(")") + 2 :].split()
        return int(rest[14 - 3]) + int(rest[15 - 3])  # rest[0] is field 3
    except (OSError, ValueError, IndexError):
        return None


def rss_mib(pid: int) -> float | None:
    """VmRSS of a process in MiB (None without /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def proc_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]] or None


def child_pids(pid: int) -> list[int]:
    children = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:  # field 4: ppid
                    children.append(int(entry))
    return children


def find_server_pid(proc: subprocess.Popen[bytes], cmd: list[str]) -> tuple[int | None, str]:
    """The PID running the server command itself, verified via /proc/<pid>/cmdline.

    `taskset -c N cmd…` execs cmd, so this is normally `proc.pid`; a `taskset` (or any
    other wrapper) still sitting there would only count its own idle CPU, so then the
    child running `cmd` is used instead. (None, reason) when this cannot be verified.
    """
    if CLK_TCK is None or cpu_ticks(proc.pid) is None:
        return None, "/proc/<pid>/stat unavailable"
    if proc_cmdline(proc.pid) == cmd:
        return proc.pid, ""
    for child in child_pids(proc.pid):
        if proc_cmdline(child) == cmd:
            return child, ""
    return None, f"PID {proc.pid} is {proc_cmdline(proc.pid)!r}, not the server command"


class ServerPool:
    """Starts servers pinned to the server core; stops every one of them on exit."""

    def __init__(self, cores: tuple[int, int] | None, logdir: Path) -> None:
        self.cores = cores
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> ServerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            stop_process(proc)

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        # stdout goes to a file: a pipe nobody reads would block a logging server.
        out_path, err_path = self.logdir / f"{name}.out", self.logdir / f"{name}.err"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(
                pin(self.cores, 0) + cmd,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # Ctrl-C reaches us; we stop servers in order
                preexec_fn=_die_with_parent,
            )
        self.procs.append(proc)
        return proc

    def start(self, spec: ServerSpec) -> Server | str:
        """Start a server; a failure reason string if it never listens."""
        attempts = [True, False] if spec.scenarios else [False]
        reason = ""
        for with_scenarios in attempts:
            port = free_port()
            spawned = time.perf_counter()
            proc = self._spawn(spec.key, spec.command(port, with_scenarios))
            if wait_for_port(proc, port):
                start_s = time.perf_counter() - spawned
                note = (
                    ""
                    if with_scenarios or not spec.scenarios
                    else (f"--scenarios rejected ({reason}); started without it")
                )
                cpu_pid, cpu_note = find_server_pid(proc, spec.command(port, with_scenarios))
                rss = rss_mib(cpu_pid) if cpu_pid is not None else None
                return Server(spec, port, proc, note, cpu_pid, cpu_note, start_s, rss)
            stop_process(proc)
            reason = last_line(self.logdir / f"{spec.key}.err")
        return f"did not start: {reason}"


# --------------------------------------------------------------------------- probing


# Requests that are not a bare GET: (method, header lines, body), by path. Always sent by the
# bundled load generator (wrk would need a Lua script for them).
_CART = (
    "POST",
    ("Cookie: sid=abc123; theme=dark", "Content-Type: application/json"),
    '{"items": [{"id": 3, "qty": 1}], "user": {"name": "ann"}}',
)
REQUESTS = {"/bench/cart": _CART, "/bench/cart-plain": _CART}


def get_status(port: int, path: str) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=PROBE_TIMEOUT)
    try:
        method, lines, body = REQUESTS.get(path, ("GET", (), ""))
        headers = dict(line.split(": ", 1) for line in lines)
        conn.request(method, path, body=body.encode() or None, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def probe(outcome: Outcome, server: Server | str | None) -> None:
    """Check one request before loading, so a missing route is reported, not measured."""
    target = outcome.target
    if not isinstance(server, Server):
        outcome.na = "n/a (server did not start, see below)"
        return
    try:
        for _ in range(target.prime):
            get_status(server.port, target.path)
        outcome.status = get_status(server.port, target.path)
    except (OSError, http.client.HTTPException) as exc:
        outcome.na = f"n/a (probe failed: {exc})"
        return
    if outcome.status == 404 and target.expect != 404:
        outcome.na = "n/a (status 404)"


# --------------------------------------------------------------------------- load tools


WRK_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _wrk_latency(output: str, pct: str) -> float:
    match = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
    if not match:
        raise ValueError(f"no {pct}% latency line in wrk output")
    return round(float(match.group(1)) * WRK_UNITS_MS[match.group(2)], 3)


def _wrk_int(output: str, pattern: str) -> int:
    match = re.search(pattern, output)
    return int(match.group(1)) if match else 0


def parse_wrk(output: str) -> RunResult:
    """Pull req/s, p50, p99 and error counts out of `wrk --latency` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not rps:
        raise ValueError("no Requests/sec line in wrk output")
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return RunResult(
        tool="wrk",
        rps=float(rps.group(1)),
        p50_ms=_wrk_latency(output, "50"),
        p99_ms=_wrk_latency(output, "99"),
        requests=_wrk_int(output, r"(\d+) requests in"),
        non_2xx_3xx=_wrk_int(output, r"Non-2xx or 3xx responses:\s+(\d+)"),
        errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
    )


def parse_loadgen(output: str) -> RunResult:
    data = json.loads(output)
    statuses = {str(k): int(v) for k, v in data["statuses"].items()}
    return RunResult(
        tool="loadgen.py",
        rps=float(data["rps"]),
        p50_ms=float(data["p50_ms"]),
        p99_ms=float(data["p99_ms"]),
        requests=int(data["requests"]),
        non_2xx_3xx=sum(n for s, n in statuses.items() if int(s) >= 400),
        errors=sum(data["errors"].values()),
        statuses=statuses,
    )


def load_command(tool: str, url: str, connections: int, duration: float) -> list[str]:
    if tool == "wrk":
        # One thread: the generator owns exactly one core, more threads only add switching.
        seconds = max(1, round(duration))
        return [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "--latency",
            url,
        ]
    cap = max(10_000, int(duration * MAX_REQUESTS_PER_SECOND))
    return [
        sys.executable,
        str(BENCH_DIR / "loadgen.py"),
        url,
        f"--connections={connections}",
        f"--duration={duration}",
        f"--max-requests={cap}",
        "--json",
    ]


def run_load(
    tool: str, server: Server, path: str, args: argparse.Namespace, cores: tuple[int, int] | None
) -> RunResult:
    url = f"http://{HOST}:{server.port}{path}"
    extra = REQUESTS.get(path)
    if extra is not None:
        tool = "python"
    cmd = pin(cores, 1) + load_command(tool, url, args.connections, args.duration)
    if extra is not None:
        method, lines, body = extra
        cmd += ["--method", method, *(f"--header={line}" for line in lines), "--body", body]
    ticks_before = cpu_ticks(server.cpu_pid) if server.cpu_pid is not None else None
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=args.duration + 30, check=False
    )
    ticks_after = cpu_ticks(server.cpu_pid) if server.cpu_pid is not None else None
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} exited {proc.returncode}: {proc.stderr.strip()[:200]}")
    result = parse_wrk(proc.stdout) if tool == "wrk" else parse_loadgen(proc.stdout)
    if result.requests == 0:
        raise RuntimeError(f"{tool}: no request completed ({result.errors} socket errors)")
    if ticks_before is not None and ticks_after is not None and CLK_TCK:
        result.server_cpu_s = round((ticks_after - ticks_before) / CLK_TCK, 3)
        result.cpu_us_per_req = round(result.server_cpu_s * 1e6 / result.requests, 3)
    return result


def choose_tool(requested: str) -> str:
    if requested == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if requested == "wrk" and not shutil.which("wrk"):
        raise SystemExit("run.py: --loadgen wrk requested but wrk is not installed")
    return requested


# --------------------------------------------------------------------------- running


def run_rounds(
    outcomes: list[Outcome],
    servers: dict[str, Server | str],
    args: argparse.Namespace,
    tool: str,
    cores: tuple[int, int] | None,
) -> None:
    """Interleave targets (A B C A B C) so slow drifts of the machine hit all of them."""
    live = [o for o in outcomes if o.na is None]
    for rnd in range(1, args.rounds + 1):
        for outcome in live:
            server = servers[outcome.target.server]
            assert isinstance(server, Server)
            label = f"[{rnd}/{args.rounds}] {server.spec.label:<20} {outcome.target.route}"
            try:
                result = run_load(tool, server, outcome.target.path, args, cores)
            except (RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
                outcome.failures.append(str(exc))
                print(f"{label}: FAILED {exc}", file=sys.stderr, flush=True)
                continue
            outcome.runs.append(result)
            cpu = fmt_cpu(result.cpu_us_per_req)
            print(
                f"{label}: {result.rps:,.0f} req/s, cpu {cpu} µs/req", file=sys.stderr, flush=True
            )


def by_key(outcomes: list[Outcome]) -> dict[str, Outcome]:
    return {o.target.key: o for o in outcomes}


def ratio(num: Outcome | None, den: Outcome | None) -> float | None:
    a = num.best if num else None
    b = den.best if den else None
    return round(a.rps / b.rps, 3) if a and b and b.rps else None


def cpu_ratio(outcome: Outcome | None, reference: Outcome | None) -> float | None:
    """reference cpu/req ÷ outcome cpu/req: 1.00 = as cheap, lower = more CPU per request."""
    a = outcome.best_cpu if outcome else None
    b = reference.best_cpu if reference else None
    return round(b / a, 3) if a and b else None


def ratios_for(outcome: Outcome, index: dict[str, Outcome]) -> tuple[float | None, float | None]:
    """(vs bare /status/503, vs /status/503 on the same server)."""
    server = outcome.target.server
    vs_bare = ratio(outcome, index.get("bare:status503"))
    vs_503 = None if server == "bare" else ratio(outcome, index.get(f"{server}:status503"))
    return vs_bare, vs_503


def cpu_ratios_for(
    outcome: Outcome, index: dict[str, Outcome]
) -> tuple[float | None, float | None]:
    """Same as ratios_for, on CPU per request (reference ÷ this row)."""
    server = outcome.target.server
    vs_bare = cpu_ratio(outcome, index.get("bare:status503"))
    vs_503 = None if server == "bare" else cpu_ratio(outcome, index.get(f"{server}:status503"))
    return vs_bare, vs_503


def evaluate_checks(index: dict[str, Outcome]) -> list[dict[str, Any]]:
    """req/s checks (the targets) each followed by its CPU-per-request counterpart."""
    checks = []
    for server in ("quiet", "log"):
        for label, cpu_label, num, den, minimum in CHECKS:
            den_key = "bare:status503" if den == "bare" else f"{server}:{den}"
            route, reference = index.get(f"{server}:{num}"), index.get(den_key)
            for metric, name, value in (
                ("req/s", label, ratio(route, reference)),
                ("cpu/req", cpu_label, cpu_ratio(route, reference)),
            ):
                checks.append(
                    {
                        "server": server,
                        "metric": metric,
                        "check": name,
                        "ratio": value,
                        "minimum": minimum,
                        "ok": None if value is None else value >= minimum,
                    }
                )
    return checks


# --------------------------------------------------------------------------- report


def run_note(outcome: Outcome) -> str:
    notes = []
    best, expect = outcome.best, outcome.target.expect
    if outcome.status is not None and outcome.status != expect:
        notes.append(f"expected {expect}, probe got {outcome.status}")
    if best and best.statuses is not None:
        other = {s: n for s, n in best.statuses.items() if int(s) != expect}
        if other:
            notes.append(f"other statuses {other}")
    elif best:
        wanted_ok = expect < 400
        bad = best.non_2xx_3xx if wanted_ok else best.requests - best.non_2xx_3xx
        if bad:
            notes.append(f"{bad} answers outside {'2xx/3xx' if wanted_ok else '4xx/5xx'}")
    if best and best.errors:
        notes.append(f"{best.errors} socket errors")
    if outcome.failures:
        notes.append(f"{len(outcome.failures)} failed runs: {outcome.failures[-1][:80]}")
    return "; ".join(notes)


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fmt_cpu(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def table_rows(outcomes: list[Outcome]) -> list[list[str]]:
    index = by_key(outcomes)
    rows = []
    for outcome in outcomes:
        name = f"{SERVER_LABELS[outcome.target.server]}  {outcome.target.route}"
        best = outcome.best
        if best is None:
            rows.append([name, outcome.na or "n/a (no successful run)", "", "", "", "", "", ""])
            continue
        vs_bare, vs_503 = ratios_for(outcome, index)
        rows.append(
            [
                name,
                f"{best.rps:,.0f}",
                f"{best.p50_ms:.2f}",
                f"{best.p99_ms:.2f}",
                fmt_ratio(vs_bare),
                fmt_ratio(vs_503),
                fmt_cpu(outcome.best_cpu),
                run_note(outcome),
            ]
        )
    return rows


def print_table(outcomes: list[Outcome]) -> None:
    header = ["target", "req/s", "p50 ms", "p99 ms", "vs bare", "vs 503", "cpu µs/req", "notes"]
    rows = table_rows(outcomes)
    measured = [header, *(r for r in rows if r[2])]
    widths = [max(len(r[i]) for r in measured) for i in range(len(header) - 1)]
    widths[0] = max(len(r[0]) for r in [header, *rows])
    for row in [header, *rows]:
        if not row[2] and row is not header:  # n/a row: let the reason span the columns
            print(f"{row[0]:<{widths[0]}}  {row[1]}")
            continue
        cells = [f"{row[0]:<{widths[0]}}"]
        cells += [f"{cell:>{widths[i + 1]}}" for i, cell in enumerate(row[1:-1])]
        print("  ".join(cells) + (f"  {row[-1]}" if row[-1] else ""))


def print_startup(servers: dict[str, Server | str]) -> None:
    print("\nstart-up (spawn → listening) and idle RSS:")
    for server in servers.values():
        if isinstance(server, Server):
            start = "n/a" if server.start_s is None else f"{server.start_s:.2f} s"
            rss = "n/a" if server.idle_rss_mib is None else f"{server.idle_rss_mib:.1f} MiB"
            print(f"  {server.spec.label:<36} {start:>8}  {rss:>10}")


def print_checks(checks: list[dict[str, Any]]) -> None:
    titles = {"quiet": "targets, --quiet (like for like)", "log": "access log on (information)"}
    for server, title in titles.items():
        print(f"\n{title}:")
        for check in (c for c in checks if c["server"] == server):
            verdict = {True: "ok", False: "MISSED", None: "n/a"}[check["ok"]]
            value = "n/a" if check["ratio"] is None else fmt_ratio(check["ratio"])
            print(f"  {check['check']:<36} {value:>5}  (>= {check['minimum']:.2f})  {verdict}")


def print_header(args: argparse.Namespace, tool: str, cores: tuple[int, int] | None) -> None:
    pinning = f"servers on core {cores[0]}, load on core {cores[1]}" if cores else "no pinning"
    # The load average before we start says how much the neighbours are eating.
    load1 = os.getloadavg()[0]
    print(
        f"mockstatus bench: {args.rounds} round(s) x {args.duration:g} s, "
        f"{args.connections} connections, load: {tool}, {pinning}, load average {load1:.2f}",
        file=sys.stderr,
        flush=True,
    )


def build_json(
    args: argparse.Namespace,
    tool: str,
    cores: tuple[int, int] | None,
    outcomes: list[Outcome],
    servers: dict[str, Server | str],
    checks: list[dict[str, Any]],
) -> dict[str, Any]:
    index = by_key(outcomes)
    results = []
    for outcome in outcomes:
        vs_bare, vs_503 = ratios_for(outcome, index)
        cpu_vs_bare, cpu_vs_503 = cpu_ratios_for(outcome, index)
        best = outcome.best
        results.append(
            {
                **asdict(outcome.target),
                "probe_status": outcome.status,
                "na": outcome.na,
                "best": asdict(best) if best else None,
                "runs": [asdict(r) for r in outcome.runs],
                "failures": outcome.failures,
                "vs_bare": vs_bare,
                "vs_status503": vs_503,
                "best_cpu_us_per_req": outcome.best_cpu,
                "cpu_vs_bare": cpu_vs_bare,
                "cpu_vs_status503": cpu_vs_503,
                "note": run_note(outcome),
            }
        )
    return {
        "meta": {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "duration_s": args.duration,
            "connections": args.connections,
            "rounds": args.rounds,
            "load_tool": tool,
            "cores": list(cores) if cores else None,
            "bare_as_mockstatus": args.bare_as_mockstatus,
            "load_average_at_end": round(os.getloadavg()[0], 2),
            "clock_ticks_per_s": CLK_TCK,
        },
        "servers": {
            key: (
                {
                    "note": s.note,
                    "cpu_pid": s.cpu_pid,
                    "cpu_note": s.cpu_note,
                    "start_s": s.start_s,
                    "idle_rss_mib": s.idle_rss_mib,
                }
                if isinstance(s, Server)
                else {"error": s}
            )
            for key, s in servers.items()
        },
        "results": results,
        "checks": checks,
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark mockstatus against a bare aiohttp app (see bench/README.md)."
    )
    parser.add_argument(
        "--duration",
        type=float,
        help="seconds per run (default 5, --quick 1; whole seconds with wrk)",
    )
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--quick", action="store_true", help="smoke mode: 1 s runs, one round")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 2, --quick 1)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument(
        "--loadgen", choices=("auto", "wrk", "python"), default="auto", help="default: wrk if found"
    )
    parser.add_argument(
        "--bare-as-mockstatus",
        action="store_true",
        help="self-test the harness: run bench/bare.py in place of mockstatus",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a --quiet target is missed"
    )
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 1.0 if args.quick else 5.0
    if args.rounds is None:
        args.rounds = 1 if args.quick else 2
    if args.duration <= 0 or args.connections < 1 or args.rounds < 1:
        parser.error("--duration, --connections and --rounds must be positive")
    return args


def _raise_exit(signum: int, _frame: object) -> None:
    # Turn SIGTERM/SIGHUP into an exception so the `finally`/`with` cleanup runs.
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def exit_on_signals() -> Iterator[None]:
    previous = {sig: signal.signal(sig, _raise_exit) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def measure(
    args: argparse.Namespace, tool: str, cores: tuple[int, int] | None
) -> tuple[list[Outcome], dict[str, Server | str]]:
    outcomes = [Outcome(t) for t in target_specs()]
    with (
        tempfile.TemporaryDirectory(prefix="mockstatus-bench-") as tmp,
        ServerPool(cores, Path(tmp)) as pool,
    ):
        servers = {spec.key: pool.start(spec) for spec in server_specs(args.bare_as_mockstatus)}
        for outcome in outcomes:
            probe(outcome, servers.get(outcome.target.server))
        run_rounds(outcomes, servers, args, tool, cores)
    return outcomes, servers


def exit_code(
    args: argparse.Namespace, outcomes: list[Outcome], servers: dict[str, Server | str]
) -> int:
    broken = any(isinstance(s, str) for s in servers.values())
    broken |= any(o.na is None and o.best is None for o in outcomes)
    # The targets are defined on req/s; the cpu/req lines corroborate, they do not gate.
    missed = any(
        c["ok"] is False
        for c in evaluate_checks(by_key(outcomes))
        if c["server"] == "quiet" and c["metric"] == "req/s"
    )
    return 1 if broken or (args.strict and missed) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tool = choose_tool(args.loadgen)
    cores = choose_cores()
    print_header(args, tool, cores)
    with exit_on_signals():
        outcomes, servers = measure(args, tool, cores)
    print()
    print_table(outcomes)
    for key, server in servers.items():
        if isinstance(server, str):
            print(f"error: server {key} {server}")
        else:
            if server.note:
                print(f"note: {server.spec.label}: {server.note}")
            if server.cpu_pid is None:
                print(f"note: {server.spec.label}: cpu µs/req n/a ({server.cpu_note})")
    print_startup(servers)
    checks = evaluate_checks(by_key(outcomes))
    print_checks(checks)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = build_json(args, tool, cores, outcomes, servers, checks)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return exit_code(args, outcomes, servers)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
