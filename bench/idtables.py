"""timeit: the scenario runtime's per-instance id() tables (scenarios/runtime.py): a plain dict
lookup, the same through `idcache.IdentityCache`, and recomputing the value per request.

    python -m bench.idtables   (from the repository root: bench/h2.py would shadow h2)
"""

import random
import timeit
from pathlib import Path

from mockstatus.idcache import IdentityCache
from mockstatus.scenarios import ratelimit_respond  # noqa: F401 (used in timeit strings)
from mockstatus.scenarios.loader import load_text
from mockstatus.scenarios.model import ScenarioSet
from mockstatus.scenarios.runtime import _FIXED_KEYS, ScenarioRuntime, route_key  # noqa: F401
from mockstatus.types import ManualClock, RequestFacts

TEXT = """
name: b
routes:
  - match: {path: /r}
    rate_limit: {limit: 100, window: 1s}
    respond: {status: 200, body: hi, headers: {X-A: "1", X-B: "2"}}
"""
sc = load_text(TEXT, "b.yaml", Path("."), "b")
rt = ScenarioRuntime(ScenarioSet.ordered([], [sc]), clock=ManualClock(), rng=random.Random(1))
route = sc.routes[0]
spec = route.respond
key = route_key(route)
facts = RequestFacts(method="GET", path="/r")
rt.respond(facts)  # fill the tables
plain = {id(route): 1}
ic = IdentityCache(1024)
ic.put(route, 1)
N = 200_000


def best(stmt, g):
    return min(timeit.repeat(stmt, globals=g, number=N, repeat=15)) / N * 1e9


g = dict(globals())
rows = {
    "_static get": best("rt._static.get(id(spec))", g),
    "_static recompute": best("rt._static.clear(); rt._is_static(spec)", g),
    "_own_names get": best("rt._own_names[id(spec)]", g),
    "_own_names recompute": best("frozenset(n.lower() for n, _ in spec.headers)", g),
    "_limits get": best("rt._limits.get(id(route))", g),
    "_limits recompute": best("ratelimit_respond.route_limits(route, key)", g),
    "_route_seeding get": best("rt._route_seeding.get(id(route), ())", g),
    "_route_seeding recompute": best(
        "rt.seeding.get(route.scenario) if rt._may_draw(route) else None", g
    ),
    "_plans get": best("rt._plans.get((id(spec), 'GET', 'text', True))", g),
    "_plans recompute": best("rt._build(spec, facts, {}, 1, _FIXED_KEYS, 0, 'text', (), None)", g),
    "plain dict get(id)": best("plain.get(id(route))", g),
    "IdentityCache get(id)[1]": best(
        "e = ic.get(id(route)); v = e[1] if e is not None else None", g
    ),
}
for k, v in rows.items():
    print(f"{k:28s} {v:8.1f} ns")
