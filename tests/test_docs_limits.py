"""The `limits` table of docs/security.md lists exactly the constants of mockstatus/limits.py."""

from __future__ import annotations

import re
from pathlib import Path

from mockstatus import limits

SECURITY = Path(__file__).resolve().parent.parent / "docs" / "security.md"
_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \| `([^`]+)` \|", re.MULTILINE)


def documented_limits() -> dict[str, str]:
    """Name → value as the table shows it (the constant's repr)."""
    text = SECURITY.read_text(encoding="utf-8")
    section = text.split("<!-- BEGIN generated: limits", 1)[1].split("<!-- END generated", 1)[0]
    rows = _ROW.findall(section)
    table = {name: value.replace("\\|", "|") for name, value in rows}
    assert len(table) == len(rows), "a constant is listed twice"
    return table


def code_limits() -> dict[str, str]:
    """Every public constant of limits.py (whatever its type), as its repr."""
    return {
        name: repr(value)
        for name, value in vars(limits).items()
        if name.isupper() and not name.startswith("_")
    }


def test_every_constant_is_in_the_table_with_its_value() -> None:
    table = documented_limits()
    missing = {n: v for n, v in code_limits().items() if table.get(n, object()) != v}
    assert missing == {}, "run scripts/gen-docs"


def test_every_row_of_the_table_is_a_constant() -> None:
    code = code_limits()
    extra = {n: v for n, v in documented_limits().items() if code.get(n, object()) != v}
    assert extra == {}, "run scripts/gen-docs"


def test_values_are_compared_exactly() -> None:
    assert documented_limits()["MAX_DELAY"] == repr(limits.MAX_DELAY) == "300.0"
    assert documented_limits()["MAX_UPLOAD"] == str(1024 * 1024)
