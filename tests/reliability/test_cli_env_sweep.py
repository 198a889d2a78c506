"""CLI and environment (issue 10, item 11): every flag and variable, swept with hostile values,
gives exit 2 and one line naming it — never a traceback, never a silently accepted value.

`serve` itself is replaced by a stub that records the settings, so a value that is (wrongly)
accepted shows up as exit 0 instead of starting a server."""

from __future__ import annotations

import io

import pytest

from mockstatus import cli

HOSTILE_NUMBERS = ["", " ", "abc", "nan", "inf", "-inf", "-1", "1e999", "9" * 5000, "1\x00", "0x10"]
# (flag, variable, values that must be refused besides HOSTILE_NUMBERS)
NUMERIC = [
    ("--port", "MOCKSTATUS_PORT", ["65536", "-0.5", "80.5"]),
    ("--journal-size", "MOCKSTATUS_JOURNAL_SIZE", ["0", "1000001", "99999999999999999999"]),
    ("--reload-interval", "MOCKSTATUS_RELOAD_INTERVAL", ["0.000001", "0.09", "1e-300"]),
    ("--shutdown-timeout", "MOCKSTATUS_SHUTDOWN_TIMEOUT", ["601", "1e308", "-1s"]),
]
CHOICES = [
    ("--interim", "MOCKSTATUS_INTERIM", ["bad", "", "ALWAYS\x00"]),
    ("--clock", "MOCKSTATUS_CLOCK", ["bogus", "", "manual\n"]),
    ("--journal-redact", "MOCKSTATUS_JOURNAL_REDACT", ["a b,", ",", "x\xff"]),
]


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list:
    calls: list = []
    monkeypatch.setattr(cli, "serve", lambda args, out, err: calls.append(args) or 0)
    return calls


def cases() -> list:
    out = []
    for flag, var, extra in NUMERIC:
        for value in [*HOSTILE_NUMBERS, *extra]:
            out.append(pytest.param(["serve", flag, value], {}, flag, id=f"{flag}={value[:12]!r}"))
            out.append(pytest.param(["serve"], {var: value}, var, id=f"{var}={value[:12]!r}"))
    for flag, var, values in CHOICES:
        for value in values:
            out.append(pytest.param(["serve", flag, value], {}, flag, id=f"{flag}={value!r}"))
            out.append(pytest.param(["serve"], {var: value}, var, id=f"{var}={value!r}"))
    out.append(pytest.param(["serve"], {"MOCKSTATUS_ADMIN_TOKEN": ""}, "MOCKSTATUS_ADMIN_TOKEN"))
    out.append(pytest.param(["serve"], {"MOCKSTATUS_QUIET": "maybe"}, "MOCKSTATUS_QUIET"))
    return out


@pytest.mark.parametrize(("argv", "env", "names"), cases())
def test_a_hostile_value_is_one_line_and_exit_2(served, argv, env, names) -> None:
    out = io.StringIO()
    code = cli.main(argv, env, out)
    printed = out.getvalue()
    assert (code, served) == (2, []), printed
    assert "Traceback" not in printed
    lines = printed.strip().splitlines()
    assert len(lines) == 1, printed[:500]
    assert lines[0].startswith("mockstatus: error: ") or lines[0].startswith("usage:")
    if env:
        assert names in lines[0]


@pytest.mark.parametrize(
    "argv", [["serve", "--port", "9" * 5000], ["serve", "--clock", "x" * 5000]]
)
def test_a_long_value_is_not_echoed_whole(served, argv) -> None:
    out = io.StringIO()
    assert cli.main(argv, {}, out) == 2
    assert len(out.getvalue()) < 400


def test_good_values_reach_serve(served) -> None:
    env = {"MOCKSTATUS_JOURNAL_SIZE": "1000000", "MOCKSTATUS_RELOAD_INTERVAL": "0"}
    assert cli.main(["serve", "--port", "0", "--shutdown-timeout", "600"], env, io.StringIO()) == 0
    (args,) = served
    assert (args.journal_size, args.reload_interval, args.port) == (1_000_000, 0.0, 0)
