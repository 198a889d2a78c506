"""Values of the RFC 9110 §13 helpers that a wrong implementation would get away with elsewhere:
the clock `evaluate` is given (never the real one), list scanning after an invalid member, what
counts as OWS, and the derived-tag digest (found by scripts/mutation)."""

from __future__ import annotations

import calendar
import hashlib

import pytest

from mockstatus import conditional
from mockstatus.conditional import EntityTag

ETAG = '"v1"'
MODIFIED = calendar.timegm((2001, 1, 1, 0, 0, 0))


def at(year: int) -> float:
    return float(calendar.timegm((year, 1, 1, 0, 0, 0)))


def test_if_modified_since_later_than_the_given_clock_is_ignored():
    """§13.1.3: a date after the server's current time is invalid. The clock is the `now` the
    caller gave (here 2005), not the machine's: 2010 is in that future, so the request proceeds."""
    headers = {"if-modified-since": "Fri, 01 Jan 2010 00:00:00 GMT"}
    assert conditional.evaluate("GET", headers, ETAG, MODIFIED, now=at(2005)) is None
    assert conditional.evaluate("GET", headers, ETAG, MODIFIED, now=at(2011)) == 304


def test_if_modified_since_equal_to_now_is_valid():
    now = at(2005)
    headers = {"if-modified-since": conditional.format_http_date(now)}
    assert conditional.evaluate("GET", headers, ETAG, MODIFIED, now=now) == 304


@pytest.mark.parametrize(
    ("field", "proceed_status"),
    [("if-modified-since", 304), ("if-unmodified-since", None)],
)
def test_rfc850_years_follow_the_given_clock(field, proceed_status):
    """`Sunday, 06-Nov-94` is 1994 seen from 2026 but 2094 seen from 2090 (§5.6.7's 50-year
    rule): the date conditions read two-digit years relative to `now`, not to the machine."""
    headers = {field: "Sunday, 06-Nov-94 08:49:37 GMT"}
    modified = calendar.timegm((2000, 1, 1, 0, 0, 0))
    # From 2026 the date is 1994, before the modification: IMS → proceed, IUS → 412.
    from_2026 = conditional.evaluate("GET", headers, ETAG, modified, now=at(2026))
    # From 2100 the date is 2094, after it: IMS → 304, IUS → proceed.
    from_2100 = conditional.evaluate("GET", headers, ETAG, modified, now=at(2100))
    if field == "if-modified-since":
        assert (from_2026, from_2100) == (None, 304)
    else:
        assert (from_2026, from_2100) == (412, None)


def test_list_scanning_resumes_after_the_first_comma_of_an_invalid_member():
    tags = conditional.parse_entity_tag_list('x, "a", "b"')
    assert tags == (EntityTag("a"), EntityTag("b"))
    assert conditional.parse_entity_tag_list('x,"a"') == (EntityTag("a"),)


def test_a_letter_before_a_tag_makes_the_member_invalid():
    assert conditional.parse_entity_tag_list('X"a"') == ()
    assert conditional.parse_entity_tag_list('X"a", "b"') == (EntityTag("b"),)


@pytest.mark.parametrize("space", ["\x0c", "\x0b", "\r"])
def test_only_space_and_tab_are_optional_whitespace(space):
    """OWS is SP / HTAB (RFC 9110 §5.6.3): a form feed or CR around a tag or `*` is not stripped."""
    assert conditional.parse_entity_tag(f'{space}"a"') is None
    assert conditional.parse_entity_tag(' \t"a"\t ') == EntityTag("a")
    assert conditional.quote_entity_tag(f"{space}v1") is None
    assert conditional.quote_entity_tag(" v1\t") == '"v1"'
    # `*` with a form feed is no `*`: If-None-Match then lists nothing and the GET proceeds.
    assert conditional.evaluate("GET", {"if-none-match": f"{space}*"}, ETAG, None) is None
    assert conditional.evaluate("GET", {"if-none-match": " * "}, ETAG, None) == 304


def test_quote_entity_tag_keeps_complete_tags_and_quotes_bare_ones():
    assert conditional.quote_entity_tag('W/"v1"') == 'W/"v1"'
    assert conditional.quote_entity_tag("v1") == '"v1"'
    assert conditional.quote_entity_tag('v"1') is None


def test_body_digest_is_the_first_64_bits_of_sha256_in_hex():
    body = b"mockstatus"
    assert conditional.body_digest(body) == hashlib.sha256(body).hexdigest()[:16]
    assert len(conditional.body_digest(b"")) == 16


def test_without_a_given_clock_the_real_one_bounds_if_modified_since():
    """No `now`: the machine's clock decides what is in the future (a date of 2001 is past)."""
    headers = {"if-modified-since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    assert conditional.evaluate("GET", headers, ETAG, MODIFIED) == 304
    headers = {"if-modified-since": "Fri, 01 Jan 9999 00:00:00 GMT"}
    assert conditional.evaluate("GET", headers, ETAG, MODIFIED) is None
