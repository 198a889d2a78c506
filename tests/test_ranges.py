"""mockstatus.ranges: the /status/206 representation, Range, If-Range and the 200/206/416 plan."""

from __future__ import annotations

import ast
import itertools
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mockstatus
from mockstatus.conditional import format_http_date, parse_http_date
from mockstatus.ranges import (
    CONTENT_TYPE,
    DEFAULT_206_RANGE,
    LAST_MODIFIED,
    LAST_MODIFIED_EPOCH,
    MAX_RANGES,
    MAX_SIZE,
    RangeDecision,
    boundary_for,
    content_range,
    entity_tag,
    if_range_allows,
    multipart_byteranges,
    parse_range,
    plan_range,
    representation,
    unsatisfied_range,
)


@pytest.mark.parametrize("module", ["ranges.py", "conditional.py"])
def test_pure_modules_import_only_stdlib_and_pure_siblings(module: str) -> None:
    # Checked on the source, so it holds whatever the package __init__ imports.
    tree = ast.parse((Path(mockstatus.__file__).parent / module).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}  # fmt: skip
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    third_party = {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names}
    pure = {
        "mockstatus.conditional",
        "mockstatus.http_syntax",
        "mockstatus.limits",
        "mockstatus.types",
    }
    assert third_party <= pure


# ---------------------------------------------------------------------------------------------
# representation, entity_tag, LAST_MODIFIED
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 1024, 100_000, MAX_SIZE])
def test_representation_has_exact_size_and_is_printable(size: int) -> None:
    body = representation(size)
    assert len(body) == size
    assert body == representation(size)  # deterministic
    assert re.fullmatch(rb"[ -~\n]*", body)


def test_representation_lines_start_with_their_offset() -> None:
    body = representation(4096)
    assert body[:64] == b"0000000000 abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
    for offset in range(0, 4096, 64):
        assert body[offset : offset + 11] == b"%010d " % offset
    assert representation(100) == representation(4096)[:100]  # every size is a prefix
    assert b"--" not in representation(MAX_SIZE)  # so no multipart delimiter can occur in it


@pytest.mark.parametrize("size", [-1, MAX_SIZE + 1])
def test_representation_rejects_out_of_range_sizes(size: int) -> None:
    with pytest.raises(ValueError, match=str(MAX_SIZE)):
        representation(size)


def test_entity_tag_is_stable_and_strong() -> None:
    assert entity_tag(1024) == '"ms-1024-e996d08a"'  # pinned: same on every run and machine
    assert re.fullmatch(r'"ms-0-[0-9a-f]{8}"', entity_tag(0))
    assert entity_tag(1024) != entity_tag(1025)


def test_last_modified_is_a_fixed_imf_fixdate() -> None:
    assert LAST_MODIFIED == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert format_http_date(LAST_MODIFIED_EPOCH) == LAST_MODIFIED
    assert parse_http_date(LAST_MODIFIED) == LAST_MODIFIED_EPOCH


# ---------------------------------------------------------------------------------------------
# parse_range (RFC 9110 §14.1, §14.2)
# ---------------------------------------------------------------------------------------------

SAT, UNSAT, IGNORE = "satisfiable", "unsatisfiable", "ignore"

RANGE_CASES = [
    # (id, header, size, kind, ranges)
    ("no-header", None, 1024, "none", ()),
    # single ranges
    ("single", "bytes=0-99", 1024, SAT, ((0, 99),)),
    ("single-middle", "bytes=100-199", 1024, SAT, ((100, 199),)),
    ("single-one-byte", "bytes=5-5", 1024, SAT, ((5, 5),)),
    ("last-clamped", "bytes=1000-5000", 1024, SAT, ((1000, 1023),)),
    ("last-huge-clamped", "bytes=0-" + "9" * 5000, 1024, SAT, ((0, 1023),)),
    ("leading-zeros", "bytes=007-0010", 1024, SAT, ((7, 10),)),
    ("open", "bytes=100-", 1024, SAT, ((100, 1023),)),
    ("open-from-zero", "bytes=0-", 1024, SAT, ((0, 1023),)),
    ("open-last-byte", "bytes=1023-", 1024, SAT, ((1023, 1023),)),
    ("suffix", "bytes=-50", 1024, SAT, ((974, 1023),)),
    ("suffix-longer-than-size", "bytes=-5000", 1024, SAT, ((0, 1023),)),
    ("suffix-exact-size", "bytes=-1024", 1024, SAT, ((0, 1023),)),
    ("unit-case-insensitive", "BYTES=0-9", 1024, SAT, ((0, 9),)),
    ("surrounding-ows", " \tbytes=0-9 ", 1024, SAT, ((0, 9),)),
    ("default-206", DEFAULT_206_RANGE, 1024, SAT, ((0, 511),)),
    ("default-206-small", DEFAULT_206_RANGE, 100, SAT, ((0, 99),)),
    # multiple ranges: client order kept
    ("multiple", "bytes=0-9,20-29", 1024, SAT, ((0, 9), (20, 29))),
    ("multiple-client-order", "bytes=500-599,0-9", 1024, SAT, ((500, 599), (0, 9))),
    ("multiple-ows", "bytes=0-9 ,\t20-29,  -10", 1024, SAT, ((0, 9), (20, 29), (1014, 1023))),
    ("empty-elements", "bytes=,0-9,, ,20-29,", 1024, SAT, ((0, 9), (20, 29))),
    ("adjacent-not-merged", "bytes=0-9,10-19", 1024, SAT, ((0, 9), (10, 19))),
    # overlapping ranges coalesce (§14.2), in the earliest slot
    ("overlap", "bytes=0-50,40-99", 1024, SAT, ((0, 99),)),
    ("overlap-contained", "bytes=0-99,10-19", 1024, SAT, ((0, 99),)),
    ("overlap-duplicate", "bytes=0-9,0-9", 1024, SAT, ((0, 9),)),
    ("overlap-keeps-order", "bytes=500-599,0-9,550-700", 1024, SAT, ((500, 700), (0, 9))),
    ("overlap-bridges-two", "bytes=0-9,20-29,5-25", 1024, SAT, ((0, 29),)),
    ("overlap-suffix-and-open", "bytes=-100,900-", 1024, SAT, ((900, 1023),)),
    ("many-small-overlapping", "bytes=" + ",".join(["0-0"] * MAX_RANGES), 10, SAT, ((0, 0),)),
    # unsatisfiable members
    ("first-equals-size", "bytes=1024-", 1024, UNSAT, ()),
    ("first-beyond-size", "bytes=2000-3000", 1024, UNSAT, ()),
    ("first-huge", "bytes=" + "9" * 30 + "-", 1024, UNSAT, ()),
    ("suffix-zero", "bytes=-0", 1024, UNSAT, ()),
    ("all-unsatisfiable", "bytes=2000-,-0", 1024, UNSAT, ()),
    ("unsatisfiable-dropped", "bytes=2000-,0-9,-0", 1024, SAT, ((0, 9),)),
    ("zero-size-int-range", "bytes=0-0", 0, UNSAT, ()),
    ("zero-size-suffix-whole", "bytes=-5", 0, IGNORE, ()),
    # invalid → ignore the header (200 with the whole representation)
    ("garbage", "garbage", 1024, IGNORE, ()),
    ("empty", "", 1024, IGNORE, ()),
    ("no-equals", "bytes 0-9", 1024, IGNORE, ()),
    ("wrong-unit", "items=0-9", 1024, IGNORE, ()),
    ("unit-not-token", "by tes=0-9", 1024, IGNORE, ()),
    ("space-before-equals", "bytes =0-9", 1024, IGNORE, ()),
    ("space-after-equals", "bytes= 0-9", 1024, IGNORE, ()),
    ("letters", "bytes=a-b", 1024, IGNORE, ()),
    ("last-before-first", "bytes=5-2", 1024, IGNORE, ()),
    ("last-before-first-huge", "bytes=" + "9" * 30 + "-" + "9" * 29, 1024, IGNORE, ()),
    ("one-bad-member", "bytes=0-9,x", 1024, IGNORE, ()),
    ("empty-set", "bytes=", 1024, IGNORE, ()),
    ("only-commas", "bytes=, ,", 1024, IGNORE, ()),
    ("lone-dash", "bytes=-", 1024, IGNORE, ()),
    ("space-inside-spec", "bytes=0 - 9", 1024, IGNORE, ()),
    ("plus-sign", "bytes=+1-5", 1024, IGNORE, ()),
    ("negative-first", "bytes=-1-5", 1024, IGNORE, ()),
    ("non-ascii-digits", "bytes=٠-٩", 1024, IGNORE, ()),
    ("newline-ows", "bytes=0-9,\n20-29", 1024, IGNORE, ()),
    ("second-equals", "bytes=0-9=", 1024, IGNORE, ()),
    # §14.2: too many ranges → ignore (our choice over 416)
    ("max-ranges-ok", "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in range(MAX_RANGES)),
     1024, SAT, tuple((i * 2, i * 2) for i in range(MAX_RANGES))),
    ("too-many-ranges", "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in range(MAX_RANGES + 1)),
     1024, IGNORE, ()),
    ("too-many-unsatisfiable", "bytes=" + ",".join(["5000-"] * (MAX_RANGES + 1)), 1024, IGNORE, ()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("header", "size", "kind", "ranges"),
    [pytest.param(h, s, k, r, id=i) for i, h, s, k, r in RANGE_CASES],
)
def test_parse_range(
    header: str | None, size: int, kind: str, ranges: tuple[tuple[int, int], ...]
) -> None:
    decision = parse_range(header, size)
    assert decision == RangeDecision(kind, ranges)
    assert decision.reason  # every decision says why


def test_parse_range_decision_is_frozen() -> None:
    decision = parse_range("bytes=0-9", 100)
    with pytest.raises(AttributeError):
        decision.kind = "ignore"  # type: ignore[misc]


def _assert_valid(decision: RangeDecision, size: int) -> None:
    assert decision.kind in ("none", "ignore", "satisfiable", "unsatisfiable")
    if decision.kind != "satisfiable":
        assert decision.ranges == ()
        return
    assert 1 <= len(decision.ranges) <= MAX_RANGES
    for first, last in decision.ranges:
        assert 0 <= first <= last < size
    ordered = sorted(decision.ranges)
    for (_, last), (first, _) in itertools.pairwise(ordered):
        assert last < first  # coalesced: no two ranges share a byte


SIZES = st.integers(min_value=0, max_value=5000)


@given(st.text(), SIZES)
def test_parse_range_never_raises_on_any_text(header: str, size: int) -> None:
    _assert_valid(parse_range(header, size), size)


@given(st.text(alphabet="bytes=0123456789-, \t"), SIZES)
def test_parse_range_never_raises_on_range_like_text(header: str, size: int) -> None:
    _assert_valid(parse_range(header, size), size)


POSITIONS = st.integers(min_value=0, max_value=6000).map(str)
RANGE_SPECS = st.one_of(
    st.tuples(POSITIONS, POSITIONS).map(lambda p: f"{min(p, key=int)}-{max(p, key=int)}"),
    POSITIONS.map(lambda p: f"{p}-"),
    POSITIONS.map(lambda p: f"-{p}"),
)
VALID_HEADERS = st.lists(RANGE_SPECS, min_size=1, max_size=MAX_RANGES).map(
    lambda specs: "bytes=" + ", ".join(specs)
)


@given(VALID_HEADERS, SIZES)
def test_valid_headers_are_never_ignored_unless_size_zero(header: str, size: int) -> None:
    decision = parse_range(header, size)
    _assert_valid(decision, size)
    # Only a zero-length representation ignores a valid header (a suffix of it is all of it).
    allowed = {"satisfiable", "unsatisfiable"} | ({"ignore"} if size == 0 else set())
    assert decision.kind in allowed


@given(VALID_HEADERS, st.integers(min_value=1, max_value=5000))
def test_satisfiable_ranges_cover_exactly_the_requested_bytes(header: str, size: int) -> None:
    decision = parse_range(header, size)
    wanted: set[int] = set()
    for spec in header.removeprefix("bytes=").split(", "):
        first, _, last = spec.partition("-")
        if not first:
            wanted.update(range(max(0, size - int(last)), size))
        else:
            wanted.update(range(int(first), min(size, int(last) + 1) if last else size))
    got = {i for first, last in decision.ranges for i in range(first, last + 1)}
    assert got == wanted
    assert decision.kind == ("satisfiable" if wanted else "unsatisfiable")


# ---------------------------------------------------------------------------------------------
# If-Range (RFC 9110 §13.1.5)
# ---------------------------------------------------------------------------------------------

ETAG = entity_tag(1024)


@pytest.mark.parametrize(
    ("if_range", "allows"),
    [
        pytest.param(None, True, id="absent"),
        pytest.param(ETAG, True, id="strong-match"),
        pytest.param(f" {ETAG}\t", True, id="strong-match-ows"),
        pytest.param('"ms-1024-00000000"', False, id="strong-mismatch"),
        pytest.param(f"W/{ETAG}", False, id="weak-never-matches"),
        pytest.param(f"{ETAG}, {ETAG}", False, id="list-not-allowed"),
        pytest.param(LAST_MODIFIED, True, id="date-exact"),
        pytest.param("Monday, 01-Jan-24 00:00:00 GMT", True, id="date-rfc850"),
        pytest.param("Mon Jan  1 00:00:00 2024", True, id="date-asctime"),
        pytest.param("Mon, 01 Jan 2024 00:00:01 GMT", False, id="date-later"),
        pytest.param("Sun, 31 Dec 2023 23:59:59 GMT", False, id="date-earlier"),
        pytest.param("Mon, 01 Jan 2024 00:00:00 +0000", False, id="date-invalid"),
        pytest.param("garbage", False, id="garbage"),
        pytest.param("", False, id="empty"),
        pytest.param('"unterminated', False, id="unterminated-tag"),
    ],
)
def test_if_range_allows(if_range: str | None, allows: bool) -> None:
    assert if_range_allows(if_range, ETAG, LAST_MODIFIED_EPOCH, now=1_767_225_600) is allows


def test_if_range_with_weak_current_etag_never_matches() -> None:
    assert if_range_allows('W/"x"', 'W/"x"', LAST_MODIFIED_EPOCH) is False
    assert if_range_allows('"x"', 'W/"x"', LAST_MODIFIED_EPOCH) is False


@given(st.text())
def test_if_range_never_raises(if_range: str) -> None:
    assert if_range_allows(if_range, ETAG, LAST_MODIFIED_EPOCH) in (True, False)


# ---------------------------------------------------------------------------------------------
# Content-Range, boundary, multipart/byteranges (RFC 9110 §14.4, §14.6)
# ---------------------------------------------------------------------------------------------


def test_content_range_values() -> None:
    assert content_range(0, 99, 1024) == "bytes 0-99/1024"
    assert unsatisfied_range(1024) == "bytes */1024"


def test_boundary_is_deterministic_and_valid() -> None:
    boundary = boundary_for(ETAG)
    assert boundary == boundary_for(ETAG)
    assert boundary != boundary_for(entity_tag(1))
    assert re.fullmatch(r"[0-9A-Za-z-]{1,70}", boundary)


def test_multipart_byteranges_exact_bytes() -> None:
    body = multipart_byteranges(b"0123456789", [(0, 1), (7, 9)], 10, "text/plain", "BND")
    assert body == (
        b"--BND\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01\r\n"
        b"--BND\r\nContent-Type: text/plain\r\nContent-Range: bytes 7-9/10\r\n\r\n789\r\n"
        b"--BND--\r\n"
    )


@pytest.mark.parametrize(
    ("data", "ranges", "size", "boundary"),
    [
        pytest.param(b"0123", [(2, 4)], 4, "B", id="last-beyond-size"),
        pytest.param(b"0123", [(3, 2)], 4, "B", id="first-after-last"),
        pytest.param(b"0123", [(-1, 2)], 4, "B", id="negative"),
        pytest.param(b"01", [(0, 1)], 4, "B", id="data-shorter-than-size"),
        pytest.param(b"0123", [(0, 1)], 4, "", id="empty-boundary"),
        pytest.param(b"0123", [(0, 1)], 4, "a\r\nb", id="crlf-boundary"),
        pytest.param(b"0123", [(0, 1)], 4, "x" * 71, id="boundary-too-long"),
    ],
)
def test_multipart_byteranges_rejects_bad_input(
    data: bytes, ranges: list[tuple[int, int]], size: int, boundary: str
) -> None:
    with pytest.raises(ValueError):
        multipart_byteranges(data, ranges, size, "text/plain", boundary)


def _parts(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/byteranges body back into (headers, content) pairs."""
    delimiter = f"--{boundary}\r\n".encode()
    closing = f"--{boundary}--\r\n".encode()
    assert body.startswith(delimiter) and body.endswith(closing)
    parts = []
    for chunk in body[: -len(closing)].split(delimiter)[1:]:
        head, _, content = chunk.partition(b"\r\n\r\n")
        assert content.endswith(b"\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        parts.append((fields, content[:-2]))
    return parts


# ---------------------------------------------------------------------------------------------
# plan_range
# ---------------------------------------------------------------------------------------------

VALIDATORS = (
    ("Accept-Ranges", "bytes"),
    ("ETag", ETAG),
    ("Last-Modified", LAST_MODIFIED),
)
BODY = representation(1024)


@pytest.mark.parametrize(
    ("method", "range_header", "if_range", "status", "headers", "body"),
    [
        pytest.param("GET", None, None, 200, (("Content-Type", CONTENT_TYPE), *VALIDATORS), BODY,
                     id="no-range"),
        pytest.param("GET", "bytes=0-99", None, 206,
                     (("Content-Type", CONTENT_TYPE), ("Content-Range", "bytes 0-99/1024"),
                      *VALIDATORS), BODY[:100], id="single"),
        pytest.param("GET", "bytes=-50", None, 206,
                     (("Content-Type", CONTENT_TYPE), ("Content-Range", "bytes 974-1023/1024"),
                      *VALIDATORS), BODY[974:], id="suffix"),
        pytest.param("GET", "bytes=100-", None, 206,
                     (("Content-Type", CONTENT_TYPE), ("Content-Range", "bytes 100-1023/1024"),
                      *VALIDATORS), BODY[100:], id="open"),
        pytest.param("GET", "bytes=0-50,40-99", None, 206,
                     (("Content-Type", CONTENT_TYPE), ("Content-Range", "bytes 0-99/1024"),
                      *VALIDATORS), BODY[:100], id="overlap-becomes-single"),
        pytest.param("GET", DEFAULT_206_RANGE, None, 206,
                     (("Content-Type", CONTENT_TYPE), ("Content-Range", "bytes 0-511/1024"),
                      *VALIDATORS), BODY[:512], id="default-206-range"),
        pytest.param("GET", "bytes=0-9", ETAG, 206,
                     (("Content-Type", CONTENT_TYPE), ("Content-Range", "bytes 0-9/1024"),
                      *VALIDATORS), BODY[:10], id="if-range-etag-matches"),
        pytest.param("GET", "bytes=0-9", LAST_MODIFIED, 206,
                     (("Content-Type", CONTENT_TYPE), ("Content-Range", "bytes 0-9/1024"),
                      *VALIDATORS), BODY[:10], id="if-range-date-matches"),
        pytest.param("GET", "bytes=0-9", '"stale"', 200,
                     (("Content-Type", CONTENT_TYPE), *VALIDATORS), BODY,
                     id="if-range-mismatch-whole"),
        pytest.param("GET", "bytes=5000-", '"stale"', 200,
                     (("Content-Type", CONTENT_TYPE), *VALIDATORS), BODY,
                     id="if-range-mismatch-beats-416"),
        pytest.param("GET", "bytes=0-9", f"W/{ETAG}", 200,
                     (("Content-Type", CONTENT_TYPE), *VALIDATORS), BODY,
                     id="if-range-weak-whole"),
        pytest.param("GET", None, '"stale"', 200,
                     (("Content-Type", CONTENT_TYPE), *VALIDATORS), BODY,
                     id="if-range-without-range-ignored"),
        pytest.param("GET", "bytes=x", None, 200,
                     (("Content-Type", CONTENT_TYPE), *VALIDATORS), BODY, id="garbage-whole"),
        pytest.param("GET", "items=0-9", None, 200,
                     (("Content-Type", CONTENT_TYPE), *VALIDATORS), BODY, id="wrong-unit-whole"),
        pytest.param("POST", "bytes=0-9", None, 200,
                     (("Content-Type", CONTENT_TYPE), *VALIDATORS), BODY, id="post-ignores-range"),
        pytest.param("GET", "bytes=5000-", None, 416,
                     (("Content-Type", "text/plain; charset=utf-8"),
                      ("Content-Range", "bytes */1024"), *VALIDATORS), None, id="unsatisfiable"),
        pytest.param("GET", "bytes=-0", None, 416,
                     (("Content-Type", "text/plain; charset=utf-8"),
                      ("Content-Range", "bytes */1024"), *VALIDATORS), None, id="suffix-zero"),
    ],
)  # fmt: skip
def test_plan_range(
    method: str,
    range_header: str | None,
    if_range: str | None,
    status: int,
    headers: tuple[tuple[str, str], ...],
    body: bytes | None,
) -> None:
    outcome = plan_range(method, range_header, if_range, 1024)
    assert outcome.status == status
    assert outcome.headers == headers
    if body is not None:
        assert outcome.body == body
    else:
        assert b"416" in outcome.body


def test_plan_range_multipart() -> None:
    outcome = plan_range("GET", "bytes=500-599,0-9,-10", None, 1024)
    boundary = boundary_for(ETAG)
    assert outcome.status == 206
    assert outcome.headers == (
        ("Content-Type", f"multipart/byteranges; boundary={boundary}"),
        *VALIDATORS,
    )
    assert _parts(outcome.body, boundary) == [
        ({"Content-Type": CONTENT_TYPE, "Content-Range": "bytes 500-599/1024"}, BODY[500:600]),
        ({"Content-Type": CONTENT_TYPE, "Content-Range": "bytes 0-9/1024"}, BODY[:10]),
        ({"Content-Type": CONTENT_TYPE, "Content-Range": "bytes 1014-1023/1024"}, BODY[1014:]),
    ]


@pytest.mark.parametrize(
    ("range_header", "if_range"),
    [
        pytest.param(None, None, id="no-range"),
        pytest.param("bytes=0-9", None, id="single"),
        pytest.param("bytes=0-9,20-29", None, id="multipart"),
        pytest.param("bytes=5000-", None, id="unsatisfiable"),
        pytest.param("bytes=0-9", '"stale"', id="if-range-mismatch"),
    ],
)
def test_head_gets_what_get_gets(range_header: str | None, if_range: str | None) -> None:
    # The wire drops HEAD's body but needs its length for Content-Length.
    assert plan_range("HEAD", range_header, if_range, 1024) == plan_range(
        "GET", range_header, if_range, 1024
    )


def test_plan_range_content_type_and_sizes() -> None:
    outcome = plan_range("GET", "bytes=0-1,4-5", None, 10, content_type="application/octet-stream")
    assert outcome.headers[0] == (
        "Content-Type",
        f"multipart/byteranges; boundary={boundary_for(entity_tag(10))}",
    )
    assert [f["Content-Type"] for f, _ in _parts(outcome.body, boundary_for(entity_tag(10)))] == [
        "application/octet-stream"
    ] * 2
    assert plan_range("GET", None, None, 0).body == b""
    assert plan_range("GET", "bytes=-5", None, 0).status == 200  # the whole (empty) representation
    assert plan_range("GET", DEFAULT_206_RANGE, None, 0).status == 416
    with pytest.raises(ValueError, match=str(MAX_SIZE)):
        plan_range("GET", None, None, MAX_SIZE + 1)


@given(st.one_of(VALID_HEADERS, st.text()), st.integers(min_value=0, max_value=3000))
def test_plan_range_bodies_match_the_representation(header: str, size: int) -> None:
    outcome = plan_range("GET", header, None, size)
    whole = representation(size)
    decision = outcome.decision
    headers = dict(outcome.headers)
    if outcome.status == 200:
        assert outcome.body == whole
        assert "Content-Range" not in headers
    elif outcome.status == 416:
        assert headers["Content-Range"] == f"bytes */{size}"
    elif len(decision.ranges) == 1:
        first, last = decision.ranges[0]
        assert outcome.body == whole[first : last + 1]
        assert headers["Content-Range"] == f"bytes {first}-{last}/{size}"
    else:
        parts = _parts(outcome.body, boundary_for(entity_tag(size)))
        assert [content for _, content in parts] == [whole[a : b + 1] for a, b in decision.ranges]
        assert "Content-Range" not in headers
