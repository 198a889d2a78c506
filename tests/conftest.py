from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockstatus.app import Mockstatus
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock


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
