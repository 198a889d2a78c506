"""Outage window edges pinned by value: the microsecond of float slack at a recurring window's
end (the route is up when `window_end` says, never a rounding error later)."""

from __future__ import annotations

import pytest

from mockstatus.scenarios import outage
from mockstatus.scenarios.model import OutageWindow

EVERY = OutageWindow(duration=5, every=10)


@pytest.mark.parametrize(
    ("elapsed", "down"),
    [
        (0, True),
        (5 - 1e-5, True),
        (5 - 1e-6, False),  # within the slack: already up
        (5, False),
        (10 - 1e-6, False),
        (10, True),
        (15 - 1e-6, False),
    ],
)
def test_recurring_window_end_has_a_microsecond_of_slack(elapsed, down):
    assert outage.is_active(EVERY, elapsed) is down


def test_one_off_window_has_no_slack():
    once = OutageWindow(duration=5, start=0)
    assert outage.is_active(once, 5 - 1e-6) is True
    assert outage.is_active(once, 5) is False
    assert outage.seconds_left((once,), 5 - 1e-6) == 1
    assert outage.seconds_left((EVERY,), 1.5) == 4
    assert outage.up_at((EVERY,), 1.5) == 5
