"""The dashboard's change tracker remembers at most FEED_SENT_KEYS states as sent: a client
rotating session names while a dashboard is open cannot grow it (issue 20, docs/security.md)."""

from __future__ import annotations

from mockstatus import live
from mockstatus.limits import FEED_SENT_KEYS


def test_sent_states_are_capped_and_the_oldest_is_reported_again() -> None:
    changes = live.Changes(lambda: None)
    for i in range(FEED_SENT_KEYS + 5):
        assert changes.changed(("s", "m", f"session-{i}"), {"auth": "in"}) is True
    assert len(changes.sent) == FEED_SENT_KEYS
    # The newest is remembered: the same state again is no change ...
    assert changes.changed(("s", "m", f"session-{FEED_SENT_KEYS + 4}"), {"auth": "in"}) is False
    # ... the oldest was forgotten, so its state is reported again rather than lost.
    assert changes.changed(("s", "m", "session-0"), {"auth": "in"}) is True
    assert len(changes.sent) == FEED_SENT_KEYS


def test_a_changed_value_for_a_remembered_key_is_reported_once() -> None:
    changes = live.Changes(lambda: None)
    key = ("s", "flaky", "\0default")
    assert changes.changed(key, {"calls": 1, "position": 0}) is True
    assert changes.changed(key, {"calls": 1, "position": 0}) is False
    assert changes.changed(key, {"calls": 2, "position": 1}) is True
