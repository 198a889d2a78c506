"""queries.py by value: each parser's result and each error's parameter, status and message.

Plain calls (queries is pure), one table per parser; the messages are what a client reads in a
400, so they are pinned word for word.
"""

from __future__ import annotations

import math
import random

import pytest

from mockstatus import queries
from mockstatus.errors import RequestError
from mockstatus.types import DEFAULT_OPTIONS, After, Drip, Fault, Options, Query, RequestFacts

TOKEN_HINT = "a header name is a token (letters, digits, !#$%&'*+-.^_`|~)"
CODES_100 = "valid status codes are integers from 100 to 599"


def q(*items: tuple[str, str]) -> Query:
    return Query(tuple(items))


def facts(*items: tuple[str, str]) -> RequestFacts:
    return RequestFacts(method="GET", path="/status/200", query=q(*items))


def error(call, *args, **kwargs) -> tuple[str | None, int, str]:
    with pytest.raises(RequestError) as err:
        call(*args, **kwargs)
    return err.value.param, err.value.status, err.value.message


# --- headers, reasons, digits -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ok"),
    [("X-A", True), ("a!#$%&'*+-.^_`|~9", True), ("", False), ("A B", False), ("A:", False),
     ("Ä", False), ("A\t", False)],
)  # fmt: skip
def test_is_token(name, ok):
    assert queries.is_token(name) is ok


def test_check_header_strips_spaces_and_tabs_only():
    assert queries.check_header("X-A", " \t v \t ") == ("X-A", "v")
    assert queries.check_header("X-A", "\xa0v\xa0") == ("X-A", "\xa0v\xa0")
    assert queries.check_header("X-A", "a\tb") == ("X-A", "a\tb")  # HTAB is allowed inside


@pytest.mark.parametrize(
    ("name", "value", "param", "message"),
    [
        ("", "v", "header", f"invalid header name '': {TOKEN_HINT}"),
        ("A B", "v", "link", f"invalid link name 'A B': {TOKEN_HINT}"),
        ("X", "a\nb", "header", "invalid header value for X: CR, LF, NUL and other control "
         "characters are not allowed"),
        ("X", "a\x00b", "location", "invalid location value for X: CR, LF, NUL and other control "
         "characters are not allowed"),
        ("X", "a\x7f", "header", "invalid header value for X: CR, LF, NUL and other control "
         "characters are not allowed"),
    ],
)  # fmt: skip
def test_check_header_errors(name, value, param, message):
    assert error(queries.check_header, name, value, param=param) == (param, 400, message)


def test_check_header_default_param_is_header():
    assert error(queries.check_header, "", "v")[0] == "header"


def test_parse_header_param():
    assert queries.parse_header_param(" X-A :  1 ") == ("X-A", "1")
    assert queries.parse_header_param("X-A:b:c") == ("X-A", "b:c")
    assert queries.parse_header_param("X-Empty:") == ("X-Empty", "")
    assert error(queries.parse_header_param, "novalue") == (
        "header", 400, "invalid header 'novalue': use header=Name:Value",
    )  # fmt: skip
    assert error(queries.parse_header_param, "novalue", param="trailer") == (
        "trailer", 400, "invalid trailer 'novalue': use trailer=Name:Value",
    )  # fmt: skip
    assert error(queries.parse_header_param, "A B:1")[0:2] == ("header", 400)


@pytest.mark.parametrize("name", ["Content-Length", "transfer-encoding", "CONNECTION"])
def test_parse_header_param_refuses_framing_headers(name):
    assert error(queries.parse_header_param, f"{name}: 5", param="x") == (
        "x",
        400,
        f"invalid x {name}: Content-Length, Transfer-Encoding and Connection frame the "
        "message and are set by the server (for a body shorter than promised, use fault=truncate)",
    )


@pytest.mark.parametrize(
    ("text", "high", "value"),
    [("0", 10, 0), ("10", 10, 10), ("0010", 10, 10), ("000", 0, 0), ("9", 9, 9), ("99", 99, 99),
     ("0" * 50 + "7", 9, 7)],
)  # fmt: skip
def test_parse_digits_values(text, high, value):
    assert queries.parse_digits(text, "n", high, "exp") == value


@pytest.mark.parametrize("text", ["11", "100", "", "-1", "+1", "1.0", " 1", "١", "1e1"])
def test_parse_digits_refuses(text):
    assert error(queries.parse_digits, text, "n", 10, "0 to 10") == (
        "n",
        400,
        f"invalid n {text!r}: 0 to 10",
    )
    assert error(queries.parse_digits, text, "n", 10, "x", what="size")[2] == (
        f"invalid size {text!r}: x"
    )


def test_parse_digits_checks_the_length_before_int():
    # 5,000 digits: int() would raise ValueError (over 4,300); the length check answers first
    assert error(queries.parse_digits, "9" * 5000, "n", 10**6, "small")[2] == (
        "invalid n '99999999999999999999'… (5000 characters): small"
    )


def test_shown_cuts_at_40_characters():
    assert queries._shown("a" * 40) == repr("a" * 40)
    assert queries._shown("b" * 41) == "'bbbbbbbbbbbbbbbbbbbb'… (41 characters)"


@pytest.mark.parametrize("reason", ["OK", "Very Fine", "tab\there", "é obs-text", " "])
def test_check_reason_accepts(reason):
    assert queries.check_reason(reason) == reason


@pytest.mark.parametrize("reason", ["", "a\nb", "a\rb", "a\x00", "a\x7f"])
def test_check_reason_refuses(reason):
    assert error(queries.check_reason, reason) == (
        "reason",
        400,
        "invalid reason: 1 or more visible characters, spaces or tabs; no control characters",
    )


# --- codes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"), [("100", 100), ("599", 599), ("200", 200), ("0503", 503)]
)
def test_parse_code(text, code):
    assert queries.parse_code(text) == code


@pytest.mark.parametrize("text", ["99", "600", "", "abc", "+200", " 200", "٣٠٠", "2_00", "-1"])
def test_parse_code_refuses(text):
    assert error(queries.parse_code, text) == ("code", 400, f"invalid code {text!r}: {CODES_100}")


def test_parse_code_without_1xx():
    assert queries.parse_code("200", allow_1xx=False) == 200
    assert error(queries.parse_code, "199", param="final", allow_1xx=False) == (
        "final",
        400,
        "invalid final '199': valid status codes are integers from 200 to 599",
    )
    assert queries.parse_code("100", allow_1xx=True) == 100


def test_code_choice_pick():
    rng = random.Random(7)
    assert queries.CodeChoice((418,), None).pick(rng) == 418
    assert queries.CodeChoice((418,), (0.0,)).pick(rng) == 418  # one code: no draw at all
    uniform = queries.CodeChoice((200, 503, 504), None)
    picks = [uniform.pick(random.Random(s)) for s in range(60)]
    assert picks == [(200, 503, 504)[random.Random(s).randrange(3)] for s in range(60)]
    assert set(picks) == {200, 503, 504}
    weighted = queries.CodeChoice((200, 503), (0.0, 1.0))
    assert {weighted.pick(random.Random(s)) for s in range(30)} == {503}
    weighted = queries.CodeChoice((200, 503), (3.0, 1.0))
    got = [weighted.pick(random.Random(s)) for s in range(40)]
    assert got == [random.Random(s).choices((200, 503), weights=(3.0, 1.0))[0] for s in range(40)]


def test_single_choices_are_shared_and_cover_the_range():
    assert len(queries._SINGLE_CHOICES) == 500
    assert queries.parse_code_spec("503") is queries._SINGLE_CHOICES["503"]
    assert queries.parse_code_spec("503") == queries.CodeChoice((503,), None)
    assert queries.parse_code_spec("100").codes == (100,)
    assert queries.parse_code_spec("599").codes == (599,)


@pytest.mark.parametrize(
    ("spec", "found", "weights"),
    [
        ("0503", (503,), None),
        ("200,503", (200, 503), None),
        (" 200 , 503 ", (200, 503), None),
        ("200:0.9,503:0.1", (200, 503), (0.9, 0.1)),
        ("200:2,503", (200, 503), (2.0, 1.0)),
        ("200,503:0", (200, 503), (1.0, 0.0)),
        ("503:1", (503,), (1.0,)),
        ("200:0,503:1e-9", (200, 503), (0.0, 1e-9)),
    ],
)
def test_parse_code_spec(spec, found, weights):
    assert queries.parse_code_spec(spec) == queries.CodeChoice(found, weights)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("abc", f"invalid code 'abc': {CODES_100}"),
        ("600", f"invalid code '600': {CODES_100}"),
        ("200,,503", "invalid code list '200,,503': empty entry; use e.g. 200,503 or "
         "200:0.9,503:0.1"),
        (",200", "invalid code list ',200': empty entry; use e.g. 200,503 or 200:0.9,503:0.1"),
        (":0.5", "invalid code list ':0.5': empty entry; use e.g. 200,503 or 200:0.9,503:0.1"),
        ("200,abc", f"invalid code 'abc': {CODES_100}"),
        ("200:x", "invalid weight 'x' for '200': a finite number >= 0"),
        ("200:-1", "invalid weight '-1' for '200': a finite number >= 0"),
        ("200:nan", "invalid weight 'nan' for '200': a finite number >= 0"),
        ("200:inf", "invalid weight 'inf' for '200': a finite number >= 0"),
        ("200:-0.5,503", "invalid weight '-0.5' for '200': a finite number >= 0"),
        ("200:0", "invalid weights: at least one must be above 0"),
        ("200:0,503:0", "invalid weights: at least one must be above 0"),
        ("200:1e308,503:1e308", "invalid weights: their sum must be a finite number (weights are "
         "relative: use e.g. 200:0.9,503:0.1)"),
    ],
)  # fmt: skip
def test_parse_code_spec_refuses(spec, message):
    assert error(queries.parse_code_spec, spec) == ("code", 400, message)


def test_a_zero_weight_is_allowed_when_another_is_positive():
    assert queries.parse_code_spec("200:0,503:0.0001").weights == (0.0, 0.0001)


# --- options from the query ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("250", 0.25), ("1.5", 0.0015), ("300000", 300.0), ("1e3", 1.0)],
)
def test_parse_ms(value, seconds):
    assert queries._parse_ms(value, "sleep") == seconds


@pytest.mark.parametrize("value", ["-1", "-0.001", "300000.5", "nan", "inf", "-inf", "x", ""])
def test_parse_ms_refuses(value):
    assert error(queries._parse_ms, value, "sleep") == (
        "sleep",
        400,
        f"invalid sleep {value!r}: milliseconds, a number from 0 to 300000",
    )


def test_parse_ms_with_its_own_cap():
    assert queries._parse_ms("50", "interval", cap_ms=50) == 0.05
    assert error(queries._parse_ms, "51", "interval", cap_ms=50.9) == (
        "interval",
        400,
        "invalid interval '51': milliseconds, a number from 0 to 50",
    )


@pytest.mark.parametrize(
    "value", ["0", "30", "Wed, 21 Oct 2026 07:28:00 GMT", "Wednesday, 21-Oct-26 07:28:00 GMT"]
)
def test_check_retry_after_accepts(value):
    assert queries.check_retry_after(value) == value


@pytest.mark.parametrize(
    "value", ["soon", "-5", "1.5", "", "٣", "Wed, 21 Oct 2026 07:28:00 GMT\x00", "30s"]
)
def test_check_retry_after_refuses(value):
    assert error(queries.check_retry_after, value) == (
        "retry_after",
        400,
        f"invalid retry_after {value!r}: delay-seconds (e.g. 30) or an HTTP-date "
        "(e.g. Wed, 21 Oct 2026 07:28:00 GMT)",
    )


@pytest.mark.parametrize(
    ("value", "fmt"),
    [("txt", "text"), ("plain", "text"), ("text", "text"), ("TEXT", "text"), ("json", "json"),
     ("Json", "json"), ("html", "html"), ("HTML", "html")],
)  # fmt: skip
def test_parse_format(value, fmt):
    assert queries.parse_format(value) == fmt


@pytest.mark.parametrize("value", ["yaml", "", "xml", "jsonx"])
def test_parse_format_refuses(value):
    assert error(queries.parse_format, value) == (
        "format",
        400,
        f"invalid format {value!r}: one of text, json, html",
    )


def test_parse_options_of_an_empty_query_is_the_shared_default():
    assert queries.parse_options(q()) is DEFAULT_OPTIONS
    assert queries.parse_options(q(("cache_buster", "1"))) is DEFAULT_OPTIONS


def test_parse_options_every_parameter():
    opts = queries.parse_options(
        q(
            ("format", "json"),
            ("reason", "Fine"),
            ("location", " /there "),
            ("retry_after", "30"),
            ("sleep", "250"),
            ("scheme", "DIGEST"),
            ("seed", "-42"),
            ("final", "204"),
            ("interim", "100,103"),
            ("size", "0012"),
            ("interval", "20"),
            ("link", "</a.css>; rel=preload"),
            ("link", "</b.js>; rel=preload"),
            ("header", "X-A: 1"),
            ("header", "X-B:2"),
        )
    )
    assert opts == Options(
        fmt="json",
        reason="Fine",
        location="/there",
        retry_after="30",
        sleep=0.25,
        scheme="Digest",
        seed=-42,
        final=204,
        interim=(100, 103),
        size=12,
        interval=0.02,
        links=("</a.css>; rel=preload", "</b.js>; rel=preload"),
        headers=(("X-A", "1"), ("X-B", "2")),
    )


@pytest.mark.parametrize(
    ("name", "value", "field", "parsed"),
    [
        ("format", "plain", "fmt", "text"),
        ("reason", "Why", "reason", "Why"),
        ("location", "/x", "location", "/x"),
        ("retry_after", "5", "retry_after", "5"),
        ("sleep", "1", "sleep", 0.001),
        ("scheme", "basic", "scheme", "Basic"),
        ("scheme", "Bearer", "scheme", "Bearer"),
        ("seed", "7", "seed", 7),
        ("final", "299", "final", 299),
        ("interim", "102", "interim", (102,)),
        ("size", "5", "size", 5),
        ("interval", "10", "interval", 0.01),
        ("link", "<x>", "links", ("<x>",)),
        ("header", "X-Y: z", "headers", (("X-Y", "z"),)),
    ],
)
def test_parse_options_one_parameter(name, value, field, parsed):
    assert queries.parse_options(q((name, value))) == Options(**{field: parsed})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("location", "", "invalid location: must not be empty"),
        ("location", "/a\nb", "invalid location value for Location: CR, LF, NUL and other "
         "control characters are not allowed"),
        ("scheme", "Negotiate", "invalid scheme 'Negotiate': one of Basic, Bearer, Digest"),
        ("final", "103", "invalid final '103': valid status codes are integers from 200 to 599"),
        ("interim", "104", "invalid interim '104': a comma-separated list of 100, 102, 103"),
        ("interval", "9", "invalid interval: at least 10 ms"),
        ("interval", "x", "invalid interval 'x': milliseconds, a number from 0 to 300000"),
        ("link", "a\rb", "invalid link value for Link: CR, LF, NUL and other control characters "
         "are not allowed"),
        ("header", "nocolon", "invalid header 'nocolon': use header=Name:Value"),
        ("sleep", "-1", "invalid sleep '-1': milliseconds, a number from 0 to 300000"),
    ],
)  # fmt: skip
def test_parse_options_refuses(name, value, message):
    assert error(queries.parse_options, q((name, value))) == (name, 400, message)


def test_parse_options_keeps_interims_and_interval_in_the_plan_request():
    f = facts(("interim", "103"), ("link", "<a>"), ("interval", "15"))
    opts = queries.options_of(f)
    req = f.plan_request
    assert req is not None and req.options is opts
    assert req.interims == ((103,), ("<a>",))
    assert req.interval == (0.015,)
    f = facts(("format", "json"))
    queries.options_of(f)
    assert f.plan_request is not None and f.plan_request.interims == (None, ())
    assert f.plan_request.interval is None


# --- the per-request plan request ---------------------------------------------------------------


def test_plan_request_is_made_once_per_query():
    f = facts(("format", "json"))
    req = queries.plan_request(f)
    assert req.query is f.query and f.plan_request is req
    assert queries.plan_request(f) is req
    f.query = q(("format", "html"))  # a replaced query gets a new PlanRequest
    again = queries.plan_request(f)
    assert again is not req and again.query is f.query


def test_options_of():
    empty = facts()
    assert queries.options_of(empty) is DEFAULT_OPTIONS
    assert empty.plan_request is None  # the hot path makes nothing
    f = facts(("format", "json"), ("sleep", "2"))
    opts = queries.options_of(f)
    assert opts == Options(fmt="json", sleep=0.002)
    assert queries.options_of(f) is opts
    assert queries.options_of(facts(("x", "1"))) is DEFAULT_OPTIONS


def test_interims_of():
    empty = facts()
    assert queries.interims_of(empty) == (None, ())
    assert empty.plan_request is None
    assert queries.interims_of(facts(("link", "<a>"))) == (None, ())  # link needs interim
    f = facts(("interim", "100,103"), ("link", " <a> "), ("link", "<b>"))
    got = queries.interims_of(f)
    assert got == ((100, 103), ("<a>", "<b>"))
    assert queries.interims_of(f) is got
    assert error(queries.interims_of, facts(("interim", "103"), ("link", "a\nb")))[0] == "link"
    assert error(queries.interims_of, facts(("interim", "101")))[0] == "interim"


def test_interval_of():
    empty = facts()
    assert queries.interval_of(empty) is None and empty.plan_request is None
    f = facts(("interval", "250"))
    assert queries.interval_of(f) == 0.25
    assert f.plan_request is not None and f.plan_request.interval == (0.25,)
    none = facts(("other", "1"))
    assert queries.interval_of(none) is None
    assert none.plan_request is not None and none.plan_request.interval == (None,)
    assert error(queries.interval_of, facts(("interval", "5")))[0] == "interval"


def test_interim_mode_of():
    empty = facts()
    assert queries.interim_mode_of(empty, "force") == "force" and empty.plan_request is None
    f = facts(("interim_mode", "off"))
    assert queries.interim_mode_of(f, "auto") == "off"
    assert f.plan_request is not None and f.plan_request.mode == "off"
    other = facts(("x", "1"))
    assert queries.interim_mode_of(other, "force") == "force"
    assert other.plan_request is not None and other.plan_request.mode == ""
    assert error(queries.interim_mode_of, facts(("interim_mode", "on")), "auto") == (
        "interim_mode",
        400,
        "invalid interim_mode 'on': one of auto, off, force",
    )


def test_interim_mode():
    assert queries.INTERIM_MODES == ("auto", "off", "force")
    assert queries.interim_mode(q(), "auto") == "auto"
    assert queries.interim_mode(q(("x", "1")), "off") == "off"
    for mode in ("auto", "off", "force"):
        assert queries.interim_mode(q(("interim_mode", mode)), "x") == mode
    assert error(queries.interim_mode, q(("interim_mode", "AUTO")), "auto")[2] == (
        "invalid interim_mode 'AUTO': one of auto, off, force"
    )


def test_parse_interval():
    assert queries._parse_interval("10") == 0.01
    assert queries._parse_interval("1000") == 1.0
    assert error(queries._parse_interval, "9.99") == (
        "interval",
        400,
        "invalid interval: at least 10 ms",
    )


@pytest.mark.parametrize(
    ("value", "found"),
    [("100", (100,)), ("102", (102,)), ("103", (103,)), (" 100 , 103 ", (100, 103)),
     ("103,103", (103, 103))],
)  # fmt: skip
def test_parse_interim_list(value, found):
    assert queries.parse_interim_list(value) == found


@pytest.mark.parametrize(("value", "item"), [("101", "101"), ("100,", ""), ("100, 200", "200")])
def test_parse_interim_list_refuses(value, item):
    assert error(queries.parse_interim_list, value) == (
        "interim",
        400,
        f"invalid interim {item!r}: a comma-separated list of 100, 102, 103",
    )


def test_parse_size():
    assert queries.parse_size("0") == 0
    assert queries.parse_size("10485760") == 10 * 1024 * 1024
    for bad in ("10485761", "-1", "1k"):
        assert error(queries.parse_size, bad) == (
            "size",
            400,
            f"invalid size {bad!r}: bytes, an integer from 0 to 10485760 (the cap)",
        )


@pytest.mark.parametrize(
    ("value", "seed"),
    [("0", 0), ("42", 42), ("+42", 42), ("-42", -42), (" 7 ", 7), ("9" * 100, int("9" * 100)),
     ("-" + "1" * 100, -int("1" * 100))],
)  # fmt: skip
def test_parse_seed(value, seed):
    assert queries.parse_seed(value) == seed


@pytest.mark.parametrize("value", ["x", "", "+", "-", "1.5", "--1", "+-1", "٣", "9" * 101])
def test_parse_seed_refuses(value):
    assert error(queries.parse_seed, value) == (
        "seed",
        400,
        f"invalid seed {queries._shown(value)}: an integer of at most 100 digits",
    )


# --- faults -------------------------------------------------------------------------------------

DRIP_HINT = "CHUNK/EVERY, e.g. 10/100ms (chunk >= 1 byte, every from 1ms to 60s)"


def test_no_fault_and_no_drip():
    assert queries.parse_fault_options(q()) == (None, None)
    assert queries.parse_fault_options(q(("sleep", "5"))) == (None, None)


@pytest.mark.parametrize(
    ("value", "drip"),
    [("10/100ms", Drip(10, 0.1)), ("1", Drip(1, 0.1)), ("1/", Drip(1, 0.1)),
     ("5/1ms", Drip(5, 0.001)), ("5/60s", Drip(5, 60.0)), ("007/2s", Drip(7, 2.0))],
)  # fmt: skip
def test_drip(value, drip):
    assert queries.parse_fault_options(q(("drip", value))) == (None, drip)


@pytest.mark.parametrize(
    "value", ["0/1s", "x/1s", "/1s", "-1/1s", "10/0.5ms", "10/61s", "10/soon", "١/1s", ""]
)
def test_drip_refuses(value):
    assert error(queries.parse_fault_options, q(("drip", value))) == (
        "drip",
        400,
        f"invalid drip {value!r}: {DRIP_HINT}",
    )


def test_drip_with_a_fault_is_carried_by_the_fault():
    fault, drip = queries.parse_fault_options(q(("drip", "3/10ms"), ("fault", "reset")))
    assert drip == Drip(3, 0.01)
    assert fault == Fault(kind="reset", delay=0.0, drip=Drip(3, 0.01))


@pytest.mark.parametrize("kind", ["reset", "close", "truncate", "garbage", "hang", "drip"])
def test_plain_fault_kinds(kind):
    assert queries.parse_fault_options(q(("fault", kind))) == (Fault(kind=kind), None)


def test_unknown_fault():
    assert error(queries.parse_fault_options, q(("fault", "explode"))) == (
        "fault",
        400,
        "invalid fault 'explode': one of bandwidth, close, corrupt-encoding, drip, garbage, goaway, "
        "hang, malformed-chunk, reset, rst_stream, slow-close, slow-headers, stall, truncate, "
        "truncate-encoding, wrong-encoding",
    )


@pytest.mark.parametrize(
    ("items", "delay"),
    [
        ((), 2.0),
        ((("delay", "500ms"),), 0.5),
        ((("delay", "60s"),), 60.0),
        ((("sleep", "250"),), 0.25),
        ((("sleep", "60000"),), 60.0),
        ((("delay", "1s"), ("sleep", "250")), 1.0),  # delay wins over sleep
    ],
)
def test_slow_headers_delay(items, delay):
    fault, _ = queries.parse_fault_options(q(("fault", "slow-headers"), *items))
    assert fault == Fault(kind="slow-headers", delay=delay)


@pytest.mark.parametrize(
    ("param", "text", "hint"),
    [
        ("delay", "0", "a duration like 500ms or 2s"),
        ("delay", "61s", "a duration like 500ms or 2s"),
        ("delay", "soon", "a duration like 500ms or 2s"),
        ("sleep", "0", "milliseconds"),
        ("sleep", "-5", "milliseconds"),
        ("sleep", "60001", "milliseconds"),
        ("sleep", "nan", "milliseconds"),
        ("sleep", "x", "milliseconds"),
    ],
)
def test_slow_headers_refuses(param, text, hint):
    assert error(queries.parse_fault_options, q(("fault", "slow-headers"), (param, text))) == (
        param,
        400,
        f"invalid {param} {text!r} for slow-headers: {hint}, more than 0 and at most 60 s",
    )


def test_other_faults_ignore_delay():
    fault, _ = queries.parse_fault_options(q(("fault", "reset"), ("delay", "soon")))
    assert fault == Fault(kind="reset", delay=0.0)


def test_fault_extras_are_passed_on():
    fault, _ = queries.parse_fault_options(q(("fault", "slow-close"), ("hold", "3s")))
    assert fault is not None and (fault.kind, fault.hold) == ("slow-close", 3.0)
    assert not math.isnan(fault.delay) and fault.delay == 0.0


# --- survivors of the first mutation run, each pinned -------------------------------------------


def test_check_header_strips_only_spaces_and_tabs_not_letters():
    assert queries.check_header("X-A", "X1X") == ("X-A", "X1X")


def test_interims_of_names_the_link_field_in_its_message():
    assert error(queries.interims_of, facts(("interim", "103"), ("link", "a\nb"))) == (
        "link",
        400,
        "invalid link value for Link: CR, LF, NUL and other control characters are not allowed",
    )


def test_parse_header_param_passes_its_param_on():
    assert error(queries.parse_header_param, "A B:1", param="trailer") == (
        "trailer",
        400,
        f"invalid trailer name 'A B': {TOKEN_HINT}",
    )


@pytest.mark.parametrize("value", ["X5", "x5", "X"])
def test_parse_seed_sign_is_plus_or_minus_only(value):
    assert error(queries.parse_seed, value)[0:2] == ("seed", 400)


def test_weighted_picks_draw_once_each():
    """One draw per pick: the sequence from one generator is the reference sequence."""
    choice = queries.CodeChoice((200, 503, 504), (1.0, 2.0, 3.0))
    rng, ref = random.Random(11), random.Random(11)
    assert [choice.pick(rng) for _ in range(30)] == [
        ref.choices((200, 503, 504), weights=(1.0, 2.0, 3.0), k=1)[0] for _ in range(30)
    ]


# --- endpoint groups (parsed once per request) --------------------------------------------------

H2_HINT = (
    "one of NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, "
    "STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, "
    "ENHANCE_YOUR_CALM, INADEQUATE_SECURITY, HTTP_1_1_REQUIRED (RFC 9113 §7)"
)


def test_endpoint_groups_without_a_query():
    empty = facts()
    assert queries.fault_of(empty) == (None, None)
    assert queries.compress_of(empty) is None
    assert queries.echo_of(empty) == (200, ())
    assert queries.redirect_of(empty) == (302, False, "")
    assert queries.continue_of(empty) is None
    assert queries.response_headers_of(empty) == ()
    assert empty.plan_request is None


def test_endpoint_groups_are_parsed_once():
    f = facts(("fault", "reset"), ("compress", "gzip"), ("continue", "never"))
    fault = queries.fault_of(f)
    assert fault == (Fault(kind="reset"), None)
    assert queries.fault_of(f) is fault
    assert queries.compress_of(f) == "gzip"
    assert queries.continue_of(f) == "never"
    assert f.plan_request is not None
    assert f.plan_request.endpoint == {"fault": fault, "compress": "gzip", "continue": "never"}
    f.plan_request.endpoint["compress"] = "kept"
    assert queries.compress_of(f) == "kept"


@pytest.mark.parametrize("value", ["off", "auto", "gzip", "deflate"])
def test_compress(value):
    assert queries.compress_of(facts(("compress", value))) == value
    assert queries.compress_of(facts(("x", "1"))) is None


def test_compress_refuses():
    assert error(queries.compress_of, facts(("compress", "zip"))) == (
        "compress",
        400,
        "invalid compress 'zip': one of off, auto, gzip, deflate, br",
    )
    long = "z" * 50
    assert error(queries.compress_of, facts(("compress", long)))[2] == (
        f"invalid compress {'z' * 40!r}: one of off, auto, gzip, deflate, br"
    )


def test_compress_br_needs_brotli(monkeypatch):
    from mockstatus import encoding

    monkeypatch.setattr(encoding, "brotli_available", lambda: False)
    assert error(queries._parse_compress, q(("compress", "br"))) == (
        "compress",
        400,
        "compress=br needs the brotli package (pip install mockstatus[brotli])",
    )
    monkeypatch.setattr(encoding, "brotli_available", lambda: True)
    assert queries._parse_compress(q(("compress", "br"))) == "br"


def test_echo():
    assert queries.echo_of(facts(("status", "418"), ("header", "X-A: 1"), ("header", "X-B:2"))) == (
        418,
        (("X-A", "1"), ("X-B", "2")),
    )
    assert queries.echo_of(facts(("x", "1"))) == (200, ())
    assert error(queries.echo_of, facts(("status", "103"))) == (
        "status",
        400,
        "invalid status '103': valid status codes are integers from 200 to 599",
    )
    assert error(queries.echo_of, facts(("header", "Connection: x")))[0] == "header"


@pytest.mark.parametrize(
    ("items", "want"),
    [
        ((("x", "1"),), (302, False, "")),
        ((("status", "301"),), (301, True, "")),
        ((("status", "308"), ("absolute", "true")), (308, True, "true")),
        ((("absolute", "1"),), (302, False, "1")),
        ((("status", "0307"),), (307, True, "")),
    ],
)
def test_redirect(items, want):
    assert queries.redirect_of(facts(*items)) == want


@pytest.mark.parametrize("value", ["300", "304", "200"])
def test_redirect_refuses_other_codes(value):
    assert error(queries.redirect_of, facts(("status", value))) == (
        "status",
        400,
        "invalid status: one of 301, 302, 303, 307, 308",
    )


def test_redirect_status_must_be_a_code():
    assert error(queries.redirect_of, facts(("status", "x"))) == (
        "status",
        400,
        f"invalid status 'x': {CODES_100}",
    )


def test_response_headers():
    got = queries.response_headers_of(facts(("X-A", " 1 "), ("Cache-Control", "no-cache")))
    assert got == (("X-A", "1"), ("Cache-Control", "no-cache"))
    assert error(queries.response_headers_of, facts(("Content-Length", "5"))) == (
        "Content-Length",
        400,
        "invalid Content-Length Content-Length: Content-Length, Transfer-Encoding and Connection "
        "frame the message and are set by the server (for a body shorter than promised, use "
        "fault=truncate)",
    )


@pytest.mark.parametrize(
    ("items", "fault"),
    [
        ((("fault", "rst_stream"),), Fault(kind="rst_stream", error=2)),
        ((("fault", "goaway"),), Fault(kind="goaway", error=0)),
        ((("fault", "rst_stream"), ("error", " cancel ")), Fault(kind="rst_stream", error=8)),
        ((("fault", "goaway"), ("error", "ENHANCE_YOUR_CALM")), Fault(kind="goaway", error=11)),
        (
            (("fault", "rst_stream"), ("after", "headers")),
            Fault(kind="rst_stream", error=2, after=After("bytes", 0)),
        ),
        (
            (("fault", "rst_stream"), ("after", "10")),
            Fault(kind="rst_stream", error=2, after=After("bytes", 10)),
        ),
        ((("fault", "goaway"), ("graceful", "1")), Fault(kind="goaway", error=0, graceful=True)),
        ((("fault", "goaway"), ("graceful", "true")), Fault(kind="goaway", graceful=True)),
        ((("fault", "goaway"), ("graceful", "yes")), Fault(kind="goaway", graceful=True)),
        ((("fault", "goaway"), ("graceful", "no")), Fault(kind="goaway", graceful=False)),
        ((("fault", "rst_stream"), ("graceful", "1")), Fault(kind="rst_stream", error=2)),
    ],
)
def test_h2_faults(items, fault):
    assert queries.parse_fault_options(q(*items)) == (fault, None)


def test_h2_fault_carries_the_drip():
    got = queries.parse_fault_options(q(("fault", "goaway"), ("drip", "2/10ms")))
    assert got == (Fault(kind="goaway"), Drip(2, 0.01))


def test_h2_fault_errors():
    assert error(queries.parse_fault_options, q(("fault", "rst_stream"), ("error", "NOPE"))) == (
        "error",
        400,
        f"invalid error 'NOPE': {H2_HINT}",
    )
    assert error(queries.parse_fault_options, q(("fault", "goaway"), ("after", "headers")))[0] == (
        "after"
    )


def test_each_endpoint_group_has_its_own_key():
    f = facts(("status", "301"), ("X-A", "1"))
    echo = queries.echo_of(f)
    redirect = queries.redirect_of(f)
    headers = queries.response_headers_of(f)
    assert f.plan_request is not None
    assert f.plan_request.endpoint == {
        "echo": echo,
        "redirect": redirect,
        "response-headers": headers,
    }
    assert (echo, redirect) == ((301, ()), (301, True, ""))


def test_interim_list_is_capped_at_max_interims() -> None:
    from mockstatus.limits import MAX_INTERIMS

    at_cap = ",".join(["103"] * MAX_INTERIMS)
    assert queries.parse_interim_list(at_cap) == (103,) * MAX_INTERIMS
    over = ",".join(["103"] * (MAX_INTERIMS + 1))
    assert error(queries.parse_interim_list, over) == (
        "interim",
        400,
        f"invalid interim: {MAX_INTERIMS + 1} interim responses, at most {MAX_INTERIMS}",
    )


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("/x y", "/x%20y"),
        ("/a?b=1&c=d e#f", "/a?b=1&c=d%20e#f"),
        (
            "https://u:p@h.example:8/p;q=1,2/!$'()*+~[]",
            "https://u:p@h.example:8/p;q=1,2/!$'()*+~[]",
        ),
        ("/caf\u00e9", "/caf%C3%A9"),
        ("/already%20escaped", "/already%20escaped"),
        ('/q"<>\\^`{|}', "/q%22%3C%3E%5C%5E%60%7B%7C%7D"),
    ],
)
def test_location_uri_escapes_only_what_a_uri_reference_cannot_hold(url: str, sent: str) -> None:
    assert queries.location_uri(url) == sent
