"""Digest (RFC 7616), Basic and Bearer parsing as pure functions: the cases clients do not send
(auth-int, -sess, RFC 2069 without qop, a wrong uri), computed here by hand."""

from __future__ import annotations

import hashlib

import pytest

from mockstatus.httpbin_auth import (
    REALM,
    DigestChallenge,
    DigestVerifier,
    canonical_algorithm,
    parse_basic,
    parse_bearer,
    parse_digest,
)

V = DigestVerifier(secret=b"k" * 32)
NONCE = V.nonce(0x1234)


def h(text: str | bytes, algorithm: str = "MD5") -> str:
    data = text.encode() if isinstance(text, str) else text
    name = {"MD5": "md5", "SHA-256": "sha256", "SHA-512": "sha512"}[algorithm]
    return hashlib.new(name, data).hexdigest()


def params(response: str, *, qop: str | None = "auth", algorithm: str = "MD5", uri: str = "/p"):
    out = {"username": "u", "realm": REALM, "nonce": NONCE, "uri": uri, "response": response}
    out["algorithm"] = algorithm
    if qop:
        out.update(qop=qop, nc="00000001", cnonce="c0ffee")
    return out


def check(p: dict[str, str], *, qop: str | None = None, algorithm: str = "MD5", body=b"") -> bool:
    return V.check(
        p,
        method="POST",
        target="/p",
        user="u",
        password="pw",
        qop=qop,
        algorithm=algorithm,
        body=body,
    )


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "SHA-512"])
def test_auth_int_hashes_the_body(algorithm: str) -> None:
    body = b"payload"
    ha1 = h(f"u:{REALM}:pw", algorithm)
    ha2 = h(f"POST:/p:{h(body, algorithm)}", algorithm)
    response = h(f"{ha1}:{NONCE}:00000001:c0ffee:auth-int:{ha2}", algorithm)
    p = params(response, qop="auth-int", algorithm=algorithm)
    assert check(p, qop="auth-int", algorithm=algorithm, body=body)
    assert not check(p, qop="auth-int", algorithm=algorithm, body=b"other")


def test_sess_variant() -> None:
    ha1 = h(f"{h(f'u:{REALM}:pw')}:{NONCE}:c0ffee")
    response = h(f"{ha1}:{NONCE}:00000001:c0ffee:auth:{h('POST:/p')}")
    assert check(params(response, algorithm="MD5-sess"), algorithm="MD5-sess")
    assert not check(params(response, algorithm="MD5-sess"), algorithm="MD5")


def test_rfc_2069_without_qop() -> None:
    response = h(f"{h(f'u:{REALM}:pw')}:{NONCE}:{h('POST:/p')}")
    assert check(params(response, qop=None))
    assert not check(params(response, qop=None), qop="auth")  # the path demanded qop=auth


def test_wrong_uri_nonce_or_opaque_fail() -> None:
    good = h(f"{h(f'u:{REALM}:pw')}:{NONCE}:00000001:c0ffee:auth:{h('POST:/p')}")
    assert check(params(good))
    assert not check(params(good, uri="/other"))
    assert not check({**params(good), "nonce": "0" * 64})
    assert not check({**params(good), "opaque": "forged"})
    assert check({**params(good), "opaque": V.opaque(NONCE)})
    assert not DigestVerifier(secret=b"x" * 32).is_ours(NONCE)


def test_challenge_text() -> None:
    text = V.challenge(DigestChallenge(None, "SHA-256", stale=True), 0x1234)
    assert text == (
        f'Digest realm="{REALM}", nonce="{NONCE}", opaque="{V.opaque(NONCE)}", '
        'qop="auth, auth-int", algorithm=SHA-256, stale=TRUE'
    )


def test_parse_digest_quoting() -> None:
    got = parse_digest('Digest username="a\\"b", nc=00000001, qop=auth,uri="/x?y=1,2"')
    assert got == {"username": 'a"b', "nc": "00000001", "qop": "auth", "uri": "/x?y=1,2"}
    assert parse_digest("Basic xyz") is None
    assert parse_digest('Digest username="unterminated') is None


def test_basic_and_bearer_parsing() -> None:
    assert parse_basic("Basic dTpwOnc=") == ("u", "p:w")  # the password may hold a colon
    assert parse_basic("Basic bm9jb2xvbg==") is None
    assert parse_basic("Bearer x") is None
    assert parse_bearer("Bearer  tok ") == "tok"
    assert parse_bearer("Bearer") is None


def test_algorithm_names() -> None:
    assert canonical_algorithm("sha-256") == "SHA-256"
    assert canonical_algorithm("md5-SESS") == "MD5-sess"
    assert canonical_algorithm("SHA-1") is None
