"""The journal is bounded (issue 10 items 3 and 5): a body excerpt plus its size, at most 64 headers
cut at 1 KiB each, an honest memory estimate, redaction when recorded, and waiters that test each
new entry once (counted, not timed) and are capped."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import threading
import tracemalloc

import httpx
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from mockstatus import journal as journal_mod
from mockstatus.journal import (
    DEFAULT_REDACT,
    Filter,
    Journal,
    WaitersFull,
    parse_redact,
    redacted,
)
from mockstatus.limits import (
    BODY_EXCERPT,
    MAX_JOURNAL_HEADER_VALUE,
    MAX_JOURNAL_HEADERS,
    MAX_JOURNAL_SIZE,
    MAX_WAITERS,
)
from tests import rawhttp

MIB = 1024 * 1024


def headers(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    """Headers as aiohttp hands them over: a read-only case-insensitive multidict."""
    return CIMultiDictProxy(CIMultiDict(pairs))


def record(j: Journal, path: str = "/x", hdrs=None, body: bytes | None = None, session=None):
    j.record(
        1.0, "GET", path, "", hdrs if hdrs is not None else headers(), body,
        None, None, session, 200, None, 0.5,
    )  # fmt: skip


# --- one entry is bounded ----------------------------------------------------------------------


def test_a_large_body_keeps_an_excerpt_and_its_size():
    j = Journal(10)
    record(j, body=b"a" * MIB)
    (entry,) = j.entries
    assert entry.body == b"a" * BODY_EXCERPT and entry.body_size == MIB
    doc = entry.to_dict()
    assert doc["body"] == "a" * BODY_EXCERPT and doc["body_size"] == MIB
    assert doc["truncated"] == ["body"]


def test_a_small_body_is_kept_whole_and_an_unread_one_has_no_size():
    j = Journal(10)
    record(j, body=b"hello")
    record(j, body=None)
    small, unread = (e.to_dict() for e in j.entries)
    assert (small["body"], small["body_size"], small["truncated"]) == ("hello", 5, [])
    assert (unread["body"], unread["body_size"]) == (None, None)


def test_at_most_64_headers_with_values_cut_at_1_kib():
    many = [(f"X-H{i}", str(i)) for i in range(100)]
    j = Journal(10)
    record(j, hdrs=headers(("X-Big", "v" * 10_000), *many))
    doc = j.entries[0].to_dict()
    assert len(doc["headers"]) == MAX_JOURNAL_HEADERS
    assert doc["headers"]["X-Big"] == "v" * MAX_JOURNAL_HEADER_VALUE
    assert list(doc["headers"])[-1] == f"X-H{MAX_JOURNAL_HEADERS - 2}"  # the first 64, in order
    assert doc["truncated"] == ["header:X-Big", "headers"]


def test_ordinary_headers_are_kept_as_they_came():
    j = Journal(10, redact=frozenset())
    record(j, hdrs=headers(("Host", "h"), ("Accept", "*/*"), ("Authorization", "Bearer t")))
    doc = j.entries[0].to_dict()
    assert doc["headers"] == {"Host": "h", "Accept": "*/*", "Authorization": "Bearer t"}
    assert doc["truncated"] == [] and doc["latin1"] == []


def test_one_mib_bodies_do_not_grow_memory_and_the_estimate_is_honest():
    """The issue's case: 1,000 POSTs of 1 MiB took RSS from 41 MB to 1,055 MB. Measured with
    tracemalloc: what the journal holds per entry, and the `bytes` estimate against it."""
    j = Journal(1000)
    hdrs = [
        ("Host", "127.0.0.1:8080"),
        ("User-Agent", "python-httpx/0.28.1"),
        ("Content-Type", "application/octet-stream"),
    ]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(1000):
            record(j, f"/upload/{i}", headers(*hdrs, ("X-Id", str(i))), b"z" * MIB)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 8 * MIB  # ~3 KB an entry, not 1 MiB
    assert 1 / 1.5 < j.bytes / held < 1.5


def test_bytes_follow_eviction_and_clear():
    j = Journal(2)
    record(j, body=b"a" * 100, session="s")
    one = j.bytes
    record(j, body=b"a" * 100, session="t")
    record(j, body=b"a" * 100, session="s")  # evicts the first
    assert j.bytes == 2 * one
    assert j.clear("s") == 1 and j.bytes == one
    j.clear()
    assert j.bytes == 0


@pytest.mark.parametrize("size", [0, -1, MAX_JOURNAL_SIZE + 1, True, 1.5])
def test_the_journal_refuses_sizes_outside_its_range(size):
    with pytest.raises(ValueError, match="journal size"):
        Journal(size)


def test_the_largest_size_is_accepted():
    assert Journal(MAX_JOURNAL_SIZE).size == MAX_JOURNAL_SIZE


# --- redaction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("default", DEFAULT_REDACT),
        ("none", frozenset()),
        ("X-Api-Key", frozenset({"x-api-key"})),
        ("default, X-Api-Key", DEFAULT_REDACT | {"x-api-key"}),
        ("Authorization,Cookie", frozenset({"authorization", "cookie"})),
        (" NONE ", frozenset()),
        ("Default", DEFAULT_REDACT),
    ],
    ids=["default", "none", "one-name", "default-plus", "two-names", "none-caps", "default-caps"],
)
def test_parse_redact(text, names):
    assert parse_redact(text) == names


@pytest.mark.parametrize("text", ["", "a,,b", "none,Cookie", "bad name", "X:Y", "é"])
def test_parse_redact_refuses(text):
    with pytest.raises(ValueError, match="journal redaction"):
        parse_redact(text)


def test_default_redaction_keeps_a_hash_prefix_of_each_credential():
    assert {"authorization", "proxy-authorization", "cookie", "set-cookie"} == DEFAULT_REDACT
    j = Journal(10)
    record(
        j,
        hdrs=headers(
            ("authorization", "Bearer s3cret"),
            ("Proxy-Authorization", "Basic eDp5"),
            ("Cookie", "sid=1"),
            ("Set-Cookie", "a=b"),
            ("X-Other", "kept"),
        ),
    )
    doc = j.entries[0].to_dict()["headers"]
    digest = hashlib.sha256(b"Bearer s3cret").hexdigest()[:8]
    assert doc["authorization"] == f"<redacted:sha256:{digest}>"
    assert doc["Proxy-Authorization"] == redacted("Basic eDp5")
    assert doc["Cookie"] == redacted("sid=1") and doc["Set-Cookie"] == redacted("a=b")
    assert doc["X-Other"] == "kept"
    assert "s3cret" not in repr(j.entries[0].to_dict())


def test_a_long_credential_is_hashed_whole_although_the_entry_is_cut():
    token = "Bearer " + "x" * 5000  # a big JWT: the headers are copied and cut
    j = Journal(10)
    record(j, hdrs=headers(("Authorization", token), ("X-Big", "y" * 5000)))
    doc = j.entries[0].to_dict()
    assert doc["headers"]["Authorization"] == redacted(token)
    assert doc["truncated"] == ["header:X-Big"]
    assert "xxxx" not in repr(j.entries[0])  # a copy is redacted when it is made


def test_redaction_of_chosen_names_only():
    j = Journal(10, redact=parse_redact("X-Api-Key"))
    record(j, hdrs=headers(("X-API-KEY", "k"), ("Authorization", "Bearer t")))
    doc = j.entries[0].to_dict()["headers"]
    assert doc == {"X-API-KEY": redacted("k"), "Authorization": "Bearer t"}


def test_the_server_redacts_by_default_and_can_keep_values(make_server):
    for redact, expected in ((None, redacted("Bearer abc")), (frozenset(), "Bearer abc")):
        server = make_server(journal_redact=redact)
        httpx.get(server.url("/status/200"), headers={"Authorization": "Bearer abc"})
        doc = httpx.get(server.url("/__mockstatus/requests")).json()
        assert doc["requests"][0]["headers"]["Authorization"] == expected


# --- waiters -----------------------------------------------------------------------------------


class CountingFilter:
    """Counts Filter.accepts calls: a test of work done, not of time."""

    def __init__(self, monkeypatch) -> None:
        self.calls = 0
        original = Filter.accepts

        def accepts(flt, entry):
            self.calls += 1
            return original(flt, entry)

        monkeypatch.setattr(Filter, "accepts", accepts)


def test_each_new_entry_is_tested_once_per_waiter_without_rescanning(monkeypatch):
    """Before: every recorded request re-scanned the whole journal once per pending wait (50
    waiters took /status/200 from 19,324 to 357 req/s)."""
    counter = CountingFilter(monkeypatch)

    async def scenario() -> None:
        j = Journal(1000)
        for i in range(500):
            record(j, f"/old/{i}")
        # Filters on the method only: no index applies, every waiter sees every entry.
        waits = [asyncio.create_task(j.wait(Filter(method="PATCH"), 1, 60.0)) for _ in range(50)]
        await asyncio.sleep(0)  # each registers: one scan of the journal each
        assert j.waiting == 50
        assert counter.calls == 50 * 500
        counter.calls = 0
        for i in range(100):
            record(j, f"/new/{i}")
        assert counter.calls == 100 * 50  # was 100 * 50 * (500..600)
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        assert j.waiting == 0  # a client that leaves takes its waiter along

    asyncio.run(scenario())


def test_a_full_journal_also_tests_the_evicted_entry_once(monkeypatch):
    counter = CountingFilter(monkeypatch)

    async def scenario() -> None:
        j = Journal(100)
        for i in range(100):
            record(j, f"/old/{i}")
        waits = [asyncio.create_task(j.wait(Filter(method="PATCH"), 5, 60.0)) for _ in range(50)]
        await asyncio.sleep(0)
        counter.calls = 0
        for i in range(100):
            record(j, f"/new/{i}")  # each evicts one
        assert counter.calls == 2 * 100 * 50
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)

    asyncio.run(scenario())


def test_waits_for_a_path_session_or_status_cost_other_requests_no_test(monkeypatch):
    counter = CountingFilter(monkeypatch)

    async def scenario() -> None:
        j = Journal(10)  # full at once: evictions are offered too
        filters = [Filter(path="/p"), Filter(session="s", method="GET"), Filter(status=599)]
        waits = [asyncio.create_task(j.wait(f, 2, 60.0)) for f in filters for _ in range(20)]
        await asyncio.sleep(0)
        counter.calls = 0
        for i in range(100):
            record(j, f"/other/{i}", session="t")
        assert counter.calls == 0  # 60 waiters, 100 requests elsewhere: dict lookups only
        record(j, "/p")
        record(j, "/p")
        assert counter.calls == 2 * 20  # each /p to the 20 waiters for /p
        done, _ = await asyncio.wait(waits[:20], timeout=5.0)
        assert len(done) == 20
        record(j, "/q", session="s")
        record(j, "/q", session="s")
        done, _ = await asyncio.wait(waits[20:40], timeout=5.0)
        assert len(done) == 20
        assert not any(t.done() for t in waits[40:])  # the status waiters still wait
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        assert j.waiting == 0 and j._waiters_by_key == {}

    asyncio.run(scenario())


def test_a_waiter_counts_only_matches_still_in_the_journal():
    async def scenario() -> None:
        j = Journal(3)
        task = asyncio.create_task(j.wait(Filter(path="/a"), 3, 60.0))
        await asyncio.sleep(0)
        for path in ("/a", "/b", "/b", "/a", "/a"):  # the first /a is evicted by now
            record(j, path)
        await asyncio.sleep(0)
        assert not task.done()
        record(j, "/a")  # the journal is /a, /a, /a
        found = await asyncio.wait_for(task, 1.0)
        assert [e.path for e in found] == ["/a", "/a", "/a"]

    asyncio.run(scenario())


def test_a_waiter_forgets_what_clear_removed():
    async def scenario() -> None:
        j = Journal(10)
        task = asyncio.create_task(j.wait(Filter(path="/a"), 2, 60.0))
        await asyncio.sleep(0)
        record(j, "/a", session="s")
        j.clear("s")
        record(j, "/a")
        await asyncio.sleep(0)
        assert not task.done()
        record(j, "/a")
        assert len(await asyncio.wait_for(task, 1.0)) == 2

    asyncio.run(scenario())


def test_waiters_are_capped():
    async def scenario() -> None:
        j = Journal(10, max_waiters=2)
        waits = [asyncio.create_task(j.wait(Filter(path="/a"), 1, 60.0)) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(WaitersFull):
            await j.wait(Filter(path="/a"), 1, 60.0)
        assert len(await j.wait(Filter(path="/b"), 0 + 1, 0.0)) == 0  # times out: no waiter
        record(j, "/a")
        await asyncio.gather(*waits)
        record(j, "/b")
        assert len(await j.wait(Filter(path="/b"), 1, 0.0)) == 1  # satisfied: no waiter

    assert MAX_WAITERS == 1000
    asyncio.run(scenario())


def test_the_waiter_past_the_cap_gets_503_with_retry_after(server):
    server.app.journal.max_waiters = 2
    results: list[httpx.Response] = []
    url = server.url("/__mockstatus/requests/wait?path=/status/202&timeout=30")

    def wait() -> None:
        results.append(httpx.get(url, timeout=40))

    threads = [threading.Thread(target=wait) for _ in range(2)]
    for t in threads:
        t.start()
    for _ in range(500):  # bounded: until both waits are registered
        if server.call(lambda: server.app.journal.waiting) == 2:
            break
        threading.Event().wait(0.01)
    _, resp = rawhttp.request(server.port, "GET", url.split(str(server.port), 1)[1])
    assert resp.status == 503 and resp.header("Retry-After") == "1"
    assert "2 waits are pending" in resp.body.decode()
    metrics = httpx.get(server.url("/__mockstatus/metrics")).text
    assert "mockstatus_journal_waiters 2\n" in metrics
    httpx.get(server.url("/status/202"))
    for t in threads:
        t.join(20)
    assert [r.status_code for r in results] == [200, 200]


def test_metrics_report_the_journal_bytes(server):
    def gauge() -> int:
        text = httpx.get(server.url("/__mockstatus/metrics")).text
        (line,) = [x for x in text.splitlines() if x.startswith("mockstatus_journal_bytes ")]
        return int(line.split()[1])

    assert gauge() == 0
    httpx.post(server.url("/anything"), content=b"q" * 100_000)
    assert gauge() == server.call(lambda: server.app.journal.bytes)
    assert 1000 < gauge() < 10_000
    httpx.delete(server.url("/__mockstatus/requests"))
    assert gauge() == 0


def test_module_constants_are_the_limits():
    assert journal_mod.BODY_EXCERPT == BODY_EXCERPT == 1024
    assert MAX_JOURNAL_HEADERS == 64 and MAX_JOURNAL_HEADER_VALUE == 1024
