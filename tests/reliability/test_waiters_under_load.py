"""Many waiters while requests flow (issue 10, item 3), on real sockets at the real cap.

MAX_WAITERS `/requests/wait` calls are pending (half filter on the method only, so no index
applies and each sees every entry; half on a path nobody requests, so the index keeps them away
from every entry); the next one gets 503 with Retry-After: 1. Then requests flow, and the work is
counted (Filter.accepts calls), not timed: each new entry is tested once per unindexed waiter and
never by the indexed ones, and nothing re-scans the journal."""

from __future__ import annotations

import resource
import socket
import threading
from collections.abc import Iterator

import pytest

from mockstatus.journal import Filter
from mockstatus.limits import MAX_WAITERS
from tests import rawhttp

FLOW = 200  # requests sent while the waiters are pending
UNINDEXED = MAX_WAITERS // 2


@pytest.fixture
def enough_fds() -> Iterator[None]:
    """Client and server sockets of MAX_WAITERS connections live in this one process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * MAX_WAITERS + 256
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {wanted}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def accepts_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    original = Filter.accepts

    def accepts(flt: Filter, entry) -> bool:
        calls[0] += 1
        return original(flt, entry)

    monkeypatch.setattr(Filter, "accepts", accepts)
    return calls


def wait_until(server, predicate, what: str) -> None:
    done = threading.Event()
    for _ in range(1000):  # bounded: 10 s at most
        if server.call(predicate):
            return
        done.wait(0.01)
    raise AssertionError(f"never: {what}")


@pytest.mark.slow
def test_the_real_cap_of_waiters_costs_each_request_one_test_per_unindexed_waiter(
    server, enough_fds, accepts_calls
) -> None:
    journal = server.app.journal
    rawhttp.request(server.port, "GET", "/status/200")  # one entry before the waits
    socks: list[socket.socket] = []
    try:
        for i in range(MAX_WAITERS):
            target = (
                "/__mockstatus/requests/wait?method=PATCH&timeout=60"
                if i < UNINDEXED
                else f"/__mockstatus/requests/wait?path=/never/{i}&timeout=60"
            )
            sock = rawhttp.connect(server.port)
            sock.sendall(rawhttp.build("GET", target))
            socks.append(sock)
        wait_until(server, lambda: journal.waiting == MAX_WAITERS, "all waits registered")

        _, refused = rawhttp.request(
            server.port, "GET", "/__mockstatus/requests/wait?path=/x&timeout=60"
        )
        assert (refused.status, refused.header("Retry-After")) == (503, "1")
        assert f"{MAX_WAITERS} waits are pending".encode() in refused.body

        accepts_calls[0] = 0
        with rawhttp.connect(server.port) as flow:
            reader = rawhttp.Reader(flow)
            for i in range(FLOW):
                flow.sendall(rawhttp.build("GET", f"/status/200?i={i}"))
                assert reader.read_response()[1].status == 200
        assert accepts_calls[0] == FLOW * UNINDEXED  # before the fix: x (journal length) more
        assert server.call(lambda: journal.waiting) == MAX_WAITERS

        _, patched = rawhttp.request(server.port, "PATCH", "/status/201")
        assert patched.status == 201
        for sock in socks[:UNINDEXED]:  # every method waiter is answered with that one entry
            _, resp = rawhttp.Reader(sock).read_response()
            assert resp.status == 200 and b'"/status/201"' in resp.body
    finally:
        for sock in socks:
            sock.close()
    # Clients that leave take their waiters along: the table empties without any request.
    wait_until(server, lambda: journal.waiting == 0, "the waiters of closed clients dropped")


def test_waking_the_waiters_does_not_rescan_the_journal(make_server, accepts_calls) -> None:
    server = make_server(journal_size=2000)
    journal = server.app.journal
    with rawhttp.connect(server.port) as flow:
        reader = rawhttp.Reader(flow)
        for i in range(2000):  # a full journal
            flow.sendall(rawhttp.build("GET", f"/status/200?i={i}"))
            assert reader.read_response()[1].status == 200
    socks = []
    try:
        for _ in range(20):
            sock = rawhttp.connect(server.port)
            sock.sendall(
                rawhttp.build("GET", "/__mockstatus/requests/wait?method=PATCH&timeout=60")
            )
            socks.append(sock)
        wait_until(server, lambda: journal.waiting == 20, "the waits registered")
        accepts_calls[0] = 0
        assert rawhttp.request(server.port, "PATCH", "/status/201")[1].status == 201
        for sock in socks:
            assert rawhttp.Reader(sock).read_response()[1].status == 200
    finally:
        for sock in socks:
            sock.close()
    # One test per waiter for the new entry (and one for the entry it evicted), not 20 x 2,000.
    assert accepts_calls[0] <= 2 * 20, accepts_calls[0]
