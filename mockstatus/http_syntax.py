"""HTTP grammar and the protocol names of our own, each defined once.

Pure: no imports beyond the standard library, so every layer (the scenario loader, the
semantics, the wire, the client) may use it.
"""

from __future__ import annotations

SESSION_HEADER = "X-Mockstatus-Session"  # a scenario session (state, sequences, draws) per value
ADMIN_PREFIX = "/__mockstatus"  # every admin endpoint lives under it (no trailing slash)
JOURNAL_FILTERS = ("route", "path", "session", "method", "scenario", "status", "since", "limit")
