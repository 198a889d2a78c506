"""The README's command-line table names every `serve` flag and every MOCKSTATUS_* variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mockstatus import cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def command_line_table() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(
        line for line in section.splitlines() if line.startswith("| `--") or "MOCKSTATUS_" in line
    )


def test_every_serve_flag_is_in_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"], env={})
    flags = set(re.findall(r"(--[a-z][a-z0-9-]+)", capsys.readouterr().out)) - {"--help"}
    assert flags, "no flags found in `mockstatus serve --help`"
    table = command_line_table()
    assert sorted(f for f in flags if f"`{f}`" not in table) == []


def test_every_environment_variable_is_in_the_table() -> None:
    names = set(re.findall(r"MOCKSTATUS_[A-Z0-9_]*[A-Z0-9]", Path(cli.__file__).read_text()))
    assert names, "no MOCKSTATUS_* variables found in cli.py"
    table = command_line_table()
    assert sorted(n for n in names if not re.search(rf"`{n}[`=]", table)) == []
