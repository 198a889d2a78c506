"""Fixed examples for the Range / If-Range edge cases that the property tests find only in some
runs: zero-padded positions, zero-length representations, one-byte parts, merge order, OWS after
"=", RFC 850 two-digit years — and the pattern cache, grown in steps, in a cold process."""

from __future__ import annotations

import calendar

import pytest

from mockstatus import ranges
from mockstatus.ranges import (
    CONTENT_TYPE,
    LAST_MODIFIED,
    LAST_MODIFIED_EPOCH,
    RangeDecision,
    boundary_for,
    entity_tag,
    if_range_allows,
    parse_range,
    plan_range,
    representation,
)


def sat(*pairs: tuple[int, int]) -> RangeDecision:
    return RangeDecision("satisfiable", tuple(pairs))


IGNORE = RangeDecision("ignore")
UNSAT = RangeDecision("unsatisfiable")


@pytest.mark.parametrize(
    ("header", "size", "decision"),
    [
        # zero-padded positions compare as numbers: 009 < 10 is invalid, 010-019 is 10-19
        ("bytes=10-009", 100, IGNORE),
        ("bytes=010-019", 100, sat((10, 19))),
        ("bytes=0000000000000000000000005-6", 100, sat((5, 6))),
        ("bytes=-00003", 100, sat((97, 99))),
        ("bytes=9-9", 10, sat((9, 9))),
        ("bytes=10-10", 10, UNSAT),
        ("bytes=9-", 10, sat((9, 9))),
        ("bytes=5-999999999999999999999999", 10, sat((5, 9))),
        ("bytes=-999999999999999999999999", 10, sat((0, 9))),
        # a zero-length representation: suffix 0 is unsatisfiable, a non-zero suffix is all of it
        ("bytes=-0", 0, UNSAT),
        ("bytes=-1", 0, IGNORE),
        ("bytes=0-0", 0, UNSAT),
        ("bytes=0-", 0, UNSAT),
        ("bytes=-0", 10, UNSAT),
        ("bytes=-0,-1", 0, IGNORE),
        # a one-byte part among others
        ("bytes=0-0,5-9", 10, sat((0, 0), (5, 9))),
        ("bytes=5-9,0-0", 10, sat((5, 9), (0, 0))),
        # touching parts stay separate; overlapping ones merge into the earliest slot
        ("bytes=0-4,5-9", 10, sat((0, 4), (5, 9))),
        (
            "bytes=0-5,5-9",
            10,
            sat(
                (0, 9),
            ),
        ),
        ("bytes=0-1,20-29,4-5,1-4", 100, sat((0, 5), (20, 29))),
        ("bytes=20-29,0-1,4-5,40-49,1-4", 100, sat((20, 29), (0, 5), (40, 49))),
        ("bytes=50-59,0-9,30-39,5-35", 100, sat((50, 59), (0, 39))),
        (
            "bytes=3-4,0-9",
            10,
            sat(
                (0, 9),
            ),
        ),
        (
            "bytes=0-0,0-0",
            10,
            sat(
                (0, 0),
            ),
        ),
        (
            "bytes=8-,-5",
            10,
            sat(
                (5, 9),
            ),
        ),
        # unsatisfiable members are dropped from a satisfiable set
        (
            "bytes=50-60,0-1",
            10,
            sat(
                (0, 1),
            ),
        ),
        # OWS: never after "=", allowed around commas
        ("bytes=\t0-5", 10, IGNORE),
        ("bytes= 0-5", 10, IGNORE),
        ("bytes=0-1,\t3-4", 10, sat((0, 1), (3, 4))),
        ("bytes=0-1 ,3-4\t", 10, sat((0, 1), (3, 4))),
        (
            "\tbytes=0-1",
            10,
            sat(
                (0, 1),
            ),
        ),
        ("bytes =0-1", 10, IGNORE),
        (
            "BYTES=0-1",
            10,
            sat(
                (0, 1),
            ),
        ),
        ("items=0-1", 10, IGNORE),
        ("bytes=", 10, IGNORE),
        (
            "bytes=,,0-1,,",
            10,
            sat(
                (0, 1),
            ),
        ),
        ("=0-1", 10, IGNORE),
        ("bytes0-1", 10, IGNORE),
    ],
)
def test_parse_range_edges(header, size, decision):
    assert parse_range(header, size) == decision


def test_no_header_and_negative_size():
    assert parse_range(None, 10) == RangeDecision("none")
    with pytest.raises(ValueError, match="size must not be negative, not -1"):
        parse_range("bytes=0-1", -1)


def test_range_count_cap_is_inclusive():
    at_cap = "bytes=" + ",".join(["0-0"] * ranges.MAX_RANGES)
    assert parse_range(at_cap, 10) == sat((0, 0))
    assert parse_range(at_cap + ",0-0", 10) == IGNORE


def test_zero_length_plans():
    assert plan_range("GET", "bytes=-0", None, 0).status == 416
    whole = plan_range("GET", "bytes=-1", None, 0)
    assert (whole.status, whole.body) == (200, b"")
    assert dict(whole.headers)["Content-Type"] == CONTENT_TYPE


def test_one_byte_part_in_a_multipart_answer():
    out = plan_range("GET", "bytes=0-0,5-9", None, 10)
    boundary = boundary_for(entity_tag(10))
    assert out.status == 206
    assert out.headers[0] == ("Content-Type", f"multipart/byteranges; boundary={boundary}")
    assert (
        out.body
        == (
            f"--{boundary}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Range: bytes 0-0/10\r\n\r\n"
            f"0\r\n"
            f"--{boundary}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Range: bytes 5-9/10\r\n\r\n"
            f"00000\r\n"
            f"--{boundary}--\r\n"
        ).encode()
    )


def test_single_range_answer_headers_in_order():
    out = plan_range("GET", "bytes=64-74", None, 1024)
    assert out.status == 206
    assert out.body == b"0000000064 "
    assert out.headers == (
        ("Content-Type", CONTENT_TYPE),
        ("Content-Range", "bytes 64-74/1024"),
        ("Accept-Ranges", "bytes"),
        ("ETag", entity_tag(1024)),
        ("Last-Modified", LAST_MODIFIED),
    )


def test_unsatisfiable_answer_in_full():
    out = plan_range("GET", "bytes=2000-", None, 1024)
    assert out.status == 416
    assert out.body == (
        b"416 Range Not Satisfiable: no requested range overlaps the 1024-byte "
        b"representation (bytes */1024).\n"
    )
    assert out.headers == (
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Range", "bytes */1024"),
        ("Accept-Ranges", "bytes"),
        ("ETag", entity_tag(1024)),
        ("Last-Modified", LAST_MODIFIED),
    )


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_range_on_other_methods_is_ignored(method):
    out = plan_range(method, "bytes=0-1", None, 10)
    assert (out.status, out.body, out.decision.kind) == (200, representation(10), "ignore")


def test_head_gets_the_range_too():
    assert plan_range("HEAD", "bytes=0-1", None, 10).status == 206


# --- If-Range with RFC 850 dates ---------------------------------------------------------------

RFC850 = "Monday, 01-Jan-24 00:00:00 GMT"  # LAST_MODIFIED, two-digit year


def year_start(year: int) -> int:
    return calendar.timegm((year, 6, 1, 0, 0, 0, 0, 0, 0))


@pytest.mark.parametrize(
    ("now_year", "allows"),
    [
        (2026, True),
        (1974, True),  # 2024 is exactly 50 years ahead: not "more than 50", so 2024
        (1973, False),  # 51 years ahead: read as 1924
        (2073, True),
        (2074, False),  # 2124 is 50 years ahead of 2074: read as 2124
    ],
)
def test_if_range_rfc850_year_is_relative_to_now(now_year, allows):
    now = year_start(now_year)
    assert if_range_allows(RFC850, entity_tag(10), LAST_MODIFIED_EPOCH, now=now) is allows
    status = plan_range("GET", "bytes=0-1", RFC850, 10, now=now).status
    assert status == (206 if allows else 200)


@pytest.mark.parametrize(
    ("if_range", "allows"),
    [
        (LAST_MODIFIED, True),
        ("Mon Jan  1 00:00:00 2024", True),
        ("Mon, 01 Jan 2024 00:00:01 GMT", False),
        ("Sun, 31 Dec 2023 23:59:59 GMT", False),
        (f" {LAST_MODIFIED}\t", True),
        ("not a date", False),
        ("", False),
    ],
)
def test_if_range_dates(if_range, allows):
    assert if_range_allows(if_range, entity_tag(10), LAST_MODIFIED_EPOCH, now=0) is allows


def test_if_range_entity_tags():
    tag = entity_tag(10)
    assert if_range_allows(tag, tag, LAST_MODIFIED_EPOCH) is True
    assert if_range_allows(f"\t{tag} ", tag, LAST_MODIFIED_EPOCH) is True
    assert if_range_allows("W/" + tag, tag, LAST_MODIFIED_EPOCH) is False
    assert if_range_allows(entity_tag(11), tag, LAST_MODIFIED_EPOCH) is False
    assert if_range_allows(None, tag, LAST_MODIFIED_EPOCH) is True
    assert plan_range("GET", "bytes=0-1", entity_tag(11), 10).status == 200


# --- the representation and its cache, from cold ----------------------------------------------


def test_entity_tag_values():
    assert entity_tag(1024) == '"ms-1024-e996d08a"'
    assert entity_tag(0) == '"ms-0-7af55693"'


def test_representation_grows_correctly_in_steps():
    ranges.clear_caches()
    assert representation(0) == b""
    assert (
        representation(70)
        == (b"0000000000 abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n0000000064 "[:70])
    )
    big = 64 * 1024 + 130  # past the first block: the cache must grow, not serve a short one
    data = representation(big)
    assert len(data) == big
    assert data[-3:] == b"\n00"
    assert data[65536:65546] == b"0000065536"
    assert data[65600:65610] == b"0000065600"
    again = representation(3 * 64 * 1024)
    assert again[:big] == data
    assert again[-64:-53] == b"0000196544 "


def test_largest_representation_ends_with_its_last_line():
    data = representation(ranges.MAX_SIZE)
    assert len(data) == ranges.MAX_SIZE == 10 * 1024 * 1024
    assert data[-64:] == b"%010d" % (ranges.MAX_SIZE - 64) + data[10:64]
    with pytest.raises(ValueError, match="size must be between 0 and 10485760 bytes"):
        representation(ranges.MAX_SIZE + 1)
    with pytest.raises(ValueError):
        representation(-1)


# --- values the coarser tests let through ------------------------------------------------------


def test_boundary_values():
    assert boundary_for(entity_tag(10)) == "ms-byteranges-31c633f7bde9feef372f7"
    # a tag that UTF-8 cannot encode strictly (a lone surrogate) still gets a boundary
    assert boundary_for('"\ud800"') == "ms-byteranges-15c5e748338b7ecd1296c"


@pytest.mark.parametrize(
    ("data", "part_ranges", "size", "boundary", "message"),
    [
        (b"0123", [(0, 1)], 4, "a\r\nb", r"invalid multipart boundary 'a\\r\\nb' \(RFC 2046\)"),
        (b"01", [(0, 1)], 4, "B", r"data has 2 bytes, fewer than size 4"),
        (b"0123", [(2, 4)], 4, "B", r"range 2-4 is not within \[0, 4\)"),
    ],
)
def test_multipart_byteranges_errors_say_what_is_wrong(data, part_ranges, size, boundary, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        ranges.multipart_byteranges(data, part_ranges, size, "text/plain", boundary)


def test_if_range_trims_only_ows():
    tag = entity_tag(10)
    assert if_range_allows(f"\x0c{tag}", tag, LAST_MODIFIED_EPOCH) is False
    assert if_range_allows(f"{LAST_MODIFIED}\n", tag, LAST_MODIFIED_EPOCH, now=0) is False
    assert if_range_allows(f"X{tag}X", tag, LAST_MODIFIED_EPOCH) is False


def test_plan_decisions_say_why():
    long_method = "M" * 25
    ignored = plan_range(long_method, "bytes=0-1", None, 10).decision
    assert (ignored.kind, ignored.reason) == ("ignore", "Range is not defined for " + "M" * 20)
    stale = plan_range("GET", "bytes=0-1", entity_tag(11), 10).decision
    assert (stale.kind, stale.reason) == (
        "ignore",
        "If-Range does not match the current representation",
    )
    assert plan_range("GET", "bytes=50-", None, 10).decision == UNSAT
    assert plan_range("GET", "bytes=0-0,5-9", None, 10).decision == sat((0, 0), (5, 9))
    assert plan_range("GET", "bytes=0-1", None, 10).decision == sat((0, 1))
    assert plan_range("GET", None, None, 10).decision == RangeDecision("none")


@pytest.mark.parametrize(
    ("header", "size", "kind", "reason"),
    [
        (None, 10, "none", "no Range header"),
        ("bytes", 10, "ignore", 'not a ranges-specifier (range-unit "=" range-set)'),
        ("b@d=0-1", 10, "ignore", 'not a ranges-specifier (range-unit "=" range-set)'),
        ("items=0-1", 10, "ignore", "range unit 'items' is not bytes (§14.2: ignored)"),
        ("bytes= 0-1", 10, "ignore", "whitespace after '=' (OWS is only allowed around commas)"),
        ("bytes=0-9=", 10, "ignore", "invalid range-spec '0-9='"),
        ("bytes=" + "a" * 45, 10, "ignore", "invalid range-spec '" + "a" * 40 + "'"),
        ("bytes=,", 10, "ignore", "empty range-set"),
        ("bytes=-1", 0, "ignore", "zero-length representation: the whole of it is the suffix"),
        ("bytes=5-1", 10, "ignore", "invalid range '5-1': last-pos is less than first-pos"),
        ("bytes=50-", 10, "unsatisfiable", "no range overlaps the 10 bytes"),
        ("bytes=0-1,5-6", 10, "satisfiable", "2 range-spec(s)"),
    ],
)
def test_decision_reasons(header, size, kind, reason):
    decision = parse_range(header, size)
    assert (decision.kind, decision.reason) == (kind, reason)


@pytest.mark.parametrize(
    ("header", "decision"),
    [
        ("\x0cbytes=0-1", IGNORE),  # only SP and HTAB are trimmed
        ("Xbytes=0-1X", IGNORE),
        ("bytes=0-1X", IGNORE),
        ("bytes=-1", sat((9, 9))),  # the shortest suffix
        ("bytes=-2", sat((8, 9))),
    ],
)
def test_more_parse_edges(header, decision):
    assert parse_range(header, 10) == decision


def test_cleared_cache_serves_small_sizes_correctly():
    ranges.clear_caches()
    assert representation(3) == b"000"
    assert representation(12) == b"0000000000 a"
