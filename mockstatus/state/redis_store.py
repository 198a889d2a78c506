"""The state store on Redis (or Valkey): `redis.asyncio`, every operation one script call.

Imported only with `--state redis://...`: the `redis` package is the `mockstatus[redis]` extra.
Every call is bounded by STATE_TIMEOUT (limits.py) and any failure (refused, reset, timed out,
a script error) becomes `StoreUnavailable`, which the failure policy answers: no request waits
longer than that on the store, and none sees a traceback.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Iterator, Mapping
from typing import Any

from mockstatus.limits import (
    MAX_COUNTERS,
    STATE_POOL_SIZE,
    STATE_SESSION_TTL,
    STATE_TIMEOUT,
)
from mockstatus.state.base import PolicyResult, StatesMoved, Step, StepResult, StoreUnavailable
from mockstatus.state.lua import ALGORITHMS, SCRIPT, SEPARATOR


def session_tag(session: str | None) -> str:
    """The session's part of a key: "-" for the default session, "n" + id otherwise."""
    return "-" if session is None else "n" + session


def text_of(value: Any) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)


def _float(value: Any) -> float:
    text = text_of(value)
    return -math.inf if text == "" else float(text)


def redact_url(url: str) -> str:
    """The URL without a password (it is shown in logs and 503s)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


class RedisStateStore:
    def __init__(self, url: str, *, timeout: float = STATE_TIMEOUT) -> None:
        from redis import asyncio as aioredis

        self.name = redact_url(url)
        self.timeout = timeout
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=STATE_POOL_SIZE,
            timeout=timeout,  # waiting for a free connection counts against the same budget
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        self.client = aioredis.Redis(connection_pool=pool)
        self._script = self.client.register_script(SCRIPT)
        self.calls = 0  # script calls made: the bench divides them by the requests

    async def _call(self, *args: Any) -> Any:
        self.calls += 1
        return await self.bounded(self._script(keys=(), args=args))

    async def bounded(self, call: Awaitable[Any]) -> Any:
        """`call`'s result within the timeout, else StoreUnavailable. The call runs as its own
        task and is abandoned (cancelled, not awaited) at the deadline, so a request never
        waits longer even if the client library does not give way to a cancellation."""
        from redis.exceptions import RedisError

        task = asyncio.ensure_future(call)
        done, _ = await asyncio.wait((task,), timeout=self.timeout)
        if not done:
            task.cancel()
            task.add_done_callback(_consume)
            raise StoreUnavailable(f"state store {self.name} did not answer within the timeout")
        try:
            return task.result()
        except (RedisError, OSError, TimeoutError) as err:
            raise StoreUnavailable(_cause(self.name, err)) from None

    async def step(self, step: Step) -> StepResult:
        fields: list[Any] = [repr(step.now), step.draw or "", step.count or ""]
        fields.append("1" if step.keyed else "0")
        for p in step.policies:
            fields += [p.bucket, ALGORITHMS[p.algorithm], p.limit, repr(p.window), p.cost]
        packed = SEPARATOR.join(_opaque(str(f)) for f in fields)
        args: tuple[str, ...] = ("step", session_tag(step.session), packed)
        if step.states is not None:
            if _plain(step.states):
                args += ("=" + SEPARATOR.join(_pairs(step.states)),)
            else:  # a separator in a client's key: compared apart (not atomic, but exact)
                current = await self.states(step.session)
                if current != step.states:
                    raise StatesMoved(current)
        out = await self._call(*args)
        if out and out[0] == b"!":
            flat = out[1]
            raise StatesMoved(
                {text_of(flat[i]): text_of(flat[i + 1]) for i in range(0, len(flat), 2)}
            )
        policies: list[PolicyResult] = []
        for i in range(3, len(out), 4):
            allowed, remaining, reset, retry = out[i : i + 4]
            policies.append((allowed == 1, int(remaining), int(reset), int(retry)))
        return StepResult(_float(out[0]), int(out[1]), int(out[2]), tuple(policies))

    async def count(self, session: str | None, name: str, keyed: bool) -> int:
        tag = session_tag(session)
        flag = "1" if keyed else "0"
        return int(await self._call("count", tag, name, flag, MAX_COUNTERS, STATE_SESSION_TTL))

    async def states(self, session: str | None) -> dict[str, str]:
        flat = await self._call("states", session_tag(session))
        return {text_of(flat[i]): text_of(flat[i + 1]) for i in range(0, len(flat), 2)}

    async def set_state(self, session: str | None, field: str, value: str) -> None:
        await self._call("set_state", session_tag(session), field, value, STATE_SESSION_TTL)

    async def reset(self, session: str | None, now: float) -> None:
        everyone = "1" if session is None else "0"
        await self._call("reset", session_tag(session), repr(now), STATE_SESSION_TTL, everyone)

    async def epoch(self, name: str, now: float) -> float:
        return _float(await self._call("epoch", "-", name, repr(now)))

    async def ping(self) -> None:
        await self.bounded(self.client.ping())

    async def time(self) -> float:
        """Redis `TIME`, in epoch seconds: the shared system clock (state.clock)."""
        seconds, micros = await self.bounded(self.client.time())
        return float(seconds) + micros / 1e6

    async def close(self) -> None:
        try:
            await self.client.aclose()
        except AttributeError:  # redis-py before 5.0.1 names it close()
            await self.client.close()


def _pairs(states: Mapping[str, str]) -> Iterator[str]:
    """A step's expected states as the script splits them (state.shared sends none whose
    names or values hold the separator: `_plain`)."""
    for name, value in states.items():
        yield name
        yield value


def _plain(states: Mapping[str, str]) -> bool:
    """Whether `states` can be sent to the script as they are (no separator in them)."""
    return not any(SEPARATOR in k or SEPARATOR in v for k, v in states.items())


def _opaque(field: str) -> str:
    """A name with no separator in it (a client's header value may hold one): an injective
    escape, never undone (names are only compared and used in keys)."""
    if "\x1e" in field or SEPARATOR in field:
        return field.replace("\x1e", "\x1e0").replace(SEPARATOR, "\x1e1")
    return field


def _consume(task: asyncio.Future[Any]) -> None:
    """An abandoned call's outcome, retrieved so that asyncio does not log it."""
    if not task.cancelled():
        task.exception()


def _cause(name: str, err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return f"state store {name} did not answer within the timeout"
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return f"state store {name}: {text}"
