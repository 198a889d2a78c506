"""All named sessions together hold at most MAX_SESSION_ENTRIES client-keyed entries (rate-limit
buckets, per-key counters, per-key machine states). Each session's tables are capped on their own,
but clients choose session names too: without a shared budget, MAX_SESSIONS x MAX_KEYS buckets
(~1 KiB each) would be unbounded in practice. Past the budget the least recently used named
sessions are dropped; the default session never is."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mockstatus.http_syntax import SESSION_HEADER
from mockstatus.limits import MAX_SESSION_ENTRIES
from mockstatus.scenarios import runtime as runtime_module
from mockstatus.scenarios.loader import load_text
from mockstatus.scenarios.model import ScenarioSet
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.types import ManualClock, RequestFacts

TEXT = """
routes:
  - name: limited
    match: {path: /r}
    rate_limit: {limit: 1, window: 1h, key: "header:X-Client"}
    respond: {status: 200}
"""

CAP = 100


def make(tmp_path: Path) -> ScenarioRuntime:
    scenario = load_text(TEXT, "b.yaml", tmp_path, "b")
    return ScenarioRuntime(ScenarioSet((scenario,)), clock=ManualClock(), rng=random.Random(1))


def status(rt: ScenarioRuntime, session: str | None, client: str) -> int:
    headers = {"x-client": client}
    if session is not None:
        headers[SESSION_HEADER.lower()] = session
    answer = rt.respond(RequestFacts("GET", "/r", headers=headers))
    assert answer is not None
    return answer[0].status


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "MAX_SESSION_ENTRIES", CAP)


def fill(rt: ScenarioRuntime, session: str, keys: int) -> None:
    for k in range(keys):
        assert status(rt, session, f"c{k}") == 200  # each new client key is a new bucket


def named_entries(rt: ScenarioRuntime) -> int:
    return sum(s.measure() for sid, s in rt.sessions.items() if sid is not None)


def test_the_count_follows_each_session_exactly(tmp_path, small_cap):
    rt = make(tmp_path)
    fill(rt, "a", 7)
    fill(rt, "b", 5)
    # Each session's last request is counted at its next visit.
    assert rt.session_entries == 6 + 4
    rt.session("a")
    rt.session("b")
    assert rt.session_entries == named_entries(rt) == 12


def test_past_the_budget_the_least_recently_used_sessions_go(tmp_path, small_cap):
    rt = make(tmp_path)
    fill(rt, "keep", 10)
    for i in range(30):
        fill(rt, f"s{i}", 10)
        assert status(rt, "keep", "c0") == 429  # used again: the most recent, never dropped
    # 31 sessions x 10 buckets = 310 entries were made; at most the cap (plus one request's
    # worth per session not yet counted) is held.
    assert named_entries(rt) <= CAP + 10
    assert rt.session_entries <= CAP
    assert "keep" in rt.sessions
    assert "s0" not in rt.sessions and "s29" in rt.sessions
    # A dropped session starts over: its client is allowed again.
    assert status(rt, "s0", "c0") == 200
    # A kept one still remembers: its client is still limited.
    assert status(rt, "s29", "c0") == 429


def test_the_default_session_is_never_dropped(tmp_path, small_cap):
    rt = make(tmp_path)
    fill(rt, None, 3)  # type: ignore[arg-type]
    for i in range(40):
        fill(rt, f"s{i}", 10)
    assert None in rt.sessions
    assert status(rt, None, "c0") == 429  # the default session kept its buckets


def test_a_recount_is_amortised(tmp_path, small_cap, monkeypatch):
    rt = make(tmp_path)
    recounts = 0
    shed = ScenarioRuntime._shed

    def counting(self: ScenarioRuntime, keep: str) -> None:
        nonlocal recounts
        recounts += 1
        shed(self, keep)

    monkeypatch.setattr(ScenarioRuntime, "_shed", counting)
    for i in range(100):
        fill(rt, f"s{i}", 10)
    # 1,000 entries made against a cap of 100: each recount leaves 90 % of the cap, so the next
    # one waits for 10 % of the cap in new entries (here 10: one session's worth).
    assert 0 < recounts <= 1000 // (CAP // 10)
    assert rt.session_entries <= CAP


def test_reset_gives_back_the_entries(tmp_path, small_cap):
    rt = make(tmp_path)
    fill(rt, "a", 5)
    fill(rt, "b", 5)
    rt.session("a")
    rt.session("b")
    assert rt.session_entries == 10
    rt.reset("a")
    assert rt.session_entries == 5
    rt.reset()
    assert rt.session_entries == 0


def test_the_real_budget_is_at_most_one_limiters_cap():
    from mockstatus.limits import MAX_KEYS

    assert MAX_SESSION_ENTRIES <= MAX_KEYS
