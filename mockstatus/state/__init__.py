"""Scenario state behind one interface (`base.StateStore`): in this process (the default) or in
Redis shared by every replica (`--state redis://host:port/db`). docs/scale-out.md."""

from mockstatus.state.base import StateStore, StoreUnavailable

__all__ = ["StateStore", "StoreUnavailable"]
