"""Queries that used to be 500s or to break the framing get a 400 naming the parameter (issue 10
item 9): overflowing weights, numbers past Python's 4,300-digit int limit, framing headers in
`?header=`, and drips that would keep a core busy.
"""

from __future__ import annotations

import json
import math

import pytest

from mockstatus import queries
from mockstatus.errors import RequestError
from mockstatus.limits import MIN_DRIP_EVERY
from mockstatus.types import Drip, Query
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

DIGITS_4301 = "1" * 4301


def refused(call, *args) -> RequestError:
    with pytest.raises(RequestError) as info:
        call(*args)
    assert info.value.status == 400
    return info.value


# --- pure ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["200:1e308,503:1e308", "200:1e308,503:1e308,404:1"])
def test_overflowing_weights_are_refused(spec):
    err = refused(queries.parse_code_spec, spec)
    assert err.param == "code"
    assert err.message == (
        "invalid weights: their sum must be a finite number (weights are relative: "
        "use e.g. 200:0.9,503:0.1)"
    )


def test_large_but_finite_weights_still_work():
    choice = queries.parse_code_spec("200:1e307,503:1e307")
    assert choice.weights == (1e307, 1e307) and math.isfinite(sum(choice.weights))


def test_size_with_4301_digits_is_refused():
    err = refused(queries.parse_size, DIGITS_4301)
    assert err.param == "size"
    assert err.message == (
        "invalid size '11111111111111111111'… (4301 characters): bytes, an integer from 0 to "
        "10485760 (the cap)"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("000", 0), ("0" * 5000 + "1024", 1024), ("10485760", 10485760)],
)
def test_size_leading_zeros_are_still_numbers(text, value):
    assert queries.parse_size(text) == value


@pytest.mark.parametrize("text", ["10485761", "-1", "1e3", "١٢", "", " 5"])
def test_size_out_of_range_or_not_digits(text):
    assert refused(queries.parse_size, text).param == "size"


def test_seed_with_5000_digits_is_refused():
    err = refused(queries.parse_seed, "9" * 5000)
    assert err.param == "seed" and "at most 100 digits" in err.message
    assert queries.parse_seed("-42") == -42 and queries.parse_seed("9" * 100) == int("9" * 100)


@pytest.mark.parametrize(
    "item",
    [
        "Content-Length:5",
        "content-length: 0",
        "Transfer-Encoding:chunked",
        "TRANSFER-ENCODING:gzip, chunked",
        "Connection:close",
        "Connection:keep-alive",
    ],
)
def test_framing_headers_are_refused(item):
    err = refused(queries.parse_options, Query((("header", item),)))
    assert err.param == "header"
    assert err.message.startswith(f"invalid header {item.partition(':')[0]}: Content-Length,")


def test_other_headers_are_still_accepted():
    opts = queries.parse_options(Query((("header", "X-Length:5"), ("header", "Keep-Alive:x"))))
    assert opts.headers == (("X-Length", "5"), ("Keep-Alive", "x"))


@pytest.mark.parametrize(
    "drip",
    ["1/0", "1/0ms", "1/0s", "1/0.5ms", "1/0.0001", "1/0.9ms", "0/10ms", f"{DIGITS_4301}/1s"],
)
def test_drips_that_would_busy_a_core_are_refused(drip):
    err = refused(queries.parse_fault_options, Query((("drip", drip),)))
    assert err.param == "drip"
    assert "every from 1ms to 60s" in err.message


@pytest.mark.parametrize(("drip", "every"), [("1/1ms", 0.001), ("5/0.001", 0.001), ("10", 0.1)])
def test_drips_from_the_minimum_are_accepted(drip, every):
    _, parsed = queries.parse_fault_options(Query((("drip", drip),)))
    assert parsed is not None and parsed.every == every and parsed.every >= MIN_DRIP_EVERY
    assert parsed == Drip(chunk=int(drip.split("/")[0]), every=every)


# --- on the wire: 400 with the parameter named, and the connection still usable ---------------


@pytest.mark.parametrize(
    ("target", "param"),
    [
        pytest.param("/status/200:1e308,503:1e308", "code", id="weights-overflow"),
        pytest.param(f"/status/200?size={DIGITS_4301}", "size", id="size-200"),
        pytest.param(f"/status/206?size={DIGITS_4301}", "size", id="size-206"),
        pytest.param(f"/redirect/{DIGITS_4301}", "n", id="redirect"),
        pytest.param(f"/status/200?seed={DIGITS_4301}", "seed", id="seed"),
        pytest.param("/anything?header=Content-Length:5", "header", id="echo-content-length"),
        pytest.param("/anything?header=Transfer-Encoding:chunked", "header", id="echo-te"),
        pytest.param("/anything?header=Connection:close", "header", id="echo-connection"),
        pytest.param("/status/200?header=Content-Length:5", "header", id="status-cl"),
        pytest.param("/status/503?header=Transfer-Encoding:chunked", "header", id="status-te"),
        pytest.param("/status/200?drip=1/0", "drip", id="drip-zero"),
        pytest.param("/status/200?drip=1/0.5ms", "drip", id="drip-below-minimum"),
    ],
)
def test_wire_400_naming_the_parameter(server, target, param):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(
            rawhttp.build("GET", target, {"Accept": "application/json"})
            + rawhttp.build("GET", "/status/200")
        )
        reader = rawhttp.Reader(sock)
        _, bad = reader.read_response()
        _, after = reader.read_response()
    assert (bad.status, bad.reason) == (400, "Bad Request")
    doc = json.loads(bad.body)
    assert doc["code"] == 400 and doc["param"] == param and doc["error"].startswith("invalid ")
    assert int(bad.header("Content-Length")) == len(bad.body)
    assert bad.header("Transfer-Encoding") is None and bad.header("Connection") is None
    # the framing held: the pipelined request behind it is answered normally
    assert (after.status, after.body) == (200, b"200 OK")


def test_wire_redirect_message_names_the_count(server):
    _, r = rawhttp.request(server.port, "GET", "/redirect/101")
    assert r.status == 400 and r.body == (
        b"400 Bad Request: invalid redirect count '101': an integer from 0 to 100\n"
    )


@pytest.mark.parametrize(
    "spec", ["1" * 5000, "200:" + "1" * 5000, "200," + "5" * 5000, "200:1," + "5" * 400 + ":1"]
)
def test_long_codes_and_weights_are_400_with_a_short_message(spec):
    err = refused(queries.parse_code_spec, spec)
    assert err.param == "code" and len(err.message) < 160 and "characters)" in err.message
