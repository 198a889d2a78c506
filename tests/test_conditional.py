"""mockstatus.conditional: HTTP-dates, entity tags and RFC 9110 §13.2.2 precondition evaluation."""

from __future__ import annotations

import email.utils
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockstatus.conditional import (
    EntityTag,
    evaluate,
    format_http_date,
    parse_entity_tag,
    parse_entity_tag_list,
    parse_http_date,
    strong_match,
    weak_match,
)

# RFC 9110 §5.6.7's example instant, Sun, 06 Nov 1994 08:49:37 GMT.
EXAMPLE = 784_111_777
NOW = 1_767_225_600  # Thu, 01 Jan 2026 00:00:00 GMT

# ---------------------------------------------------------------------------------------------
# format_http_date
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epoch", "expected"),
    [
        pytest.param(EXAMPLE, "Sun, 06 Nov 1994 08:49:37 GMT", id="rfc-example"),
        pytest.param(0, "Thu, 01 Jan 1970 00:00:00 GMT", id="epoch"),
        pytest.param(EXAMPLE + 0.999, "Sun, 06 Nov 1994 08:49:37 GMT", id="fraction-floored"),
        pytest.param(-0.5, "Wed, 31 Dec 1969 23:59:59 GMT", id="negative-fraction-floored"),
        pytest.param(951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT", id="leap-day"),
        pytest.param(253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT", id="last-4-digit-year"),
        pytest.param(NOW, "Thu, 01 Jan 2026 00:00:00 GMT", id="manual-clock-default"),
    ],
)
def test_format_http_date(epoch: float, expected: str) -> None:
    assert format_http_date(epoch) == expected


@pytest.mark.parametrize(
    "epoch",
    [
        pytest.param(math.nan, id="nan"),
        pytest.param(math.inf, id="inf"),
        pytest.param(253_402_300_800, id="year-10000"),
        pytest.param(10**30, id="huge"),
    ],
)
def test_format_http_date_rejects_unrepresentable(epoch: float) -> None:
    with pytest.raises(ValueError, match="HTTP-date"):
        format_http_date(epoch)


# ---------------------------------------------------------------------------------------------
# parse_http_date
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Sun, 06 Nov 1994 08:49:37 GMT", EXAMPLE, id="imf-fixdate"),
        pytest.param("Sunday, 06-Nov-94 08:49:37 GMT", EXAMPLE, id="rfc850"),
        pytest.param("Sun Nov  6 08:49:37 1994", EXAMPLE, id="asctime-space-day"),
        pytest.param("Sun Nov 06 08:49:37 1994", EXAMPLE, id="asctime-2digit-day"),
        pytest.param("  Sun, 06 Nov 1994 08:49:37 GMT\t", EXAMPLE, id="surrounding-ows"),
        pytest.param("sun, 06 nov 1994 08:49:37 gmt", EXAMPLE, id="case-insensitive"),
        pytest.param("Mon, 06 Nov 1994 08:49:37 GMT", EXAMPLE, id="wrong-weekday-tolerated"),
        pytest.param("Thu, 29 Feb 2024 12:00:00 GMT", 1_709_208_000, id="leap-day"),
        pytest.param("Sat, 31 Dec 2016 23:59:60 GMT", 1_483_228_800, id="leap-second"),
        pytest.param("Thu, 01 Jan 1970 00:00:00 GMT", 0, id="epoch"),
        pytest.param("Wed, 31 Dec 1969 23:59:59 GMT", -1, id="before-epoch"),
        # invalid → None (the header carrying it is then ignored)
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
        pytest.param("yesterday", None, id="garbage"),
        pytest.param("06 Nov 1994 08:49:37 GMT", None, id="no-weekday"),
        pytest.param("Sun, 06 Nov 1994 08:49:37 +0000", None, id="numeric-zone"),
        pytest.param("Sun, 06 Nov 1994 08:49:37 UTC", None, id="utc-zone"),
        pytest.param("Sun, 6 Nov 1994 08:49:37 GMT", None, id="imf-1digit-day"),
        pytest.param("Sun, 06 Nov 94 08:49:37 GMT", None, id="imf-2digit-year"),
        pytest.param("Sun,  06 Nov 1994 08:49:37 GMT", None, id="double-space"),
        pytest.param("Fri, 31 Feb 2023 00:00:00 GMT", None, id="31-february"),
        pytest.param("Thu, 29 Feb 2023 00:00:00 GMT", None, id="29-february-non-leap"),
        pytest.param("Sun, 00 Nov 1994 08:49:37 GMT", None, id="day-zero"),
        pytest.param("Sun, 06 Foo 1994 08:49:37 GMT", None, id="bad-month"),
        pytest.param("Sun, 06 Nov 1994 24:00:00 GMT", None, id="hour-24"),
        pytest.param("Sun, 06 Nov 1994 08:60:00 GMT", None, id="minute-60"),
        pytest.param("Sun, 06 Nov 1994 08:49:61 GMT", None, id="second-61"),
        pytest.param("Sun, 06 Nov 0000 08:49:37 GMT", None, id="year-zero"),
        pytest.param(
            "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT", None, id="list"
        ),
        pytest.param("Sun, ٠٦ Nov 1994 08:49:37 GMT", None, id="non-ascii-digits"),
        pytest.param("Sun, 06 Nov 1994 08:49:37 GMT\r\n", None, id="trailing-crlf"),
    ],
)
def test_parse_http_date(text: str | None, expected: int | None) -> None:
    assert parse_http_date(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "now", "year"),
    [
        # §5.6.7: a two-digit year more than 50 years ahead is the most recent past such year.
        pytest.param("Sunday, 06-Nov-94 08:49:37 GMT", NOW, 1994, id="94-in-2026"),
        pytest.param("Friday, 06-Nov-26 08:49:37 GMT", NOW, 2026, id="26-in-2026"),
        pytest.param("Friday, 06-Nov-76 08:49:37 GMT", NOW, 2076, id="76-in-2026-is-50-ahead"),
        pytest.param("Saturday, 06-Nov-77 08:49:37 GMT", NOW, 1977, id="77-in-2026-is-past"),
        pytest.param("Wednesday, 06-Nov-00 08:49:37 GMT", 4_102_444_800, 2100, id="00-in-2100"),
    ],
)
def test_parse_http_date_rfc850_year(text: str, now: float, year: int) -> None:
    parsed = parse_http_date(text, now=now)
    assert parsed is not None
    assert format_http_date(parsed).split()[3] == str(year)


FOUR_DIGIT_YEARS = st.integers(min_value=-62_135_596_800, max_value=253_402_300_799)


@given(FOUR_DIGIT_YEARS)
def test_format_then_parse_round_trips(epoch: int) -> None:
    assert parse_http_date(format_http_date(epoch)) == epoch


@given(st.integers(min_value=-2_208_988_800, max_value=253_402_300_799))  # 1900-9999
def test_parse_agrees_with_stdlib(epoch: int) -> None:
    imf = format_http_date(epoch)
    assert parse_http_date(imf) == int(email.utils.parsedate_to_datetime(imf).timestamp())
    # asctime carries the same fields in another order.
    day, date, month, year, clock, _gmt = imf.replace(",", "").split()
    asctime = f"{day} {month} {int(date):2d} {clock} {year}"
    assert parse_http_date(asctime) == epoch


@given(st.text())
def test_parse_http_date_never_raises(text: str) -> None:
    result = parse_http_date(text)
    assert result is None or isinstance(result, int)


# ---------------------------------------------------------------------------------------------
# Entity tags
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('"abc"', EntityTag("abc"), id="strong"),
        pytest.param('W/"abc"', EntityTag("abc", weak=True), id="weak"),
        pytest.param('""', EntityTag(""), id="empty-opaque"),
        pytest.param(' "abc"\t', EntityTag("abc"), id="ows"),
        pytest.param('w/"abc"', None, id="lowercase-weak-prefix"),
        pytest.param("abc", None, id="unquoted"),
        pytest.param('"a b"', None, id="space-inside"),
        pytest.param('"abc', None, id="unterminated"),
        pytest.param('"a" "b"', None, id="two-tags"),
        pytest.param(None, None, id="none"),
    ],
)
def test_parse_entity_tag(text: str | None, expected: EntityTag | None) -> None:
    assert parse_entity_tag(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('"a", W/"b"', ('"a"', 'W/"b"'), id="two"),
        pytest.param('"a",W/"b" ,  "c"', ('"a"', 'W/"b"', '"c"'), id="ows-around-commas"),
        pytest.param(', "a",, ,"b",', ('"a"', '"b"'), id="empty-elements"),
        pytest.param('"a,b", "c"', ('"a,b"', '"c"'), id="comma-inside-tag"),
        pytest.param('junk, "a"', ('"a"',), id="invalid-member-dropped"),
        pytest.param('"a" "b", "c"', ('"c"',), id="missing-comma-dropped"),
        pytest.param('*, "a"', ('"a"',), id="star-in-list-dropped"),
        pytest.param("", (), id="empty"),
        pytest.param('"unterminated', (), id="unterminated"),
    ],
)
def test_parse_entity_tag_list(text: str, expected: tuple[str, ...]) -> None:
    assert tuple(str(tag) for tag in parse_entity_tag_list(text)) == expected


@pytest.mark.parametrize(
    ("a", "b", "strong", "weak"),
    [
        # RFC 9110 §8.8.3.2's table.
        pytest.param('W/"1"', 'W/"1"', False, True, id="weak-weak"),
        pytest.param('W/"1"', 'W/"2"', False, False, id="weak-weak-differ"),
        pytest.param('W/"1"', '"1"', False, True, id="weak-strong"),
        pytest.param('"1"', '"1"', True, True, id="strong-strong"),
        pytest.param('"1"', '"2"', False, False, id="strong-differ"),
    ],
)
def test_comparison_functions(a: str, b: str, strong: bool, weak: bool) -> None:
    ta, tb = parse_entity_tag(a), parse_entity_tag(b)
    assert strong_match(ta, tb) is strong
    assert weak_match(ta, tb) is weak
    assert strong_match(None, tb) is False
    assert weak_match(ta, None) is False


# ---------------------------------------------------------------------------------------------
# evaluate (RFC 9110 §13.2.2)
# ---------------------------------------------------------------------------------------------

ETAG = '"v1"'
MODIFIED = EXAMPLE  # Sun, 06 Nov 1994 08:49:37 GMT
BEFORE = "Sat, 05 Nov 1994 08:49:37 GMT"
SAME = "Sun, 06 Nov 1994 08:49:37 GMT"
AFTER = "Mon, 07 Nov 1994 08:49:37 GMT"
FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"

CASES = [
    # (id, method, headers, expected)
    ("no-preconditions", "GET", {}, None),
    # If-Match (§13.1.1): strong comparison; false → 412 for any method
    ("if-match-hit", "PUT", {"if-match": '"v1"'}, None),
    ("if-match-miss", "PUT", {"if-match": '"v2"'}, 412),
    ("if-match-list-hit", "PUT", {"if-match": '"v0", "v1"'}, None),
    ("if-match-weak-never-matches", "PUT", {"if-match": 'W/"v1"'}, 412),
    ("if-match-star", "PUT", {"if-match": "*"}, None),
    ("if-match-garbage", "PUT", {"if-match": "v1"}, 412),
    ("if-match-empty", "PUT", {"if-match": ""}, 412),
    ("if-match-miss-on-get", "GET", {"if-match": '"v2"'}, 412),
    # If-Unmodified-Since (§13.1.4)
    ("ius-same", "PUT", {"if-unmodified-since": SAME}, None),
    ("ius-after", "PUT", {"if-unmodified-since": AFTER}, None),
    ("ius-before", "PUT", {"if-unmodified-since": BEFORE}, 412),
    ("ius-before-get", "GET", {"if-unmodified-since": BEFORE}, 412),
    ("ius-invalid-ignored", "PUT", {"if-unmodified-since": "not a date"}, None),
    ("ius-ignored-with-if-match", "PUT", {"if-match": '"v1"', "if-unmodified-since": BEFORE}, None),
    # If-None-Match (§13.1.2): weak comparison; false → 304 (GET/HEAD) or 412
    ("inm-hit-get", "GET", {"if-none-match": '"v1"'}, 304),
    ("inm-hit-head", "HEAD", {"if-none-match": '"v1"'}, 304),
    ("inm-hit-put", "PUT", {"if-none-match": '"v1"'}, 412),
    ("inm-hit-post", "POST", {"if-none-match": '"v1"'}, 412),
    ("inm-weak-hit", "GET", {"if-none-match": 'W/"v1"'}, 304),
    ("inm-list-hit", "GET", {"if-none-match": '"x", W/"v1"'}, 304),
    ("inm-miss", "GET", {"if-none-match": '"v2"'}, None),
    ("inm-star-get", "GET", {"if-none-match": "*"}, 304),
    ("inm-star-put", "PUT", {"if-none-match": "*"}, 412),
    ("inm-garbage", "GET", {"if-none-match": "v1"}, None),
    # If-Modified-Since (§13.1.3): GET/HEAD only; not modified → 304
    ("ims-same", "GET", {"if-modified-since": SAME}, 304),
    ("ims-after", "HEAD", {"if-modified-since": AFTER}, 304),
    ("ims-before", "GET", {"if-modified-since": BEFORE}, None),
    ("ims-rfc850", "GET", {"if-modified-since": "Sunday, 06-Nov-94 08:49:37 GMT"}, 304),
    ("ims-asctime", "GET", {"if-modified-since": "Sun Nov  6 08:49:37 1994"}, 304),
    ("ims-invalid-ignored", "GET", {"if-modified-since": "06 Nov 1994"}, None),
    ("ims-future-ignored", "GET", {"if-modified-since": FUTURE}, None),
    ("ims-ignored-for-post", "POST", {"if-modified-since": AFTER}, None),
    ("ims-ignored-with-inm", "GET", {"if-none-match": '"v2"', "if-modified-since": AFTER}, None),
    # precedence (§13.2.2)
    ("if-match-beats-inm", "GET", {"if-match": '"v2"', "if-none-match": '"v1"'}, 412),
    ("if-match-ok-then-inm", "GET", {"if-match": '"v1"', "if-none-match": '"v1"'}, 304),
    ("ius-beats-inm", "GET", {"if-unmodified-since": BEFORE, "if-none-match": '"v1"'}, 412),
    ("ius-beats-ims", "GET", {"if-unmodified-since": BEFORE, "if-modified-since": AFTER}, 412),
    ("ius-ok-then-ims", "GET", {"if-unmodified-since": AFTER, "if-modified-since": AFTER}, 304),
    ("if-match-beats-ims", "GET", {"if-match": '"v2"', "if-modified-since": AFTER}, 412),
    # §13.2.1: methods that select no representation ignore preconditions
    ("options-ignores", "OPTIONS", {"if-match": '"v2"'}, None),
    ("trace-ignores", "TRACE", {"if-none-match": "*"}, None),
    ("connect-ignores", "CONNECT", {"if-unmodified-since": BEFORE}, None),
    ("method-case-sensitive", "get", {"if-none-match": '"v1"'}, 412),
]


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [pytest.param(m, h, e, id=i) for i, m, h, e in CASES],
)
def test_evaluate(method: str, headers: dict[str, str], expected: int | None) -> None:
    assert evaluate(method, headers, ETAG, MODIFIED, now=NOW) == expected


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        pytest.param("PUT", {"if-match": "*"}, 412, id="if-match-star-missing"),
        pytest.param("PUT", {"if-match": '"v1"'}, 412, id="if-match-tag-missing"),
        pytest.param("PUT", {"if-none-match": "*"}, None, id="inm-star-create"),
        pytest.param("PUT", {"if-unmodified-since": BEFORE}, None, id="ius-no-date"),
        pytest.param("GET", {"if-modified-since": AFTER}, None, id="ims-no-date"),
    ],
)
def test_evaluate_without_representation(
    method: str, headers: dict[str, str], expected: int | None
) -> None:
    assert evaluate(method, headers, ETAG, MODIFIED, exists=False, now=NOW) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"if-unmodified-since": BEFORE}, None, id="ius-ignored"),
        pytest.param({"if-modified-since": AFTER}, None, id="ims-ignored"),
        pytest.param({"if-none-match": '"v1"'}, 304, id="inm-still-applies"),
    ],
)
def test_evaluate_without_last_modified(headers: dict[str, str], expected: int | None) -> None:
    assert evaluate("GET", headers, ETAG, None, now=NOW) == expected


def test_evaluate_weak_current_etag() -> None:
    # A weak ETag never satisfies If-Match (strong) but does satisfy If-None-Match (weak).
    assert evaluate("PUT", {"if-match": 'W/"v1"'}, 'W/"v1"', MODIFIED, now=NOW) == 412
    assert evaluate("GET", {"if-none-match": '"v1"'}, 'W/"v1"', MODIFIED, now=NOW) == 304


HEADER_NAMES = st.sampled_from(
    ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range"]
)
HEADER_VALUES = st.one_of(
    st.text(),
    st.sampled_from(["*", '"v1"', 'W/"v1"', SAME, BEFORE, AFTER, FUTURE, "", ","]),
    st.lists(st.sampled_from(['"v1"', 'W/"v2"', "*", "x", '"', " ", ","])).map("".join),
)


@given(
    method=st.one_of(st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE"]), st.text()),
    headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES),
    etag=st.one_of(st.just(ETAG), st.text()),
    modified=st.one_of(st.none(), st.integers(min_value=-(10**12), max_value=10**12)),
    exists=st.booleans(),
)
def test_evaluate_never_raises(
    method: str, headers: dict[str, str], etag: str, modified: int | None, exists: bool
) -> None:
    result = evaluate(method, headers, etag, modified, exists=exists, now=NOW)
    assert result in (None, 304, 412)
    if result == 304:
        assert method in ("GET", "HEAD")
