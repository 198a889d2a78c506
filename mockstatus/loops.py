"""Which event loop `mockstatus serve` runs: uvloop when installed (`mockstatus[speed]`), else
asyncio's own. `--loop asyncio` (MOCKSTATUS_LOOP=asyncio) turns uvloop off without uninstalling it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopUnavailable(Exception):
    pass


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory for `choice` (auto, asyncio, uvloop); None means asyncio's default loop."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise LoopUnavailable(
                "--loop uvloop: uvloop is not installed (pip install 'mockstatus[speed]')"
            ) from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name(factory: Callable[[], asyncio.AbstractEventLoop] | None) -> str:
    return "asyncio" if factory is None else "uvloop"


def run(coro: Coroutine[Any, Any, T], factory: Callable[[], asyncio.AbstractEventLoop] | None) -> T:
    """`asyncio.run` with the chosen loop (Python 3.11's asyncio.run takes no factory)."""
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)
