"""`--tls`: HTTPS with a certificate made at start-up by a throwaway CA (trustme).

The CA certificate is written where the user asks, so clients under test can trust it
(`curl --cacert`, `requests.get(..., verify=path)`, `SSL_CERT_FILE`). Without a path it goes to a
new private folder (`mkdtemp`, mode 0700) with exclusive creation: a predictable name in a shared
temp folder could be pre-planted (a symlink the write would follow, or a CA an attacker chose).
"""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")
CA_FILE_NAME = "mockstatus-ca.pem"


class TLSUnavailable(Exception):
    """trustme is not installed."""


def server_context(
    extra_names: tuple[str, ...] = (), *, http2: bool = True
) -> tuple[ssl.SSLContext, Any]:
    """A server SSL context for localhost (and `extra_names`) and the CA that signed it.

    ALPN (RFC 7301) offers `h2` then `http/1.1` (only `http/1.1` with `http2=False`): an h2
    client then starts with the connection preface, which the sniffer hands to HTTP/2.
    """
    try:
        import trustme
    except ImportError:
        raise TLSUnavailable(
            "--tls needs the 'trustme' package: pip install 'mockstatus[tls]'"
        ) from None
    ca = trustme.CA(organization_name="mockstatus test CA")
    names = list(dict.fromkeys((*DEFAULT_NAMES, *(n for n in extra_names if n))))
    cert = ca.issue_cert(*names)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # no client certs: nothing to load
    cert.configure_cert(context)
    context.set_alpn_protocols(["h2", "http/1.1"] if http2 else ["http/1.1"])
    return context, ca


def write_ca(ca: Any, path: Path | None) -> Path:
    """Write the CA certificate; returns where it went."""
    pem = ca.cert_pem.bytes()
    if path is None:
        folder = Path(tempfile.mkdtemp(prefix="mockstatus-tls-"))  # 0700, a fresh name
        path = folder / CA_FILE_NAME
        _write_exclusive(path, pem)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # The user chose this path (often one a test reads back): replace it, never write through a
    # symlink planted there — a temporary sibling, then an atomic rename over the name.
    handle, temp = tempfile.mkstemp(prefix=".mockstatus-ca-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as fh:
            fh.write(pem)
        os.chmod(temp, 0o644)  # a public certificate: clients running as other users read it
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def _write_exclusive(path: Path, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
