"""docs/rate-limits.md's retry table is exactly what scripts/gen-retry-table makes of
tests/retry_pack_results.json (which tests/test_retry_pack.py checks against the real clients)."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "scripts" / "gen-retry-table"


def test_the_table_in_the_docs_is_regenerated_from_the_results() -> None:
    done = subprocess.run(
        [sys.executable, str(GEN), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr


def test_a_changed_result_changes_the_table() -> None:
    gen = runpy.run_path(str(GEN), run_name="gen_retry_table")
    results = json.loads((ROOT / "tests" / "retry_pack_results.json").read_text())
    fresh = gen["table"](results)
    results["clients"]["urllib3"]["cases"]["fractional"] = {
        "attempts": 2,
        "waits": ["1.5"],
        "outcome": "429",
    }
    changed = gen["table"](results)
    assert changed != fresh
    row = next(line for line in changed.splitlines() if line.startswith("| `fractional`"))
    assert row.split(" | ")[1] == "waits 1.5 s"


def test_cells_say_what_the_client_did() -> None:
    cell = runpy.run_path(str(GEN), run_name="gen_retry_table")["cell"]
    assert cell({"attempts": 1, "waits": [], "outcome": "raises InvalidHeader"}) == (
        "raises `InvalidHeader`"
    )
    assert cell({"attempts": 1, "waits": [], "outcome": "503"}) == "no retry"
    assert cell({"attempts": 2, "waits": [], "outcome": "429"}) == "retries at once"
    assert cell({"attempts": 2, "waits": ["> 1 day"], "outcome": "503"}) == "waits > 1 day"
    assert cell({"attempts": 2, "waits": ["0.5"], "outcome": "503"}) == "waits 0.5 s"
    assert cell({"attempts": 2, "waits": ["< 0"], "outcome": "503"}) == "waits a negative time"
