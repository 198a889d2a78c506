"""HTTP authentication checks of the httpbin catalog: Basic (RFC 7617), Bearer (RFC 6750) and
Digest (RFC 7616). Pure: header text in, a verdict out; no aiohttp.

Digest nonces are stateless: `nonce = random || HMAC(secret, random)`, so the server can tell its
own nonces from invented ones without a table (no cap to enforce, nothing to expire on restart).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

REALM = "mockstatus"
BASIC_REALM = "Fake Realm"  # httpbin's, which clients' tests sometimes assert

# RFC 7616 §3.3 (MD5, SHA-256) plus httpbin's SHA-512; each with its `-sess` variant.
_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda b: hashlib.md5(b).hexdigest(),
    "SHA-256": lambda b: hashlib.sha256(b).hexdigest(),
    "SHA-512": lambda b: hashlib.sha512(b).hexdigest(),
}
ALGORITHMS = (*_HASHES, *(f"{name}-sess" for name in _HASHES))
QOPS = ("auth", "auth-int")

# auth-param = token BWS "=" BWS ( token / quoted-string )   (RFC 9110 §11.2)
_PARAM = re.compile(
    r'\s*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]*)\s*(?:,|$)'
)


def parse_basic(authorization: str | None) -> tuple[str, str] | None:
    """`Basic base64(user:pass)` → (user, pass); None when absent or malformed (RFC 7617 §2)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def parse_bearer(authorization: str | None) -> str | None:
    """`Bearer <token68>` → the token; None when absent or another scheme (RFC 6750 §2.1)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def parse_digest(authorization: str | None) -> dict[str, str] | None:
    """The parameters of `Digest k=v, k="v", …` (names lower-cased); None when not Digest."""
    if not authorization:
        return None
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if m is None or m.end() == pos:
            return None
        name, value = m.group(1).lower(), m.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name] = value
        pos = m.end()
    return params


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    qop: str | None  # None: offer both auth and auth-int (httpbin does)
    algorithm: str
    stale: bool = False


class DigestVerifier:
    """Issues and checks Digest nonces. `secret` comes from the caller (a test passes a fixed
    one); by default a fresh one per process."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)

    def _sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()[:32]

    def nonce(self, rand: int) -> str:
        stem = f"{rand:032x}"
        return stem + self._sign(stem)

    def opaque(self, nonce: str) -> str:
        return self._sign("opaque:" + nonce)

    def is_ours(self, nonce: str) -> bool:
        stem, sig = nonce[:32], nonce[32:]
        return len(nonce) == 64 and hmac.compare_digest(sig, self._sign(stem))

    def challenge(self, spec: DigestChallenge, rand: int) -> str:
        """The WWW-Authenticate value (RFC 7616 §3.3)."""
        nonce = self.nonce(rand)
        qop = spec.qop or "auth, auth-int"
        return (
            f'Digest realm="{REALM}", nonce="{nonce}", opaque="{self.opaque(nonce)}", '
            f'qop="{qop}", algorithm={spec.algorithm}, stale={"TRUE" if spec.stale else "FALSE"}'
        )

    def check(
        self,
        params: dict[str, str],
        *,
        method: str,
        target: str,
        user: str,
        password: str,
        qop: str | None,
        algorithm: str,
        body: bytes,
    ) -> bool:
        """True when the credentials answer a nonce of ours for this user, password, method and
        request target (RFC 7616 §3.4.1: response = KD(H(A1), nonce:nc:cnonce:qop:H(A2)))."""
        nonce = params.get("nonce", "")
        if not self.is_ours(nonce) or params.get("username") != user:
            return False
        if params.get("realm") != REALM or params.get("uri") != target:
            return False
        if params.get("algorithm", "MD5").upper() != algorithm.upper():
            return False
        if "opaque" in params and params["opaque"] != self.opaque(nonce):
            return False
        base = algorithm.removesuffix("-sess").upper()
        h = _HASHES[base]
        client_qop = params.get("qop")
        if (qop is not None and client_qop != qop) or (
            client_qop is not None and client_qop not in QOPS
        ):
            return False
        cnonce, nc = params.get("cnonce", ""), params.get("nc", "")
        a1 = h(f"{user}:{REALM}:{password}".encode())
        if algorithm.endswith("-sess"):
            a1 = h(f"{a1}:{nonce}:{cnonce}".encode())
        a2_text = f"{method}:{target}"
        if client_qop == "auth-int":
            a2_text += ":" + h(body)
        a2 = h(a2_text.encode())
        if client_qop is None:  # RFC 2069 compatibility (§3.4.1 without qop)
            expected = h(f"{a1}:{nonce}:{a2}".encode())
        else:
            if not cnonce or not nc:
                return False
            expected = h(f"{a1}:{nonce}:{nc}:{cnonce}:{client_qop}:{a2}".encode())
        return hmac.compare_digest(expected, params.get("response", "").lower())


def canonical_algorithm(name: str) -> str | None:
    """The algorithm's registered spelling (case-insensitive), or None when unsupported."""
    for known in ALGORITHMS:
        if known.lower() == name.lower():
            return known
    return None
