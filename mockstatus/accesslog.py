"""A cheap access log in Common Log Format that never blocks the event loop.

aiohttp's own AccessLogger formats through `logging` and halves throughput (AIOHTTP-NOTES), so
lines are formatted with a per-second cached timestamp and handed over in batches (every 50 ms) to
one writer thread. The thread may block on a stdout pipe that nobody reads; the loop never does:
past MAX_LOG_BACKLOG bytes waiting, new lines are dropped and counted (`dropped()`), and the CLI
reports the count at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import sys
import threading
import time
from typing import Any, TextIO

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from mockstatus.limits import MAX_LOG_BACKLOG

FLUSH_EVERY = 0.05  # seconds between batches


class _Batcher:
    """Collects lines on the loop; a daemon thread writes each batch with one write()."""

    def __init__(self, out: TextIO, backlog: int = MAX_LOG_BACKLOG) -> None:
        self.out = out
        self.backlog = backlog
        self.lines: list[str] = []
        self.scheduled = False
        # Characters taken in (loop thread only) and written out (writer thread only): one
        # writer each, so no lock on the per-line path; their difference is the backlog.
        self.taken = 0
        self.written = 0
        self.dropped = 0
        self._batches: queue.SimpleQueue[tuple[TextIO, str] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    def add(self, line: str) -> None:
        size = len(line)
        if self.taken - self.written + size > self.backlog:
            self.dropped += 1  # the reader is not keeping up: serving matters more than logging
            return
        self.taken += size
        self.lines.append(line)
        if not self.scheduled:
            self.scheduled = True
            try:
                asyncio.get_running_loop().call_later(FLUSH_EVERY, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        """Hand the collected lines to the writer thread (never blocks)."""
        self.scheduled = False
        if not self.lines:
            return
        data, self.lines = "".join(self.lines), []
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._write_loop, name="mockstatus-log")
            self._thread.daemon = True  # a blocked pipe must not keep the process alive
            self._thread.start()
        self._idle.clear()
        self._batches.put((self.out, data))

    def _write_loop(self) -> None:
        while True:
            item = self._batches.get()
            if item is None:
                return
            out, data = item
            with contextlib.suppress(OSError, ValueError):  # stdout closed: serving goes on
                _write(out, data)
            self.written += len(data)
            if self._batches.empty():
                self._idle.set()

    def wait(self, timeout: float) -> bool:
        """Flush and wait up to `timeout` for the thread to write everything (shutdown)."""
        self.flush()
        return self._idle.wait(timeout)


def _write(out: TextIO, data: str) -> None:
    """Write through the file descriptor when there is one: a thread blocked inside sys.stdout's
    buffer lock would make the interpreter's exit-time flush fail; os.write holds no such lock."""
    try:
        fd = out.fileno()
    except (OSError, ValueError, AttributeError):
        out.write(data)
        out.flush()
        return
    view = memoryview(data.encode("utf-8", "replace"))
    while view:
        written = os.write(fd, view)
        view = view[written:]


_batcher = _Batcher(sys.stdout)
_stamp_second = -1
_stamp = ""


def _timestamp() -> str:
    global _stamp_second, _stamp
    now = int(time.time())
    if now != _stamp_second:
        _stamp_second = now
        _stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
    return _stamp


def set_output(out: TextIO, backlog: int = MAX_LOG_BACKLOG) -> None:
    """Send access lines elsewhere (tests, the CLI's stdout)."""
    _batcher.flush()
    _batcher.out = out
    _batcher.backlog = backlog


def flush(timeout: float = 1.0) -> bool:
    """Write what is buffered, waiting at most `timeout` (a pipe nobody reads stays blocked)."""
    return _batcher.wait(timeout)


def dropped() -> int:
    """Access-log lines dropped because the output did not keep up (since start)."""
    return _batcher.dropped


def unwritten() -> int:
    """Characters handed to the writer but not yet written (a blocked output)."""
    return _batcher.taken - _batcher.written


def log_malformed(remote: str, status: int, size: int, problem: str) -> None:
    """One line for a request that could not be parsed (never a traceback)."""
    problem = problem.replace("\n", " ").replace('"', "'")[:200]
    _batcher.add(f'{remote} - - [{_timestamp()}] "-" {status} {size} 0.0ms "{problem}"\n')


def log_request(
    remote: str, method: str, target: str, version: str, status: int, size: int, ms: float
) -> None:
    """One access line for a request served outside aiohttp (HTTP/2), in the same format."""
    _batcher.add(
        f'{remote or "-"} - - [{_timestamp()}] "{method} {target} {version}" {status} {size} '
        f"{ms:.1f}ms\n"
    )


class CompactAccessLogger(AbstractAccessLogger):
    """`remote - - [date] "METHOD path HTTP/x.y" status bytes duration_ms`"""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if request.method == "UNKNOWN":
            return  # aiohttp's placeholder for a request it could not parse: logged by the wire
        version = request.version
        _batcher.add(
            f'{request.remote or "-"} - - [{_timestamp()}] "{request.method} {request.path_qs} '
            f'HTTP/{version.major}.{version.minor}" {response.status} '
            f"{response.content_length if response.content_length is not None else '-'} "
            f"{time * 1000:.1f}ms\n"
        )

    @property
    def enabled(self) -> bool:
        return True


def logger_kwargs(quiet: bool) -> dict[str, Any]:
    """Keyword arguments for aiohttp's server: our logger, or none at all."""
    if quiet:
        return {"access_log": None}
    import logging

    return {"access_log_class": CompactAccessLogger, "access_log": logging.getLogger("mockstatus")}
