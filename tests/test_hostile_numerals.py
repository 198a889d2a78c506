"""Numbers in query strings and paths are ASCII: Python's float() also reads "١" (ARABIC-INDIC
ONE) and "２" (FULLWIDTH TWO), which made `?sleep=١` a one-millisecond sleep. On a real
listening server; each case is a 400 naming the parameter."""

from __future__ import annotations

import httpx
import pytest

from mockstatus.http_syntax import ascii_float


@pytest.mark.parametrize(
    "target, param",
    [
        ("/status/200?sleep=%D9%A1", "sleep"),
        ("/status/200?fault=slow-headers&sleep=%D9%A1", "sleep"),
        ("/status/200:%D9%A1,503:1", "weight"),
        ("/delay/%D9%A1", "delay"),
        ("/delay/%EF%BC%92", "delay"),
    ],
    ids=["sleep", "slow-headers-sleep", "code-weight", "delay-arabic", "delay-fullwidth"],
)
def test_non_ascii_digits_are_400(server, target, param):
    resp = httpx.get(server.url(target))
    assert resp.status_code == 400
    assert f"invalid {param}" in resp.text or "invalid code list" in resp.text


@pytest.mark.parametrize(
    "target, status",
    [("/status/200?sleep=1", 200), ("/status/200:1,503:0", 200), ("/delay/0", 200)],
)
def test_ascii_numbers_still_work(server, target, status):
    assert httpx.get(server.url(target)).status_code == status


def test_ascii_float():
    assert ascii_float("1.5") == 1.5
    assert ascii_float(" 2 ") == 2.0
    for text in ("١", "٢.٥", "２", "1\u00a0"):
        with pytest.raises(ValueError, match="not an ASCII number"):
            ascii_float(text)


def test_durations_are_ascii():
    from mockstatus.durations import parse_duration

    assert parse_duration("1.5s") == 1.5
    for text in ("١s", "٢", "２ms"):
        with pytest.raises(ValueError, match="must be a duration like"):
            parse_duration(text)


def test_continue_delay_is_ascii():
    from mockstatus.expect import continue_delay

    assert continue_delay("250") == 250.0
    assert continue_delay("٢٥٠") is None


def test_a_quality_value_is_ascii():
    from mockstatus.http_syntax import weight

    assert weight(["q=0.5"]) == 0.5
    assert weight(["q=٠.٥"]) == 0.0  # ARABIC-INDIC "0.5": not a qvalue, so it never wins
    assert weight(["q=０.５"]) == 0.0  # FULLWIDTH


def test_a_non_ascii_quality_value_does_not_win_negotiation(server):
    # text/html with an Arabic-Indic q of "1" would otherwise beat JSON's ASCII 0.5
    accept = "application/json;q=0.5, text/html;q=١"
    resp = httpx.get(server.url("/status/200"), headers={"Accept": accept.encode()})
    assert resp.headers["content-type"].startswith("application/json")
