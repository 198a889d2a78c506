"""The generated tables in docs/ match the code (scripts/gen-docs --check)."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from pathlib import Path

from mockstatus.admin import build_catalog
from mockstatus.rules import CODE_RULES

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "scripts" / "gen-docs"
STATUS_CODES = ROOT / "docs" / "status-codes.md"


def test_generated_sections_are_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(GEN), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr


def test_the_generator_rewrites_a_stale_table() -> None:
    gen = runpy.run_path(str(GEN), run_name="gen_docs")
    table = gen["status_table"]()
    fresh = gen["render"](STATUS_CODES.read_text(encoding="utf-8"), "status-codes", table)
    stale = fresh.replace("`Retry-After: 120`", "`Retry-After: 121`")
    assert stale != fresh
    assert gen["render"](stale, "status-codes", table) == fresh


def _status_rows() -> dict[int, str]:
    text = STATUS_CODES.read_text(encoding="utf-8")
    text = text.split("<!-- BEGIN generated: status-codes", 1)[1].split("<!-- END generated")[0]
    rows = re.findall(r"^\| (\d{3})(?: → \d{3})? \| (.*)$", text, re.MULTILINE)
    return {int(code): rest for code, rest in rows}


def test_every_code_with_a_rule_has_a_row() -> None:
    rows = _status_rows()
    assert set(CODE_RULES) <= set(rows)


def test_rows_show_the_headers_the_catalog_lists() -> None:
    rows = _status_rows()
    for entry in build_catalog()["codes"]:
        if entry["code"] not in rows or entry["dynamic"]:
            continue
        for name, value in entry["headers"]:
            if (name, value) != ("Vary", "Accept"):
                assert f"`{name}: {value}`" in rows[entry["code"]], (entry["code"], name)
