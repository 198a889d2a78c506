"""A cheap access log in Common Log Format.

aiohttp's own AccessLogger formats through `logging` and halves throughput (AIOHTTP-NOTES), so
lines are formatted with a per-second cached timestamp and written in batches.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, TextIO

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


class _Batcher:
    """Collects lines and writes them at most every 50 ms (one write() per batch)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lines: list[str] = []
        self.scheduled = False

    def add(self, line: str) -> None:
        self.lines.append(line)
        if not self.scheduled:
            self.scheduled = True
            try:
                asyncio.get_running_loop().call_later(0.05, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        self.scheduled = False
        if self.lines:
            data, self.lines = "".join(self.lines), []
            try:
                self.out.write(data)
                self.out.flush()
            except (OSError, ValueError):
                pass  # stdout closed: logging must never break serving


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


def set_output(out: TextIO) -> None:
    """Send access lines elsewhere (tests, the CLI's stdout)."""
    _batcher.flush()
    _batcher.out = out


def flush() -> None:
    _batcher.flush()


class CompactAccessLogger(AbstractAccessLogger):
    """`remote - - [date] "METHOD path HTTP/x.y" status bytes duration_ms`"""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
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
