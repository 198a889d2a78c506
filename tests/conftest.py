from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from mockstatus import ranges
from mockstatus.app import Mockstatus
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock
from mockstatus.wire import fastlane
from tests import redis_server

# CI runs the property tests derandomized: the same examples on every run, so a red build is
# reproducible and never a lucky draw (fixed examples pin the edge cases Hypothesis finds only
# sometimes). `HYPOTHESIS_PROFILE=dev` (or unset CI) explores with fresh random examples.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
# scripts/mutation: the same examples for every mutant, fewer of them (fixed examples do the rest)
settings.register_profile(
    "mutation", derandomize=True, database=None, deadline=None, max_examples=25
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(autouse=True)
def _cold_range_caches() -> Iterator[None]:
    """No test depends on the range caches being warm (or cold) from an earlier test."""
    ranges.clear_caches()
    yield


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator:
    """Factory: start a real listening server (background thread) with an injected clock/rng."""
    started: list[BackgroundServer] = []

    def start(
        scenarios: dict[str, str] | None = None,
        *,
        clock: ManualClock | None = None,
        seed: int = 1,
        **kwargs,
    ) -> BackgroundServer:
        folder = tmp_path / f"scenarios{len(started)}"
        folder.mkdir()
        for name, text in (scenarios or {}).items():
            (folder / name).write_text(text)
        app = Mockstatus(
            clock=clock or ManualClock(), rng=random.Random(seed), scenarios_dir=folder, **kwargs
        )
        app.store.load_initial()
        server = BackgroundServer(app).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server) -> BackgroundServer:
    return make_server()


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis_server.RedisServer]:
    """A real redis-server for one test module, on a free loopback port, persistence off."""
    yield from redis_server.serve(tmp_path_factory.mktemp("redis"))


@pytest.fixture
def lane() -> fastlane.Lane:
    """A fast lane over the bundled scenarios on a manual clock, parsed requests fed by hand."""
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1))
    app.store.load_initial()
    made = fastlane.Lane(
        semantics=app.semantics,
        store=app.store,
        journal=app.journal,
        metrics=app.metrics,
        clock=app.clock,
    )
    made.reset()
    return made
