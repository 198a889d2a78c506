"""With MOCKSTATUS_ADMIN_TOKEN set, the Authorization variants a client may send, on a real
listening socket (raw bytes: duplicate fields and odd spacing survive): RFC 9110 §11.1 (the
scheme is case-insensitive) and RFC 6750 §3.1 (which error code, and 400 for a malformed one)."""

from __future__ import annotations

import pytest

from tests.rawhttp import Reader, connect

TOKEN = "t0ken-A.b_c~d+e/f=="
REALM = 'Bearer realm="mockstatus-admin"'


def get_scenarios(port: int, auth_lines: list[bytes]) -> tuple[int, str | None, bytes]:
    sock = connect(port)
    fields = b"".join(b"Authorization: " + line + b"\r\n" for line in auth_lines)
    sock.sendall(b"GET /__mockstatus/scenarios HTTP/1.1\r\nHost: 127.0.0.1\r\n" + fields + b"\r\n")
    reader = Reader(sock)
    resp = reader.read_head()
    length = int(resp.header("Content-Length") or 0)
    while len(reader.buf) < length:
        assert reader._fill()
    sock.close()
    return resp.status, resp.header("WWW-Authenticate"), reader.buf[:length]


@pytest.mark.parametrize(
    "value",
    [b"Bearer " + TOKEN.encode(), b"bearer " + TOKEN.encode(), b"BEARER  " + TOKEN.encode()],
    ids=["canonical", "lower-scheme", "upper-scheme-two-spaces"],
)
def test_the_right_token_in_any_scheme_case_is_accepted(make_server, value):
    server = make_server(admin_token=TOKEN)
    assert get_scenarios(server.port, [value])[0] == 200


@pytest.mark.parametrize(
    "lines, status, challenge, problem",
    [
        ([], 401, REALM, "no Bearer credentials were sent"),
        ([b"Basic dDBrZW4="], 401, REALM, "no Bearer credentials were sent"),
        ([b"Bearer nope"], 401, REALM + ', error="invalid_token"', "the token does not match"),
        ([b"Bearer"], 400, REALM + ', error="invalid_request"', "the Bearer credentials are empty"),
        (
            [b"Bearer "],
            400,
            REALM + ', error="invalid_request"',
            "the Bearer credentials are empty",
        ),
        ([b"Bearer a b"], 401, REALM + ', error="invalid_token"', "the token does not match"),
        ([b"Bearer ====="], 401, REALM + ', error="invalid_token"', "the token does not match"),
        ([b"Bearer t\xc3\xa9"], 401, REALM + ', error="invalid_token"', "the token does not match"),
        (
            [b"Bearer " + TOKEN.encode(), b"Bearer nope"],
            400,
            REALM + ', error="invalid_request"',
            "Authorization was sent more than once",
        ),
    ],
    ids=["none", "basic", "wrong", "empty", "space", "two-words", "only-pad", "utf8", "twice"],
)
def test_refusals_carry_the_rfc6750_error_and_name_the_problem(
    make_server, lines, status, challenge, problem
):
    server = make_server(admin_token=TOKEN)
    got_status, got_challenge, body = get_scenarios(server.port, lines)
    assert (got_status, got_challenge) == (status, challenge)
    assert problem.encode() in body
