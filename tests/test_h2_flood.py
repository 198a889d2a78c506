"""The HTTP/2 flood counters (rapid reset, PING/SETTINGS floods; RFC 9113 §10.5) allow at most
their cap in ANY one-second window: a burst straddling a second boundary no longer gets twice
the allowance (the counter used fixed windows). Times are passed in: no sleeps."""

from __future__ import annotations

import pytest

from mockstatus.limits import H2_FLOOD_CONTROL_FRAMES, H2_FLOOD_RESETS
from mockstatus.wire.h2 import FloodWindow


def trips(window: FloodWindow, times: list[float]) -> list[int]:
    """The indexes of the events that tripped the limit."""
    return [i for i, t in enumerate(times) if window.hit(t)]


@pytest.mark.parametrize(
    "cap", [H2_FLOOD_RESETS, H2_FLOOD_CONTROL_FRAMES], ids=["resets", "control"]
)
def test_a_burst_straddling_a_second_boundary_trips_at_cap_plus_one(cap: int) -> None:
    # `cap` events late in one second, then `cap` early in the next: 2 x cap within 0.2 s.
    late = [0.9 + i * 0.05 / cap for i in range(cap)]
    early = [1.0 + i * 0.05 / cap for i in range(cap)]
    assert trips(FloodWindow(cap), late + early) == list(range(cap, 2 * cap))


def test_the_cap_itself_within_a_second_is_allowed() -> None:
    window = FloodWindow(200)
    assert trips(window, [5.0 + i * 0.004 for i in range(200)]) == []  # 200 in 0.8 s
    assert window.hit(5.9) is True  # the 201st within the same second


def test_the_window_slides_events_leave_it_after_one_second() -> None:
    window = FloodWindow(3)
    assert trips(window, [0.0, 0.5, 0.6]) == []
    assert window.hit(0.99) is True  # four within a second
    assert window.hit(1.0) is False  # 0.0 has left the window: 0.5, 0.6, 1.0
    assert window.hit(1.4) is True  # 0.5, 0.6, 1.0 are all less than a second old
    assert window.hit(1.5) is False  # 0.5 has left


def test_a_steady_rate_at_the_cap_never_trips() -> None:
    cap = H2_FLOOD_RESETS
    times = [i * (1.0 / cap) * 1.001 for i in range(20 * cap)]  # 20 s just under the cap
    assert trips(FloodWindow(cap), times) == []


def test_a_refused_event_is_not_counted() -> None:
    """The ring holds at most `cap` times, whatever a client sends."""
    window = FloodWindow(2)
    assert trips(window, [0.0, 0.1, 0.2, 0.3, 0.4]) == [2, 3, 4]
    assert len(window.times) == 2
