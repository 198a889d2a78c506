"""One helper for the hot path's identity caches: values derived from an immutable object that
is reused for many requests (a memoised plan's header tuple), keyed by `id()` of that object.

Keyed by identity because hashing a tuple of header pairs on every request would cost more than
the cache saves. Each entry holds the object itself, so its id cannot be reused while cached.
Bounded: cleared when full (reused objects are few; anything else would only churn it).

Every cache built on it names, where it is defined, the benchmark that justifies it. Reads are a
plain `dict.get(id(obj))` (no method call on the hot path): the entry is `(obj, value)`.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class IdentityCache(dict[int, tuple[K, V]], Generic[K, V]):
    """`cache.get(id(obj))` → `(obj, value)` or None; `cache.put(obj, value)` stores."""

    __slots__ = ("maxsize",)

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def put(self, obj: K, value: V) -> V:
        if len(self) >= self.maxsize:
            self.clear()
        self[id(obj)] = (obj, value)
        return value
