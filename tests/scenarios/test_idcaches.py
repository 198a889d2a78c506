"""The identity caches of scenarios/ (on `idcache.IdentityCache`): same values as uncached."""

from __future__ import annotations

from mockstatus import semantics
from mockstatus.idcache import IdentityCache
from mockstatus.scenarios import ratelimit, ratelimit_styles
from mockstatus.scenarios.model import RateLimitSpec


def test_the_scenario_caches_are_identity_caches():
    for cache in (semantics._LOWER_NAMES, ratelimit._WINDOWS, ratelimit_styles._QUOTED):
        assert isinstance(cache, IdentityCache)


def test_window_seconds_rounds_up_to_at_least_one_and_is_cached_per_spec():
    half, minute = RateLimitSpec(limit=5, window=0.5), RateLimitSpec(limit=5, window=60.0)
    odd = RateLimitSpec(limit=5, window=1.25)
    assert [ratelimit._window_seconds(s) for s in (half, minute, odd)] == [1, 60, 2]
    assert ratelimit._WINDOWS[id(minute)] == (minute, 60)
    assert ratelimit._window_seconds(minute) == 60  # from the cache


def test_quoted_escapes_backslash_and_quote_as_an_sf_string():
    name = 'a"b\\c'
    assert ratelimit_styles._quoted(name) == '"a\\"b\\\\c"'
    assert ratelimit_styles._quoted(name) == '"a\\"b\\\\c"'  # from the cache
    assert ratelimit_styles._quoted("default") == '"default"'


def test_override_fields_replaces_base_fields_case_insensitively_and_keeps_order():
    base = (("Content-Type", "text/plain"), ("retry-after", "5"), ("X-A", "1"))
    front = (("Retry-After", "60"), ("RateLimit", '"default";r=0;t=60'))
    want = (*front, ("Content-Type", "text/plain"), ("X-A", "1"))
    assert semantics.override_fields(front, base) == want
    assert id(base) not in semantics._LOWER_NAMES  # a fresh base is not cached
    assert semantics.override_fields(front, base, reused=True) == want
    assert semantics.override_fields(front, base, reused=True) == want  # from the cache
    assert semantics._LOWER_NAMES[id(base)] == (base, ("content-type", "retry-after", "x-a"))


def test_override_fields_with_explicit_names_drops_what_they_name():
    # build_plan: a framing field the user named is dropped from the front, and still replaces.
    base = (("Connection", "close"), ("X-A", "1"))
    got = semantics.override_fields((("X-B", "2"),), base, names={"connection", "x-b"})
    assert got == (("X-B", "2"), ("X-A", "1"))


def test_query_headers_and_scenario_fields_go_through_the_same_merge():
    plan, _ = semantics.build_plan(
        503, "GET", "text", semantics.Options(headers=(("retry-after", "7"), ("X-A", "1")))
    )
    assert [v for n, v in plan.headers if n.lower() == "retry-after"] == ["7"]
    assert plan.headers[:2] == (("retry-after", "7"), ("X-A", "1"))


def test_an_identity_cache_is_cleared_when_full():
    cache: IdentityCache[object, int] = IdentityCache(2)
    a, b, c = object(), object(), object()
    cache.put(a, 1)
    cache.put(b, 2)
    assert cache.put(c, 3) == 3
    assert dict(cache) == {id(c): (c, 3)}
