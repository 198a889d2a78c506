"""CPython's cyclic collector and large configurations.

A full (oldest-generation) collection scans the whole heap while holding the GIL, so it stalls
the event loop however well a build yields; a large scenario configuration is most of that heap.
Two measures, both for the store: `collector_paused()` while a build runs, and `freezer` after
each swap. Figures (issue 10, item 8): without them a 1,000-route upload built in a worker thread
still stalled the loop 0.2-0.6 s two or three times, on a loaded 2-core machine.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

from mockstatus.limits import FREEZE_FROM_ROUTES

_gc_lock = threading.Lock()
_gc_builds = 0  # builds in flight; the collector is paused while any runs


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause CPython's full (oldest-generation) collections while a build runs. A build makes
    tens of thousands of objects that live until it ends; each time they grow the old generation
    by a quarter, CPython runs a full collection over the whole heap, holding the GIL (0.2-0.6 s
    each on a loaded 2-core machine, two or three per 1,000-route build): the stalls left once
    the build itself yielded. Young collections go on (each is short); the build's temporary
    objects are freed by reference counting (the model and the YAML trees hold no cycles), and
    the full collection that the growth calls for runs once, later, as it would anyway."""
    global _gc_builds
    with _gc_lock:
        if _gc_builds == 0:
            _paused_state[0] = gc.get_threshold()
            young, middle, _ = _paused_state[0]
            gc.set_threshold(young, middle, 1 << 30)  # young collections go on: they are short
        _gc_builds += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_builds -= 1
            if _gc_builds == 0:
                gc.set_threshold(*_paused_state[0])


class Freezer:
    """Keeps a large loaded configuration out of CPython's full collections (`gc.freeze`).

    Even with builds off the loop, the full collection their growth calls for scans the whole
    heap while holding the GIL, and a large configuration is most of that heap (10,000 routes:
    about 160,000 objects, 0.15-0.5 s per full collection on a loaded 2-core machine). The model
    and the runtime hold no reference cycles, so a replaced configuration is freed by reference
    counting even when frozen. What freezing can hold on to is cyclic garbage made later from
    other objects frozen with it, so:
    - only configurations of FREEZE_FROM_ROUTES routes or more are frozen (small ones cost a
      full collection little; the pytest plugin's usual uploads never freeze the test process);
    - when the frozen heap has doubled since the last thorough collection, a commit unfreezes
      instead, and freezing resumes once CPython has run a full collection (one stall per
      doubling, not one per upload)."""

    SLACK = 100_000  # objects the frozen heap may grow by before doubling is checked at all

    def __init__(self) -> None:
        self.frozen = False  # whether we froze (we never unfreeze what someone else froze)
        self.base = 0  # frozen objects right after the first freeze or a thorough collection
        self.thawed_at: int | None = None  # full-collection count when we unfroze

    def after_commit(self, routes: int) -> None:
        if routes < FREEZE_FROM_ROUTES:
            if self.frozen:
                gc.unfreeze()
                self.frozen, self.base, self.thawed_at = False, 0, None
            return
        full_collections = gc.get_stats()[2]["collections"]
        if self.thawed_at is not None:
            if full_collections == self.thawed_at:
                return  # still waiting for CPython's full collection over everything
            self.thawed_at, self.base = None, 0
        if self.frozen and gc.get_freeze_count() > 2 * self.base + self.SLACK:
            gc.unfreeze()
            self.frozen, self.thawed_at = False, full_collections
            return
        gc.freeze()
        self.frozen = True
        self.base = self.base or gc.get_freeze_count()


freezer = Freezer()
_paused_state = [gc.get_threshold()]  # the thresholds from before the first build paused them
