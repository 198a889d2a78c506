"""`mockstatus serve --workers N`: N worker processes behind one supervisor (docs/scale-out.md).

- Fork, after the scenarios are loaded and the TLS certificate is made: every worker starts from
  the same configuration and serves the same certificate (one CA per worker would leave clients
  trusting only one of them), and start-up work is paid once.
- One SO_REUSEPORT socket per worker and address, all bound by the supervisor before the first
  fork: the kernel spreads new connections over them by hash. (One shared socket would let
  whichever loop wakes first accept a whole burst — asyncio accepts up to its backlog per wake-up.)
  The supervisor keeps every socket open, so connections that arrive while a worker restarts wait
  in its socket's backlog instead of being refused. A plain bind first checks that nothing else
  holds the port: SO_REUSEPORT alone would let a second server share it silently.
- The supervisor runs no event loop and serves nothing: it waits on a signal wake-up pipe and a
  readiness pipe, forwards SIGTERM/SIGINT (shutdown) and SIGHUP (reload) to every worker, and
  restarts a worker that dies — at most WORKER_RESTARTS within WORKER_RESTART_WINDOW; past that a
  crash loop stops the server (exit 1) instead of spinning.
- Each worker is `cli._serve` on its own sockets: its own event loop, drain and reload watcher.
  A worker whose supervisor dies gets SIGTERM (Linux PR_SET_PDEATHSIG), so none is orphaned.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import selectors
import signal
import socket
import struct
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from mockstatus.limits import (
    WORKER_EXIT_GRACE,
    WORKER_RESTART_WINDOW,
    WORKER_RESTARTS,
    WORKER_START_TIMEOUT,
)

BACKLOG = 128  # aiohttp's TCPSite default, per worker socket
_STOP = (signal.SIGTERM, signal.SIGINT)
_SIGNALS = (*_STOP, signal.SIGHUP, signal.SIGCHLD)
_PID = struct.Struct("=i")  # a worker's readiness message: its pid (atomic: < PIPE_BUF)
_NO_IPV6 = (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)


def refusal(args: Any) -> str | None:
    """Why `args` cannot run with several workers, or None. Per-process state would multiply:
    every worker would count its own sequences, limits and sessions and keep its own journal."""
    workers = getattr(args, "workers", 1) or 1
    if workers <= 1:
        return None
    if getattr(args, "record", None) is not None:
        return (
            f"--record cannot run with --workers {workers}: each worker would write its own "
            "recording of the same files; record with one worker"
        )
    if getattr(args, "state", None) in (None, "", "memory"):
        return (
            f"--workers {workers} needs a shared state store: each worker process would keep its "
            f"own sequences, rate limits, sessions, uploads and journal, so a limit of 100 would "
            f"let {workers}00 through; add --state redis://HOST:PORT/DB (or MOCKSTATUS_STATE), "
            "or run one worker"
        )
    return None


# --- listening sockets ---------------------------------------------------------------------------


@dataclass
class Bound:
    """The supervisor's sockets: `slots[i]` is worker i's list of (host, socket)."""

    hosts: list[str]  # the hosts actually listening, in order (::1 dropped without IPv6)
    port: int
    slots: list[list[tuple[str, socket.socket]]]

    def close(self) -> None:
        for slot in self.slots:
            for _, sock in slot:
                sock.close()


def _socket(family: int, sockaddr: Any, *, reuseport: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's create_server
        if reuseport:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


def _addresses(host: str, port: int) -> list[tuple[int, Any]]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    return list(dict.fromkeys((family, sockaddr) for family, _, _, _, sockaddr in infos))


def bind(hosts: Sequence[str], port: int, count: int, *, default_hosts: Sequence[str]) -> Bound:
    """`count` SO_REUSEPORT listening sockets per address of every host, on one port (0: the
    first host's free port). ::1 of the default pair is skipped where the machine has no IPv6.
    OSError (with `filename` = the host) when the port is taken."""
    for attempt in range(10):
        slots: list[list[tuple[str, socket.socket]]] = [[] for _ in range(count)]
        bound = Bound([], port, slots)
        try:
            for host in hosts:
                try:
                    addresses = _addresses(host, bound.port)
                    for family, sockaddr in addresses:
                        # A plain bind fails if anything holds the port, even with SO_REUSEPORT.
                        probe = _socket(family, sockaddr, reuseport=False)
                        bound.port = probe.getsockname()[1]
                        sockaddr = (sockaddr[0], bound.port, *sockaddr[2:])
                        probe.close()
                        for slot in slots:
                            sock = _socket(family, sockaddr, reuseport=True)
                            slot.append((host, sock))
                            sock.listen(BACKLOG)
                            sock.setblocking(False)
                except OSError as exc:
                    no_ipv6 = exc.errno in _NO_IPV6 or isinstance(exc, socket.gaierror)
                    if host == "::1" and tuple(hosts) == tuple(default_hosts) and no_ipv6:
                        continue
                    exc.filename = exc.filename or host
                    raise
                bound.hosts.append(host)
            return bound
        except OSError as exc:
            bound.close()
            if not (port == 0 and exc.errno == errno.EADDRINUSE and attempt < 9):
                raise
    raise AssertionError("unreachable")


# --- one worker (the child side) ----------------------------------------------------------------


@dataclass
class Seat:
    """What a worker process gets: its index, its sockets and the readiness pipe."""

    index: int
    sockets: list[tuple[str, socket.socket]]
    ready_fd: int

    async def listen(self, runner: Any, ssl_context: Any) -> dict[str, Any]:
        from aiohttp import web

        sites: dict[str, Any] = {}
        for n, (host, sock) in enumerate(self.sockets):
            site = web.SockSite(runner, sock, ssl_context=ssl_context, backlog=BACKLOG)
            await site.start()
            sites[f"{host}#{n}"] = site
        return sites

    def ready(self) -> None:
        os.write(self.ready_fd, _PID.pack(os.getpid()))


class WholeLines:
    """A worker's stdout for the access log: workers share one pipe, and the kernel keeps a
    write whole only up to PIPE_BUF bytes, so a batch goes out in pieces of whole lines of at
    most that size (a longer single line goes alone). No `fileno()`: accesslog calls `write`."""

    def __init__(self, fd: int, limit: int = select.PIPE_BUF) -> None:
        self.fd = fd
        self.limit = limit

    def write(self, text: str) -> int:
        data = text.encode("utf-8", "replace")
        start = 0
        while start < len(data):
            end = len(data)
            if end - start > self.limit:
                cut = data.rfind(b"\n", start, start + self.limit)
                if cut < 0:  # one line longer than the limit: it goes alone
                    cut = data.find(b"\n", start + self.limit)
                end = len(data) if cut < 0 else cut + 1
            view = memoryview(data)[start:end]
            while view:
                view = view[os.write(self.fd, view) :]
            start = end
        return len(text)

    def flush(self) -> None:
        pass


def _die_with_parent(parent: int) -> None:
    """SIGTERM when the supervisor dies (Linux); elsewhere a killed supervisor leaves orphans."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(0)


# --- the supervisor (the parent side) -----------------------------------------------------------


class RestartBudget:
    """At most `limit` restarts within any `window` seconds."""

    def __init__(self, limit: int = WORKER_RESTARTS, window: float = WORKER_RESTART_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self.times: deque[float] = deque()

    def take(self, now: float) -> bool:
        """Spend one restart at `now`; False when the budget is exhausted."""
        while self.times and now - self.times[0] >= self.window:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True


def describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(sig).name}"
        return f"was killed by signal {sig}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


@dataclass
class Supervisor:
    bound: Bound
    run_worker: Callable[[Seat], int]  # in the child: serve on the seat, return the exit status
    announce: Callable[[], None]  # once every worker listens: the "listening" line
    log: Callable[[str], None]
    shutdown_timeout: float
    budget: RestartBudget = field(default_factory=RestartBudget)
    clock: Callable[[], float] = time.monotonic
    pids: dict[int, int] = field(default_factory=dict)  # pid -> worker index
    ready: set[int] = field(default_factory=set)  # pids that listen

    def run(self) -> int:
        self._ready_r, self._ready_w = os.pipe()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._ready_r, False)
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        previous = {sig: signal.signal(sig, _noop) for sig in _SIGNALS}
        old_wakeup = signal.set_wakeup_fd(self._wake_w)
        try:
            return self._supervise()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for fd in (self._ready_r, self._ready_w, self._wake_r, self._wake_w):
                os.close(fd)
            self.bound.close()

    # -- the loop --------------------------------------------------------------------------------

    def _supervise(self) -> int:
        count = len(self.bound.slots)
        for index in range(count):
            self._start(index)
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ)
        selector.register(self._ready_r, selectors.EVENT_READ)
        announced = False
        start_deadline = self.clock() + WORKER_START_TIMEOUT
        stop_deadline: float | None = None
        status = 0
        with selector:
            while True:
                now = self.clock()
                deadline = stop_deadline if stop_deadline is not None else None
                if not announced and stop_deadline is None:
                    deadline = start_deadline
                timeout = None if deadline is None else max(0.0, deadline - now)
                selector.select(timeout)
                for sig in self._signals():
                    if sig in _STOP and stop_deadline is None:
                        stop_deadline = self._stop_all(sig)
                    elif sig == signal.SIGHUP and stop_deadline is None:
                        self._signal_all(signal.SIGHUP)  # each worker reloads its scenarios
                self._read_ready()
                if not announced and len(self.ready) == count and stop_deadline is None:
                    announced = True
                    self.announce()
                failure = self._reap(restart=stop_deadline is None, starting=not announced)
                if failure is not None:
                    message, status = failure
                    self.log(f"mockstatus: error: {message}: stopping")
                    stop_deadline = self._stop_all(signal.SIGTERM)
                if stop_deadline is None and not announced and self.clock() >= start_deadline:
                    waiting = count - len(self.ready)
                    self.log(
                        f"mockstatus: error: {waiting} worker(s) did not listen within "
                        f"{WORKER_START_TIMEOUT:g}s: stopping"
                    )
                    status = 1
                    stop_deadline = self._stop_all(signal.SIGTERM)
                if stop_deadline is not None:
                    if not self.pids:
                        return status
                    if self.clock() >= stop_deadline:
                        self._kill_stragglers()
                        return status

    def _start(self, index: int) -> int:
        parent = os.getpid()
        # Signals stay blocked across fork: the child must not run the supervisor's handlers.
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                self._child(index, parent, old_mask)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        self.pids[pid] = index
        return pid

    def _child(self, index: int, parent: int, mask: set[Any]) -> NoReturn:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for sig in _SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the worker's loop handles it
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            _die_with_parent(parent)
            for fd in (self._ready_r, self._wake_r, self._wake_w):
                os.close(fd)
            for other, slot in enumerate(self.bound.slots):
                if other != index:
                    for _, sock in slot:
                        sock.close()
            code = self.run_worker(Seat(index, self.bound.slots[index], self._ready_w))
        except KeyboardInterrupt:
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    def _signals(self) -> list[int]:
        with contextlib.suppress(BlockingIOError):
            return list(os.read(self._wake_r, 512))
        return []

    def _read_ready(self) -> None:
        try:
            data = os.read(self._ready_r, _PID.size * 512)
        except BlockingIOError:
            return
        for (pid,) in _PID.iter_unpack(data[: len(data) - len(data) % _PID.size]):
            if pid in self.pids:
                self.ready.add(pid)

    def _reap(self, *, restart: bool, starting: bool) -> tuple[str, int] | None:
        """Collect exited workers and restart them. (message, exit status) when the server must
        stop: a worker ended before every worker listened (its own error line says why, e.g. a
        state store it cannot reach: its status is the server's), or the budget is out."""
        while self.pids:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.pids.clear()
                return None
            if pid == 0:
                return None
            index = self.pids.pop(pid, None)
            self.ready.discard(pid)
            if index is None or not restart:
                continue
            how = describe_exit(status)
            if starting:
                code = os.waitstatus_to_exitcode(status)
                return (
                    f"worker {index} (pid {pid}) {how} before it listened",
                    code if code > 0 else 1,
                )
            if not self.budget.take(self.clock()):
                return (
                    f"worker {index} (pid {pid}) {how}, and workers were restarted "
                    f"{self.budget.limit} times within {self.budget.window:g}s"
                ), 1
            new = self._start(index)
            self.log(f"mockstatus: worker {index} (pid {pid}) {how}: restarted as pid {new}")
        return None

    def _signal_all(self, sig: int) -> None:
        for pid in list(self.pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def _stop_all(self, sig: int) -> float:
        name = signal.Signals(sig).name
        self.log(
            f"mockstatus: {name}: stopping {len(self.pids)} worker(s) "
            f"(in-flight requests have {self.shutdown_timeout:g}s)"
        )
        self._signal_all(signal.SIGTERM)
        return self.clock() + self.shutdown_timeout + WORKER_EXIT_GRACE

    def _kill_stragglers(self) -> None:
        for pid, index in list(self.pids.items()):
            self.log(f"mockstatus: worker {index} (pid {pid}) did not exit in time: SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self.pids.pop(pid, None)


def _noop(signum: int, frame: Any) -> None:
    """The signal is read from the wake-up pipe (signal.set_wakeup_fd)."""
