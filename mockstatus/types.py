"""Names shared across layers: what a request is, what a response will be, what time it is.

Data flows one way: RequestFacts -> (scenario match) -> ResponsePlan -> wire.
Nothing here imports aiohttp.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from mockstatus.proxy import ProxyTarget

Headers = tuple[tuple[str, str], ...]


class Clock(Protocol):
    """Injected time source: `monotonic()` for intervals, `wall()` for dates (epoch seconds)."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...


class SystemClock:
    """The real clock."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to: tests and `--clock manual`."""

    __slots__ = ("_mono", "_wall")

    def __init__(self, wall: float = 1_767_225_600.0, monotonic: float = 1000.0) -> None:
        self._wall = wall
        self._mono = monotonic

    def monotonic(self) -> float:
        return self._mono

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._mono += seconds
        self._wall += seconds


class RandomSource(Protocol):
    """What the behaviour modules draw from: a `random.Random` in unit tests, a `Stream` when
    serving."""

    def random(self) -> float: ...

    def uniform(self, a: float, b: float) -> float: ...

    def gauss(self, mu: float = 0.0, sigma: float = 1.0) -> float: ...

    def getrandbits(self, k: int, /) -> int: ...


class Query:
    """Read-only multi-valued query: `get` gives the first value, `getall` every value."""

    __slots__ = ("_first", "_items")

    def __init__(self, items: tuple[tuple[str, str], ...] = ()) -> None:
        self._items = items
        first: dict[str, str] = {}
        for key, value in items:
            first.setdefault(key, value)
        self._first = first

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._first.get(key, default)

    def getall(self, key: str) -> list[str]:
        return [v for k, v in self._items if k == key]

    def __contains__(self, key: object) -> bool:
        return key in self._first

    def __bool__(self) -> bool:
        return bool(self._items)

    def items(self) -> tuple[tuple[str, str], ...]:
        return self._items

    def keys(self) -> list[str]:
        return list(self._first)

    def to_dict(self) -> dict[str, str | list[str]]:
        out: dict[str, str | list[str]] = {}
        for key in self._first:
            values = self.getall(key)
            out[key] = values[0] if len(values) == 1 else values
        return out


EMPTY_QUERY = Query()


@dataclass(slots=True)
class RequestFacts:
    """What the semantics and scenario layers may know about a request.

    `headers` has lower-cased names (first value wins; `header_items` keeps every raw pair).
    `body` is None when it has not been read (the plan does not need it).
    Treated as immutable (use `dataclasses.replace`); not frozen because a frozen dataclass's
    __init__ costs several microseconds per request on the hot path.
    """

    method: str
    path: str
    query: Query = EMPTY_QUERY
    headers: Mapping[str, str] = field(default_factory=dict)
    header_items: Iterable[tuple[str, str]] = ()
    version: tuple[int, int] = (1, 1)
    scheme: str = "http"
    host: str = "localhost"
    remote: str = "127.0.0.1"
    body: bytes | None = None
    raw_path: str = ""
    # The query parsed once (`queries.plan_request`), made on first use, for this `query` only.
    plan_request: PlanRequest | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass(frozen=True, slots=True)
class Interim:
    """One 1xx interim response to write before the final one."""

    status: int
    reason: str
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class Drip:
    """Send the body `chunk` bytes at a time, one chunk every `every` seconds."""

    chunk: int
    every: float


@dataclass(frozen=True, slots=True)
class After:
    """Where a positioned fault strikes: after `amount` body bytes (after content coding),
    events (stream pieces) or seconds since the head was sent."""

    unit: str  # "bytes" | "events" | "seconds"
    amount: float


@dataclass(frozen=True, slots=True)
class Fault:
    """A deliberate connection fault. `kind` is one of FAULT_KINDS."""

    kind: str
    delay: float = 0.0  # slow-headers: seconds over which the head is written
    drip: Drip | None = None
    after: After | None = None  # reset, close, truncate, garbage, stall: where in the body
    rate: float = 0.0  # bandwidth: bytes per second for the whole body
    hold: float = 0.0  # slow-close: seconds the connection stays open after the last byte
    error: int = 0  # rst_stream, goaway: the RFC 9113 §7 error code (h2_fault.default_error)
    graceful: bool = False  # goaway: after this stream's answer, naming the last stream taken


FAULT_KINDS = frozenset(
    {"reset", "close", "truncate", "garbage", "hang", "malformed-chunk", "drip", "slow-headers"}
    | {"stall", "bandwidth", "slow-close"}
    | {"corrupt-encoding", "truncate-encoding", "wrong-encoding"}
    | {"rst_stream", "goaway"}
)
# Faults that may be placed in the body with `after` (the wire/streams writer executes them).
POSITIONED_FAULTS = frozenset({"reset", "close", "truncate", "garbage", "stall", "rst_stream"})
# HTTP/2's own faults (h2_fault): the HTTP/2 wire executes them, HTTP/1.1 its nearest equivalent.
H2_FAULTS = frozenset({"rst_stream", "goaway"})
# Faults on the content coding (a compressed body): planned by `encoding`, sent normally.
ENCODING_FAULTS = frozenset({"corrupt-encoding", "truncate-encoding", "wrong-encoding"})


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """A body sent as timed pieces (SSE events, NDJSON lines, chunks) over chunked framing.

    `pieces()` yields (at, data): `at` is seconds since the head was sent (non-decreasing),
    `data` one event's bytes (an empty `data` is a heartbeat-free pause). Each call starts the
    stream afresh. `heartbeat`: the bytes of a keep-alive comment written after `every` idle
    seconds (SSE only). `coding`: the content coding applied piece by piece (None: identity).
    """

    pieces: Callable[[], Iterator[tuple[float, bytes]]]
    heartbeat: bytes = b""
    every: float = 0.0
    coding: str | None = None
    events: int | None = None  # events in the stream when finite (truncate's default cut)


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    """Everything the wire layer needs to answer one request; built by semantics or scenarios.

    `headers` never holds Content-Length / Transfer-Encoding / Date (framing is the wire's job);
    `bodiless` says the status (or HEAD) forbids a body; `content_length_zero` is the 205 rule.
    """

    status: int
    reason: str
    headers: Headers = ()
    body: bytes = b""
    interims: tuple[Interim, ...] = ()
    delay: float = 0.0
    fault: Fault | None = None
    drip: Drip | None = None
    close: bool = False
    head: bool = False
    bodiless: bool = False
    content_length_zero: bool = False
    # 102 Processing: repeat an interim every `processing_interval` seconds while `delay` runs.
    processing_interval: float | None = None
    upgrade: str | None = None
    # Memoised and reused for many requests: the wire may cache what it derives from it.
    reused: bool = False
    # Forward the request there and relay the answer (issue 14); `headers` are added to it.
    forward: ProxyTarget | None = None
    stream: StreamPlan | None = None  # a timed body (wire/streams) instead of `body`
    # Why a scenario answered as it did when it is not obvious (a rate-limit cost error): journalled.
    note: str | None = None

    def evolve(self, **changes: object) -> ResponsePlan:
        """A copy with `changes` applied: dataclasses.replace, without its per-call introspection
        (this runs on the hot path of scenario routes)."""
        new = object.__new__(ResponsePlan)
        for name in _PLAN_FIELDS:
            object.__setattr__(
                new, name, changes.pop(name) if name in changes else getattr(self, name)
            )
        if changes:
            raise TypeError(f"unknown ResponsePlan fields: {', '.join(changes)}")
        return new


_PLAN_FIELDS = tuple(ResponsePlan.__dataclass_fields__)


# --- the plan request ---------------------------------------------------------------------

# The formats a body is rendered in, with their media types (`?format=`, Accept).
FORMATS = {
    "text": "text/plain; charset=utf-8",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class Options:
    """The typed plan request: per-request overrides every planner takes (`rules`, `semantics`,
    `endpoints`), from `/status/{code}` queries (`queries.parse_options`) or a scenario
    response (`scenarios.runtime`)."""

    fmt: str | None = None
    reason: str | None = None
    location: str | None = None
    # The value the code's own rule gives Retry-After (503, 429 with its RateLimit reset, 413): a
    # rule input like `location`, not a way to add a field. Fields: `headers` (below), put over
    # the defaults by `semantics.override_fields`, the one way a per-request field is added.
    retry_after: str | None = None
    headers: Headers = ()
    sleep: float = 0.0  # seconds
    scheme: str | None = None
    seed: int | None = None
    final: int | None = None
    interim: tuple[int, ...] | None = None
    links: tuple[str, ...] = ()
    size: int | None = None
    interval: float | None = None
    # Scenario responses only: `etag:` (None: derived, False: none, str: that quoted tag) and
    # the load-time digest of the fixed body (see semantics.build_plan).
    etag: str | bool | None = None
    body_digest: str | None = None


DEFAULT_OPTIONS = Options()


class PlanRequest:
    """The typed plan request of one request: its query, parsed once by `queries` (issue 11).

    Each group of parameters is parsed on first use and kept, so no layer reads the raw query
    again, and a path that ignores a parameter never validates it (`/anything` echoes any query).
    None in a slot: not parsed yet.
    """

    __slots__ = ("endpoint", "interims", "interval", "mode", "options", "query")

    def __init__(self, query: Query) -> None:
        self.query = query
        self.options: Options | None = None  # every `/status` parameter
        self.mode: str | None = None  # `?interim_mode=`, "" when absent
        self.interims: tuple[tuple[int, ...] | None, tuple[str, ...]] | None = None  # interim, link
        self.interval: tuple[float | None] | None = None  # `?interval=` (seconds)
        # Endpoint-specific groups, by name (`queries.fault_of`, `compress_of`, `echo_of`,
        # `redirect_of`, `continue_of`, `response_headers_of`): each parsed on first use.
        self.endpoint: dict[str, object] = {}


class BodySource(Protocol):
    """A request body as a transport offers it (HTTP/1.1: aiohttp's request, `wire.body`; HTTP/2:
    a stream). `decide` reads it only when the answer needs it."""

    @property
    def exists(self) -> bool:
        """The request has a body (Content-Length > 0 or chunked)."""

    @property
    def length(self) -> int | None:
        """The announced size (Content-Length); None when unknown."""

    @property
    def limit(self) -> int:
        """The largest body `read` accepts."""

    async def read(self) -> bytes:
        """The whole body (read once, then cached). Raises `errors.RequestError`: 408 when it does
        not arrive in time, 413 over `limit`, 400 when it cannot be decoded; such an error has
        `unread_body = True` (its answer closes the connection)."""

    async def send_continue(self, interim: Interim | None, delay: float) -> bool:
        """Wait `delay` seconds, then send `interim` (a `100 Continue`; None: send nothing).
        False when the client left meanwhile."""


class Decision(NamedTuple):
    """What `Pipeline.decide` answers for one request, ready for a transport: `plan` has its
    interims applied (`semantics.with_interims`); `facts` carries the body when it was read;
    `scenario`/`route` name the scenario route that answered (None: a built-in endpoint).

    Immutable like the frozen dataclasses here, but a NamedTuple: one is made per request, and a
    tuple is about 3x cheaper to make than a frozen dataclass (timeit)."""

    plan: ResponsePlan
    facts: RequestFacts
    scenario: str | None = None
    route: str | None = None
    # No route matched: the closest ones and why not (scenarios/nearmiss), for the journal;
    # () for the final 404 without any; None when a route matched or it does not apply.
    near_misses: tuple[Mapping[str, object], ...] | None = None
