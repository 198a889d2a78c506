"""The pure layer (codes, rules, semantics, endpoints, scenarios) runs without aiohttp.

A second transport (HTTP/2, a proxy) must be able to drive the same decisions, so these modules
may not import aiohttp, multidict or yarl, even indirectly. Checked in a fresh interpreter
where importing any of the three raises ImportError, by planning `/status/{code}` for every
code 100-599 in every format and loading a scenario: the same plans as with aiohttp present.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import mockstatus

BLOCKED = ("aiohttp", "multidict", "yarl")

PLAN_EVERY_CODE = textwrap.dedent(
    """
    import json, random, sys

    def summary():
        from mockstatus import codes, endpoints, expect, queries, rules, semantics  # noqa: F401
        from mockstatus.scenarios import load_text
        from mockstatus.types import RequestFacts

        sem = semantics.StatusSemantics(random.Random(0))
        plans = []
        for code in range(codes.MIN_CODE, codes.MAX_CODE + 1):
            for fmt, media in sorted(queries.FORMATS.items()):
                facts = RequestFacts(
                    method="GET", path=f"/status/{code}", headers={"accept": media}
                )
                plan = endpoints.status_plan(facts, str(code), sem)
                names = sorted(name.lower() for name, _ in plan.headers)
                plans.append([code, fmt, plan.status, plan.reason, names])
        from pathlib import Path

        loaded = load_text(
            "routes:\\n  - match: {path: /x}\\n    respond: {status: 503}\\n",
            "probe.yaml",
            Path("."),
            "probe",
        )
        return {"plans": plans, "scenario": [loaded.name, len(loaded.routes)]}
    """
)

BLOCKER = textwrap.dedent(
    f"""
    class _Blocked:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {BLOCKED!r}:
                raise ImportError(f"{{name}} is blocked: the pure layer may not import it")
            return None

    sys.meta_path.insert(0, _Blocked())
    """
)


def run_probe(*, blocked: bool) -> dict[str, object]:
    script = (
        PLAN_EVERY_CODE
        + (BLOCKER if blocked else "")
        + textwrap.dedent(
            f"""
        result = summary()
        result["loaded"] = sorted(m for m in sys.modules if m.partition(".")[0] in {BLOCKED!r})
        print(json.dumps(result))
        """
        )
    )
    root = Path(mockstatus.__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_pure_layer_plans_every_code_with_aiohttp_multidict_and_yarl_blocked() -> None:
    blocked = run_probe(blocked=True)
    assert blocked["loaded"] == []
    plans = blocked["plans"]
    assert isinstance(plans, list)
    assert len(plans) == 500 * 3  # codes 100-599, each in json, html and text
    assert {code for code, *_ in plans} == set(range(100, 600))
    statuses = {(code, status) for code, _fmt, status, _reason, _names in plans}
    assert (503, 503) in statuses and (418, 418) in statuses and (599, 599) in statuses
    assert blocked["scenario"] == ["probe", 1]


def test_blocking_aiohttp_changes_no_plan() -> None:
    free = run_probe(blocked=False)
    assert run_probe(blocked=True)["plans"] == free["plans"]


def test_the_blocker_really_blocks() -> None:
    """Guards the test itself: with the blocker in place, aiohttp cannot be imported."""
    script = "import sys\n" + BLOCKER + "import aiohttp\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert "aiohttp is blocked" in done.stderr


def test_py_typed_is_shipped() -> None:
    assert (Path(mockstatus.__file__).parent / "py.typed").is_file()
