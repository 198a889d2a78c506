"""The loaded configuration: folder scenarios plus runtime uploads, swapped atomically on reload.

A reload validates the whole folder first; a broken folder keeps the last good configuration
serving and keeps its problems for the admin API and the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from pathlib import Path

from mockstatus.errors import ScenarioError, ScenarioProblem
from mockstatus.limits import MAX_WATCHED_FILES
from mockstatus.scenarios import loader
from mockstatus.scenarios.model import Scenario, ScenarioSet
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.types import Clock


def _fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when any file under the folder is added, edited or removed."""
    found = []
    try:
        for path in sorted(folder.rglob("*"))[:MAX_WATCHED_FILES]:
            with contextlib.suppress(OSError):
                st = path.stat()
                found.append((str(path), st.st_mtime_ns, st.st_size))
    except OSError:
        return (("<unreadable>", 0, 0),)
    return tuple(found)


class ScenarioStore:
    """Owns the current ScenarioSet and its runtime; the request path reads `runtime` once."""

    def __init__(
        self,
        folder: Path | None,
        *,
        clock: Clock,
        rng: random.Random,
        log: Callable[[str], None],
    ) -> None:
        self.upload_owners: dict[str, str] = {}  # who uploaded what: see tag_upload
        self.folder = folder
        self.clock = clock
        self.rng = rng
        self.log = log
        self.uploads: dict[str, Scenario] = {}
        self.folder_set = ScenarioSet(())
        self.errors: list[ScenarioProblem] = []
        self.reloads = 0
        self.load_failures = 0
        self.runtime: ScenarioRuntime | None = None
        self._fingerprint: tuple[tuple[str, int, int], ...] = ()
        self._swap(ScenarioSet(()))

    # --- loading -----------------------------------------------------------------------------

    def load_initial(self) -> None:
        """Load the folder; raise ScenarioError when it is broken (the server must not start)."""
        if self.folder is None:
            return
        self._fingerprint = _fingerprint(self.folder)
        self.folder_set = loader.load_folder(self.folder)
        self._swap(self.folder_set)

    def reload(self) -> bool:
        """Re-read the folder; keep the last good configuration when it is broken."""
        if self.folder is None:
            return True
        before, self._fingerprint = self._fingerprint, _fingerprint(self.folder)
        try:
            new_set = loader.load_folder(self.folder)
        except ScenarioError as err:
            self.errors = list(err.problems)
            self.load_failures += 1
            self.log(f"scenario reload failed; still serving the last good configuration:\n{err}")
            return False
        self.folder_set = _keep_unchanged(self.folder_set, new_set, before, self._fingerprint)
        self.errors = []
        self.reloads += 1
        self._swap(self.folder_set)
        names = ", ".join(s.name for s in self.current.scenarios) or "none"
        self.log(f"scenarios reloaded: {names}")
        return True

    def changed(self) -> bool:
        return self.folder is not None and _fingerprint(self.folder) != self._fingerprint

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the folder; reload when anything in it changed (runs until cancelled)."""
        while True:
            await asyncio.sleep(interval)
            if self.changed():
                self.reload()

    # --- runtime uploads ---------------------------------------------------------------------

    def put(self, name: str, text: str, base_dir: Path | None = None) -> Scenario:
        # base_dir: where `file:` resolves (the pytest plugin's load(path)); never from HTTP.
        base = base_dir or (self.folder if self.folder is not None else Path.cwd())
        scenario = loader.load_text(text, f"<upload:{name}>", base, name)
        clash = [s for s in self.folder_set.scenarios if s.name == scenario.name and s.name != name]
        if scenario.name != name or clash:
            scenario = _renamed(scenario, name)
        self.uploads[name] = scenario
        self._swap(self.folder_set)
        return scenario

    def delete(self, name: str) -> bool:
        if name in self.uploads:
            del self.uploads[name]
        elif self.folder_set.get(name) is not None:
            # A folder scenario is hidden until the folder is next reloaded.
            self.folder_set = self.folder_set.without(name)
        else:
            return False
        self._swap(self.folder_set)
        return True

    # --- state -------------------------------------------------------------------------------

    # Upload owners (`PUT ...?owner=`, `POST /__mockstatus/purge?owner=`): kept beside the
    # uploads, so that loading and swapping stay as they are.

    def tag_upload(self, name: str, owner: str | None) -> None:
        """Record who uploaded `name` (None: nobody in particular); a name uploaded again
        belongs to its last uploader. Tags of removed uploads are dropped here (at most
        MAX_UPLOADS remain)."""
        owners = {n: o for n, o in self.upload_owners.items() if n in self.uploads and n != name}
        if owner is not None and name in self.uploads:
            owners[name] = owner
        self.upload_owners = owners

    def uploads_of(self, owner: str | None) -> list[str]:
        """The uploads tagged with `owner`; every upload for None."""
        return [n for n in self.uploads if owner is None or self.upload_owners.get(n) == owner]

    @property
    def current(self) -> ScenarioSet:
        return self._current

    def _swap(self, folder_set: ScenarioSet) -> None:
        merged = [s for s in folder_set.scenarios if s.name not in self.uploads]
        merged += list(self.uploads.values())
        self._current = ScenarioSet(tuple(merged))
        old = self.runtime
        runtime = ScenarioRuntime(self._current, clock=self.clock, rng=self.rng)
        if old is not None:
            runtime.adopt_state(old)
        self.runtime = runtime  # one reference swap: in-flight requests keep their runtime

    def reset(self, session: str | None = None) -> None:
        if self.runtime is not None:
            self.runtime.reset(session)


def _renamed(scenario: Scenario, name: str) -> Scenario:
    from dataclasses import replace

    return replace(
        scenario, name=name, routes=tuple(replace(r, scenario=name) for r in scenario.routes)
    )


def _keep_unchanged(
    old: ScenarioSet,
    new: ScenarioSet,
    before: tuple[tuple[str, int, int], ...],
    after: tuple[tuple[str, int, int], ...],
) -> ScenarioSet:
    """`new`, with the old Scenario object wherever its file did not change, so that a reload
    caused by one file does not restart the clocks and seeded sources of the others (the runtime
    carries them over for the same object). Any changed non-YAML file (a `file:` body) counts
    as a change to every scenario: which scenario reads it is not tracked."""
    was, now = {p: (m, n) for p, m, n in before}, {p: (m, n) for p, m, n in after}
    changed = {p for p in was.keys() | now.keys() if was.get(p) != now.get(p)}
    if any(not p.endswith((".yaml", ".yml")) for p in changed):
        return new
    kept = []
    for scenario in new.scenarios:
        prior = old.get(scenario.name)
        same = prior is not None and prior.file == scenario.file and scenario.file not in changed
        kept.append(prior if same else scenario)
    return ScenarioSet(tuple(kept))
