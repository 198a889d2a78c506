"""Wrong statuses (issue 10, item 9): each of the issue's bad inputs, and their neighbours, gets
an exact 4xx (or the status it asked for) from a real server with a scenario loaded — never a
500, a broken framing or an HTTP/0.9 answer. The connection stays usable where it is kept."""

from __future__ import annotations

import pytest

from mockstatus.limits import MAX_CLOCK_WALL, MAX_UPLOAD, MIB
from tests import rawhttp

LOADED = """
name: loaded
routes:
  - name: weighted
    match: {path: /weighted}
    respond: {status: 200}
"""
OVERFLOW_SCENARIO = b"""name: overflow
routes:
  - match: {path: /w}
    respond: {status: {200: 1e308, 503: 1e308}}
"""
DIGITS = "9" * 4301  # one past Python's int-string limit

# (method, target, body, status, a fragment of the answer)
TABLE = [
    ("GET", "/status/200:1e308,503:1e308", b"", 400, b"sum must be a finite number"),
    ("GET", "/status/200:1e308,503:1e308,418:1", b"", 400, b"finite"),
    ("GET", "/status/200:nan", b"", 400, b"invalid weight 'nan'"),
    ("GET", "/status/200:inf", b"", 400, b"invalid weight 'inf'"),
    ("GET", "/status/200:-1", b"", 400, b"invalid weight '-1'"),
    ("GET", f"/status/200?size={DIGITS}", b"", 400, b"(4301 characters)"),
    ("GET", f"/redirect/{DIGITS}", b"", 400, b"(4301 characters)"),
    ("GET", "/redirect/101", b"", 400, b"an integer from 0 to 100"),
    ("GET", "/status/99999999999999999999", b"", 400, b"from 100 to 599"),
    ("GET", "/status/206?size=99999999999", b"", 400, b"(the cap)"),
    ("GET", "/status/200?seed=" + "9" * 101, b"", 400, b"at most 100 digits"),
    ("GET", "/status/200?drip=1/0", b"", 400, b"invalid drip '1/0'"),
    ("GET", "/anything?header=Content-Length:5", b"", 400, b"invalid header Content-Length"),
    ("GET", "/anything?header=Transfer-Encoding:chunked", b"", 400, b"Transfer-Encoding"),
    ("GET", "/anything?header=Connection:close", b"", 400, b"invalid header Connection"),
    # Nothing needs the body of a plain status answer: it is not read, so no 413.
    ("POST", "/status/503", b"z" * (MIB + 10), 503, b"503 Service Unavailable"),
    ("PUT", "/__mockstatus/scenarios/big", b"x" * (MAX_UPLOAD + 1), 413, b""),
    ("PUT", "/__mockstatus/scenarios/overflow", OVERFLOW_SCENARIO, 400, b""),
    ("GET", "/__mockstatus/requests/wait?timeout=1e308", b"", 400, b"from 0 to 60"),
    ("GET", "/__mockstatus/requests?since=nan", b"", 400, b"invalid since 'nan'"),
    ("GET", f"/__mockstatus/requests?limit={DIGITS}", b"", 400, b"limit"),
    ("POST", "/__mockstatus/clock/advance?seconds=1e308", b"", 400, b""),
    ("POST", "/__mockstatus/clock/advance?seconds=nan", b"", 400, b""),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    import random

    from mockstatus.app import Mockstatus
    from mockstatus.runner import BackgroundServer
    from mockstatus.types import ManualClock

    folder = tmp_path_factory.mktemp("scenarios")
    (folder / "loaded.yaml").write_text(LOADED)
    app = Mockstatus(
        clock=ManualClock(), rng=random.Random(1), scenarios_dir=folder, clock_controllable=True
    )
    app.store.load_initial()
    with BackgroundServer(app) as server:
        yield server


@pytest.mark.parametrize(
    ("method", "target", "body", "status", "says"),
    TABLE,
    ids=[f"{m} {t[:48]}" for m, t, *_ in TABLE],
)
def test_bad_input_gets_its_exact_status(loaded, method, target, body, status, says) -> None:
    with rawhttp.connect(loaded.port) as sock:
        sock.sendall(rawhttp.build(method, target, body=body))
        reader = rawhttp.Reader(sock)
        _, resp = reader.read_response(method)
        assert (resp.version, resp.status) == ("HTTP/1.1", status), resp.body[:300]
        assert says in resp.body
        if (resp.header("Connection") or "").lower() != "close":
            # the framing held: a second request on the connection gets its own answer
            sock.sendall(rawhttp.build("GET", "/status/204"))
            assert reader.read_response()[1].status == 204


def test_a_python_message_is_not_the_answer_to_a_long_limit(loaded) -> None:
    _, resp = rawhttp.request(loaded.port, "GET", f"/__mockstatus/requests?limit={DIGITS}")
    assert resp.status == 400
    assert b"sys.set_int_max_str_digits" not in resp.body, resp.body[:300]


def test_a_request_without_a_version_is_not_answered_as_http_0_9(loaded) -> None:
    with rawhttp.connect(loaded.port) as sock:
        sock.sendall(b"GET /status/200\r\n\r\n")
        resp = rawhttp.Reader(sock).read_response()[1]
    assert (resp.version, resp.status) == ("HTTP/1.1", 400)
    assert b"no HTTP version" in resp.body


def test_a_manual_clock_stops_at_year_9999_with_a_400(loaded) -> None:
    ten_years = 10 * 365 * 86400
    statuses = []
    for _ in range(1000):  # bounded: 8,000 years need ~800 steps
        _, resp = rawhttp.request(
            loaded.port, "POST", f"/__mockstatus/clock/advance?seconds={ten_years}"
        )
        statuses.append(resp.status)
        if resp.status != 200:
            break
    assert statuses[-1] == 400 and set(statuses[:-1]) == {200}
    _, clock = rawhttp.request(loaded.port, "GET", "/__mockstatus/clock")
    assert b'"wall": ' in clock.body
    wall = float(clock.body.split(b'"wall": ')[1].split(b",")[0].split(b"\n")[0])
    assert wall <= MAX_CLOCK_WALL
    # The date header and templates still render at the furthest allowed time.
    _, resp = rawhttp.request(loaded.port, "GET", "/status/200")
    assert resp.status == 200 and resp.header("Date")
