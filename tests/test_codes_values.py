"""codes.py by value: every registry row literally, the unassigned-code rows, aliases and the
bodiless rule (RFC 9110 §6.4.1), and the reason phrases on the wire.

`codes.CODES` is built once at import, so a mutant of `_build` never shows in it: the tests call
`codes._build()` themselves and compare every field with the literal table below (the IANA
registry as updated by RFC 9110, plus 418).
"""

from __future__ import annotations

import pytest

from mockstatus import codes
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

# code: (reason, reference) — stated literally, not read back from the module under test
REGISTERED = {
    100: ("Continue", "RFC 9110 §15.2.1"),
    101: ("Switching Protocols", "RFC 9110 §15.2.2"),
    102: ("Processing", "RFC 2518 §10.1"),
    103: ("Early Hints", "RFC 8297 §2"),
    200: ("OK", "RFC 9110 §15.3.1"),
    201: ("Created", "RFC 9110 §15.3.2"),
    202: ("Accepted", "RFC 9110 §15.3.3"),
    203: ("Non-Authoritative Information", "RFC 9110 §15.3.4"),
    204: ("No Content", "RFC 9110 §15.3.5"),
    205: ("Reset Content", "RFC 9110 §15.3.6"),
    206: ("Partial Content", "RFC 9110 §15.3.7"),
    207: ("Multi-Status", "RFC 4918 §11.1"),
    208: ("Already Reported", "RFC 5842 §7.1"),
    226: ("IM Used", "RFC 3229 §10.4.1"),
    300: ("Multiple Choices", "RFC 9110 §15.4.1"),
    301: ("Moved Permanently", "RFC 9110 §15.4.2"),
    302: ("Found", "RFC 9110 §15.4.3"),
    303: ("See Other", "RFC 9110 §15.4.4"),
    304: ("Not Modified", "RFC 9110 §15.4.5"),
    305: ("Use Proxy", "RFC 9110 §15.4.6"),
    306: ("(Unused)", "RFC 9110 §15.4.7"),
    307: ("Temporary Redirect", "RFC 9110 §15.4.8"),
    308: ("Permanent Redirect", "RFC 9110 §15.4.9"),
    400: ("Bad Request", "RFC 9110 §15.5.1"),
    401: ("Unauthorized", "RFC 9110 §15.5.2"),
    402: ("Payment Required", "RFC 9110 §15.5.3"),
    403: ("Forbidden", "RFC 9110 §15.5.4"),
    404: ("Not Found", "RFC 9110 §15.5.5"),
    405: ("Method Not Allowed", "RFC 9110 §15.5.6"),
    406: ("Not Acceptable", "RFC 9110 §15.5.7"),
    407: ("Proxy Authentication Required", "RFC 9110 §15.5.8"),
    408: ("Request Timeout", "RFC 9110 §15.5.9"),
    409: ("Conflict", "RFC 9110 §15.5.10"),
    410: ("Gone", "RFC 9110 §15.5.11"),
    411: ("Length Required", "RFC 9110 §15.5.12"),
    412: ("Precondition Failed", "RFC 9110 §15.5.13"),
    413: ("Content Too Large", "RFC 9110 §15.5.14"),
    414: ("URI Too Long", "RFC 9110 §15.5.15"),
    415: ("Unsupported Media Type", "RFC 9110 §15.5.16"),
    416: ("Range Not Satisfiable", "RFC 9110 §15.5.17"),
    417: ("Expectation Failed", "RFC 9110 §15.5.18"),
    418: ("I'm a teapot", "RFC 2324 §2.3.2"),
    421: ("Misdirected Request", "RFC 9110 §15.5.20"),
    422: ("Unprocessable Content", "RFC 9110 §15.5.21"),
    423: ("Locked", "RFC 4918 §11.3"),
    424: ("Failed Dependency", "RFC 4918 §11.4"),
    425: ("Too Early", "RFC 8470 §5.2"),
    426: ("Upgrade Required", "RFC 9110 §15.5.22"),
    428: ("Precondition Required", "RFC 6585 §3"),
    429: ("Too Many Requests", "RFC 6585 §4"),
    431: ("Request Header Fields Too Large", "RFC 6585 §5"),
    451: ("Unavailable For Legal Reasons", "RFC 7725 §3"),
    500: ("Internal Server Error", "RFC 9110 §15.6.1"),
    501: ("Not Implemented", "RFC 9110 §15.6.2"),
    502: ("Bad Gateway", "RFC 9110 §15.6.3"),
    503: ("Service Unavailable", "RFC 9110 §15.6.4"),
    504: ("Gateway Timeout", "RFC 9110 §15.6.5"),
    505: ("HTTP Version Not Supported", "RFC 9110 §15.6.6"),
    506: ("Variant Also Negotiates", "RFC 2295 §8.1"),
    507: ("Insufficient Storage", "RFC 4918 §11.5"),
    508: ("Loop Detected", "RFC 5842 §7.2"),
    510: ("Not Extended", "RFC 2774 §7"),
    511: ("Network Authentication Required", "RFC 6585 §6"),
}
CLASS = {
    1: "Informational",
    2: "Successful",
    3: "Redirection",
    4: "Client Error",
    5: "Server Error",
}
ALIASES = {
    "Payload Too Large": 413,
    "Request Entity Too Large": 413,
    "Unprocessable Entity": 422,
    "Requested Range Not Satisfiable": 416,
    "Request-URI Too Long": 414,
    "Request URI Too Long": 414,
    "Moved Temporarily": 302,
    "Switch Proxy": 306,
    "Unused": 306,
    "I Am A Teapot": 418,
    "Im A Teapot": 418,
}


def test_constants():
    assert (codes.MIN_CODE, codes.MAX_CODE, codes.VALID_RANGE) == (100, 599, "100-599")
    assert codes.CLASS_NAMES == CLASS


def test_build_makes_one_row_per_code_from_100_to_599_in_order():
    table = codes._build()
    assert list(table) == list(range(100, 600))
    assert [info.code for info in table.values()] == list(range(100, 600))
    assert table == codes.CODES


@pytest.mark.parametrize("code", sorted(REGISTERED), ids=str)
def test_registered_row(code):
    info = codes._build()[code]
    reason, rfc = REGISTERED[code]
    digit = code // 100
    assert (info.code, info.reason, info.rfc, info.registered) == (code, reason, rfc, True)
    assert (info.status_class, info.class_name) == (f"{digit}xx", CLASS[digit])
    assert info.description == codes._REGISTERED[code][1]
    assert info.description.endswith(".") and len(info.description) > 20
    assert codes.lookup(code) == info


def test_registered_set_is_exactly_the_table():
    assert sorted(codes._REGISTERED) == sorted(REGISTERED)
    assert [c for c, info in codes._build().items() if info.registered] == sorted(REGISTERED)


# the first and last of each class and one inside, none of them registered
@pytest.mark.parametrize("code", [199, 104, 150, 209, 299, 309, 399, 419, 499, 509, 512, 599])
def test_unassigned_row_answers_with_its_class(code):
    info = codes._build()[code]
    digit = code // 100
    assert info == codes.StatusInfo(
        code,
        CLASS[digit],
        f"{digit}xx",
        CLASS[digit],
        f"An unassigned {digit}xx code: clients treat it as x00 of its class ({digit}00).",
        "",
        False,
    )


def test_lookup_outside_the_range_is_a_key_error():
    for code in (99, 600, 0, -1):
        with pytest.raises(KeyError):
            codes.lookup(code)
    assert codes.lookup(100).reason == "Continue" and codes.lookup(599).reason == "Server Error"


def test_aliases_are_a_copy_of_the_table():
    got = codes.aliases()
    assert got == ALIASES
    got["Payload Too Large"] = 999
    assert codes.aliases()["Payload Too Large"] == 413


@pytest.mark.parametrize(
    ("status", "bodiless"),
    [
        (100, True), (101, True), (103, True), (199, True),
        (200, False), (201, False), (203, False), (204, True), (205, False),
        (303, False), (304, True), (305, False), (404, False), (503, False),
    ],
)  # fmt: skip
def test_is_bodiless(status, bodiless):
    assert codes.is_bodiless(status) is bodiless


def test_reason_phrases_on_the_wire(server):
    """The status line carries the registry's reason (and a class name for unassigned codes)."""
    wanted = {**{c: r for c, (r, _) in REGISTERED.items()}, 299: "Successful", 599: "Server Error"}
    got = {}
    for code in wanted:
        if code < 200:  # interim-only codes answer differently on /status (tested elsewhere)
            continue
        _, r = rawhttp.request(server.port, "GET", f"/status/{code}")
        got[code] = (r.version, r.status, r.reason)
    assert got == {c: ("HTTP/1.1", c, r) for c, r in wanted.items() if c >= 200}
