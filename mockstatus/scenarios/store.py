"""The loaded configuration: folder scenarios plus runtime uploads, swapped atomically.

- One route order (`ScenarioSet.ordered`): uploads newest first, then folder scenarios in
  file-name order, then route order within a file.
- A reload validates the whole folder first; a broken folder keeps the last good configuration
  serving and keeps its problems for the admin API and the log.
- Uploads are capped in number, bytes and routes (limits.py); a refusal is an `UploadRefused`.
- The async methods parse and build in a worker thread (with `compose.YieldingLoader` the
  thread gives the event loop its turns) and swap on the loop; the sync ones do the same work on
  the caller's thread (start-up, SIGHUP, tests). `collector` keeps CPython's full collections
  from undoing that.
- The watcher stats only what is loaded: the folder's `*.yaml` / `*.yml` files and the `file:`
  bodies they read; it lists the folder (one level) only when the folder itself changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mockstatus.errors import RequestError, ScenarioError, ScenarioProblem
from mockstatus.limits import MAX_ROUTES, MAX_UPLOAD_TOTAL, MAX_UPLOADS, MAX_WATCHED_FILES
from mockstatus.scenarios import loader
from mockstatus.scenarios.collector import collector_paused, freezer
from mockstatus.scenarios.model import Scenario, ScenarioSet
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.types import Clock

Stamps = tuple[tuple[str, int, int], ...]  # (path, mtime_ns, size), sorted by path
_YAML = (".yaml", ".yml")
RACY_SECONDS = 2.0  # a folder changed this recently is listed again (coarse directory mtimes)


class UploadRefused(RequestError):
    """An upload would pass a cap. `cap` names it (as in docs/security.md); `status` is 409 for
    the number of uploads (delete one first) and 413 for bytes or routes."""

    def __init__(self, message: str, *, cap: str, limit: int, status: int) -> None:
        super().__init__(message, status=status)
        self.cap = cap
        self.limit = limit


@dataclass(frozen=True, slots=True)
class _Built:
    """A configuration built off the loop, ready to swap in."""

    folder_set: ScenarioSet
    uploads: dict[str, Scenario]
    sizes: dict[str, int]
    runtime: ScenarioRuntime


class ScenarioStore:
    """Owns the current ScenarioSet and its runtime; the request path reads `runtime` once.

    `folder` None means no scenarios at all (the CLI's `--scenarios none`), never a fallback."""

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
        self.uploads: dict[str, Scenario] = {}  # oldest first: the route order reverses it
        self.upload_sizes: dict[str, int] = {}  # bytes of each upload, for MAX_UPLOAD_TOTAL
        self.folder_set = ScenarioSet(())
        self.errors: list[ScenarioProblem] = []
        self.reloads = 0
        self.load_failures = 0
        self.runtime: ScenarioRuntime | None = None
        self._current = ScenarioSet(())
        self._fingerprint: Stamps = ()
        self._listing = _Listing()
        self._version = 0  # bumped by every swap: an off-loop build checks it before swapping
        self._lock = asyncio.Lock()  # one off-loop build at a time
        self.on_swap: list[Callable[[], None]] = []  # called after each swap (the fast lane)
        self._commit(self._build(self.folder_set, {}, {}))

    def describe(self) -> dict[str, Any]:
        """What is loaded, for the admin API: the folder, each scenario (`runtime.describe`), the
        uploads, the last reload's located errors and the reload counters."""
        runtime = self.runtime
        return {
            "folder": str(self.folder) if self.folder else None,
            "scenarios": runtime.describe() if runtime is not None else [],
            "uploads": sorted(self.uploads),
            "errors": [
                {"file": p.file, "line": p.line, "column": p.column, "message": p.message,
                 "text": str(p)}
                for p in self.errors
            ],
            "reloads": self.reloads,
            "load_failures": self.load_failures,
        }  # fmt: skip

    def describe_one(self, name: str) -> dict[str, Any] | None:
        runtime = self.runtime
        for item in runtime.describe() if runtime is not None else []:
            if item["name"] == name:
                return item
        return None

    # --- loading -----------------------------------------------------------------------------

    def load_initial(self) -> None:
        """Load the folder; raise ScenarioError when it is broken (the server must not start)."""
        if self.folder is None:
            return
        self._fingerprint = self._stamps(self.folder_set)
        folder_set = loader.load_folder(self.folder)
        _check_route_total(folder_set.scenarios, self.uploads.values(), self.folder)
        self._fingerprint = _add_body_stamps(self._fingerprint, folder_set)
        self._commit(self._build(folder_set, self.uploads, self.upload_sizes))

    def reload(self) -> bool:
        """Re-read the folder on this thread; keep the last good configuration when broken."""
        if self.folder is None:
            return True
        outcome = self._build_reload(self.folder_set, self._fingerprint, self.uploads)
        return self._finish_reload(outcome)

    async def reload_async(self) -> bool:
        """`reload`, with the parsing and building in a worker thread."""
        if self.folder is None:
            return True
        async with self._lock:
            with collector_paused():
                return await self._reload_off_loop()

    async def _reload_off_loop(self) -> bool:
        for _ in range(3):
            version = self._version
            outcome = await asyncio.to_thread(
                self._build_reload, self.folder_set, self._fingerprint, dict(self.uploads)
            )
            if version == self._version:
                return self._finish_reload(outcome)
        return self.reload()  # the set kept changing under us: finish on this thread

    def _build_reload(
        self, old: ScenarioSet, before: Stamps, uploads: dict[str, Scenario]
    ) -> tuple[_Built, Stamps] | tuple[ScenarioError, Stamps]:
        assert self.folder is not None
        after = self._stamps(old)  # taken first: a change during the load triggers another
        try:
            new = loader.load_folder(self.folder)
            _check_route_total(new.scenarios, uploads.values(), self.folder)
        except ScenarioError as err:
            return err, after
        after = _add_body_stamps(after, new)
        folder_set = _keep_unchanged(old, new, before, after)
        sizes = {name: self.upload_sizes.get(name, 0) for name in uploads}
        return self._build(folder_set, uploads, sizes), after

    def _finish_reload(self, outcome: tuple[_Built, Stamps] | tuple[ScenarioError, Stamps]) -> bool:
        result, self._fingerprint = outcome
        if isinstance(result, ScenarioError):
            self.errors = list(result.problems)
            self.load_failures += 1
            self.log(
                f"scenario reload failed; still serving the last good configuration:\n{result}"
            )
            return False
        self.errors = []
        self.reloads += 1
        self._commit(result)
        names = ", ".join(s.name for s in self.current.scenarios) or "none"
        self.log(f"scenarios reloaded: {names}")
        return True

    # --- watching ----------------------------------------------------------------------------

    def _stamps(self, folder_set: ScenarioSet) -> Stamps:
        """What a reload would see: the folder's YAML files and the `file:` bodies loaded."""
        assert self.folder is not None
        names = self._listing.names(self.folder)
        paths = [str(self.folder / name) for name in names]
        return _stat_all([*paths, *_body_files(folder_set)])

    def changed(self) -> bool:
        """Whether a loaded file, a `file:` body or the folder's list of YAML files changed."""
        return self.folder is not None and self._stamps(self.folder_set) != self._fingerprint

    async def watch(self, interval: float = 1.0) -> None:
        """Poll (stat calls in a worker thread); reload off the loop on a change. Runs until
        cancelled."""
        while True:
            await asyncio.sleep(interval)
            if await asyncio.to_thread(self.changed):
                await self.reload_async()

    # --- runtime uploads ---------------------------------------------------------------------

    def put(self, name: str, text: str, base_dir: Path | None = None) -> Scenario:
        """Add or replace an upload on this thread. Raises UploadRefused past a cap and
        ScenarioError for a bad scenario."""
        size = len(text.encode("utf-8", "surrogatepass"))
        self.check_room(name, size)
        scenario = self._parse_upload(name, text, base_dir)
        uploads, sizes = self._with_upload(name, scenario, size)
        self._commit(self._build(self.folder_set, uploads, sizes))
        return scenario

    async def put_async(self, name: str, text: str, base_dir: Path | None = None) -> Scenario:
        """`put`, with parsing and building in a worker thread."""
        size = len(text.encode("utf-8", "surrogatepass"))
        self.check_room(name, size)  # before any parsing: a refused upload costs nothing
        async with self._lock:
            with collector_paused():
                return await self._put_off_loop(name, text, base_dir, size)

    async def _put_off_loop(
        self, name: str, text: str, base_dir: Path | None, size: int
    ) -> Scenario:
        scenario = await asyncio.to_thread(self._parse_upload, name, text, base_dir)
        for _ in range(3):
            version = self._version
            self.check_room(name, size)  # again: others may have uploaded meanwhile
            uploads, sizes = self._with_upload(name, scenario, size)
            built = await asyncio.to_thread(self._build, self.folder_set, uploads, sizes)
            if version == self._version:
                self._commit(built)
                return scenario
        uploads, sizes = self._with_upload(name, scenario, size)  # kept changing: finish here
        self._commit(self._build(self.folder_set, uploads, sizes))
        return scenario

    def check_room(self, name: str, size: int) -> None:
        """Raise UploadRefused when storing `size` bytes as upload `name` passes a cap (a
        replaced upload of the same name counts with its new size only)."""
        count = len(self.uploads) + (name not in self.uploads)
        if count > MAX_UPLOADS:
            raise UploadRefused(
                f"at most {MAX_UPLOADS} scenarios may be uploaded at once; delete one first",
                cap="MAX_UPLOADS",
                limit=MAX_UPLOADS,
                status=409,
            )
        total = sum(self.upload_sizes.values()) - self.upload_sizes.get(name, 0) + size
        if total > MAX_UPLOAD_TOTAL:
            raise UploadRefused(
                f"uploaded scenarios may hold at most {MAX_UPLOAD_TOTAL} bytes together; "
                f"this one would make {total}",
                cap="MAX_UPLOAD_TOTAL",
                limit=MAX_UPLOAD_TOTAL,
                status=413,
            )

    def _parse_upload(self, name: str, text: str, base_dir: Path | None) -> Scenario:
        # base_dir: where `file:` resolves (the pytest plugin's load(path)); never from HTTP.
        base = base_dir or (self.folder if self.folder is not None else Path.cwd())
        scenario = loader.load_text(text, f"<upload:{name}>", base, name)
        if scenario.name != name:
            scenario = _renamed(scenario, name)
        return scenario

    def _with_upload(
        self, name: str, scenario: Scenario, size: int
    ) -> tuple[dict[str, Scenario], dict[str, int]]:
        """The uploads with `name` as the newest, after checking the route cap."""
        uploads = {k: v for k, v in self.uploads.items() if k != name}
        uploads[name] = scenario
        sizes = {k: v for k, v in self.upload_sizes.items() if k != name}
        sizes[name] = size
        folder = [s for s in self.folder_set.scenarios if s.name not in uploads]
        routes = sum(len(s.routes) for s in (*folder, *uploads.values()))
        if routes > MAX_ROUTES:
            raise UploadRefused(
                f"the loaded scenarios may hold at most {MAX_ROUTES} routes together; "
                f"with this upload they would hold {routes}",
                cap="MAX_ROUTES",
                limit=MAX_ROUTES,
                status=413,
            )
        return uploads, sizes

    def delete(self, name: str) -> bool:
        if name in self.uploads:
            uploads = {k: v for k, v in self.uploads.items() if k != name}
            sizes = {k: v for k, v in self.upload_sizes.items() if k != name}
            self._commit(self._build(self.folder_set, uploads, sizes))
        elif self.folder_set.get(name) is not None:
            # A folder scenario is hidden until the folder is next reloaded.
            folder_set = self.folder_set.without(name)
            self._commit(self._build(folder_set, self.uploads, self.upload_sizes))
        else:
            return False
        return True

    async def delete_async(self, name: str) -> bool:
        """`delete`, with the runtime rebuilt in a worker thread (it indexes every route)."""
        async with self._lock:
            with collector_paused():
                for _ in range(3):
                    version = self._version
                    if name in self.uploads:
                        uploads = {k: v for k, v in self.uploads.items() if k != name}
                        sizes = {k: v for k, v in self.upload_sizes.items() if k != name}
                        folder_set = self.folder_set
                    elif self.folder_set.get(name) is not None:
                        uploads, sizes = self.uploads, self.upload_sizes
                        folder_set = self.folder_set.without(name)
                    else:
                        return False
                    built = await asyncio.to_thread(self._build, folder_set, uploads, sizes)
                    if version == self._version:
                        self._commit(built)
                        return True
                return self.delete(name)  # kept changing under us: finish on this thread

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

    def _build(
        self, folder_set: ScenarioSet, uploads: dict[str, Scenario], sizes: dict[str, int]
    ) -> _Built:
        """The ordered set and a fresh runtime for it (the costly part: the matcher's index).
        Safe on a worker thread: it reads only its arguments and the injected clock."""
        ordered = ScenarioSet.ordered(list(uploads.values()), folder_set.scenarios)
        runtime = ScenarioRuntime(ordered, clock=self.clock, rng=self.rng)
        return _Built(folder_set, dict(uploads), dict(sizes), runtime)

    def _commit(self, built: _Built) -> None:
        """Swap in a built configuration (on the loop). Counters, states and unchanged
        scenarios' clocks carry over; in-flight requests keep the runtime they read."""
        old = self.runtime
        if old is not None:
            built.runtime.adopt_state(old)
        self.folder_set = built.folder_set
        self.uploads = built.uploads
        self.upload_sizes = built.sizes
        self._current = built.runtime.set
        self.runtime = built.runtime  # one reference swap
        self._version += 1
        for hook in self.on_swap:
            hook()
        freezer.after_commit(sum(len(x.routes) for x in self._current.scenarios))

    def reset(self, session: str | None = None) -> None:
        if self.runtime is not None:
            self.runtime.reset(session)


class _Listing:
    """The folder's `*.yaml` / `*.yml` names, listed again only when the folder's own stamp
    changes (a file added, removed or renamed) or is too recent to trust."""

    def __init__(self) -> None:
        self._stamp: tuple[int, int, int] | None = None
        self._names: tuple[str, ...] = ()

    def names(self, folder: Path) -> tuple[str, ...]:
        try:
            st = os.stat(folder)
        except OSError:
            self._stamp, self._names = None, ()
            return ("<unreadable folder>",)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        racy = time.time_ns() - st.st_mtime_ns < RACY_SECONDS * 1e9
        if stamp != self._stamp or racy:
            self._names = _yaml_names(folder)
            self._stamp = stamp
        return self._names


def _yaml_names(folder: Path) -> tuple[str, ...]:
    names: list[str] = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.endswith(_YAML):
                names.append(entry.name)
                if len(names) >= MAX_WATCHED_FILES:
                    break
    return tuple(sorted(names))


def _stat_all(paths: Iterable[str]) -> Stamps:
    found = []
    for path in sorted(set(paths))[:MAX_WATCHED_FILES]:
        try:
            st = os.stat(path)
            found.append((path, st.st_mtime_ns, st.st_size))
        except OSError:
            found.append((path, -1, -1))  # gone or unreadable: a change when it comes back
    return tuple(found)


def _body_files(folder_set: ScenarioSet) -> list[str]:
    return [path for s in folder_set.scenarios for path in s.body_files]


def _add_body_stamps(stamps: Stamps, folder_set: ScenarioSet) -> Stamps:
    """`stamps` plus any `file:` body the new set reads that was not watched yet."""
    known = {path for path, _, _ in stamps}
    extra = [path for path in _body_files(folder_set) if path not in known]
    return tuple(sorted((*stamps, *_stat_all(extra)))) if extra else stamps


def _check_route_total(
    folder: Iterable[Scenario], uploads: Iterable[Scenario], where: Path
) -> None:
    names = {s.name for s in uploads}
    total = sum(len(s.routes) for s in folder if s.name not in names)
    total += sum(len(s.routes) for s in uploads)
    if total > MAX_ROUTES:
        message = (
            f"the scenarios hold {total} routes (with uploads); at most {MAX_ROUTES} routes "
            "may be loaded together"
        )
        raise ScenarioError([ScenarioProblem(str(where), 1, 1, message)])


def _renamed(scenario: Scenario, name: str) -> Scenario:
    return replace(
        scenario, name=name, routes=tuple(replace(r, scenario=name) for r in scenario.routes)
    )


def _keep_unchanged(
    old: ScenarioSet, new: ScenarioSet, before: Stamps, after: Stamps
) -> ScenarioSet:
    """`new`, with the old Scenario object wherever neither its file nor any `file:` body it
    reads changed, so that a reload caused by one file does not restart the clocks and seeded
    sources of the others (the runtime carries them over for the same object)."""
    was, now = {p: (m, n) for p, m, n in before}, {p: (m, n) for p, m, n in after}
    changed = {p for p in was.keys() | now.keys() if was.get(p) != now.get(p)}
    kept = []
    for scenario in new.scenarios:
        prior = old.get(scenario.name)
        same = (
            prior is not None
            and prior.file == scenario.file
            and prior.body_files == scenario.body_files
            and scenario.file not in changed
            and not changed.intersection(scenario.body_files)
        )
        kept.append(prior if same and prior is not None else scenario)
    return ScenarioSet(tuple(kept))
