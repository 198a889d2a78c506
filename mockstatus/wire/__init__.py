"""The only package that touches aiohttp's transport: interim 1xx writes, faults, drips, upgrades,
the request body.

Everything here executes a ResponsePlan decided elsewhere (semantics, scenarios).
"""

from mockstatus.wire.core import build_response, send_interims, write_interim
from mockstatus.wire.dispatch import send
from mockstatus.wire.upgrade import WebSocketSessions, raw_upgrade, upgrade

__all__ = [
    "WebSocketSessions",
    "build_response",
    "raw_upgrade",
    "send",
    "send_interims",
    "upgrade",
    "write_interim",
]
