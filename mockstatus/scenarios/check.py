"""`mockstatus check DIR|FILE…`: validate scenario files without starting a server."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from mockstatus.errors import ScenarioError, ScenarioProblem
from mockstatus.scenarios.loader import load_files


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
                found = sorted(
                    (p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()),
                    key=lambda p: p.name,
                )
                if not found:
                    out.write(f"{arg}: no *.yaml or *.yml files\n")
                files.extend(found)
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
    return 0
