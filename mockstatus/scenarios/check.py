"""`mockstatus check DIR|FILE…`: validate scenario files without starting a server.

Problems make the check fail (exit 1). Shadowed routes are warnings (exit stays 0): a route that
an earlier one always answers first ("full"), or may answer first from another file
("possible"); the order is the server's (`ScenarioSet.routes_in_order`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from mockstatus.errors import ScenarioError, ScenarioProblem
from mockstatus.limits import MAX_SHADOW_CHECKS
from mockstatus.scenarios.loader import LINK_OUTSIDE, confined, folder_files, load_files
from mockstatus.scenarios.model import Route, ScenarioSet
from mockstatus.scenarios.shadow import shadowed_routes


def run_check(paths: Sequence[str], out: TextIO) -> int:
    """Print every problem (`file:line:column: message` and the source line) and return 1, or
    one summary line per scenario and return 0. All paths are checked together, so duplicate
    scenario names across them are found. Never raises for bad input."""
    files: list[Path] = []
    problems: list[ScenarioProblem] = []
    for arg in paths:
        path = Path(arg)
        try:
            if path.is_dir():
                found = folder_files(path)
                if not found:
                    out.write(f"{arg}: no *.yaml or *.yml files\n")
                # As the server loads a folder: no symbolic link out of it is read.
                outside = [p for p in found if confined(p, path) is None]
                problems += [ScenarioProblem(str(p), 1, 1, LINK_OUTSIDE) for p in outside]
                files.extend(p for p in found if p not in outside)
            else:
                files.append(path)  # a missing file is reported by the loader
        except OSError as exc:
            problems.append(ScenarioProblem(arg, 1, 1, f"cannot read: {exc.strerror or exc}"))
    if not paths:
        out.write("mockstatus check: give at least one scenario folder or file\n")
        return 2
    try:
        scenario_set = load_files(files)
    except ScenarioError as exc:
        problems.extend(exc.problems)
    if problems:
        for problem in problems:
            out.write(f"{problem}\n")
            if problem.source_line.strip():
                line = problem.source_line.rstrip()
                caret = " " * (problem.column - 1) if problem.column <= len(line) + 1 else ""
                out.write(f"    {line}\n    {caret}^\n")
        count = len(problems)
        out.write(f"{count} problem{'s' if count != 1 else ''} found\n")
        return 1
    for scenario in scenario_set.scenarios:
        behaviours: list[str] = []
        for route in scenario.routes:
            behaviours += [b for b in route.behaviours() if b not in behaviours]
        n = len(scenario.routes)
        out.write(
            f"{scenario.name} ({scenario.file}): {n} route{'s' if n != 1 else ''}; "
            f"behaviours: {', '.join(behaviours) or 'none'}\n"
        )
    pairs, complete = shadowed_routes(scenario_set)
    warnings = len(pairs)
    for scenario in scenario_set.scenarios:
        for note in scenario.warnings:
            out.write(f"warning: {note}\n")
            warnings += 1
    for first, later, overlap in pairs:
        how = "is always answered first by" if overlap == "full" else "may be answered first by"
        out.write(
            f"warning: route {later.scenario}/{later.name} ({_file_of(scenario_set, later)}) "
            f"{how} route {first.scenario}/{first.name} ({_file_of(scenario_set, first)}) "
            f"({overlap} overlap)\n"
        )
    if not complete:
        warnings += 1
        out.write(
            f"warning: too many overlapping routes; shadowing was checked for the first "
            f"{MAX_SHADOW_CHECKS} route pairs only\n"
        )
    if warnings:
        out.write(f"{warnings} warning{'s' if warnings != 1 else ''}\n")
    return 0


def _file_of(scenario_set: ScenarioSet, route: Route) -> str:
    scenario = scenario_set.get(route.scenario)
    return scenario.file if scenario is not None else "?"
