"""http_syntax: the one home of the HTTP grammar every layer checks against."""

from __future__ import annotations

import pytest

from mockstatus import queries
from mockstatus.errors import RequestError
from mockstatus.http_syntax import FIELD_CONTROL, FRAMING_HEADERS, TOKEN


@pytest.mark.parametrize(
    ("text", "is_token"),
    [
        ("X-Custom", True),
        ("!#$%&'*+-.^_`|~09azAZ", True),
        ("", False),
        ("X Custom", False),
        ("X:Custom", False),
        ("X\n", False),  # `^...$` with match() let a trailing newline through
        ("Ünicode", False),
    ],
    ids=repr,
)
def test_token_is_rfc9110_tchar_only(text: str, is_token: bool) -> None:
    assert (TOKEN.fullmatch(text) is not None) is is_token
    assert queries.is_token(text) is is_token


@pytest.mark.parametrize(
    ("value", "forbidden"),
    [
        ("text/plain; charset=utf-8", False),
        ("tab\tinside", False),  # HTAB is allowed in field values
        ("obs-text \x80\xff", False),
        ("cr\rlf", True),
        ("lf\n", True),
        ("nul\x00", True),
        ("del\x7f", True),
        ("esc\x1b", True),
    ],
    ids=repr,
)
def test_field_control_finds_what_a_field_value_may_not_hold(value: str, forbidden: bool) -> None:
    assert (FIELD_CONTROL.search(value) is not None) is forbidden


def test_framing_headers_are_the_servers() -> None:
    assert sorted(FRAMING_HEADERS) == ["connection", "content-length", "transfer-encoding"]
    for name in ("Content-Length", "transfer-encoding", "CONNECTION"):
        with pytest.raises(RequestError, match="frame the message"):
            queries.parse_header_param(f"{name}:1")
