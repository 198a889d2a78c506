"""http_syntax: the one home of the HTTP grammar every layer checks against."""

from __future__ import annotations

import pytest

from mockstatus import http_syntax, queries
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


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([], 1.0),
        (["q=0.5"], 0.5),
        ([" Q = 0.25"], 0.25),  # the name is case-insensitive; stray spaces are forgiven
        (["Q=0.25"], 0.25),
        (["level=1", "q=0"], 0.0),
        (["q=1.0"], 1.0),
        (["q=2"], 0.0),  # RFC 9110 §12.4.2: a qvalue is 0 to 1
        (["q=-1"], 0.0),
        (["q=nan"], 0.0),
        (["q=high"], 0.0),
    ],
)
def test_weight_reads_q_from_one_members_parameters(params, expected):
    assert http_syntax.weight(params) == expected


def test_one_weight_rule_for_media_codings_and_images():
    """Accept and Accept-Encoding read weights the same way: an out-of-range q never wins."""
    from mockstatus import encoding, semantics

    assert semantics.negotiate("application/json;q=2, text/html;q=0.5") == "html"
    assert encoding.choose("auto", "gzip;q=2, deflate;q=0.1") == "deflate"
