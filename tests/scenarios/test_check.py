"""`mockstatus check`: problems with source lines and exit 1, or one summary per scenario."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from mockstatus.scenarios import run_check

GOOD = """\
name: payments
routes:
  - match: {path: /a}
    sequence: [{status: 503}, {status: 200}]
    state: {machine: m, set: x}
  - match: {path: /b}
    respond: {status: 200}
    rate_limit: {limit: 1, window: 1s}
"""


def check(*paths: Path | str) -> tuple[int, str]:
    out = io.StringIO()
    code = run_check([str(p) for p in paths], out)
    return code, out.getvalue()


def test_summary_per_scenario(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "plain.yml").write_text("routes:\n  - respond: {}\n")
    code, text = check(tmp_path)
    assert code == 0
    assert text.splitlines() == [
        f"payments ({tmp_path / 'a.yaml'}): 2 routes; behaviours: sequence, state, rate_limit",
        f"plain ({tmp_path / 'plain.yml'}): 1 route; behaviours: none",
        # plain's route has no match rules: a route of another file before it may answer first
        f"warning: route plain/route-0 ({tmp_path / 'plain.yml'}) may be answered first by "
        f"route payments/route-0 ({tmp_path / 'a.yaml'}) (possible overlap)",
        f"warning: route plain/route-0 ({tmp_path / 'plain.yml'}) may be answered first by "
        f"route payments/route-1 ({tmp_path / 'a.yaml'}) (possible overlap)",
        "2 warnings",
    ]


def test_problems_with_source_line_and_caret(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("routes:\n  - respnd: {status: 200}\n    respond: {status: abc}\n")
    code, text = check(bad)
    assert code == 1
    assert text.splitlines() == [
        f"{bad}:2:5: unknown key 'respnd' in route (did you mean 'respond'?)",
        "      - respnd: {status: 200}",
        "        ^",
        f"{bad}:3:23: 'status' must be an integer from 100 to 599, got 'abc'",
        "        respond: {status: abc}",
        "                          ^",
        "2 problems found",
    ]


def test_files_and_folders_checked_together(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.yaml").write_text(GOOD)
    (tmp_path / "y.yaml").write_text(GOOD)
    code, text = check(tmp_path / "d", tmp_path / "y.yaml")
    assert code == 1 and text.count("duplicate scenario name 'payments'") == 2


@pytest.mark.parametrize("name", ["missing.yaml", "missing-dir"])
def test_missing_paths_are_problems(tmp_path: Path, name: str) -> None:
    code, text = check(tmp_path / name)
    assert code == 1 and "file not found" in text and "Traceback" not in text


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(GOOD)
    path.chmod(0)
    try:
        code, text = check(path)
        if os.geteuid() == 0:  # root reads anything
            assert code == 0
        else:
            assert code == 1 and "cannot read file" in text
    finally:
        path.chmod(0o644)


def test_empty_folder_and_no_arguments(tmp_path: Path) -> None:
    code, text = check(tmp_path)
    assert code == 0 and "no *.yaml or *.yml files" in text
    out = io.StringIO()
    assert run_check([], out) == 2 and "at least one" in out.getvalue()


def test_shadowed_routes_are_warnings_not_errors(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "name: api\nroutes:\n"
        "  - name: any-job\n    match: {path: '/jobs/{id}'}\n    respond: {status: 200}\n"
        "  - name: job-7\n    match: {path: /jobs/7}\n    respond: {status: 404}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "name: jobs\nroutes:\n"
        "  - name: get\n    match: {method: GET, path: '/jobs/**'}\n    respond: {status: 202}\n"
    )
    code, text = check(tmp_path)
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert code == 0
    assert text.splitlines()[2:] == [
        f"warning: route api/job-7 ({a}) is always answered first by route api/any-job ({a}) "
        "(full overlap)",
        f"warning: route jobs/get ({b}) may be answered first by route api/any-job ({a}) "
        "(possible overlap)",
        f"warning: route jobs/get ({b}) may be answered first by route api/job-7 ({a}) "
        "(possible overlap)",
        "3 warnings",
    ]


def test_no_warning_for_a_deliberate_fallback_in_one_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "routes:\n"
        "  - match: {path: /login, body: {json: {user: alice}}}\n    respond: {status: 200}\n"
        "  - match: {path: /login}\n    respond: {status: 401}\n"
    )
    code, text = check(tmp_path)
    assert code == 0 and len(text.splitlines()) == 1 and "warning:" not in text


def test_a_cut_short_shadowing_check_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockstatus.scenarios import check as check_module

    monkeypatch.setattr(check_module, "shadowed_routes", lambda s: ([], False))
    monkeypatch.setattr(check_module, "MAX_SHADOW_CHECKS", 7)
    (tmp_path / "a.yaml").write_text(GOOD)
    code, text = check(tmp_path)
    assert code == 0
    assert text.splitlines()[-2:] == [
        "warning: too many overlapping routes; shadowing was checked for the first 7 route "
        "pairs only",
        "1 warning",
    ]
