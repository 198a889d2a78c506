"""Helpers of the example tests: make retry libraries wait on mockstatus' clock, not the wall's.

The `mockstatus` fixture comes from the mockstatus pytest plugin (installed with mockstatus).
"""

from __future__ import annotations

import time
import types
from typing import Any

import pytest


class VirtualTime:
    """Stands in for the `time` module inside a retry library: `sleep(s)` advances the mockstatus
    server's manual clock by `s` at once, and `time()` reads that clock (for HTTP-date
    Retry-After values). Everything else is the real `time` module."""

    def __init__(self, clock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self._clock = clock
        self._monkeypatch = monkeypatch
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._clock.advance(seconds)

    def time(self) -> float:
        return self._clock.time()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def patch(self, module: types.ModuleType) -> None:
        """Replace `module.time` (a module that did `import time`) for this test."""
        self._monkeypatch.setattr(module, "time", self)


@pytest.fixture
def virtual_time(mockstatus, monkeypatch) -> VirtualTime:
    if mockstatus.external and not mockstatus.clock.controllable:
        pytest.skip("the external mockstatus server was not started with --clock manual")
    return VirtualTime(mockstatus.clock, monkeypatch)
