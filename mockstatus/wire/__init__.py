"""The only package that touches aiohttp's transport: interim 1xx writes, faults, drips, upgrades.

Everything here executes a ResponsePlan decided elsewhere (semantics, scenarios).
"""

from mockstatus.wire.core import build_response, send_interims, write_interim
from mockstatus.wire.dispatch import send
from mockstatus.wire.upgrade import raw_upgrade

__all__ = ["build_response", "raw_upgrade", "send", "send_interims", "write_interim"]
