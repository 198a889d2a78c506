"""The rate limiter at its key cap (issue 10, item 4), through a real server running the bundled
GitHub-like scenario (keyed by Authorization): past the cap every new key evicts exactly one
bucket and the sweep looks at a bounded number of buckets per request — counted, not timed (the
cap is lowered so the run stays small; the real cap is covered in
tests/scenarios/test_ratelimit_lru.py)."""

from __future__ import annotations

import pytest

from mockstatus.app import bundled_scenarios
from mockstatus.scenarios import ratelimit
from mockstatus.scenarios.ratelimit import SWEEP_STEPS
from tests import rawhttp

CAP = 200
KEYS = 3 * CAP


@pytest.mark.slow
def test_new_keys_past_the_cap_cost_one_eviction_each(make_server, monkeypatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_KEYS", CAP)
    text = (bundled_scenarios() / "github-rate-limit.yaml").read_text()
    server = make_server({"github-rate-limit.yaml": text})
    path = "/github/repos/octo/hello"  # route `repos`: 10 a minute per Authorization

    def limiter():
        (state,) = server.app.store.runtime.sessions.values()
        return state.limiter

    with rawhttp.connect(server.port) as sock:
        reader = rawhttp.Reader(sock)
        statuses = set()
        for i in range(KEYS):
            sock.sendall(rawhttp.build("GET", path, {"Authorization": f"token k{i}"}))
            statuses.add(reader.read_response()[1].status)
            if i == CAP - 1:
                steps_at_cap = server.call(lambda: limiter().sweep_steps)
        sock.sendall(rawhttp.build("GET", "/__mockstatus/health"))
        assert reader.read_response()[1].status == 200
    assert 429 not in statuses  # every key is new: each has its whole allowance
    lim = server.call(limiter)
    assert (len(lim), lim.evictions) == (CAP, KEYS - CAP)
    assert lim.sweep_steps - steps_at_cap <= (KEYS - CAP) * SWEEP_STEPS
