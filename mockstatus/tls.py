"""`--tls`: HTTPS with a certificate made at start-up by a throwaway CA (trustme).

The CA certificate is written where the user asks, so clients under test can trust it
(`curl --cacert`, `requests.get(..., verify=path)`, `SSL_CERT_FILE`).
"""

from __future__ import annotations

import ssl
from pathlib import Path

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")


class TLSUnavailable(Exception):
    """trustme is not installed."""


def server_context(ca_path: Path, extra_names: tuple[str, ...] = ()) -> ssl.SSLContext:
    """A server SSL context for localhost (and `extra_names`); the CA goes to `ca_path`."""
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
    ca_path.parent.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(ca_path))
    return context
