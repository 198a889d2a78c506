"""`GET/PUT /__mockstatus/scenarios/{name}/state/{machine}`: read and set a state machine.

GET answers `{key: state}` (key "" for a global machine; one entry per client key for a
`per:` machine). PUT takes `{"state": "in", "key": "alice"}` (`key` only for a `per:`
machine) and `?session=`. Pure: the admin API turns the (status, document) into a reply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mockstatus.http_syntax import FIELD_CONTROL
from mockstatus.limits import MAX_NAME
from mockstatus.scenarios.runtime import ScenarioRuntime

Answer = tuple[int, dict[str, Any]]


def _error(status: int, message: str) -> Answer:
    return status, {"error": message}


def handle(
    runtime: ScenarioRuntime | None,
    method: str,
    arg: str,
    query: Mapping[str, str],
    body: bytes | None,
) -> Answer:
    name, _, machine = arg.partition("/state/")
    unknown = sorted(set(query) - {"session"})
    if unknown:
        return _error(400, f"unknown parameter {unknown[0]!r}: this endpoint takes 'session'")
    session = query.get("session")
    scenario = runtime.set.get(name) if runtime is not None else None
    if runtime is None or scenario is None:
        return _error(404, f"no scenario named {name[:MAX_NAME]!r}")
    if machine not in scenario.machines:
        known = ", ".join(scenario.machines) or "none"
        return _error(
            404, f"scenario {name!r} has no state machine {machine[:MAX_NAME]!r} ({known})"
        )
    if method == "PUT":
        try:
            doc = json.loads(body or b"")
        except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the stack
            return _error(400, 'the body must be JSON: {"state": "...", "key": "..."}')
        if not isinstance(doc, dict) or set(doc) - {"state", "key"}:
            return _error(400, 'the body must be {"state": "...", "key": "..."} (key optional)')
        state, key = doc.get("state"), doc.get("key")
        for what, value in (("state", state), ("key", key)):
            if value is not None and (
                not isinstance(value, str) or len(value) > MAX_NAME or FIELD_CONTROL.search(value)
            ):
                return _error(400, f"'{what}' must be a string of at most {MAX_NAME} characters")
        if not state:
            return _error(400, "'state' is required")
        per = runtime.machine_per.get((name, machine))
        if per is None and key is not None:
            return _error(400, f"machine {machine!r} is global: it takes no 'key'")
        if per is not None and key is None:
            return _error(400, f"machine {machine!r} is per {per!r}: give the 'key' to set")
        runtime.set_machine_state(name, machine, state, key, session)
    return 200, runtime.machine_states(name, machine, session)
