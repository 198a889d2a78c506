"""The loaded scenarios: immutable, every pattern and template compiled, every file read.

Built only by the loader. Nothing here knows about YAML or where in a file a value came from
(line/column marks live in ScenarioProblem), so the model can be shared by every request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from mockstatus.proxy import ProxyTarget
from mockstatus.scenarios.matcher import MatchSpec, StateSpec
from mockstatus.scenarios.stream import StreamSpec
from mockstatus.scenarios.templates import JsonTemplate, Template
from mockstatus.types import Drip, Fault

SequenceAfter = Literal["repeat-last", "loop"]
RateAlgorithm = Literal["fixed-window", "sliding-window", "token-bucket"]
LatencyKind = Literal["fixed", "uniform", "normal", "lognormal"]
RateUnit = Literal["requests", "tokens"]
RetryAfterForm = Literal["seconds", "http-date", "none"]  # none: no Retry-After at all
CostErrorAction = Literal["allow", "reject"]


@dataclass(frozen=True, slots=True)
class ResponseSpec:
    """One response. `statuses` are (code, weight) pairs; one pair unless `status` was weighted.

    At most one of `body` / `json` / `file` is set; `content_type` is what that choice implies
    (json → application/json, file → guessed from its name) unless `headers` sets one.
    A `slow-headers` fault takes the response's `delay` as its own (`fault.delay`); `delay` is
    then 0. A `drip` fault carries the `drip:` setting, which is also left in `drip`.
    """

    statuses: tuple[tuple[int, float], ...] = ((200, 1.0),)
    reason: str | None = None
    headers: tuple[tuple[str, Template], ...] = ()
    body: Template | None = None
    json: JsonTemplate | None = None
    file: bytes | None = None
    interim: tuple[int, ...] = ()
    delay: float = 0.0
    fault: Fault | None = None
    drip: Drip | None = None
    content_type: str | None = None
    # `etag:` None derives the ETag where the code carries one (200) from the body sent; False
    # sends none; a string is that quoted entity-tag. `body_digest` is the fixed body's digest,
    # hashed once at load time (None when the body is templated or the code's default).
    etag: str | bool | None = None
    body_digest: str | None = None
    proxy: ProxyTarget | None = None  # forward instead (only `delay` applies beside it)
    verbatim: bool = False  # exactly these status, headers and body: no per-code defaults
    stream: StreamSpec | None = None  # a timed body (scenarios/stream.py) instead of body/json
    compress: str = "off"  # off | auto | gzip | deflate | br (encoding.py)

    @property
    def status(self) -> int:
        """The status when there is only one (the first one otherwise)."""
        return self.statuses[0][0]


DEFAULT_OUTAGE_RESPONSE = ResponseSpec(statuses=((503, 1.0),))


@dataclass(frozen=True, slots=True)
class SequenceSpec:
    """Responses in call order: each step answers `times` calls, then the next step."""

    steps: tuple[tuple[ResponseSpec, int], ...]
    after: SequenceAfter = "repeat-last"
    per: str = "global"  # "global" | "client" | "header:<name>" (name as written)


@dataclass(frozen=True, slots=True)
class RateLimitSpec:
    """One policy (docs/rate-limits.md). `styles` None: the default fields (ietf + x-ratelimit);
    `respond` None: the plain 429; `shared` names the file's limiter whose buckets it draws from
    (None: the route's own); `cost_template` (when set) replaces the fixed `cost` per request."""

    limit: int
    window: float
    algorithm: RateAlgorithm = "fixed-window"
    key: str = "client"  # "client" | "global" | "header:<name>" | "query:<name>"
    name: str = "default"
    unit: RateUnit = "requests"
    styles: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] | None = None
    respond: ResponseSpec | None = None
    retry_after: RetryAfterForm = "seconds"
    cost: int = 1
    cost_template: Template | None = None
    on_cost_error: CostErrorAction = "allow"
    shared: str | None = None
    secondary: bool = False  # a GitHub secondary limit (`{github: {secondary: true}}`)


@dataclass(frozen=True, slots=True)
class OutageWindow:
    """Down from `start` for `duration` (one-off), or for `duration` at `offset` of every `every`
    (recurring), in seconds since the scenario clock started. Exactly one of `respond` / `fault`
    is set (the loader puts a plain 503 when the file gives neither)."""

    duration: float
    start: float | None = None
    every: float | None = None
    offset: float = 0.0
    respond: ResponseSpec | None = None
    fault: Fault | None = None


@dataclass(frozen=True, slots=True)
class ChaosRule:
    """With `probability`, answer `respond` or `fault` (exactly one is set) instead of the route."""

    probability: float
    respond: ResponseSpec | None = None
    fault: Fault | None = None


@dataclass(frozen=True, slots=True)
class LatencySpec:
    """`params`: fixed (seconds,), uniform (low, high), normal (mean, stddev),
    lognormal (median, sigma) — all seconds except sigma, which has no unit."""

    kind: LatencyKind
    params: tuple[float, ...]


INITIAL_STATE = "start"


@dataclass(frozen=True, slots=True)
class Route:
    scenario: str
    name: str
    index: int
    match: MatchSpec
    respond: ResponseSpec | None = None
    sequence: SequenceSpec | None = None
    rate_limit: RateLimitSpec | None = None
    outage: tuple[OutageWindow, ...] = ()
    chaos: tuple[ChaosRule, ...] = ()
    latency: LatencySpec | None = None
    state: StateSpec | None = None
    priority: int = 0  # higher is tried first (ScenarioSet.route_key)
    # Every policy of the route, `rate_limit` first (layered: the tightest decides).
    rate_limits: tuple[RateLimitSpec, ...] = ()

    def behaviours(self) -> tuple[str, ...]:
        """The behaviours this route uses, in the order they are applied."""
        names = ("sequence", "rate_limit", "outage", "chaos", "latency", "state")
        return tuple(name for name in names if getattr(self, name))


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    file: str
    routes: tuple[Route, ...]
    description: str = ""
    seed: int | None = None
    machines: tuple[str, ...] = ()  # state machines the routes use, sorted
    body_files: tuple[str, ...] = ()  # resolved `file:` paths it read: the watcher stats them
    warnings: tuple[str, ...] = ()  # "file:line:column: message", for `check` and the admin API
    h2_max_streams: int | None = None  # `http2: {max_streams}`: SETTINGS for new connections


Source = Literal["upload", "folder"]
SOURCE_ORDER: dict[str, int] = {"upload": 0, "folder": 1}  # uploads are tried before the folder


@dataclass(frozen=True, slots=True)
class ScenarioSet:
    """Scenarios in the one route order, and by name. `uploads` names the scenarios that came
    through the admin API (or the plugin's `load()`); the rest came from the folder.

    The order (docs/scenarios.md): uploads newest first, then folder scenarios in file-name
    order, then route order within a file. `ordered()` builds it; `route_key()` states it for
    one route, so that a per-route `priority` (issue 14, higher first) slots in as its first
    element without touching the callers.
    """

    scenarios: tuple[Scenario, ...] = ()
    uploads: frozenset[str] = frozenset()
    by_name: dict[str, Scenario] = field(init=False, repr=False, compare=False)
    ranks: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {s.name: s for s in self.scenarios})
        object.__setattr__(self, "ranks", {s.name: i for i, s in enumerate(self.scenarios, 1)})

    @classmethod
    def ordered(
        cls, uploads_oldest_first: Sequence[Scenario], folder: Sequence[Scenario]
    ) -> ScenarioSet:
        """The set in route order. `folder` is in file-name order (as the loader gives it); an
        upload replaces a folder scenario of the same name."""
        names = frozenset(s.name for s in uploads_oldest_first)
        newest_first = tuple(reversed(uploads_oldest_first))
        return cls((*newest_first, *(s for s in folder if s.name not in names)), names)

    def __len__(self) -> int:
        return len(self.scenarios)

    def get(self, name: str) -> Scenario | None:
        return self.by_name.get(name)

    def source(self, name: str) -> Source:
        return "upload" if name in self.uploads else "folder"

    def rank(self, name: str) -> int:
        """1-based position of the scenario in the route order (0 when absent)."""
        return self.ranks.get(name, 0)

    def route_key(self, route: Route) -> tuple[int, int, int, int]:
        """Where `route` stands in the route order: smaller is tried first (the one order:
        `priority` higher first, then uploads newest first, folder file order, route order)."""
        scenario_rank = self.ranks[route.scenario]
        return (
            -route.priority,
            SOURCE_ORDER[self.source(route.scenario)],
            scenario_rank,
            route.index,
        )

    def routes_in_order(self) -> list[Route]:
        """Every route, first tried first (the order the Matcher walks)."""
        routes = [route for scenario in self.scenarios for route in scenario.routes]
        routes.sort(key=self.route_key)  # stable
        return routes

    def without(self, name: str) -> ScenarioSet:
        return ScenarioSet(
            tuple(s for s in self.scenarios if s.name != name), self.uploads - {name}
        )


__all__ = [
    "DEFAULT_OUTAGE_RESPONSE",
    "INITIAL_STATE",
    "ChaosRule",
    "LatencySpec",
    "MatchSpec",
    "OutageWindow",
    "RateLimitSpec",
    "ResponseSpec",
    "Route",
    "Scenario",
    "ScenarioSet",
    "SequenceSpec",
    "Source",
    "StateSpec",
]
