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
        from mockstatus.types import FORMATS, RequestFacts

        sem = semantics.StatusSemantics(random.Random(0))
        plans = []
        for code in range(codes.MIN_CODE, codes.MAX_CODE + 1):
            for fmt, media in sorted(FORMATS.items()):
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


# --- the import graph: layers only import downwards, and nothing imports in a cycle ------------

import ast  # noqa: E402

PACKAGE = Path(mockstatus.__file__).resolve().parent

# From the bottom up; a module may import its own layer or a lower one. Modules not named here
# are in the "app" layer (app, admin, pipeline, runner, cli, tls, client, pytest_plugin, ...).
LAYERS = {
    "foundation": {
        "limits", "http_syntax", "types", "errors", "durations", "codes", "conditional", "idcache",
    },
    "pure": {
        "queries", "ranges", "rules", "semantics", "endpoints", "expect", "catalog", "journal",
        "admin_reply", "admin_params", "admin_guard", "scenarios", "httpbin", "httpbin_auth",
        "httpbin_content", "prepared", "proxy",
        "positions", "encoding", "stream_endpoints",  # streams (docs/streams.md)
        "events", "live", "admin_dashboard",  # the dashboard (docs/dashboard.md)
    },
    "wire": {"wire", "accesslog"},  # accesslog: aiohttp's access-log hook, batched to a thread
}  # fmt: skip
RANK = {"foundation": 0, "pure": 1, "wire": 2, "app": 3}
# The pure layer as a transport sees it: these import with aiohttp, multidict and yarl blocked.
AIOHTTP_FREE = (
    "codes", "rules", "semantics", "endpoints", "expect", "catalog", "pipeline", "admin_reply",
    "admin_params", "admin_guard", "scenarios.runtime", "scenarios.store", "types", "idcache",
    "httpbin", "prepared", "proxy", "scenarios.proxy",
    "positions", "encoding", "stream_endpoints", "scenarios.stream",
    "events", "live", "admin_dashboard", "scenarios.override",
)  # fmt: skip


def layer_of(module: str) -> str:
    if module == "mockstatus":
        return "foundation"  # the package's __init__: its version, nothing else
    top = module.split(".")[1]
    for name, members in LAYERS.items():
        if top in members:
            return name
    return "app"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if "bundled_scenarios" in parts:
            continue
        name = ".".join(("mockstatus", *parts))
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def imports_of(module: str, *, top_level_only: bool) -> set[str]:
    """The package modules `module` imports (not under `if TYPE_CHECKING:`)."""
    tree = ast.parse(MODULES[module].read_text())
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import | ast.ImportFrom) and not (inner and top_level_only):
                if isinstance(child, ast.Import):
                    names = [a.name for a in child.names]
                else:
                    base = child.module or ""
                    if child.level:
                        up = package.split(".")[: len(package.split(".")) - child.level + 1]
                        base = ".".join([*up, base] if base else up)
                    names = [base] + [f"{base}.{a.name}" for a in child.names]
                found.update(n for n in names if n in MODULES and n != module)
            visit(child, inner)

    visit(tree, False)
    return found


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})"
        for module in MODULES
        for target in imports_of(module, top_level_only=False)
        if RANK[layer_of(target)] > RANK[layer_of(module)]
    ]
    assert upward == []


def test_the_import_graph_has_no_cycle() -> None:
    graph = {m: imports_of(m, top_level_only=True) for m in MODULES}
    # A package imports its own submodules by design (re-exports): not a cycle.
    for module in graph:
        graph[module] = {t for t in graph[module] if not t.startswith(module + ".")}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                walk(target, [*path, target])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    assert cycles == []


def test_the_graph_checks_see_real_imports() -> None:
    """Guards the two tests above: they find the imports that are there."""
    assert "mockstatus.semantics" in imports_of("mockstatus.endpoints", top_level_only=True)
    assert "mockstatus.wire.core" in imports_of("mockstatus.wire.faults", top_level_only=True)
    assert layer_of("mockstatus.wire.core") == "wire" and layer_of("mockstatus.app") == "app"
    assert layer_of("mockstatus.scenarios.runtime") == "pure"


def test_the_transport_neutral_modules_import_with_aiohttp_blocked() -> None:
    names = ", ".join(f"mockstatus.{m}" for m in AIOHTTP_FREE)
    script = "import sys\n" + BLOCKER + f"import {names}\n"
    script += f"print(sorted(m for m in sys.modules if m.partition('.')[0] in {BLOCKED!r}))\n"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
