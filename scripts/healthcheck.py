#!/usr/bin/env python3
"""Container health check for mockstatus: exit 0 when GET /__mockstatus/health answers 200 "ok".

Used by the image's HEALTHCHECK (installed as /opt/mockstatus/healthcheck.py) and by the CI
recipes in examples/. Standard library only: slim images have no curl or wget.

It finds the server the way `mockstatus serve` configures itself, flag > environment > default:

* a --host/--port flag on the server's command line (PID 1 in the container, so
  `docker run IMAGE --port 9000` works),
* else MOCKSTATUS_HOST / MOCKSTATUS_PORT,
* else 127.0.0.1:8080 (the server's default is loopback: 127.0.0.1 and ::1).

A wildcard bind address (0.0.0.0, ::, empty) is probed on loopback (127.0.0.1, ::1); a specific
address is probed as given. Only MOCKSTATUS_* variables are read, never a generic port variable:
CI runners pass job variables into service containers. Proxy variables are ignored: the probe is
always direct.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

HEALTH_PATH = "/__mockstatus/health"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = "8080"
TIMEOUT = 2.5  # seconds; the image's HEALTHCHECK --timeout is 3 s
SERVER_CMDLINE = "/proc/1/cmdline"


def server_flags(argv: Sequence[str]) -> dict[str, str]:
    """--host/--port given to `mockstatus serve` in argv; {} when argv is not that command."""
    if "serve" not in argv or not any(os.path.basename(a) == "mockstatus" for a in argv):
        return {}
    flags: dict[str, str] = {}
    args = iter(argv[list(argv).index("serve") + 1 :])
    for arg in args:
        if arg == "--":
            break
        for name in ("--host", "--port"):
            if arg == name:
                flags[name] = next(args, "")
            elif arg.startswith(name + "="):
                flags[name] = arg[len(name) + 1 :]
    return flags


def read_cmdline(path: str = SERVER_CMDLINE) -> list[str]:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def health_url(env: Mapping[str, str], flags: Mapping[str, str]) -> str:
    host = flags.get("--host", env.get("MOCKSTATUS_HOST", DEFAULT_HOST)).strip()
    port = flags.get("--port", env.get("MOCKSTATUS_PORT", DEFAULT_PORT)).strip() or DEFAULT_PORT
    if not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"cannot probe port {port!r}: an integer from 1 to 65535 is needed")
    host = host.removeprefix("[").removesuffix("]")
    if host in ("", "0.0.0.0", "*"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{int(port)}{HEALTH_PATH}"


def probe(url: str, timeout: float = TIMEOUT) -> tuple[bool, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as resp:
            status, body = resp.status, resp.read(4096)
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return False, f"{url} unreachable: {exc}"
    try:
        doc = json.loads(body)
    except ValueError:
        return False, f"{url} answered {status} with a body that is not JSON"
    if status == 200 and isinstance(doc, dict) and doc.get("status") == "ok":
        return True, f"{url} ok"
    return False, f"{url} answered {status} {body[:200]!r}"


def main(
    env: Mapping[str, str] | None = None,
    cmdline: Sequence[str] | None = None,
) -> int:
    env = os.environ if env is None else env
    cmdline = read_cmdline() if cmdline is None else cmdline
    try:
        url = health_url(env, server_flags(cmdline))
    except ValueError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1  # Docker: 0 healthy, 1 unhealthy, 2 reserved
    ok, message = probe(url)
    print(("healthy: " if ok else "unhealthy: ") + message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
