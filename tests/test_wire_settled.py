"""`wire.core.settled`, the wait before a deliberate RST: it returns as soon as asyncio's buffer
is empty and the client has acknowledged every byte, and gives up after RESET_SETTLE (counted in
polls here, not timed) for a client that never acknowledges."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mockstatus.wire import core


class FakeTransport(asyncio.WriteTransport):
    def __init__(self, buffered: list[int]) -> None:
        super().__init__()
        self.buffered = buffered  # what get_write_buffer_size answers, poll by poll
        self.closing = False

    def get_write_buffer_size(self) -> int:
        return self.buffered.pop(0) if len(self.buffered) > 1 else self.buffered[0]

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return object() if name == "socket" else default


def run(transport: FakeTransport, unacked: list[int], monkeypatch: pytest.MonkeyPatch) -> int:
    asked: list[int] = []

    def unacknowledged(_sock: object) -> int:
        asked.append(1)
        return unacked.pop(0) if len(unacked) > 1 else unacked[0]

    monkeypatch.setattr(core, "_unacknowledged", unacknowledged)
    asyncio.run(core.settled(transport))
    return len(asked)


def test_returns_once_the_buffer_drained_and_the_client_acknowledged(monkeypatch) -> None:
    # two polls with bytes still in asyncio's buffer, then two with bytes unacknowledged
    assert run(FakeTransport([5, 3, 0]), [100, 40, 0], monkeypatch) == 3


def test_gives_up_after_reset_settle_for_a_client_that_never_acknowledges(monkeypatch) -> None:
    monkeypatch.setattr(core, "RESET_SETTLE", 0.005)  # 5 polls of 1 ms
    assert run(FakeTransport([0]), [1], monkeypatch) == 5


def test_a_closing_transport_is_not_waited_for(monkeypatch) -> None:
    transport = FakeTransport([0])
    transport.closing = True
    assert run(transport, [1], monkeypatch) == 0
    assert asyncio.run(core.settled(None)) is None
