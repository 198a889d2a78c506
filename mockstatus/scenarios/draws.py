"""Counter-based random draws: every random value a scenario uses is a pure function of
(seed, scenario, route, session, behaviour, n, i).

`n` is the route's call number in its session (0-based) and `i` numbers the values one call
draws for one behaviour (a chaos rule's roll is `i` = the rule's position; a normal latency
takes two). Nothing is carried from one draw to the next, so sessions cannot disturb each other,
one route's draws cannot shift another's, a session reset replays it exactly, and a store shared
between processes only has to share `n`.

How: BLAKE2b turns (seed, scenario, route, session) into one 64-bit key per behaviour, once per
session and route; a draw is then SplitMix64 at position (n, i) of that key — a few integer
operations, a fraction of a microsecond (a hash per draw cost about twice as much).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence

from mockstatus.types import RandomSource

# The behaviours that draw, in the order of the keys `keys_for` derives.
CHAOS, LATENCY, STATUS, UUID, PLAN = range(5)
_BEHAVIOURS = (b"chaos", b"latency", b"status", b"uuid", b"plan")

_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's increment (the golden ratio, odd)
_SUB_BITS = 20  # values one behaviour may draw per call: 2**20, far above any route's needs
_TO_UNIT = 2.0**-53


def seed_of(rng: random.Random) -> int:
    """A 64-bit seed from the server's random source without drawing from it: its state when
    the first runtime is built is a function of `--seed` alone (random when none is given)."""
    try:
        state = repr(rng.getstate()).encode()
    except (AttributeError, NotImplementedError):  # e.g. SystemRandom: no state to read
        return rng.getrandbits(64)
    return int.from_bytes(hashlib.blake2b(state, digest_size=8).digest(), "little")


def _field(text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    return len(data).to_bytes(4, "little") + data  # length-prefixed: no two tuples encode alike


def keys_for(seed: str, scenario: str, route: str, session: str | None) -> tuple[int, ...]:
    """One 64-bit key per behaviour for (seed, scenario, route, session). `seed` is a tag such
    as "file:42" or "server:<n>", so a file seed never collides with a derived one."""
    data = b"".join(
        (_field(seed), _field(scenario), _field(route), b"\x00" if session is None else b"\x01")
    )
    if session is not None:
        data += _field(session)
    digest = hashlib.blake2b(
        data, digest_size=8 * len(_BEHAVIOURS), person=b"mockstatus-draws"
    ).digest()
    return tuple(
        int.from_bytes(digest[8 * b : 8 * b + 8], "little") for b in range(len(_BEHAVIOURS))
    )


def word(key: int, n: int, i: int = 0) -> int:
    """64 random bits: SplitMix64 of `key` at position (n, i). (`_mix` written out: a call
    costs a fifth of the arithmetic.)"""
    z = (key + ((n << _SUB_BITS) + i + 1) * _GAMMA) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def unit(key: int, n: int) -> float:
    """The first value of `Stream(key, n).random()`, without making the stream."""
    return (word(key, n) >> 11) * _TO_UNIT


def bits128(key: int, n: int) -> int:
    """The first value of `Stream(key, n).getrandbits(128)`, without making the stream."""
    return (word(key, n, 0) << 64) | word(key, n, 1)


class Stream:
    """The values one behaviour draws during call `n`: the i-th 64-bit word any method uses is
    `word(key, n, i)`. Shaped like the parts of `random.Random` the behaviours use, so they
    accept either."""

    __slots__ = ("_i", "_z")

    def __init__(self, key: int, n: int) -> None:
        self._z = (key + ((n << _SUB_BITS) + 1) * _GAMMA) & _MASK  # position (n, 0)
        self._i = 0

    def _next(self) -> int:
        i = self._i
        self._i = i + 1
        return _mix((self._z + i * _GAMMA) & _MASK)

    def random(self) -> float:
        """A float in [0, 1) with 53 random bits, as `random.random()`."""
        i = self._i
        self._i = i + 1
        return (_mix((self._z + i * _GAMMA) & _MASK) >> 11) * _TO_UNIT

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()

    def gauss(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        # Box–Muller from two draws: no hidden cached value, so draw i is always the same value.
        u1 = 1.0 - self.random()  # (0, 1]: log() is defined
        u2 = self.random()
        return mu + sigma * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def getrandbits(self, k: int, /) -> int:
        value, have = 0, 0
        while have < k:
            value = (value << 64) | self._next()
            have += 64
        return value >> (have - k)

    def choices(
        self, population: Sequence[int], weights: Sequence[float], *, k: int = 1
    ) -> list[int]:
        """`k` picks by weight (cumulative weights; the sum is finite, the loader checks)."""
        return [pick(population, weights, self.random()) for _ in range(k)]


def pick(population: Sequence[int], weights: Sequence[float], u: float) -> int:
    """The item whose share of the cumulative weights holds `u` (in [0, 1)); the sum of the
    weights is finite (the loader checks)."""
    target = u * math.fsum(weights)
    running = 0.0
    for item, weight in zip(population, weights, strict=True):
        running += weight
        if target < running:
            return item
    return population[-1]


__all__ = [
    "CHAOS",
    "LATENCY",
    "PLAN",
    "STATUS",
    "UUID",
    "RandomSource",
    "Stream",
    "bits128",
    "keys_for",
    "pick",
    "seed_of",
    "unit",
    "word",
]
