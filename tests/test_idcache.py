"""The identity-cache helper behind the hot path's caches (wire.core's header cache)."""

from __future__ import annotations

from mockstatus.idcache import IdentityCache
from mockstatus.types import ResponsePlan
from mockstatus.wire import core


def test_an_entry_is_found_by_identity_and_holds_its_object() -> None:
    cache: IdentityCache[tuple[str, ...], int] = IdentityCache(4)
    key = ("a", "b")
    assert cache.put(key, 7) == 7
    assert cache.get(id(key)) == (key, 7)  # the entry keeps the object: its id stays unique
    assert cache.get(id(("c",))) is None


def test_a_full_cache_starts_over() -> None:
    cache: IdentityCache[object, int] = IdentityCache(3)
    keys = [object() for _ in range(4)]
    for n, key in enumerate(keys):
        cache.put(key, n)
    assert len(cache) == 1 and cache.get(id(keys[3])) == (keys[3], 3)


def test_only_reused_plans_headers_are_cached_and_callers_get_copies() -> None:
    core._HEADER_CACHE.clear()
    once = ResponsePlan(200, "OK", headers=(("X-A", "1"),))
    core._headers(once)
    assert len(core._HEADER_CACHE) == 0  # a per-request plan would only churn the cache
    reused = once.evolve(reused=True)
    first = core._headers(reused)
    first["X-B"] = "2"  # callers may mutate what they get
    again = core._headers(reused)
    assert list(again.items()) == [("X-A", "1")] and len(core._HEADER_CACHE) == 1
